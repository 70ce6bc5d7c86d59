//! The long-running service: wiring of scheduler → outbox → push, reloads, shutdown and
//! systemd notifications.
//!
//! Everything that happens is an event in one loop: a probe finished, a push is due, a push
//! finished, a reload was asked for, the watchdog needs a ping, or shutdown began. Pushes run
//! in a task of their own so that probe results keep flowing while a slow request is in
//! flight; the acknowledged state travels with the push task and comes back with its report.

use std::path::{Path, PathBuf};
use std::time::Duration;

use aws_sdk_ssm::Client;
use time::OffsetDateTime;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::{Instant, sleep_until};
use tokio_util::sync::CancellationToken;

use crate::batch::Budget;
use crate::config::{self, ConfigError, Settings};
use crate::cycle::{self, PushOptions, PushReport};
use crate::identity::{self, Identity};
use crate::notify::Notifier;
use crate::outbox::Outbox;
use crate::plan::Intervals;
use crate::probe::{CollectContext, Probe};
use crate::scheduler::{self, Outcome, Schedule};
use crate::sender::{RetryPolicy, client};
use crate::state::{self, State};
use crate::status::{ProbeErrorEntry, PushSummary, RuntimeStatus, TypeReason};

/// How long an in-flight push may go on after SIGTERM before it is abandoned.
pub const DEFAULT_SHUTDOWN_DEADLINE: Duration = Duration::from_secs(10);
/// Longest wait while the service refuses this node's instance ID.
const INSTANCE_INVALID_BACKOFF_CAP: Duration = Duration::from_secs(3600);
const INSTANCE_INVALID_BACKOFF_START: Duration = Duration::from_secs(60);
/// Identity discovery is retried from this delay, doubling, up to five minutes.
const IDENTITY_RETRY_START: Duration = Duration::from_secs(5);
const IDENTITY_RETRY_CAP: Duration = Duration::from_secs(300);
/// Configuration file changes are applied once they have been quiet this long, so an editor
/// writing a file in several steps causes one reload.
const RELOAD_DEBOUNCE: Duration = Duration::from_millis(500);
/// While the node has no identity, how often the SSM Agent's registration files are looked
/// at: a node registered after boot is picked up within this, whatever the retry backoff.
const REGISTRATION_POLL: Duration = Duration::from_secs(2);
/// A files probe's folder may change in bursts (an editor, a package install); one run
/// after the burst is enough.
const WATCH_DEBOUNCE: Duration = Duration::from_millis(300);

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
}

/// Runs until `shutdown` is cancelled. Each message on `reload` re-reads the configuration.
/// Fails only when the configuration cannot be loaded at start.
pub async fn run(
    options: DaemonOptions,
    shutdown: CancellationToken,
    mut reload: mpsc::Receiver<()>,
) -> Result<(), DaemonError> {
    let settings = config::load(&options.config_path)?;
    allocator::limit_arenas();
    let notifier = Notifier::from_env();
    let state = state::load_logged(&settings.agent.state_dir).await;
    let (outcome_tx, mut outcomes) = mpsc::channel::<Outcome>(64);
    let (watch_tx, mut watch_events) = mpsc::channel::<()>(8);
    let mut daemon = Daemon {
        options,
        settings,
        notifier,
        outbox: Outbox::default(),
        probes_cancel: CancellationToken::new(),
        outcome_tx,
        identity: None,
        identity_failures: 0,
        identity_retry_at: Some(Instant::now()),
        client: None,
        credentials_source: client::CredentialsSource::DefaultChain,
        state: Some(state),
        push_due: None,
        push_task: None,
        push_cancel: CancellationToken::new(),
        last_push_end: None,
        transient_failures: 0,
        instance_invalid_failures: 0,
        first_push_done: false,
        registration_stamp: None,
        reload_due: None,
        last_status: RuntimeStatus::default(),
        probes_context: None,
        wakers: std::collections::HashMap::new(),
        config_watch_tx: watch_tx,
        config_watch: CancellationToken::new(),
        metrics: crate::metrics::Metrics::default(),
    };
    daemon.watch_config();
    daemon.start_probes();
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
        let push_running = daemon.push_task.is_some();
        tokio::select! {
            _ = shutdown.cancelled() => break,
            Some(outcome) = outcomes.recv() => daemon.on_outcome(outcome).await,
            _ = sleep_until(daemon.identity_retry_at.unwrap_or_else(far_future)), if daemon.identity_retry_at.is_some() => {
                daemon.resolve_identity().await;
            }
            _ = sleep_until(daemon.push_due.unwrap_or_else(far_future)), if daemon.push_due.is_some() && !push_running => {
                daemon.start_push();
            }
            joined = async { daemon.push_task.as_mut().expect("guarded by push_running").await }, if push_running => {
                daemon.push_task = None;
                daemon.on_push_done(joined).await;
            }
            Some(()) = reload.recv() => daemon.reload().await,
            Some(()) = watch_events.recv() => {
                daemon.reload_due = Some(Instant::now() + RELOAD_DEBOUNCE);
            }
            _ = sleep_until(daemon.reload_due.unwrap_or_else(far_future)), if daemon.reload_due.is_some() => {
                daemon.reload_due = None;
                daemon.reload().await;
            }
            _ = watchdog_tick => daemon.notifier.watchdog(),
            _ = registration_poll.tick(), if daemon.identity.is_none() => {
                daemon.check_registration().await;
            }
        }
    }

    daemon.stop().await;
    Ok(())
}

