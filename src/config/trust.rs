//! Trust checks in the spirit of sshd's `StrictModes`.
//!
//! A daemon running as root executes the programs its probe files name and reports what its
//! folders hold. Whoever can change a probe file, an exec program or a `files` folder could
//! therefore run code as root or forge inventory. So when the daemon runs as root (and
//! `[agent] strict_permissions` is on, the default), such a path is refused unless it and
//! every directory above it are owned by root and writable by nobody else.
//!
//! One exception, as for sshd: a directory *above* the path that is world-writable with the
//! sticky bit (`/tmp`) is accepted, because there only an entry's owner can rename or remove
//! it, and the entry itself is still checked. The path itself never gets that exception.
//!
//! Symbolic links on the way are looked at themselves (`lstat`), not only followed: a link
//! must be owned by root, because in a sticky directory its owner can replace it with one to
//! anywhere else after the check. Its target is checked on its own way.
//!
//! A check of a path says nothing about what is opened by that path a moment later. So a
//! file that is used after the check is opened first and compared with what the check saw
//! ([`check_opened`], [`open_program`]): the daemon then reads, or executes, that open file.

use std::fs::{File, Metadata};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// What the operator can do about a refused path.
const HINT: &str = "a root daemon only trusts what only root can change (fix the owner or mode, or set `[agent] strict_permissions = false`)";
/// The same for the main config file, which holds `strict_permissions` and so cannot be
/// exempted by it.
const MAIN_FILE_HINT: &str = "a root daemon only trusts what only root can change (fix the owner or mode; the main config file is checked whatever its `strict_permissions` says)";

/// Which advice a refusal ends with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hint {
    /// Fix it, or switch the checks off.
    OptOut,
    /// Fix it: the file is the one that would switch the checks off.
    MainFile,
}

impl std::fmt::Display for Hint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Hint::OptOut => HINT,
            Hint::MainFile => MAIN_FILE_HINT,
        })
    }
}

/// Why a path is not trusted. The message names the path and what is wrong with it.
#[derive(Debug, thiserror::Error)]
pub enum TrustError {
    #[error("{} is writable by {who} (mode {mode:04o}); {hint}", path.display())]
    Writable {
        path: PathBuf,
        who: &'static str,
        mode: u32,
        hint: Hint,
    },
    #[error("{} is owned by uid {uid}, not root; {hint}", path.display())]
    NotRootOwned { path: PathBuf, uid: u32, hint: Hint },
    #[error("{} is a symbolic link owned by uid {uid}, not root; {hint}", path.display())]
    LinkNotRootOwned { path: PathBuf, uid: u32, hint: Hint },
    #[error("{} is not a regular file with an execute bit", path.display())]
    NotAProgram { path: PathBuf },
    #[error("{} was replaced while it was being checked", path.display())]
    Replaced { path: PathBuf },
    #[error("cannot check the permissions of {}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl TrustError {
    /// The same refusal, advising what helps for the main config file.
    pub fn for_main_file(mut self) -> TrustError {
        match &mut self {
            TrustError::Writable { hint, .. }
            | TrustError::NotRootOwned { hint, .. }
            | TrustError::LinkNotRootOwned { hint, .. } => *hint = Hint::MainFile,
            TrustError::NotAProgram { .. }
            | TrustError::Replaced { .. }
            | TrustError::Io { .. } => {}
        }
        self
    }
}

/// The file a checked path led to, by device and inode: what an open file must be to count as
/// the checked one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileId {
    dev: u64,
    ino: u64,
}

impl FileId {
    fn of(meta: &Metadata) -> FileId {
        FileId {
            dev: meta.dev(),
            ino: meta.ino(),
        }
    }
}

/// Whether the checks apply: only when running as root, and not switched off.
pub fn enforced(strict_permissions: bool) -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    strict_permissions && unsafe { libc::geteuid() } == 0
}

/// For tests that only mean something as root: whether the checks apply, with a skip line
/// naming the test when they do not.
#[cfg(test)]
#[track_caller]
pub(crate) fn root_or_skip() -> bool {
    crate::skip::as_root("needs root: the trust checks apply only to root")
}

/// Checks `path` and every directory above it, both as written (made absolute) and after
/// resolving symbolic links, so that neither a writable directory on the way to a link nor
/// one on the way to its target slips through. Returns the file it led to. Blocking: call it
/// off the async threads.
pub fn check_path(path: &Path) -> Result<FileId, TrustError> {
    let io = |source| TrustError::Io {
        path: path.to_owned(),
        source,
    };
    let absolute = std::path::absolute(path).map_err(io)?;
    let written = check_chain(&absolute)?;
    let canonical = std::fs::canonicalize(path).map_err(io)?;
    // Without a link anywhere on the way the two are the same path, and the entry is the file.
    if canonical == absolute {
        return Ok(FileId::of(&written));
    }
    let resolved = check_chain(&canonical)?;
    Ok(FileId::of(&resolved))
}

