//! Starting a run's program without `fork`.
//!
//! A `fork` copies the daemon's page tables (and write-protects its pages, so that the daemon
//! then takes a fault on each page it writes), only for the child to throw them away at its
//! `execve`: with probes every second that was about a quarter of the daemon's own CPU.
//! `std::process::Command` avoids it through `posix_spawn` only when no `pre_exec`, user or
//! group is set, and `posix_spawn` itself can neither switch users nor (before glibc 2.26,
//! above the packages' 2.17 floor) start a session. So the child is started here the way
//! glibc's own `posix_spawn` does it: `clone(CLONE_VM | CLONE_VFORK)`. It shares the daemon's
//! memory, runs on a stack of its own, and the calling thread waits until it has executed the
//! program (or failed to); nothing is copied.
//!
//! Sharing the memory is what makes the child's side delicate ([`child_main`]): it makes raw
//! system calls only. No allocation, no lock, no glibc wrapper that keeps state: glibc's
//! `setuid` and `setgroups` would signal the daemon's threads to change theirs too, and a
//! signal handler of the daemon's must never run in it. Everything it needs is built before the
//! `clone`: strings, the group list, the descriptors.
//!
//! What the program starts with, as with `fork` + `exec` before:
//! - stdin from `/dev/null`, stdout and stderr to pipes the daemon reads;
//! - the working directory, when the probe names one (entered before the user switch, as root);
//! - a session (and process group) of its own;
//! - the probe's user: supplementary groups, group, user, in that order (after `setuid` the
//!   others are no longer allowed); from root to another uid the kernel then clears every
//!   capability (the daemon sets no `SECBIT_KEEP_CAPS`);
//! - every signal at its default disposition and none blocked (the daemon ignores SIGPIPE,
//!   and its runtime's threads block signals);
//! - no descriptor of the daemon's but the checked program's (see [`Spawn::checked`]), which
//!   is kept open for a `#!` interpreter;
//! - the cleared environment with the run token, set by the caller.

use std::ffi::{CString, OsStr, OsString};
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::sync::atomic::{AtomicI32, Ordering};

use libc::{c_char, c_int, c_long, c_void};
use tokio::net::unix::pipe::Receiver;
use tokio::signal::unix::SignalKind;

use crate::probe::user::RunAs;

pub(super) use self::child::Child;
use self::fds::{above_stdio, dev_null, pipe};
use self::stack::Stack;

/// The shell glibc's `execvp` hands a program to when the kernel does not know its format (a
/// script without `#!`); the child does the same, so such probes keep running as before.
const SCRIPT_SHELL: &str = "/bin/sh";
/// The kernel's signal set, as `rt_sigprocmask` and `rt_sigaction` take it: 64 bits.
type KernelSigset = u64;
const KERNEL_SIGSET_BYTES: usize = std::mem::size_of::<KernelSigset>();
/// The highest signal number on Linux.
const LAST_SIGNAL: c_int = 64;

/// What to start.
pub(super) struct Spawn<'a> {
    /// The program's path, for execve when there is no checked descriptor.
    pub(super) program: &'a Path,
    /// The checked program: executed as `/proc/self/fd/N`, so that what runs is the file that
    /// was checked. A binary executed that way runs even when N is close-on-exec (the kernel
    /// has opened it before it closes N), but a `#!` script is handed to its interpreter as
    /// `/proc/self/fd/N`, which the interpreter opens after the exec. So the child clears
    /// close-on-exec on its own copy of N; the daemon's stays set, so that programs other
    /// threads start meanwhile never inherit it. The program keeps N open: an `O_PATH`
    /// descriptor of its own file, which cannot be read or written through.
    pub(super) checked: Option<BorrowedFd<'a>>,
    pub(super) argv0: &'a OsStr,
    pub(super) args: &'a [String],
    /// The whole environment, in order.
    pub(super) env: &'a [(OsString, OsString)],
    pub(super) working_dir: Option<&'a Path>,
    pub(super) run_as: Option<&'a RunAs>,
}

/// Which step of the child's set-up failed, for the error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(i32)]
enum Step {
    None = 0,
    Stdio,
    WorkingDir,
    Session,
    Groups,
    Group,
    User,
    KeepOpen,
    Exec,
}

