//! A state directory that refuses writes (full, read-only): the daemon goes on collecting and
//! pushing, holds the state in memory, says so once in the log, in STATUS, in `status` and in
//! the metrics file, never leaves a truncated file, and writes everything once it can.
//!
//! Both tests mount file systems (a 64 KiB tmpfs, a read-only bind mount), so they need root:
//! without it they print `SKIP` and pass, unless `SSM_INVENTORYD_REQUIRE_ROOT=1`, when they
//! fail. The mounts are undone by a guard whatever happens. Everything else is on loopback:
//! the in-process emulator on 127.0.0.1, explicit keys, region and instance ID.

mod common;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{INSTANCE, Node, Supervised, emulator, skip, wait_for};
use ssm_inventoryd::emulator::Emulator;

const TYPE: &str = "Custom:Stage";
/// Hang-catcher; never a timing target.
const PATIENCE: Duration = Duration::from_secs(60);

fn sh(program: &str, args: &[&str]) {
    let status = Command::new(program)
        .args(args)
        .status()
        .unwrap_or_else(|e| panic!("{program}: {e}"));
    assert!(status.success(), "{program} {args:?}: {status}");
}

/// Unmounts `path` when dropped, lazily if it is still busy.
struct Mounted(PathBuf);

impl Drop for Mounted {
    fn drop(&mut self) {
        let path = self.0.to_string_lossy().into_owned();
        let done = Command::new("umount").arg(&path).status();
        if !done.is_ok_and(|s| s.success()) {
            let _ = Command::new("umount").args(["-l", &path]).status();
        }
    }
}

/// A node with a metrics file and a runtime folder, pushing soon and retrying fast, its
/// probe run every 200 ms.
fn node(emu: &Emulator) -> Node {
    let mut node = Node::new(emu);
    std::fs::create_dir_all(node.path("run")).expect("runtime folder");
    node.set(
        "metrics_file",
        &format!("\"{}\"", node.path("metrics.prom").display()),
    )
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

/// `ssm-inventoryd ARGS` on `node`, with its runtime folder.
fn command(node: &Node, args: &[&str]) -> tokio::process::Command {
    let mut cmd = node.command(args);
    cmd.env("RUNTIME_DIRECTORY", node.path("run"));
    cmd
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

fn metric(node: &Node, name: &str) -> Option<u64> {
    let text = std::fs::read_to_string(node.path("metrics.prom")).ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{name} ")))
        .and_then(|v| v.trim().parse().ok())
}

/// What `ssm-inventoryd status` prints.
async fn status(node: &Node) -> String {
    let out = command(node, &["status"])
        .output()
        .await
        .expect("run status");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stored_hash(emu: &Emulator) -> Option<String> {
    emu.stored(INSTANCE, TYPE).and_then(|s| s.content_hash)
}

/// The course of both tests: a first acknowledgement on disk, `refuse` makes the state
/// folder refuse writes, a change is pushed anyway, `allow` lets writes through again.
/// `cause` is how the refusal reads.
async fn course(cause: &str, refuse: impl FnOnce(&Path), allow: impl FnOnce(&Path)) {
    let emu = emulator::start_default().await;
    let node = node(&emu);
    let state_dir = node.state_dir();
    let mut daemon = Supervised::start(command(&node, &["run"]).into_std(), &node.path("notify"));

    let what = "the first acknowledgement on disk";
    wait_for(PATIENCE, what, || {
        daemon.poll(what);
        acknowledged_hash(&node).is_some() && stored_hash(&emu).is_some()
    })
    .await;
    let first = acknowledged_hash(&node);

    refuse(&state_dir);
    node.set_output("stage", &stage("two"));
    let what = "the change pushed and the refusal told";
    wait_for(PATIENCE, what, || {
        let d = daemon.poll(what);
        stored_hash(&emu) != first
            && !d.log_with("cannot write state file").is_empty()
            && metric(&node, "ssm_inventoryd_state_persist_failing") == Some(1)
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
        metric(&node, "ssm_inventoryd_state_write_failures_total").is_some_and(|n| n >= 3)
    })
    .await;
    assert_eq!(daemon.log_with("cannot write state file").len(), 1);
    let status_now = status(&node).await;
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
            && metric(&node, "ssm_inventoryd_state_persist_failing") == Some(0)
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
    let status_now = status(&node).await;
    assert!(!status_now.contains("STATE NOT PERSISTED"), "{status_now}");
    println!(
        "after: {} failed writes; STATUS {}",
        metric(&node, "ssm_inventoryd_state_write_failures_total").unwrap_or(0),
        daemon.last_status()
    );
    drop(daemon);
    emu.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_state_folder_is_survived() {
    if !skip::as_root("needs root to mount file systems") {
        return;
    }
    let guard: Arc<Mutex<Option<Mounted>>> = Arc::default();
    let mounted = Arc::clone(&guard);
    let filler = Arc::new(Mutex::new(None::<PathBuf>));
    let (fill, unfill) = (Arc::clone(&filler), Arc::clone(&filler));
    course(
        "no storage space",
        move |dir| {
            // A 64 KiB tmpfs over the folder, the state copied in, then filled up.
            let saved = std::fs::read(dir.join("state.json")).expect("read state");
            sh(
                "mount",
                &[
                    "-t",
                    "tmpfs",
                    "-o",
                    "size=64k",
                    "tmpfs",
                    &dir.to_string_lossy(),
                ],
            );
            *mounted.lock().expect("guard") = Some(Mounted(dir.to_path_buf()));
            std::fs::write(dir.join("state.json"), saved).expect("state into the tmpfs");
            let path = dir.join("filler");
            let mut file = std::fs::File::create(&path).expect("filler");
            let chunk = [0u8; 1024];
            while file
                .write_all(&chunk)
                .and_then(|()| file.sync_all())
                .is_ok()
            {}
            *fill.lock().expect("filler") = Some(path);
        },
        move |_| {
            if let Some(path) = unfill.lock().expect("filler").take() {
                std::fs::remove_file(path).expect("remove the filler");
            }
        },
    )
    .await;
    drop(guard);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_only_state_folder_is_survived() {
    if !skip::as_root("needs root to mount file systems") {
        return;
    }
    let guard: Arc<Mutex<Option<Mounted>>> = Arc::default();
    let mounted = Arc::clone(&guard);
    course(
        "read-only",
        move |dir| {
            let dir = dir.to_string_lossy().into_owned();
            sh("mount", &["--bind", &dir, &dir]);
            *mounted.lock().expect("guard") = Some(Mounted(PathBuf::from(&dir)));
            sh("mount", &["-o", "remount,bind,ro", &dir]);
        },
        |dir| {
            let dir = dir.to_string_lossy().into_owned();
            sh("mount", &["-o", "remount,bind,rw", &dir]);
        },
    )
    .await;
    drop(guard);
}
