//! Crash safety: the real binary is SIGKILLed before, during and after its PutInventory
//! requests (the emulator's `latency` holds each answer back long enough to aim), the probes'
//! output changes between attempts, and after the final completed run the emulator's store
//! equals the latest probe output and the state file parses and agrees with it. A corrupt
//! state file is set aside and a full resend follows.

mod common;

use std::time::Duration;

use common::*;
use ssm_inventoryd::emulator::{Emulator, EmulatorConfig, Stats};
use ssm_inventoryd::inventory::{Item, RawItem};
use tokio::process::Child;

#[derive(Debug, Clone, Copy)]
enum KillAt {
    /// Right after the process started: probes running, nothing sent.
    Start,
    /// A request has reached the emulator, whose answer is still held back.
    RequestInFlight,
    /// The emulator has stored a request and is answering: the process may or may not have
    /// read the answer, and has not recorded it yet.
    AfterAccepted,
    /// The second request is in flight, the first one was answered.
    SecondRequest,
}

/// Three probes whose output depends on `round`; one of them large enough that, with a small
/// `max_request_bytes`, a push takes several requests.
fn outputs(round: usize) -> Vec<(&'static str, &'static str, String)> {
    let users: Vec<String> = (0..180).map(|i| format!("user{i:03}-r{round}")).collect();
    let users: Vec<&str> = users.iter().map(String::as_str).collect();
    vec![
        (
            "stage",
            "Custom:StageInfo",
            format!(r#"{{"Stage":"round-{round}"}}"#),
        ),
        ("users", "Custom:Users", rows_json("User", &users)),
        (
            "kernel",
            "Custom:Kernel",
            format!(r#"{{"Release":"6.1.{round}"}}"#),
        ),
    ]
}

/// What probe output `json` becomes as an item (rows canonicalised), for comparing.
fn expected(type_name: &str, json: &str) -> Item {
    let value: serde_json::Value = serde_json::from_str(json).unwrap();
    let rows = match value {
        serde_json::Value::Array(rows) => rows,
        one => vec![one],
    };
    Item::new(RawItem {
        type_name: type_name.into(),
        schema_version: "1.0".into(),
        capture_time: CAPTURE_TIME.into(),
        rows: rows
            .into_iter()
            .map(|r| {
                r.as_object()
                    .unwrap()
                    .iter()
                    .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_owned()))
                    .collect()
            })
            .collect(),
        ..RawItem::default()
    })
    .unwrap()
}

async fn run_until(emu: &Emulator, child: &mut Child, done: impl Fn(&Stats) -> bool) -> bool {
    // Generous: the point is reached within a second on an idle machine, but others may be
    // compiling on this one.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while tokio::time::Instant::now() < deadline {
        if done(&emu.stats()) {
            return true;
        }
        if let Ok(Some(_)) = child.try_wait() {
            return false; // finished before the point was reached
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    panic!("the kill point was never reached");
}

#[tokio::test]
async fn killed_anywhere_in_a_push_the_next_completed_run_converges() {
    let emu = emulator::start(EmulatorConfig {
        latency: Duration::from_millis(250),
        ..EmulatorConfig::default()
    })
    .await;
    let mut node = Node::new(&emu);
    // About 4 KB of users: with a 4 KiB budget the three items need two requests.
    node.agent_extra = "max_request_bytes = 4096".into();
    for (name, type_name, json) in outputs(0) {
        node.probe(name, type_name, &json);
    }

    let points = [
        KillAt::Start,
        KillAt::RequestInFlight,
        KillAt::AfterAccepted,
        KillAt::SecondRequest,
        KillAt::RequestInFlight,
        KillAt::AfterAccepted,
        KillAt::Start,
    ];
    let mut latest = outputs(0);
    for (round, point) in points.iter().enumerate() {
        // New content every round, so a stale resend would show.
        latest = outputs(round + 1);
        for (name, _, json) in &latest {
            node.set_output(name, json);
        }
        let base = emu.stats();
        let mut child = node.command(&["once"]).spawn().expect("spawn");
        let reached = match point {
            KillAt::Start => true,
            KillAt::RequestInFlight => {
                run_until(&emu, &mut child, |s| {
                    s.put_inventory_requests > base.put_inventory_requests
                })
                .await
            }
            KillAt::AfterAccepted => {
                run_until(&emu, &mut child, |s| {
                    s.put_inventory_accepted > base.put_inventory_accepted
                })
                .await
            }
            KillAt::SecondRequest => {
                run_until(&emu, &mut child, |s| {
                    s.put_inventory_requests >= base.put_inventory_requests + 2
                })
                .await
            }
        };
        child.start_kill().expect("SIGKILL");
        let status = child.wait().await.expect("reap");
        println!(
            "round {round}: killed at {point:?} (reached: {reached}, status {status:?}, {} requests so far)",
            emu.stats().put_inventory_requests
        );
        // Whatever was interrupted, the state file is old or new, never torn.
        if node.state_path().exists() {
            node.state();
        }
    }

    // One run that completes.
    let out = node.once_ok().await;
    print!("final run: {out}");
    let state = node.state();
    let acked = &state.instance(INSTANCE).expect("state for the node").types;
    for (_, type_name, json) in &latest {
        let want = expected(type_name, json);
        let stored = emu.stored(INSTANCE, type_name).expect("stored");
        assert_eq!(
            sorted(stored.content.clone()),
            sorted(want.content().to_vec()),
            "{type_name}"
        );
        assert_eq!(stored.content_hash.as_deref(), Some(want.content_hash()));
        assert_eq!(
            acked[*type_name].content_hash,
            want.content_hash(),
            "{type_name}"
        );
    }
    // And the state is trusted again: nothing more to send.
    let before = emu.stats().put_inventory_requests;
    node.once_ok().await;
    assert_eq!(emu.stats().put_inventory_requests, before);
}

#[tokio::test]
async fn a_corrupt_state_file_is_set_aside_and_everything_resent() {
    let emu = emulator::start(EmulatorConfig::default()).await;
    let mut node = Node::new(&emu);
    for (name, type_name, json) in outputs(0) {
        node.probe(name, type_name, &json);
    }
    node.once_ok().await;

    for (n, garbage) in [
        &b"{\"version\":1,\"instances\":{"[..],
        b"",
        b"{\"version\":99,\"instances\":{}}",
        b"\x00\xff not json",
    ]
    .into_iter()
    .enumerate()
    {
        std::fs::write(node.state_path(), garbage).unwrap();
        let before = emu.stats();
        let from = emu.recent_puts().len();
        let out = node.once(&[]).await;
        assert!(out.status.success(), "{}", describe(&out));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains("could not be used") && stderr.contains("will resend everything"),
            "{stderr}"
        );

        // Set aside, not deleted, and not overwriting an earlier one.
        let aside: Vec<_> = std::fs::read_dir(node.state_dir())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|name| name.starts_with("state.json.corrupt-"))
            .collect();
        assert_eq!(aside.len(), n + 1, "{aside:?}");

        // Everything went again, in full.
        let after = emu.stats();
        assert_eq!(after.items - before.items, 3);
        assert_eq!(after.items_hash_only, before.items_hash_only);
        let mut sent: Vec<String> = emu.recent_puts()[from..]
            .iter()
            .flat_map(|r| r.types.clone())
            .collect();
        sent.sort();
        assert_eq!(sent, ["Custom:Kernel", "Custom:StageInfo", "Custom:Users"]);

        // A new, valid state file with all three.
        assert_eq!(node.state().instance(INSTANCE).unwrap().types.len(), 3);
    }
    println!("4 kinds of corrupt state set aside, each followed by a full resend of 3 items");
}
