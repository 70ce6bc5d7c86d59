//! What the service has acknowledged, per instance ID and TypeName, persisted atomically.
//!
//! Only hashes are kept, never content: content the service holds is not ours to hold again.
//! The file is written only after a successful call, by temp file + fsync + rename + fsync of
//! the directory, so a crash leaves either the old or the new file, and a crash between the
//! call and the write only causes a harmless resend. A file that cannot be read is set aside
//! and replaced by an empty state: resending everything is always safe, stopping is not.

use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::durable::{self, DurableFs, RealFs};

/// File name inside `state_dir`.
pub const STATE_FILE: &str = "state.json";
const FORMAT_VERSION: u32 = 1;

#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("cannot create state directory {}: {}", path.display(), io_cause(source))]
    CreateDir { path: PathBuf, source: io::Error },
    #[error("cannot write state file {}: {}", path.display(), io_cause(source))]
    Write { path: PathBuf, source: io::Error },
}

/// An I/O error as the operator reads it: `no storage space`, `read-only filesystem or
/// storage medium`, `permission denied`, rather than the system's message with its
/// `(os error 28)`.
pub fn io_cause(error: &io::Error) -> String {
    if error.raw_os_error().is_some() && error.kind() != io::ErrorKind::Other {
        let kind = error.kind().to_string();
        if kind != "uncategorized error" {
            return kind;
        }
    }
    error.to_string()
}

/// The service's acknowledgement of one type.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ack {
    pub content_hash: String,
    pub schema_version: String,
    #[serde(with = "time::serde::rfc3339")]
    pub acknowledged_at: OffsetDateTime,
}

impl Ack {
    /// The acknowledgement of `item` at `at`.
    pub fn of(item: &crate::inventory::Item, at: OffsetDateTime) -> Ack {
        Ack {
            content_hash: item.content_hash().to_string(),
            schema_version: item.schema_version().to_string(),
            acknowledged_at: at,
        }
    }
}

/// A type the service refused for good, and why. It is tried again when its content changes
/// or after `quarantine_retry`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Quarantine {
    pub content_hash: String,
    pub reason: String,
    #[serde(with = "time::serde::rfc3339")]
    pub since: OffsetDateTime,
}

/// Acknowledged and quarantined types of one instance ID.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstanceState {
    #[serde(default)]
    pub types: BTreeMap<String, Ack>,
    #[serde(default)]
    pub quarantine: BTreeMap<String, Quarantine>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct State {
    version: u32,
    /// Keyed by instance ID, so a re-registered node (new ID) starts from nothing.
    #[serde(default)]
    pub instances: BTreeMap<String, InstanceState>,
}

impl Default for State {
    fn default() -> Self {
        State {
            version: FORMAT_VERSION,
            instances: BTreeMap::new(),
        }
    }
}

/// What loading found, so the caller can tell the operator.
#[derive(Debug)]
pub enum Loaded {
    Fresh,
    Read,
    /// The file could not be used; it was moved to `set_aside` (when the rename worked).
    Recovered {
        reason: String,
        set_aside: Option<PathBuf>,
    },
}

impl State {
    pub fn instance(&self, instance_id: &str) -> Option<&InstanceState> {
        self.instances.get(instance_id)
    }

    fn entry(&mut self, instance_id: &str) -> &mut InstanceState {
        self.instances.entry(instance_id.to_string()).or_default()
    }

    /// Records an acknowledgement; it also ends any quarantine of the type.
    pub fn acknowledge(&mut self, instance_id: &str, type_name: &str, ack: Ack) {
        let instance = self.entry(instance_id);
        instance.quarantine.remove(type_name);
        instance.types.insert(type_name.to_string(), ack);
    }

    pub fn quarantine(&mut self, instance_id: &str, type_name: &str, quarantine: Quarantine) {
        self.entry(instance_id)
            .quarantine
            .insert(type_name.to_string(), quarantine);
    }

    /// Drops everything known about a type (after it was cleared from the service).
    pub fn forget(&mut self, instance_id: &str, type_name: &str) {
        if let Some(instance) = self.instances.get_mut(instance_id) {
            instance.types.remove(type_name);
            instance.quarantine.remove(type_name);
        }
    }

