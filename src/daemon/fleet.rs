//! The event loop's side of fleet parameters: the poller ([`crate::fleet::Runner`]) fetches
//! with the push client, and what it stored is applied through the same reload as SIGHUP.

use super::Daemon;
use crate::config::ParameterVersion;
use crate::fleet::decide::Unstored;
use crate::fleet::poll::{Event, PolledNow};
use crate::fleet::store::{self, Stored};

impl Daemon {
    /// A fleet version passed and was stored: apply it as SIGHUP would; problems go to STATUS;
    /// the answer to `reload --fleet` goes to the command waiting for it. A version that
    /// passed but could not be stored is held in memory, applied all the same, and written
    /// again with backoff.
    pub(super) async fn on_fleet_event(&mut self, event: Event) {
        if let Event::Apply { versions, unstored } = &event {
            self.hold_fleet(versions, unstored).await;
        }
        if let Event::PolledNow { started_ns, answer } = event {
            let (applied, message) = self.fleet_answer(answer);
            self.record_outcome(started_ns, applied, message, true)
                .await;
            return;
        }
        if self.fleet.take(event) {
            self.reload().await;
        } else {
            self.report.fleet = self.fleet.status_suffix();
            self.notifier
                .status(&self.report.status_line(self.acknowledged()));
        }
    }

    /// Forgets what the store now holds a newer version of, and holds what it refused.
    async fn hold_fleet(&mut self, versions: &[ParameterVersion], unstored: &[Unstored]) {
        self.fleet_held
            .retain(|held| !versions.iter().any(|v| v.name == held.name));
        let now = self.clock.now();
        for u in unstored {
            self.fleet_held.push(u.version.clone());
            let backoff = self.persist_backoff();
            self.fleet_persist.failed(&u.error, now, backoff);
        }
        if unstored.is_empty() && self.fleet_held.is_empty() {
            self.fleet_persist
                .saved(&store::dir(&self.settings.agent.state_dir));
        }
        self.fleet_persistence_changed().await;
    }

    /// Writes the fleet versions held in memory again; those written (or replaced in the store
    /// by a newer one meanwhile) are let go.
    pub(super) async fn store_fleet_again(&mut self) {
        let dir = self.settings.agent.state_dir.clone();
        let held = self.fleet_held.clone();
        let written = tokio::task::spawn_blocking({
            let dir = dir.clone();
            move || {
                let mut left: Vec<Stored> = Vec::new();
                let mut error = None;
                for version in held {
                    if let Err(e) = store::save_unless_newer(&dir, &version) {
                        error = Some(e.write_line(&dir));
                        left.push(version);
                    }
                }
                (left, error)
            }
        })
        .await;
        let now = self.clock.now();
        let backoff = self.persist_backoff();
        match written {
            Ok((left, None)) => {
                self.fleet_held = left;
                self.fleet_persist.saved(&store::dir(&dir));
            }
            Ok((left, Some(e))) => {
                self.fleet_held = left;
                self.fleet_persist.failed(&e, now, backoff);
            }
            Err(e) => self.fleet_persist.failed(
                &format!("writing the fleet store stopped unexpectedly: {e}"),
                now,
                backoff,
            ),
        }
        self.fleet_persistence_changed().await;
    }

    /// Tells the metrics file, the status file and STATUS how writing the fleet store goes.
    async fn fleet_persistence_changed(&mut self) {
        let was = self.report.fleet_persist_failing.clone();
        self.record_persistence();
        self.report
            .write_metrics(self.settings.agent.metrics_file.clone())
            .await;
        if was != self.report.fleet_persist_failing {
            let (dir, now) = (self.settings.agent.state_dir.clone(), self.clock.now_utc());
            self.report.rewrite_status(dir, now).await;
            self.notifier
                .status(&self.report.status_line(self.acknowledged()));
        }
    }

    /// What `reload --fleet` is told: applied (or already current), or why not, in one line.
    fn fleet_answer(&self, answer: PolledNow) -> (bool, String) {
        let (applied, problems) = match answer {
            PolledNow::NotPolled(why) => return (false, why),
            PolledNow::Polled { applied, problems } => (applied, problems),
        };
        if !problems.is_empty() {
            let lines: Vec<&str> = problems.values().map(String::as_str).collect();
            return (false, lines.join("; "));
        }
        let named = |versions: &[crate::config::ParameterVersion]| {
            versions
                .iter()
                .map(|v| format!("{} version {}", v.name, v.version))
                .collect::<Vec<_>>()
                .join(", ")
        };
        if applied.is_empty() {
            return (
                true,
                format!(
                    "fleet parameters fetched; nothing new: {}",
                    named(&self.settings.parameters)
                ),
            );
        }
        match &self.last_reload {
            Some((false, why)) => (
                false,
                format!(
                    "fetched {}, but the reload that applies them was refused: {why}",
                    named(&applied)
                ),
            ),
            _ => (true, format!("applied {}", named(&applied))),
        }
    }

    /// The poller fetches with the push client: same credentials, region and endpoint.
    pub(super) fn connect_fleet(&self) {
        if let (Some(client), Some(id)) = (self.identity.client(), self.identity.identity()) {
            self.fleet.connect(client, &id.instance_id);
        }
    }
}
