//! A push: started in a task of its own with the acknowledged state, so that probe results
//! keep flowing while a slow request is in flight, and its report taken back: the state, the
//! metrics, the status file, and what the outbox lets go or asks the probes for again.

use tokio_util::sync::CancellationToken;

use super::{Daemon, allocator};
use crate::cycle::{self, PushOptions, PushReport};
use crate::resident;
use crate::sender::RetryPolicy;
use crate::state::{self, State};

impl Daemon {
    pub(super) async fn start_push(&mut self) {
        self.push.clear();
        if self.identity.identity().is_some() && self.identity.client().is_none() {
            let was = self.identity.client_error().map(str::to_owned);
            self.identity.connect_again(&self.settings.agent).await;
            match self.identity.client_error() {
                Some(e) => {
                    self.notifier.status(&format!("cannot push: {e}"));
                    let now = self.clock.now();
                    self.push.blocked(now, self.identity.instance_id());
                    return;
                }
                None if was.is_some() => {
                    self.notifier
                        .status("root certificates found; pushing the inventory");
                    self.connect_fleet();
                }
                None => {}
            }
        }
        let (Some(identity), Some(client)) =
            (self.identity.identity(), self.identity.client().cloned())
        else {
            // Pushed once the identity is known.
            return;
        };
        let Some(mut state) = self.state.take() else {
            return;
        };
        let collected = self.outbox.collected();
        let agent = &self.settings.agent;
        // One attempt per push: the daemon itself waits between pushes, so newer content
        // replaces what was pending instead of the old bytes being retried.
        let options = PushOptions::new(
            agent,
            &identity.instance_id,
            RetryPolicy::of(agent).at_most(1),
        );
        let state_dir = agent.state_dir.clone();
        let now = self.clock.now_utc();
        self.push_cancel = CancellationToken::new();
        let cancel = self.push_cancel.clone();
        self.push_task = Some(tokio::spawn(async move {
            let report = cycle::push(
                &client, &collected, &mut state, &state_dir, &options, now, &cancel,
            )
            .await;
            (state, report)
        }));
    }

    pub(super) async fn on_push_done(
        &mut self,
        joined: Result<(State, PushReport), tokio::task::JoinError>,
    ) {
        // Folder changes held back while the push was in flight run now (or once their
        // spacing has passed); their results make the next push, which could not have started
        // any sooner.
        self.probes.release_held(self.clock.now(), false);
        let (state, report) = match joined {
            Ok(done) => done,
            Err(e) => {
                // The push task panicked: a bug. Start over from what is on disk.
                tracing::error!("a push stopped unexpectedly: {e}");
                let state = state::load_logged(&self.settings.agent.state_dir).await;
                self.state = Some(state);
                let now = self.clock.now();
                self.push.crashed(now, self.identity.instance_id());
                return;
            }
        };
        if let Some(e) = &report.state_error {
            let backoff = self.persist_backoff();
            self.persist.failed(e, self.clock.now(), backoff);
        } else if report.state_saved {
            self.persist.saved(&self.settings.agent.state_dir);
        }
        self.record_persistence();
        if report.credentials_refused {
            self.identity
                .choose_credentials_again(&self.settings.agent)
                .await;
            self.connect_fleet();
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
        let first = !self.push.first_done();
        self.state = Some(state);
        let now_utc = self.clock.now_utc();
        let acknowledged = self.acknowledged().cloned();
        self.push
            .finished(&report, acknowledged.as_ref(), self.clock.now(), now_utc);
        let quarantined = acknowledged.as_ref().map_or(0, |s| s.quarantine.len());
        self.report
            .metrics
            .record_push(&report, quarantined, now_utc);
        self.report
            .write_metrics(self.settings.agent.metrics_file.clone())
            .await;
        // Content the service now holds is let go; content it lost is collected again.
        self.outbox.drop_acknowledged(acknowledged.as_ref());
        if !report.recollect.is_empty() {
            let probes = self.outbox.request_content(&report.recollect);
            self.probes.wake(&probes);
        }
        // The request bodies and their SDK copies are gone; give their pages back.
        if report.bytes >= allocator::WORTH_TRIMMING {
            allocator::release_freed();
        }
        self.write_status(&report).await;
        let line = self.report.status_line(self.acknowledged());
        if first {
            tracing::info!("first cycle done: {line}");
        }
        // A large push ran code a quiet node seldom runs again (the SDK's request path for
        // megabytes of body): it goes out with the rest.
        if std::mem::take(&mut self.code_ran_once) || report.bytes >= allocator::WORTH_TRIMMING {
            // Reads /proc and asks the kernel per mapping: off the runtime's threads.
            if let Ok(bytes) = tokio::task::spawn_blocking(resident::page_out_code).await {
                tracing::debug!(bytes, "code that ran once advised out of memory");
            }
        }
        self.notifier.status(&line);
    }

    pub(super) async fn write_status(&mut self, report: &PushReport) {
        let Some(identity) = self.identity.identity() else {
            return;
        };
        self.report
            .write_status(
                self.settings.agent.state_dir.clone(),
                identity,
                self.identity.credentials_source(),
                report,
                self.outbox.errors(),
                self.clock.now_utc(),
            )
            .await;
    }
}
