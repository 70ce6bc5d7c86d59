//! File systems a test mounts over a node's folders to make them refuse writes: a tiny tmpfs
//! that is then filled up, or a read-only bind mount. Root only (see [`super::skip`]).
//!
//! A [`Mounted`] guard undoes its mount when dropped. Declare it after the [`super::Node`]
//! whose folder it covers, so that it is dropped first: a folder with a mount still on it
//! cannot be removed, and the node's temporary folder would be left behind in `/tmp`.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Runs `program args`, failing the test when it fails.
pub fn sh(program: &str, args: &[&str]) {
    let status = Command::new(program)
        .args(args)
        .status()
        .unwrap_or_else(|e| panic!("{program}: {e}"));
    assert!(status.success(), "{program} {args:?}: {status}");
}

/// Unmounts its folder when dropped, lazily if it is still busy.
pub struct Mounted(PathBuf);

impl Drop for Mounted {
    fn drop(&mut self) {
        let path = self.0.to_string_lossy().into_owned();
        let done = Command::new("umount").arg(&path).status();
        if !done.is_ok_and(|s| s.success()) {
            let _ = Command::new("umount").args(["-l", &path]).status();
        }
    }
}

/// Mounts an empty tmpfs of `size` (`64k`) over `dir`; what `dir` held is hidden meanwhile.
pub fn tmpfs(dir: &Path, size: &str) -> Mounted {
    sh(
        "mount",
        &[
            "-t",
            "tmpfs",
            "-o",
            &format!("size={size}"),
            "tmpfs",
            &dir.to_string_lossy(),
        ],
    );
    Mounted(dir.to_path_buf())
}

/// Fills the file system of `dir` with a file of zeros until it is full; returns its path,
/// which frees the space again when removed.
pub fn fill(dir: &Path) -> PathBuf {
    let path = dir.join("filler");
    let mut file = std::fs::File::create(&path).expect("filler");
    let chunk = [0u8; 1024];
    while file
        .write_all(&chunk)
        .and_then(|()| file.sync_all())
        .is_ok()
    {}
    path
}

/// Bind-mounts `dir` on itself, read-only; [`writable`] makes it writable again.
pub fn read_only(dir: &Path) -> Mounted {
    let path = dir.to_string_lossy().into_owned();
    sh("mount", &["--bind", &path, &path]);
    let mounted = Mounted(dir.to_path_buf());
    sh("mount", &["-o", "remount,bind,ro", &path]);
    mounted
}

/// Makes a [`read_only`] folder writable again (the bind mount stays until dropped).
pub fn writable(dir: &Path) {
    sh("mount", &["-o", "remount,bind,rw", &dir.to_string_lossy()]);
}
