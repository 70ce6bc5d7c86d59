//! Running the real AWS CLI against the emulator, for the tests that use it as a second,
//! independent client.
//!
//! Needs `aws` on PATH. Without it a test skips ([`crate::common::skip`]), unless
//! `SSM_INVENTORYD_REQUIRE_AWSCLI=1`, in which case it fails.

use std::path::{Path, PathBuf};
use std::process::Output;

use ssm_inventoryd::emulator::{DEMO_ACCESS_KEY_ID, DEMO_SECRET_ACCESS_KEY};

/// The `aws` on PATH; `None` (after a skip line) when there is none and it is not required.
pub fn find_aws_or_skip() -> Option<PathBuf> {
    let found = std::env::var_os("PATH").and_then(|path| {
        std::env::split_paths(&path)
            .map(|dir| dir.join("aws"))
            .find(|candidate| candidate.is_file())
    });
    crate::common::skip::can_run(
        found.is_some(),
        crate::common::skip::AWSCLI,
        "`aws` is not on PATH (pip install awscli to run this test)",
    )
    .then_some(found)
    .flatten()
}

/// Runs `aws ARGS` with an environment that can only reach what ARGS name with the demo key
/// ID and `secret`: no profile, no config or credentials file, no instance metadata, no
/// retries.
pub async fn aws(aws: &Path, secret: &str, args: &[&str]) -> Output {
    let empty = tempfile::NamedTempFile::new().expect("temp file");
    let mut cmd = tokio::process::Command::new(aws);
    cmd.args(args);
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("AWS_") {
            cmd.env_remove(&key);
        }
    }
    cmd.env("AWS_ACCESS_KEY_ID", DEMO_ACCESS_KEY_ID)
        .env("AWS_SECRET_ACCESS_KEY", secret)
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_CONFIG_FILE", empty.path())
        .env("AWS_SHARED_CREDENTIALS_FILE", empty.path())
        .env("AWS_MAX_ATTEMPTS", "1")
        .env("AWS_PAGER", "")
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true);
    tokio::time::timeout(std::time::Duration::from_secs(120), cmd.output())
        .await
        .expect("aws finishes within 2 minutes")
        .expect("aws runs")
}

/// Runs `aws ssm ARGS` against `endpoint` with the demo keys and nothing else to reach, its
/// output as JSON.
pub async fn aws_ssm(aws_cli: &Path, endpoint: &str, args: &[&str]) -> Output {
    let mut all = vec![
        "ssm",
        "--endpoint-url",
        endpoint,
        "--region",
        super::REGION,
        "--output",
        "json",
    ];
    all.extend_from_slice(args);
    aws(aws_cli, DEMO_SECRET_ACCESS_KEY, &all).await
}

/// An invocation's outcome, for assertion messages.
pub fn show(out: &Output) -> String {
    format!(
        "status {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}
