//! The daemon-wide bound on what probes hold: at most `max_concurrent_probes` runs at once,
//! and at most `probe_output_budget` bytes held by the runs in flight and the items waiting to
//! be delivered, together.
//!
//! A run reserves what it may hold (an exec probe its `max_output_bytes`, a `files` probe one
//! file's limit, a `system` probe [`SYSTEM_RESERVE_BYTES`]) before it starts; a run that could
//! hold more than is left waits its turn, and is never failed for it. When the run ends its
//! reservation is given back, and each item it produced holds the bytes of its Content instead
//! ([`RunPermit::hold`]) until that Content is let go — acknowledged by the service, replaced by
//! a newer run, refused by the service (a quarantined item releases its hold: the service will
//! not take it, and waiting on it would stop every other probe). So a burst of large outputs
//! (every probe due at once after a start or a reload) is taken in turns, each turn admitted
//! as the previous one's items are delivered, rather than all held at once. While nothing can
//! be delivered (an outage, missing permissions, no identity yet), at most the budget's worth
//! of items waits, and runs that would hold more wait with them: their output could not be
//! delivered either, and they run as soon as the waiting items are. `collect` and `once` do
//! not hold items (they print or send everything at the end of one round).
//!
//! Everything is given back however a run ends: the permit is dropped with the run's future
//! (success, failure, timeout or cancellation), a hold with the last copy of its item's
//! Content. Waiting is first come, first served, so a large run is not starved by small ones
//! passing it; a waiting run that is cancelled (a reload) leaves the queue. One run never
//! reserves more than the whole budget (validation refuses an exec probe whose
//! `max_output_bytes` is larger; other kinds are clamped), so a run can always start once the
//! others are done and their items delivered.

use std::any::Any;
use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::Notify;

use crate::config::AgentSettings;
use crate::config::defaults::{DEFAULT_MAX_CONCURRENT_PROBES, DEFAULT_PROBE_OUTPUT_BUDGET};
use crate::inventory::Item;

/// What a `system` probe reserves: its collectors read a few small files under `/proc` and
/// `/sys`, far below this.
pub const SYSTEM_RESERVE_BYTES: usize = 1024 * 1024;

/// Shared by every run of one configuration; cheap to clone.
#[derive(Debug, Clone)]
pub struct RunLimiter {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    state: Mutex<State>,
    /// Woken whenever a run slot or bytes are given back, or the queue's head leaves.
    changed: Notify,
}

#[derive(Debug, Default)]
struct State {
    max_runs: usize,
    budget: usize,
    runs: usize,
    /// Bytes reserved by the runs in flight.
    reserved: usize,
    /// Bytes held by items' Content.
    held: usize,
    /// Tickets of the runs waiting, in the order they came.
    queue: VecDeque<u64>,
    next_ticket: u64,
}

impl Inner {
    /// The state, whatever a panicking holder left: every change to it is one or two
    /// additions that cannot panic, so it is consistent.
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// Held while a run is in flight; dropping it gives back the run slot and the bytes.
#[derive(Debug)]
pub struct RunPermit {
    inner: Arc<Inner>,
    reserved: usize,
}

/// Bytes of one item's Content, counted in the budget until the item's last copy with its
/// Content is gone.
#[derive(Debug)]
struct Hold {
    inner: Arc<Inner>,
    bytes: usize,
}

/// A run's place in the queue, left when the run is admitted or stops waiting.
struct Waiting<'a> {
    inner: &'a Inner,
    ticket: u64,
}

impl Default for RunLimiter {
    /// The defaults of `[agent]`.
    fn default() -> RunLimiter {
        RunLimiter::new(DEFAULT_MAX_CONCURRENT_PROBES, DEFAULT_PROBE_OUTPUT_BUDGET)
    }
}

impl RunLimiter {
    /// At most `max_runs` runs (at least 1), and at most `budget_bytes` (at least 1) held.
    pub fn new(max_runs: usize, budget_bytes: usize) -> RunLimiter {
        let limiter = RunLimiter {
            inner: Arc::new(Inner {
                state: Mutex::new(State::default()),
                changed: Notify::new(),
            }),
        };
        limiter.set_limits(max_runs, budget_bytes);
        limiter
    }

