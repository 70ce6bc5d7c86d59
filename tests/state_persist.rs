//! A state directory that refuses writes (full, read-only): the daemon goes on collecting and
//! pushing, holds the state in memory, says so once in the log, in STATUS, in `status` and in
//! the metrics file, never leaves a truncated file, and writes everything once it can.
//!
//! Both tests mount file systems (a 64 KiB tmpfs, a read-only bind mount), so they need root:
//! without it they print `SKIP` and pass, unless `SSM_INVENTORYD_REQUIRE_ROOT=1`, when they
//! fail. The mounts are undone by a guard whatever happens, before the node's folder is
//! removed. Everything else is on loopback:
//! the in-process emulator on 127.0.0.1, explicit keys, region and instance ID.

mod common;

use std::path::Path;
use std::time::Duration;

use common::mount::{self, Mounted};
use common::{INSTANCE, Node, Supervised, emulator, skip, wait_for};
use ssm_inventoryd::emulator::Emulator;

const TYPE: &str = "Custom:Stage";
/// Hang-catcher; never a timing target.
const PATIENCE: Duration = Duration::from_secs(60);

/// A node with a metrics file and a runtime folder, pushing soon and retrying fast, its
/// probe run every 200 ms.
fn node(emu: &Emulator) -> Node {
    let mut node = Node::new(emu);
    node.with_metrics_file()
        .set("splay", "\"0s\"")
        .set("min_push_interval", "\"100ms\"")
        .set("retry_base", "\"100ms\"")
        .set("retry_cap", "\"400ms\"");
    // The timeout a probe gets by default: its interval.
    node.probe_interval = "200ms".into();
    node.probe_timeout = "200ms".into();
    node.probe("stage", TYPE, &stage("one"));
    node
}

/// What the probe prints: one row `{"Stage": stage}`.
fn stage(stage: &str) -> String {
    format!(r#"[{{"Stage":"{stage}"}}]"#)
}

/// The hash state.json holds for the type, if the file is there; a file that does not
/// parse fails the test (it must never be truncated or corrupt).
fn acknowledged_hash(node: &Node) -> Option<String> {
    let bytes = std::fs::read(node.state_path()).ok()?;
    let state: serde_json::Value =
        serde_json::from_slice(&bytes).expect("state.json is always whole JSON");
    state["instances"][INSTANCE]["types"][TYPE]["content_hash"]
        .as_str()
        .map(str::to_owned)
}

fn stored_hash(emu: &Emulator) -> Option<String> {
    emu.stored(INSTANCE, TYPE).and_then(|s| s.content_hash)
}

/// The course of both tests: a first acknowledgement on disk, `refuse` makes the state
/// folder refuse writes, a change is pushed anyway, `allow` lets writes through again.
/// `cause` is how the refusal reads. The mount `refuse` returns is undone before the node's
/// temporary folder is removed, which a mount still in place would keep.
async fn course(cause: &str, refuse: impl FnOnce(&Path) -> Mounted, allow: impl FnOnce(&Path)) {
    let emu = emulator::start_default().await;
    let node = node(&emu);
    let state_dir = node.state_dir();
    let mut daemon = Supervised::start(
        node.command_with_runtime(&["run"]).into_std(),
        &node.path("notify"),
    );

    let what = "the first acknowledgement on disk";
    wait_for(PATIENCE, what, || {
        daemon.poll(what);
        acknowledged_hash(&node).is_some() && stored_hash(&emu).is_some()
    })
    .await;
    let first = acknowledged_hash(&node);

    let mounted = refuse(&state_dir);
    node.set_output("stage", &stage("two"));
    let what = "the change pushed and the refusal told";
    wait_for(PATIENCE, what, || {
        let d = daemon.poll(what);
        stored_hash(&emu) != first
            && !d.log_with("cannot write state file").is_empty()
            && node.metric("ssm_inventoryd_state_persist_failing") == Some(1)
            && d.last_status().contains("state kept in memory only")
    })
    .await;
    let pushed = stored_hash(&emu);
    println!("STATUS while refused: {}", daemon.last_status());
    assert!(
        daemon.last_status().contains(cause),
        "{}",
        daemon.last_status()
    );
    // More attempts fail, with backoff, and are counted, but told once.
    let what = "a few failed writes";
    wait_for(PATIENCE, what, || {
        daemon.poll(what);
        node.metric("ssm_inventoryd_state_write_failures_total")
            .is_some_and(|n| n >= 3)
    })
    .await;
    assert_eq!(daemon.log_with("cannot write state file").len(), 1);
    let status_now = node.status_text().await;
    println!("status while refused:\n{status_now}");
    assert!(status_now.contains("STATE NOT PERSISTED"), "{status_now}");
    assert!(status_now.contains(cause), "{status_now}");
    // The file on disk is the old one, whole; no temporary file is left behind.
    assert_eq!(acknowledged_hash(&node), first);
    assert!(!state_dir.join(".state.json.tmp").exists());

    allow(&state_dir);
    let what = "the state written again";
    wait_for(PATIENCE, what, || {
        daemon
            .poll(what)
            .log_with("the state is persisted again")
            .len()
            == 1
            && node.metric("ssm_inventoryd_state_persist_failing") == Some(0)
    })
    .await;
    assert_eq!(acknowledged_hash(&node), pushed, "what was held in memory");
    let what = "STATUS clear";
    wait_for(PATIENCE, what, || {
        !daemon
            .poll(what)
            .last_status()
            .contains("state kept in memory")
    })
    .await;
    let status_now = node.status_text().await;
    assert!(!status_now.contains("STATE NOT PERSISTED"), "{status_now}");
    println!(
        "after: {} failed writes; STATUS {}",
        node.metric("ssm_inventoryd_state_write_failures_total")
            .unwrap_or(0),
        daemon.last_status()
    );
    drop(daemon);
    drop(mounted);
    emu.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_state_folder_is_survived() {
    if !skip::as_root("needs root to mount file systems") {
        return;
    }
    course(
        "no storage space",
        |dir| {
            // A 64 KiB tmpfs over the folder, the state copied in, then filled up.
            let saved = std::fs::read(dir.join("state.json")).expect("read state");
            let mounted = mount::tmpfs(dir, "64k");
            std::fs::write(dir.join("state.json"), saved).expect("state into the tmpfs");
            mount::fill(dir);
            mounted
        },
        |dir| std::fs::remove_file(dir.join("filler")).expect("remove the filler"),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_only_state_folder_is_survived() {
    if !skip::as_root("needs root to mount file systems") {
        return;
    }
    course("read-only", mount::read_only, mount::writable).await;
}
