//! One test per error of the table in docs/ARCHITECTURE.md ("PutInventory errors"), each
//! provoked on the emulator and seen through the real `aws-sdk-ssm` client by the daemon's own
//! push cycle (`cycle::push`), showing the behaviour the table gives.
//!
//! Item-level refusals that our own validation would never let out (bad type names, schema
//! versions, contexts, content) are provoked with the emulator's test-only `refuse` setting.

mod common;

use std::time::Duration;

use common::*;
use ssm_inventoryd::batch::Budget;
use ssm_inventoryd::emulator::{EmulatorConfig, ErrorCode, Refusal, RefuseWhen};
use ssm_inventoryd::inventory::Item;

fn three() -> Vec<Item> {
    vec![
        small("Custom:A", "a1"),
        small("Custom:B", "b1"),
        small("Custom:C", "c1"),
    ]
}

fn names(list: &[(String, String)]) -> Vec<&str> {
    let mut v: Vec<&str> = list.iter().map(|(t, _)| t.as_str()).collect();
    v.sort();
    v
}

fn sorted_names(list: &[String]) -> Vec<&str> {
    let mut v: Vec<&str> = list.iter().map(String::as_str).collect();
    v.sort();
    v
}

// ---- transient: throttling, 5xx, connection errors ------------------------------------

#[tokio::test]
async fn throttling_is_retried_with_backoff_until_it_passes() {
    let emu = emulator::start(EmulatorConfig::default()).await;
    let client = client(&emu).await;
    let mut p = Pusher::new();
    emu.throttle_next(2);
    let report = p.push(&client, &three()).await;
    assert!(report.complete(), "{report:?}");
    assert_eq!(report.requests, 3, "two throttled attempts, then through");
    assert_eq!(emu.stats().faults.throttled, 2);
    assert_eq!(
        sorted_names(&report.sent_full),
        ["Custom:A", "Custom:B", "Custom:C"]
    );
    println!("throttled twice, delivered on attempt 3");
}

#[tokio::test]
async fn throttling_that_outlasts_the_attempts_leaves_items_pending_and_unrecorded() {
    let emu = emulator::start(EmulatorConfig::default()).await;
    let client = client(&emu).await;
    let mut p = Pusher::new();
    emu.throttle_next(100);
    let report = p.push(&client, &three()).await;
    assert_eq!(report.requests, 3, "max_attempts");
    assert_eq!(names(&report.pending), ["Custom:A", "Custom:B", "Custom:C"]);
    assert!(
        report.pending[0].1.contains("ThrottlingException"),
        "{report:?}"
    );
    assert!(report.quarantined.is_empty());
    assert!(p.state.instance(INSTANCE).is_none(), "nothing acknowledged");
    assert!(
        !p.dir.path().join("state.json").exists(),
        "nothing to record"
    );

    // The outage ends: the same items go on the next push.
    emu.throttle_next(0);
    let report = p.push(&client, &three()).await;
    assert!(report.complete(), "{report:?}");
    assert_eq!(report.sent_full.len(), 3);
}

#[tokio::test]
async fn server_errors_keep_items_pending() {
    let emu = emulator::start(EmulatorConfig {
        refuse: vec![Refusal::unnamed("Custom:B", ErrorCode::InternalServerError)],
        ..EmulatorConfig::default()
    })
    .await;
    let client = client(&emu).await;
    let mut p = Pusher::new();
    let report = p.push(&client, &three()).await;
    // A 5xx says nothing about content: the whole request is retried, nobody is isolated.
    assert_eq!(report.requests, 3);
    assert_eq!(names(&report.pending), ["Custom:A", "Custom:B", "Custom:C"]);
    assert!(report.quarantined.is_empty(), "{report:?}");
    assert!(report.pending[0].1.contains("InternalServerError"));

    emu.set_refusals(vec![]);
    let report = p.push(&client, &three()).await;
    assert!(report.complete(), "{report:?}");
    assert_eq!(
        stored_rows(&emu, "Custom:B"),
        Some(vec![row(&[("Value", "b1")])])
    );
}

#[tokio::test]
async fn dropped_connections_keep_items_pending() {
    let emu = emulator::start(EmulatorConfig {
        drop_rate: 1.0,
        ..EmulatorConfig::default()
    })
    .await;
    let client = client(&emu).await;
    let mut p = Pusher::new();
    let report = p.push(&client, &three()).await;
    assert_eq!(report.requests, 3);
    assert_eq!(names(&report.pending), ["Custom:A", "Custom:B", "Custom:C"]);
    assert!(report.quarantined.is_empty());
    assert_eq!(emu.stats().faults.dropped, 3);
}

