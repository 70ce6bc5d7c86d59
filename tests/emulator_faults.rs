//! Fault injection as the real SDK experiences it: throttling by token bucket, injected 5xx,
//! latency, and connections closed without an answer. Each is also counted in the stats.

mod common;

use std::time::{Duration, Instant};

use aws_sdk_ssm::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_ssm::operation::put_inventory::PutInventoryError;
use common::emulator::*;
use ssm_inventoryd::emulator::EmulatorConfig;
use tokio::task::JoinSet;

#[tokio::test]
async fn burst_beyond_the_token_bucket_is_throttled_and_counted() {
    let emu = start(EmulatorConfig {
        throttle_tps: Some(5.0),
        ..Default::default()
    })
    .await;
    let c = client(&emu);
    let mut burst = JoinSet::new();
    for i in 0..50 {
        let c = c.clone();
        burst.spawn(async move {
            c.put_inventory()
                .instance_id(INSTANCE)
                .items(item(&format!("Custom:T{}", i % 10), &[&[("k", "v")]]))
                .send()
                .await
        });
    }
    let (mut ok, mut throttled) = (0u64, 0u64);
    while let Some(result) = burst.join_next().await {
        match result.unwrap() {
            Ok(_) => ok += 1,
            Err(e) => {
                let e = e.into_service_error();
                assert_eq!(e.code(), Some("ThrottlingException"), "{e:?}");
                throttled += 1;
            }
        }
    }
    assert!(ok >= 5, "the bucket's capacity passes: {ok}");
    assert!(throttled > 0, "a burst of 50 at 5 tps is throttled");
    assert_eq!(ok + throttled, 50);
    let stats = emu.stats();
    assert_eq!(stats.faults.throttled, throttled);
    assert_eq!(stats.errors["ThrottlingException"], throttled);
    assert_eq!(stats.put_inventory_accepted, ok);
}

#[tokio::test]
async fn fail_rate_one_answers_internal_server_error() {
    let emu = start(EmulatorConfig {
        fail_rate: 1.0,
        ..Default::default()
    })
    .await;
    for _ in 0..3 {
        let err = client(&emu)
            .put_inventory()
            .instance_id(INSTANCE)
            .items(item("Custom:StageInfo", &[]))
            .send()
            .await
            .unwrap_err()
            .into_service_error();
        assert!(
            matches!(err, PutInventoryError::InternalServerError(_)),
            "{err:?}"
        );
    }
    let stats = emu.stats();
    assert_eq!(stats.faults.failed, 3);
    assert_eq!(stats.errors["InternalServerError"], 3);
}

#[tokio::test]
async fn latency_delays_every_answer() {
    let latency = Duration::from_millis(250);
    let emu = start(EmulatorConfig {
        latency,
        ..Default::default()
    })
    .await;
    let c = client(&emu);
    for _ in 0..2 {
        let started = Instant::now();
        c.put_inventory()
            .instance_id(INSTANCE)
            .items(item("Custom:StageInfo", &[]))
            .send()
            .await
            .unwrap();
        let took = started.elapsed();
        eprintln!("PutInventory with {latency:?} injected latency took {took:?}");
        assert!(took >= latency, "{took:?}");
    }
    assert_eq!(emu.stats().faults.delayed, 2);
}

#[tokio::test]
async fn drop_rate_one_closes_connections_without_an_answer() {
    let emu = start(EmulatorConfig {
        drop_rate: 1.0,
        ..Default::default()
    })
    .await;
    let err = client(&emu)
        .put_inventory()
        .instance_id(INSTANCE)
        .items(item("Custom:StageInfo", &[]))
        .send()
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            SdkError::DispatchFailure(_) | SdkError::ResponseError(_)
        ),
        "expected a dispatch or response error, got {err:?}"
    );
    let stats = emu.stats();
    assert_eq!(stats.faults.dropped, 1);
    assert!(emu.stored(INSTANCE, "Custom:StageInfo").is_none());
}
