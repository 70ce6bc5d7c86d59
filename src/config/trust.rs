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

use std::fs::Metadata;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// What the operator can do about a refused path.
const HINT: &str = "a root daemon only trusts what only root can change (fix the owner or mode, or set `[agent] strict_permissions = false`)";

/// Why a path is not trusted. The message names the path and what is wrong with it.
#[derive(Debug, thiserror::Error)]
pub enum TrustError {
    #[error("{} is writable by {who} (mode {mode:04o}); {HINT}", path.display())]
    Writable {
        path: PathBuf,
        who: &'static str,
        mode: u32,
    },
    #[error("{} is owned by uid {uid}, not root; {HINT}", path.display())]
    NotRootOwned { path: PathBuf, uid: u32 },
    #[error("cannot check the permissions of {}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// Whether the checks apply: only when running as root, and not switched off.
pub fn enforced(strict_permissions: bool) -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    strict_permissions && unsafe { libc::geteuid() } == 0
}

/// Checks `path` and every directory above it, both as written (made absolute) and after
/// resolving symbolic links, so that neither a writable directory on the way to a link nor
/// one on the way to its target slips through. Blocking: call it off the async threads.
pub fn check_path(path: &Path) -> Result<(), TrustError> {
    let io = |source| TrustError::Io {
        path: path.to_owned(),
        source,
    };
    let absolute = std::path::absolute(path).map_err(io)?;
    check_chain(&absolute)?;
    let canonical = std::fs::canonicalize(path).map_err(io)?;
    if canonical != absolute {
        check_chain(&canonical)?;
    }
    Ok(())
}

/// Checks one already opened file (its metadata from `fstat`), so that what is read is what
/// was checked.
pub fn check_metadata(path: &Path, meta: &Metadata) -> Result<(), TrustError> {
    check_one(path, meta, false)
}

fn check_chain(path: &Path) -> Result<(), TrustError> {
    for (depth, dir) in path.ancestors().enumerate() {
        let meta = std::fs::metadata(dir).map_err(|source| TrustError::Io {
            path: dir.to_owned(),
            source,
        })?;
        check_one(dir, &meta, depth > 0)?;
    }
    Ok(())
}

fn check_one(path: &Path, meta: &Metadata, above: bool) -> Result<(), TrustError> {
    if meta.uid() != 0 {
        return Err(TrustError::NotRootOwned {
            path: path.to_owned(),
            uid: meta.uid(),
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
    })
}

#[cfg(test)]
mod tests {
    use std::fs;
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    fn chmod(path: &Path, mode: u32) {
        fs::set_permissions(path, fs::Permissions::from_mode(mode)).unwrap();
    }

    /// These tests only mean something as root, which is how the suite runs here; as another
    /// user every file is "not root-owned" and the checks are not enforced anyway.
    fn root() -> bool {
        enforced(true)
    }

    #[test]
    fn group_or_other_writable_files_and_dirs_are_refused() {
        if !root() {
            return;
        }
        let tmp = tempfile::tempdir().unwrap();
        let file = tmp.path().join("probe.toml");
        fs::write(&file, "").unwrap();
        chmod(&file, 0o644);
        check_path(&file).unwrap();

        chmod(&file, 0o664);
        let e = check_path(&file).unwrap_err().to_string();
        assert!(e.contains("is writable by its group (mode 0664)"), "{e}");
        assert!(e.contains("strict_permissions = false"), "{e}");
        chmod(&file, 0o646);
        assert!(matches!(
            check_path(&file),
            Err(TrustError::Writable { who: "others", .. })
        ));

        // A writable directory above the file is as bad as a writable file.
        chmod(&file, 0o644);
        chmod(tmp.path(), 0o777);
        let e = check_path(&file).unwrap_err();
        assert!(
            matches!(&e, TrustError::Writable { path, .. } if path == tmp.path()),
            "{e}"
        );
        // …unless it is sticky, like /tmp (which is above every temporary directory here).
        chmod(tmp.path(), 0o1777);
        check_path(&file).unwrap();
        // The path itself gets no sticky exception.
        assert!(check_path(tmp.path()).is_err());
    }

    #[test]
    fn owner_must_be_root() {
        if !root() {
            return;
        }
        let tmp = tempfile::tempdir().unwrap();
        let file = tmp.path().join("x");
        fs::write(&file, "").unwrap();
        std::os::unix::fs::chown(&file, Some(65534), None).unwrap();
        let e = check_path(&file).unwrap_err().to_string();
        assert!(e.contains("is owned by uid 65534, not root"), "{e}");
    }

    #[test]
    fn links_are_checked_on_both_sides() {
        if !root() {
            return;
        }
        let tmp = tempfile::tempdir().unwrap();
        let open = tmp.path().join("open");
        fs::create_dir(&open).unwrap();
        chmod(&open, 0o777);
        let target = open.join("prog");
        fs::write(&target, "").unwrap();
        let link = tmp.path().join("link");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        let e = check_path(&link).unwrap_err();
        assert!(
            matches!(&e, TrustError::Writable { path, .. } if path.ends_with("open")),
            "{e}"
        );
    }

    #[test]
    fn a_missing_path_is_an_io_error_naming_it() {
        let e = check_path(Path::new("/nonexistent/x")).unwrap_err();
        assert!(matches!(e, TrustError::Io { .. }));
        assert!(e.to_string().contains("/nonexistent/x"), "{e}");
    }
}