// ---- ItemContentMismatchException --------------------------------------------------------

#[tokio::test]
async fn hash_mismatch_leads_to_a_full_resend() {
    let emu = emulator::start(EmulatorConfig::default()).await;
    let client = client(&emu).await;
    let mut p = Pusher::new();
    let items: Vec<Item> = (0..12)
        .map(|i| small(&format!("Custom:T{i:02}"), &format!("v{i}")))
        .collect();
    assert!(p.push(&client, &items).await.complete());

    // The service loses everything; the next refresh is hash-only.
    emu.clear_store();
    p.options.intervals.refresh = Duration::ZERO;
    let before = emu.stats();
    let report = p.push(&client, &items).await;
    let after = emu.stats();
    assert!(report.complete(), "{report:?}");
    assert_eq!(report.sent_full.len(), 12, "{report:?}");
    for item in &items {
        assert_eq!(
            stored_rows(&emu, item.type_name()).as_deref(),
            Some(item.content().as_slice())
        );
    }
    let mismatches = after
        .errors
        .get("ItemContentMismatchException")
        .copied()
        .unwrap_or(0);
    let requests = after.put_inventory_requests - before.put_inventory_requests;
    // The hash-only request, one resend of the named item, then all the rest at once.
    assert_eq!((mismatches, requests), (2, 3), "{:?}", emu.recent_puts());
    println!("store lost 12 items: {mismatches} mismatch answers, {requests} requests");
}

#[tokio::test]
async fn one_lost_item_is_resent_alone() {
    let emu = emulator::start(EmulatorConfig::default()).await;
    let client = client(&emu).await;
    let mut p = Pusher::new();
    let items = three();
    assert!(p.push(&client, &items).await.complete());
    // Another writer replaced B on the service: its hash no longer matches ours.
    let mut other = Pusher::new();
    assert!(
        other
            .push(&client, &[small("Custom:B", "someone else's")])
            .await
            .complete()
    );
    p.options.intervals.refresh = Duration::ZERO;
    let report = p.push(&client, &items).await;
    assert!(report.complete(), "{report:?}");
    assert_eq!(report.sent_full, ["Custom:B"]);
    assert_eq!(
        sorted_names(&report.sent_hash_only),
        ["Custom:A", "Custom:C"]
    );
    assert_eq!(
        stored_rows(&emu, "Custom:B"),
        Some(vec![row(&[("Value", "b1")])])
    );
}

// ---- InvalidItemContentException ----------------------------------------------------------

#[tokio::test]
async fn invalid_content_on_a_hash_only_item_resends_it_in_full() {
    for named in [true, false] {
        let emu = emulator::start(EmulatorConfig::default()).await;
        let client = client(&emu).await;
        let mut p = Pusher::new();
        assert!(p.push(&client, &three()).await.complete());
        emu.set_refusals(vec![Refusal {
            type_name: "Custom:B".into(),
            error: ErrorCode::InvalidItemContent,
            name_type: named,
            when: RefuseWhen::HashOnly,
        }]);
        p.options.intervals.refresh = Duration::ZERO;
        let report = p.push(&client, &three()).await;
        assert!(report.complete(), "named={named}: {report:?}");
        assert_eq!(report.requests, 2, "named={named}");
        if named {
            assert_eq!(report.sent_full, ["Custom:B"]);
            assert_eq!(
                sorted_names(&report.sent_hash_only),
                ["Custom:A", "Custom:C"]
            );
        } else {
            // Unnamed: every hash-only item of the request is resent in full.
            assert_eq!(report.sent_full.len(), 3);
        }
    }
}