impl Step {
    fn from_raw(raw: i32) -> Step {
        [
            Step::Stdio,
            Step::WorkingDir,
            Step::Session,
            Step::Groups,
            Step::Group,
            Step::User,
            Step::KeepOpen,
            Step::Exec,
        ]
        .into_iter()
        .find(|s| *s as i32 == raw)
        .unwrap_or(Step::None)
    }

    fn describe(self) -> &'static str {
        match self {
            Step::None | Step::Exec => "",
            Step::Stdio => "setting up stdin, stdout and stderr",
            Step::WorkingDir => "entering the working directory",
            Step::Session => "starting a session",
            Step::Groups => "setting the user's supplementary groups",
            Step::Group => "setting the user's group",
            Step::User => "switching to the user",
            Step::KeepOpen => "keeping the checked program open",
        }
    }
}

/// Everything the child reads, built before the `clone`, and where it reports a failure.
/// It lives on the calling thread's stack, which is not touched while the child runs (the
/// thread is suspended by `CLONE_VFORK`).
struct ChildArgs {
    path: *const c_char,
    argv: *const *const c_char,
    envp: *const *const c_char,
    /// `/bin/sh PATH ARGS…`, for a program the kernel does not know the format of.
    script_argv: *const *const c_char,
    script_shell: *const c_char,
    cwd: *const c_char,
    /// stdin, stdout, stderr; each 3 or above, so no `dup2` onto 0–2 overwrites another.
    stdio: [c_int; 3],
    /// The checked program's descriptor, or -1.
    keep_open: c_int,
    /// uid, gid and the supplementary groups; `ids_set` says whether to switch.
    ids_set: bool,
    uid: libc::uid_t,
    gid: libc::gid_t,
    groups: *const libc::gid_t,
    groups_len: usize,
    /// Written by the child when a step fails, read by the parent once it is released.
    failed_step: AtomicI32,
    failed_errno: AtomicI32,
}

