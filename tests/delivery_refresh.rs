//! Refresh: once `refresh_interval` has passed since the service acknowledged an unchanged
//! item, it is sent hash-only (no Content) so the service keeps a current CaptureTime; when
//! the service no longer holds what we think (its store wiped), the mismatch answer leads to
//! a full resend and the store is whole again. Through the real binary.

mod common;

use std::time::Duration;

use common::*;
use ssm_inventoryd::emulator::EmulatorConfig;

const DAY: Duration = Duration::from_secs(86_400);

fn setup(emu: &ssm_inventoryd::emulator::Emulator) -> Node {
    let mut node = Node::new(emu);
    node.agent_extra = "refresh_interval = \"12h\"".into();
    node.probe("stage", "Custom:StageInfo", r#"{"Stage":"PreProd"}"#);
    node.probe(
        "shells",
        "Custom:Shells",
        &rows_json("Shell", &["/bin/sh", "/bin/bash"]),
    );
    node.probe("kernel", "Custom:Kernel", r#"{"Release":"6.1.0"}"#);
    node
}

fn assert_store_whole(emu: &ssm_inventoryd::emulator::Emulator) {
    assert_eq!(
        stored_rows(emu, "Custom:StageInfo"),
        Some(vec![row(&[("Stage", "PreProd")])])
    );
    assert_eq!(
        stored_rows(emu, "Custom:Shells").map(sorted),
        Some(vec![
            row(&[("Shell", "/bin/bash")]),
            row(&[("Shell", "/bin/sh")])
        ])
    );
    assert_eq!(
        stored_rows(emu, "Custom:Kernel"),
        Some(vec![row(&[("Release", "6.1.0")])])
    );
}

#[tokio::test]
async fn unchanged_items_are_refreshed_hash_only_after_the_interval() {
    let emu = emulator::start(EmulatorConfig::default()).await;
    let node = setup(&emu);
    node.once_ok().await;
    let first = emu.stats();

    // Within the interval: nothing.
    node.once_ok().await;
    assert_eq!(
        emu.stats().put_inventory_requests,
        first.put_inventory_requests
    );

    // The acknowledgements are now a day old.
    node.age_state(DAY);
    let acked_before =
        node.state().instance(INSTANCE).unwrap().types["Custom:Kernel"].acknowledged_at;
    let out = node.once_ok().await;
    let after = emu.stats();
    assert!(out.contains("0 sent in full, 3 refreshed by hash"), "{out}");
    assert_eq!(
        after.put_inventory_requests,
        first.put_inventory_requests + 1
    );
    assert_eq!(after.items_hash_only - first.items_hash_only, 3);
    assert_eq!(after.items_refreshed - first.items_refreshed, 3);
    assert_eq!(
        after.items_stored, first.items_stored,
        "no content was stored again"
    );
    let last = emu.recent_puts().pop().unwrap();
    assert_eq!(last.hash_only.len(), 3, "{last:?}");
    // The refresh is acknowledged, so the clock starts again…
    let acked_after =
        node.state().instance(INSTANCE).unwrap().types["Custom:Kernel"].acknowledged_at;
    assert!(acked_after > acked_before + time::Duration::hours(23));
    // …and the next run sends nothing.
    node.once_ok().await;
    assert_eq!(
        emu.stats().put_inventory_requests,
        after.put_inventory_requests
    );
    assert_store_whole(&emu);
    println!(
        "refresh: 1 request, {} items hash-only, body {} bytes",
        after.items_hash_only - first.items_hash_only,
        last.bytes
    );
}

#[tokio::test]
async fn a_tiny_refresh_interval_refreshes_on_the_real_clock() {
    let emu = emulator::start(EmulatorConfig::default()).await;
    let mut node = setup(&emu);
    node.agent_extra = "refresh_interval = \"1s\"".into();
    node.write_config();
    node.once_ok().await;
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let before = emu.stats();
    node.once_ok().await;
    let after = emu.stats();
    assert_eq!(after.items_hash_only - before.items_hash_only, 3);
    assert_eq!(after.items_stored, before.items_stored);
}

#[tokio::test]
async fn after_the_store_is_wiped_the_mismatch_answer_leads_to_a_full_resend() {
    let emu = emulator::start(EmulatorConfig::default()).await;
    let node = setup(&emu);
    node.once_ok().await;
    let first = emu.stats();

    emu.clear_store();
    assert!(stored_rows(&emu, "Custom:StageInfo").is_none());
    node.age_state(DAY);
    let out = node.once_ok().await;
    let after = emu.stats();
    assert!(out.contains("3 sent in full, 0 refreshed by hash"), "{out}");
    let mismatches = after
        .errors
        .get("ItemContentMismatchException")
        .copied()
        .unwrap_or(0);
    assert!((1..=2).contains(&mismatches), "{mismatches}");
    assert_eq!(
        after.items_stored - first.items_stored,
        3,
        "content stored again"
    );
    assert_store_whole(&emu);
    let puts = emu.recent_puts();
    let run: Vec<_> = puts
        .iter()
        .skip(first.put_inventory_requests as usize)
        .collect();
    assert_eq!(
        run[0].hash_only.len(),
        3,
        "the refresh went hash-only: {run:?}"
    );
    assert_eq!(run.last().unwrap().error, None);
    println!(
        "wiped store: {} requests ({} mismatch answers) to make it whole",
        run.len(),
        mismatches
    );

    // The state agrees with the store, so the next run is quiet.
    node.once_ok().await;
    assert_eq!(
        emu.stats().put_inventory_requests,
        after.put_inventory_requests
    );
}