#[tokio::test]
async fn invalid_content_on_a_full_item_quarantines_it_and_sends_the_rest() {
    for named in [true, false] {
        let emu = emulator::start(EmulatorConfig {
            refuse: vec![Refusal {
                type_name: "Custom:B".into(),
                error: ErrorCode::InvalidItemContent,
                name_type: named,
                when: RefuseWhen::Full,
            }],
            ..EmulatorConfig::default()
        })
        .await;
        let client = client(&emu).await;
        let mut p = Pusher::new();
        let report = p.push(&client, &three()).await;
        assert!(!report.complete());
        assert_eq!(names(&report.quarantined), ["Custom:B"], "named={named}");
        assert!(
            report.quarantined[0]
                .1
                .contains("InvalidItemContentException")
        );
        assert_eq!(sorted_names(&report.sent_full), ["Custom:A", "Custom:C"]);
        assert!(stored_rows(&emu, "Custom:A").is_some() && stored_rows(&emu, "Custom:C").is_some());
        assert!(stored_rows(&emu, "Custom:B").is_none());
        // Quarantine is recorded and holds while the content stays the same…
        let saved = p.saved();
        assert!(
            saved
                .instance(INSTANCE)
                .unwrap()
                .quarantine
                .contains_key("Custom:B")
        );
        let again = p.push(&client, &three()).await;
        assert_eq!(again.still_quarantined, ["Custom:B"]);
        assert_eq!(again.requests, 0);
        // …and ends when it changes.
        emu.set_refusals(vec![]);
        let changed = vec![
            small("Custom:A", "a1"),
            small("Custom:B", "b2"),
            small("Custom:C", "c1"),
        ];
        let report = p.push(&client, &changed).await;
        assert!(report.complete(), "{report:?}");
        assert_eq!(report.sent_full, ["Custom:B"]);
        assert!(p.saved().instance(INSTANCE).unwrap().quarantine.is_empty());
    }
}

// ---- ItemSizeLimitExceededException --------------------------------------------------------

#[tokio::test]
async fn an_item_over_the_size_limit_is_quarantined_and_the_rest_sent() {
    let emu = emulator::start(EmulatorConfig {
        max_item_bytes: 2_000,
        ..EmulatorConfig::default()
    })
    .await;
    let client = client(&emu).await;
    let mut p = Pusher::new();
    let mut items = three();
    items.push(sized("Custom:Big", 200)); // about 8 KB
    let report = p.push(&client, &items).await;
    assert_eq!(names(&report.quarantined), ["Custom:Big"], "{report:?}");
    assert!(
        report.quarantined[0]
            .1
            .contains("ItemSizeLimitExceededException")
    );
    assert_eq!(report.sent_full.len(), 3);
    // Named by the service: one extra request, no bisection.
    assert_eq!(report.requests, 2);
    assert!(stored_rows(&emu, "Custom:Big").is_none());
    println!("Custom:Big quarantined: {}", report.quarantined[0].1);
}

// ---- one item refused: isolate, quarantine, send the rest ------------------------------------

#[tokio::test]
async fn each_item_refusal_isolates_the_culprit() {
    for code in [
        ErrorCode::InvalidTypeName,
        ErrorCode::UnsupportedInventorySchemaVersion,
        ErrorCode::UnsupportedInventoryItemContext,
        ErrorCode::InvalidInventoryItemContext,
        ErrorCode::SubTypeCountLimitExceeded,
    ] {
        let emu = emulator::start(EmulatorConfig {
            // Named where the model allows (only UnsupportedInventoryItemContext of these).
            refuse: vec![Refusal::named("Custom:T3", code)],
            ..EmulatorConfig::default()
        })
        .await;
        let client = client(&emu).await;
        let mut p = Pusher::new();
        let items: Vec<Item> = (0..8)
            .map(|i| small(&format!("Custom:T{i}"), "v"))
            .collect();
        let report = p.push(&client, &items).await;
        assert_eq!(
            names(&report.quarantined),
            ["Custom:T3"],
            "{code:?}: {report:?}"
        );
        assert!(
            report.quarantined[0].1.contains(code.name()),
            "{code:?}: {}",
            report.quarantined[0].1
        );
        assert_eq!(report.sent_full.len(), 7, "{code:?}");
        for i in (0..8).filter(|&i| i != 3) {
            assert!(stored_rows(&emu, &format!("Custom:T{i}")).is_some());
        }
        println!("{}: {} requests for 8 items", code.name(), report.requests);
    }
}

// ---- CustomSchemaCountLimitExceededException ---------------------------------------------