/// Starts the program. The error says which step failed when it is not the exec itself, and
/// is the exec's own error otherwise (as `std::process::Command` gives it).
pub(super) fn spawn(spec: &Spawn<'_>) -> io::Result<Child> {
    // Descriptors the child keeps, all 3 or above (see `above_stdio`).
    let moved_checked = match spec.checked {
        Some(fd) if fd.as_raw_fd() < 3 => Some(above_stdio(fd.try_clone_to_owned()?)?),
        _ => None,
    };
    let keep_open = match (&moved_checked, spec.checked) {
        (Some(moved), _) => Some(moved.as_raw_fd()),
        (None, checked) => checked.map(|fd| fd.as_raw_fd()),
    };
    let path = match keep_open {
        Some(fd) => cstring(format!("/proc/self/fd/{fd}").as_bytes())?,
        None => cstring(spec.program.as_os_str().as_bytes())?,
    };
    let mut argv_owned = Vec::with_capacity(spec.args.len() + 1);
    argv_owned.push(cstring(spec.argv0.as_bytes())?);
    for arg in spec.args {
        argv_owned.push(cstring(arg.as_bytes())?);
    }
    let envp_owned = spec
        .env
        .iter()
        .map(|(name, value)| {
            let mut entry = name.as_bytes().to_vec();
            entry.push(b'=');
            entry.extend_from_slice(value.as_bytes());
            cstring(&entry)
        })
        .collect::<io::Result<Vec<_>>>()?;
    let script_shell = cstring(SCRIPT_SHELL.as_bytes())?;
    // As glibc's execvp: the shell, then the program's path, then its arguments.
    let script_owned: Vec<&CString> = std::iter::once(&script_shell)
        .chain(std::iter::once(&path))
        .chain(argv_owned.iter().skip(1))
        .collect();
    let argv = null_terminated(argv_owned.iter());
    let envp = null_terminated(envp_owned.iter());
    let script_argv = null_terminated(script_owned.into_iter());
    let cwd = spec
        .working_dir
        .map(|dir| cstring(dir.as_os_str().as_bytes()))
        .transpose()?;

    let stdin = dev_null()?;
    let (stdout_read, stdout_write) = pipe()?;
    let (stderr_read, stderr_write) = pipe()?;
    let stdout_write = above_stdio(stdout_write)?;
    let stderr_write = above_stdio(stderr_write)?;
    // Registered before the child exists, so that no SIGCHLD of it is missed. Without a
    // runtime (`signal` would panic) or its signal driver, waits poll instead.
    let sigchld = tokio::runtime::Handle::try_current()
        .ok()
        .and_then(|_| tokio::signal::unix::signal(SignalKind::child()).ok());
    // Not `from_owned_fd`: its check that the descriptor is a pipe calls `fstat`, whose symbol
    // is newer than the glibc 2.17 floor; these are pipes, made non-blocking by `pipe`.
    let stdout = Receiver::from_owned_fd_unchecked(stdout_read)?;
    let stderr = Receiver::from_owned_fd_unchecked(stderr_read)?;
    let stack = Stack::take()?;

    let args = ChildArgs {
        path: path.as_ptr(),
        argv: argv.as_ptr(),
        envp: envp.as_ptr(),
        script_argv: script_argv.as_ptr(),
        script_shell: script_shell.as_ptr(),
        cwd: cwd.as_ref().map_or(std::ptr::null(), |c| c.as_ptr()),
        stdio: [
            stdin.as_raw_fd(),
            stdout_write.as_raw_fd(),
            stderr_write.as_raw_fd(),
        ],
        keep_open: keep_open.unwrap_or(-1),
        ids_set: spec.run_as.is_some(),
        uid: spec.run_as.map_or(0, |r| r.uid),
        gid: spec.run_as.map_or(0, |r| r.gid),
        groups: spec.run_as.map_or(std::ptr::null(), |r| r.groups.as_ptr()),
        groups_len: spec.run_as.map_or(0, |r| r.groups.len()),
        failed_step: AtomicI32::new(Step::None as i32),
        failed_errno: AtomicI32::new(0),
    };

    // Every signal blocked on this thread while the child shares its memory: a handler of
    // the daemon's must not run in the child before it has reset them. The child starts with
    // this mask and empties it just before the exec.
    let all: KernelSigset = !0;
    let mut saved: KernelSigset = 0;
    // SAFETY: rt_sigprocmask changes this thread's mask only; both sets are valid for
    // KERNEL_SIGSET_BYTES bytes. Called raw so that glibc's own signals are blocked too.
    let blocked = unsafe {
        libc::syscall(
            libc::SYS_rt_sigprocmask,
            libc::SIG_SETMASK as c_long,
            &all as *const KernelSigset,
            &mut saved as *mut KernelSigset,
            KERNEL_SIGSET_BYTES,
        )
    };
    if blocked != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `child_main` only makes raw system calls and reads `args`, which outlives the
    // child's use of it: with CLONE_VFORK, the call returns only once the child has executed
    // the program or exited. The stack is ours, unused, and unmapped only after that. SIGCHLD
    // is the signal the child's end sends, so it is waited for as any child.
    let pid = unsafe {
        clone_vm(
            (libc::CLONE_VM | libc::CLONE_VFORK | libc::SIGCHLD) as libc::c_ulong,
            stack.top(),
            child_main,
            &args as *const ChildArgs as *mut c_void,
        )
    };
    // SAFETY: as above; `saved` is the mask this thread had.
    unsafe {
        libc::syscall(
            libc::SYS_rt_sigprocmask,
            libc::SIG_SETMASK as c_long,
            &saved as *const KernelSigset,
            std::ptr::null_mut::<KernelSigset>(),
            KERNEL_SIGSET_BYTES,
        )
    };
    let pid = match libc::pid_t::try_from(pid) {
        Ok(pid) if pid > 0 => pid,
        _ => {
            return Err(match i32::try_from(-pid) {
                Ok(errno) => io::Error::from_raw_os_error(errno),
                Err(_) => io::Error::other(format!("clone returned {pid}")),
            });
        }
    };
    stack.give_back();
    let step = Step::from_raw(args.failed_step.load(Ordering::SeqCst));
    if step != Step::None {
        let errno = args.failed_errno.load(Ordering::SeqCst);
        // It has exited (or is exiting): reap it, so that it leaves no zombie.
        let mut status = 0;
        // SAFETY: waits for this one child of ours, which has ended or is ending.
        while unsafe { libc::waitpid(pid, &mut status, 0) } == -1
            && io::Error::last_os_error().kind() == io::ErrorKind::Interrupted
        {}
        let os = io::Error::from_raw_os_error(errno);
        return Err(match step {
            Step::Exec | Step::None => os,
            _ => io::Error::new(os.kind(), format!("{}: {os}", step.describe())),
        });
    }
    Ok(Child::started(pid, sigchld, stdout, stderr))
}

