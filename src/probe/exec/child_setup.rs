//! What the forked child does to itself before it executes the program: take on the
//! probe's user, and keep the checked program's descriptor open for the exec. Only
//! async-signal-safe calls are allowed there, so everything is decided before the fork.

use std::os::fd::RawFd;

use tokio::process::Command;

use crate::probe::user::RunAs;

/// Makes the child the leader of a new session (and so of a new process group whose id is its
/// pid). No process of the run can then join the daemon's process group or another run's:
/// `setpgid` only reaches groups of the caller's own session. Every process of the run is in
/// its session, or in one it made itself with `setsid`.
pub(super) fn new_session(command: &mut Command) {
    // SAFETY: the closure runs in the forked child, where only async-signal-safe calls are
    // allowed: setsid is one, and nothing here allocates.
    unsafe {
        command.pre_exec(|| {
            if libc::setsid() == -1 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

/// Drops to `run_as` in the child between fork and exec: supplementary groups, then the
/// group, then the user (in that order: after setuid the others are no longer allowed).
pub(super) fn switch_user(command: &mut Command, run_as: RunAs) {
    let RunAs {
        uid, gid, groups, ..
    } = run_as;
    // SAFETY: the closure runs in the forked child, where only async-signal-safe calls are
    // allowed: setgroups, setgid and setuid are, and nothing here allocates (the group list
    // was built before the fork and is only read).
    unsafe {
        command.pre_exec(move || {
            if libc::setgroups(groups.len(), groups.as_ptr()) != 0
                || libc::setgid(gid) != 0
                || libc::setuid(uid) != 0
            {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

/// Keeps `fd` open across the exec in the child only.
///
/// A binary executed as `/proc/self/fd/N` runs even when N is close-on-exec: the kernel has
/// opened it before it closes N. But a `#!` script is then handed to its interpreter as
/// `/proc/self/fd/N`, which the interpreter opens after N is closed. So the child clears
/// close-on-exec on its own copy of N; the parent's stays set, so that programs other
/// threads start meanwhile never inherit it. The program keeps N open: an `O_PATH`
/// descriptor of its own file, which cannot be read or written through.
pub(super) fn keep_open_across_exec(command: &mut Command, fd: RawFd) {
    // SAFETY: the closure runs in the forked child, where only async-signal-safe calls are
    // allowed: fcntl is one, and nothing here allocates. `fd` is open in the child because
    // the parent holds it open until `spawn` returns.
    unsafe {
        command.pre_exec(move || {
            if libc::fcntl(fd, libc::F_SETFD, 0) == -1 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

#[cfg(test)]
mod tests;
