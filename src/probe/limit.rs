//! The daemon-wide bound on probe runs: at most `max_concurrent_probes` at once, and at most
//! `probe_output_budget` bytes of output that the runs in flight may hold together.
//!
//! A run reserves what it may hold (an exec probe its `max_output_bytes`, a `files` probe
//! one file's limit, a `system` probe [`SYSTEM_RESERVE_BYTES`]) before it starts and gives it
//! back when it ends, however it ends: the permit is dropped with the run's future, on
//! success, failure, timeout or cancellation. A run that could hold more than what is left
//! waits its turn; it is never failed for it. The semaphores are fair (first come, first
//! served), so a large run is not starved by small ones passing it.
//!
//! The reservation is counted in KiB, rounded up, so that a budget of up to 4 TiB fits a
//! semaphore's permit count. One run never reserves more than the whole budget (validation
//! refuses an exec probe whose `max_output_bytes` is larger; other kinds are clamped), so no
//! run waits forever.

use std::sync::Arc;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::config::AgentSettings;
use crate::config::defaults::{DEFAULT_MAX_CONCURRENT_PROBES, DEFAULT_PROBE_OUTPUT_BUDGET};

/// What a `system` probe reserves: its collectors read a few small files under `/proc` and
/// `/sys`, far below this.
pub const SYSTEM_RESERVE_BYTES: usize = 1024 * 1024;

const UNIT: usize = 1024;

/// Shared by every run of one configuration; cheap to clone.
#[derive(Debug, Clone)]
pub struct RunLimiter {
    runs: Arc<Semaphore>,
    bytes: Arc<Semaphore>,
    budget_units: u32,
}

/// Held while a run is in flight; dropping it gives back the run slot and the bytes.
#[derive(Debug)]
pub struct RunPermit {
    _run: Option<OwnedSemaphorePermit>,
    _bytes: Option<OwnedSemaphorePermit>,
}

impl Default for RunLimiter {
    /// The defaults of `[agent]`.
    fn default() -> RunLimiter {
        RunLimiter::new(DEFAULT_MAX_CONCURRENT_PROBES, DEFAULT_PROBE_OUTPUT_BUDGET)
    }
}

impl RunLimiter {
    /// At most `max_runs` runs (at least 1) holding at most `budget_bytes` (at least 1 KiB).
    pub fn new(max_runs: usize, budget_bytes: usize) -> RunLimiter {
        let budget_units = u32::try_from(budget_bytes.div_ceil(UNIT))
            .unwrap_or(u32::MAX)
            .clamp(1, Semaphore::MAX_PERMITS.min(u32::MAX as usize) as u32);
        RunLimiter {
            runs: Arc::new(Semaphore::new(max_runs.max(1))),
            bytes: Arc::new(Semaphore::new(budget_units as usize)),
            budget_units,
        }
    }

    /// The limiter `[agent]` describes.
    pub fn from_settings(agent: &AgentSettings) -> RunLimiter {
        RunLimiter::new(agent.max_concurrent_probes, agent.probe_output_budget)
    }

    /// Waits until a run slot and `reserve_bytes` (clamped to the whole budget) are free,
    /// and takes them.
    pub async fn acquire(&self, reserve_bytes: usize) -> RunPermit {
        let units = u32::try_from(reserve_bytes.div_ceil(UNIT))
            .unwrap_or(u32::MAX)
            .clamp(1, self.budget_units);
        // Bytes first: a run waiting for bytes does not hold a run slot others could use.
        // Acquiring fails only on a closed semaphore, and these are never closed.
        let bytes = self.bytes.clone().acquire_many_owned(units).await.ok();
        let run = self.runs.clone().acquire_owned().await.ok();
        RunPermit {
            _run: run,
            _bytes: bytes,
        }
    }

    /// Run slots free now.
    pub fn available_runs(&self) -> usize {
        self.runs.available_permits()
    }

    /// Bytes of the budget free now (a multiple of 1 KiB).
    pub fn available_bytes(&self) -> usize {
        self.bytes.available_permits() * UNIT
    }
}
