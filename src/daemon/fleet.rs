//! The event loop's side of fleet parameters: the poller ([`crate::fleet::Runner`]) fetches
//! with the push client, and what it stored is applied through the same reload as SIGHUP.

use super::Daemon;
use crate::fleet::poll::{Event, PolledNow};

impl Daemon {
    /// A fleet version passed and was stored: apply it as SIGHUP would; problems go to STATUS;
    /// the answer to `reload --fleet` goes to the command waiting for it.
    pub(super) async fn on_fleet_event(&mut self, event: Event) {
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
