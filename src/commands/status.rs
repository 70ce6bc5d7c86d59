//! `status`: what the service has acknowledged for this node, what is quarantined or pending
//! and why, and the last errors — read from the state directory, so it works whether or not
//! the daemon is running.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde_json::json;

use super::{CommandError, load_settings};
use crate::config::Settings;
use crate::inventory::format_capture_time;
use crate::state::{InstanceState, State};
use crate::status::{RuntimeStatus, TypeReason};

/// `runtime_dir` is where the daemon writes its status while the state directory refuses
/// writes.
pub fn run(config_path: &Path, as_json: bool, runtime_dir: &Path) -> Result<(), CommandError> {
    let settings = load_settings(config_path)?;
    let status = Status::read(&settings, runtime_dir)?;
    if as_json {
        println!("{:#}", status.json());
    } else {
        print!("{}", status.text());
    }
    Ok(())
}

/// What `status` shows, read once from the state directory; rendered as text or JSON.
struct Status {
    state_dir: PathBuf,
    /// What the daemon (or the last `once`) wrote about its run, if anything did.
    runtime: Option<RuntimeStatus>,
    instance_id: Option<String>,
    /// The configured region, for when no run has said which one it used.
    configured_region: Option<String>,
    /// What the service acknowledged and quarantined for `instance_id`.
    instance: InstanceState,
    pending: Vec<TypeReason>,
    /// Every type acknowledged, quarantined or pending, in order.
    types: BTreeSet<String>,
    fleet: Vec<serde_json::Value>,
}

impl Status {
    fn read(settings: &Settings, runtime_dir: &Path) -> Result<Status, CommandError> {
        let dir = &settings.agent.state_dir;
        let runtime = RuntimeStatus::load_newest(dir, Some(runtime_dir));
        // Reading must not move a damaged file aside: that is the daemon's decision.
        let state = match std::fs::read(dir.join(crate::state::STATE_FILE)) {
            Ok(bytes) => serde_json::from_slice::<State>(&bytes).map_err(|e| {
                CommandError::Runtime(format!(
                    "{} is not valid ({e}); the daemon will set it aside and resend everything",
                    dir.join(crate::state::STATE_FILE).display()
                ))
            })?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => State::default(),
            Err(e) => {
                return Err(CommandError::Runtime(format!(
                    "cannot read {}: {e}",
                    dir.join(crate::state::STATE_FILE).display()
                )));
            }
        };

        let instance_id = runtime
            .as_ref()
            .map(|r| r.instance_id.clone())
            .or_else(|| settings.agent.instance_id.clone())
            .or_else(|| state.instances.keys().next().cloned());
        let instance = instance_id
            .as_deref()
            .and_then(|id| state.instance(id))
            .cloned()
            .unwrap_or_default();
        let pending = runtime
            .as_ref()
            .map(|r| r.pending.clone())
            .unwrap_or_default();
        let mut types: BTreeSet<String> = instance.types.keys().cloned().collect();
        types.extend(instance.quarantine.keys().cloned());
        types.extend(pending.iter().map(|p| p.type_name.clone()));
        Ok(Status {
            state_dir: dir.clone(),
            runtime,
            instance_id,
            configured_region: settings.agent.region.clone(),
            instance,
            pending,
            types,
            fleet: fleet_status(settings),
        })
    }

    /// `status --json`.
    fn json(&self) -> serde_json::Value {
        let (instance, pending, runtime) = (&self.instance, &self.pending, &self.runtime);
        let rows: Vec<serde_json::Value> = self
            .types
            .iter()
            .map(|t| {
                let ack = instance.types.get(t);
                let q = instance.quarantine.get(t);
                let p = pending.iter().find(|p| &p.type_name == t);
                json!({
                    "type_name": t,
                    "content_hash": ack.map(|a| a.content_hash.clone()),
                    "schema_version": ack.map(|a| a.schema_version.clone()),
                    "acknowledged_at": ack.map(|a| format_capture_time(a.acknowledged_at)),
                    "pending": p.map(|p| p.reason.clone()),
                    "quarantined": q.map(|q| json!({"reason": q.reason, "since": format_capture_time(q.since)})),
                })
            })
            .collect();
        json!({
            "instance_id": self.instance_id,
            "region": runtime.as_ref().map(|r| r.region.clone()).or_else(|| self.configured_region.clone()),
            "identity_source": runtime.as_ref().map(|r| r.identity_source.clone()),
            "credentials_source": runtime.as_ref().map(|r| r.credentials_source.clone()),
            "updated_at": runtime.as_ref().and_then(|r| r.updated_at).map(format_capture_time),
            "instance_invalid": runtime.as_ref().and_then(|r| r.instance_invalid.clone()),
            "state_persist_failing": runtime.as_ref().and_then(|r| r.persist_failing.clone()),
            "fleet_persist_failing": runtime.as_ref().and_then(|r| r.fleet_persist_failing.clone()),
            "types": rows,
            "probe_errors": runtime.as_ref().map(|r| r.probe_errors.clone()).unwrap_or_default(),
            "last_push": runtime.as_ref().and_then(|r| r.last_push.clone()),
            "fleet": self.fleet,
        })
    }

