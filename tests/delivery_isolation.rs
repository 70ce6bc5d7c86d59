//! Poison-item isolation: a request fails as a whole when one item is bad, so one poisoned
//! item must never hold back the other 29. An error that names the type costs one extra
//! request; one that names nothing is bisected, costing at most ceil(log2(30)) + 1 = 6 extra
//! requests wherever the culprit sits in the request.

mod common;

use common::*;
use ssm_inventoryd::emulator::{EmulatorConfig, ErrorCode, Refusal};
use ssm_inventoryd::inventory::Item;

fn thirty() -> Vec<Item> {
    (0..30)
        .map(|i| small(&format!("Custom:T{i:02}"), &format!("v{i}")))
        .collect()
}

/// Pushes the 30 items with `refusals` in force; returns the extra requests one bad item
/// cost, after checking that every other item was stored and the culprits quarantined.
async fn extra_requests(refusals: Vec<Refusal>) -> usize {
    let culprits: Vec<String> = refusals.iter().map(|r| r.type_name.clone()).collect();
    let emu = emulator::start(EmulatorConfig {
        refuse: refusals,
        max_custom_types: 100,
        ..EmulatorConfig::default()
    })
    .await;
    let client = client(&emu).await;
    let mut p = Pusher::new();
    let items = thirty();
    let report = p.push(&client, &items).await;

    let mut quarantined: Vec<&str> = report.quarantined.iter().map(|(t, _)| t.as_str()).collect();
    quarantined.sort();
    let mut expected: Vec<&str> = culprits.iter().map(String::as_str).collect();
    expected.sort();
    assert_eq!(quarantined, expected, "{report:?}");
    assert_eq!(report.sent_full.len(), 30 - culprits.len(), "{report:?}");
    assert!(report.pending.is_empty(), "{report:?}");
    for item in &items {
        let stored = stored_rows(&emu, item.type_name());
        if culprits.iter().any(|c| c == item.type_name()) {
            assert!(stored.is_none());
        } else {
            assert_eq!(
                stored.as_deref(),
                Some(item.content().as_slice()),
                "{}",
                item.type_name()
            );
        }
    }
    assert_eq!(report.requests as u64, emu.stats().put_inventory_requests);
    report.requests - 1
}

#[tokio::test]
async fn one_unnamed_poison_among_30_costs_at_most_6_extra_requests_wherever_it_is() {
    let mut costs = Vec::new();
    for k in 0..30 {
        let culprit = format!("Custom:T{k:02}");
        let extra =
            extra_requests(vec![Refusal::unnamed(&culprit, ErrorCode::InvalidTypeName)]).await;
        assert!(extra <= 6, "{culprit}: {extra} extra requests");
        costs.push(extra);
    }
    let max = costs.iter().max().copied().unwrap_or(0);
    let mean = costs.iter().sum::<usize>() as f64 / costs.len() as f64;
    println!(
        "unnamed culprit at each of 30 positions: extra requests {costs:?}, max {max}, mean {mean:.2} (bound 6)"
    );
}

#[tokio::test]
async fn a_named_poison_costs_one_extra_request() {
    for code in [
        ErrorCode::ItemSizeLimitExceeded,
        ErrorCode::InvalidItemContent,
        ErrorCode::UnsupportedInventoryItemContext,
    ] {
        let extra = extra_requests(vec![Refusal::named("Custom:T17", code)]).await;
        assert_eq!(extra, 1, "{code:?}");
    }
    println!("named culprit: 1 extra request");
}

#[tokio::test]
async fn two_unnamed_poisons_are_both_found_and_the_other_28_stored() {
    let extra = extra_requests(vec![
        Refusal::unnamed("Custom:T03", ErrorCode::UnsupportedInventorySchemaVersion),
        Refusal::unnamed("Custom:T21", ErrorCode::InvalidInventoryItemContext),
    ])
    .await;
    println!("two unnamed culprits among 30: {extra} extra requests");
    assert!(extra <= 12, "{extra}");
}

#[tokio::test]
async fn only_the_request_holding_the_poison_is_split() {
    let emu = emulator::start(EmulatorConfig {
        refuse: vec![Refusal::unnamed("Custom:U45", ErrorCode::InvalidTypeName)],
        max_custom_types: 100,
        ..EmulatorConfig::default()
    })
    .await;
    let client = client(&emu).await;
    let mut p = Pusher::new();
    let items: Vec<Item> = (0..60)
        .map(|i| small(&format!("Custom:U{i:02}"), "v"))
        .collect();
    let report = p.push(&client, &items).await;
    assert_eq!(report.sent_full.len(), 59);
    assert_eq!(report.quarantined.len(), 1);
    // Two requests of 30, and the bisection of one of them.
    assert!(report.requests <= 2 + 6, "{}", report.requests);
    println!("60 items, one poisoned: {} requests", report.requests);
}
