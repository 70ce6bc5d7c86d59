//! One test per error the emulator answers, each seen through the real `aws-sdk-ssm` client:
//! modelled errors must arrive as their typed `PutInventoryError` variant (with `type_name()`
//! where the model has one), the others by `code()`.

mod common;

use std::time::Duration;

use aws_sdk_ssm::error::ProvideErrorMetadata;
use aws_sdk_ssm::operation::RequestId;
use aws_sdk_ssm::operation::put_inventory::PutInventoryError;
use aws_sdk_ssm::types::InventoryItem;
use common::emulator::*;
use ssm_inventoryd::emulator::{DEMO_ACCESS_KEY_ID, EmulatorConfig};

fn stage() -> InventoryItem {
    item("Custom:StageInfo", &[&[("Stage", "PreProd")]])
}

#[tokio::test]
async fn validation_exception() {
    let emu = start_default().await;
    let err = put(&emu, "i-bad", vec![stage()]).await.unwrap_err();
    assert_eq!(err.code(), Some("ValidationException"), "{err:?}");
    assert!(
        err.message().unwrap_or_default().contains("instanceId"),
        "{err:?}"
    );
    assert!(
        err.request_id().is_some_and(|id| id.len() == 36),
        "x-amzn-RequestId is passed on"
    );

    let mut bad_time = InventoryItem::builder()
        .type_name("Custom:A")
        .schema_version("1.0")
        .capture_time("2026-11-27T10:00:00.000Z")
        .set_content(Some(vec![]))
        .build()
        .unwrap();
    let err = put(&emu, INSTANCE, vec![bad_time.clone()])
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("ValidationException"), "{err:?}");

    bad_time.capture_time = CAPTURE_TIME.into();
    bad_time.schema_version = "1".into();
    let err = put(&emu, INSTANCE, vec![bad_time]).await.unwrap_err();
    assert_eq!(err.code(), Some("ValidationException"), "{err:?}");

    let too_many: Vec<_> = (0..31)
        .map(|i| item(&format!("Custom:T{i}"), &[]))
        .collect();
    let err = put(&emu, INSTANCE, too_many).await.unwrap_err();
    assert_eq!(err.code(), Some("ValidationException"), "{err:?}");
    assert_eq!(emu.stats().errors["ValidationException"], 4);
}

#[tokio::test]
async fn invalid_instance_id() {
    let emu = start(EmulatorConfig {
        known_instances: Some(vec![INSTANCE.to_owned()]),
        ..Default::default()
    })
    .await;
    put(&emu, INSTANCE, vec![stage()]).await.unwrap();
    let err = put(&emu, OTHER_INSTANCE, vec![stage()]).await.unwrap_err();
    assert!(
        matches!(err, PutInventoryError::InvalidInstanceId(_)),
        "{err:?}"
    );
}

#[tokio::test]
async fn invalid_type_name_exception() {
    let emu = start_default().await;
    for name in [
        "CustomStageInfo",
        "custom:StageInfo",
        "AWS:NotAType",
        "Custom:",
    ] {
        let err = put(&emu, INSTANCE, vec![item(name, &[])])
            .await
            .unwrap_err();
        assert!(
            matches!(err, PutInventoryError::InvalidTypeNameException(_)),
            "{name}: {err:?}"
        );
    }
}

#[tokio::test]
async fn invalid_item_content_exception() {
    let emu = start_default().await;
    let clash = item("Custom:Pkg", &[&[("Vendor", "a")], &[("vendor", "b")]]);
    let err = put(&emu, INSTANCE, vec![stage(), clash]).await.unwrap_err();
    match &err {
        PutInventoryError::InvalidItemContentException(e) => {
            assert_eq!(e.type_name(), Some("Custom:Pkg"))
        }
        other => panic!("expected InvalidItemContentException, got {other:?}"),
    }
    // The whole request failed: the good item was not stored either.
    assert!(emu.stored(INSTANCE, "Custom:StageInfo").is_none());

    let long_value = "x".repeat(4097);
    let err = put(
        &emu,
        INSTANCE,
        vec![item("Custom:Pkg", &[&[("v", &long_value)]])],
    )
    .await
    .unwrap_err();
    assert!(
        matches!(err, PutInventoryError::InvalidItemContentException(_)),
        "{err:?}"
    );

    let err = put(&emu, INSTANCE, vec![stage(), stage()])
        .await
        .unwrap_err();
    assert!(
        matches!(err, PutInventoryError::InvalidItemContentException(_)),
        "duplicate type: {err:?}"
    );
}

