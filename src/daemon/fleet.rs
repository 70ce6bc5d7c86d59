//! The event loop's side of fleet parameters: the poller ([`crate::fleet::Runner`]) fetches
//! with the push client, and what it stored is applied through the same reload as SIGHUP.

use super::Daemon;
use crate::fleet::poll::Event;

impl Daemon {
    /// A fleet version passed and was stored: apply it as SIGHUP would; problems go to STATUS.
    pub(super) async fn on_fleet_event(&mut self, event: Event) {
        if self.fleet.take(event) {
            self.reload().await;
        } else {
            self.report.fleet = self.fleet.status_suffix();
            self.notifier
                .status(&self.report.status_line(self.acknowledged()));
        }
    }

    /// The poller fetches with the push client: same credentials, region and endpoint.
    pub(super) fn connect_fleet(&self) {
        if let (Some(client), Some(id)) = (self.identity.client(), self.identity.identity()) {
            self.fleet.connect(client, &id.instance_id);
        }
    }
}