/// `clone(flags, stack_top)`, the child running `entry(arg)` on `stack_top` and exiting with
/// its value; returns the child's pid to the parent, or `-errno`.
///
/// Not glibc's `clone`: before 2.25 (RHEL/CentOS 7, SLES 12) its child writes -1 into the
/// cached pid and tid of the calling thread's descriptor when `CLONE_VM` is given, and with
/// shared memory that descriptor is the daemon thread's, which would keep the wrong tid for
/// good. This does only the system call and the call of `entry`.
///
/// # Safety
/// `stack_top` must be the 16-byte aligned end of a mapping nothing else uses; with
/// `CLONE_VM`, `entry` must be fit to run in memory shared with the caller (see
/// [`child_main`]) and `arg` valid for it until the child has exec'd or exited.
#[cfg(target_arch = "x86_64")]
unsafe fn clone_vm(
    flags: libc::c_ulong,
    stack_top: *mut c_void,
    entry: extern "C" fn(*mut c_void) -> c_int,
    arg: *mut c_void,
) -> c_long {
    let ret: c_long;
    // SAFETY: the parent only makes the system call (rcx and r11 are the registers it
    // clobbers). The child starts on `stack_top` (aligned, so `call` leaves the ABI's
    // alignment), with no frame of the parent's to return to: it calls `entry`, then ends.
    unsafe {
        std::arch::asm!(
            "syscall",
            "test rax, rax",
            "jnz 2f",
            "xor ebp, ebp",
            "mov rdi, r13",
            "call r12",
            "mov edi, eax",
            "mov eax, {exit_group}",
            "syscall",
            "ud2",
            "2:",
            exit_group = const libc::SYS_exit_group,
            inlateout("rax") libc::SYS_clone => ret,
            in("rdi") flags,
            in("rsi") stack_top,
            in("rdx") 0usize,
            in("r10") 0usize,
            in("r8") 0usize,
            in("r12") entry,
            in("r13") arg,
            lateout("rcx") _,
            lateout("r11") _,
            options(nostack),
        );
    }
    ret
}

/// See the x86_64 version.
///
/// # Safety
/// As for the x86_64 version.
#[cfg(target_arch = "aarch64")]
unsafe fn clone_vm(
    flags: libc::c_ulong,
    stack_top: *mut c_void,
    entry: extern "C" fn(*mut c_void) -> c_int,
    arg: *mut c_void,
) -> c_long {
    let ret: c_long;
    // SAFETY: the parent only makes the system call, which changes x0 alone. The child starts
    // on `stack_top` (16-byte aligned, as sp must be) with no frame of the parent's to return
    // to: it calls `entry`, then ends.
    unsafe {
        std::arch::asm!(
            "svc #0",
            "cbnz x0, 2f",
            "mov x29, xzr",
            "mov x30, xzr",
            "mov x0, x10",
            "blr x9",
            "mov x8, #{exit_group}",
            "svc #0",
            "udf #0",
            "2:",
            exit_group = const libc::SYS_exit_group,
            inlateout("x0") flags => ret,
            in("x1") stack_top,
            in("x2") 0usize,
            in("x3") 0usize,
            in("x4") 0usize,
            in("x8") libc::SYS_clone,
            in("x9") entry,
            in("x10") arg,
            options(nostack),
        );
    }
    ret
}

#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
compile_error!("probe::exec::spawn has a clone for x86_64 and aarch64 only");

