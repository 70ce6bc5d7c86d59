//! The one way the daemon replaces a file so that it survives a crash or a power cut: a
//! temporary file, fsync, rename over the old file, fsync of the directory.
//!
//! The state file and the fleet store write through [`replace`]; the filesystem calls it makes
//! are the [`DurableFs`] trait, which production implements with the real filesystem
//! ([`RealFs`]) and the tests with a recording layer that models what a disk keeps after a
//! power cut (docs/ARCHITECTURE.md, "Durability").

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

/// The filesystem calls a durable write is made of. Each is one system call (or two) on the
/// real filesystem; nothing here is durable before the matching fsync.
pub trait DurableFs {
    /// Creates the folder `dir`, whose parent exists.
    fn create_dir(&self, dir: &Path) -> io::Result<()>;
    /// Creates (or truncates) `path` with `mode` and writes `bytes` into it, without syncing.
    fn write_temp(&self, path: &Path, bytes: &[u8], mode: u32) -> io::Result<File>;
    /// Makes the data of `file` (opened at `path`) durable.
    fn fsync_file(&self, path: &Path, file: &File) -> io::Result<()>;
    /// Renames `from` to `to`, replacing `to`.
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()>;
    /// Makes the entries of the folder `dir` (renames, removals, new names) durable.
    fn fsync_dir(&self, dir: &Path) -> io::Result<()>;
    /// Removes the file `path`.
    fn remove(&self, path: &Path) -> io::Result<()>;
}

/// The real filesystem.
#[derive(Debug, Clone, Copy, Default)]
pub struct RealFs;

impl DurableFs for RealFs {
    fn create_dir(&self, dir: &Path) -> io::Result<()> {
        fs::create_dir(dir)
    }

    fn write_temp(&self, path: &Path, bytes: &[u8], mode: u32) -> io::Result<File> {
        let mut file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(mode)
            .open(path)?;
        file.write_all(bytes)?;
        Ok(file)
    }

    fn fsync_file(&self, _path: &Path, file: &File) -> io::Result<()> {
        file.sync_all()
    }

    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        fs::rename(from, to)
    }

    fn fsync_dir(&self, dir: &Path) -> io::Result<()> {
        File::open(dir)?.sync_all()
    }

    fn remove(&self, path: &Path) -> io::Result<()> {
        fs::remove_file(path)
    }
}

/// The folder `path` is in (`.` for a bare name).
fn parent(path: &Path) -> &Path {
    path.parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
}

/// Creates `dir` and any missing parents, like `fs::create_dir_all`, and durably: each new
/// folder's name is synced in its parent, or a power cut could take the folder away with the
/// files later written and synced in it.
pub fn ensure_dir(fs: &impl DurableFs, dir: &Path) -> io::Result<()> {
    if dir.as_os_str().is_empty() || dir.is_dir() {
        return Ok(());
    }
    let parent = parent(dir);
    ensure_dir(fs, parent)?;
    match fs.create_dir(dir) {
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists && dir.is_dir() => Ok(()),
        Err(e) => Err(e),
        Ok(()) => fs.fsync_dir(parent),
    }
}

/// Removes the file `path` durably: a power cut after this returns cannot bring it back. A
/// file that is not there is removed already.
pub fn remove(fs: &impl DurableFs, path: &Path) -> io::Result<()> {
    match fs.remove(path) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
        Ok(()) => fs.fsync_dir(parent(path)),
    }
}

/// Replaces `path` with `bytes` so that a crash leaves the old or the new file, never a mix
/// and never neither: a temporary file beside it (created with `mode`), fsync, rename, fsync
/// of the folder. The folder must exist. A failed write removes its temporary file (a full
/// disk leaves a partial one, which would only hold on to the space the next attempt needs);
/// the file itself is untouched until the rename.
pub fn replace(fs: &impl DurableFs, path: &Path, bytes: &[u8], mode: u32) -> io::Result<()> {
    let dir = parent(path);
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
    let temp = dir.join(format!(".{}.tmp", name.unwrap_or_default()));
    let write = || -> io::Result<()> {
        let file = fs.write_temp(&temp, bytes, mode)?;
        fs.fsync_file(&temp, &file)?;
        fs.rename(&temp, path)?;
        fs.fsync_dir(dir)
    };
    write().inspect_err(|_| {
        let _ = fs.remove(&temp);
    })
}

#[cfg(test)]
pub(crate) mod crash;
#[cfg(test)]
mod tests;
