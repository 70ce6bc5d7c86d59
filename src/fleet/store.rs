//! The last good version of each fleet parameter, and the version last refused, in
//! `<state_dir>/fleet/`.
//!
//! A node must run the same probes after a restart whether or not Parameter Store answers,
//! so a version is written here before it is applied, atomically (temporary file, fsync,
//! rename, fsync of the folder) so that a crash leaves the old or the new version, never a
//! mix. The files may hold decrypted SecureString values, so they are created readable by
//! the daemon's user only (the state directory itself is the service's, mode 0700 under
//! systemd).
//!
//! One file per parameter, `<escaped name>.json`, and `<escaped name>.refused.json` while its
//! newest version is refused, so that `status` can show both without asking the daemon.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::durable::{self, DurableFs, RealFs};

/// The folder under the state directory.
pub const FLEET_DIR: &str = "fleet";
/// Larger files are not read: a parameter's value is at most 8 KB (advanced tier), so
/// anything this size is not a file the daemon wrote.
const MAX_FILE_BYTES: u64 = 1024 * 1024;

/// A version that passed validation and was applied (or is about to be).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Stored {
    pub name: String,
    pub version: i64,
    pub text: String,
    /// `String` or `SecureString`.
    pub parameter_type: String,
    #[serde(with = "time::serde::rfc3339")]
    pub fetched_at: OffsetDateTime,
}

impl Stored {
    /// The version as a source of the configuration.
    pub fn source(&self) -> crate::config::FleetSource {
        crate::config::FleetSource {
            name: self.name.clone(),
            version: self.version,
            text: self.text.clone(),
        }
    }
}

/// A version of a parameter that did not pass, and why: what a poll reports, and what the
/// store keeps while that version is the newest, so that `status` and `validate` can show it
/// without asking the daemon. The fleet's one refusal type.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Refusal {
    pub name: String,
    pub version: i64,
    /// The validation error, naming the parameter, its version and line.
    pub reason: String,
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    /// The version of the same parameter that runs instead, if one ever passed. Known when the
    /// poll decides; not kept in the store, where the last good version stands beside it.
    #[serde(skip)]
    pub running: Option<i64>,
}

