//! How the binary tells an SDK failure: one sentence naming the endpoint and the cause once,
//! never the SDK's debug dump, and not once per retry.
//!
//! Everything stays on loopback: the endpoint is a port on 127.0.0.1 that was just closed,
//! credentials, region and instance ID are explicit and instance metadata is disabled.

mod common;

use common::{Node, closed_port};

/// A node with one exec probe and `endpoint`, retrying fast.
fn node(endpoint: &str) -> Node {
    let mut node = Node::new(endpoint);
    node.region = "us-east-2".into();
    node.set("retry_base", "\"10ms\"")
        .set("retry_cap", "\"20ms\"");
    node.probe("x", "Custom:X", "[{\"A\":\"b\"}]");
    node
}

#[tokio::test]
async fn an_unreachable_endpoint_is_one_sentence() {
    assert_eq!(
        ssm_inventoryd::ssm_agent::SSM_AGENT_DIR_ENV,
        "SSM_INVENTORYD_SSM_AGENT_DIR"
    );
    let endpoint = format!("http://127.0.0.1:{}", closed_port());
    let out = node(&endpoint).once(&[]).await;
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
