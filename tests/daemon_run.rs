//! `ssm-inventoryd run` as systemd would run it, against the emulator: delivery, change
//! tracking, idleness, reloads, graceful stop and systemd notifications.

mod common;

use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::time::Duration;

use common::{BIN, INSTANCE, Node, signal, stage, stop, wait_for};
use ssm_inventoryd::emulator::EmulatorConfig;
use tokio::io::AsyncReadExt;
use tokio::time::Instant;

const INTERVAL: Duration = Duration::from_secs(1);
const MIN_PUSH_INTERVAL: Duration = Duration::from_secs(1);
/// Room for process start-up and a loaded machine; not a speed target.
const SLACK: Duration = Duration::from_secs(10);

#[tokio::test]
async fn items_arrive_changes_follow_and_an_idle_node_sends_nothing() {
    let emu = common::emulator::start(EmulatorConfig::default()).await;
    let mut node = Node::daemon(&emu);
    node.set_output("stage", r#"{"Stage":"A"}"#);
    node.set_output("owner", r#"{"Stage":"platform"}"#);
    node.set_probes(&[("stage", "Custom:Stage"), ("owner", "Custom:Owner")]);
    let daemon = node.spawn(&[]);

    wait_for(SLACK, "first items", || {
        stage(&emu, "Custom:Stage").is_some() && stage(&emu, "Custom:Owner").is_some()
    })
    .await;

    node.set_output("stage", r#"{"Stage":"B"}"#);
    let took = wait_for(INTERVAL + MIN_PUSH_INTERVAL + SLACK, "the change", || {
        stage(&emu, "Custom:Stage").as_deref() == Some("B")
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
    assert_eq!(stage(&emu, "Custom:Owner").as_deref(), Some("platform"));

    let (code, stderr) = stop(daemon).await;
    assert_eq!(code, Some(0), "{stderr}");
}

#[tokio::test]
async fn sighup_adds_a_probe_and_an_invalid_config_keeps_the_old_one() {
    let emu = common::emulator::start(EmulatorConfig::default()).await;
    let mut node = Node::daemon(&emu);
    node.set_output("stage", r#"{"Stage":"A"}"#);
    node.set_output("extra", r#"{"Stage":"X"}"#);
    node.set_probes(&[("stage", "Custom:Stage")]);
    let daemon = node.spawn(&[]);
    wait_for(SLACK, "first item", || {
        stage(&emu, "Custom:Stage").is_some()
    })
    .await;

    node.set_probes(&[("stage", "Custom:Stage"), ("extra", "Custom:Extra")]);
    signal(&daemon, libc::SIGHUP);
    wait_for(SLACK, "the added probe's item", || {
        stage(&emu, "Custom:Extra").is_some()
    })
    .await;

    // An invalid configuration is refused; the running one goes on.
    std::fs::write(node.config_path(), "[agent]\nsplay = \"soon\"\n").unwrap();
    signal(&daemon, libc::SIGHUP);
    tokio::time::sleep(Duration::from_secs(1)).await;
    node.set_output("extra", r#"{"Stage":"Y"}"#);
    wait_for(
        INTERVAL + MIN_PUSH_INTERVAL + SLACK,
        "a change under the old config",
        || stage(&emu, "Custom:Extra").as_deref() == Some("Y"),
    )
    .await;

    let (code, stderr) = stop(daemon).await;
    assert_eq!(code, Some(0), "{stderr}");
    assert!(
        stderr.contains("SIGHUP: reloading the configuration"),
        "{stderr}"
    );
    assert!(
        stderr.contains("reload refused, keeping the running configuration"),
        "{stderr}"
    );
    assert!(stderr.contains("key `splay`"), "{stderr}");
}

#[tokio::test]
async fn a_new_drop_in_file_is_picked_up_without_a_signal() {
    let emu = common::emulator::start(EmulatorConfig::default()).await;
    let mut node = Node::daemon(&emu);
    node.set_output("stage", r#"{"Stage":"A"}"#);
    node.set_output("dropin", r#"{"Stage":"D"}"#);
    node.set_probes(&[("stage", "Custom:Stage")]);
    let daemon = node.spawn(&[]);
    wait_for(SLACK, "first item", || {
        stage(&emu, "Custom:Stage").is_some()
    })
    .await;

    std::fs::write(
        node.path("etc/probes.d/dropin.toml"),
        node.probe_toml("dropin", "Custom:DropIn"),
    )
    .unwrap();
    wait_for(SLACK, "the drop-in's item", || {
        stage(&emu, "Custom:DropIn").as_deref() == Some("D")
    })
    .await;

    let (code, stderr) = stop(daemon).await;
    assert_eq!(code, Some(0), "{stderr}");
    assert!(!stderr.contains("SIGHUP"), "{stderr}");
    assert!(stderr.contains("configuration reloaded"), "{stderr}");
}

/// The drop-in folder is watched even when it is created after start, and when a reload
/// moves `probes_dir` elsewhere, the new folder is the one watched.
#[tokio::test]
async fn drop_in_folders_created_later_or_moved_by_a_reload_are_watched() {
    let emu = common::emulator::start(EmulatorConfig::default()).await;
    let mut node = Node::daemon(&emu);
    std::fs::remove_dir(node.path("etc/probes.d")).unwrap();
    node.set_output("stage", r#"{"Stage":"A"}"#);
    node.set_output("early", r#"{"Stage":"E"}"#);
    node.set_output("moved", r#"{"Stage":"M"}"#);
    node.set_probes(&[("stage", "Custom:Stage")]);
    let daemon = node.spawn(&[]);
    wait_for(SLACK, "first item", || {
        stage(&emu, "Custom:Stage").is_some()
    })
    .await;

    // Created after start, then a drop-in written into it.
    std::fs::create_dir(node.path("etc/probes.d")).unwrap();
    std::fs::write(
        node.path("etc/probes.d/early.toml"),
        node.probe_toml("early", "Custom:Early"),
    )
    .unwrap();
    wait_for(
        SLACK,
        "the drop-in in the folder created after start",
        || stage(&emu, "Custom:Early").as_deref() == Some("E"),
    )
    .await;

    // A reload moves probes_dir; a drop-in in the new folder is then seen without a signal.
    std::fs::create_dir(node.path("other.d")).unwrap();
    node.set(
        "probes_dir",
        &format!("\"{}\"", node.path("other.d").display()),
    );
    node.set_probes(&[("stage", "Custom:Stage")]);
    tokio::time::sleep(Duration::from_secs(2)).await;
    std::fs::write(
        node.path("other.d/moved.toml"),
        node.probe_toml("moved", "Custom:Moved"),
    )
    .unwrap();
    wait_for(SLACK, "the drop-in in the folder a reload moved to", || {
        stage(&emu, "Custom:Moved").as_deref() == Some("M")
    })
    .await;

    let (code, stderr) = stop(daemon).await;
    assert_eq!(code, Some(0), "{stderr}");
    assert!(!stderr.contains("SIGHUP"), "{stderr}");
}

#[tokio::test]
async fn sigterm_during_a_slow_push_exits_zero_with_state_saved() {
    let latency = Duration::from_secs(3);
    let emu = common::emulator::start(EmulatorConfig {
        latency,
        ..EmulatorConfig::default()
    })
    .await;
    let mut node = Node::daemon(&emu);
    node.set_output("stage", r#"{"Stage":"A"}"#);
    node.set_probes(&[("stage", "Custom:Stage")]);
    let mut daemon = node.spawn(&[]);

    // The push starts as soon as the probe has run; stop the daemon while it is in flight.
    let mut stderr = daemon.stderr.take().unwrap();
    let log = tokio::spawn(async move {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text).await;
        text
    });
    wait_for(SLACK, "the request to reach the emulator", || {
        emu.stats().requests > 0 || emu.stats().faults.delayed > 0
    })
    .await;
    let sent = Instant::now();
    signal(&daemon, libc::SIGTERM);
    let status = tokio::time::timeout(Duration::from_secs(30), daemon.wait())
        .await
        .unwrap()
        .unwrap();
    let took = sent.elapsed();
    let stderr = log.await.unwrap();
    assert_eq!(status.code(), Some(0), "{stderr}");
    assert!(
        took < ssm_inventoryd::daemon::DEFAULT_SHUTDOWN_DEADLINE + SLACK,
        "{took:?}"
    );
    eprintln!("stopped {took:?} after SIGTERM with a {latency:?} push in flight");

    let state: ssm_inventoryd::state::State =
        serde_json::from_slice(&std::fs::read(node.path("state/state.json")).unwrap()).unwrap();
    let acked = state.instance(INSTANCE).expect("instance in state");
    assert!(acked.types.contains_key("Custom:Stage"), "{state:?}");
    assert_eq!(stage(&emu, "Custom:Stage").as_deref(), Some("A"));
    assert!(
        stderr.contains("waiting up to 10s for the push in flight"),
        "{stderr}"
    );
}

fn notifications(socket: &UnixDatagram, until: Instant, want: &[&str]) -> Vec<String> {
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    while Instant::now() < until {
        if let Ok(n) = socket.recv(&mut buf) {
            seen.push(String::from_utf8_lossy(&buf[..n]).into_owned());
        }
        if want.iter().all(|w| seen.iter().any(|m| m.contains(w))) {
            break;
        }
    }
    seen
}

#[tokio::test]
async fn systemd_sees_ready_status_and_watchdog() {
    let emu = common::emulator::start(EmulatorConfig::default()).await;
    let mut node = Node::daemon(&emu);
    node.set_output("stage", r#"{"Stage":"A"}"#);
    node.set_probes(&[("stage", "Custom:Stage")]);
    let socket_path: PathBuf = node.path("notify.sock");
    let socket = UnixDatagram::bind(&socket_path).unwrap();
    socket
        .set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    let daemon = node.spawn(&[
        ("NOTIFY_SOCKET", socket_path.to_str().unwrap()),
        ("WATCHDOG_USEC", "400000"),
    ]);

    let want = ["READY=1", "STATUS=", "WATCHDOG=1", "1 types acknowledged"];
    let seen = tokio::task::spawn_blocking(move || {
        notifications(&socket, Instant::now() + SLACK * 2, &want)
    })
    .await
    .unwrap();
    let (code, stderr) = stop(daemon).await;
    assert_eq!(code, Some(0), "{stderr}");
    for w in want {
        assert!(seen.iter().any(|m| m.contains(w)), "no {w} in {seen:?}");
    }
    // READY comes once the daemon is initialised, before anything was delivered; the
    // delivery shows in a later STATUS.
    let ready = seen.iter().position(|m| m.contains("READY=1")).unwrap();
    assert!(
        seen[ready].contains("STATUS=started; 1 probes scheduled"),
        "{seen:?}"
    );
    let delivered = seen
        .iter()
        .position(|m| m.contains("STATUS=1 types acknowledged, 0 pending, 0 quarantined"));
    assert!(delivered.is_some_and(|d| d > ready), "{seen:?}");
    assert!(Path::new(&node.path("state/state.json")).exists());
}

/// Nothing listens at the endpoint: the daemon is still ready at once (a start job that waits
/// for the network would fail the unit on a node whose SSM is unreachable at boot), and says
/// in STATUS that items are pending.
#[tokio::test]
async fn ready_does_not_wait_for_delivery() {
    let emu = common::emulator::start(EmulatorConfig::default()).await;
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let mut node = Node::daemon(&emu);
    node.endpoint = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    node.set_output("stage", r#"{"Stage":"A"}"#);
    node.set_probes(&[("stage", "Custom:Stage")]);
    let socket_path: PathBuf = node.path("notify.sock");
    let socket = UnixDatagram::bind(&socket_path).unwrap();
    socket
        .set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    let daemon = node.spawn(&[("NOTIFY_SOCKET", socket_path.to_str().unwrap())]);
    let want = ["READY=1", "1 pending"];
    let seen = tokio::task::spawn_blocking(move || {
        notifications(&socket, Instant::now() + SLACK * 2, &want)
    })
    .await
    .unwrap();
    let (code, stderr) = stop(daemon).await;
    assert_eq!(code, Some(0), "{stderr}");
    let ready = seen.iter().position(|m| m.contains("READY=1"));
    let pending = seen
        .iter()
        .position(|m| m.contains("0 types acknowledged, 1 pending"));
    assert!(ready.is_some() && pending > ready, "{seen:?}");
}

/// `ssm-inventoryd reload` (the unit's ExecReload) returns when the daemon has reloaded:
/// 0 with what was applied, or 1 with why the new configuration was refused.
#[tokio::test]
async fn reload_command_waits_for_the_daemons_answer() {
    let emu = common::emulator::start(EmulatorConfig::default()).await;
    let mut node = Node::daemon(&emu);
    node.set_output("stage", r#"{"Stage":"A"}"#);
    node.set_probes(&[("stage", "Custom:Stage")]);
    let run_dir = node.path("run");
    std::fs::create_dir_all(&run_dir).unwrap();
    let daemon = node.spawn(&[("RUNTIME_DIRECTORY", run_dir.to_str().unwrap())]);
    let pid = daemon.id().unwrap().to_string();
    wait_for(SLACK, "the first delivery", || {
        stage(&emu, "Custom:Stage").is_some()
    })
    .await;
    let reload = || {
        let mut cmd = std::process::Command::new(BIN);
        cmd.args(["reload", "--pid", &pid, "--runtime-dir"])
            .arg(&run_dir)
            .env_remove("MAINPID")
            .env_remove("RUNTIME_DIRECTORY");
        cmd.output().unwrap()
    };

    std::fs::write(
        node.path("etc/probes.d/more.toml"),
        node.probe_toml("more", "Custom:More"),
    )
    .unwrap();
    node.set_output("more", r#"{"Stage":"M"}"#);
    let out = reload();
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "configuration reloaded: 2 probes"
    );
    wait_for(SLACK, "the new probe's item", || {
        stage(&emu, "Custom:More").is_some()
    })
    .await;

    std::fs::write(
        node.path("etc/probes.d/broken.toml"),
        "[[probe]]\nname = 1\n",
    )
    .unwrap();
    let out = reload();
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("reload refused, ssm-inventoryd keeps the running configuration")
            && stderr.contains("broken.toml:2"),
        "{stderr}"
    );
    let (code, log) = stop(daemon).await;
    assert_eq!(code, Some(0), "{log}");
}

#[tokio::test]
async fn a_file_renamed_into_a_watched_folder_is_pushed_within_seconds() {
    let emu = common::emulator::start(EmulatorConfig::default()).await;
    let mut node = Node::daemon(&emu);
    let folder = node.path("custom.d");
    std::fs::create_dir_all(&folder).unwrap();
    node.set_output("stage", r#"{"Stage":"A"}"#);
    node.set_probes(&[("stage", "Custom:Stage")]);
    // An hour-long interval: only the folder watch can make this probe run again soon.
    let files_probe = format!(
        "\n[[probe]]\nname = \"agent-files\"\nkind = \"files\"\npath = \"{}\"\ninterval = \"1h\"\n",
        folder.display()
    );
    let mut text = std::fs::read_to_string(node.config_path()).unwrap();
    text += &files_probe;
    std::fs::write(node.config_path(), text).unwrap();
    let daemon = node.spawn(&[]);
    wait_for(SLACK, "first item", || {
        stage(&emu, "Custom:Stage").is_some()
    })
    .await;

    // Written elsewhere, then renamed in: how tools publish files atomically.
    let staging = node.path("rack.json.partial");
    std::fs::write(
        &staging,
        r#"{"SchemaVersion":"1.0","TypeName":"Custom:RackInfo","Content":{"Stage":"Bay B"}}"#,
    )
    .unwrap();
    std::fs::rename(&staging, folder.join("rack.json")).unwrap();
    let took = wait_for(Duration::from_secs(5), "the renamed file's item", || {
        stage(&emu, "Custom:RackInfo").as_deref() == Some("Bay B")
    })
    .await;
    eprintln!("file renamed into the folder was stored after {took:?}");

    let (code, stderr) = stop(daemon).await;
    assert_eq!(code, Some(0), "{stderr}");
}

#[tokio::test]
async fn content_let_go_after_acknowledgement_is_collected_again_when_the_service_loses_it() {
    let emu = common::emulator::start(EmulatorConfig::default()).await;
    let mut node = Node::daemon(&emu);
    node.set_output("stage", r#"{"Stage":"A"}"#);
    // An hour-long interval: only the daemon's request for content makes the probe run again.
    node.set("refresh_interval", "\"2s\"");
    node.write_config_with(&node.probe_toml_every("stage", "Custom:Stage", "3600s"));
    let daemon = node.spawn(&[]);
    wait_for(SLACK, "first item", || {
        stage(&emu, "Custom:Stage").is_some()
    })
    .await;

    // The service forgets everything; the next hash-only refresh is answered with a
    // mismatch, and the daemon no longer holds the content.
    emu.clear_store();
    wait_for(SLACK, "the item stored again", || {
        stage(&emu, "Custom:Stage").as_deref() == Some("A")
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

    let (code, stderr) = stop(daemon).await;
    assert_eq!(code, Some(0), "{stderr}");
    // It came back through the probe, not from memory.
    assert!(stderr.contains("pending=1"), "{stderr}");
}
