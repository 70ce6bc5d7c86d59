//! Signalling a run's processes as the user they run as, so that the daemon needs no
//! CAP_KILL (nor CAP_SYS_PTRACE to read their environment) to stop a probe with a `user`.

/// The user a run's processes belong to, when that is not the daemon's.
#[derive(Debug, Clone, Copy)]
pub(super) struct Ids {
    pub(super) uid: libc::uid_t,
    pub(super) gid: libc::gid_t,
}

/// A run's process group, and the user its processes run as when that is not the daemon's.
#[derive(Debug, Clone, Copy)]
pub(super) struct Group {
    pub(super) pgid: libc::pid_t,
    pub(super) user: Option<Ids>,
}

/// Runs `f` as `user`: on a short-lived thread that sets its own effective uid and gid to the
/// user's. From there the kernel lets it signal that user's processes without CAP_KILL, and
/// read their environment without CAP_SYS_PTRACE (and see their `/proc` entries where
/// `hidepid` hides them). The unit can then drop CAP_KILL, which would let the daemon signal
/// every process on the node. Without a user, or with the daemon's own, `f` runs here.
pub(super) fn as_user<T: Send>(user: Option<Ids>, f: impl FnOnce() -> T + Send) -> T {
    // SAFETY: geteuid cannot fail.
    let Some(Ids { uid, gid }) = user.filter(|u| u.uid != unsafe { libc::geteuid() }) else {
        return f();
    };
    std::thread::scope(|scope| {
        scope
            .spawn(move || {
                // SAFETY: the raw system calls change the credentials of this thread only
                // (glibc's wrappers would change every thread's), and the thread ends right
                // after `f`. The gid goes first: once the uid is not root's, the thread may
                // no longer change it. -1 leaves the real and saved ids as they are.
                unsafe {
                    libc::syscall(libc::SYS_setresgid, libc::gid_t::MAX, gid, libc::gid_t::MAX);
                    libc::syscall(libc::SYS_setresuid, libc::uid_t::MAX, uid, libc::uid_t::MAX);
                }
                f()
            })
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
    })
}

/// Sends `signal` to `pid` if it is still the process that started at `started` (see
/// [`start_time`](super::procfs::start_time)); says whether it was sent. The pid is pinned
/// with a pidfd before its start time is compared, so a process that got the pid since is
/// never signalled. Call it as the process's user ([`as_user`]).
pub(super) fn kill_if_same(pid: libc::pid_t, started: u64, signal: libc::c_int) -> bool {
    // SAFETY: pidfd_open only opens a descriptor for the pid; flags 0.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    let Ok(fd) = libc::c_int::try_from(fd) else {
        return false;
    };
    if fd < 0 {
        return false;
    }
    let same = super::procfs::start_time(pid) == Some(started);
    // SAFETY: pidfd_send_signal signals the process the descriptor pins, which is the one
    // just checked; no siginfo, flags 0. close releases the descriptor opened above.
    let sent = same
        && unsafe {
            libc::syscall(
                libc::SYS_pidfd_send_signal,
                fd,
                signal,
                std::ptr::null::<libc::siginfo_t>(),
                0,
            )
        } == 0;
    // SAFETY: fd is ours and closed once.
    unsafe { libc::close(fd) };
    sent
}

/// Sends `signal` to the group (0 asks whether any member is left), as the group's user.
pub(super) fn kill_group(group: Option<Group>, signal: libc::c_int) -> bool {
    let Some(Group { pgid, user }) = group.filter(|g| g.pgid > 0) else {
        return false;
    };
    // SAFETY: killpg only sends a signal; a group that no longer exists yields ESRCH.
    as_user(user, move || unsafe { libc::killpg(pgid, signal) == 0 })
}

#[cfg(test)]
mod tests;