/// The child, between `clone` and `execve`. It shares the daemon's memory and the calling
/// thread's thread-local storage (errno among it), starts with every signal blocked, and
/// makes raw system calls only; see the module's comment. It never returns: it executes the
/// program, or records the failed step and exits with 127.
extern "C" fn child_main(arg: *mut c_void) -> c_int {
    // SAFETY: `arg` is the `ChildArgs` that `spawn` keeps alive until the child has exec'd
    // or exited; the child only reads it, apart from the atomics.
    let args = unsafe { &*(arg as *const ChildArgs) };
    // SAFETY (for each raw call below): the arguments are plain numbers or pointers into
    // `args`' strings and arrays, which stay valid; every call acts on this process alone.
    unsafe {
        // Default dispositions for every signal: the daemon's handlers must never run here,
        // and what the daemon ignores (SIGPIPE) the program should not. SIGKILL and SIGSTOP
        // refuse (EINVAL); that is expected. The kernel's struct sigaction is at most four
        // words, all zero for SIG_DFL.
        let default = [0usize; 4];
        for signal in 1..=LAST_SIGNAL {
            libc::syscall(
                libc::SYS_rt_sigaction,
                signal as c_long,
                default.as_ptr(),
                std::ptr::null_mut::<usize>(),
                KERNEL_SIGSET_BYTES,
            );
        }
        for (target, &fd) in args.stdio.iter().enumerate() {
            if libc::syscall(libc::SYS_dup3, fd as c_long, target as c_long, 0 as c_long) == -1 {
                fail(args, Step::Stdio);
            }
        }
        if !args.cwd.is_null() && libc::syscall(libc::SYS_chdir, args.cwd) == -1 {
            fail(args, Step::WorkingDir);
        }
        if libc::syscall(libc::SYS_setsid) == -1 {
            fail(args, Step::Session);
        }
        if args.ids_set {
            if libc::syscall(libc::SYS_setgroups, args.groups_len, args.groups) == -1 {
                fail(args, Step::Groups);
            }
            if libc::syscall(libc::SYS_setgid, args.gid as c_long) == -1 {
                fail(args, Step::Group);
            }
            if libc::syscall(libc::SYS_setuid, args.uid as c_long) == -1 {
                fail(args, Step::User);
            }
        }
        if args.keep_open >= 0
            && libc::syscall(
                libc::SYS_fcntl,
                args.keep_open as c_long,
                libc::F_SETFD as c_long,
                0 as c_long,
            ) == -1
        {
            fail(args, Step::KeepOpen);
        }
        // Close-on-exec for every other descriptor above stderr, in case a library left one
        // inheritable. Kernels before 5.11 lack it; there every descriptor the daemon opens
        // is close-on-exec already (Rust opens them so), and the error is ignored.
        let (keep, max) = (args.keep_open, c_int::MAX as libc::c_uint);
        if keep >= 3 {
            if keep > 3 {
                close_range_cloexec(3, keep as libc::c_uint - 1);
            }
            close_range_cloexec(keep as libc::c_uint + 1, max);
        } else {
            close_range_cloexec(3, max);
        }
        let none: KernelSigset = 0;
        libc::syscall(
            libc::SYS_rt_sigprocmask,
            libc::SIG_SETMASK as c_long,
            &none as *const KernelSigset,
            std::ptr::null_mut::<KernelSigset>(),
            KERNEL_SIGSET_BYTES,
        );
        libc::syscall(libc::SYS_execve, args.path, args.argv, args.envp);
        if *libc::__errno_location() == libc::ENOEXEC {
            libc::syscall(
                libc::SYS_execve,
                args.script_shell,
                args.script_argv,
                args.envp,
            );
        }
    }
    fail(args, Step::Exec)
}

/// Records the failed step and errno for the parent, and ends the child.
fn fail(args: &ChildArgs, step: Step) -> ! {
    // SAFETY: __errno_location returns the calling thread's errno, valid for reading.
    let errno = unsafe { *libc::__errno_location() };
    args.failed_errno.store(errno, Ordering::SeqCst);
    args.failed_step.store(step as i32, Ordering::SeqCst);
    loop {
        // SAFETY: exit_group ends this process (the child) and does not return.
        unsafe { libc::syscall(libc::SYS_exit_group, 127 as c_long) };
    }
}

/// `close_range(first, last, CLOSE_RANGE_CLOEXEC)`, errors ignored; see [`child_main`].
///
/// # Safety
/// Only for the child: it changes descriptor flags of the calling process.
unsafe fn close_range_cloexec(first: libc::c_uint, last: libc::c_uint) {
    // SAFETY: close_range only sets flags on this process's descriptors.
    unsafe {
        libc::syscall(
            libc::SYS_close_range,
            c_long::from(first),
            c_long::from(last),
            c_long::from(libc::CLOSE_RANGE_CLOEXEC),
        )
    };
}

/// A C string, or the error `std::process::Command` gives for a NUL byte.
fn cstring(bytes: &[u8]) -> io::Result<CString> {
    CString::new(bytes).map_err(|_| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            "nul byte found in provided data",
        )
    })
}

/// The pointers of `strings`, then a null one, as execve wants them.
fn null_terminated<'a>(strings: impl Iterator<Item = &'a CString>) -> Vec<*const c_char> {
    strings
        .map(|s| s.as_ptr())
        .chain(std::iter::once(std::ptr::null()))
        .collect()
}

mod child;
mod fds;
mod stack;

#[cfg(test)]
mod tests;
