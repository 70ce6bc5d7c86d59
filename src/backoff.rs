//! Exponential backoff: the one formula behind every "wait longer after each failure" in the
//! daemon (probe retries, identity lookups, pushes, PutInventory retries).
//!
//! The ceiling doubles per consecutive failure from `start` up to `cap`; callers that wait
//! alongside a fleet draw the actual wait below the ceiling ("full jitter") so that nodes
//! hit by a shared outage do not all come back in the same second.

use std::time::Duration;

/// `start`·2^(n-1) after `n` consecutive failures, never more than `cap`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    pub start: Duration,
    pub cap: Duration,
}

impl Backoff {
    pub const fn new(start: Duration, cap: Duration) -> Backoff {
        Backoff { start, cap }
    }

    /// The wait after `failures` consecutive failures (1-based; 0 is treated as 1). Saturates
    /// instead of overflowing, whatever the count.
    pub fn ceiling(&self, failures: u32) -> Duration {
        let factor = 2u32.saturating_pow(failures.saturating_sub(1).min(31));
        self.start.saturating_mul(factor).min(self.cap)
    }

    /// A wait in `[0, ceiling(failures)]`, drawn from `unit` in `[0, 1)`.
    pub fn jittered_with(&self, failures: u32, unit: f64) -> Duration {
        self.ceiling(failures).mul_f64(unit.clamp(0.0, 1.0))
    }

    /// A wait in `[0, ceiling(failures)]` drawn with the thread's random generator.
    pub fn jittered(&self, failures: u32) -> Duration {
        self.jittered_with(failures, rand::random::<f64>())
    }
}

#[cfg(test)]
mod tests;
