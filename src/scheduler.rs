//! Per-probe timers: when each probe runs.
//!
//! One task per probe. A probe runs once at start, then every `interval` plus a random
//! `splay`; a run is awaited before the next is scheduled, so runs never overlap however
//! long one takes. A run that is due starts at the next point of a grid shared by every
//! probe ([`Schedule::grid`]: a tenth of its interval apart, at most a second): probes due
//! at about the same time then start together, and the daemon wakes once for all of them
//! rather than once for each. A failing probe is retried sooner than its interval at first
//! (a blip should not cost a whole interval) with a delay that doubles per consecutive
//! failure, up to the interval itself. Each run is bounded by the probe's timeout (the exec
//! probe enforces its own; this is the backstop for every kind). Before each run the task
//! waits for a permit from the daemon-wide [`RunLimiter`] (a run slot and the output bytes
//! the run may hold); the wait is not part of the timeout, and the permit goes back when the
//! run ends, however it ends — as holds on the run's items' Content where the admission says
//! so.

use std::future::Future;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::backoff::Backoff;
use crate::probe::{Collection, ProbeError, RunLimiter};

/// First retry delay after a failure; it doubles per consecutive failure up to the interval.
pub const FAILURE_BACKOFF_START: Duration = Duration::from_secs(5);
/// Extra time past the probe's own timeout before the scheduler gives up on a run.
const TIMEOUT_BACKSTOP: Duration = Duration::from_secs(5);

/// The longest step of the grid runs start on.
const GRID_STEP_MAX: Duration = Duration::from_secs(1);
/// The grid's step is this fraction of the interval (below [`GRID_STEP_MAX`]).
const GRID_STEPS_PER_INTERVAL: u32 = 10;

/// When a probe runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Schedule {
    pub interval: Duration,
    pub splay: Duration,
    pub timeout: Duration,
    /// Where the grid that runs start on begins, the same for every probe of the daemon;
    /// `None` starts each run the moment it is due. Each probe's runs, timed from the end of the
    /// one before, would otherwise drift apart, and with five probes every second the daemon
    /// woke five times a second to start them one by one: with the grid it wakes about once,
    /// for about 30 % less CPU (BENCHMARKS.md, "Idle CPU: wake-ups nobody needed").
    pub grid: Option<Instant>,
}

impl Schedule {
    /// When a run due at `due` starts: at the first point of the grid at or after it. The
    /// grid's step is a tenth of the interval, at most a second, so a run starts at most
    /// that much later than due. Runs woken by a folder change do not wait for it.
    pub fn start_at(&self, due: Instant) -> Instant {
        let step = (self.interval / GRID_STEPS_PER_INTERVAL).min(GRID_STEP_MAX);
        let Some(origin) = self.grid.filter(|origin| *origin <= due && !step.is_zero()) else {
            return due;
        };
        let steps = (due - origin).as_nanos().div_ceil(step.as_nanos());
        // A run due centuries after the daemon started starts when due.
        u64::try_from(steps * step.as_nanos())
            .map_or(due, |nanos| origin + Duration::from_nanos(nanos))
    }

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

/// What a probe's runs must be admitted by: the shared limiter, and the output bytes each
/// run reserves from it.
#[derive(Debug, Clone)]
pub struct Admission {
    pub limiter: RunLimiter,
    pub reserve_bytes: usize,
    /// Whether the run's items keep their Content counted in the limiter's budget until it
    /// is let go (see [`RunPermit::hold`]): for probes whose items are held nowhere but in
    /// the daemon's outbox (exec probes; a `files` probe also keeps each file's last good
    /// items, which would never give their hold back).
    ///
    /// [`RunPermit::hold`]: crate::probe::RunPermit::hold
    pub hold_items: bool,
}

/// Runs `run` on `schedule` until `cancel` fires, each run once `admission` lets it, sending
/// each outcome on `tx`. `wake` (a files probe's folder changed, or the daemon needs content
/// again) makes the next run start at once. A wake-up that arrives during a run stays in the
/// channel (it holds one), so a burst of them during a run gives exactly one follow-up run,
/// which reads what the last of them announced.
pub async fn run_probe<F, Fut>(
    name: String,
    schedule: Schedule,
    admission: Admission,
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
        let permit = tokio::select! {
            biased;
            _ = cancel.cancelled() => return,
            permit = admission.limiter.acquire(admission.reserve_bytes) => permit,
        };
        let mut result = tokio::select! {
            biased;
            _ = cancel.cancelled() => return,
            result = tokio::time::timeout(schedule.timeout + TIMEOUT_BACKSTOP, run()) => {
                result.unwrap_or_else(|_| Err(ProbeError::Timeout { probe: name.clone(), timeout: schedule.timeout }))
            }
        };
        match &mut result {
            Ok(collection) if admission.hold_items => permit.hold(&mut collection.items),
            _ => drop(permit),
        }
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
        let start = schedule.start_at(Instant::now() + delay);
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = tokio::time::sleep_until(start) => {}
            _ = wake_up => {}
        }
    }
}

#[cfg(test)]
mod tests;