    /// `status`, one line per fact.
    fn text(&self) -> String {
        let (instance, pending, runtime) = (&self.instance, &self.pending, &self.runtime);
        let mut lines: Vec<String> = Vec::new();
        match (&self.instance_id, runtime) {
            (Some(id), Some(r)) => {
                lines.push(format!(
                    "instance {id} in {} (from {})",
                    r.region, r.identity_source
                ));
                if !r.credentials_source.is_empty() {
                    lines.push(format!("credentials from {}", r.credentials_source));
                }
            }
            (Some(id), None) => lines.push(format!("instance {id}")),
            (None, _) => lines.push(format!(
                "no instance has pushed from {} yet",
                self.state_dir.display()
            )),
        }
        if let Some(reason) = runtime.as_ref().and_then(|r| r.instance_invalid.as_ref()) {
            lines.push(format!("NOT ACCEPTED: {reason}"));
        }
        if let Some(reason) = runtime.as_ref().and_then(|r| r.persist_failing.as_ref()) {
            lines.push(format!(
                "STATE NOT PERSISTED: {reason}; acknowledgements are held in memory until it can be written"
            ));
        }
        if let Some(reason) = runtime
            .as_ref()
            .and_then(|r| r.fleet_persist_failing.as_ref())
        {
            lines.push(format!(
                "FLEET VERSIONS NOT PERSISTED: {reason}; new versions run from memory until they can be written"
            ));
        }
        if let Some(last) = runtime.as_ref().and_then(|r| r.last_push.as_ref()) {
            lines.push(format!(
                "last push {}: {} requests, {} bytes; {} full, {} hash-only, {} unchanged, {} cleared",
                format_capture_time(last.at),
                last.requests,
                last.bytes,
                last.sent_full,
                last.sent_hash_only,
                last.skipped,
                last.cleared
            ));
        }
        lines.push(format!(
            "{} types acknowledged, {} pending, {} quarantined",
            instance.types.len(),
            pending.len(),
            instance.quarantine.len()
        ));
        for t in &self.types {
            let mut line = format!("  {t}");
            if let Some(a) = instance.types.get(t) {
                line += &format!(
                    "  acknowledged {} (hash {}, schema {})",
                    format_capture_time(a.acknowledged_at),
                    a.content_hash,
                    a.schema_version
                );
            }
            if let Some(p) = pending.iter().find(|p| &p.type_name == t) {
                line += &format!("  PENDING: {}", p.reason);
            }
            if let Some(q) = instance.quarantine.get(t) {
                line += &format!(
                    "  QUARANTINED since {}: {}",
                    format_capture_time(q.since),
                    q.reason
                );
            }
            lines.push(line);
        }
        for e in runtime.iter().flat_map(|r| &r.probe_errors) {
            lines.push(format!("probe {}: {}", e.probe, e.error));
        }
        for p in &self.fleet {
            let name = p["name"].as_str().unwrap_or("");
            let mut line = match (p["applied_version"].as_i64(), p["fetched_at"].as_str()) {
                (Some(v), Some(at)) => {
                    format!("parameter {name}: version {v} applied, fetched {at}")
                }
                _ => format!("parameter {name}: no version applied yet"),
            };
            if let Some(r) = p["refused"].as_object() {
                line += &format!(
                    "  REFUSED version {}: {}",
                    r["version"],
                    r["reason"].as_str().unwrap_or("")
                );
            }
            if let Some(problem) = p["problem"].as_str() {
                line += &format!("  PROBLEM: {problem}");
            }
            lines.push(line);
        }
        let mut text = lines.join("\n");
        text.push('\n');
        text
    }
}

/// Each fleet parameter: the version applied and when it was fetched, a refused newer
/// version with its reason, and what kept the daemon from reading it at its last poll.
fn fleet_status(settings: &crate::config::Settings) -> Vec<serde_json::Value> {
    use crate::fleet::store;
    let dir = &settings.agent.state_dir;
    let problems = store::load_problems(dir).unwrap_or_default();
    settings
        .agent
        .fleet
        .parameters
        .iter()
        .map(|name| {
            let stored = store::load(dir, name).ok().flatten();
            let refused = store::load_refusal(dir, name).ok().flatten();
            // A refusal stands only while its version is newer than the applied one.
            let refused = refused.filter(|r| stored.as_ref().is_none_or(|s| r.version > s.version));
            let problem = problems
                .get(name)
                .filter(|p| refused.as_ref().is_none_or(|r| !p.contains(&r.reason)));
            json!({
                "name": name,
                "applied_version": stored.as_ref().map(|s| s.version),
                "parameter_type": stored.as_ref().map(|s| s.parameter_type.clone()),
                "fetched_at": stored.as_ref().map(|s| format_capture_time(s.fetched_at)),
                "refused": refused.as_ref().map(|r| json!({
                    "version": r.version,
                    "reason": r.reason,
                    "at": format_capture_time(r.at),
                })),
                "problem": problem,
            })
        })
        .collect()
}
