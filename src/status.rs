//! What the daemon (or the last `once`) is doing, for `ssm-inventoryd status`.
//!
//! Acknowledged hashes and quarantine live in the state file; this file adds what only a
//! running process knows — identity in use, pending items and why, probe errors — so that
//! `status` can answer without talking to the daemon.

use std::path::Path;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::state::{StateError, write_atomically};

pub const STATUS_FILE: &str = "status.json";

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuntimeStatus {
    pub instance_id: String,
    pub region: String,
    pub identity_source: String,
    /// Where the credentials came from (see `aws::CredentialsSource`).
    #[serde(default)]
    pub credentials_source: String,
    #[serde(with = "time::serde::rfc3339::option", default)]
    pub updated_at: Option<OffsetDateTime>,
    /// Types not delivered yet, with the reason.
    #[serde(default)]
    pub pending: Vec<TypeReason>,
    /// Probes whose last run failed, with the error.
    #[serde(default)]
    pub probe_errors: Vec<ProbeErrorEntry>,
    /// Set while the service refuses this node's instance ID.
    #[serde(default)]
    pub instance_invalid: Option<String>,
    #[serde(default)]
    pub last_push: Option<PushSummary>,
    /// Set while the state cannot be written (a full or read-only disk): what was
    /// acknowledged since is held in memory only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub persist_failing: Option<String>,
    /// Set while the fleet store cannot be written: new fleet versions run from memory only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fleet_persist_failing: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TypeReason {
    pub type_name: String,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProbeErrorEntry {
    pub probe: String,
    pub error: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PushSummary {
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    pub requests: usize,
    pub bytes: usize,
    pub sent_full: usize,
    pub sent_hash_only: usize,
    pub skipped: usize,
    pub cleared: usize,
}

impl RuntimeStatus {
    pub fn save(&self, dir: &Path) -> Result<(), StateError> {
        // Plain strings and numbers: serialising cannot fail.
        let bytes = serde_json::to_vec_pretty(self).unwrap_or_default();
        write_atomically(dir, STATUS_FILE, &bytes)
    }

    /// The last written status, if any could be read.
    pub fn load(dir: &Path) -> Option<RuntimeStatus> {
        let bytes = std::fs::read(dir.join(STATUS_FILE)).ok()?;
        serde_json::from_slice(&bytes).ok()
    }

    /// The newest of the status in the state directory and the one in the runtime
    /// directory, where the daemon writes it while the state directory refuses writes.
    pub fn load_newest(state_dir: &Path, runtime_dir: Option<&Path>) -> Option<RuntimeStatus> {
        let in_state = RuntimeStatus::load(state_dir);
        let in_runtime = runtime_dir.and_then(RuntimeStatus::load);
        match (in_state, in_runtime) {
            (Some(a), Some(b)) => Some(if b.updated_at > a.updated_at { b } else { a }),
            (a, b) => a.or(b),
        }
    }
}
