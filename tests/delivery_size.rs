//! The batcher's byte budget is only worth something if it measures what is actually sent:
//! the size estimate (`wire::request_overhead` + `wire::item_bytes` + the commas) must match
//! the body the emulator received from the real SDK to within 1 % — with multi-byte UTF-8,
//! quotes, backslashes, control characters and a 10,000-row item in the mix.

mod common;

use std::collections::BTreeSet;

use common::*;
use ssm_inventoryd::batch::{self, Budget};
use ssm_inventoryd::emulator::{Emulator, EmulatorConfig, PutRecord};
use ssm_inventoryd::inventory::Item;
use ssm_inventoryd::sender::{Deliverer, Fate, Outgoing, RetryPolicy};
use ssm_inventoryd::wire::{self, Payload};
use tokio_util::sync::CancellationToken;

fn roomy() -> EmulatorConfig {
    EmulatorConfig {
        max_item_bytes: 16 * 1024 * 1024,
        max_node_bytes: 64 * 1024 * 1024,
        max_custom_types: 100,
        ..EmulatorConfig::default()
    }
}

/// Items whose serialisation is anything but plain ASCII.
fn awkward() -> Vec<Item> {
    let mut items = vec![
        item(
            "Custom:Unicode",
            vec![
                row(&[("Name", "Ünïcödé — 日本語テキスト"), ("Emoji", "🦀🚀✨")]),
                row(&[("Name", "Ελληνικά"), ("Emoji", "👩‍👩‍👧‍👦")]),
                row(&[("Größe", "groß"), ("Emoji", "")]),
            ],
        ),
        item(
            "Custom:Quotes",
            vec![
                row(&[
                    ("Says", r#"say "hi" to \everyone\"#),
                    ("Path", r"C:\Program Files\x"),
                ]),
                row(&[("Says", r#""""#), ("Path", r"\\server\share")]),
            ],
        ),
        item(
            "Custom:Control",
            vec![
                row(&[("Text", "line1\nline2\r\n\ttabbed")]),
                row(&[("Text", "\u{1}\u{2}\u{8}\u{c}\u{1b}[31m\u{1f}\u{7f}")]),
            ],
        ),
        // 10,000 rows (the service's maximum), each with a little of everything.
        item(
            "Custom:TenThousand",
            (0..10_000)
                .map(|i| {
                    row(&[
                        ("Index", &format!("{i:05}")),
                        ("Label", &format!("naïve \"{i}\"\t✓")),
                    ])
                })
                .collect(),
        ),
    ];
    for i in 0..40 {
        items.push(item(
            &format!("Custom:Filler{i:02}"),
            (0..(i * 7 + 1))
                .map(|r| row(&[("Row", &format!("{r}")), ("Text", "€uro ¥en £ound")]))
                .collect(),
        ));
    }
    items
}

/// The emulator's requests from index `from` on, keyed by their set of types.
fn received(emu: &Emulator, from: usize) -> Vec<PutRecord> {
    emu.recent_puts().into_iter().skip(from).collect()
}

fn types_of(record: &PutRecord) -> BTreeSet<String> {
    record.types.iter().cloned().collect()
}

/// Delivers `items` with `payload` and compares estimate and reality, request by request.
/// Returns the largest relative error seen.
async fn compare(emu: &Emulator, items: &[Item], payload: Payload, budget: Budget) -> f64 {
    let client = client(emu).await;
    let outgoing: Vec<Outgoing<'_>> = items
        .iter()
        .map(|item| Outgoing {
            item,
            payload,
            new_type: true,
        })
        .collect();
    let deliverer = Deliverer {
        client: &client,
        instance_id: INSTANCE,
        budget,
        retry: RetryPolicy {
            base: std::time::Duration::from_millis(1),
            cap: std::time::Duration::from_millis(10),
            max_attempts: Some(3),
        },
    };
    let from = emu.recent_puts().len();
    let before = emu.stats().request_body_bytes;
    let report = deliverer
        .deliver(&outgoing, &CancellationToken::new())
        .await;
    assert!(
        report
            .fates
            .iter()
            .all(|f| matches!(f, Some(Fate::Acknowledged { .. }))),
        "{:?}",
        report.fates
    );
    let records = received(emu, from);
    assert_eq!(records.len(), report.requests);

    // The batcher's own per-request figures.
    let sizes: Vec<batch::Sized<'_>> = items
        .iter()
        .map(|i| batch::Sized {
            bytes: wire::item_bytes(i, payload),
            key: i.type_name(),
        })
        .collect();
    let planned = batch::pack(&sizes, wire::request_overhead(INSTANCE), budget);
    assert_eq!(planned.len(), records.len());
    let mut worst: f64 = 0.0;
    for request in &planned {
        let types: BTreeSet<String> = request
            .items
            .iter()
            .map(|&i| items[i].type_name().to_owned())
            .collect();
        let record = records
            .iter()
            .find(|r| types_of(r) == types)
            .expect("the planned request was sent as planned");
        let error = (request.bytes as f64 - record.bytes as f64).abs() / record.bytes as f64;
        worst = worst.max(error);
        assert!(
            error <= 0.01,
            "estimate {} vs received {} for {types:?}",
            request.bytes,
            record.bytes
        );
    }
    // And the delivery's total.
    let sent = emu.stats().request_body_bytes - before;
    let total_error = (report.bytes as f64 - sent as f64).abs() / sent as f64;
    assert!(
        total_error <= 0.01,
        "estimate {} vs received {sent}",
        report.bytes
    );
    println!(
        "{payload:?}: {} requests, estimated {} bytes, received {sent} bytes, total error {:.4} %, worst request {:.4} %",
        report.requests,
        report.bytes,
        total_error * 100.0,
        worst * 100.0
    );
    worst.max(total_error)
}

#[tokio::test]
async fn the_size_estimate_matches_what_the_sdk_sent() {
    let emu = emulator::start(roomy()).await;
    let items = awkward();
    // A 256 KiB budget: several requests, and the 10,000-row item (over the budget) alone.
    let budget = Budget::new(256 * 1024);
    let ten_thousand = items
        .iter()
        .find(|i| i.type_name() == "Custom:TenThousand")
        .unwrap();
    assert!(wire::item_bytes(ten_thousand, Payload::Full) > budget.max_bytes);

    let full = compare(&emu, &items, Payload::Full, budget).await;
    // Hash-only refreshes of the same items (what the service now holds).
    let hash_only = compare(&emu, &items, Payload::HashOnly, budget).await;
    assert!(full <= 0.01 && hash_only <= 0.01);

    let big = emu
        .recent_puts()
        .into_iter()
        .find(|r| r.types == ["Custom:TenThousand"])
        .expect("sent alone");
    let estimate = wire::request_overhead(INSTANCE) + wire::item_bytes(ten_thousand, Payload::Full);
    println!(
        "10,000-row item: estimated {estimate} bytes, received {} bytes",
        big.bytes
    );
    assert_eq!(
        stored_rows(&emu, "Custom:TenThousand").map(|r| r.len()),
        Some(10_000)
    );
    assert_eq!(
        stored_rows(&emu, "Custom:Control").map(sorted),
        Some(sorted(
            items
                .iter()
                .find(|i| i.type_name() == "Custom:Control")
                .unwrap()
                .content()
                .to_vec()
        )),
        "control characters survive the round trip"
    );
}

#[tokio::test]
async fn dry_run_prints_bodies_the_size_of_what_once_sends() {
    let emu = emulator::start(roomy()).await;
    let mut node = Node::new(&emu);
    node.probe(
        "awkward",
        "Custom:Awkward",
        &serde_json::json!([
            {"Name": "Ünïcödé 日本語 🦀", "Says": "say \"hi\" \\ there"},
            {"Name": "ctl\u{1}\n\t", "Says": "👩‍👩‍👧‍👦"},
        ])
        .to_string(),
    );
    let many: Vec<String> = (0..10_000).map(|i| format!("ユーザー{i}")).collect();
    let many: Vec<&str> = many.iter().map(String::as_str).collect();
    node.probe("users", "Custom:Users", &rows_json("User", &many));

    let out = node.once(&["--dry-run"]).await;
    assert!(out.status.success(), "{}", describe(&out));
    let stdout = String::from_utf8(out.stdout).unwrap();
    let mut printed: Vec<u64> = stdout.lines().map(|l| l.len() as u64).collect();
    assert_eq!(emu.stats().requests, 0, "a dry run sends nothing");

    node.once_ok().await;
    let mut sent: Vec<u64> = emu.recent_puts().iter().map(|r| r.bytes).collect();
    printed.sort();
    sent.sort();
    assert_eq!(printed.len(), sent.len());
    for (p, s) in printed.iter().zip(&sent) {
        let error = (*p as f64 - *s as f64).abs() / *s as f64;
        assert!(error <= 0.01, "dry run {p} vs sent {s}");
    }
    println!("dry-run body sizes {printed:?}, sent {sent:?}");
}
