//! Per-probe timers: when each probe runs.
//!
//! One task per probe. A probe runs once at start, then every `interval` plus a random
//! `splay`; a run is awaited before the next is scheduled, so runs never overlap however
//! long one takes. A failing probe is retried sooner than its interval at first (a blip
//! should not cost a whole interval) with a delay that doubles per consecutive failure, up to
//! the interval itself. Each run is bounded by the probe's timeout (the exec probe enforces
//! its own; this is the backstop for every kind).

use std::future::Future;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::backoff::Backoff;
use crate::probe::{Collection, ProbeError};

/// First retry delay after a failure; it doubles per consecutive failure up to the interval.
pub const FAILURE_BACKOFF_START: Duration = Duration::from_secs(5);
/// Extra time past the probe's own timeout before the scheduler gives up on a run.
const TIMEOUT_BACKSTOP: Duration = Duration::from_secs(5);

/// When a probe runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Schedule {
    pub interval: Duration,
    pub splay: Duration,
    pub timeout: Duration,
}

impl Schedule {
    /// The delay before the next run after `failures` consecutive failures (0 = success).
    /// `unit` in `[0, 1)` picks the splay.
    pub fn next_delay(&self, failures: u32, unit: f64) -> Duration {
        if failures == 0 {
            return self.interval + self.splay.mul_f64(unit.clamp(0.0, 1.0));
        }
        Backoff::new(FAILURE_BACKOFF_START, self.interval).ceiling(failures)
    }
}

/// What one run of a probe produced, sent to the daemon.
#[derive(Debug)]
pub struct Outcome {
    pub probe: String,
    pub result: Result<Collection, ProbeError>,
    pub finished_at: Instant,
}

/// Runs `run` on `schedule` until `cancel` fires, sending each outcome on `tx`.
/// `wake` (a files probe's watcher) makes the next run start at once.
pub async fn run_probe<F, Fut>(
    name: String,
    schedule: Schedule,
    run: F,
    tx: mpsc::Sender<Outcome>,
    mut wake: Option<mpsc::Receiver<()>>,
    cancel: CancellationToken,
) where
    F: Fn() -> Fut,
    Fut: Future<Output = Result<Collection, ProbeError>>,
{
    let mut failures = 0u32;
    loop {
        let result = tokio::select! {
            biased;
            _ = cancel.cancelled() => return,
            result = tokio::time::timeout(schedule.timeout + TIMEOUT_BACKSTOP, run()) => {
                result.unwrap_or_else(|_| Err(ProbeError::Timeout { probe: name.clone(), timeout: schedule.timeout }))
            }
        };
        failures = if result.is_ok() {
            0
        } else {
            failures.saturating_add(1)
        };
        let outcome = Outcome {
            probe: name.clone(),
            result,
            finished_at: Instant::now(),
        };
        if tx.send(outcome).await.is_err() {
            return; // the daemon is gone
        }
        let delay = schedule.next_delay(failures, rand::random::<f64>());
        let wake_up = async {
            match wake.as_mut() {
                Some(rx) => {
                    if rx.recv().await.is_none() {
                        // The watcher stopped; fall back to the timer alone.
                        std::future::pending::<()>().await;
                    }
                }
                None => std::future::pending::<()>().await,
            }
        };
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = tokio::time::sleep(delay) => {}
            _ = wake_up => {}
        }
    }
}

#[cfg(test)]
mod tests {
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
}
