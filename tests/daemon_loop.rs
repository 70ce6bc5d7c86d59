//! The daemon's event loop (docs/ARCHITECTURE.md, "The daemon's event loop") in this process,
//! on tokio's paused clock, against the emulator (`common::daemon`): delivery, change
//! tracking, idleness, reloads, the configuration and folder watches, and content collected
//! again when the service lost it. Intervals, `min_push_interval`, refreshes and debounces
//! take virtual time: the tests wait for them without sleeping.
//!
//! The probes are `files` probes: an exec probe's child process runs on real time, which a
//! paused clock would leap over (see `common::daemon`). What only the process shows (signals,
//! exit codes, systemd notifications, `ssm-inventoryd reload`) is in `daemon_run.rs`.

mod common;

use std::time::Duration;

use common::daemon::Daemon;
use common::{Node, stage, wait_for};
use ssm_inventoryd::emulator::EmulatorConfig;

const INTERVAL: Duration = Duration::from_secs(1);
const MIN_PUSH_INTERVAL: Duration = Duration::from_secs(1);
/// Virtual time, as in `daemon_run.rs`: work outside the runtime (a watch's thread, the
/// loopback connection under load) takes real time, during which a paused clock moves on at
/// `wait_for`'s pace.
const SLACK: Duration = Duration::from_secs(10);
/// Virtual time for what waits on a folder watch, whose thread looks for new folders on real
/// time: long enough, at `wait_for`'s pace, for several real seconds.
const WATCH: Duration = Duration::from_secs(60);

/// A daemon node with `files` probes `(name, TypeName, Stage)` every [`INTERVAL`].
fn node_with(emu: &ssm_inventoryd::emulator::Emulator, probes: &[(&str, &str, &str)]) -> Node {
    let node = Node::daemon(emu);
    let mut toml = String::new();
    for (name, type_name, value) in probes {
        node.set_document(name, type_name, value);
        toml += &node.files_probe_toml(name, "1s");
    }
    node.write_config_with(&toml);
    node
}

#[tokio::test(start_paused = true)]
async fn items_arrive_changes_follow_and_an_idle_node_sends_nothing() {
    let emu = common::emulator::start(EmulatorConfig::default()).await;
    let node = node_with(
        &emu,
        &[
            ("stage", "Custom:Stage", "A"),
            ("owner", "Custom:Owner", "platform"),
        ],
    );
    let daemon = Daemon::start(emu, &node);
    let emu = &daemon.emu;

    wait_for(SLACK, "first items", || {
        stage(emu, "Custom:Stage").is_some() && stage(emu, "Custom:Owner").is_some()
    })
    .await;

    node.set_document("stage", "Custom:Stage", "B");
    let took = wait_for(INTERVAL + MIN_PUSH_INTERVAL + SLACK, "the change", || {
        stage(emu, "Custom:Stage").as_deref() == Some("B")
    })
    .await;
    eprintln!(
        "change arrived after {took:?} (interval {INTERVAL:?} + min_push_interval {MIN_PUSH_INTERVAL:?})"
    );

    // Let any push still in flight finish, then watch several intervals of nothing.
    tokio::time::sleep(MIN_PUSH_INTERVAL * 2).await;
    let before = emu.stats();
    tokio::time::sleep(INTERVAL * 5).await;
    let after = emu.stats();
    assert_eq!(
        after.put_inventory_requests, before.put_inventory_requests,
        "an idle node sends nothing"
    );
    assert_eq!(stage(emu, "Custom:Owner").as_deref(), Some("platform"));

    daemon.stop().await;
}

/// A reload (what SIGHUP asks for) adds a probe; an invalid configuration is refused and the
/// running one goes on.
#[tokio::test(start_paused = true)]
async fn a_reload_adds_a_probe_and_an_invalid_config_keeps_the_old_one() {
    let emu = common::emulator::start(EmulatorConfig::default()).await;
    let node = node_with(&emu, &[("stage", "Custom:Stage", "A")]);
    node.set_document("extra", "Custom:Extra", "X");
    let daemon = Daemon::start(emu, &node);
    let emu = &daemon.emu;
    wait_for(SLACK, "first item", || stage(emu, "Custom:Stage").is_some()).await;

    node.write_config_with(
        &(node.files_probe_toml("stage", "1s") + &node.files_probe_toml("extra", "1s")),
    );
    daemon.reload().await;
    wait_for(WATCH, "the added probe's item", || {
        stage(emu, "Custom:Extra").is_some()
    })
    .await;

    // An invalid configuration is refused; the running one goes on.
    std::fs::write(node.config_path(), "[agent]\nsplay = \"soon\"\n").unwrap();
    daemon.reload().await;
    wait_for(WATCH, "the refusal", || {
        daemon
            .log()
            .contains("reload refused, keeping the running configuration")
    })
    .await;
    node.set_document("extra", "Custom:Extra", "Y");
    wait_for(
        INTERVAL + MIN_PUSH_INTERVAL + SLACK,
        "a change under the old config",
        || stage(emu, "Custom:Extra").as_deref() == Some("Y"),
    )
    .await;

    let log = daemon.stop().await;
    assert!(log.contains("key `splay`"), "{log}");
}

