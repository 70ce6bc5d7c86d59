use super::*;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

fn schedule(interval: u64, splay: u64, timeout: u64) -> Schedule {
    Schedule {
        interval: Duration::from_secs(interval),
        splay: Duration::from_secs(splay),
        timeout: Duration::from_secs(timeout),
        grid: None,
    }
}

/// A run slot and 1 KiB from a limiter of their own: admission never waits.
fn unlimited() -> Admission {
    Admission {
        limiter: RunLimiter::default(),
        reserve_bytes: 1024,
        hold_items: false,
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

#[test]
fn a_due_run_starts_at_the_next_point_of_the_grid() {
    let origin = Instant::now();
    let at = |ms: u64| origin + Duration::from_millis(ms);
    let every_second = Schedule {
        grid: Some(origin),
        ..schedule(1, 0, 1)
    };
    // A tenth of the interval apart.
    assert_eq!(every_second.start_at(at(1_030)), at(1_100));
    assert_eq!(every_second.start_at(at(1_170)), at(1_200));
    assert_eq!(every_second.start_at(at(1_200)), at(1_200));
    assert_eq!(every_second.start_at(at(0)), at(0));
    // At most a second apart, however long the interval.
    let hourly = Schedule {
        grid: Some(origin),
        ..schedule(3_600, 0, 1)
    };
    assert_eq!(hourly.start_at(at(3_600_001)), at(3_601_000));
    // Without a grid, or due before it began, a run starts when due.
    assert_eq!(schedule(1, 0, 1).start_at(at(1_030)), at(1_030));
    let later = Schedule {
        grid: Some(at(5_000)),
        ..schedule(1, 0, 1)
    };
    assert_eq!(later.start_at(at(1_030)), at(1_030));
}

/// Two probes every second whose runs take different times, each shorter than the grid's
/// step: without a grid each drifts by its own run time, started apart every second; on one
/// grid, from their second run on, they start together.
#[tokio::test(start_paused = true)]
async fn probes_on_one_grid_start_together() {
    async fn starts(grid: Option<Instant>) -> Vec<Vec<Duration>> {
        let start = Instant::now();
        let (tx, mut rx) = mpsc::channel(16);
        let cancel = CancellationToken::new();
        let started = Arc::new(std::sync::Mutex::new(vec![Vec::new(), Vec::new()]));
        let mut tasks = Vec::new();
        for (i, run_for) in [30u64, 70].into_iter().enumerate() {
            let started = started.clone();
            tasks.push(tokio::spawn(run_probe(
                format!("p{i}"),
                Schedule {
                    grid,
                    ..schedule(1, 0, 1)
                },
                unlimited(),
                move || {
                    let started = started.clone();
                    async move {
                        started.lock().unwrap()[i].push(start.elapsed());
                        tokio::time::sleep(Duration::from_millis(run_for)).await;
                        Ok(Collection::default())
                    }
                },
                tx.clone(),
                None,
                cancel.child_token(),
            )));
        }
        drop(tx);
        let horizon = tokio::time::sleep(Duration::from_millis(4_500));
        tokio::pin!(horizon);
        loop {
            tokio::select! {
                _ = &mut horizon => break,
                Some(_) = rx.recv() => {}
            }
        }
        cancel.cancel();
        for task in tasks {
            task.await.unwrap();
        }
        started.lock().unwrap().clone()
    }
    let ms = |ms: u64| Duration::from_millis(ms);

    let apart = starts(None).await;
    assert_eq!(
        apart[0],
        [ms(0), ms(1_030), ms(2_060), ms(3_090), ms(4_120)]
    );
    assert_eq!(
        apart[1],
        [ms(0), ms(1_070), ms(2_140), ms(3_210), ms(4_280)]
    );

    let origin = Instant::now();
    let together = starts(Some(origin)).await;
    assert_eq!(
        together[0],
        [ms(0), ms(1_100), ms(2_200), ms(3_300), ms(4_400)]
    );
    assert_eq!(together[1], together[0]);
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
            unlimited(),
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

/// How a run of [`limited`] behaves.
#[derive(Clone, Copy)]
enum Run {
    /// Succeeds after this long.
    Ok(u64),
    /// Fails after this long.
    Fail(u64),
    /// Never ends: the scheduler's timeout cuts it.
    Hang,
}

/// Runs one scheduler task per entry of `runs`, all sharing `limiter` and reserving
/// `reserve` bytes, each probe once (the interval is a day); returns, per probe, when its
/// first outcome arrived and whether it was a success, with the most runs seen in flight.
async fn limited(
    limiter: &RunLimiter,
    reserve: usize,
    runs: &[Run],
) -> (Vec<(String, Duration, Result<(), String>)>, u32) {
    let start = Instant::now();
    let (tx, mut rx) = mpsc::channel(16);
    let cancel = CancellationToken::new();
    let running = Arc::new(AtomicU32::new(0));
    let max_running = Arc::new(AtomicU32::new(0));
    let mut tasks = Vec::new();
    for (i, run) in runs.iter().copied().enumerate() {
        let (running, max_running) = (running.clone(), max_running.clone());
        let name = format!("p{i}");
        let probe = name.clone();
        tasks.push(tokio::spawn(run_probe(
            name,
            schedule(86_400, 0, 5),
            Admission {
                limiter: limiter.clone(),
                reserve_bytes: reserve,
                hold_items: false,
            },
            move || {
                let (running, max_running, probe) =
                    (running.clone(), max_running.clone(), probe.clone());
                async move {
                    let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                    max_running.fetch_max(now, Ordering::SeqCst);
                    // Decrements however the run ends, dropped with its future on a timeout.
                    struct Done(Arc<AtomicU32>);
                    impl Drop for Done {
                        fn drop(&mut self) {
                            self.0.fetch_sub(1, Ordering::SeqCst);
                        }
                    }
                    let _done = Done(running);
                    match run {
                        Run::Ok(secs) => {
                            tokio::time::sleep(Duration::from_secs(secs)).await;
                            Ok(Collection::default())
                        }
                        Run::Fail(secs) => {
                            tokio::time::sleep(Duration::from_secs(secs)).await;
                            Err(ProbeError::EmptyCommand { probe })
                        }
                        Run::Hang => std::future::pending().await,
                    }
                }
            },
            tx.clone(),
            None,
            cancel.child_token(),
        )));
    }
    drop(tx);
    let mut outcomes = Vec::new();
    while outcomes.len() < runs.len() {
        let outcome = rx.recv().await.unwrap();
        outcomes.push((
            outcome.probe,
            start.elapsed(),
            outcome.result.map(|_| ()).map_err(|e| e.to_string()),
        ));
    }
    cancel.cancel();
    for task in tasks {
        task.await.unwrap();
    }
    (outcomes, max_running.load(Ordering::SeqCst))
}

#[tokio::test(start_paused = true)]
async fn runs_over_the_budget_wait_their_turn_rather_than_fail() {
    // Room for two runs of 4 MiB, though four may be in flight: the bytes decide.
    let limiter = RunLimiter::new(4, 8 * 1024 * 1024);
    let (outcomes, max_running) = limited(&limiter, 4 * 1024 * 1024, &[Run::Ok(3); 5]).await;
    assert_eq!(max_running, 2);
    let times: Vec<u64> = outcomes.iter().map(|(_, t, _)| t.as_secs()).collect();
    // Two at a time, each 3 s, first come first served: 3, 3, 6, 6, 9. None timed out,
    // though the last waited 6 s for a run whose timeout is 5 s: the wait is not the run's.
    assert_eq!(times, [3, 3, 6, 6, 9], "{outcomes:?}");
    assert!(outcomes.iter().all(|(_, _, r)| r.is_ok()), "{outcomes:?}");
    assert_eq!(limiter.available_runs(), 4);
    assert_eq!(limiter.available_bytes(), 8 * 1024 * 1024);
}

#[tokio::test(start_paused = true)]
async fn the_run_limit_holds_when_the_bytes_would_not() {
    let limiter = RunLimiter::new(2, 64 * 1024 * 1024);
    let (outcomes, max_running) = limited(&limiter, 1024 * 1024, &[Run::Ok(2); 5]).await;
    assert_eq!(max_running, 2);
    let times: Vec<u64> = outcomes.iter().map(|(_, t, _)| t.as_secs()).collect();
    assert_eq!(times, [2, 2, 4, 4, 6]);
    assert!(outcomes.iter().all(|(_, _, r)| r.is_ok()));
    assert_eq!(limiter.available_runs(), 2);
    assert_eq!(limiter.available_bytes(), 64 * 1024 * 1024);
}

#[tokio::test(start_paused = true)]
async fn a_failed_or_timed_out_run_gives_its_permit_back() {
    // One run at a time: each run after the first starts only once the one before it gave
    // its permit back.
    let limiter = RunLimiter::new(1, 8 * 1024 * 1024);
    let (outcomes, max_running) = limited(
        &limiter,
        8 * 1024 * 1024,
        &[Run::Fail(1), Run::Hang, Run::Ok(1), Run::Hang, Run::Ok(1)],
    )
    .await;
    assert_eq!(max_running, 1);
    let seen: Vec<(&str, u64, bool)> = outcomes
        .iter()
        .map(|(p, t, r)| (p.as_str(), t.as_secs(), r.is_ok()))
        .collect();
    // The failure at 1 s; a hung run is cut at its timeout plus the backstop (10 s).
    assert_eq!(
        seen,
        [
            ("p0", 1, false),
            ("p1", 11, false),
            ("p2", 12, true),
            ("p3", 22, false),
            ("p4", 23, true)
        ],
        "{outcomes:?}"
    );
    for hung in [1, 3] {
        let error = outcomes[hung].2.as_ref().unwrap_err();
        assert!(
            error.contains("did not finish within its timeout"),
            "{error}"
        );
    }
    assert_eq!(limiter.available_runs(), 1);
    assert_eq!(limiter.available_bytes(), 8 * 1024 * 1024);
}

#[tokio::test(start_paused = true)]
async fn a_stopped_probe_gives_its_permit_back_and_stops_waiting() {
    let limiter = RunLimiter::new(1, 8 * 1024 * 1024);
    let (tx, _rx) = mpsc::channel(4);
    let cancel = CancellationToken::new();
    let spawn = |cancel: CancellationToken| {
        tokio::spawn(run_probe(
            "p".into(),
            schedule(86_400, 0, 3600),
            Admission {
                limiter: limiter.clone(),
                reserve_bytes: 8 * 1024 * 1024,
                hold_items: false,
            },
            std::future::pending::<Result<Collection, ProbeError>>,
            tx.clone(),
            None,
            cancel,
        ))
    };
    // One hangs holding the permit, the other waits for it; a reload stops both.
    let holding = spawn(cancel.child_token());
    tokio::time::sleep(Duration::from_secs(1)).await;
    let waiting = spawn(cancel.child_token());
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(limiter.available_runs(), 0);
    assert_eq!(limiter.available_bytes(), 0);
    cancel.cancel();
    holding.await.unwrap();
    waiting.await.unwrap();
    assert_eq!(limiter.available_runs(), 1);
    assert_eq!(limiter.available_bytes(), 8 * 1024 * 1024);
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
            unlimited(),
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
