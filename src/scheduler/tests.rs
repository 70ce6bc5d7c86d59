use super::*;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

fn schedule(interval: u64, splay: u64, timeout: u64) -> Schedule {
    Schedule {
        interval: Duration::from_secs(interval),
        splay: Duration::from_secs(splay),
        timeout: Duration::from_secs(timeout),
    }
}

#[test]
fn delays() {
    let s = schedule(60, 10, 5);
    assert_eq!(s.next_delay(0, 0.0), Duration::from_secs(60));
    assert_eq!(s.next_delay(0, 0.5), Duration::from_secs(65));
    let backoff: Vec<u64> = (1..=6).map(|f| s.next_delay(f, 0.9).as_secs()).collect();
    assert_eq!(backoff, [5, 10, 20, 40, 60, 60]);
}

/// Starts a probe loop whose runs take `run_for` and fail when `fail` says so, and
/// returns the times (since start) at which runs started and finished.
async fn observe(
    sched: Schedule,
    run_for: Duration,
    fail: fn(u32) -> bool,
    horizon: Duration,
) -> (Vec<Duration>, Vec<(Duration, bool)>, u32) {
    let start = Instant::now();
    let (tx, mut rx) = mpsc::channel(16);
    let cancel = CancellationToken::new();
    let started = Arc::new(std::sync::Mutex::new(Vec::new()));
    let running = Arc::new(AtomicU32::new(0));
    let max_running = Arc::new(AtomicU32::new(0));
    let count = Arc::new(AtomicU32::new(0));
    let task = {
        let (started, running, max_running, count) = (
            started.clone(),
            running.clone(),
            max_running.clone(),
            count.clone(),
        );
        let cancel = cancel.clone();
        tokio::spawn(run_probe(
            "p".into(),
            sched,
            move || {
                let (started, running, max_running, count) = (
                    started.clone(),
                    running.clone(),
                    max_running.clone(),
                    count.clone(),
                );
                async move {
                    started.lock().unwrap().push(start.elapsed());
                    let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                    max_running.fetch_max(now, Ordering::SeqCst);
                    tokio::time::sleep(run_for).await;
                    running.fetch_sub(1, Ordering::SeqCst);
                    let n = count.fetch_add(1, Ordering::SeqCst);
                    if fail(n) {
                        Err(ProbeError::EmptyCommand { probe: "p".into() })
                    } else {
                        Ok(Collection::default())
                    }
                }
            },
            tx,
            None,
            cancel.clone(),
        ))
    };
    let mut finished = Vec::new();
    let deadline = tokio::time::sleep(horizon);
    tokio::pin!(deadline);
    loop {
        tokio::select! {
            _ = &mut deadline => break,
            Some(outcome) = rx.recv() => finished.push((start.elapsed(), outcome.result.is_ok())),
        }
    }
    cancel.cancel();
    task.await.unwrap();
    let started = started.lock().unwrap().clone();
    (started, finished, max_running.load(Ordering::SeqCst))
}

#[tokio::test(start_paused = true)]
async fn runs_at_start_then_every_interval_within_splay() {
    let (started, finished, _) = observe(
        schedule(60, 10, 5),
        Duration::from_secs(1),
        |_| false,
        Duration::from_secs(400),
    )
    .await;
    assert_eq!(started[0], Duration::ZERO, "first run at start");
    assert!(finished.iter().all(|(_, ok)| *ok));
    assert!(started.len() >= 5, "{started:?}");
    for pair in started.windows(2) {
        let gap = pair[1] - pair[0];
        // 1 s of run time + interval + splay in [0, 10 s].
        assert!(
            gap >= Duration::from_secs(61) && gap <= Duration::from_secs(71),
            "gap {gap:?}"
        );
    }
}

#[tokio::test(start_paused = true)]
async fn a_slow_run_is_never_overlapped() {
    // Each run takes 3.5 intervals' worth of its timeout budget.
    let (started, _, max_running) = observe(
        schedule(10, 0, 40),
        Duration::from_secs(35),
        |_| false,
        Duration::from_secs(200),
    )
    .await;
    assert_eq!(max_running, 1);
    for pair in started.windows(2) {
        assert!(pair[1] - pair[0] >= Duration::from_secs(45), "{started:?}");
    }
}

