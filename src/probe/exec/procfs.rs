//! What `/proc` tells a stopping run about this process's children: which they are, their
//! parents, and the run token in their environment.

use std::io::Read;

use super::RUN_VARIABLE;

/// How much of a process's environment is searched for the run token. A process that pushes
/// it further out only makes itself look like a stray, and strays are stopped.
const ENVIRON_READ_LIMIT: u64 = 1024 * 1024;

/// A small `/proc` file, read whole (these are read for every thread at every look at a run).
fn read_proc(path: &std::path::Path) -> std::io::Result<String> {
    crate::probe::proc_text::read_whole(&mut std::fs::File::open(path)?)
}

/// This process's children: every thread's `children` list, since an orphan goes to whichever
/// thread the kernel picks. Those lists exist with CONFIG_PROC_CHILDREN, which the usual
/// distribution kernels enable, and they are this process's own, so no `hidepid` setting of
/// `/proc` hides another user's child in them. Without them, `/proc/*/stat` names each
/// process's parent, though only for the processes this one may see.
pub(super) fn children() -> Vec<libc::pid_t> {
    let mut pids = Vec::new();
    if !has_children() {
        return pids;
    }
    let mut listed = false;
    if let Ok(tasks) = std::fs::read_dir("/proc/self/task") {
        for task in tasks.flatten() {
            if let Ok(list) = read_proc(&task.path().join("children")) {
                listed = true;
                pids.extend(
                    list.split_ascii_whitespace()
                        .filter_map(|p| p.parse::<libc::pid_t>().ok()),
                );
            }
        }
    }
    if !listed {
        // SAFETY: getpid cannot fail.
        let me = unsafe { libc::getpid() };
        if let Ok(entries) = std::fs::read_dir("/proc") {
            pids.extend(
                entries
                    .flatten()
                    .filter_map(|e| e.file_name().to_str()?.parse::<libc::pid_t>().ok())
                    .filter(|&pid| parent_of(pid) == Some(me)),
            );
        }
    }
    pids.sort_unstable();
    pids.dedup();
    pids
}

/// Whether this process has any child at all, asked of the kernel in one call. Once a run's
/// program has been reaped and no other run is in flight (the usual end of a run), it has
/// none, and the lists above (a `/proc` read per thread of the daemon) need not be read.
///
/// `waitid` with `WNOHANG | WNOWAIT` neither waits nor reaps: it fails with ECHILD only when
/// no child exists, in whatever state (running, stopped, a zombie), of whichever thread of
/// this process (`__WALL`: whatever signal its end sends its parent). An adopted orphan is a
/// child by the time its parent has ended, before that parent can be reaped. Any other
/// answer, an error included, counts as children to be listed.
pub(super) fn has_children() -> bool {
    // SAFETY: an all-zero siginfo_t is a valid value, and the call only writes to it.
    let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
    let options = libc::WEXITED
        | libc::WSTOPPED
        | libc::WCONTINUED
        | libc::WNOHANG
        | libc::WNOWAIT
        | libc::__WALL;
    // SAFETY: `info` is valid for writes; with WNOHANG and WNOWAIT the call never blocks and
    // changes no child's state.
    let listed = unsafe { libc::waitid(libc::P_ALL, 0, &mut info, options) };
    !(listed == -1 && std::io::Error::last_os_error().raw_os_error() == Some(libc::ECHILD))
}

fn parent_of(pid: libc::pid_t) -> Option<libc::pid_t> {
    stat_field(pid, 1)?.parse().ok()
}

/// Field `index` of `/proc/PID/stat` counted from the state (0), which follows the name.
fn stat_field(pid: libc::pid_t, index: usize) -> Option<String> {
    let stat = read_proc(std::path::Path::new(&format!("/proc/{pid}/stat"))).ok()?;
    // The name in parentheses may hold anything, spaces and parentheses included.
    let rest = &stat[stat.rfind(')')? + 1..];
    rest.split_ascii_whitespace().nth(index).map(str::to_owned)
}

/// Whether `parent` is the parent of `pid`.
pub(super) fn parent_of_is(pid: libc::pid_t, parent: libc::pid_t) -> bool {
    parent_of(pid) == Some(parent)
}

/// When `pid` started, in clock ticks since boot: with the pid, what tells one process from
/// a later one that got the same pid. `None` when it is gone (or hidden).
pub(super) fn start_time(pid: libc::pid_t) -> Option<u64> {
    stat_field(pid, 19)?.parse().ok()
}

/// Whether `pid` is a zombie: ended, and waiting for its parent to reap it.
pub(super) fn is_zombie(pid: libc::pid_t) -> bool {
    stat_field(pid, 0).as_deref() == Some("Z")
}

/// The children of `pid`, from every thread's `children` list (empty when it is gone, hidden,
/// or the kernel keeps no such lists).
pub(super) fn children_of(pid: libc::pid_t) -> Vec<libc::pid_t> {
    let mut pids = Vec::new();
    if let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) {
        for task in tasks.flatten() {
            if let Ok(list) = read_proc(&task.path().join("children")) {
                pids.extend(
                    list.split_ascii_whitespace()
                        .filter_map(|p| p.parse::<libc::pid_t>().ok()),
                );
            }
        }
    }
    pids
}

/// The run token in the environment of `pid`; `None` when it has none. An empty environment
/// is an error: it is what a process shows in the middle of `execve`, before the new
/// program's is in place, or a zombie.
pub(super) fn run_token(pid: libc::pid_t) -> std::io::Result<Option<String>> {
    let mut environ = Vec::new();
    std::fs::File::open(format!("/proc/{pid}/environ"))?
        .take(ENVIRON_READ_LIMIT)
        .read_to_end(&mut environ)?;
    if environ.is_empty() {
        return Err(std::io::ErrorKind::UnexpectedEof.into());
    }
    let name = format!("{RUN_VARIABLE}=");
    Ok(environ
        .split(|&b| b == 0)
        .find_map(|entry| entry.strip_prefix(name.as_bytes()))
        .map(|value| String::from_utf8_lossy(value).into_owned()))
}

#[cfg(test)]
mod tests;
