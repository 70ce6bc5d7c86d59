//! The long-running service: an event loop wiring the parts below, with shutdown and reload
//! injected by the caller.
//!
//! Everything that happens is an event in one loop: a probe finished, a probe's folder
//! changed, the identity should be looked up, a push is due, a push finished, a reload was
//! asked for or the configuration changed, the watchdog needs a ping, or shutdown began. Each
//! part keeps its own state and decides one thing:
//!
//! * [`probes`] runs the probes (one scheduler task each) and wakes them on demand: a
//!   `files` probe as soon as its folder changes, a burst of changes folded into one
//!   follow-up run ([`held_wakes`]);
//! * [`identity_resolver`] finds the node's identity and client, with retries;
//! * [`push_controller`] decides when to push (coalescing, backoff, timed refreshes);
//!   [`pushing`] starts a push and takes its report back;
//! * [`reloading`] reads the configuration again and switches to it, or refuses it;
//! * [`config_watch`] notices configuration changes;
//! * [`persist`] keeps writing the state while the disk refuses it;
//! * [`report`] writes the status file, STATUS line and metrics;
//! * [`crate::fleet::Runner`] polls fleet parameters; what it stores is applied by reload.
//!
//! Pushes run in a task of their own so that probe results keep flowing while a slow request
//! is in flight; the acknowledged state travels with the push task and comes back with its
//! report.

pub mod allocator;
mod config_watch;
mod fleet;
mod held_wakes;
mod identity_resolver;
mod persist;
mod probes;
mod push_controller;
mod pushing;
mod reloading;
mod report;

use std::path::PathBuf;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::{Instant, sleep_until};
use tokio_util::sync::CancellationToken;

use self::config_watch::ConfigWatch;
use self::identity_resolver::IdentityResolver;
use self::persist::{Persistence, Subject};
use self::probes::ProbeRunner;
use self::push_controller::{PushController, Timing, far_future};
use self::report::Reporter;
use crate::clock::Clock;
use crate::config::{ConfigError, Settings};
use crate::cycle::PushReport;
use crate::identity;
use crate::notify::Notifier;
use crate::outbox::Outbox;
use crate::scheduler::Outcome;
use crate::sender::RetryPolicy;
use crate::state::{self, InstanceState, State};

/// How long an in-flight push may go on after SIGTERM before it is abandoned.
pub const DEFAULT_SHUTDOWN_DEADLINE: Duration = Duration::from_secs(10);
/// Configuration file changes are applied once they have been quiet this long, so an editor
/// writing a file in several steps causes one reload. The watch signals each change at once
/// (src/daemon/config_watch.rs); this is the only wait.
const RELOAD_DEBOUNCE: Duration = Duration::from_millis(500);
/// While the node has no identity, how often the SSM Agent's registration files are looked
/// at: a node registered after boot is picked up within this, whatever the retry backoff.
const REGISTRATION_POLL: Duration = Duration::from_secs(2);

#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    #[error("{0}")]
    Config(#[from] ConfigError),
}

/// What the daemon needs from its caller.
#[derive(Debug, Clone)]
pub struct DaemonOptions {
    pub config_path: PathBuf,
    pub identity_sources: identity::Sources,
    pub shutdown_deadline: Duration,
    /// Where each reload's outcome is written for `ssm-inventoryd reload` (systemd's
    /// `RUNTIME_DIRECTORY`); `None` when nobody waits for it.
    pub runtime_dir: Option<PathBuf>,
    /// The time the daemon goes by: [`Clock::system`] but in tests.
    pub clock: Clock,
}