#[tokio::test(start_paused = true)]
async fn a_hung_run_is_cut_at_its_timeout() {
    let (_, finished, _) = observe(
        schedule(60, 0, 5),
        Duration::from_secs(3600),
        |_| false,
        Duration::from_secs(30),
    )
    .await;
    // Timeout (5 s) plus the backstop (5 s): the run is reported failed at 10 s.
    assert_eq!(finished.first().map(|f| f.0), Some(Duration::from_secs(10)));
    assert!(!finished[0].1);
}

#[tokio::test(start_paused = true)]
async fn a_failing_probe_backs_off_up_to_its_interval() {
    let (started, _, _) = observe(
        schedule(60, 0, 5),
        Duration::ZERO,
        |_| true,
        Duration::from_secs(400),
    )
    .await;
    let gaps: Vec<u64> = started
        .windows(2)
        .map(|p| (p[1] - p[0]).as_secs())
        .collect();
    assert_eq!(&gaps[..6], &[5, 10, 20, 40, 60, 60], "{gaps:?}");
}

#[tokio::test(start_paused = true)]
async fn recovery_resets_the_backoff() {
    // Fails twice, then succeeds: back to the full interval.
    let (started, _, _) = observe(
        schedule(60, 0, 5),
        Duration::ZERO,
        |n| n < 2,
        Duration::from_secs(200),
    )
    .await;
    let gaps: Vec<u64> = started
        .windows(2)
        .map(|p| (p[1] - p[0]).as_secs())
        .collect();
    assert_eq!(&gaps[..3], &[5, 10, 60], "{gaps:?}");
}

/// A burst of wake-ups during a run (a folder written twenty times while its probe reads it)
/// gives one follow-up run, started as soon as the run ends; a wake-up during that follow-up
/// gives one more, so the last change is always read after it happened.
#[tokio::test(start_paused = true)]
async fn wake_ups_during_a_run_fold_into_one_follow_up_run() {
    let start = Instant::now();
    let (tx, mut rx) = mpsc::channel(16);
    // As the daemon makes it (src/daemon/probes.rs): one pending wake-up at most.
    let (wake_tx, wake) = mpsc::channel::<()>(1);
    let cancel = CancellationToken::new();
    let started = Arc::new(std::sync::Mutex::new(Vec::new()));
    let task = {
        let started = started.clone();
        tokio::spawn(run_probe(
            "p".into(),
            schedule(3600, 0, 60),
            move || {
                let started = started.clone();
                async move {
                    started.lock().unwrap().push(start.elapsed());
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    Ok(Collection::default())
                }
            },
            tx,
            Some(wake),
            cancel.clone(),
        ))
    };
    let runs = || started.lock().unwrap().clone();

    // The first run (at start) is in progress: twenty wake-ups, 10 ms apart.
    for _ in 0..20 {
        tokio::time::sleep(Duration::from_millis(10)).await;
        let _ = wake_tx.try_send(());
    }
    rx.recv().await.unwrap();
    rx.recv().await.unwrap();
    assert_eq!(
        runs(),
        [Duration::ZERO, Duration::from_secs(1)],
        "one follow-up run, at once"
    );
    // Nothing more without another wake-up (the interval is an hour).
    tokio::time::sleep(Duration::from_secs(60)).await;
    assert_eq!(runs().len(), 2);

    // A wake-up during a run is never lost: the run after it reads what changed.
    wake_tx.try_send(()).unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    wake_tx.try_send(()).unwrap();
    rx.recv().await.unwrap();
    rx.recv().await.unwrap();
    assert_eq!(runs().len(), 4);
    let last = runs()[3];
    assert_eq!(last - runs()[2], Duration::from_secs(1));

    cancel.cancel();
    task.await.unwrap();
}