/// Checks one already opened file (its metadata from `fstat`), so that what is read is what
/// was checked.
pub fn check_metadata(path: &Path, meta: &Metadata) -> Result<(), TrustError> {
    check_one(path, meta, false)
}

/// Checks `path` as [`check_path`] does and that `file`, opened by that path before, is the
/// file the check led to and passes the check itself. What is then read from `file` is
/// what was checked, whatever happens to the path meanwhile. Returns the file's metadata.
pub fn check_opened(path: &Path, file: &File) -> Result<Metadata, TrustError> {
    let checked = check_path(path)?;
    let meta = file.metadata().map_err(|source| TrustError::Io {
        path: path.to_owned(),
        source,
    })?;
    check_metadata(path, &meta)?;
    if FileId::of(&meta) != checked {
        return Err(TrustError::Replaced {
            path: path.to_owned(),
        });
    }
    Ok(meta)
}

/// Opens the program at `path` for executing it through its descriptor, and checks it as
/// [`check_opened`] does, and that it is a regular file with an execute bit.
///
/// The descriptor is `O_PATH` (root without `CAP_DAC_OVERRIDE` may execute a file it cannot
/// read) and close-on-exec, so that programs started meanwhile by other threads do not
/// inherit it. It is never 0, 1 or 2: the child's stdin, stdout and stderr are put there
/// before it is executed.
pub fn open_program(path: &Path) -> Result<OwnedFd, TrustError> {
    let io = |source| TrustError::Io {
        path: path.to_owned(),
        source,
    };
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_PATH)
        .open(path)
        .map_err(io)?;
    let meta = check_opened(path, &file)?;
    if !meta.is_file() || meta.permissions().mode() & 0o111 == 0 {
        return Err(TrustError::NotAProgram {
            path: path.to_owned(),
        });
    }
    above_stdio(file.into()).map_err(io)
}

/// `fd`, or a close-on-exec duplicate of it numbered 3 or more when it is 0, 1 or 2 (possible
/// only when the daemon was started with one of those closed).
fn above_stdio(fd: OwnedFd) -> std::io::Result<OwnedFd> {
    if fd.as_raw_fd() > 2 {
        return Ok(fd);
    }
    // SAFETY: F_DUPFD_CLOEXEC only reads `fd`, which is open; the new descriptor it returns
    // is owned by nobody else.
    let dup = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_DUPFD_CLOEXEC, 3) };
    if dup < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: `dup` was just opened and is owned here only.
    Ok(unsafe { OwnedFd::from_raw_fd(dup) })
}

/// Checks every entry from `path` up to `/`, each as it is (`lstat`): a symbolic link is
/// checked as a link, and where it leads is left to the check of the resolved path. Returns
/// what `path` itself is.
fn check_chain(path: &Path) -> Result<Metadata, TrustError> {
    let lstat = |entry: &Path| {
        std::fs::symlink_metadata(entry).map_err(|source| TrustError::Io {
            path: entry.to_owned(),
            source,
        })
    };
    let itself = lstat(path)?;
    check_entry(path, &itself, false)?;
    for dir in path.ancestors().skip(1) {
        check_entry(dir, &lstat(dir)?, true)?;
    }
    Ok(itself)
}

fn check_entry(path: &Path, meta: &Metadata, above: bool) -> Result<(), TrustError> {
    if meta.file_type().is_symlink() {
        check_link(path, meta)
    } else {
        check_one(path, meta, above)
    }
}

/// A link's own mode means nothing (it is always 0777) and only whoever may replace it in
/// its directory can change it; but in a sticky directory that is its owner.
fn check_link(path: &Path, meta: &Metadata) -> Result<(), TrustError> {
    if meta.uid() != 0 {
        return Err(TrustError::LinkNotRootOwned {
            path: path.to_owned(),
            uid: meta.uid(),
            hint: Hint::OptOut,
        });
    }
    Ok(())
}

fn check_one(path: &Path, meta: &Metadata, above: bool) -> Result<(), TrustError> {
    if meta.uid() != 0 {
        return Err(TrustError::NotRootOwned {
            path: path.to_owned(),
            uid: meta.uid(),
            hint: Hint::OptOut,
        });
    }
    let mode = meta.permissions().mode() & 0o7777;
    let sticky_dir = meta.is_dir() && mode & 0o1000 != 0;
    if above && sticky_dir {
        return Ok(());
    }
    let who = match (mode & 0o020 != 0, mode & 0o002 != 0) {
        (false, false) => return Ok(()),
        (true, false) => "its group",
        (false, true) => "others",
        (true, true) => "its group and others",
    };
    Err(TrustError::Writable {
        path: path.to_owned(),
        who,
        mode,
        hint: Hint::OptOut,
    })
}

#[cfg(test)]
mod tests;
