//! The `files` probe: a folder of `*.json` documents in the SSM Agent's custom inventory
//! format, so that files written for the SSM Agent work unchanged.
//!
//! A document is `{"SchemaVersion":"1.0","TypeName":"Custom:X","Content":{…} or […]}` (an
//! array of such documents is accepted too). One bad file must not cost the others their
//! inventory, so each file is read and validated on its own: a bad one is reported with its
//! path and cause, and its last good items (from an earlier run of this probe) are kept, so
//! that a file caught half-edited never clears inventory. A file that is gone takes its
//! types with it, which `on_removed` then handles.
//!
//! Names are taken in byte order; when two files hold one TypeName, the first keeps it and
//! the later one is reported. Hidden files, editor and temporary files and anything not
//! ending in `.json` are ignored, so writers can use the usual write-then-rename.
//!
//! A missing folder is an empty collection, with a warning: on a fresh node nothing has
//! written there yet. A folder that exists but cannot be read fails the run.

use std::collections::{BTreeMap, HashMap};
use std::ffi::{OsStr, OsString};
use std::io::Read;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

pub use crate::watch::WatchError;

use super::output::{self, OutputError};
use super::{CollectContext, Collection, ProbeError};
use crate::config::defaults::INSTANCE_ID_PLACEHOLDER;
use crate::config::trust::{self, TrustError};
use crate::identity::is_instance_id;
use crate::inventory::{Item, ItemError, ItemHead, capture_time_now, check_type_name};

/// Largest document file read. SSM Agent documents are small; a file this large is a
/// mistake (or an attack), and reading it whole would cost the daemon that much memory.
pub const MAX_FILE_BYTES: u64 = 8 * 1024 * 1024;

/// The SchemaVersion of a document that gives none, as the SSM Agent assumes.
const DEFAULT_SCHEMA_VERSION: &str = crate::config::defaults::DEFAULT_SCHEMA_VERSION;

/// Why one file was skipped. Shown after the file's path.
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    #[error("cannot read: {0}")]
    Read(#[source] std::io::Error),
    #[error("is not a regular file")]
    NotAFile,
    #[error("is larger than {MAX_FILE_BYTES} bytes")]
    TooLarge,
    #[error("refused: {0}")]
    Untrusted(#[source] TrustError),
    #[error("content {0}")]
    Parse(#[source] OutputError),
    #[error(
        "has no TypeName; files must be SSM Agent documents {{\"SchemaVersion\", \"TypeName\", \"Content\"}}"
    )]
    NoTypeName,
    #[error("{0}")]
    Item(#[source] ItemError),
    #[error(
        "TypeName `{type_name}` is already in {}, which comes first by name; this file's copy is ignored",
        first.display()
    )]
    DuplicateType { type_name: String, first: PathBuf },
}

/// A configured `files` probe.
#[derive(Debug, Clone)]
pub struct FilesProbe {
    probe: String,
    /// As configured; may hold `{instance_id}`.
    path: PathBuf,
    strict_permissions: bool,
    /// The items each file gave the last time it was good, by file name: what is reported
    /// for a file while it is bad. Shared by clones, which are the same probe.
    last_good: Arc<Mutex<HashMap<OsString, Vec<Item>>>>,
}

impl FilesProbe {
    pub fn new(probe: &str, path: &Path, strict_permissions: bool) -> FilesProbe {
        FilesProbe {
            probe: probe.to_owned(),
            path: path.to_owned(),
            strict_permissions,
            last_good: Arc::default(),
        }
    }

    /// Whether the configured path needs the instance ID.
    pub fn needs_instance_id(&self) -> bool {
        self.path
            .as_os_str()
            .as_bytes()
            .windows(INSTANCE_ID_PLACEHOLDER.len())
            .any(|w| w == INSTANCE_ID_PLACEHOLDER.as_bytes())
    }

    /// The folder to read: the configured path with `{instance_id}` replaced.
    pub fn folder(&self, ctx: &CollectContext) -> Result<PathBuf, ProbeError> {
        if !self.needs_instance_id() {
            return Ok(self.path.clone());
        }
        let Some(id) = ctx.instance_id.as_deref() else {
            return Err(ProbeError::InstanceIdUnknown {
                probe: self.probe.clone(),
                path: self.path.clone(),
            });
        };
        // Checked, so that an ID can never smuggle `/` or `..` into the path.
        if !is_instance_id(id) {
            return Err(ProbeError::InstanceIdUnknown {
                probe: self.probe.clone(),
                path: self.path.clone(),
            });
        }
        Ok(replace_placeholder(&self.path, id))
    }

    /// Reads the folder off the runtime's thread (`lane`).
    pub async fn collect(&self, ctx: &CollectContext) -> Result<Collection, ProbeError> {
        let folder = self.folder(ctx)?;
        let this = self.clone();
        super::lane::run(move || this.scan(&folder))
            .await
            .map_err(|_| ProbeError::Crashed {
                probe: self.probe.clone(),
            })?
    }

