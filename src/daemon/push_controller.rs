//! When the daemon pushes: as soon as something changed (coalescing bursts, never sooner than
//! `min_push_interval` after the last push, plus the fleet splay), again with backoff while
//! items are pending or the service refuses the node, and otherwise at the next hash-only
//! refresh or quarantine retry.
//!
//! It only keeps deadlines; the event loop sleeps until [`PushController::due`] and starts
//! the push. Time comes in as arguments, so the schedule is tested on tokio's paused clock.

use std::time::Duration;

use time::OffsetDateTime;
use tokio::time::Instant;

use crate::backoff::Backoff;
use crate::config::AgentSettings;
use crate::cycle::PushReport;
use crate::plan::Intervals;
use crate::splay::fleet_splay;
use crate::state::InstanceState;

/// Pushing pauses for this long at first while the service refuses this node's instance ID,
/// doubling up to an hour: a node being registered needs minutes, not a hammering.
const INSTANCE_INVALID_BACKOFF: Backoff =
    Backoff::new(Duration::from_secs(60), Duration::from_secs(3600));

/// The timing settings, from `[agent]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timing {
    pub min_interval: Duration,
    pub splay: Duration,
    /// Between pushes while items are pending (full jitter below the ceiling).
    pub retry: Backoff,
    pub intervals: Intervals,
}

impl Timing {
    pub fn of(agent: &AgentSettings) -> Timing {
        Timing {
            min_interval: agent.min_push_interval,
            splay: agent.splay,
            retry: Backoff::new(agent.retry_base, agent.retry_cap),
            intervals: Intervals::of(agent),
        }
    }
}

#[derive(Debug)]
pub struct PushController {
    timing: Timing,
    due: Option<Instant>,
    last_end: Option<Instant>,
    transient_failures: u32,
    instance_invalid_failures: u32,
    first_done: bool,
}

impl PushController {
    pub fn new(timing: Timing) -> PushController {
        PushController {
            timing,
            due: None,
            last_end: None,
            transient_failures: 0,
            instance_invalid_failures: 0,
            first_done: false,
        }
    }

    /// New settings after a reload; the deadline already set stays.
    pub fn set_timing(&mut self, timing: Timing) {
        self.timing = timing;
    }

    /// When the next push should start, if one is wanted.
    pub fn due(&self) -> Option<Instant> {
        self.due
    }

    /// Whether a push has finished since the daemon started.
    pub fn first_done(&self) -> bool {
        self.first_done
    }

    /// Something changed: push `delay` from `now`, no sooner than `min_push_interval` after
    /// the last push, plus the fleet splay of `instance_id`. An earlier deadline already set
    /// is kept, so a burst of changes makes one push.
    pub fn request(&mut self, now: Instant, delay: Duration, instance_id: &str) {
        let earliest = self
            .last_end
            .map_or(now, |end| end + self.timing.min_interval)
            .max(now + delay);
        let due = earliest + fleet_splay(instance_id, self.timing.splay);
        self.due = Some(self.due.map_or(due, |existing| existing.min(due)));
    }

    /// The push is starting (or cannot start for want of an identity; it is requested
    /// again once there is one).
    pub fn clear(&mut self) {
        self.due = None;
    }

    /// A push could not start (no client: no root certificates): try again with the
    /// backoff of a failed push, so a fix is noticed within `retry_cap`.
    pub fn blocked(&mut self, now: Instant, instance_id: &str) {
        self.transient_failures += 1;
        let wait = self.timing.retry.jittered(self.transient_failures);
        self.request(now, wait, instance_id);
    }

    /// The push task died (a bug): try again after the longest retry wait.
    pub fn crashed(&mut self, now: Instant, instance_id: &str) {
        self.last_end = Some(now);
        self.request(now, self.timing.retry.cap, instance_id);
    }

    /// A push finished with `report`; `acknowledged` is the node's state after it. Returns how
    /// long until the next push, when it backs off.
    pub fn finished(
        &mut self,
        report: &PushReport,
        acknowledged: Option<&InstanceState>,
        now: Instant,
        now_utc: OffsetDateTime,
    ) -> Option<Duration> {
        self.last_end = Some(now);
        self.first_done = true;
        if report.instance_invalid.is_some() {
            self.instance_invalid_failures += 1;
            let wait = INSTANCE_INVALID_BACKOFF.ceiling(self.instance_invalid_failures);
            tracing::error!("pushing paused for {}", humantime::format_duration(wait));
            self.due = Some(now + wait);
            return Some(wait);
        }
        self.instance_invalid_failures = 0;
        if !report.pending.is_empty() {
            self.transient_failures += 1;
            let wait = self.timing.retry.jittered(self.transient_failures);
            tracing::info!(
                pending = report.pending.len(),
                "will push again in {}",
                humantime::format_duration(wait)
            );
            self.due = Some(now + wait);
            return Some(wait);
        }
        self.transient_failures = 0;
        let timed = acknowledged
            .and_then(|state| next_timed_wait(state, self.timing.intervals, now_utc))
            .map(|wait| now.checked_add(wait).unwrap_or_else(far_future));
        if let Some(at) = timed {
            self.due = Some(self.due.map_or(at, |d| d.min(at)));
        }
        None
    }
}

/// How long until the earliest hash-only refresh or quarantine retry of `instance`, from
/// `now`. A deadline past what a date can hold (a state file from a distant clock, an
/// enormous interval) means "not in any foreseeable time", never a panic.
pub fn next_timed_wait(
    instance: &InstanceState,
    intervals: Intervals,
    now: OffsetDateTime,
) -> Option<Duration> {
    let later = |at: OffsetDateTime, by: Duration| {
        time::Duration::try_from(by)
            .ok()
            .and_then(|by| at.checked_add(by))
    };
    let refresh = instance
        .types
        .values()
        .filter_map(|a| later(a.acknowledged_at, intervals.refresh));
    let retry = instance
        .quarantine
        .values()
        .filter_map(|q| later(q.since, intervals.quarantine_retry));
    let earliest = refresh.chain(retry).min()?;
    let wait = (earliest - now).max(time::Duration::ZERO);
    Some(Duration::try_from(wait).unwrap_or_default())
}

/// A deadline that never comes, for timers that are off.
pub fn far_future() -> Instant {
    Instant::now() + Duration::from_secs(86_400 * 365)
}

#[cfg(test)]
mod tests;
