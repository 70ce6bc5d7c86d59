//! The descriptors a run's program gets: stdin from `/dev/null`, stdout and stderr to pipes,
//! none of them numbered 0–2 in the daemon.

use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::sync::OnceLock;

/// `/dev/null`, opened at the first run and kept: every run's stdin is a copy of it, made by
/// the child's `dup3`, so a run costs no open and close of its own for it.
pub(super) fn dev_null() -> io::Result<BorrowedFd<'static>> {
    static DEV_NULL: OnceLock<OwnedFd> = OnceLock::new();
    if let Some(fd) = DEV_NULL.get() {
        return Ok(fd.as_fd());
    }
    let opened = above_stdio(OwnedFd::from(std::fs::File::open("/dev/null")?))?;
    // A run that opened one at the same instant keeps the other; this one is closed.
    Ok(DEV_NULL.get_or_init(|| opened).as_fd())
}

/// `fd`, or when it is 0–2 a close-on-exec copy of it numbered 3 or above. Rust opens 0–2 on
/// `/dev/null` at start when they are closed, so new descriptors are 3 or above already; this
/// keeps the child's `dup3` onto 0–2 from overwriting another of its descriptors even if a
/// library closed one since.
pub(super) fn above_stdio(fd: OwnedFd) -> io::Result<OwnedFd> {
    if fd.as_raw_fd() >= 3 {
        return Ok(fd);
    }
    // SAFETY: F_DUPFD_CLOEXEC makes a new descriptor, owned by the OwnedFd below.
    let copy = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_DUPFD_CLOEXEC, 3) };
    if copy == -1 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `copy` is a new descriptor nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(copy) })
}

/// A close-on-exec pipe: (read end, write end). The read end, the daemon's, is non-blocking
/// for the runtime; the write end, the program's, blocks as a program expects.
pub(super) fn pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds: [RawFd; 2] = [-1, -1];
    // SAFETY: pipe2 writes two new descriptors into `fds`.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: both are new descriptors nothing else owns.
    let (read, write) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    // SAFETY: F_SETFL on a descriptor we own; a pipe's only status flags are O_NONBLOCK and
    // O_DIRECT, neither set yet.
    if unsafe { libc::fcntl(read.as_raw_fd(), libc::F_SETFL, libc::O_NONBLOCK) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok((read, write))
}