    /// Reads every document in `folder`. Blocking.
    fn scan(&self, folder: &Path) -> Result<Collection, ProbeError> {
        let folder_error = |source| ProbeError::Folder {
            probe: self.probe.clone(),
            path: folder.to_owned(),
            source,
        };
        let entries = match std::fs::read_dir(folder) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                tracing::warn!(
                    probe = %self.probe,
                    "folder {} does not exist; no files to collect",
                    folder.display()
                );
                self.remember(|last| last.clear());
                return Ok(Collection::default());
            }
            Err(e) => return Err(folder_error(e)),
        };
        if trust::enforced(self.strict_permissions) {
            trust::check_path(folder).map_err(|source| ProbeError::Untrusted {
                probe: self.probe.clone(),
                what: "folder",
                source,
            })?;
        }
        let mut names: Vec<OsString> = Vec::new();
        for entry in entries {
            let entry = entry.map_err(folder_error)?;
            let name = entry.file_name();
            if is_document_name(&name) {
                names.push(name);
            }
        }
        names.sort_by(|a, b| a.as_bytes().cmp(b.as_bytes()));

        let mut collection = Collection::default();
        let mut first_file: BTreeMap<String, PathBuf> = BTreeMap::new();
        let mut fresh: HashMap<OsString, Vec<Item>> = HashMap::new();
        let capture_time = capture_time_now();
        for name in names {
            let path = folder.join(&name);
            let items = match self.read_file(&path, &capture_time) {
                Ok(Some(items)) => {
                    fresh.insert(name.clone(), items.clone());
                    items
                }
                // Not a regular file (a directory named x.json): not a document, skip it.
                Ok(None) => continue,
                Err(source) => {
                    let kept = self
                        .remember(|last| last.get(&name).cloned())
                        .unwrap_or_default();
                    if !kept.is_empty() {
                        tracing::warn!(
                            probe = %self.probe,
                            "{}: keeping the last good content of this file while it is bad",
                            path.display()
                        );
                        fresh.insert(name.clone(), kept.clone());
                    }
                    collection.errors.push(self.file_error(&path, source));
                    kept
                }
            };
            for item in items {
                match first_file.get(item.type_name()) {
                    Some(first) => {
                        let source = FileError::DuplicateType {
                            type_name: item.type_name().to_owned(),
                            first: first.clone(),
                        };
                        collection.errors.push(self.file_error(&path, source));
                    }
                    None => {
                        first_file.insert(item.type_name().to_owned(), path.clone());
                        collection.items.push(item);
                    }
                }
            }
        }
        // Files that are gone are forgotten, so that a file that comes back bad is not
        // mistaken for one that was good a moment ago.
        self.remember(|last| *last = fresh);
        Ok(collection)
    }

    /// `Ok(None)` for something that is not a regular file.
    fn read_file(&self, path: &Path, capture_time: &str) -> Result<Option<Vec<Item>>, FileError> {
        // Non-blocking, so that a FIFO named x.json cannot hang the scan; it is refused below.
        let mut file = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
            .open(path)
            .map_err(FileError::Read)?;
        let meta = file.metadata().map_err(FileError::Read)?;
        if meta.is_dir() {
            return Ok(None);
        }
        if !meta.is_file() {
            return Err(FileError::NotAFile);
        }
        if trust::enforced(self.strict_permissions) {
            trust::check_metadata(path, &meta).map_err(FileError::Untrusted)?;
            // A link leads out of the checked folder: check the link and the way to its
            // target too, and that the target is the file opened.
            if std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink()) {
                trust::check_opened(path, &file).map_err(FileError::Untrusted)?;
            }
        }
        let mut bytes = Vec::new();
        (&mut file)
            .take(MAX_FILE_BYTES + 1)
            .read_to_end(&mut bytes)
            .map_err(FileError::Read)?;
        if bytes.len() as u64 > MAX_FILE_BYTES {
            return Err(FileError::TooLarge);
        }
        let documents = output::parse(&bytes).map_err(FileError::Parse)?;
        // The rows are in their canonical form already: the file's text is not needed while
        // they are put in order.
        drop(bytes);
        let mut items = Vec::with_capacity(documents.len());
        for doc in documents {
            let type_name = doc.type_name.ok_or(FileError::NoTypeName)?;
            check_type_name(&type_name).map_err(FileError::Item)?;
            let head = ItemHead {
                type_name,
                schema_version: doc
                    .schema_version
                    .unwrap_or_else(|| DEFAULT_SCHEMA_VERSION.to_owned()),
                capture_time: capture_time.to_owned(),
                context: doc.context,
                keep_order: false,
            };
            items.push(Item::from_rows(head, doc.rows).map_err(FileError::Item)?);
        }
        Ok(Some(items))
    }

    fn file_error(&self, path: &Path, source: FileError) -> ProbeError {
        ProbeError::File {
            probe: self.probe.clone(),
            path: path.to_owned(),
            source: Box::new(source),
        }
    }

    /// Runs `f` on the last-good map. A poisoned lock only means another scan panicked
    /// half-way; the map is still a map, so it is used as it is.
    fn remember<T>(&self, f: impl FnOnce(&mut HashMap<OsString, Vec<Item>>) -> T) -> T {
        let mut guard = self
            .last_good
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        f(&mut guard)
    }
}

fn replace_placeholder(path: &Path, id: &str) -> PathBuf {
    let bytes = path.as_os_str().as_bytes();
    let needle = INSTANCE_ID_PLACEHOLDER.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i..].starts_with(needle) {
            out.extend_from_slice(id.as_bytes());
            i += needle.len();
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    PathBuf::from(OsString::from_vec(out))
}

/// Whether a directory entry is a document to read: `*.json` (any case), not hidden, and
/// none of the usual temporary and editor files (`*.tmp`, `*~`, `.#*`, `*.swp`), most of
/// which the first two rules already exclude; they are listed so the rule reads as meant.
pub fn is_document_name(name: &OsStr) -> bool {
    let bytes = name.as_bytes();
    let lower = bytes.to_ascii_lowercase();
    let temporary = bytes.starts_with(b".")
        || bytes.starts_with(b".#")
        || bytes.ends_with(b"~")
        || lower.ends_with(b".tmp")
        || lower.ends_with(b".swp");
    !temporary && lower.ends_with(b".json") && bytes.len() > ".json".len()
}

#[cfg(test)]
mod tests;
