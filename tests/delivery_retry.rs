//! Retries: with the emulator throttling every call for a while and then recovering,
//! everything is delivered; the backoff ceilings double from `retry_base` and stop at
//! `retry_cap`, and every wait is drawn below its ceiling (full jitter). Small real settings
//! (milliseconds), no timed assertions: counts and the recorded waits only.

mod common;

use std::time::Duration;

use common::*;
use ssm_inventoryd::batch::Budget;
use ssm_inventoryd::emulator::EmulatorConfig;
use ssm_inventoryd::inventory::Item;
use ssm_inventoryd::sender::{Deliverer, Fate, Outgoing, RetryPolicy};
use ssm_inventoryd::wire::Payload;
use tokio_util::sync::CancellationToken;

const BASE: Duration = Duration::from_millis(2);
const CAP: Duration = Duration::from_millis(16);

fn items(n: usize) -> Vec<Item> {
    (0..n)
        .map(|i| small(&format!("Custom:R{i:02}"), &format!("v{i}")))
        .collect()
}

fn outgoing(items: &[Item]) -> Vec<Outgoing<'_>> {
    items
        .iter()
        .map(|item| Outgoing {
            item,
            payload: Payload::Full,
            new_type: true,
        })
        .collect()
}

#[tokio::test]
async fn an_outage_that_ends_is_ridden_out_with_growing_capped_backoff() {
    let emu = emulator::start(EmulatorConfig::default()).await;
    let client = client(&emu).await;
    let items = items(5);
    let deliverer = Deliverer {
        client: &client,
        instance_id: INSTANCE,
        budget: Budget::new(1024 * 1024),
        // The daemon's policy: no attempt limit.
        retry: RetryPolicy {
            base: BASE,
            cap: CAP,
            max_attempts: None,
        },
    };
    // Every call is throttled for the next 9 calls, then the service recovers.
    emu.throttle_next(9);
    let report = deliverer
        .deliver(&outgoing(&items), &CancellationToken::new())
        .await;

    assert!(
        report
            .fates
            .iter()
            .all(|f| matches!(f, Some(Fate::Acknowledged { .. }))),
        "{:?}",
        report.fates
    );
    for item in &items {
        assert_eq!(
            stored_rows(&emu, item.type_name()).as_deref(),
            Some(item.content().as_slice())
        );
    }
    assert_eq!(report.requests, 10);
    assert_eq!(emu.stats().faults.throttled, 9);
    assert_eq!(report.waits.len(), 9);
    assert_eq!(report.ceilings.len(), 9);
    let ms: Vec<u128> = report.ceilings.iter().map(Duration::as_millis).collect();
    assert_eq!(
        ms,
        [2, 4, 8, 16, 16, 16, 16, 16, 16],
        "doubling up to the cap"
    );
    for (wait, ceiling) in report.waits.iter().zip(&report.ceilings) {
        assert!(wait <= ceiling && *ceiling <= CAP, "{wait:?} > {ceiling:?}");
    }
    println!(
        "9 throttled calls ridden out; ceilings {ms:?} ms; waits {:?} µs",
        report
            .waits
            .iter()
            .map(Duration::as_micros)
            .collect::<Vec<_>>()
    );
}

#[tokio::test]
async fn each_request_of_a_delivery_backs_off_on_its_own() {
    let emu = emulator::start(EmulatorConfig {
        max_custom_types: 100,
        ..EmulatorConfig::default()
    })
    .await;
    let client = client(&emu).await;
    let items = items(40); // two requests of 30 and 10
    let deliverer = Deliverer {
        client: &client,
        instance_id: INSTANCE,
        budget: Budget::new(1024 * 1024),
        retry: RetryPolicy {
            base: BASE,
            cap: CAP,
            max_attempts: None,
        },
    };
    emu.throttle_next(6);
    let report = deliverer
        .deliver(&outgoing(&items), &CancellationToken::new())
        .await;
    assert!(
        report
            .fates
            .iter()
            .all(|f| matches!(f, Some(Fate::Acknowledged { .. })))
    );
    assert_eq!(report.requests, 8);
    // The first request took all six throttles (six waits, ceilings restarting at base for
    // the second request, which went through at once).
    let ms: Vec<u128> = report.ceilings.iter().map(Duration::as_millis).collect();
    assert_eq!(ms, [2, 4, 8, 16, 16, 16]);
    assert_eq!(emu.stats().items_stored, 40);
}

#[tokio::test]
async fn a_cancelled_delivery_leaves_items_pending_without_waiting_out_the_backoff() {
    let emu = emulator::start(EmulatorConfig::default()).await;
    let client = client(&emu).await;
    let items = items(3);
    let deliverer = Deliverer {
        client: &client,
        instance_id: INSTANCE,
        budget: Budget::new(1024 * 1024),
        retry: RetryPolicy {
            base: Duration::from_secs(3600),
            cap: Duration::from_secs(3600),
            max_attempts: None,
        },
    };
    emu.throttle_next(u64::MAX);
    let cancel = CancellationToken::new();
    let stop = cancel.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(200)).await;
        stop.cancel();
    });
    let report = tokio::time::timeout(
        Duration::from_secs(30),
        deliverer.deliver(&outgoing(&items), &cancel),
    )
    .await
    .expect("cancellation ends the delivery");
    assert!(
        report
            .fates
            .iter()
            .all(|f| matches!(f, Some(Fate::Pending { .. })))
    );
    assert_eq!(report.requests, 1);
}

#[tokio::test]
async fn once_rides_out_a_short_outage_and_reports_a_long_one() {
    let emu = emulator::start(EmulatorConfig {
        throttle_first: 4,
        ..EmulatorConfig::default()
    })
    .await;
    let mut node = Node::new(&emu);
    node.probe("stage", "Custom:StageInfo", r#"{"Stage":"PreProd"}"#);
    node.probe("kernel", "Custom:Kernel", r#"{"Release":"6.1.0"}"#);
    // `once` allows five attempts per request: four throttles are ridden out.
    let out = node.once_ok().await;
    assert_eq!(emu.stats().faults.throttled, 4, "{out}");
    assert!(emu.stored(INSTANCE, "Custom:Kernel").is_some());

    // A longer outage: `once` gives up, exits 1 and records nothing for the new content.
    node.set_output("stage", r#"{"Stage":"Prod"}"#);
    emu.throttle_next(5);
    let out = node.once(&[]).await;
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("Custom:StageInfo is still pending"),
        "{stderr}"
    );
    assert!(stderr.contains("ThrottlingException"), "{stderr}");
    assert_eq!(
        stored_rows(&emu, "Custom:StageInfo"),
        Some(vec![row(&[("Stage", "PreProd")])])
    );

    // The service is back: the next run delivers it.
    node.once_ok().await;
    assert_eq!(
        stored_rows(&emu, "Custom:StageInfo"),
        Some(vec![row(&[("Stage", "Prod")])])
    );
}
