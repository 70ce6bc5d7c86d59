//! The running probes: one scheduler task per probe, each with a wake-up channel fed by its
//! folder watch (`files` probes) and by the daemon (when the service needs content that was
//! let go).

use std::collections::HashMap;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::config::Settings;
use crate::identity::Identity;
use crate::outbox::Outbox;
use crate::probe::{CollectContext, Probe, RunLimiter};
use crate::scheduler::{self, Admission, Outcome, Schedule};

/// A files probe's folder may change in bursts (an editor, a package install); one run
/// after the burst is enough.
const WATCH_DEBOUNCE: Duration = Duration::from_millis(300);

#[derive(Debug)]
pub struct ProbeRunner {
    outcomes: mpsc::Sender<Outcome>,
    cancel: CancellationToken,
    /// Makes a probe run now, by name.
    wakers: HashMap<String, mpsc::Sender<()>>,
    /// The instance ID the running probes were given, if any.
    instance_id: Option<String>,
    /// One for the daemon's life, its limits taken from each configuration: items waiting
    /// for delivery across a reload still count in it.
    limiter: RunLimiter,
}

impl ProbeRunner {
    /// Probes started later send their outcomes to `outcomes`.
    pub fn new(outcomes: mpsc::Sender<Outcome>) -> ProbeRunner {
        ProbeRunner {
            outcomes,
            cancel: CancellationToken::new(),
            wakers: HashMap::new(),
            instance_id: None,
            limiter: RunLimiter::default(),
        }
    }

    /// (Re)starts one scheduler task per configured probe, stopping those running, and
    /// gives `outbox` the new probe list. The tasks share the one [`RunLimiter`], with the
    /// configuration's limits; runs stopped here give their permits back as they end.
    pub fn start(&mut self, settings: &Settings, outbox: &mut Outbox, identity: Option<&Identity>) {
        self.stop();
        self.cancel = CancellationToken::new();
        self.wakers.clear();
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
            match probe.watch(&ctx, WATCH_DEBOUNCE) {
                Ok(Some(watch)) => {
                    crate::watch::forward(watch, wake_tx.clone(), self.cancel.child_token());
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

    /// Makes the named probes run now.
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