impl Refusal {
    /// One line for the log, STATUS and `status`.
    pub fn line(&self) -> String {
        let instead = match self.running {
            Some(v) => format!("version {v} keeps running"),
            None => "no version of it has passed, so none of its probes run".to_owned(),
        };
        format!(
            "parameter {} version {} refused ({instead}): {}",
            self.name, self.version, self.reason
        )
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot read {}: {source}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("{} is not a stored parameter version ({reason}); it is ignored until the next good version replaces it", path.display())]
    Invalid { path: PathBuf, reason: String },
    #[error("cannot write {}: {}", path.display(), crate::state::io_cause(source))]
    Write {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
}

impl StoreError {
    /// One line for a failed write of a version, the same for every parameter when the cause
    /// is the same (a full or read-only disk), so that the operator is told once.
    pub fn write_line(&self, state_dir: &Path) -> String {
        match self {
            StoreError::Write { source, .. } => format!(
                "the fleet store {} cannot be written: {}",
                dir(state_dir).display(),
                crate::state::io_cause(source)
            ),
            other => other.to_string(),
        }
    }
}

/// `<state_dir>/fleet`.
pub fn dir(state_dir: &Path) -> PathBuf {
    state_dir.join(FLEET_DIR)
}

/// A parameter name as a file name: letters, digits, `_` and `-` kept, every other byte as
/// `%XX`, so `/a/b` and `.` or `..` can never name a path outside the folder, and two names
/// never share a file.
pub fn escape(name: &str) -> String {
    let mut out = String::with_capacity(name.len() + 8);
    for b in name.bytes() {
        if b.is_ascii_alphanumeric() || b == b'_' || b == b'-' {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn stored_path(state_dir: &Path, name: &str) -> PathBuf {
    dir(state_dir).join(format!("{}.json", escape(name)))
}

fn refused_path(state_dir: &Path, name: &str) -> PathBuf {
    dir(state_dir).join(format!("{}.refused.json", escape(name)))
}

/// The last good version of `name`, `None` when there is none.
pub fn load(state_dir: &Path, name: &str) -> Result<Option<Stored>, StoreError> {
    let path = stored_path(state_dir, name);
    let Some(stored) = read_json::<Stored>(&path)? else {
        return Ok(None);
    };
    if stored.name != name {
        return Err(StoreError::Invalid {
            path,
            reason: format!("it is for parameter {}, not {name}", stored.name),
        });
    }
    Ok(Some(stored))
}

/// The last good versions of `names` that can be read, in that order, and what could not be.
pub fn load_all(state_dir: &Path, names: &[String]) -> (Vec<Stored>, Vec<StoreError>) {
    let mut found = Vec::new();
    let mut errors = Vec::new();
    for name in names {
        match load(state_dir, name) {
            Ok(Some(stored)) => found.push(stored),
            Ok(None) => {}
            Err(e) => errors.push(e),
        }
    }
    (found, errors)
}

/// Records `stored` as the last good version of its parameter, and forgets a refusal of the
/// same or an older version.
pub fn save(state_dir: &Path, stored: &Stored) -> Result<(), StoreError> {
    let _one_writer = WRITES
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    save_with(&RealFs, state_dir, stored)
}

/// [`save`] for a version held in memory since an earlier write failed: written unless the
/// store already holds that version or a newer one (the poller may have stored a newer one
/// meanwhile, which must not be replaced by an older one). `true` when it wrote.
pub fn save_unless_newer(state_dir: &Path, stored: &Stored) -> Result<bool, StoreError> {
    let _one_writer = WRITES
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Ok(Some(current)) = load(state_dir, &stored.name)
        && current.version >= stored.version
    {
        return Ok(false);
    }
    save_with(&RealFs, state_dir, stored).map(|()| true)
}

/// The poller and the daemon (writing again what it holds in memory) both write versions:
/// one at a time, so that the check of [`save_unless_newer`] holds until its write is done.
static WRITES: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// [`save`] through `fs`.
pub(crate) fn save_with(
    fs: &impl DurableFs,
    state_dir: &Path,
    stored: &Stored,
) -> Result<(), StoreError> {
    // Serialising strings, an integer and a date cannot fail.
    let bytes = serde_json::to_vec_pretty(stored).unwrap_or_default();
    write_private(fs, &stored_path(state_dir, &stored.name), &bytes)?;
    if let Ok(Some(refused)) = load_refusal(state_dir, &stored.name)
        && refused.version <= stored.version
    {
        clear_refusal_with(fs, state_dir, &stored.name)?;
    }
    Ok(())
}

/// The refusal of `name`'s newest version, if it stands.
pub fn load_refusal(state_dir: &Path, name: &str) -> Result<Option<Refusal>, StoreError> {
    let path = refused_path(state_dir, name);
    Ok(read_json::<Refusal>(&path)?.filter(|r| r.name == name))
}

pub fn save_refusal(state_dir: &Path, refused: &Refusal) -> Result<(), StoreError> {
    save_refusal_with(&RealFs, state_dir, refused)
}

/// [`save_refusal`] through `fs`.
pub(crate) fn save_refusal_with(
    fs: &impl DurableFs,
    state_dir: &Path,
    refused: &Refusal,
) -> Result<(), StoreError> {
    let bytes = serde_json::to_vec_pretty(refused).unwrap_or_default();
    write_private(fs, &refused_path(state_dir, &refused.name), &bytes)
}

/// Forgets the refusal of `name`, durably: a power cut after this returns cannot bring it back.
pub fn clear_refusal(state_dir: &Path, name: &str) -> Result<(), StoreError> {
    clear_refusal_with(&RealFs, state_dir, name)
}

fn clear_refusal_with(fs: &impl DurableFs, state_dir: &Path, name: &str) -> Result<(), StoreError> {
    let path = refused_path(state_dir, name);
    durable::remove(fs, &path).map_err(|source| StoreError::Write { path, source })
}

/// What stops parameters from being used right now (`parameter → one line`), as the daemon
/// last saw it; `status` shows it. `@` never appears in an escaped name, so this file cannot
/// be a parameter's.
const PROBLEMS_FILE: &str = "@problems.json";

pub fn save_problems(
    state_dir: &Path,
    problems: &std::collections::BTreeMap<String, String>,
) -> Result<(), StoreError> {
    save_problems_with(&RealFs, state_dir, problems)
}

/// [`save_problems`] through `fs`.
pub(crate) fn save_problems_with(
    fs: &impl DurableFs,
    state_dir: &Path,
    problems: &std::collections::BTreeMap<String, String>,
) -> Result<(), StoreError> {
    let bytes = serde_json::to_vec_pretty(problems).unwrap_or_default();
    write_private(fs, &dir(state_dir).join(PROBLEMS_FILE), &bytes)
}

pub fn load_problems(
    state_dir: &Path,
) -> Result<std::collections::BTreeMap<String, String>, StoreError> {
    Ok(read_json(&dir(state_dir).join(PROBLEMS_FILE))?.unwrap_or_default())
}

/// The fleet sources a configuration is built from: the last good versions of `names`.
/// Unreadable copies are logged and left out; the node then runs without them until the next
/// good version is fetched.
pub fn sources(state_dir: &Path, names: &[String]) -> Vec<crate::config::FleetSource> {
    let (stored, errors) = load_all(state_dir, names);
    for e in errors {
        tracing::warn!("{e}");
    }
    stored
        .into_iter()
        .map(|s| crate::config::FleetSource {
            name: s.name,
            version: s.version,
            text: s.text,
        })
        .collect()
}

/// `sources` with the versions held in memory (`held`, written to the store by nobody yet)
/// in place of the stored version of the same parameter, in the order of `names`: what the
/// daemon runs while the store cannot be written.
pub fn with_held(
    sources: Vec<crate::config::FleetSource>,
    held: &[crate::config::FleetSource],
    names: &[String],
) -> Vec<crate::config::FleetSource> {
    names
        .iter()
        .filter_map(|name| {
            held.iter()
                .chain(&sources)
                .find(|s| &s.name == name)
                .cloned()
        })
        .collect()
}

fn read_json<T: for<'de> Deserialize<'de>>(path: &Path) -> Result<Option<T>, StoreError> {
    let read = |source| StoreError::Read {
        path: path.to_owned(),
        source,
    };
    let meta = match fs::metadata(path) {
        Ok(meta) => meta,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(read(e)),
    };
    if meta.len() > MAX_FILE_BYTES {
        return Err(StoreError::Invalid {
            path: path.to_owned(),
            reason: format!("it is larger than {MAX_FILE_BYTES} bytes"),
        });
    }
    let bytes = fs::read(path).map_err(read)?;
    serde_json::from_slice(&bytes)
        .map(Some)
        .map_err(|e| StoreError::Invalid {
            path: path.to_owned(),
            reason: e.to_string(),
        })
}

/// Replaces `path` atomically and durably with a file only its owner can read.
fn write_private(fs: &impl DurableFs, path: &Path, bytes: &[u8]) -> Result<(), StoreError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    durable::ensure_dir(fs, dir)
        .and_then(|()| durable::replace(fs, path, bytes, 0o600))
        .map_err(|source| StoreError::Write {
            path: path.to_owned(),
            source,
        })
}

#[cfg(test)]
mod tests;