/// The delay a node adds before each push, within `splay`: a fixed slot per instance ID (so a
/// fleet spreads out deterministically) plus a random part of up to half the splay (so two
/// nodes with colliding slots still part), wrapped around the end of the window.
///
/// The wrap matters: a slot uniform over the window plus anything, modulo the window, is still
/// uniform, so a fleet's pushes arrive at an even rate across the whole splay. Adding a fixed
/// half and a random half without wrapping gives a triangular distribution instead, with twice
/// the average rate in the middle of the window — measured with `examples/fleet.rs` at 2,000
/// nodes against a 50 TPS limit, that throttled 2.7 requests per delivered one and stretched
/// each round to 2.3× its ideal length (see BENCHMARKS.md).
///
/// Public so the fleet simulation paces its agents with exactly this formula.
pub fn fleet_splay(instance_id: &str, splay: Duration) -> Duration {
    if splay.is_zero() {
        return Duration::ZERO;
    }
    let unit = (fleet_slot(instance_id) + rand::random::<f64>() / 2.0).fract();
    splay.mul_f64(unit)
}

/// A node's fixed place in the splay window, in [0, 1): from the MD5 of its instance ID, a
/// specified hash, so a node keeps its slot whatever toolchain built the daemon (the
/// standard library's hasher may change between releases).
fn fleet_slot(instance_id: &str) -> f64 {
    use md5::{Digest, Md5};
    let digest = Md5::digest(instance_id.as_bytes());
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    (u64::from_be_bytes(first) % 10_000) as f64 / 10_000.0
}

/// How the daemon keeps glibc's malloc from holding on to memory it no longer uses.
///
/// A large item (a 10,000-row file) costs tens of MB while it is read, parsed, hashed and
/// sent, all of it freed afterwards; glibc keeps freed memory for reuse, in one arena per
/// thread that allocated, so without this the daemon stays at its high-water mark (measured
/// by `benches/footprint.sh`: 118 MB resident after such a push, still 118 MB after the file
/// was removed; 14 MB with this, see BENCHMARKS.md). Fewer arenas spread less, and
/// `malloc_trim` hands free pages back after each probe run and each push. No-ops with other C
/// libraries.
mod allocator {
    /// At most two malloc arenas for the threads started from now on (tokio's blocking
    /// threads run the probes).
    pub fn limit_arenas() {
        #[cfg(all(target_os = "linux", target_env = "gnu"))]
        // SAFETY: mallopt only changes a malloc tuning parameter; any value is accepted.
        unsafe {
            libc::mallopt(libc::M_ARENA_MAX, 2);
        }
    }

