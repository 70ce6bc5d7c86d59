//! Without root certificates: `once` and `validate --fleet` say so in one sentence and exit 1,
//! never panic; the daemon keeps running, says so in STATUS, and uses a CA bundle that appears
//! later without a restart.
//!
//! The endpoint is `https://` on a closed loopback port: nothing needs to listen, because
//! the roots are missing before any connection is tried (and once they are found the
//! connection is refused, on loopback). `SSL_CERT_FILE` and `SSL_CERT_DIR` point where the
//! test says, so the machine's own bundle is never read.

mod common;

use std::path::Path;
use std::process::Output;
use std::time::{Duration, Instant};

use common::{Node, Supervised, closed_port};

/// A self-signed root made with openssl (see the comment at its top).
const TEST_ROOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/test-root.pem");
/// Hang-catcher for the daemon test; never a timing target.
const PATIENCE: Duration = Duration::from_secs(60);

/// A node with one exec probe, pushing to `https://` on a closed loopback port, retrying
/// fast.
fn node() -> Node {
    let mut node = Node::new(&format!("https://127.0.0.1:{}", closed_port()));
    node.region = "us-east-2".into();
    node.set("splay", "\"0s\"")
        .set("min_push_interval", "\"100ms\"")
        .set("retry_base", "\"100ms\"")
        .set("retry_cap", "\"300ms\"");
    node.probe("x", "Custom:X", "[{\"A\":\"b\"}]");
    node
}

/// `ssm-inventoryd ARGS` on `node`, its root certificates looked for in `cert_file` only.
fn command(node: &Node, args: &[&str], cert_file: &Path) -> tokio::process::Command {
    let mut cmd = node.command(args);
    cmd.env("SSL_CERT_FILE", cert_file)
        .env("SSL_CERT_DIR", "/nonexistent");
    cmd
}

#[tokio::test]
async fn once_without_roots_says_so_and_exits_1() {
    let node = node();
    let out: Output = command(&node, &["once"], Path::new("/nonexistent"))
        .output()
        .await
        .expect("run the binary");
    let stderr = String::from_utf8_lossy(&out.stderr);
    eprintln!("{stderr}");
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    let error = stderr
        .lines()
        .find(|l| l.starts_with("error:"))
        .expect("an error line");
    assert!(error.contains("no root certificates were found"), "{error}");
    assert!(
        error.contains("SSL_CERT_FILE=/nonexistent and SSL_CERT_DIR=/nonexistent"),
        "{error}"
    );
    // The SDK's own loader never ran.
    assert!(
        !stderr.contains("no native root CA certificates found"),
        "{stderr}"
    );
}

#[tokio::test]
async fn validate_fleet_without_roots_says_so_and_exits_1() {
    let mut node = node();
    node.set("fleet_config", "[\"/ssm-inventoryd/web\"]");
    node.write_config();
    let out: Output = command(&node, &["validate", "--fleet"], Path::new("/nonexistent"))
        .output()
        .await
        .expect("run the binary");
    let stderr = String::from_utf8_lossy(&out.stderr);
    eprintln!("{stderr}");
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    let errors: Vec<&str> = stderr.lines().filter(|l| l.starts_with("error:")).collect();
    assert_eq!(errors.len(), 1, "{stderr}");
    assert!(
        errors[0].contains("no root certificates were found")
            && errors[0].contains("SSL_CERT_FILE=/nonexistent and SSL_CERT_DIR=/nonexistent"),
        "{}",
        errors[0]
    );
}

#[test]
fn the_daemon_waits_for_roots_and_uses_them_when_they_appear() {
    let node = node();
    let bundle = node.path("ca.pem");
    let cmd = command(&node, &["run"], &bundle).into_std();
    let mut daemon = Supervised::start(cmd, &node.path("notify"));

    let status = daemon.status_with("no root certificates were found", PATIENCE);
    assert!(status.starts_with("cannot push: "), "{status}");
    assert!(status.contains(&format!("SSL_CERT_FILE={}", bundle.display())));
    // Said once in the log however many push attempts find the roots still missing.
    daemon.status_with("no root certificates were found", PATIENCE);
    assert_eq!(daemon.log_with("no root certificates were found").len(), 1);
    assert!(
        daemon.child.try_wait().expect("wait").is_none(),
        "still running"
    );

    // The bundle appears, written whole and renamed into place.
    let partial = node.path(".ca.pem.tmp");
    std::fs::copy(TEST_ROOT, &partial).expect("copy the test root");
    std::fs::rename(&partial, &bundle).expect("rename the bundle into place");

    let status = daemon.status_with("root certificates found", PATIENCE);
    eprintln!("after the bundle appeared: {status}");
    let deadline = Instant::now() + PATIENCE;
    while daemon.log_with("root certificates found").is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(daemon.log_with("root certificates found").len(), 1);
    // The push then goes ahead and meets the closed port: a connection failure, not a TLS
    // or roots one.
    let deadline = Instant::now() + PATIENCE;
    while daemon.log_with("connection refused").is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(
        !daemon.log_with("connection refused").is_empty(),
        "the push went ahead after the roots appeared"
    );
    assert!(daemon.log_with("panicked").is_empty());
}
