//! `ssm-inventoryd run` as systemd would run it, against the emulator: what only the process
//! shows. SIGHUP, SIGTERM during a push, the exit code, systemd's notifications and the
//! `reload` command's handshake. (The event loop's behaviour, on a paused clock in this
//! process, is in `daemon_loop.rs`.)

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