    /// Returns the free pages of every arena to the system.
    pub fn release_freed() {
        #[cfg(all(target_os = "linux", target_env = "gnu"))]
        // SAFETY: malloc_trim only releases memory malloc holds free; it is thread-safe.
        unsafe {
            libc::malloc_trim(0);
        }
    }
}

/// Passes a folder watch's signals on to `to` until `cancel` fires or the watch ends.
fn forward_changes(
    mut changes: mpsc::Receiver<()>,
    to: mpsc::Sender<()>,
    cancel: CancellationToken,
) {
    tokio::spawn(async move {
        loop {
            tokio::select! {
                _ = cancel.cancelled() => return,
                change = changes.recv() => match change {
                    // A full channel already means "soon"; one more says nothing new.
                    Some(()) => { let _ = to.try_send(()); }
                    None => return,
                },
            }
        }
    });
}

/// Configuration files: `*.toml`, not hidden (editors' and package managers' leftovers such
/// as `x.toml.dpkg-new` or `.x.toml.swp` are not read, so they need no reload).
fn is_config_name(name: &std::ffi::OsStr) -> bool {
    let name = name.as_encoded_bytes();
    name.ends_with(b".toml") && !name.starts_with(b".")
}

/// A deadline that never comes, for timers that are off.
fn far_future() -> Instant {
    Instant::now() + Duration::from_secs(86_400 * 365)
}

struct Daemon {
    options: DaemonOptions,
    settings: Settings,
    notifier: Notifier,
    outbox: Outbox,
    probes_cancel: CancellationToken,
    outcome_tx: mpsc::Sender<Outcome>,
    identity: Option<Identity>,
    identity_failures: u32,
    identity_retry_at: Option<Instant>,
    client: Option<Client>,
    /// Where `client` takes its credentials from, for logs and `status`.
    credentials_source: client::CredentialsSource,
    /// `None` while a push task holds it.
    state: Option<State>,
    push_due: Option<Instant>,
    push_task: Option<JoinHandle<(State, PushReport)>>,
    push_cancel: CancellationToken,
    last_push_end: Option<Instant>,
    transient_failures: u32,
    instance_invalid_failures: u32,
    /// The first push after start has finished; until then every probe's first result
    /// triggers a look at whether all have run.
    first_push_done: bool,
    /// Modification time of the SSM Agent's registration, as last seen while waiting for an
    /// identity.
    registration_stamp: Option<std::time::SystemTime>,
    reload_due: Option<Instant>,
    last_status: RuntimeStatus,
    /// The instance ID the running probe tasks were given, if any.
    probes_context: Option<String>,
    /// Makes a probe run now, by name.
    wakers: std::collections::HashMap<String, mpsc::Sender<()>>,
    /// Where changes of the configuration's folders are reported, and the watches feeding it
    /// (cancelled and set up again when a reload may have moved `probes_dir`).
    config_watch_tx: mpsc::Sender<()>,
    config_watch: CancellationToken,
    /// What the metrics file reports (`[agent] metrics_file`).
    metrics: crate::metrics::Metrics,
}

