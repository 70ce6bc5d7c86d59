//! Crash loop: the real daemon (`ssm-inventoryd run`) is SIGKILLed 100 times at random moments
//! while its probes' output keeps changing (between runs and during them); after every kill
//! the state file, if there is one, parses; no state file is ever set aside as corrupt; and
//! after a final clean run (`once`) the emulator's store equals the latest probe outputs, item
//! by item, and the state file agrees with it.
//!
//! The emulator answers after a small latency so that kills land before, during and after
//! requests; with `max_request_bytes = 4096` a push takes two requests, so a kill can also land
//! between the two. The test prints how many kills found a request in flight.
//!
//! Defaults keep CI at about half a minute; the heavy run is
//! `CRASH_LOOP_KILLS=1000 cargo test --release --test crash_loop -- --nocapture`
//! (`CRASH_LOOP_SEED` replays one sequence of moments and contents).

mod common;

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use common::{INSTANCE, Node, describe, sorted};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use ssm_inventoryd::emulator::EmulatorConfig;
use ssm_inventoryd::inventory::{Item, RawItem, Row};
use ssm_inventoryd::state::State;

const PROBES: [(&str, &str); 3] = [
    ("stage", "Custom:StageInfo"),
    ("users", "Custom:Users"),
    ("kernel", "Custom:Kernel"),
];

fn env_u64(name: &str) -> Option<u64> {
    std::env::var(name).ok().and_then(|s| s.parse().ok())
}

