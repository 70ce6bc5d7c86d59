//! The emulator against a second, independent client: the AWS CLI (botocore signs and parses
//! on its own, so this catches protocol details the Rust SDK happens to be lenient about).
//!
//! Needs `aws` on PATH. Without it the test prints a skip line and passes, unless
//! `SSM_INVENTORYD_REQUIRE_AWSCLI=1`, in which case it fails.

mod emulator_common;

use std::io::Write;
use std::path::PathBuf;
use std::process::Output;

use emulator_common::*;
use ssm_inventoryd::emulator::{DEMO_ACCESS_KEY_ID, DEMO_SECRET_ACCESS_KEY};

fn find_aws() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join("aws"))
        .find(|candidate| candidate.is_file())
}

/// Runs `aws` with an environment that can only reach the given endpoint with the given
/// keys: no profile, no config or credentials file, no instance metadata, no retries.
async fn aws(aws: &PathBuf, secret: &str, args: &[&str]) -> Output {
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

fn show(out: &Output) -> String {
    format!(
        "status {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aws_cli_puts_and_reads_back_and_is_refused_with_a_wrong_secret() {
    let Some(aws_bin) = find_aws() else {
        if std::env::var("SSM_INVENTORYD_REQUIRE_AWSCLI").as_deref() == Ok("1") {
            panic!(
                "`aws` is not on PATH and SSM_INVENTORYD_REQUIRE_AWSCLI=1: install it with `pip install awscli`"
            );
        }
        // Straight to the process's stderr, so the skip shows even though libtest captures
        // eprintln! of passing tests.
        let _ = writeln!(
            std::io::stderr(),
            "SKIP emulator_awscli: `aws` is not on PATH (pip install awscli to run this test)"
        );
        return;
    };
    let emu = start_default().await;
    let endpoint = emu.endpoint_url();
    let items = r#"[{"TypeName":"Custom:StageInfo","SchemaVersion":"1.0","CaptureTime":"2026-11-27T10:00:00Z","Content":[{"Stage":"PreProd"}]}]"#;

    let put = aws(
        &aws_bin,
        DEMO_SECRET_ACCESS_KEY,
        &[
            "ssm",
            "put-inventory",
            "--endpoint-url",
            &endpoint,
            "--region",
            "us-east-1",
            "--instance-id",
            INSTANCE,
            "--items",
            items,
        ],
    )
    .await;
    assert!(put.status.success(), "put-inventory failed: {}", show(&put));
    let stored = emu.stored(INSTANCE, "Custom:StageInfo").expect("stored");
    assert_eq!(stored.content[0]["Stage"], "PreProd");

    let list = aws(
        &aws_bin,
        DEMO_SECRET_ACCESS_KEY,
        &[
            "ssm",
            "list-inventory-entries",
            "--endpoint-url",
            &endpoint,
            "--region",
            "us-east-1",
            "--output",
            "json",
            "--instance-id",
            INSTANCE,
            "--type-name",
            "Custom:StageInfo",
        ],
    )
    .await;
    assert!(
        list.status.success(),
        "list-inventory-entries failed: {}",
        show(&list)
    );
    let json: serde_json::Value =
        serde_json::from_slice(&list.stdout).unwrap_or_else(|e| panic!("{e}: {}", show(&list)));
    assert_eq!(json["TypeName"], "Custom:StageInfo");
    assert_eq!(json["InstanceId"], INSTANCE);
    assert_eq!(json["CaptureTime"], "2026-11-27T10:00:00Z");
    assert_eq!(json["Entries"], serde_json::json!([{"Stage": "PreProd"}]));

    let refused = aws(
        &aws_bin,
        "not-the-secret",
        &[
            "ssm",
            "put-inventory",
            "--endpoint-url",
            &endpoint,
            "--region",
            "us-east-1",
            "--instance-id",
            INSTANCE,
            "--items",
            items,
        ],
    )
    .await;
    assert!(
        !refused.status.success(),
        "a wrong secret must fail: {}",
        show(&refused)
    );
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("InvalidSignatureException"),
        "{}",
        show(&refused)
    );
    emu.shutdown().await;
}