impl Daemon {
    /// (Re)starts one scheduler task per probe. A `files` probe also gets a watcher on its
    /// folder, so a change is collected at once instead of at the next tick.
    fn start_probes(&mut self) {
        self.probes_cancel = CancellationToken::new();
        self.wakers.clear();
        let probes: Vec<Probe> = self
            .settings
            .probes
            .iter()
            .map(Probe::from_settings)
            .collect();
        self.outbox.set_probes(&probes);
        let ctx = match &self.identity {
            Some(identity) => CollectContext::with_instance_id(identity.instance_id.clone()),
            None => CollectContext::default(),
        };
        self.probes_context = ctx.instance_id.clone();
        for (probe, settings) in probes.into_iter().zip(&self.settings.probes) {
            // One wake-up channel per probe: its folder watch (files probes) and the daemon
            // (when the service needs content that was let go) both feed it.
            let (wake_tx, wake) = mpsc::channel::<()>(1);
            match probe.watch(&ctx, WATCH_DEBOUNCE) {
                Ok(Some(watch)) => {
                    forward_changes(watch, wake_tx.clone(), self.probes_cancel.child_token());
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
            let ctx = ctx.clone();
            let run = move || {
                let probe = probe.clone();
                let ctx = ctx.clone();
                async move { probe.collect_detailed(&ctx).await }
            };
            tokio::spawn(scheduler::run_probe(
                name,
                schedule,
                run,
                self.outcome_tx.clone(),
                Some(wake),
                self.probes_cancel.child_token(),
            ));
        }
    }

    async fn on_outcome(&mut self, outcome: Outcome) {
        let failed = match &outcome.result {
            Ok(collection) => !collection.errors.is_empty(),
            Err(_) => true,
        };
        self.metrics.record_probe_run(&outcome.probe, failed);
        self.write_metrics().await;
        if self.outbox.record(outcome) {
            self.schedule_push(Duration::ZERO);
        }
        // The run's transient memory (file bytes, parsed JSON, the rows of an unchanged item
        // just replaced) has been freed by now.
        allocator::release_freed();
        if !self.outbox.all_ran() {
            // The first push waits for every probe's first run, so READY means "all of it".
            return;
        }
        if self.push_due.is_none() && self.push_task.is_none() && !self.first_push_done {
            self.schedule_push(Duration::ZERO);
        }
    }

    /// Schedules a push no sooner than `min_push_interval` after the last one and `delay`
    /// from now, plus the fleet splay; an earlier schedule already set is kept.
    fn schedule_push(&mut self, delay: Duration) {
        let now = Instant::now();
        let earliest = self
            .last_push_end
            .map_or(now, |end| end + self.settings.agent.min_push_interval)
            .max(now + delay);
        let due = earliest + self.fleet_splay();
        self.push_due = Some(match self.push_due {
            Some(existing) if existing <= due => existing,
            _ => due,
        });
    }

    fn fleet_splay(&self) -> Duration {
        let instance_id = self
            .identity
            .as_ref()
            .map_or("", |i| i.instance_id.as_str());
        fleet_splay(instance_id, self.settings.agent.splay)
    }

    async fn resolve_identity(&mut self) {
        let agent = &self.settings.agent;
        match identity::resolve(
            agent.instance_id.as_deref(),
            agent.region.as_deref(),
            &self.options.identity_sources,
        )
        .await
        {
            Ok(identity) => {
                tracing::info!(
                    instance_id = %identity.instance_id,
                    region = %identity.region,
                    source = %identity.source,
                    "identity resolved"
                );
                let client_options = client::ClientOptions::for_node(
                    agent,
                    &identity.region,
                    &self.options.identity_sources,
                );
                self.client = Some(client::build(&client_options).await);
                self.credentials_source = client::credentials_source(&client_options);
                tracing::info!(credentials = %self.credentials_source, "credentials chosen");
                let instance_changed =
                    self.probes_context.as_deref() != Some(identity.instance_id.as_str());
                self.identity = Some(identity);
                self.identity_failures = 0;
                self.identity_retry_at = None;
                let needs_id = self
                    .settings
                    .probes
                    .iter()
                    .any(|p| Probe::from_settings(p).needs_instance_id());
                if instance_changed && needs_id {
                    // Folders named after the instance ID can only be read now.
                    self.probes_cancel.cancel();
                    self.start_probes();
                }
                if self.outbox.all_ran() {
                    self.schedule_push(Duration::ZERO);
                }
            }
            Err(e) => {
                self.identity_failures += 1;
                let wait = backoff(
                    IDENTITY_RETRY_START,
                    IDENTITY_RETRY_CAP,
                    self.identity_failures,
                );
                tracing::error!("{e}; trying again in {}", humantime::format_duration(wait));
                self.notifier.status(&format!("no identity: {e}"));
                self.identity_retry_at = Some(Instant::now() + wait);
            }
        }
    }

    fn start_push(&mut self) {
        let (Some(identity), Some(client)) = (self.identity.clone(), self.client.clone()) else {
            // Pushed once the identity is known.
            self.push_due = None;
            return;
        };
        let Some(mut state) = self.state.take() else {
            return;
        };
        self.push_due = None;
        let collected = self.outbox.collected();
        let agent = &self.settings.agent;
        let options = PushOptions {
            instance_id: identity.instance_id.clone(),
            intervals: Intervals {
                refresh: agent.refresh_interval,
                quarantine_retry: agent.quarantine_retry,
            },
            on_removed: agent.on_removed,
            force: false,
            budget: Budget::new(agent.max_request_bytes),
            // One attempt per push: the daemon itself waits between pushes, so newer content
            // replaces what was pending instead of the old bytes being retried.
            retry: RetryPolicy {
                base: agent.retry_base,
                cap: agent.retry_cap,
                max_attempts: Some(1),
            },
        };
        let state_dir = agent.state_dir.clone();
        self.push_cancel = CancellationToken::new();
        let cancel = self.push_cancel.clone();
        self.push_task = Some(tokio::spawn(async move {
            let report = cycle::push(
                &client, &collected, &mut state, &state_dir, &options, &cancel,
            )
            .await;
            (state, report)
        }));
    }

    async fn on_push_done(&mut self, joined: Result<(State, PushReport), tokio::task::JoinError>) {
        self.last_push_end = Some(Instant::now());
        let (state, report) = match joined {
            Ok(done) => done,
            Err(e) => {
                // The push task panicked: a bug. Start over from what is on disk.
                tracing::error!("a push stopped unexpectedly: {e}");
                let state = state::load_logged(&self.settings.agent.state_dir).await;
                self.state = Some(state);
                self.schedule_push(self.settings.agent.retry_cap);
                return;
            }
        };
        if let Some(e) = &report.state_error {
            tracing::error!("{e}");
        }
        if report.credentials_refused {
            self.choose_credentials_again().await;
        }
        if report.requests > 0 {
            tracing::info!(
                requests = report.requests,
                bytes = report.bytes,
                full = report.sent_full.len(),
                hash_only = report.sent_hash_only.len(),
                cleared = report.cleared.len(),
                quarantined = report.quarantined.len(),
                pending = report.pending.len(),
                "push finished"
            );
        }
        // What comes next: back off while the node is refused or items are pending;
        // otherwise wake for the next refresh or quarantine retry.
        if report.instance_invalid.is_some() {
            self.instance_invalid_failures += 1;
            let wait = backoff(
                INSTANCE_INVALID_BACKOFF_START,
                INSTANCE_INVALID_BACKOFF_CAP,
                self.instance_invalid_failures,
            );
            tracing::error!("pushing paused for {}", humantime::format_duration(wait));
            self.push_due = Some(Instant::now() + wait);
        } else if !report.pending.is_empty() {
            self.instance_invalid_failures = 0;
            self.transient_failures += 1;
            let policy = RetryPolicy {
                base: self.settings.agent.retry_base,
                cap: self.settings.agent.retry_cap,
                max_attempts: None,
            };
            let wait = policy.jittered(self.transient_failures);
            tracing::info!(
                pending = report.pending.len(),
                "will push again in {}",
                humantime::format_duration(wait)
            );
            self.push_due = Some(Instant::now() + wait);
        } else {
            self.instance_invalid_failures = 0;
            self.transient_failures = 0;
            if let Some(at) = self.next_timed_push(&state) {
                self.push_due = Some(self.push_due.map_or(at, |d| d.min(at)));
            }
        }
        let quarantined = self
            .identity
            .as_ref()
            .and_then(|i| state.instance(&i.instance_id))
            .map_or(0, |s| s.quarantine.len());
        self.metrics
            .record_push(&report, quarantined, OffsetDateTime::now_utc());
        self.write_metrics().await;
        // Content the service now holds is let go; content it lost is collected again.
        if let Some(identity) = &self.identity {
            self.outbox
                .drop_acknowledged(state.instance(&identity.instance_id));
        }
        if !report.recollect.is_empty() {
            for probe in self.outbox.request_content(&report.recollect) {
                if let Some(waker) = self.wakers.get(&probe) {
                    let _ = waker.try_send(());
                }
            }
        }
        self.state = Some(state);
        // The request bodies and their SDK copies are gone; give their pages back.
        allocator::release_freed();
        self.write_status(&report).await;
        let line = self.status_line();
        if !self.first_push_done {
            self.first_push_done = true;
            tracing::info!("first cycle done: {line}");
        }
        self.notifier.status(&line);
    }

    /// The earliest hash-only refresh or quarantine retry, as a monotonic instant.
    fn next_timed_push(&self, state: &State) -> Option<Instant> {
        let identity = self.identity.as_ref()?;
        let instance = state.instance(&identity.instance_id)?;
        let agent = &self.settings.agent;
        let wait = next_timed_wait(
            instance,
            agent.refresh_interval,
            agent.quarantine_retry,
            OffsetDateTime::now_utc(),
        )?;
        Some(Instant::now().checked_add(wait).unwrap_or_else(far_future))
    }

    fn status_line(&self) -> String {
        let (acknowledged, quarantined) = self
            .identity
            .as_ref()
            .and_then(|i| self.state.as_ref()?.instance(&i.instance_id))
            .map_or((0, 0), |s| (s.types.len(), s.quarantine.len()));
        format!(
            "{acknowledged} types acknowledged, {} pending, {quarantined} quarantined",
            self.last_status.pending.len()
        )
    }

    async fn write_status(&mut self, report: &PushReport) {
        let Some(identity) = &self.identity else {
            return;
        };
        let now = OffsetDateTime::now_utc();
        let status = RuntimeStatus {
            instance_id: identity.instance_id.clone(),
            region: identity.region.clone(),
            identity_source: identity.source.clone(),
            credentials_source: self.credentials_source.to_string(),
            updated_at: Some(now),
            pending: report
                .pending
                .iter()
                .map(|(t, r)| TypeReason {
                    type_name: t.clone(),
                    reason: r.clone(),
                })
                .collect(),
            probe_errors: self
                .outbox
                .errors()
                .into_iter()
                .map(|(probe, error)| ProbeErrorEntry { probe, error })
                .collect(),
            instance_invalid: report.instance_invalid.clone(),
            last_push: Some(PushSummary {
                at: now,
                requests: report.requests,
                bytes: report.bytes,
                sent_full: report.sent_full.len(),
                sent_hash_only: report.sent_hash_only.len(),
                skipped: report.skipped.len(),
                cleared: report.cleared.len(),
            }),
        };
        let dir = self.settings.agent.state_dir.clone();
        let to_save = status.clone();
        match tokio::task::spawn_blocking(move || to_save.save(&dir)).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::warn!("{e}"),
            Err(e) => tracing::warn!("writing the status stopped unexpectedly: {e}"),
        }
        self.last_status = status;
    }

    /// Writes the metrics file, when one is configured. Awaited, so that two writes never race
    /// and an older picture never replaces a newer one.
    async fn write_metrics(&self) {
        let Some(path) = self.settings.agent.metrics_file.clone() else {
            return;
        };
        let metrics = self.metrics.clone();
        let written = tokio::task::spawn_blocking(move || {
            metrics
                .write(&path)
                .map_err(|e| format!("cannot write the metrics file {}: {e}", path.display()))
        })
        .await;
        match written {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::warn!("{e}"),
            Err(e) => tracing::warn!("writing the metrics stopped unexpectedly: {e}"),
        }
    }

    /// Re-reads the configuration; an invalid one is refused and the running one stays.
    /// Either way the outcome is reported to systemd and to `ssm-inventoryd reload`.
    async fn reload(&mut self) {
        let started_ns = crate::reload::monotonic_ns();
        self.notifier.reloading(started_ns / 1000);
        let (applied, message) = match self.apply_new_config().await {
            Ok(message) => {
                self.notifier.ready(&self.status_line());
                (true, message)
            }
            Err(e) => {
                tracing::error!("reload refused, keeping the running configuration: {e}");
                let message = e.to_string();
                self.notifier.ready(&format!(
                    "{}; reload refused: {message}",
                    self.status_line()
                ));
                (false, message)
            }
        };
        if let Some(dir) = self.options.runtime_dir.clone() {
            let outcome = crate::reload::Outcome {
                pid: std::process::id(),
                started_ns,
                applied,
                message,
            };
            match tokio::task::spawn_blocking(move || crate::reload::record(&dir, &outcome)).await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => tracing::warn!("{e}"),
                Err(e) => tracing::warn!("recording the reload stopped unexpectedly: {e}"),
            }
        }
    }

