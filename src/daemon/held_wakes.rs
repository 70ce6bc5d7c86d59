//! When a `files` probe runs again after its folder changed: at once for a lone change, once
//! for a whole burst.
//!
//! The folder watch signals each change without waiting (src/watch.rs), so that one change
//! reaches the service in the time of one run and one push. A burst of changes must not cost
//! a run and a push per write, though, so a change is held back when
//! * a push is in flight: the push could not carry the run's result, and the next push
//!   cannot start before it ends anyway, so holding costs the service nothing;
//! * the probe ran for a change less than `spacing` ago: the writer may well be in the middle
//!   of a burst (a package install, configuration management writing file after file).
//!
//! Held changes are released together, one run per probe, when both have passed. That run
//! reads the folder after the last change it stands for, so the push that follows carries
//! the final content: no update is lost. A burst shorter than `spacing` thus costs two runs
//! and two pushes (the first change's and one follow-up), and a lone change is not delayed at
//! all. A change that comes while the probe is running is folded by the scheduler's wake-up
//! channel in the same way (src/scheduler.rs).
//!
//! Time comes in as arguments, so this is tested on plain instants.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use tokio::time::Instant;

#[derive(Debug)]
pub struct HeldWakes {
    spacing: Duration,
    /// When each probe was last woken for a change.
    last_woken: HashMap<String, Instant>,
    /// The held probes, each with the earliest time it may run (a push in flight aside).
    held: BTreeMap<String, Instant>,
}

impl HeldWakes {
    /// Runs for changes to one probe's folder are at least `spacing` apart.
    pub fn new(spacing: Duration) -> HeldWakes {
        HeldWakes {
            spacing,
            last_woken: HashMap::new(),
            held: BTreeMap::new(),
        }
    }

    /// `probe`'s folder changed at `now`. Returns the probe to wake now, or `None` when the
    /// change is held for [`HeldWakes::release`]; a probe is held once however many changes
    /// arrive.
    pub fn changed(&mut self, probe: String, now: Instant, push_in_flight: bool) -> Option<String> {
        if self.held.contains_key(&probe) {
            return None;
        }
        let at = self
            .last_woken
            .get(&probe)
            .map_or(now, |last| *last + self.spacing);
        if push_in_flight || at > now {
            self.held.insert(probe, at);
            return None;
        }
        self.last_woken.insert(probe.clone(), now);
        Some(probe)
    }

    /// When the next held probe may run, if any is held: the daemon calls
    /// [`HeldWakes::release`] then, or when the push in flight ends, whichever is later.
    pub fn due(&self) -> Option<Instant> {
        self.held.values().min().copied()
    }

    /// The held probes that may run at `now` (none while a push is in flight), each once.
    pub fn release(&mut self, now: Instant, push_in_flight: bool) -> Vec<String> {
        if push_in_flight {
            return Vec::new();
        }
        let ready: Vec<String> = self
            .held
            .iter()
            .filter(|(_, at)| **at <= now)
            .map(|(probe, _)| probe.clone())
            .collect();
        for probe in &ready {
            self.held.remove(probe);
            self.last_woken.insert(probe.clone(), now);
        }
        ready
    }

    /// The probes are starting again (a reload), each with a run of its own: nothing need
    /// wait any more.
    pub fn clear(&mut self) {
        self.held.clear();
        self.last_woken.clear();
    }
}

#[cfg(test)]
mod tests;
