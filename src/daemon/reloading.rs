//! A reload: the configuration read again and switched to, or refused with the running one
//! kept; either way the outcome is told to systemd and to `ssm-inventoryd reload`.

use super::Daemon;
use super::push_controller::Timing;
use crate::config::ConfigError;

impl Daemon {
    /// Re-reads the configuration; an invalid one is refused and the running one stays.
    /// Either way the outcome is reported to systemd and to `ssm-inventoryd reload`.
    pub(super) async fn reload(&mut self) {
        let started_ns = crate::reload::monotonic_ns();
        // `reload --fleet` left its request before the signal that brought us here.
        let fleet_asked = self
            .options
            .runtime_dir
            .as_deref()
            .is_some_and(crate::reload::take_fleet_request);
        self.notifier.reloading(started_ns / 1000);
        let applied = self.apply_new_config();
        self.code_ran_once = true;
        let line = self.report.status_line(self.acknowledged());
        let (applied, message) = match applied {
            Ok(message) => {
                self.notifier.ready(&line);
                (true, message)
            }
            Err(e) => {
                tracing::error!("reload refused, keeping the running configuration: {e}");
                let message = e.to_string();
                self.notifier
                    .ready(&format!("{line}; reload refused: {message}"));
                (false, message)
            }
        };
        self.last_reload = Some((applied, message.clone()));
        self.record_outcome(started_ns, applied, message, false)
            .await;
        if fleet_asked && let Err(why) = self.fleet.poll_now(started_ns) {
            self.record_outcome(started_ns, false, why, true).await;
        }
    }

    /// Writes how a reload (or, with `fleet`, a `reload --fleet` fetch) that began at
    /// `started_ns` ended, for `ssm-inventoryd reload` to read.
    pub(super) async fn record_outcome(
        &self,
        started_ns: u64,
        applied: bool,
        message: String,
        fleet: bool,
    ) {
        let Some(dir) = self.options.runtime_dir.clone() else {
            return;
        };
        let outcome = crate::reload::Outcome {
            pid: std::process::id(),
            started_ns,
            applied,
            message,
            fleet,
        };
        match tokio::task::spawn_blocking(move || crate::reload::record(&dir, &outcome)).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::warn!("{e}"),
            Err(e) => tracing::warn!("recording the reload stopped unexpectedly: {e}"),
        }
    }

    /// Loads and validates the configuration and, if it is good, switches to it, saying
    /// what it applied.
    fn apply_new_config(&mut self) -> Result<String, ConfigError> {
        let held: Vec<_> = self
            .fleet_held
            .iter()
            .map(crate::fleet::store::Stored::source)
            .collect();
        let new = crate::fleet::load_with_held(&self.options.config_path, &held)?;
        let old = &self.settings.agent;
        let identity_changed = old.instance_id != new.agent.instance_id
            || old.region != new.agent.region
            || old.endpoint_url != new.agent.endpoint_url
            || old.profile != new.agent.profile
            || old.credentials_file != new.agent.credentials_file;
        tracing::info!(probes = new.probes.len(), "configuration reloaded");
        self.settings = new;
        self.push.set_timing(Timing::of(&self.settings.agent));
        if identity_changed {
            self.identity.forget(self.clock.now());
        }
        let identity = self.identity.identity().cloned();
        self.probes
            .start(&self.settings, &mut self.outbox, identity.as_ref());
        self.config_watch
            .arm(&self.options.config_path, &self.settings.agent.probes_dir);
        self.report.fleet = self.fleet.update(&self.settings);
        Ok(format!(
            "configuration reloaded: {} probes",
            self.settings.probes.len()
        ))
    }
}
