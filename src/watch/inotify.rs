//! The kernel's inotify, asked for exactly the events that can change what a watch's owner
//! reads, and read by the watch thread itself.
//!
//! `notify`'s inotify backend also asks for IN_OPEN, and reads on a thread of its own. So every
//! scan of a watched folder (a `files` probe opens the folder and each document in it, every
//! run) woke that thread and then the watch thread, for events that were then thrown away:
//! with a probe every second, a third of what the daemon spent on that probe
//! (BENCHMARKS.md, "Idle CPU: wake-ups nobody needed"). Here opening and reading cause no event
//! at all, and the descriptor is polled by the watch thread, next to its mailbox.

use std::collections::HashMap;
use std::ffi::{CString, OsStr, OsString};
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

/// What can change a folder's documents as its owner reads them: a name created, removed or
/// moved in or out, a file written (on close, and while open for writers that write in
/// place), its mode or owner changed (the trust checks read those); and the folder itself
/// removed or moved away. Not IN_OPEN, IN_ACCESS or IN_CLOSE_NOWRITE: reading changes nothing.
/// IN_ONLYDIR: a path that is no longer a directory is not watched as if it were one.
const MASK: u32 = libc::IN_CREATE
    | libc::IN_DELETE
    | libc::IN_CLOSE_WRITE
    | libc::IN_MODIFY
    | libc::IN_ATTRIB
    | libc::IN_MOVED_FROM
    | libc::IN_MOVED_TO
    | libc::IN_DELETE_SELF
    | libc::IN_MOVE_SELF
    | libc::IN_ONLYDIR;

/// The fixed part of `struct inotify_event`: wd, mask, cookie, len; the name follows.
const EVENT_HEAD: usize = 16;
/// Room for many events per read; one event is at most the head and a name of NAME_MAX + 1.
const READ_BYTES: usize = 16 * 1024;

/// What a read of the queue tells.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Seen {
    /// Something happened to `name` in the watched folder `folder`.
    Name { folder: PathBuf, name: OsString },
    /// The folder at this path was removed or moved away, or its watch ended (the folder
    /// deleted, its filesystem unmounted): where it stands now has to be looked at again.
    Folder(PathBuf),
    /// The kernel's queue overflowed and events were lost: anything may have changed.
    Overflow,
}

/// One inotify instance and the folders it watches, by watch descriptor. Two paths that lead
/// to one directory share its descriptor (the kernel gives the same one back), so each
/// descriptor keeps every path it was asked for, and is removed with the last of them.
#[derive(Debug)]
pub(super) struct Inotify {
    fd: OwnedFd,
    paths: HashMap<libc::c_int, Vec<PathBuf>>,
    /// Where the queue is read into, made once: the thread reads at every wake-up, about once a
    /// second, and a zeroed buffer made each time showed in the idle daemon's profile.
    buffer: Box<[u8]>,
}

impl Inotify {
    /// A new, non-blocking instance.
    pub(super) fn new() -> io::Result<Inotify> {
        // SAFETY: inotify_init1 takes flags only; a non-negative result is a new descriptor.
        let fd = unsafe { libc::inotify_init1(libc::IN_NONBLOCK | libc::IN_CLOEXEC) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: fd was just opened and is owned by nobody else.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        Ok(Inotify {
            fd,
            paths: HashMap::new(),
            buffer: vec![0u8; READ_BYTES].into_boxed_slice(),
        })
    }

    /// The descriptor to poll for readability.
    pub(super) fn raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }

    /// Watches the directory now at `folder` (following a symbolic link to it).
    pub(super) fn add(&mut self, folder: &Path) -> io::Result<()> {
        let path = CString::new(folder.as_os_str().as_bytes())
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "a NUL byte in the path"))?;
        // SAFETY: the descriptor is ours and `path` is NUL-terminated for the call.
        let wd = unsafe { libc::inotify_add_watch(self.fd.as_raw_fd(), path.as_ptr(), MASK) };
        if wd < 0 {
            return Err(io::Error::last_os_error());
        }
        let paths = self.paths.entry(wd).or_default();
        if !paths.iter().any(|p| p == folder) {
            paths.push(folder.to_owned());
        }
        // The same path may have led to another directory before: it is only this one's now.
        self.paths.retain(|&other, paths| {
            if other != wd {
                paths.retain(|p| p != folder);
            }
            !paths.is_empty()
        });
        Ok(())
    }

    /// Whether `folder` is watched: asked for and not ended by the kernel since.
    pub(super) fn watches(&self, folder: &Path) -> bool {
        self.paths
            .values()
            .any(|paths| paths.iter().any(|p| p == folder))
    }

    /// Stops watching for `folder`; the directory's watch goes once no path wants it.
    pub(super) fn remove(&mut self, folder: &Path) {
        let mut emptied = Vec::new();
        for (&wd, paths) in &mut self.paths {
            paths.retain(|p| p != folder);
            if paths.is_empty() {
                emptied.push(wd);
            }
        }
        for wd in emptied {
            self.paths.remove(&wd);
            // SAFETY: removes one watch of our own instance. It fails when the kernel has
            // ended the watch already (the directory deleted), which is what was wanted.
            unsafe { libc::inotify_rm_watch(self.fd.as_raw_fd(), wd) };
        }
    }

    /// Takes every event queued, without waiting, and adds what they tell to `seen`.
    pub(super) fn read(&mut self, seen: &mut Vec<Seen>) -> io::Result<()> {
        let mut buffer = std::mem::take(&mut self.buffer);
        let read = self.read_into(&mut buffer, seen);
        self.buffer = buffer;
        read
    }

    fn read_into(&mut self, buffer: &mut [u8], seen: &mut Vec<Seen>) -> io::Result<()> {
        loop {
            // SAFETY: reads at most `buffer.len()` bytes into `buffer`, from our descriptor.
            let got = unsafe {
                libc::read(
                    self.fd.as_raw_fd(),
                    buffer.as_mut_ptr().cast::<libc::c_void>(),
                    buffer.len(),
                )
            };
            let Ok(got) = usize::try_from(got) else {
                let error = io::Error::last_os_error();
                return match error.kind() {
                    io::ErrorKind::WouldBlock => Ok(()),
                    io::ErrorKind::Interrupted => continue,
                    _ => Err(error),
                };
            };
            if got == 0 {
                return Ok(());
            }
            self.parse(&buffer[..got], seen);
        }
    }

    /// Turns the events in `bytes` (whole events: the kernel never splits one across reads)
    /// into what they tell.
    fn parse(&mut self, bytes: &[u8], seen: &mut Vec<Seen>) {
        let mut at = 0;
        while let Some(head) = bytes.get(at..at + EVENT_HEAD) {
            let field = |i: usize| [head[i], head[i + 1], head[i + 2], head[i + 3]];
            let wd = libc::c_int::from_ne_bytes(field(0));
            let mask = u32::from_ne_bytes(field(4));
            let len = u32::from_ne_bytes(field(12)) as usize;
            let name_bytes = bytes
                .get(at + EVENT_HEAD..at + EVENT_HEAD + len)
                .unwrap_or_default();
            at += EVENT_HEAD + len;
            // The name is NUL-padded to a multiple of the head's alignment.
            let end = name_bytes
                .iter()
                .position(|&b| b == 0)
                .unwrap_or(name_bytes.len());
            let name = OsStr::from_bytes(&name_bytes[..end]);
            if mask & libc::IN_Q_OVERFLOW != 0 {
                seen.push(Seen::Overflow);
                continue;
            }
            if mask & libc::IN_IGNORED != 0 {
                // The kernel ended the watch. One this instance removed itself is no longer
                // on record, and says nothing new.
                if let Some(paths) = self.paths.remove(&wd) {
                    seen.extend(paths.into_iter().map(Seen::Folder));
                }
                continue;
            }
            let Some(paths) = self.paths.get(&wd) else {
                // An event queued before its watch was removed.
                continue;
            };
            if mask & (libc::IN_DELETE_SELF | libc::IN_MOVE_SELF) != 0 || name.is_empty() {
                seen.extend(paths.iter().cloned().map(Seen::Folder));
            } else {
                seen.extend(paths.iter().map(|folder| Seen::Name {
                    folder: folder.clone(),
                    name: name.to_owned(),
                }));
            }
        }
    }
}

#[cfg(test)]
mod tests;
