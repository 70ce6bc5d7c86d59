//! How long a node waits between two polls of its fleet parameters: the configured
//! `fleet_poll_interval`, lengthened while Parameter Store says it is overloaded.
//!
//! Parameter Store's read throughput (40 calls a second per account and region by default)
//! is shared by every application of the account that reads its configuration there. An
//! inventory agent must never be the reason one of them cannot, so a throttled poll (or a
//! 5xx) is not retried: the node waits [`BACKOFF_FACTOR`] times longer before the next one,
//! up to [`PollInterval::cap`], and each poll that goes through takes [`RECOVERY_FACTOR`] of
//! the wait off again, never below the configured interval.
//!
//! What this is for: throttling that passes, such as an application's burst or a fleet
//! restarting together, after which nodes should spread out and come back within a few
//! polls. Doubling spreads a storm out fast (each throttled node's next poll lands anywhere
//! in the upper half of twice its interval); taking a quarter off per poll that went through
//! brings a node throttled once back to its interval in three polls, slower than halving, so
//! that a fleet just recovered does not return all at once. What it cannot do is make a fleet
//! too large for its interval fit: such a fleet settles where about three polls in ten are
//! throttled (where a doubling is undone by as many quarters off), and an application
//! reading at the same time is throttled as often. That is why the default interval is sized
//! for the fleet (config/README.md, "Sizing the interval") and `validate` warns with
//! `fleet_size_hint`; the backoff is the safety valve, not the sizing.
//!
//! The cap is [`CAP_FACTOR`] times the configured interval or [`CAP_FLOOR`], whichever is
//! longer. Eight times lets a fleet up to eight times larger than its interval was sized for
//! fall back under the budget, while a node at the default interval (20 minutes) is never
//! more than 160 minutes behind a change; the floor of an hour makes a node configured with
//! a short interval (seconds) back off far enough to matter, whatever the fleet's size:
//! 10,000 such nodes at the cap make under 3 calls a second.
//!
//! Pure logic on durations, with the random draw passed in, so it is tested without a clock
//! and the fleet simulation uses exactly this policy.

use std::time::Duration;

/// A busy poll multiplies the interval by this.
pub const BACKOFF_FACTOR: f64 = 2.0;
/// A poll that went through multiplies a lengthened interval by this (never below the
/// configured one).
pub const RECOVERY_FACTOR: f64 = 0.75;
/// The longest interval is this many times the configured one…
pub const CAP_FACTOR: u32 = 8;
/// …or this, whichever is longer.
pub const CAP_FLOOR: Duration = Duration::from_secs(3600);

/// The interval policy of one node: the configured interval and where it stands now.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PollInterval {
    configured: Duration,
    current: Duration,
}

impl PollInterval {
    pub fn new(configured: Duration) -> PollInterval {
        PollInterval {
            configured,
            current: configured,
        }
    }

    pub fn configured(&self) -> Duration {
        self.configured
    }

    /// The interval as it stands, before jitter.
    pub fn current(&self) -> Duration {
        self.current
    }

    /// The longest the interval gets: [`CAP_FACTOR`] × configured, at least [`CAP_FLOOR`].
    pub fn cap(&self) -> Duration {
        self.configured
            .saturating_mul(CAP_FACTOR)
            .max(CAP_FLOOR)
            .max(self.configured)
    }

    /// Whether Parameter Store's throttling has lengthened the interval.
    pub fn backed_off(&self) -> bool {
        self.current > self.configured
    }

    /// Takes in how a poll went (`busy`: throttled, or a 5xx) and returns the wait before the
    /// next one, not counting the splay. `unit`, in `[0, 1)`, draws the jitter: a lengthened
    /// wait is spread over its upper half, `[(current + configured) / 2, current]`, so nodes
    /// throttled in the same second do not come back in the same second; an unlengthened one
    /// is the configured interval exactly (the splay spreads those).
    pub fn after_poll(&mut self, busy: bool, unit: f64) -> Duration {
        self.current = if busy {
            self.current.mul_f64(BACKOFF_FACTOR).min(self.cap())
        } else {
            self.current.mul_f64(RECOVERY_FACTOR).max(self.configured)
        };
        let excess = self.current.saturating_sub(self.configured);
        self.current - excess.mul_f64(unit.clamp(0.0, 1.0) / 2.0)
    }
}

#[cfg(test)]
mod tests;