#[tokio::test]
async fn item_content_mismatch_exception() {
    let emu = start_default().await;
    let err = put(
        &emu,
        INSTANCE,
        vec![hash_only("Custom:StageInfo", "abc=", CAPTURE_TIME)],
    )
    .await
    .unwrap_err();
    match &err {
        PutInventoryError::ItemContentMismatchException(e) => {
            assert_eq!(e.type_name(), Some("Custom:StageInfo"))
        }
        other => panic!("expected ItemContentMismatchException, got {other:?}"),
    }
}

#[tokio::test]
async fn item_size_limit_exceeded_exception() {
    let emu = start(EmulatorConfig {
        max_item_bytes: 1000,
        ..Default::default()
    })
    .await;
    let big = "x".repeat(1000);
    let err = put(
        &emu,
        INSTANCE,
        vec![stage(), item("Custom:Big", &[&[("v", &big)]])],
    )
    .await
    .unwrap_err();
    match &err {
        PutInventoryError::ItemSizeLimitExceededException(e) => {
            assert_eq!(e.type_name(), Some("Custom:Big"))
        }
        other => panic!("expected ItemSizeLimitExceededException, got {other:?}"),
    }
}

#[tokio::test]
async fn total_size_limit_exceeded_exception() {
    let emu = start(EmulatorConfig {
        max_node_bytes: 1500,
        ..Default::default()
    })
    .await;
    let v = "x".repeat(600);
    put(&emu, INSTANCE, vec![item("Custom:A", &[&[("v", &v)]])])
        .await
        .unwrap();
    put(&emu, INSTANCE, vec![item("Custom:B", &[&[("v", &v)]])])
        .await
        .unwrap();
    let err = put(&emu, INSTANCE, vec![item("Custom:C", &[&[("v", &v)]])])
        .await
        .unwrap_err();
    assert!(
        matches!(err, PutInventoryError::TotalSizeLimitExceededException(_)),
        "{err:?}"
    );
}

#[tokio::test]
async fn custom_schema_count_limit_exceeded_exception() {
    let emu = start(EmulatorConfig {
        max_custom_types: 2,
        ..Default::default()
    })
    .await;
    put(
        &emu,
        INSTANCE,
        vec![item("Custom:A", &[]), item("Custom:B", &[])],
    )
    .await
    .unwrap();
    let err = put(&emu, OTHER_INSTANCE, vec![item("Custom:C", &[])])
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            PutInventoryError::CustomSchemaCountLimitExceededException(_)
        ),
        "{err:?}"
    );
}

#[tokio::test]
async fn unsupported_inventory_item_context_exception() {
    let emu = start_default().await;
    let with_context = InventoryItem::builder()
        .type_name("Custom:StageInfo")
        .schema_version("1.0")
        .capture_time(CAPTURE_TIME)
        .content([("Stage".to_owned(), "PreProd".to_owned())].into())
        .context("ExecutionId", "abc")
        .build()
        .unwrap();
    let err = put(&emu, INSTANCE, vec![with_context]).await.unwrap_err();
    match &err {
        PutInventoryError::UnsupportedInventoryItemContextException(e) => {
            assert_eq!(e.type_name(), Some("Custom:StageInfo"))
        }
        other => panic!("expected UnsupportedInventoryItemContextException, got {other:?}"),
    }
}

#[tokio::test]
async fn invalid_inventory_item_context_exception() {
    let emu = start_default().await;
    let mut b = InventoryItem::builder()
        .type_name("AWS:ComplianceItem")
        .schema_version("1.0")
        .capture_time(CAPTURE_TIME)
        .set_content(Some(vec![]));
    for i in 0..51 {
        b = b.context(format!("k{i}"), "v");
    }
    let err = put(&emu, INSTANCE, vec![b.build().unwrap()])
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            PutInventoryError::InvalidInventoryItemContextException(_)
        ),
        "{err:?}"
    );
}