#[tokio::test]
async fn at_the_custom_type_limit_known_types_go_through_and_new_ones_are_quarantined() {
    let emu = emulator::start(EmulatorConfig {
        max_custom_types: 3,
        ..EmulatorConfig::default()
    })
    .await;
    let client = client(&emu).await;
    // Another node of the account holds one type…
    let mut other = Pusher::new();
    other.options.instance_id = "mi-0123456789abcdef0".into();
    assert!(
        other
            .push(&client, &[small("Custom:Other", "x")])
            .await
            .complete()
    );
    // …and this one two: the account is full.
    let mut p = Pusher::new();
    assert!(
        p.push(&client, &[small("Custom:A", "a1"), small("Custom:B", "b1")])
            .await
            .complete()
    );

    let items = vec![
        small("Custom:A", "a2"), // changed, known
        small("Custom:B", "b1"), // unchanged: skipped
        small("Custom:New1", "n"),
        small("Custom:New2", "n"),
    ];
    let report = p.push(&client, &items).await;
    assert_eq!(report.sent_full, ["Custom:A"], "{report:?}");
    assert_eq!(report.skipped, ["Custom:B"]);
    assert_eq!(names(&report.quarantined), ["Custom:New1", "Custom:New2"]);
    for (_, reason) in &report.quarantined {
        assert!(
            reason.contains("maximum of custom inventory types"),
            "{reason}"
        );
        assert!(
            reason.contains("CustomSchemaCountLimitExceededException"),
            "{reason}"
        );
    }
    assert_eq!(
        stored_rows(&emu, "Custom:A"),
        Some(vec![row(&[("Value", "a2")])])
    );
    assert!(stored_rows(&emu, "Custom:New1").is_none());
    assert_eq!(emu.stats().custom_types, 3);
    println!("quarantined: {}", report.quarantined[0].1);
}

#[tokio::test]
async fn a_fresh_node_stores_the_types_its_fleet_created_and_quarantines_only_the_extra_ones() {
    let emu = emulator::start(EmulatorConfig {
        max_custom_types: 20,
        ..EmulatorConfig::default()
    })
    .await;
    let client = client(&emu).await;
    let fleet: Vec<Item> = (0..18)
        .map(|i| small(&format!("Custom:Fleet{i:02}"), "x"))
        .collect();
    // An older node created 18 types in the account.
    let mut old = Pusher::new();
    old.options.instance_id = "mi-0123456789abcdef0".into();
    assert!(old.push(&client, &fleet).await.complete());

    // A fresh node has the same 18 plus 4 of its own: room for 2 of those.
    let mut items = fleet.clone();
    for extra in [
        "Custom:ZExtra1",
        "Custom:ZExtra2",
        "Custom:ZExtra3",
        "Custom:ZExtra4",
    ] {
        items.push(small(extra, "y"));
    }
    let mut fresh = Pusher::new();
    let report = fresh.push(&client, &items).await;
    assert_eq!(report.sent_full.len(), 20, "{report:?}");
    assert_eq!(report.quarantined.len(), 2, "{report:?}");
    for (t, reason) in &report.quarantined {
        assert!(t.starts_with("Custom:ZExtra"), "{t}");
        assert!(
            reason.contains("CustomSchemaCountLimitExceededException"),
            "{reason}"
        );
    }
    for item in &fleet {
        assert!(emu.stored(INSTANCE, item.type_name()).is_some());
    }
    assert_eq!(emu.stats().custom_types, 20);
    println!(
        "fresh node, 18 fleet types + 4 new, 2 free: {} requests",
        report.requests
    );
}

// ---- TotalSizeLimitExceededException ---------------------------------------------------------

#[tokio::test]
async fn over_the_node_total_the_items_that_fit_go_and_the_rest_are_quarantined() {
    let items: Vec<Item> = (0..5).map(|i| sized(&format!("Custom:S{i}"), 20)).collect();
    // What the emulator counts per item: its compact JSON with Content.
    let each = ssm_inventoryd::wire::item_bytes(&items[0], ssm_inventoryd::wire::Payload::Full);
    let emu = emulator::start(EmulatorConfig {
        max_node_bytes: 3 * each + 10,
        ..EmulatorConfig::default()
    })
    .await;
    let client = client(&emu).await;
    let mut p = Pusher::new();
    let report = p.push(&client, &items).await;
    assert_eq!(report.sent_full.len(), 3, "{report:?}");
    assert_eq!(report.quarantined.len(), 2, "{report:?}");
    for (_, reason) in &report.quarantined {
        assert!(reason.contains("total inventory"), "{reason}");
        assert!(
            reason.contains("TotalSizeLimitExceededException"),
            "{reason}"
        );
    }
    let stored = items
        .iter()
        .filter(|i| stored_rows(&emu, i.type_name()).is_some())
        .count();
    assert_eq!(stored, 3);
    let stats = emu.stats();
    assert!(stats.instances[INSTANCE].stored_bytes <= (3 * each + 10) as u64);
    println!(
        "{} of 5 items of {each} bytes fit a {}-byte node total, {} requests",
        stored,
        3 * each + 10,
        report.requests
    );
}

// ---- InvalidInstanceId -----------------------------------------------------------------------

