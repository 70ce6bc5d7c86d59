//! The running probes: one scheduler task per probe, each with a wake-up channel fed by the
//! daemon: when its folder watch (`files` probes) reports a change, and when the service needs
//! content that was let go.
//!
//! Folder changes come to the daemon first, by probe name, rather than straight to the
//! scheduler, so that a burst of them can be folded into one follow-up run and push
//! (src/daemon/held_wakes.rs) while a lone change runs the probe at once.

use std::collections::HashMap;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::held_wakes::HeldWakes;
use crate::config::Settings;
use crate::identity::Identity;
use crate::outbox::Outbox;
use crate::probe::{CollectContext, Probe, RunLimiter};
use crate::scheduler::{self, Admission, Outcome, Schedule};

/// Runs of a probe for changes to its folder are at least this far apart: a burst shorter
/// than this (files written one after another) costs the change that started it and one
/// follow-up, whatever `min_push_interval` allows, and the last change of a longer one waits
/// at most this long. A lone change is not delayed by it. Before, every change waited for a
/// 300 ms debounce; this keeps the follow-up within the 100 ms a lone change is held to.
const WATCH_RUN_SPACING: Duration = Duration::from_millis(100);

#[derive(Debug)]
pub struct ProbeRunner {
    outcomes: mpsc::Sender<Outcome>,
    /// Where the folder watches report a change, by probe name.
    changes: mpsc::Sender<String>,
    cancel: CancellationToken,
    /// Makes a probe run now, by name.
    wakers: HashMap<String, mpsc::Sender<()>>,
    /// Folder changes waiting for the push in flight.
    held: HeldWakes,
    /// The instance ID the running probes were given, if any.
    instance_id: Option<String>,
    /// One for the daemon's life, its limits taken from each configuration: items waiting
    /// for delivery across a reload still count in it.
    limiter: RunLimiter,
    /// Where the grid every probe's runs start on begins ([`Schedule::grid`]): one for the
    /// daemon's life, so that probes started again by a reload keep sharing it.
    grid: Instant,
}

impl ProbeRunner {
    /// Probes started later send their outcomes to `outcomes`, and their folder watches the
    /// probe's name to `changes`, for [`ProbeRunner::folder_changed`].
    pub fn new(outcomes: mpsc::Sender<Outcome>, changes: mpsc::Sender<String>) -> ProbeRunner {
        ProbeRunner {
            outcomes,
            changes,
            cancel: CancellationToken::new(),
            wakers: HashMap::new(),
            held: HeldWakes::new(WATCH_RUN_SPACING),
            instance_id: None,
            limiter: RunLimiter::default(),
            grid: Instant::now(),
        }
    }

    /// (Re)starts one scheduler task per configured probe, stopping those running, and
    /// gives `outbox` the new probe list. The tasks share the one [`RunLimiter`], with the
    /// configuration's limits; runs stopped here give their permits back as they end.
    pub fn start(&mut self, settings: &Settings, outbox: &mut Outbox, identity: Option<&Identity>) {
        self.stop();
        self.cancel = CancellationToken::new();
        self.wakers.clear();
        self.held.clear();
        let probes: Vec<Probe> = settings.probes.iter().map(Probe::from_settings).collect();
        outbox.set_probes(&probes);
        let ctx = match identity {
            Some(identity) => CollectContext::with_instance_id(identity.instance_id.clone()),
            None => CollectContext::default(),
        };
        self.instance_id = ctx.instance_id.clone();
        self.limiter.configure(&settings.agent);
        let limiter = self.limiter.clone();
        for (probe, settings) in probes.into_iter().zip(&settings.probes) {
            let (wake_tx, wake) = mpsc::channel::<()>(1);
            match probe.watch(&ctx) {
                Ok(Some(watch)) => {
                    crate::watch::forward(
                        watch,
                        self.changes.clone(),
                        probe.name().to_string(),
                        self.cancel.child_token(),
                    );
                }
                Ok(None) => {}
                Err(e) => {
                    tracing::warn!("{e}; its folder is read on the probe's interval only");
                }
            }
            self.wakers.insert(probe.name().to_string(), wake_tx);
            let schedule = Schedule {
                interval: settings.interval,
                splay: settings.splay,
                timeout: settings.timeout,
                grid: Some(self.grid),
            };
            let name = probe.name().to_string();
            let admission = Admission {
                limiter: limiter.clone(),
                reserve_bytes: probe.reserve_bytes(),
                hold_items: probe.is_exec(),
            };
            let ctx = ctx.clone();
            let run = move || {
                let probe = probe.clone();
                let ctx = ctx.clone();
                async move { probe.collect_detailed(&ctx).await }
            };
            tokio::spawn(scheduler::run_probe(
                name,
                schedule,
                admission,
                run,
                self.outcomes.clone(),
                Some(wake),
                self.cancel.child_token(),
            ));
        }
    }

    /// Whether the probes must start again now that the identity is known: a probe reading a
    /// folder named after the instance ID could not before.
    pub fn need_restart_for(&self, settings: &Settings, identity: &Identity) -> bool {
        self.instance_id.as_deref() != Some(identity.instance_id.as_str())
            && settings
                .probes
                .iter()
                .any(|p| Probe::from_settings(p).needs_instance_id())
    }

    /// `probe`'s folder changed at `now`: it runs now (a run in progress is followed by one
    /// more), or is held while a push is in flight or its last run for a change was less
    /// than [`WATCH_RUN_SPACING`] ago ([`ProbeRunner::release_held`]).
    pub fn folder_changed(&mut self, probe: String, now: Instant, push_in_flight: bool) {
        if let Some(probe) = self.held.changed(probe, now, push_in_flight) {
            self.wake(&[probe]);
        }
    }

    /// When a held probe may run next, a push in flight aside.
    pub fn held_due(&self) -> Option<Instant> {
        self.held.due()
    }

    /// Runs the held probes whose time has come, unless a push is in flight.
    pub fn release_held(&mut self, now: Instant, push_in_flight: bool) {
        let probes = self.held.release(now, push_in_flight);
        self.wake(&probes);
    }

    /// Makes the named probes run now; a probe already running runs once more after that.
    pub fn wake(&self, probes: &[String]) {
        for probe in probes {
            if let Some(waker) = self.wakers.get(probe) {
                let _ = waker.try_send(());
            }
        }
    }

    pub fn stop(&self) {
        self.cancel.cancel();
    }
}
