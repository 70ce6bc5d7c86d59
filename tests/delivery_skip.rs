//! Change skipping and removed types, through the real binary (`once`) against the emulator:
//! the first run stores everything, an unchanged run sends nothing at all, a changed probe
//! sends exactly its item, and a removed probe's type is cleared once and then forgotten.

mod common;

use common::*;
use ssm_inventoryd::emulator::EmulatorConfig;

fn stage(value: &str) -> String {
    format!(r#"{{"Stage":"{value}","Owner":"platform-team"}}"#)
}

#[tokio::test]
async fn unchanged_probes_send_nothing_and_a_change_sends_exactly_that_item() {
    let emu = emulator::start(EmulatorConfig::default()).await;
    let mut node = Node::new(&emu);
    node.probe("stage", "Custom:StageInfo", &stage("PreProd"));
    node.probe(
        "shells",
        "Custom:Shells",
        &rows_json("Shell", &["/bin/sh", "/bin/bash"]),
    );
    node.probe(
        "kernel",
        "Custom:Kernel",
        r#"{"Release":"6.1.0","Machine":"x86_64"}"#,
    );

    // 1. Everything is stored.
    let out = node.once_ok().await;
    let first = emu.stats();
    assert_eq!(first.items_stored, 3, "{out}");
    assert_eq!(
        stored_rows(&emu, "Custom:StageInfo"),
        Some(vec![row(&[
            ("Owner", "platform-team"),
            ("Stage", "PreProd")
        ])])
    );
    assert_eq!(
        stored_rows(&emu, "Custom:Shells").map(sorted),
        Some(vec![
            row(&[("Shell", "/bin/bash")]),
            row(&[("Shell", "/bin/sh")])
        ])
    );
    assert!(stored_rows(&emu, "Custom:Kernel").is_some());
    let state = node.state();
    assert_eq!(state.instance(INSTANCE).unwrap().types.len(), 3);

    // 2. Nothing changed: not one request.
    let out = node.once_ok().await;
    let second = emu.stats();
    assert_eq!(
        second.put_inventory_requests, first.put_inventory_requests,
        "{out}"
    );
    assert_eq!(second.requests, first.requests);
    assert!(
        out.contains("0 sent in full, 0 refreshed by hash, 3 unchanged"),
        "{out}"
    );

    // Printing the same rows in another order is no change either (rows are canonicalised).
    node.set_output("shells", &rows_json("Shell", &["/bin/bash", "/bin/sh"]));
    node.once_ok().await;
    assert_eq!(
        emu.stats().put_inventory_requests,
        first.put_inventory_requests
    );

    // 3. One probe's output changes: one request holding exactly that item.
    node.set_output(
        "shells",
        &rows_json("Shell", &["/bin/sh", "/bin/bash", "/usr/bin/zsh"]),
    );
    let out = node.once_ok().await;
    let third = emu.stats();
    assert_eq!(
        third.put_inventory_requests,
        first.put_inventory_requests + 1,
        "{out}"
    );
    assert_eq!(third.items, first.items + 1);
    assert_eq!(third.items_stored, first.items_stored + 1);
    let last = emu.recent_puts().pop().unwrap();
    assert_eq!(last.types, ["Custom:Shells"]);
    assert!(last.hash_only.is_empty() && last.error.is_none());
    assert_eq!(stored_rows(&emu, "Custom:Shells").unwrap().len(), 3);
    println!(
        "requests per run: {}, 0, 0, 1",
        first.put_inventory_requests
    );
}

#[tokio::test]
async fn a_removed_probe_is_cleared_once_then_no_longer_mentioned() {
    let emu = emulator::start(EmulatorConfig::default()).await;
    let mut node = Node::new(&emu);
    node.probe("stage", "Custom:StageInfo", &stage("PreProd"));
    node.probe("shells", "Custom:Shells", &rows_json("Shell", &["/bin/sh"]));
    node.once_ok().await;
    assert!(stored_rows(&emu, "Custom:Shells").is_some_and(|r| !r.is_empty()));

    node.remove_probe("shells");
    let before = emu.stats();
    let out = node.once_ok().await;
    assert!(out.contains("1 cleared"), "{out}");
    let after = emu.stats();
    assert_eq!(
        after.put_inventory_requests,
        before.put_inventory_requests + 1
    );
    let clear = emu.recent_puts().pop().unwrap();
    assert_eq!(
        clear.types,
        ["Custom:Shells"],
        "only the cleared type is sent"
    );
    assert!(clear.hash_only.is_empty(), "sent with Content: []");
    assert_eq!(stored_rows(&emu, "Custom:Shells"), Some(vec![]));
    let state = node.state();
    let types = &state.instance(INSTANCE).unwrap().types;
    assert!(!types.contains_key("Custom:Shells"), "forgotten: {types:?}");
    assert!(types.contains_key("Custom:StageInfo"));

    // Not mentioned again.
    let out = node.once_ok().await;
    assert!(out.contains("0 cleared"), "{out}");
    assert_eq!(
        emu.stats().put_inventory_requests,
        after.put_inventory_requests
    );
    assert!(
        !node
            .state()
            .instance(INSTANCE)
            .unwrap()
            .types
            .contains_key("Custom:Shells")
    );
}

#[tokio::test]
async fn on_removed_keep_forgets_without_clearing() {
    let emu = emulator::start(EmulatorConfig::default()).await;
    let mut node = Node::new(&emu);
    node.agent_extra = "on_removed = \"keep\"".into();
    node.probe("stage", "Custom:StageInfo", &stage("PreProd"));
    node.probe("shells", "Custom:Shells", &rows_json("Shell", &["/bin/sh"]));
    node.once_ok().await;
    node.remove_probe("shells");
    let before = emu.stats();
    node.once_ok().await;
    assert_eq!(
        emu.stats().put_inventory_requests,
        before.put_inventory_requests
    );
    assert_eq!(
        stored_rows(&emu, "Custom:Shells"),
        Some(vec![row(&[("Shell", "/bin/sh")])]),
        "left to age out"
    );
    assert!(
        !node
            .state()
            .instance(INSTANCE)
            .unwrap()
            .types
            .contains_key("Custom:Shells")
    );
}

#[tokio::test]
async fn force_sends_everything_in_full() {
    let emu = emulator::start(EmulatorConfig::default()).await;
    let mut node = Node::new(&emu);
    node.probe("stage", "Custom:StageInfo", &stage("PreProd"));
    node.probe("shells", "Custom:Shells", &rows_json("Shell", &["/bin/sh"]));
    node.once_ok().await;
    let before = emu.stats();
    let out = node.once(&["--force"]).await;
    assert!(out.status.success(), "{}", describe(&out));
    let after = emu.stats();
    assert_eq!(after.items - before.items, 2);
    assert_eq!(after.items_hash_only, before.items_hash_only);
}

#[tokio::test]
async fn a_refused_clear_waits_out_its_quarantine_and_a_refused_type_is_forgotten_when_removed() {
    use ssm_inventoryd::emulator::{ErrorCode, Refusal};
    let emu = emulator::start(EmulatorConfig::default()).await;
    let client = client(&emu).await;
    let mut p = Pusher::new();
    let keep = small("Custom:Keep", "k");
    let gone = small("Custom:Gone", "g");
    let bad = small("Custom:Bad", "b");
    emu.set_refusals(vec![Refusal::named(
        "Custom:Bad",
        ErrorCode::InvalidItemContent,
    )]);
    let report = p.push(&client, &[keep.clone(), gone, bad]).await;
    assert_eq!(report.quarantined.len(), 1, "{report:?}");

    // Both disappear; the service now refuses the clear of Custom:Gone.
    emu.set_refusals(vec![Refusal::named(
        "Custom:Gone",
        ErrorCode::InvalidItemContent,
    )]);
    let report = p.push(&client, std::slice::from_ref(&keep)).await;
    assert_eq!(report.quarantined.len(), 1, "{report:?}");
    assert_eq!(report.quarantined[0].0, "Custom:Gone");
    let saved = p.saved();
    let node = saved.instance(INSTANCE).unwrap();
    // Custom:Bad was never stored: nothing to clear, and its quarantine is dropped.
    assert!(!node.quarantine.contains_key("Custom:Bad"), "{node:?}");
    assert!(node.quarantine.contains_key("Custom:Gone"));

    // The refused clear is not sent again every cycle.
    let before = emu.stats().put_inventory_requests;
    let report = p.push(&client, std::slice::from_ref(&keep)).await;
    assert_eq!(report.still_quarantined, ["Custom:Gone"]);
    assert_eq!(emu.stats().put_inventory_requests, before);
}
