//! The emulator against a second, independent client: the AWS CLI (botocore signs and parses
//! on its own, so this catches protocol details the Rust SDK happens to be lenient about).
//!
//! Needs `aws` on PATH. Without it the test prints a skip line and passes, unless
//! `SSM_INVENTORYD_REQUIRE_AWSCLI=1`, in which case it fails.

mod common;

use common::awscli::{aws, find_aws_or_skip, show};
use common::emulator::*;
use ssm_inventoryd::emulator::DEMO_SECRET_ACCESS_KEY;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aws_cli_puts_and_reads_back_and_is_refused_with_a_wrong_secret() {
    let Some(aws_bin) = find_aws_or_skip() else {
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
