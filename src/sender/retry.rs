//! How long to wait before trying a request again: exponential backoff with full jitter.
//!
//! Kept apart from "is it worth retrying" (see `classify`) so each can be tested alone. Full
//! jitter (a uniform wait between zero and the exponential ceiling) spreads a fleet's retries
//! after a shared outage instead of having every node come back in the same second.

use std::time::Duration;

use crate::backoff::Backoff;
use crate::config::AgentSettings;

/// Backoff settings. `max_attempts` is `None` for the daemon, which keeps trying until it is
/// stopped; a one-shot run gives up after a few attempts and reports what is still pending.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    pub base: Duration,
    pub cap: Duration,
    pub max_attempts: Option<u32>,
}

impl RetryPolicy {
    /// Default first backoff ceiling.
    pub const DEFAULT_BASE: Duration = Duration::from_millis(200);
    /// Default longest wait between two attempts.
    pub const DEFAULT_CAP: Duration = Duration::from_secs(300);

    /// The `[agent]` settings' backoff, retrying until stopped.
    pub fn of(agent: &AgentSettings) -> RetryPolicy {
        RetryPolicy {
            base: agent.retry_base,
            cap: agent.retry_cap,
            max_attempts: None,
        }
    }

    /// The same, giving up after `attempts` attempts.
    pub fn at_most(self, attempts: u32) -> RetryPolicy {
        RetryPolicy {
            max_attempts: Some(attempts),
            ..self
        }
    }

    /// The same, waiting at most `cap` between two attempts.
    pub fn capped(self, cap: Duration) -> RetryPolicy {
        RetryPolicy {
            cap: self.cap.min(cap),
            ..self
        }
    }

    fn backoff(&self) -> Backoff {
        Backoff::new(self.base, self.cap)
    }

    /// The ceiling for the wait after `attempt` failures (1-based): base·2^(attempt-1), capped.
    pub fn ceiling(&self, attempt: u32) -> Duration {
        self.backoff().ceiling(attempt)
    }

    /// A uniformly random wait in `[0, ceiling(attempt)]`, drawn from `unit` in `[0, 1)`.
    pub fn wait(&self, attempt: u32, unit: f64) -> Duration {
        self.backoff().jittered_with(attempt, unit)
    }

    /// A wait drawn with the thread's random generator.
    pub fn jittered(&self, attempt: u32) -> Duration {
        self.backoff().jittered(attempt)
    }

    /// Whether another attempt is allowed after `attempts` have failed.
    pub fn allows(&self, attempts: u32) -> bool {
        self.max_attempts.is_none_or(|max| attempts < max)
    }
}

#[cfg(test)]
mod tests;