/// Runs until `shutdown` is cancelled. Each message on `reload` re-reads the configuration.
/// Fails only when the configuration cannot be loaded at start.
pub async fn run(
    options: DaemonOptions,
    shutdown: CancellationToken,
    mut reload: mpsc::Receiver<()>,
) -> Result<(), DaemonError> {
    let settings = crate::fleet::load_with_stored(&options.config_path)?;
    let state = state::load_logged(&settings.agent.state_dir).await;
    let (outcome_tx, mut outcomes) = mpsc::channel::<Outcome>(64);
    let (watch_tx, mut config_changes) = mpsc::channel::<()>(8);
    let (folder_tx, mut folder_changes) = mpsc::channel::<String>(16);
    let clock = options.clock;
    let runtime_dir = options.runtime_dir.clone();
    let mut daemon = Daemon {
        identity: IdentityResolver::new(options.identity_sources.clone(), clock.now()),
        push: PushController::new(Timing::of(&settings.agent)),
        probes: ProbeRunner::new(outcome_tx, folder_tx),
        config_watch: ConfigWatch::new(watch_tx),
        fleet: crate::fleet::Runner::start(&settings, clock),
        options,
        settings,
        clock,
        notifier: Notifier::from_env(),
        outbox: Outbox::default(),
        state: Some(state),
        push_task: None,
        push_cancel: CancellationToken::new(),
        reload_due: None,
        report: Reporter::new(runtime_dir),
        persist: Persistence::of(Subject::State),
        fleet_persist: Persistence::of(Subject::Fleet),
        fleet_held: Vec::new(),
        last_reload: None,
        code_ran_once: true,
    };
    if let Some(dir) = &daemon.options.runtime_dir
        && let Err(e) = crate::reload::write_pid(dir)
    {
        tracing::warn!("{e}; `ssm-inventoryd reload` will need --pid");
    }
    daemon.config_watch.arm(
        &daemon.options.config_path,
        &daemon.settings.agent.probes_dir,
    );
    daemon
        .probes
        .start(&daemon.settings, &mut daemon.outbox, None);
    tracing::info!(
        config = %daemon.options.config_path.display(),
        probes = daemon.settings.probes.len(),
        "ssm-inventoryd started"
    );
    // Ready means initialised: configuration and state loaded, probes scheduled. Waiting for
    // the identity or the network here would fail the start of a node registered after boot,
    // or of any node while SSM is unreachable; delivery problems go to STATUS instead.
    daemon.notifier.ready(&format!(
        "started; {} probes scheduled, waiting for their first results",
        daemon.settings.probes.len()
    ));
    let mut registration_poll = tokio::time::interval(REGISTRATION_POLL);
    registration_poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);

    let mut watchdog = Notifier::watchdog_interval().map(tokio::time::interval);
    loop {
        let watchdog_tick = async {
            match watchdog.as_mut() {
                Some(interval) => {
                    interval.tick().await;
                }
                None => std::future::pending().await,
            }
        };
        let identity_retry = daemon.identity.retry_at();
        let push_due = daemon.push.due().filter(|_| daemon.push_task.is_none());
        // Folder changes held back wait for the push in flight, which releases them as it ends.
        let held_due = daemon
            .probes
            .held_due()
            .filter(|_| daemon.push_task.is_none());
        // While the push task holds the state it writes it itself.
        let persist_retry = daemon.persist.retry_at().filter(|_| daemon.state.is_some());
        let fleet_retry = daemon
            .fleet_persist
            .retry_at()
            .filter(|_| !daemon.fleet_held.is_empty());
        tokio::select! {
            _ = shutdown.cancelled() => break,
            Some(outcome) = outcomes.recv() => daemon.on_outcome(outcome).await,
            Some(probe) = folder_changes.recv() => {
                let now = daemon.clock.now();
                daemon.probes.folder_changed(probe, now, daemon.push_task.is_some());
            }
            _ = sleep_until(held_due.unwrap_or_else(far_future)), if held_due.is_some() => {
                daemon.probes.release_held(daemon.clock.now(), false);
            }
            _ = sleep_until(identity_retry.unwrap_or_else(far_future)), if identity_retry.is_some() => {
                daemon.resolve_identity().await;
            }
            _ = sleep_until(push_due.unwrap_or_else(far_future)), if push_due.is_some() => {
                daemon.start_push().await;
            }
            _ = sleep_until(persist_retry.unwrap_or_else(far_future)), if persist_retry.is_some() => {
                daemon.persist_again().await;
            }
            _ = sleep_until(fleet_retry.unwrap_or_else(far_future)), if fleet_retry.is_some() => {
                daemon.store_fleet_again().await;
            }
            Some(joined) = join(&mut daemon.push_task) => {
                daemon.push_task = None;
                daemon.on_push_done(joined).await;
            }
            Some(()) = reload.recv() => daemon.reload().await,
            event = daemon.fleet.next() => daemon.on_fleet_event(event).await,
            Some(()) = config_changes.recv() => {
                daemon.reload_due = Some(daemon.clock.now() + RELOAD_DEBOUNCE);
            }
            _ = sleep_until(daemon.reload_due.unwrap_or_else(far_future)), if daemon.reload_due.is_some() => {
                daemon.reload_due = None;
                daemon.reload().await;
            }
            _ = watchdog_tick => daemon.notifier.watchdog(),
            _ = registration_poll.tick(), if daemon.identity.identity().is_none() => {
                daemon.identity.check_registration(daemon.clock.now()).await;
            }
        }
    }

    daemon.stop().await;
    Ok(())
}