    /// The limiter `[agent]` describes.
    pub fn from_settings(agent: &AgentSettings) -> RunLimiter {
        RunLimiter::new(agent.max_concurrent_probes, agent.probe_output_budget)
    }

    /// Takes new limits (a reload), keeping what runs and items hold now: items waiting
    /// across a reload still count.
    pub fn set_limits(&self, max_runs: usize, budget_bytes: usize) {
        {
            let mut state = self.inner.lock();
            state.max_runs = max_runs.max(1);
            state.budget = budget_bytes.max(1);
        }
        self.inner.changed.notify_waiters();
    }

    /// [`RunLimiter::set_limits`] from `[agent]`.
    pub fn configure(&self, agent: &AgentSettings) {
        self.set_limits(agent.max_concurrent_probes, agent.probe_output_budget);
    }

    /// Waits until this run is first in line, a run slot is free and `reserve_bytes`
    /// (clamped to the whole budget) fit beside what runs and items hold, and takes them.
    pub async fn acquire(&self, reserve_bytes: usize) -> RunPermit {
        let inner = &*self.inner;
        let waiting = {
            let mut state = inner.lock();
            let ticket = state.next_ticket;
            state.next_ticket += 1;
            state.queue.push_back(ticket);
            Waiting { inner, ticket }
        };
        loop {
            // Registered before the state is looked at, so a change in between still wakes it.
            let changed = inner.changed.notified();
            tokio::pin!(changed);
            changed.as_mut().enable();
            {
                let mut state = inner.lock();
                let reserve = reserve_bytes.clamp(1, state.budget);
                let first = state.queue.front() == Some(&waiting.ticket);
                let fits = state.reserved + state.held + reserve <= state.budget;
                if first && state.runs < state.max_runs && fits {
                    state.queue.pop_front();
                    state.runs += 1;
                    state.reserved += reserve;
                    drop(state);
                    std::mem::forget(waiting);
                    // The next in line may fit too.
                    inner.changed.notify_waiters();
                    return RunPermit {
                        inner: self.inner.clone(),
                        reserved: reserve,
                    };
                }
            }
            changed.await;
        }
    }

    /// Run slots free now.
    pub fn available_runs(&self) -> usize {
        let state = self.inner.lock();
        state.max_runs.saturating_sub(state.runs)
    }

    /// Bytes of the budget free now.
    pub fn available_bytes(&self) -> usize {
        let state = self.inner.lock();
        state.budget.saturating_sub(state.reserved + state.held)
    }

    /// Runs waiting for their turn now.
    pub fn waiting(&self) -> usize {
        self.inner.lock().queue.len()
    }

    /// Bytes held by items' Content now.
    pub fn held_bytes(&self) -> usize {
        self.inner.lock().held
    }
}

impl RunPermit {
    /// Ends the run: each of `items` that has its Content holds that Content's bytes in the
    /// budget from now on, and the run's reservation is given back. The holds are counted
    /// before the reservation goes, so that no other run is admitted in between on bytes the
    /// items still take.
    pub fn hold(self, items: &mut [Item]) {
        for item in items.iter_mut().filter(|item| item.has_content()) {
            let bytes = item.content_bytes();
            self.inner.lock().held += bytes;
            let hold: Arc<dyn Any + Send + Sync> = Arc::new(Hold {
                inner: self.inner.clone(),
                bytes,
            });
            item.set_hold(hold);
        }
    }
}

impl Drop for RunPermit {
    fn drop(&mut self) {
        {
            let mut state = self.inner.lock();
            state.runs = state.runs.saturating_sub(1);
            state.reserved = state.reserved.saturating_sub(self.reserved);
        }
        self.inner.changed.notify_waiters();
    }
}

impl Drop for Hold {
    fn drop(&mut self) {
        {
            let mut state = self.inner.lock();
            state.held = state.held.saturating_sub(self.bytes);
        }
        self.inner.changed.notify_waiters();
    }
}

impl Drop for Waiting<'_> {
    /// A run that stops waiting (cancelled by a reload or the daemon's stop) leaves the queue,
    /// so the one behind it can become first.
    fn drop(&mut self) {
        {
            let mut state = self.inner.lock();
            state.queue.retain(|&t| t != self.ticket);
        }
        self.inner.changed.notify_waiters();
    }
}

#[cfg(test)]
mod tests;
