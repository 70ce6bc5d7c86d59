//! A fleet of real daemons against one Parameter Store read budget: 30 processes of the built
//! binary, each with its own configuration, state directory and instance ID, polling every
//! second against an emulator whose Parameter Store allows 2 reads a second
//! (`parameter_tps`). Once they have settled, their calls (throttled ones included) stay
//! within the limit, and a new version put with PutParameter reaches all 30 by polling.
//!
//! The splay (added to every poll) is 50 s: with a 1 s interval that is a demand of about
//! 30 / 26 s = 1.15 calls a second on average, under the limit, but the calls arrive at
//! random and the bucket holds only 2, so bursts are throttled and the backoff has to keep
//! the fleet under it. (With a 30 s splay, 1.9 calls a second, a 20 s window is over the
//! limit about half the time: the fleet then settles around the limit, not under it.)
//!
//! Hermetic like every binary-level test: explicit demo credentials, region and instance IDs,
//! instance metadata off, the emulator on loopback. About two minutes of wall time: a fleet
//! sharing 2 reads a second needs at least 15 s to read anything once, and the last of 30 nodes
//! to poll after a change does so about a splay later.

mod common;

use std::process::Stdio;
use std::time::{Duration, Instant};

use common::fleet::PARAM;
use common::{Node, emulator};
use ssm_inventoryd::emulator::{EmulatorConfig, ParameterReadStats};

const NODES: usize = 30;
const LIMIT_TPS: f64 = 2.0;
/// After the start, before the window: every node has had time for its first poll or two.
const SETTLE: Duration = Duration::from_secs(15);
const WINDOW: Duration = Duration::from_secs(30);
/// Room for the last node's poll after a change; not a speed target.
const ROLLOUT_LIMIT: Duration = Duration::from_secs(300);

/// Fleet node `n`: its own instance ID, a 50 s splay on a 1 s poll, warnings only.
fn node(n: usize, emu: &ssm_inventoryd::emulator::Emulator) -> Node {
    let mut node = Node::new(emu);
    node.instance_id = format!("i-{:017x}", 0xf1ee7000 + n);
    node.set("splay", "\"50s\"")
        .set("fleet_config", &format!("[\"{PARAM}\"]"))
        .set("fleet_poll_interval", "\"1s\"")
        .set("log_level", "\"warn\"");
    node.write_config();
    node
}

/// `run`, its output discarded: the configured log level holds, not the tests' `RUST_LOG`.
fn spawn(node: &Node) -> tokio::process::Child {
    node.command(&["run"])
        .env_remove("RUST_LOG")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start a daemon")
}

fn reads(r: &ParameterReadStats) -> u64 {
    r.get_parameter + r.get_parameters
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thirty_daemons_stay_within_the_parameter_store_limit_and_all_get_a_new_version() {
    let config = EmulatorConfig {
        parameter_tps: Some(LIMIT_TPS),
        ..Default::default()
    };
    let emu = emulator::start(config).await;
    emu.put_parameter(PARAM, "String", "# version 1: no probes\n");
    let nodes: Vec<Node> = (0..NODES).map(|n| node(n, &emu)).collect();
    let start = Instant::now();
    let daemons: Vec<_> = nodes.iter().map(spawn).collect();

    tokio::time::sleep(SETTLE).await;
    let before = emu.stats().parameter_reads;
    tokio::time::sleep(WINDOW).await;
    let after = emu.stats().parameter_reads;
    let calls = reads(&after) - reads(&before);
    let throttled = after.throttled - before.throttled;
    let rate = calls as f64 / WINDOW.as_secs_f64();
    eprintln!(
        "fleet_quota: {NODES} daemons, window {}s after {}s: {calls} GetParameters calls \
         ({rate:.2}/s, limit {LIMIT_TPS}/s), {throttled} throttled; since the start {} calls, \
         {} throttled",
        WINDOW.as_secs(),
        SETTLE.as_secs(),
        reads(&after),
        after.throttled
    );
    assert_eq!(after.get_parameter, 0, "the daemons only use GetParameters");
    assert!(
        rate <= LIMIT_TPS,
        "{calls} calls in {WINDOW:?} ({rate:.2}/s) exceed {LIMIT_TPS}/s ({throttled} throttled)"
    );

    // A new version reaches every node by polling alone.
    assert_eq!(emu.put_parameter(PARAM, "String", "# version 2\n"), 2);
    let put_at = Instant::now();
    let mut last_seen = vec![None; NODES];
    while last_seen.iter().any(Option::is_none) {
        for (n, node) in nodes.iter().enumerate() {
            if last_seen[n].is_none() && node.stored_version() == Some(2) {
                last_seen[n] = Some(put_at.elapsed());
            }
        }
        let missing = last_seen.iter().filter(|s| s.is_none()).count();
        assert!(
            put_at.elapsed() < ROLLOUT_LIMIT,
            "{missing} of {NODES} nodes without version 2 after {ROLLOUT_LIMIT:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let mut times: Vec<f64> = last_seen
        .iter()
        .flatten()
        .map(Duration::as_secs_f64)
        .collect();
    times.sort_by(f64::total_cmp);
    let end = emu.stats().parameter_reads;
    eprintln!(
        "fleet_quota: version 2 on all {NODES} nodes {:.1}s after the put (median {:.1}s); \
         {} calls, {} throttled in all; wall time {:.0}s",
        times[NODES - 1],
        times[NODES / 2],
        reads(&end),
        end.throttled,
        start.elapsed().as_secs_f64()
    );

    for daemon in &daemons {
        common::signal(daemon, libc::SIGTERM);
    }
    for mut daemon in daemons {
        let status = tokio::time::timeout(Duration::from_secs(30), daemon.wait())
            .await
            .expect("a daemon stops")
            .unwrap();
        assert_eq!(status.code(), Some(0));
    }
}