#[tokio::test(start_paused = true)]
async fn a_new_drop_in_file_is_picked_up_without_a_signal() {
    let emu = common::emulator::start(EmulatorConfig::default()).await;
    let node = node_with(&emu, &[("stage", "Custom:Stage", "A")]);
    node.set_document("dropin", "Custom:DropIn", "D");
    let daemon = Daemon::start(emu, &node);
    let emu = &daemon.emu;
    wait_for(SLACK, "first item", || stage(emu, "Custom:Stage").is_some()).await;

    std::fs::write(
        node.probes_dir().join("dropin.toml"),
        node.files_probe_toml("dropin", "1s"),
    )
    .unwrap();
    wait_for(WATCH, "the drop-in's item", || {
        stage(emu, "Custom:DropIn").as_deref() == Some("D")
    })
    .await;

    let log = daemon.stop().await;
    assert!(!log.contains("SIGHUP"), "{log}");
    assert!(log.contains("configuration reloaded"), "{log}");
}

/// The last "configuration reloaded" line of `log`, if any.
fn last_reload(log: &str) -> Option<&str> {
    log.lines().rfind(|l| l.contains("configuration reloaded"))
}

/// The drop-in folder is watched even when it is created after start, and when a reload
/// moves `probes_dir` elsewhere, the new folder is the one watched.
#[tokio::test(start_paused = true)]
async fn drop_in_folders_created_later_or_moved_by_a_reload_are_watched() {
    let emu = common::emulator::start(EmulatorConfig::default()).await;
    let mut node = node_with(&emu, &[("stage", "Custom:Stage", "A")]);
    std::fs::remove_dir(node.probes_dir()).unwrap();
    node.set_document("early", "Custom:Early", "E");
    node.set_document("moved", "Custom:Moved", "M");
    let daemon = Daemon::start(emu, &node);
    let emu = &daemon.emu;
    wait_for(SLACK, "first item", || stage(emu, "Custom:Stage").is_some()).await;

    // Created after start, then a drop-in written into it.
    std::fs::create_dir(node.probes_dir()).unwrap();
    std::fs::write(
        node.probes_dir().join("early.toml"),
        node.files_probe_toml("early", "1s"),
    )
    .unwrap();
    wait_for(
        WATCH,
        "the drop-in in the folder created after start",
        || stage(emu, "Custom:Early").as_deref() == Some("E"),
    )
    .await;

    // A reload moves probes_dir; a drop-in in the new folder is then seen without a signal.
    let other = node.path("other.d");
    std::fs::create_dir(&other).unwrap();
    node.set("probes_dir", &format!("\"{}\"", other.display()));
    node.write_config_with(&node.files_probe_toml("stage", "1s"));
    wait_for(WATCH, "the reload that moves probes_dir", || {
        last_reload(&daemon.log()).is_some_and(|l| l.contains("probes=1"))
    })
    .await;
    std::fs::write(
        other.join("moved.toml"),
        node.files_probe_toml("moved", "1s"),
    )
    .unwrap();
    wait_for(WATCH, "the drop-in in the folder a reload moved to", || {
        stage(emu, "Custom:Moved").as_deref() == Some("M")
    })
    .await;

    let log = daemon.stop().await;
    assert!(!log.contains("SIGHUP"), "{log}");
}

#[tokio::test(start_paused = true)]
async fn a_file_renamed_into_a_watched_folder_is_pushed_within_seconds() {
    let emu = common::emulator::start(EmulatorConfig::default()).await;
    let node = Node::daemon(&emu);
    node.set_document("stage", "Custom:Stage", "A");
    let folder = node.folder("agent-files");
    std::fs::create_dir_all(&folder).unwrap();
    // An hour-long interval: only the folder watch can make this probe run again soon.
    node.write_config_with(
        &(node.files_probe_toml("stage", "1s") + &node.files_probe_toml("agent-files", "1h")),
    );
    let daemon = Daemon::start(emu, &node);
    let emu = &daemon.emu;
    wait_for(SLACK, "first item", || stage(emu, "Custom:Stage").is_some()).await;

    // Written elsewhere, then renamed in: how tools publish files atomically.
    let staging = node.path("rack.json.partial");
    std::fs::write(
        &staging,
        r#"{"SchemaVersion":"1.0","TypeName":"Custom:RackInfo","Content":{"Stage":"Bay B"}}"#,
    )
    .unwrap();
    std::fs::rename(&staging, folder.join("rack.json")).unwrap();
    // Virtual seconds; the watch's thread takes real time, which `wait_for` gives it.
    let took = wait_for(Duration::from_secs(5), "the renamed file's item", || {
        stage(emu, "Custom:RackInfo").as_deref() == Some("Bay B")
    })
    .await;
    eprintln!("file renamed into the folder was stored after {took:?}");

    daemon.stop().await;
}