    /// Loads and validates the configuration and, if it is good, switches to it, saying
    /// what it applied.
    async fn apply_new_config(&mut self) -> Result<String, ConfigError> {
        let new = config::load(&self.options.config_path)?;
        let old = &self.settings.agent;
        let identity_changed = old.instance_id != new.agent.instance_id
            || old.region != new.agent.region
            || old.endpoint_url != new.agent.endpoint_url
            || old.profile != new.agent.profile
            || old.credentials_file != new.agent.credentials_file;
        tracing::info!(probes = new.probes.len(), "configuration reloaded");
        self.settings = new;
        if identity_changed {
            self.identity = None;
            self.client = None;
            self.identity_retry_at = Some(Instant::now());
        }
        self.probes_cancel.cancel();
        self.start_probes();
        self.watch_config();
        Ok(format!(
            "configuration reloaded: {} probes",
            self.settings.probes.len()
        ))
    }

    /// After refused or missing credentials: if where they should come from has changed
    /// (the SSM Agent wrote its identity runtime configuration after the client was built,
    /// say on an instance registered with Default Host Management after boot), a new client
    /// takes them from there.
    async fn choose_credentials_again(&mut self) {
        let Some(identity) = &self.identity else {
            return;
        };
        let options = client::ClientOptions::for_node(
            &self.settings.agent,
            &identity.region,
            &self.options.identity_sources,
        );
        let source = client::credentials_source(&options);
        if source != self.credentials_source {
            tracing::info!(credentials = %source, "credentials chosen anew");
            self.client = Some(client::build(&options).await);
            self.credentials_source = source;
        }
    }

