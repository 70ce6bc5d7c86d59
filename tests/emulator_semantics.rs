//! What the emulator stores and reads back, through the real `aws-sdk-ssm` client: round trip
//! via ListInventoryEntries, ContentHash semantics, the custom type limit, byte limits, the
//! Context rule, statistics, and graceful shutdown.

mod common;

use std::time::{Duration, Instant};

use aws_sdk_ssm::operation::put_inventory::PutInventoryError;
use aws_sdk_ssm::types::InventoryItem;
use common::emulator::*;
use ssm_inventoryd::emulator::EmulatorConfig;

#[tokio::test]
async fn put_then_list_inventory_entries_round_trip() {
    let emu = start_default().await;
    put(
        &emu,
        INSTANCE,
        vec![item(
            "Custom:StageInfo",
            &[
                &[("Stage", "PreProd"), ("Owner", "ops")],
                &[("Stage", "Prod")],
            ],
        )],
    )
    .await
    .unwrap();

    let out = client(&emu)
        .list_inventory_entries()
        .instance_id(INSTANCE)
        .type_name("Custom:StageInfo")
        .send()
        .await
        .unwrap();
    assert_eq!(out.type_name(), Some("Custom:StageInfo"));
    assert_eq!(out.instance_id(), Some(INSTANCE));
    assert_eq!(out.schema_version(), Some("1.0"));
    assert_eq!(out.capture_time(), Some(CAPTURE_TIME));
    let entries = out.entries();
    assert_eq!(entries.len(), 2);
    assert!(
        entries
            .iter()
            .any(|e| e.get("Stage").map(String::as_str) == Some("Prod"))
    );

    // Paging.
    let page = client(&emu)
        .list_inventory_entries()
        .instance_id(INSTANCE)
        .type_name("Custom:StageInfo")
        .max_results(1)
        .send()
        .await
        .unwrap();
    assert_eq!(page.entries().len(), 1);
    let next = client(&emu)
        .list_inventory_entries()
        .instance_id(INSTANCE)
        .type_name("Custom:StageInfo")
        .max_results(1)
        .next_token(page.next_token().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(next.entries().len(), 1);
    assert!(next.next_token().is_none());

    // The Rust API shows the same.
    let stored = emu.stored(INSTANCE, "Custom:StageInfo").unwrap();
    assert_eq!(stored.content.len(), 2);
    assert_eq!(stored.schema_version, "1.0");

    // Nothing stored reads back as no entries.
    let none = client(&emu)
        .list_inventory_entries()
        .instance_id(INSTANCE)
        .type_name("Custom:Other")
        .send()
        .await
        .unwrap();
    assert!(none.entries().is_empty());
}

#[tokio::test]
async fn hash_only_items() {
    let emu = start_default().await;
    let hash = "Rj1EYYBMiRLsd5ATYE2hUw==";
    put(
        &emu,
        INSTANCE,
        vec![item_with_hash(
            "Custom:StageInfo",
            &[&[("Stage", "PreProd")]],
            hash,
        )],
    )
    .await
    .unwrap();

    // Matching hash: only CaptureTime moves.
    put(
        &emu,
        INSTANCE,
        vec![hash_only("Custom:StageInfo", hash, "2026-11-28T00:00:00Z")],
    )
    .await
    .unwrap();
    let stored = emu.stored(INSTANCE, "Custom:StageInfo").unwrap();
    assert_eq!(stored.capture_time, "2026-11-28T00:00:00Z");
    assert_eq!(stored.content_hash.as_deref(), Some(hash));
    assert_eq!(stored.content[0]["Stage"], "PreProd");

    // A different hash, a type never stored, or another node: mismatch, and nothing changes.
    for (instance, type_name, h) in [
        (INSTANCE, "Custom:StageInfo", "different=="),
        (INSTANCE, "Custom:Never", hash),
        (OTHER_INSTANCE, "Custom:StageInfo", hash),
    ] {
        let err = put(
            &emu,
            instance,
            vec![hash_only(type_name, h, "2026-11-29T00:00:00Z")],
        )
        .await
        .unwrap_err();
        match &err {
            PutInventoryError::ItemContentMismatchException(e) => {
                assert_eq!(e.type_name(), Some(type_name))
            }
            other => panic!(
                "{instance} {type_name}: expected ItemContentMismatchException, got {other:?}"
            ),
        }
    }
    assert_eq!(
        emu.stored(INSTANCE, "Custom:StageInfo")
            .unwrap()
            .capture_time,
        "2026-11-28T00:00:00Z"
    );

    // A mismatch fails the whole request, even the good hash-only item beside it.
    let err = put(
        &emu,
        INSTANCE,
        vec![
            hash_only("Custom:StageInfo", hash, "2026-11-30T00:00:00Z"),
            hash_only("Custom:Never", hash, "2026-11-30T00:00:00Z"),
        ],
    )
    .await
    .unwrap_err();
    assert!(matches!(
        err,
        PutInventoryError::ItemContentMismatchException(_)
    ));
    assert_eq!(
        emu.stored(INSTANCE, "Custom:StageInfo")
            .unwrap()
            .capture_time,
        "2026-11-28T00:00:00Z"
    );

    // A full resend with a new hash replaces the content.
    put(
        &emu,
        INSTANCE,
        vec![item_with_hash(
            "Custom:StageInfo",
            &[&[("Stage", "Prod")]],
            "new==",
        )],
    )
    .await
    .unwrap();
    let stored = emu.stored(INSTANCE, "Custom:StageInfo").unwrap();
    assert_eq!(stored.content[0]["Stage"], "Prod");
    let st = emu.stats();
    assert_eq!(st.items_stored, 2);
    assert_eq!(st.items_refreshed, 1);
}

#[tokio::test]
async fn empty_content_clears_a_type() {
    let emu = start_default().await;
    put(
        &emu,
        INSTANCE,
        vec![item("Custom:StageInfo", &[&[("Stage", "PreProd")]])],
    )
    .await
    .unwrap();
    put(&emu, INSTANCE, vec![item("Custom:StageInfo", &[])])
        .await
        .unwrap();
    let stored = emu.stored(INSTANCE, "Custom:StageInfo").unwrap();
    assert!(stored.content.is_empty());
    let out = client(&emu)
        .list_inventory_entries()
        .instance_id(INSTANCE)
        .type_name("Custom:StageInfo")
        .send()
        .await
        .unwrap();
    assert!(out.entries().is_empty());
    assert_eq!(out.schema_version(), Some("1.0"));
}

#[tokio::test]
async fn twenty_custom_types_per_account() {
    let emu = start_default().await;
    let types: Vec<String> = (0..20).map(|i| format!("Custom:Type{i:02}")).collect();
    // Twenty types spread over two nodes fill the account.
    put(
        &emu,
        INSTANCE,
        types[..12]
            .iter()
            .map(|t| item(t, &[&[("k", "v")]]))
            .collect(),
    )
    .await
    .unwrap();
    put(
        &emu,
        OTHER_INSTANCE,
        types[12..]
            .iter()
            .map(|t| item(t, &[&[("k", "v")]]))
            .collect(),
    )
    .await
    .unwrap();
    assert_eq!(emu.stats().custom_types, 20);

    // A 21st is refused, and the known type in the same request is not stored either.
    let err = put(
        &emu,
        INSTANCE,
        vec![
            item(&types[0], &[&[("k", "changed")]]),
            item("Custom:Type20", &[]),
        ],
    )
    .await
    .unwrap_err();
    assert!(
        matches!(
            err,
            PutInventoryError::CustomSchemaCountLimitExceededException(_)
        ),
        "{err:?}"
    );
    assert_eq!(
        emu.stored(INSTANCE, &types[0]).unwrap().content[0]["k"],
        "v"
    );

    // Types the account already has still go through, on any node; AWS types do not count.
    let tag = InventoryItem::builder()
        .type_name("AWS:Tag")
        .schema_version("1.0")
        .capture_time(CAPTURE_TIME)
        .set_content(Some(vec![]))
        .build()
        .unwrap();
    put(
        &emu,
        OTHER_INSTANCE,
        vec![item(&types[0], &[&[("k", "changed")]]), tag],
    )
    .await
    .unwrap();
    assert_eq!(
        emu.stored(OTHER_INSTANCE, &types[0]).unwrap().content[0]["k"],
        "changed"
    );
    assert_eq!(emu.stats().custom_types, 20);
}

#[tokio::test]
async fn byte_limits() {
    // Item JSON: {"TypeName":"Custom:Big","SchemaVersion":"1.0","CaptureTime":"…","Content":[{"v":"…"}]}
    let overhead = r#"{"TypeName":"Custom:Big","SchemaVersion":"1.0","CaptureTime":"2026-11-27T10:00:00Z","Content":[{"v":""}]}"#.len();
    let emu = start(EmulatorConfig {
        max_item_bytes: 1000,
        max_node_bytes: 2500,
        ..Default::default()
    })
    .await;
    let exactly = "x".repeat(1000 - overhead);
    put(
        &emu,
        INSTANCE,
        vec![item("Custom:Big", &[&[("v", &exactly)]])],
    )
    .await
    .unwrap();
    let over = "x".repeat(1001 - overhead);
    let err = put(&emu, INSTANCE, vec![item("Custom:Big", &[&[("v", &over)]])])
        .await
        .unwrap_err();
    match &err {
        PutInventoryError::ItemSizeLimitExceededException(e) => {
            assert_eq!(e.type_name(), Some("Custom:Big"))
        }
        other => panic!("expected ItemSizeLimitExceededException, got {other:?}"),
    }

    // Node total: 1000 (Big) + 900 (A) fits; + 900 (B) does not; replacing Big by a small
    // item in the same request makes room.
    let v = "y".repeat(800);
    put(&emu, INSTANCE, vec![item("Custom:A", &[&[("v", &v)]])])
        .await
        .unwrap();
    let err = put(&emu, INSTANCE, vec![item("Custom:B", &[&[("v", &v)]])])
        .await
        .unwrap_err();
    assert!(
        matches!(err, PutInventoryError::TotalSizeLimitExceededException(_)),
        "{err:?}"
    );
    assert!(emu.stored(INSTANCE, "Custom:B").is_none());
    put(
        &emu,
        INSTANCE,
        vec![item("Custom:Big", &[]), item("Custom:B", &[&[("v", &v)]])],
    )
    .await
    .unwrap();
    assert!(emu.stored(INSTANCE, "Custom:B").is_some());
    // Each node has its own total.
    put(
        &emu,
        OTHER_INSTANCE,
        vec![item("Custom:Big", &[&[("v", &exactly)]])],
    )
    .await
    .unwrap();
}

#[tokio::test]
async fn context_only_for_compliance_items() {
    let emu = start_default().await;
    let custom = InventoryItem::builder()
        .type_name("Custom:StageInfo")
        .schema_version("1.0")
        .capture_time(CAPTURE_TIME)
        .set_content(Some(vec![]))
        .context("ExecutionId", "abc")
        .build()
        .unwrap();
    let err = put(&emu, INSTANCE, vec![custom]).await.unwrap_err();
    assert!(
        matches!(
            err,
            PutInventoryError::UnsupportedInventoryItemContextException(_)
        ),
        "{err:?}"
    );

    let compliance = InventoryItem::builder()
        .type_name("AWS:ComplianceItem")
        .schema_version("1.0")
        .capture_time(CAPTURE_TIME)
        .content([("Status".to_owned(), "COMPLIANT".to_owned())].into())
        .context("ExecutionId", "abc")
        .context("ExecutionType", "Command")
        .build()
        .unwrap();
    put(&emu, INSTANCE, vec![compliance]).await.unwrap();
    assert!(emu.stored(INSTANCE, "AWS:ComplianceItem").is_some());
}

#[tokio::test]
async fn stats_endpoint_and_api_agree() {
    let emu = start_default().await;
    for i in 0..3 {
        put(
            &emu,
            INSTANCE,
            vec![item(&format!("Custom:T{i}"), &[&[("k", "v")]])],
        )
        .await
        .unwrap();
    }
    put(&emu, "i-bad", vec![item("Custom:T0", &[])])
        .await
        .unwrap_err();

    let api = emu.stats();
    assert_eq!(api.requests, 4);
    assert_eq!(api.put_inventory_requests, 4);
    assert_eq!(api.put_inventory_accepted, 3);
    assert_eq!(api.items, 3);
    assert_eq!(api.errors["ValidationException"], 1);
    assert_eq!(api.instances[INSTANCE].requests, 3);
    assert_eq!(api.instances[INSTANCE].items, 3);
    assert_eq!(api.instances["i-bad"].items, 0);
    assert_eq!(api.recent_put_body_sizes.len(), 4);
    let sum: u64 = api.recent_put_body_sizes.iter().sum();
    assert_eq!(sum, api.request_body_bytes);
    assert_eq!(
        api.instances[INSTANCE].bytes,
        api.recent_put_body_sizes[..3].iter().sum::<u64>()
    );
    // Each recorded size is the exact body the SDK sent.
    let expected = format!(
        r#"{{"InstanceId":"{INSTANCE}","Items":[{{"CaptureTime":"{CAPTURE_TIME}","Content":[{{"k":"v"}}],"SchemaVersion":"1.0","TypeName":"Custom:T0"}}]}}"#
    );
    assert_eq!(api.recent_put_body_sizes[0], expected.len() as u64);

    let json = stats_json(&emu).await;
    assert_eq!(json, serde_json::to_value(emu.stats()).unwrap());
    assert_eq!(json["errors"]["ValidationException"], 1);
}

#[tokio::test]
async fn shutdown_lets_in_flight_requests_finish() {
    let emu = start(EmulatorConfig {
        latency: Duration::from_millis(400),
        ..Default::default()
    })
    .await;
    let addr = emu.local_addr();
    let c = client(&emu);
    let in_flight = tokio::spawn(async move {
        c.put_inventory()
            .instance_id(INSTANCE)
            .items(item("Custom:StageInfo", &[&[("Stage", "PreProd")]]))
            .send()
            .await
    });
    // Shut down only once the request is inside the emulator (held by the latency).
    let deadline = Instant::now() + Duration::from_secs(20);
    while emu.stats().requests == 0 {
        assert!(
            Instant::now() < deadline,
            "the request never reached the emulator"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    emu.shutdown().await;
    in_flight
        .await
        .unwrap()
        .expect("the in-flight request was answered");
    assert!(
        tokio::net::TcpStream::connect(addr).await.is_err(),
        "no longer accepting"
    );
}