/// Runs of probe `name` so far, from the metrics file.
fn probe_runs(node: &Node, name: &str) -> u64 {
    let text = std::fs::read_to_string(node.path("metrics.prom")).unwrap_or_default();
    let prefix = format!("ssm_inventoryd_probe_runs_total{{probe=\"{name}\"}} ");
    text.lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0)
}

/// A change to a watched file runs its probe at once, and twenty more writes while that
/// change's push is in flight make one follow-up run and one follow-up push, which carries
/// the last write: coalesced, not lost, and not one push per write. With `splay` and
/// `min_push_interval` at zero nothing else holds a push back.
#[tokio::test(start_paused = true)]
async fn a_burst_of_writes_during_a_push_makes_one_follow_up_run_and_push() {
    // Each answer takes this long (virtual time), so that the push is surely in flight while
    // the burst is written: at `wait_for`'s pace that is seconds of real time for the watch's
    // thread to report the writes.
    const LATENCY: Duration = Duration::from_secs(10);
    let emu = common::emulator::start(EmulatorConfig {
        latency: LATENCY,
        ..EmulatorConfig::default()
    })
    .await;
    let mut node = Node::daemon(&emu);
    node.set("min_push_interval", "\"0s\"").with_metrics_file();
    node.set_document("stage", "Custom:Stage", "A");
    // An hour-long interval: only the folder watch makes this probe run again.
    node.write_config_with(&node.files_probe_toml("stage", "1h"));
    let daemon = Daemon::start(emu, &node);
    let emu = &daemon.emu;
    wait_for(LATENCY + SLACK, "first item", || {
        stage(emu, "Custom:Stage").as_deref() == Some("A")
    })
    .await;
    let pushes = || emu.stats().put_inventory_requests;
    let before = pushes();

    // One change: its run starts at once and its push reaches the emulator, which holds it.
    node.set_document("stage", "Custom:Stage", "B");
    wait_for(SLACK, "the push of B", || pushes() > before).await;
    // Any run still going for B (the rename may come as more than one event) ends meanwhile.
    for _ in 0..10 {
        common::daemon::settle().await;
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let runs_before_burst = probe_runs(&node, "stage");
    assert_eq!(pushes(), before + 1);
    assert_eq!(
        stage(emu, "Custom:Stage").as_deref(),
        Some("A"),
        "B is in flight"
    );

    // The burst, while B's push is in flight.
    for i in 1..=20 {
        node.set_document("stage", "Custom:Stage", &format!("C{i}"));
    }
    wait_for(LATENCY * 3 + SLACK, "the last write of the burst", || {
        stage(emu, "Custom:Stage").as_deref() == Some("C20")
    })
    .await;
    // Anything else the burst might still cause would happen now.
    tokio::time::sleep(LATENCY * 3).await;
    common::daemon::settle().await;
    assert_eq!(stage(emu, "Custom:Stage").as_deref(), Some("C20"));
    assert_eq!(
        pushes(),
        before + 2,
        "B's push and one follow-up push: {:?}",
        emu.stats()
    );
    assert_eq!(
        probe_runs(&node, "stage") - runs_before_burst,
        1,
        "twenty writes during a push make one follow-up run"
    );

    daemon.stop().await;
}

/// Twenty writes in quick succession, no push in flight between them for long (the emulator
/// answers at once, and `min_push_interval` is zero): the first runs the probe at once, the
/// rest fold into one follow-up run a moment later, so the burst costs at most two runs and
/// two pushes, and the last write is what the service holds.
#[tokio::test(start_paused = true)]
async fn a_burst_of_writes_makes_at_most_two_runs_and_two_pushes() {
    let emu = common::emulator::start(EmulatorConfig::default()).await;
    let mut node = Node::daemon(&emu);
    node.set("min_push_interval", "\"0s\"").with_metrics_file();
    node.set_document("stage", "Custom:Stage", "A");
    node.write_config_with(&node.files_probe_toml("stage", "1h"));
    let daemon = Daemon::start(emu, &node);
    let emu = &daemon.emu;
    wait_for(SLACK, "first item", || {
        stage(emu, "Custom:Stage").as_deref() == Some("A")
    })
    .await;
    // Long after the first run, so the burst's first write is a lone change.
    tokio::time::sleep(Duration::from_secs(5)).await;
    let pushes = || emu.stats().put_inventory_requests;
    let (pushes_before, runs_before) = (pushes(), probe_runs(&node, "stage"));

    // Each write is followed by a moment of real time for the watch's thread and the daemon
    // (the paused clock stands still meanwhile): the first write's run and push happen
    // within the burst.
    for i in 1..=20 {
        node.set_document("stage", "Custom:Stage", &format!("C{i}"));
        common::daemon::settle().await;
    }
    wait_for(SLACK, "the last write of the burst", || {
        stage(emu, "Custom:Stage").as_deref() == Some("C20")
    })
    .await;
    tokio::time::sleep(Duration::from_secs(5)).await;
    common::daemon::settle().await;
    let (burst_pushes, burst_runs) = (
        pushes() - pushes_before,
        probe_runs(&node, "stage") - runs_before,
    );
    eprintln!("burst of 20 writes: {burst_runs} runs, {burst_pushes} pushes");
    assert!(
        (1..=2).contains(&burst_pushes),
        "{burst_pushes} pushes for the burst"
    );
    assert!(
        (1..=2).contains(&burst_runs),
        "{burst_runs} runs for the burst"
    );
    assert_eq!(stage(emu, "Custom:Stage").as_deref(), Some("C20"));

    daemon.stop().await;
}

#[tokio::test(start_paused = true)]
async fn content_let_go_after_acknowledgement_is_collected_again_when_the_service_loses_it() {
    let emu = common::emulator::start(EmulatorConfig::default()).await;
    let mut node = Node::daemon(&emu);
    node.set("refresh_interval", "\"2s\"");
    node.set_document("stage", "Custom:Stage", "A");
    // An hour-long interval: only the daemon's request for content makes the probe run again.
    node.write_config_with(&node.files_probe_toml("stage", "1h"));
    let daemon = Daemon::start(emu, &node);
    let emu = &daemon.emu;
    wait_for(SLACK, "first item", || stage(emu, "Custom:Stage").is_some()).await;

    // The service forgets everything; the next hash-only refresh is answered with a
    // mismatch, and the daemon no longer holds the content.
    emu.clear_store();
    wait_for(Duration::from_secs(10), "the item stored again", || {
        stage(emu, "Custom:Stage").as_deref() == Some("A")
    })
    .await;
    let stats = emu.stats();
    assert!(
        stats
            .errors
            .get("ItemContentMismatchException")
            .copied()
            .unwrap_or(0)
            >= 1,
        "{stats:?}"
    );

    let log = daemon.stop().await;
    // It came back through the probe, not from memory.
    assert!(log.contains("pending=1"), "{log}");
}

/// A node registered after the daemon started: while it has no identity nothing is sent, and
/// once the SSM Agent's registration appears it is picked up within the registration poll
/// (two seconds, whatever the identity lookup's backoff has grown to) and the items go out
/// under the new instance ID.
#[tokio::test(start_paused = true)]
async fn a_node_registered_after_start_pushes_once_its_registration_appears() {
    const HYBRID_ID: &str = "mi-0fedcba9876543210";
    let emu = common::emulator::start(EmulatorConfig::default()).await;
    let mut node = Node::daemon(&emu);
    node.instance_id = "auto".into();
    node.set_document("stage", "Custom:Stage", "A");
    node.write_config_with(&node.files_probe_toml("stage", "1s"));
    let sources = common::daemon::sources(&node);
    let registration = sources.registration_file.clone();
    let daemon = Daemon::start_with(emu, &node, sources);
    let emu = &daemon.emu;

    // Long enough for the identity lookup's backoff to pass the registration poll.
    tokio::time::sleep(Duration::from_secs(120)).await;
    assert_eq!(
        emu.stats().requests,
        0,
        "nothing is sent without an identity"
    );

    std::fs::create_dir_all(registration.parent().unwrap()).unwrap();
    std::fs::write(
        &registration,
        format!(r#"{{"ManagedInstanceID":"{HYBRID_ID}","Region":"us-east-1"}}"#),
    )
    .unwrap();
    let took = wait_for(SLACK, "the item under the registered ID", || {
        emu.stored(HYBRID_ID, "Custom:Stage").is_some()
    })
    .await;
    assert!(
        took < Duration::from_secs(2) + MIN_PUSH_INTERVAL,
        "took {took:?}"
    );

    let log = daemon.stop().await;
    assert!(log.contains(HYBRID_ID), "{log}");
}