type PushTask = JoinHandle<(State, PushReport)>;

/// The push task's end, or `None` at once when no push is running (the `select!` arm is then
/// disabled by its pattern).
async fn join(
    task: &mut Option<PushTask>,
) -> Option<Result<(State, PushReport), tokio::task::JoinError>> {
    match task {
        Some(task) => Some(task.await),
        None => None,
    }
}

struct Daemon {
    options: DaemonOptions,
    settings: Settings,
    clock: Clock,
    notifier: Notifier,
    outbox: Outbox,
    probes: ProbeRunner,
    identity: IdentityResolver,
    push: PushController,
    /// `None` while a push task holds it.
    state: Option<State>,
    push_task: Option<PushTask>,
    push_cancel: CancellationToken,
    reload_due: Option<Instant>,
    config_watch: ConfigWatch,
    report: Reporter,
    persist: Persistence,
    /// Writing fleet versions that passed but that the store refused.
    fleet_persist: Persistence,
    /// Those versions: they run from memory until the store takes them.
    fleet_held: Vec<crate::fleet::store::Stored>,
    fleet: crate::fleet::Runner,
    /// How the last reload ended (applied, and what it said), for the answer to
    /// `reload --fleet` when the versions it fetched were applied by a reload.
    last_reload: Option<(bool, String)>,
    /// Code that runs once (a start, a reload) has run since the last push: the next push's
    /// end gives its pages back (see [`resident`]), as a large push's end does.
    code_ran_once: bool,
}

impl Daemon {
    async fn on_outcome(&mut self, outcome: Outcome) {
        let (failed, bytes) = match &outcome.result {
            Ok(collection) => (
                !collection.errors.is_empty(),
                collection.items.iter().map(|i| i.content_bytes()).sum(),
            ),
            Err(e) => {
                tracing::warn!(probe = %outcome.probe, "{e}; keeping its last good items");
                (true, 0)
            }
        };
        self.report.metrics.record_probe_run(&outcome.probe, failed);
        self.report
            .write_metrics(self.settings.agent.metrics_file.clone())
            .await;
        let changed = self.outbox.record(outcome);
        // A new run of a quarantined item with the same content would otherwise hold its
        // share of the probe budget until the next push; the service has answered for it.
        // (Acknowledged content is let go after pushes only: a run may have just collected
        // content the service lost, which the next push must send.)
        let acknowledged = match (self.identity.identity(), self.state.as_ref()) {
            (Some(identity), Some(state)) => state.instance(&identity.instance_id),
            _ => None,
        };
        self.outbox.release_refused(acknowledged);
        if changed {
            self.request_push();
        }
        // The run's transient memory (file bytes, parsed JSON, the rows of an unchanged item
        // just replaced) has been freed by now. A large run, a failed one (a refused output
        // may have been megabytes) or a change (items replaced, perhaps large ones gone)
        // leaves enough to be worth handing back; an unchanged small run frees only what the
        // next one reuses, and trimming after each spent idle CPU for nothing.
        if failed || changed || bytes >= allocator::WORTH_TRIMMING {
            allocator::release_freed();
        }
        if !self.outbox.all_ran() {
            // The first push waits for every probe's first run, so READY means "all of it".
            return;
        }
        if self.push.due().is_none() && self.push_task.is_none() && !self.push.first_done() {
            self.request_push();
        }
    }