    /// Watches the main file's folder and the drop-in folder (which may not exist yet: it is
    /// watched from when it appears) for `*.toml` changes, replacing any earlier watches.
    fn watch_config(&mut self) {
        self.config_watch.cancel();
        self.config_watch = CancellationToken::new();
        let config_dir = self
            .options
            .config_path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."))
            .to_path_buf();
        let probes_dir = self.settings.agent.probes_dir.clone();
        let mut dirs = vec![config_dir];
        if !dirs.contains(&probes_dir) {
            dirs.push(probes_dir);
        }
        for dir in dirs {
            let changes = match crate::watch::watch(&dir, WATCH_DEBOUNCE, is_config_name) {
                Ok(changes) => changes,
                Err(e) => {
                    tracing::warn!("{e}; configuration changes there need a reload");
                    continue;
                }
            };
            forward_changes(
                changes,
                self.config_watch_tx.clone(),
                self.config_watch.clone(),
            );
        }
    }

    /// Retries the identity at once when the SSM Agent's registration appears or changes,
    /// instead of at the next backoff step (up to five minutes away).
    async fn check_registration(&mut self) {
        let sources = &self.options.identity_sources;
        let mut stamp = None;
        for path in [&sources.registration_file, &sources.vault_file] {
            if let Ok(modified) = tokio::fs::metadata(path).await.and_then(|m| m.modified()) {
                stamp = stamp.max(Some(modified));
            }
        }
        if stamp.is_some() && stamp != self.registration_stamp {
            tracing::info!("the SSM Agent's registration changed; looking up the identity again");
            self.identity_retry_at = Some(Instant::now());
        }
        self.registration_stamp = stamp;
    }

