//! Outage: the endpoint goes away for a stretch (the emulator is stopped: connections are
//! refused), the probes' output changes during it, and the endpoint comes back on the same
//! port. The daemon (`ssm-inventoryd run`) must deliver the latest content after the recovery
//! within one backoff cap (`retry_cap`), and its memory must stay flat while it keeps
//! retrying.
//!
//! Only generous bounds are asserted (they catch hangs and leaks, not speed); the measured
//! figures are printed. `OUTAGE_SECS` lengthens the outage (default 8 s) for the documented
//! heavy run: `OUTAGE_SECS=300 cargo test --release --test outage -- --nocapture`.

mod common;

use std::net::SocketAddr;
use std::process::Stdio;
use std::time::Duration;

use common::{INSTANCE, Node, wait_for};
use ssm_inventoryd::emulator::{Emulator, EmulatorConfig};
use tokio::time::Instant;

/// The daemon's backoff cap in this test.
const RETRY_CAP: Duration = Duration::from_secs(2);
/// Room for process scheduling on a loaded machine on top of the cap: a hang-catcher.
const SLACK: Duration = Duration::from_secs(15);
/// Growth of the resident set over the outage beyond which memory is not "flat": far above
/// the noise of an allocator, far below what a leak per retry adds over hundreds of retries.
const MAX_GROWTH_KB: u64 = 4 * 1024;

fn outage_length() -> Duration {
    let secs = std::env::var("OUTAGE_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(8);
    Duration::from_secs(secs)
}

/// The node: two exec probes every 200 ms, a backoff capped at [`RETRY_CAP`].
fn node(endpoint: &str) -> Node {
    let mut node = Node::daemon(endpoint);
    node.set("min_push_interval", "\"100ms\"")
        .set("retry_base", "\"100ms\"")
        .set("retry_cap", &format!("\"{}ms\"", RETRY_CAP.as_millis()));
    node.probe_interval = "200ms".into();
    node.probe_timeout = "200ms".into();
    node
}

fn users(version: usize) -> String {
    let rows: Vec<String> = (0..300)
        .map(|i| format!(r#"{{"User":"user{i:03}","Home":"/home/v{version}/user{i:03}"}}"#))
        .collect();
    format!("[{}]", rows.join(","))
}

fn stage_of(emu: &Emulator) -> Option<String> {
    emu.stored(INSTANCE, "Custom:StageInfo")
        .and_then(|s| s.content.first().and_then(|r| r.get("Stage").cloned()))
}

fn users_version_of(emu: &Emulator) -> Option<String> {
    emu.stored(INSTANCE, "Custom:Users").and_then(|s| {
        s.content.first().and_then(|r| {
            r.get("Home")
                .map(|h| h.split('/').nth(2).unwrap_or("").to_owned())
        })
    })
}

/// VmRSS of `pid` in kB.
fn rss_kb(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

fn median(mut v: Vec<u64>) -> u64 {
    v.sort_unstable();
    v[v.len() / 2]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delivers_within_one_backoff_cap_after_an_outage_with_flat_memory() {
    let outage = outage_length();
    let emu = common::emulator::start(EmulatorConfig::default()).await;
    let addr: SocketAddr = emu.local_addr();
    let mut node = node(&emu.endpoint_url());
    node.set_output("stage", r#"{"Stage":"before"}"#);
    node.set_output("users", &users(0));
    node.set_probes(&[("stage", "Custom:StageInfo"), ("users", "Custom:Users")]);

    let mut cmd = node.command(&["run"]);
    cmd.env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let mut daemon = cmd.spawn().expect("start the daemon");
    let pid = daemon.id().expect("running");

    wait_for(SLACK, "the first delivery", || {
        stage_of(&emu).as_deref() == Some("before")
    })
    .await;

    // The outage: nothing listens on the port any more.
    emu.shutdown().await;
    let outage_start = Instant::now();
    node.set_output("stage", r#"{"Stage":"during"}"#);
    node.set_output("users", &users(1));

    // Memory while the daemon keeps failing: skip the first second (the first failures
    // allocate what retrying needs), then sample.
    let mut samples: Vec<u64> = Vec::new();
    let mut changed_again = false;
    while outage_start.elapsed() < outage {
        if !changed_again && outage_start.elapsed() >= outage / 2 {
            // A newer change during the outage: only the latest content should arrive.
            node.set_output("stage", r#"{"Stage":"after"}"#);
            node.set_output("users", &users(2));
            changed_again = true;
        }
        if outage_start.elapsed() >= Duration::from_secs(1) {
            samples.push(rss_kb(pid).expect("the daemon is alive during the outage"));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        daemon.try_wait().expect("status").is_none(),
        "the daemon exited during the outage"
    );

    // Back, on the same port, with an empty store.
    let emu = common::emulator::start(EmulatorConfig {
        listen: addr,
        ..EmulatorConfig::default()
    })
    .await;
    let delay = wait_for(RETRY_CAP + SLACK, "delivery after the recovery", || {
        stage_of(&emu).as_deref() == Some("after")
            && users_version_of(&emu).as_deref() == Some("v2")
    })
    .await;
    let stats = emu.stats();

    let n = samples.len();
    let head = median(samples[..n.min(10)].to_vec());
    let tail = median(samples[n.saturating_sub(10)..].to_vec());
    let max = *samples.iter().max().expect("samples");
    let min = *samples.iter().min().expect("samples");
    println!(
        "outage {:.1}s: VmRSS over {n} samples min {min} kB, max {max} kB, median of the first 10 {head} kB, \
         of the last 10 {tail} kB (growth {} kB)",
        outage.as_secs_f64(),
        tail as i64 - head as i64
    );
    println!(
        "recovery: latest content delivered {:.2}s after the endpoint came back (retry_cap {}s); \
         {} PutInventory requests, {} accepted after it",
        delay.as_secs_f64(),
        RETRY_CAP.as_secs(),
        stats.put_inventory_requests,
        stats.put_inventory_accepted
    );
    println!(
        "RESULT outage_secs={:.1} recovery_secs={:.3} retry_cap_secs={} rss_first_kb={head} rss_last_kb={tail} rss_max_kb={max}",
        outage.as_secs_f64(),
        delay.as_secs_f64(),
        RETRY_CAP.as_secs()
    );
    assert!(
        tail <= head + MAX_GROWTH_KB && max <= min + 2 * MAX_GROWTH_KB,
        "memory grew during the outage: {samples:?}"
    );
    daemon.start_kill().expect("stop the daemon");
    let _ = daemon.wait().await;
}