    fn request_push(&mut self) {
        let now = self.clock.now();
        self.push
            .request(now, Duration::ZERO, self.identity.instance_id());
    }

    fn acknowledged(&self) -> Option<&InstanceState> {
        let identity = self.identity.identity()?;
        self.state.as_ref()?.instance(&identity.instance_id)
    }

    async fn resolve_identity(&mut self) {
        match self
            .identity
            .resolve(&self.settings.agent, self.clock.now())
            .await
        {
            Ok(identity) => {
                if self.probes.need_restart_for(&self.settings, identity) {
                    // Folders named after the instance ID can only be read now.
                    let identity = identity.clone();
                    self.probes
                        .start(&self.settings, &mut self.outbox, Some(&identity));
                }
                if self.outbox.all_ran() {
                    self.request_push();
                }
            }
            Err(e) => self.notifier.status(&format!("no identity: {e}")),
        }
        self.connect_fleet();
    }

    /// What the reports say about writing the state and the fleet store: STATUS and the
    /// status file each, the metrics both together.
    fn record_persistence(&mut self) {
        self.report.persist_failing = self.persist.failing().map(str::to_owned);
        self.report.fleet_persist_failing = self.fleet_persist.failing().map(str::to_owned);
        self.report.metrics.record_persistence(
            self.persist.failing().is_some() || self.fleet_persist.failing().is_some(),
            self.persist.write_failures + self.fleet_persist.write_failures,
        );
    }

    fn persist_backoff(&self) -> crate::backoff::Backoff {
        let retry = RetryPolicy::of(&self.settings.agent);
        crate::backoff::Backoff::new(retry.base, retry.cap)
    }

    /// Writes the state again after a failed write; on success everything acknowledged in the
    /// meantime is on disk.
    async fn persist_again(&mut self) {
        let Some(state) = self.state.clone() else {
            return;
        };
        let dir = self.settings.agent.state_dir.clone();
        let saved = tokio::task::spawn_blocking({
            let dir = dir.clone();
            move || state.save(&dir)
        })
        .await;
        let now = self.clock.now();
        match saved {
            Ok(Ok(())) => self.persist.saved(&dir),
            Ok(Err(e)) => {
                let backoff = self.persist_backoff();
                self.persist.failed(&e.to_string(), now, backoff);
            }
            Err(e) => {
                let backoff = self.persist_backoff();
                self.persist.failed(
                    &format!("saving the state stopped unexpectedly: {e}"),
                    now,
                    backoff,
                );
            }
        }
        self.record_persistence();
        self.report
            .write_metrics(self.settings.agent.metrics_file.clone())
            .await;
        if self.persist.failing().is_none() {
            let (dir, now) = (self.settings.agent.state_dir.clone(), self.clock.now_utc());
            self.report.rewrite_status(dir, now).await;
        }
        let line = self.report.status_line(self.acknowledged());
        self.notifier.status(&line);
    }

    /// Stops scheduling, lets an in-flight push finish within the deadline, persists state.
    async fn stop(mut self) {
        self.notifier.stopping();
        self.fleet.stop();
        self.probes.stop();
        self.config_watch.stop();
        if let Some(mut task) = self.push_task.take() {
            tracing::info!(
                "waiting up to {} for the push in flight",
                humantime::format_duration(self.options.shutdown_deadline)
            );
            let finished = tokio::time::timeout(self.options.shutdown_deadline, &mut task).await;
            match finished {
                Ok(Ok((state, report))) => {
                    self.write_status(&report).await;
                    self.state = Some(state);
                }
                Ok(Err(e)) => tracing::error!("the push in flight stopped unexpectedly: {e}"),
                Err(_) => {
                    // Its acknowledgements are lost, which only means a resend next time.
                    tracing::warn!("the push in flight did not finish in time; abandoning it");
                    self.push_cancel.cancel();
                    task.abort();
                }
            }
        }
        if let Some(state) = self.state.take() {
            let dir = self.settings.agent.state_dir.clone();
            match tokio::task::spawn_blocking(move || state.save(&dir)).await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => tracing::error!("{e}"),
                Err(e) => tracing::error!("saving the state stopped unexpectedly: {e}"),
            }
        }
        tracing::info!("ssm-inventoryd stopped");
    }
}