#[tokio::test]
async fn unsupported_inventory_schema_version_exception() {
    let emu = start_default().await;
    let app = InventoryItem::builder()
        .type_name("AWS:Application")
        .schema_version("1.0")
        .capture_time(CAPTURE_TIME)
        .set_content(Some(vec![]))
        .build()
        .unwrap();
    let err = put(&emu, INSTANCE, vec![app]).await.unwrap_err();
    assert!(
        matches!(
            err,
            PutInventoryError::UnsupportedInventorySchemaVersionException(_)
        ),
        "{err:?}"
    );
}

#[tokio::test]
async fn internal_server_error() {
    let emu = start(EmulatorConfig {
        fail_rate: 1.0,
        ..Default::default()
    })
    .await;
    let err = client(&emu)
        .put_inventory()
        .instance_id(INSTANCE)
        .items(stage())
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.raw_response().map(|r| r.status().as_u16()), Some(500));
    let err = err.into_service_error();
    assert!(
        matches!(err, PutInventoryError::InternalServerError(_)),
        "{err:?}"
    );
    assert!(emu.stored(INSTANCE, "Custom:StageInfo").is_none());
}

#[tokio::test]
async fn throttling_exception() {
    let emu = start(EmulatorConfig {
        throttle_tps: Some(1.0),
        ..Default::default()
    })
    .await;
    put(&emu, INSTANCE, vec![stage()]).await.unwrap();
    let err = put(&emu, INSTANCE, vec![stage()]).await.unwrap_err();
    assert_eq!(err.code(), Some("ThrottlingException"), "{err:?}");
}

#[tokio::test]
async fn invalid_signature_exception_for_a_wrong_secret() {
    let emu = start_default().await;
    let err = client_with(&emu, DEMO_ACCESS_KEY_ID, "not-the-secret")
        .put_inventory()
        .instance_id(INSTANCE)
        .items(stage())
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.raw_response().map(|r| r.status().as_u16()), Some(400));
    let err = err.into_service_error();
    assert_eq!(err.code(), Some("InvalidSignatureException"), "{err:?}");
    assert!(emu.stored(INSTANCE, "Custom:StageInfo").is_none());
}

#[tokio::test]
async fn invalid_signature_exception_for_an_expired_date() {
    // With no skew allowed, a date truncated to the second is always in the past.
    let emu = start(EmulatorConfig {
        max_clock_skew: Duration::ZERO,
        ..Default::default()
    })
    .await;
    let err = put(&emu, INSTANCE, vec![stage()]).await.unwrap_err();
    assert_eq!(err.code(), Some("InvalidSignatureException"), "{err:?}");
    assert!(
        err.message()
            .unwrap_or_default()
            .starts_with("Signature expired"),
        "{err:?}"
    );
}

#[tokio::test]
async fn unrecognized_client_exception_for_an_unknown_key() {
    let emu = start_default().await;
    let err = client_with(&emu, "AKIDUNKNOWNKEY000000", "whatever")
        .put_inventory()
        .instance_id(INSTANCE)
        .items(stage())
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert_eq!(err.code(), Some("UnrecognizedClientException"), "{err:?}");
}

#[tokio::test]
async fn missing_authentication_token_exception() {
    let emu = start_default().await;
    let (status, head, body) = raw_http(
        emu.local_addr(),
        "POST",
        "/",
        &[
            ("Content-Type", "application/x-amz-json-1.1"),
            ("X-Amz-Target", "AmazonSSM.PutInventory"),
        ],
        r#"{"InstanceId":"i-0123456789abcdef0","Items":[]}"#,
    )
    .await;
    assert_eq!(status, 400);
    assert!(
        head.contains("content-type: application/x-amz-json-1.1"),
        "{head}"
    );
    assert!(head.contains("x-amzn-requestid: "), "{head}");
    let body: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(body["__type"], "MissingAuthenticationTokenException");
}

#[tokio::test]
async fn faults_come_after_the_signature_check() {
    let emu = start(EmulatorConfig {
        fail_rate: 1.0,
        ..Default::default()
    })
    .await;
    let err = client_with(&emu, DEMO_ACCESS_KEY_ID, "wrong")
        .put_inventory()
        .instance_id(INSTANCE)
        .items(stage())
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert_eq!(err.code(), Some("InvalidSignatureException"), "{err:?}");
    assert_eq!(emu.stats().faults.failed, 0);
}
