//! How the binary tells an SDK failure: one sentence naming the endpoint and the cause once,
//! never the SDK's debug dump, and not once per retry.
//!
//! Everything stays on loopback: the endpoint is a port on 127.0.0.1 that was just closed,
//! credentials, region and instance ID are explicit and instance metadata is disabled.

use std::path::Path;
use std::process::Output;

/// The binary under test.
const BIN: &str = env!("CARGO_BIN_EXE_ssm-inventoryd");
const INSTANCE: &str = "i-0123456789abcdef0";

/// A loopback port nothing listens on: bound, then released.
fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
    let port = listener.local_addr().expect("its address").port();
    drop(listener);
    port
}

/// A node with one exec probe and `endpoint`; returns the configuration's path.
fn node(dir: &Path, endpoint: &str) -> std::path::PathBuf {
    let config = dir.join("config.toml");
    std::fs::write(
        &config,
        format!(
            "[agent]\ninstance_id = \"{INSTANCE}\"\nregion = \"us-east-2\"\nendpoint_url = \"{endpoint}\"\n\
             state_dir = \"{}\"\nretry_base = \"10ms\"\nretry_cap = \"20ms\"\n\n\
             [[probe]]\nname = \"x\"\nkind = \"exec\"\ntype_name = \"Custom:X\"\n\
             command = [\"/bin/echo\", \"[{{\\\"A\\\":\\\"b\\\"}}]\"]\n",
            dir.join("state").display()
        ),
    )
    .expect("write the configuration");
    config
}

/// `ssm-inventoryd ARGS` with nothing from this machine's AWS setup: explicit keys, no
/// instance metadata, empty AWS files, and `extra` on top.
fn run(dir: &Path, args: &[&str], extra: &[(&str, &str)]) -> Output {
    let empty = dir.join("empty");
    std::fs::write(&empty, "").expect("empty AWS file");
    let mut cmd = std::process::Command::new(BIN);
    cmd.args(args)
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .env("HOME", dir)
        .env("SSM_INVENTORYD_SSM_AGENT_DIR", dir.join("no-ssm-agent"))
        .env("RUST_LOG", "info")
        .env("NO_COLOR", "1")
        .env("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
        .env("AWS_SECRET_ACCESS_KEY", "secret")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_CONFIG_FILE", &empty)
        .env("AWS_SHARED_CREDENTIALS_FILE", &empty);
    for (key, value) in extra {
        cmd.env(key, value);
    }
    cmd.output().expect("run the binary")
}

#[test]
fn an_unreachable_endpoint_is_one_sentence() {
    assert_eq!(
        ssm_inventoryd::ssm_agent::SSM_AGENT_DIR_ENV,
        "SSM_INVENTORYD_SSM_AGENT_DIR"
    );
    let dir = tempfile::tempdir().expect("temp dir");
    let endpoint = format!("http://127.0.0.1:{}", closed_port());
    let config = node(dir.path(), &endpoint);
    let out = run(
        dir.path(),
        &["once", "--config", config.to_str().expect("utf-8 path")],
        &[],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    eprintln!("{stderr}");
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    let cause = format!("cannot reach {endpoint}: connection refused");
    let told: Vec<&str> = stderr.lines().filter(|l| l.contains(&cause)).collect();
    // Once when the request gives up (the retries before are at debug level), once in the
    // command's own error.
    assert_eq!(told.len(), 2, "{stderr}");
    let error = stderr
        .lines()
        .find(|l| l.starts_with("error:"))
        .expect("an error line");
    assert!(error.len() < 200, "{error}");
    assert_eq!(error.matches(&endpoint).count(), 1, "{error}");
    assert_eq!(error.matches("connection refused").count(), 1, "{error}");
    for line in stderr.lines() {
        assert!(!line.contains("DispatchFailure {"), "{line}");
        assert!(!line.contains("os error"), "{line}");
        assert!(!line.contains("will retry"), "{line}");
    }
}