/// Probe `probe`'s output for `version`: sizes vary so that the users item sometimes needs a
/// request of its own and sometimes is empty.
fn output(probe: &str, version: u64, rng: &mut StdRng) -> String {
    match probe {
        "stage" => format!(r#"{{"Stage":"v{version}","Owner":"team-{}"}}"#, version % 7),
        "users" => {
            let n = if rng.random_bool(0.1) {
                0
            } else {
                rng.random_range(1..200)
            };
            let rows: Vec<String> = (0..n)
                .map(|i| format!(r#"{{"User":"user{i:03}","Shell":"/bin/sh-{version}"}}"#))
                .collect();
            format!("[{}]", rows.join(","))
        }
        _ => format!(r#"{{"Release":"6.1.{version}","Machine":"x86_64"}}"#),
    }
}

/// The item probe output `json` must become (rows canonicalised), for comparing.
fn expected(type_name: &str, json: &str) -> Item {
    let value: serde_json::Value = serde_json::from_str(json).expect("test JSON");
    let rows = match value {
        serde_json::Value::Array(rows) => rows,
        one => vec![one],
    };
    let rows: Vec<Row> = rows
        .into_iter()
        .map(|r| {
            r.as_object()
                .expect("object rows")
                .iter()
                .map(|(k, v)| (k.clone(), v.as_str().expect("string values").to_owned()))
                .collect()
        })
        .collect();
    Item::new(RawItem {
        type_name: type_name.into(),
        schema_version: "1.0".into(),
        capture_time: common::CAPTURE_TIME.into(),
        rows,
        ..RawItem::default()
    })
    .expect("valid")
}

/// The node: three exec probes every 100 ms, quick pushes, two requests per push.
fn node(endpoint: &str) -> Node {
    let mut node = Node::daemon(endpoint);
    node.set("min_push_interval", "\"20ms\"")
        .set("retry_base", "\"10ms\"")
        .set("retry_cap", "\"100ms\"")
        .set("max_request_bytes", "4096");
    node.probe_interval = "100ms".into();
    node.probe_timeout = "100ms".into();
    node.set_probes(&PROBES);
    node
}

/// `ssm-inventoryd ARGS` on `node`, quiet.
fn command(node: &Node, args: &[&str]) -> tokio::process::Command {
    let mut cmd = node.command(args);
    cmd.env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    cmd
}

/// PutInventory requests the emulator has received but not answered yet.
fn unanswered(s: &ssm_inventoryd::emulator::Stats) -> u64 {
    s.put_inventory_requests
        .saturating_sub(s.put_inventory_accepted + s.errors.values().sum::<u64>())
}

/// The state file, when there is one, must parse: it is replaced atomically.
fn check_state(dir: &Path, kill: u64) {
    let path = dir.join("state.json");
    match std::fs::read(&path) {
        Ok(bytes) => {
            if let Err(e) = serde_json::from_slice::<State>(&bytes) {
                panic!(
                    "after kill {kill}: state.json does not parse ({e}): {}",
                    String::from_utf8_lossy(&bytes)
                );
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => panic!("after kill {kill}: cannot read state.json: {e}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hundred_sigkills_lose_nothing() {
    let kills = env_u64("CRASH_LOOP_KILLS").unwrap_or(100);
    let seed = env_u64("CRASH_LOOP_SEED").unwrap_or_else(rand::random);
    println!("crash loop: {kills} kills, seed {seed} (CRASH_LOOP_SEED={seed} replays it)");
    let mut rng = StdRng::seed_from_u64(seed);

    let emu = common::emulator::start(EmulatorConfig {
        latency: Duration::from_millis(15),
        ..EmulatorConfig::default()
    })
    .await;
    let node = node(&emu.endpoint_url());

    let mut version = 0u64;
    let mut latest: Vec<String> = PROBES
        .iter()
        .map(|(name, _)| {
            let json = output(name, version, &mut rng);
            node.set_output(name, &json);
            json
        })
        .collect();

    let mut in_flight_kills = 0u64;
    let mut before_any_request = 0u64;
    for kill in 1..=kills {
        // New content for some probes before the start.
        for (i, (name, _)) in PROBES.iter().enumerate() {
            if rng.random_bool(0.6) {
                version += 1;
                latest[i] = output(name, version, &mut rng);
                node.set_output(name, &latest[i]);
            }
        }
        let at_start = emu.stats();
        let mut child = command(&node, &["run"]).spawn().expect("spawn the daemon");
        let lifetime = Duration::from_millis(rng.random_range(30..300));
        // Sometimes the content changes while it runs, too.
        if rng.random_bool(0.5) {
            let at = lifetime.mul_f64(rng.random_range(0.0..1.0));
            tokio::time::sleep(at).await;
            let i = rng.random_range(0..PROBES.len());
            version += 1;
            latest[i] = output(PROBES[i].0, version, &mut rng);
            node.set_output(PROBES[i].0, &latest[i]);
            tokio::time::sleep(lifetime - at).await;
        } else {
            tokio::time::sleep(lifetime).await;
        }
        let before = emu.stats();
        child.start_kill().expect("SIGKILL");
        let status = tokio::time::timeout(Duration::from_secs(30), child.wait())
            .await
            .expect("a killed process is reaped")
            .expect("wait");
        assert!(
            !status.success(),
            "kill {kill}: the daemon exited by itself: {status:?}"
        );
        // A request the emulator was still holding back (its latency) when the process died.
        if unanswered(&before) > unanswered(&at_start) {
            in_flight_kills += 1;
        }
        if before.put_inventory_requests == at_start.put_inventory_requests {
            before_any_request += 1;
        }
        check_state(&node.state_dir(), kill);
    }

    let stats = emu.stats();
    println!(
        "crash loop: {kills} kills done; {} PutInventory requests reached the emulator, {} accepted; \
         {in_flight_kills} kills hit a request in flight, {before_any_request} came before the run's first request",
        stats.put_inventory_requests, stats.put_inventory_accepted
    );
    assert!(
        stats.put_inventory_accepted > 0,
        "no push ever completed between kills: the kills were too early to test anything"
    );

    // A final clean run.
    let out = tokio::time::timeout(
        Duration::from_secs(60),
        command(&node, &["once"]).stderr(Stdio::piped()).output(),
    )
    .await
    .expect("once finishes")
    .expect("run once");
    assert!(out.status.success(), "final run failed: {}", describe(&out));

    // Nothing was ever found torn and set aside.
    let aside: Vec<String> = std::fs::read_dir(node.state_dir())
        .expect("state dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("corrupt"))
        .collect();
    assert!(aside.is_empty(), "state files were set aside: {aside:?}");

    // The store is the latest probe output, and the state agrees.
    let text = std::fs::read_to_string(node.state_dir().join("state.json")).expect("state");
    let state: State = serde_json::from_str(&text).expect("state parses");
    let acked = &state.instance(INSTANCE).expect("state for the node").types;
    let mut lost = Vec::new();
    for ((_, type_name), json) in PROBES.iter().zip(&latest) {
        let want = expected(type_name, json);
        let stored = emu.stored(INSTANCE, type_name);
        let same = stored.as_ref().is_some_and(|s| {
            s.content_hash.as_deref() == Some(want.content_hash())
                && sorted(s.content.clone()) == sorted(want.content().to_vec())
        });
        if !same
            || acked.get(*type_name).map(|a| a.content_hash.as_str()) != Some(want.content_hash())
        {
            lost.push(format!(
                "{type_name}: stored {:?}, acknowledged {:?}, latest {}",
                stored.and_then(|s| s.content_hash),
                acked.get(*type_name).map(|a| &a.content_hash),
                want.content_hash()
            ));
        }
    }
    assert!(lost.is_empty(), "lost updates (seed {seed}): {lost:#?}");
    println!(
        "crash loop: the store equals the latest probe output for all {} types",
        PROBES.len()
    );
}