    /// Stops scheduling, lets an in-flight push finish within the deadline, persists state.
    async fn stop(mut self) {
        self.notifier.stopping();
        self.probes_cancel.cancel();
        self.config_watch.cancel();
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

/// How long until the earliest hash-only refresh or quarantine retry of `instance`, from
/// `now`. A deadline past what a date can hold (a state file from a distant clock, an
/// enormous interval) means "not in any foreseeable time", never a panic.
fn next_timed_wait(
    instance: &state::InstanceState,
    refresh: Duration,
    quarantine_retry: Duration,
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
        .filter_map(|a| later(a.acknowledged_at, refresh));
    let retry = instance
        .quarantine
        .values()
        .filter_map(|q| later(q.since, quarantine_retry));
    let earliest = refresh.chain(retry).min()?;
    let wait = (earliest - now).max(time::Duration::ZERO);
    Some(Duration::try_from(wait).unwrap_or_default())
}

/// `start`·2^(n-1), at most `cap`.
fn backoff(start: Duration, cap: Duration, n: u32) -> Duration {
    start
        .saturating_mul(2u32.saturating_pow(n.saturating_sub(1).min(31)))
        .min(cap)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fleet's pushes spread evenly over the splay window (no peak in the middle), and stay
    /// inside it.
    #[test]
    fn fleet_splay_is_even_across_the_window() {
        let splay = Duration::from_secs(100);
        let mut bins = [0usize; 10];
        let nodes = 20_000;
        for n in 0..nodes {
            let d = fleet_splay(&format!("i-{n:017x}"), splay);
            assert!(d < splay, "{d:?}");
            bins[(d.as_secs_f64() / 10.0) as usize] += 1;
        }
        // Each tenth of the window holds a tenth of the fleet, within 10 % (a triangular
        // distribution puts 2 % in the first tenth and 18 % in the middle ones).
        for (i, &count) in bins.iter().enumerate() {
            let share = count as f64 / nodes as f64;
            assert!(
                (0.09..=0.11).contains(&share),
                "bin {i}: {share} ({bins:?})"
            );
        }
        assert_eq!(
            fleet_splay("i-0123456789abcdef0", Duration::ZERO),
            Duration::ZERO
        );
    }

    /// The next refresh or retry is computed without panicking whatever the dates and
    /// intervals: the daemon once crashed after its first push with `refresh_interval =
    /// "10000y"` ("overflow adding duration to date").
    #[test]
    fn timed_pushes_never_overflow() {
        let ack = |at| state::Ack {
            content_hash: "h".into(),
            schema_version: "1.0".into(),
            acknowledged_at: at,
        };
        let now = OffsetDateTime::now_utc();
        let mut instance = state::InstanceState::default();
        instance.types.insert("Custom:A".into(), ack(now));
        let day = Duration::from_secs(86_400);
        assert_eq!(next_timed_wait(&instance, day, day, now), Some(day));
        // Intervals past what a date can hold: nothing due, no panic.
        assert_eq!(next_timed_wait(&instance, Duration::MAX, day, now), None);
        let ten_thousand_years = Duration::from_secs(10_000 * 365 * 86_400);
        assert_eq!(
            next_timed_wait(&instance, ten_thousand_years, day, now),
            None
        );
        // A date at the end of what the type holds, from a state file written by a broken clock.
        instance.types.insert(
            "Custom:B".into(),
            ack(time::PrimitiveDateTime::MAX.assume_utc()),
        );
        assert_eq!(next_timed_wait(&instance, day, day, now), Some(day));
        instance.types.remove("Custom:A");
        assert_eq!(next_timed_wait(&instance, day, day, now), None);
    }

    /// The slot is MD5 of the instance ID (first 8 bytes, big-endian, modulo 10,000), computed
    /// here independently with Python's hashlib.
    #[test]
    fn fleet_slots_come_from_a_specified_hash() {
        assert_eq!(fleet_slot("i-0123456789abcdef0"), 0.7132);
        assert_eq!(fleet_slot("mi-0123456789abcdef0"), 0.4284);
    }

    #[test]
    fn backoff_doubles_to_the_cap() {
        let s = |n| backoff(Duration::from_secs(60), Duration::from_secs(3600), n).as_secs();
        assert_eq!(
            [s(1), s(2), s(3), s(6), s(7), s(50)],
            [60, 120, 240, 1920, 3600, 3600]
        );
    }
}