#[tokio::test]
async fn an_unknown_instance_stops_the_push_and_keeps_everything_pending() {
    let emu = emulator::start(EmulatorConfig {
        known_instances: Some(vec!["mi-0123456789abcdef0".into()]),
        ..EmulatorConfig::default()
    })
    .await;
    let client = client(&emu).await;
    let mut p = Pusher::new();
    // Small requests, so the items need several: only the first is ever sent.
    p.options.budget = Budget::new(4096);
    let items: Vec<Item> = (0..6).map(|i| sized(&format!("Custom:S{i}"), 40)).collect();
    let report = p.push(&client, &items).await;
    assert_eq!(report.requests, 1, "stopped after the first answer");
    assert_eq!(report.pending.len(), 6);
    assert!(report.quarantined.is_empty());
    let reason = report.instance_invalid.as_deref().expect("reported");
    for cause in ["not be registered", "SSM Agent", "bad state", INSTANCE] {
        assert!(reason.contains(cause), "{cause}: {reason}");
    }
    assert!(p.state.instance(INSTANCE).is_none());
    println!("{reason}");
}

#[tokio::test]
async fn once_on_an_unknown_instance_exits_1_with_the_likely_causes() {
    let emu = emulator::start(EmulatorConfig {
        known_instances: Some(vec!["mi-0123456789abcdef0".into()]),
        ..EmulatorConfig::default()
    })
    .await;
    let mut node = Node::new(&emu);
    node.probe("stage", "Custom:StageInfo", r#"{"Stage":"PreProd"}"#);
    let out = node.once(&[]).await;
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    let line = stderr
        .lines()
        .find(|l| l.starts_with("error:"))
        .expect("an error line");
    for cause in [
        "not be registered",
        "SSM Agent",
        "Custom:StageInfo is still pending",
    ] {
        assert!(line.contains(cause), "{cause}: {line}");
    }
    assert!(!node.state_path().exists(), "nothing was acknowledged");
    println!("{line}");
}

// ---- credentials and signatures ----------------------------------------------------------------

#[tokio::test]
async fn refused_credentials_keep_items_pending_and_retry() {
    let emu = emulator::start(EmulatorConfig::default()).await;
    let mut p = Pusher::new();
    for (key, secret, expect) in [
        (
            ssm_inventoryd::emulator::DEMO_ACCESS_KEY_ID,
            "not-the-secret",
            "InvalidSignatureException",
        ),
        (
            "AKIAUNKNOWNKEY000000",
            "whatever",
            "UnrecognizedClientException",
        ),
    ] {
        let bad = client_with_keys(&emu, key, secret).await;
        let report = p.push(&bad, &three()).await;
        assert_eq!(
            report.requests, 4,
            "one immediate retry with freshly read keys, then retried like any transient failure"
        );
        assert!(report.credentials_refused);
        assert_eq!(names(&report.pending), ["Custom:A", "Custom:B", "Custom:C"]);
        assert!(report.pending[0].1.contains(expect), "{report:?}");
        assert!(report.quarantined.is_empty());
        assert!(p.state.instance(INSTANCE).is_none());
    }
    // Good credentials again: everything goes.
    let report = p.push(&client(&emu).await, &three()).await;
    assert!(report.complete(), "{report:?}");
}

#[tokio::test]
async fn once_with_bad_or_missing_credentials_exits_1_and_keeps_items_pending() {
    let emu = emulator::start(EmulatorConfig::default()).await;
    let mut node = Node::new(&emu);
    node.probe("stage", "Custom:StageInfo", r#"{"Stage":"PreProd"}"#);

    let mut cmd = node.command(&["once"]);
    cmd.env("AWS_SECRET_ACCESS_KEY", "wrong");
    let out = cmd.output().await.unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("Custom:StageInfo is still pending"),
        "{stderr}"
    );
    assert!(stderr.contains("InvalidSignatureException"), "{stderr}");

    let mut cmd = node.command(&["once"]);
    cmd.env_remove("AWS_ACCESS_KEY_ID")
        .env_remove("AWS_SECRET_ACCESS_KEY");
    let out = cmd.output().await.unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("Custom:StageInfo is still pending"),
        "{stderr}"
    );
    // Told apart from a network failure.
    assert!(
        stderr.contains("credentials are missing, expired or refused"),
        "{stderr}"
    );
    assert!(!node.state_path().exists());
    println!(
        "{}",
        stderr
            .lines()
            .find(|l| l.starts_with("error:"))
            .unwrap_or_default()
    );

    node.once_ok().await;
    assert!(emu.stored(INSTANCE, "Custom:StageInfo").is_some());
}