    /// Reads `dir/state.json`; never fails, see the module docs.
    pub fn load(dir: &Path) -> (State, Loaded) {
        let path = dir.join(STATE_FILE);
        let bytes = match fs::read(&path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return (State::default(), Loaded::Fresh);
            }
            Err(e) => {
                return (
                    State::default(),
                    set_aside(&path, format!("cannot read it: {e}")),
                );
            }
        };
        match serde_json::from_slice::<State>(&bytes) {
            Ok(state) if state.version == FORMAT_VERSION => (state, Loaded::Read),
            Ok(state) => (
                State::default(),
                set_aside(&path, format!("unknown format version {}", state.version)),
            ),
            Err(e) => (
                State::default(),
                set_aside(&path, format!("it is not valid: {e}")),
            ),
        }
    }

    /// Writes `dir/state.json` atomically and durably.
    pub fn save(&self, dir: &Path) -> Result<(), StateError> {
        self.save_with(&RealFs, dir)
    }

    /// [`State::save`] through `fs`.
    pub(crate) fn save_with(&self, fs: &impl DurableFs, dir: &Path) -> Result<(), StateError> {
        // Serialising maps of strings cannot fail.
        let bytes = serde_json::to_vec_pretty(self).unwrap_or_default();
        write_atomically_with(fs, dir, STATE_FILE, &bytes)
    }
}

/// [`State::load`] off the async threads, and the operator told when the file was set aside.
pub async fn load_logged(dir: &Path) -> State {
    let owned = dir.to_path_buf();
    let (state, loaded) = tokio::task::spawn_blocking(move || State::load(&owned))
        .await
        .unwrap_or_else(|e| {
            (
                State::default(),
                Loaded::Recovered {
                    reason: format!("reading it stopped unexpectedly: {e}"),
                    set_aside: None,
                },
            )
        });
    if let Loaded::Recovered { reason, set_aside } = &loaded {
        match set_aside {
            Some(aside) => tracing::warn!(
                "state in {} could not be used ({reason}); moved it to {} and will resend everything",
                dir.display(),
                aside.display()
            ),
            None => tracing::warn!(
                "state in {} could not be used ({reason}); will resend everything",
                dir.display()
            ),
        }
    }
    state
}

/// Replaces `dir/name` with `bytes` so that a crash leaves the old or the new file, never a
/// mix: temp file, fsync, rename, fsync of the directory ([`durable::replace`]).
pub fn write_atomically(dir: &Path, name: &str, bytes: &[u8]) -> Result<(), StateError> {
    write_atomically_with(&RealFs, dir, name, bytes)
}

/// [`write_atomically`] through `fs`.
pub(crate) fn write_atomically_with(
    fs: &impl DurableFs,
    dir: &Path,
    name: &str,
    bytes: &[u8],
) -> Result<(), StateError> {
    durable::ensure_dir(fs, dir).map_err(|source| StateError::CreateDir {
        path: dir.to_path_buf(),
        source,
    })?;
    let path = dir.join(name);
    // Mode 0666 before the umask, as `File::create` makes it.
    durable::replace(fs, &path, bytes, 0o666).map_err(|source| StateError::Write { path, source })
}

/// Renames an unusable state file to `state.json.corrupt-<unix time>` (with `-1`, `-2`, …
/// added when that name is taken, so a second bad file in the same second does not replace
/// the first one an operator may want to look at).
fn set_aside(path: &Path, reason: String) -> Loaded {
    let stamp = OffsetDateTime::now_utc().unix_timestamp();
    let base = format!("{STATE_FILE}.corrupt-{stamp}");
    let aside = (0..100)
        .map(|n| match n {
            0 => path.with_file_name(&base),
            n => path.with_file_name(format!("{base}-{n}")),
        })
        .find(|candidate| !candidate.exists())
        .unwrap_or_else(|| path.with_file_name(&base));
    let set_aside = fs::rename(path, &aside).ok().map(|()| aside);
    Loaded::Recovered { reason, set_aside }
}

#[cfg(test)]
mod tests;
