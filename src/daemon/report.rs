//! What the daemon tells the operator besides its log: the status file behind
//! `ssm-inventoryd status`, systemd's STATUS line, and the metrics file.

use std::path::PathBuf;

use time::OffsetDateTime;

use crate::aws::CredentialsSource;
use crate::cycle::PushReport;
use crate::identity::Identity;
use crate::metrics::Metrics;
use crate::state::InstanceState;
use crate::status::{ProbeErrorEntry, PushSummary, RuntimeStatus, TypeReason};

#[derive(Debug, Default)]
pub struct Reporter {
    last_status: RuntimeStatus,
    /// What the metrics file reports (`[agent] metrics_file`).
    pub metrics: Metrics,
    /// What keeps fleet parameters from being used, for the end of the STATUS line.
    pub fleet: Option<String>,
    /// Why the state cannot be written, while it cannot.
    pub persist_failing: Option<String>,
    /// Why the fleet store cannot be written, while new versions run from memory only.
    pub fleet_persist_failing: Option<String>,
    /// Where the status file goes while the state directory refuses it (systemd's
    /// `RUNTIME_DIRECTORY`), so that `status` still tells what is going on.
    pub runtime_dir: Option<PathBuf>,
}

impl Reporter {
    /// A reporter that writes the status file in `runtime_dir` while the state directory
    /// refuses it.
    pub fn new(runtime_dir: Option<PathBuf>) -> Reporter {
        Reporter {
            runtime_dir,
            ..Reporter::default()
        }
    }

    /// One line for systemd's STATUS: how much of the inventory is where.
    pub fn status_line(&self, acknowledged: Option<&InstanceState>) -> String {
        let (types, quarantined) =
            acknowledged.map_or((0, 0), |s| (s.types.len(), s.quarantine.len()));
        let line = format!(
            "{types} types acknowledged, {} pending, {quarantined} quarantined",
            self.last_status.pending.len()
        );
        let line = match &self.persist_failing {
            Some(why) => format!("{line}; state kept in memory only: {why}"),
            None => line,
        };
        let line = match &self.fleet_persist_failing {
            Some(why) => format!("{line}; fleet versions run from memory, not stored: {why}"),
            None => line,
        };
        match &self.fleet {
            Some(fleet) => format!("{line}; {fleet}"),
            None => line,
        }
    }

    /// Writes the status file after a push.
    pub async fn write_status(
        &mut self,
        state_dir: PathBuf,
        identity: &Identity,
        credentials: &CredentialsSource,
        report: &PushReport,
        probe_errors: Vec<(String, String)>,
        now: OffsetDateTime,
    ) {
        let status = RuntimeStatus {
            instance_id: identity.instance_id.clone(),
            region: identity.region.clone(),
            identity_source: identity.source.clone(),
            credentials_source: credentials.to_string(),
            updated_at: Some(now),
            pending: report
                .pending
                .iter()
                .map(|(t, r)| TypeReason {
                    type_name: t.clone(),
                    reason: r.clone(),
                })
                .collect(),
            probe_errors: probe_errors
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
            persist_failing: self.persist_failing.clone(),
            fleet_persist_failing: self.fleet_persist_failing.clone(),
        };
        self.last_status = status;
        self.save_status(state_dir).await;
    }

    /// Writes the last status again, as of `now` (the state became writable again).
    pub async fn rewrite_status(&mut self, state_dir: PathBuf, now: OffsetDateTime) {
        if self.last_status.updated_at.is_none() {
            return;
        }
        self.last_status.updated_at = Some(now);
        self.save_status(state_dir).await;
    }

    /// Saves the status in the state directory or, when that refuses it, in the runtime
    /// directory. A refusal the state's own failure already explains is not told again.
    async fn save_status(&mut self, state_dir: PathBuf) {
        self.last_status.persist_failing = self.persist_failing.clone();
        self.last_status.fleet_persist_failing = self.fleet_persist_failing.clone();
        let status = self.last_status.clone();
        let runtime_dir = self.runtime_dir.clone();
        let explained = self.persist_failing.is_some() || self.fleet_persist_failing.is_some();
        let saved = tokio::task::spawn_blocking(move || {
            let Err(e) = status.save(&state_dir) else {
                if let Some(runtime_dir) = &runtime_dir {
                    // An older copy there must not pass for the newer one.
                    let _ = std::fs::remove_file(runtime_dir.join(crate::status::STATUS_FILE));
                }
                return Ok(());
            };
            match &runtime_dir {
                Some(runtime_dir) => status
                    .save(runtime_dir)
                    .map_err(|again| format!("{e}; and in the runtime directory: {again}")),
                None => Err(e.to_string()),
            }
        })
        .await;
        match saved {
            Ok(Ok(())) => {}
            Ok(Err(e)) if explained => tracing::debug!("{e}"),
            Ok(Err(e)) => tracing::warn!("{e}"),
            Err(e) => tracing::warn!("writing the status stopped unexpectedly: {e}"),
        }
    }

    /// Writes the metrics file, when one is configured. Awaited, so that two writes never race
    /// and an older picture never replaces a newer one.
    pub async fn write_metrics(&self, path: Option<PathBuf>) {
        let Some(path) = path else {
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
}
