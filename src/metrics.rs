//! Counters of what the daemon did, written as a Prometheus text file for node_exporter's
//! textfile collector.
//!
//! A fleet already scrapes node_exporter on every node; a file it picks up needs no port, no
//! listener and no firewall change. The file is replaced atomically (a temporary file in the
//! same folder, then a rename), so the collector never reads half of it. Counters count from
//! the daemon's start, as Prometheus expects of `_total` series (a restart is a reset, which
//! `rate()` handles).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::Path;

use time::OffsetDateTime;

use crate::cycle::PushReport;

/// Everything the file reports.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Metrics {
    pushes: u64,
    requests: u64,
    request_bytes: u64,
    /// Items by what was done with them: `full`, `hash_only`, `skipped`, `cleared`.
    items: BTreeMap<&'static str, u64>,
    /// Failed requests by error code.
    errors: BTreeMap<String, u64>,
    probe_runs: BTreeMap<String, u64>,
    probe_failures: BTreeMap<String, u64>,
    quarantined: u64,
    pending: u64,
    last_acknowledged_push: Option<OffsetDateTime>,
    state_persist_failing: bool,
    state_write_failures: u64,
}

impl Metrics {
    /// Counts one push. `quarantined` is the number of types in quarantine after it.
    pub fn record_push(&mut self, report: &PushReport, quarantined: usize, now: OffsetDateTime) {
        self.pushes += 1;
        self.requests += report.requests as u64;
        self.request_bytes += report.bytes as u64;
        for (outcome, n) in [
            ("full", report.sent_full.len()),
            ("hash_only", report.sent_hash_only.len()),
            ("skipped", report.skipped.len()),
            ("cleared", report.cleared.len()),
        ] {
            *self.items.entry(outcome).or_default() += n as u64;
        }
        for (code, n) in &report.errors {
            *self.errors.entry(code.clone()).or_default() += n;
        }
        self.quarantined = quarantined as u64;
        self.pending = report.pending.len() as u64;
        let acknowledged = !report.sent_full.is_empty()
            || !report.sent_hash_only.is_empty()
            || !report.cleared.is_empty();
        if acknowledged {
            self.last_acknowledged_push = Some(now);
        }
    }

    /// Whether the state file or the fleet store cannot be written now, and how many writes
    /// of either failed so far.
    pub fn record_persistence(&mut self, failing: bool, write_failures: u64) {
        self.state_persist_failing = failing;
        self.state_write_failures = write_failures;
    }

    /// Counts one run of `probe`, failed or not.
    pub fn record_probe_run(&mut self, probe: &str, failed: bool) {
        *self.probe_runs.entry(probe.to_string()).or_default() += 1;
        let failures = self.probe_failures.entry(probe.to_string()).or_default();
        if failed {
            *failures += 1;
        }
    }

    /// The Prometheus text exposition format: one `# HELP` and `# TYPE` per metric, base
    /// units, `_total` counters.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let mut metric = |name: &str, kind: &str, help: &str, samples: &[(String, u64)]| {
            let _ = writeln!(out, "# HELP ssm_inventoryd_{name} {help}");
            let _ = writeln!(out, "# TYPE ssm_inventoryd_{name} {kind}");
            for (labels, value) in samples {
                let _ = writeln!(out, "ssm_inventoryd_{name}{labels} {value}");
            }
        };
        let plain = |v: u64| vec![(String::new(), v)];
        let labelled = |label: &str, values: &mut dyn Iterator<Item = (&str, u64)>| {
            values
                .map(|(k, v)| (format!("{{{label}=\"{}\"}}", escape_label(k)), v))
                .collect::<Vec<_>>()
        };
        metric(
            "pushes_total",
            "counter",
            "Pushes: rounds of planning and delivery, including those that sent nothing.",
            &plain(self.pushes),
        );
        metric(
            "put_inventory_requests_total",
            "counter",
            "PutInventory requests sent, whatever their outcome.",
            &plain(self.requests),
        );
        metric(
            "put_inventory_request_bytes_total",
            "counter",
            "Bytes of PutInventory request bodies sent.",
            &plain(self.request_bytes),
        );
        metric(
            "items_total",
            "counter",
            "Items by what a push did with them: sent in full, sent hash-only, skipped as unchanged, or cleared.",
            &labelled("outcome", &mut self.items.iter().map(|(k, v)| (*k, *v))),
        );
        metric(
            "put_inventory_errors_total",
            "counter",
            "Failed PutInventory requests by error code.",
            &labelled(
                "code",
                &mut self.errors.iter().map(|(k, v)| (k.as_str(), *v)),
            ),
        );
        metric(
            "quarantined_types",
            "gauge",
            "Types the service refused, held back until their content changes or quarantine_retry passes.",
            &plain(self.quarantined),
        );
        metric(
            "pending_items",
            "gauge",
            "Items the last push could not deliver; they go with the next push.",
            &plain(self.pending),
        );
        metric(
            "probe_runs_total",
            "counter",
            "Probe runs, by probe.",
            &labelled(
                "probe",
                &mut self.probe_runs.iter().map(|(k, v)| (k.as_str(), *v)),
            ),
        );
        metric(
            "probe_failures_total",
            "counter",
            "Probe runs that failed, by probe.",
            &labelled(
                "probe",
                &mut self.probe_failures.iter().map(|(k, v)| (k.as_str(), *v)),
            ),
        );
        metric(
            "state_persist_failing",
            "gauge",
            "1 while the state file or the fleet store cannot be written (disk full, read-only, permissions): acknowledgements and new fleet versions are kept in memory only.",
            &plain(u64::from(self.state_persist_failing)),
        );
        metric(
            "state_write_failures_total",
            "counter",
            "Writes of the state file or of the fleet store that failed.",
            &plain(self.state_write_failures),
        );
        if let Some(at) = self.last_acknowledged_push {
            metric(
                "last_acknowledged_push_timestamp_seconds",
                "gauge",
                "When the service last acknowledged a push (Unix time).",
                &plain(u64::try_from(at.unix_timestamp()).unwrap_or(0)),
            );
        }
        out
    }

    /// Replaces `path` with the rendered metrics: a temporary file in the same folder, made
    /// readable by the collector whatever the daemon's umask, then renamed over it.
    pub fn write(&self, path: &Path) -> std::io::Result<()> {
        use std::os::unix::fs::PermissionsExt;
        let dir = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let mut temp = tempfile::Builder::new()
            .prefix(".ssm_inventoryd.")
            .suffix(".prom.tmp")
            .tempfile_in(dir)?;
        temp.write_all(self.render().as_bytes())?;
        temp.as_file()
            .set_permissions(std::fs::Permissions::from_mode(0o644))?;
        temp.persist(path).map_err(|e| e.error)?;
        Ok(())
    }
}

/// Label values escape backslash, double quote and newline.
fn escape_label(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests;
