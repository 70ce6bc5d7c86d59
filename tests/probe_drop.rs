//! The end of a probe run never blocks the runtime: a run dropped half-way (its probe's
//! timeout, a reload, shutdown) is stopped and reaped off the runtime's threads, so the other
//! probes' schedules keep theirs.
//!
//! A blocking detector: on a current-thread runtime (one thread for every task), a ticker
//! notes each 10 ms tick while an exec probe that ignores SIGTERM, with a process in the
//! background, is dropped. Its background process is left a zombie nobody reaps (this test
//! process is made the subreaper of its orphans but, unlike the daemon, does not reap them),
//! so stopping the run takes its full give-up time of 1 s. Were that waited out on the
//! runtime's thread, the ticker would miss that second; the test asserts the longest pause
//! between its ticks stays below it, which is an ordering (the ticker ran while the stop was
//! still going on), not a timing target. Alone in its file: the subreaper flag is
//! process-wide.

mod common;

use std::time::Duration;

use common::Node;
use ssm_inventoryd::config;
use ssm_inventoryd::probe::{CollectContext, Probe};
use tokio::time::Instant;

/// How long a stopping run waits for killed processes to be gone (`run_guard`).
const GONE_AFTER_KILL: Duration = Duration::from_secs(1);

/// A node whose one probe ignores SIGTERM and leaves a process in the background. Nothing is
/// pushed: the endpoint is never called.
fn node() -> Node {
    let node = Node::new("http://127.0.0.1:9");
    node.write_config_with(
        "[[probe]]\nname = \"stubborn\"\nkind = \"exec\"\ntype_name = \"Custom:Stubborn\"\n\
         command = [\"/bin/sh\", \"-c\", \"trap '' TERM; sleep 30 & sleep 30; echo '[]'\"]\n\
         timeout = \"60s\"\n",
    );
    node
}

/// Reaps whatever of this process's children has ended (the zombies left on purpose).
fn reap_all() {
    loop {
        let mut status = 0;
        // SAFETY: waits without blocking for any ended child of this test process.
        if unsafe { libc::waitpid(-1, &mut status, libc::WNOHANG) } <= 0 {
            break;
        }
    }
}

#[tokio::test(flavor = "current_thread")]
async fn dropping_a_run_does_not_stall_the_other_tasks() {
    // SAFETY: prctl with PR_SET_CHILD_SUBREAPER sets a flag of this process.
    let (on, unused): (libc::c_ulong, libc::c_ulong) = (1, 0);
    assert_eq!(
        unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, on, unused, unused, unused) },
        0
    );
    let node = node();
    let settings = config::load_local(&node.config_path()).expect("configuration");
    let probe = Probe::from_settings(&settings.probes[0]);

    let ticker = tokio::spawn(async {
        let mut ticks = Vec::new();
        let until = Instant::now() + Duration::from_millis(1500);
        while Instant::now() < until {
            tokio::time::sleep(Duration::from_millis(10)).await;
            ticks.push(Instant::now());
        }
        ticks
    });
    let run = tokio::spawn(async move {
        let _ = probe.collect_detailed(&CollectContext::default()).await;
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    // Dropped half-way, on this runtime's only thread.
    run.abort();
    let _ = run.await;

    let ticks = ticker.await.expect("ticker");
    let longest = ticks
        .windows(2)
        .map(|w| w[1] - w[0])
        .max()
        .unwrap_or_default();
    println!(
        "{} ticks; longest pause between two: {longest:?}",
        ticks.len()
    );
    // Let the stop off the runtime's threads give up on the zombie, then reap it.
    tokio::time::sleep(GONE_AFTER_KILL + Duration::from_millis(200)).await;
    reap_all();
    assert!(
        longest < GONE_AFTER_KILL,
        "the runtime's thread stalled for {longest:?} while the run was stopped"
    );
}
