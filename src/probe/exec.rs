//! Runs an operator's program and reads its stdout as inventory.
//!
//! The program is untrusted input in every sense: it may hang, fork children that hold
//! stdout open, print gigabytes or garbage, or detach processes that would run on forever.
//! So it runs in a process group of its own with stdin from /dev/null and a cleared
//! environment, its stdout is capped (over the cap the run is killed at once), and when it
//! ends, times out or misbehaves the whole group gets SIGTERM and, after a short grace,
//! SIGKILL. A process can leave the group (`setsid`, a double fork, a daemon backgrounding
//! itself); in the commands that run probes the daemon adopts such processes once their parent
//! is gone ([`adopt_orphans`]), so the end of the run finds them among its own children and
//! stops and reaps them with the group. A run dropped half-way (a reload, the scheduler's
//! backstop, the daemon stopping) is stopped the same way, with SIGKILL at once.
//!
//! Everything that may block before the start (the PATH search, the trust check of the
//! program, the user lookup through NSS) runs on the blocking pool.
//!
//! When the trust checks apply, the program is opened when it is checked and executed
//! through that descriptor (`/proc/self/fd/N`), not by its path again: what runs is the
//! file that was checked, even if the path is made to lead elsewhere in between.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::ffi::OsString;
use std::future::Future;
use std::io::Read;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::process::{Child, Command};
use tokio::time::Instant;

use super::ProbeError;
use super::user::{self, RunAs};
use crate::config::trust;

pub use crate::config::defaults::DEFAULT_MAX_OUTPUT_BYTES;

/// Stderr kept for the log line and the error message; the rest is read and dropped.
const STDERR_KEEP_BYTES: usize = 4 * 1024;
/// How much of a failed run's stdout its error shows when stderr is empty.
const STDOUT_HEAD_BYTES: usize = 512;
/// Time between SIGTERM and SIGKILL when a run is stopped.
const KILL_GRACE: Duration = Duration::from_secs(2);
/// How long killed processes get to be gone before the stop gives up on them (one in
/// uninterruptible sleep only dies when its I/O ends).
const GONE_AFTER_KILL: Duration = Duration::from_secs(1);
/// How often a stopping run looks at what is left of it.
const STOP_POLL: Duration = Duration::from_millis(20);
/// How much of a process's environment is searched for the run token. A process that pushes
/// it further out only makes itself look like a stray, and strays are stopped.
const ENVIRON_READ_LIMIT: u64 = 1024 * 1024;
/// The variable that carries a run's token into the environment of every process of the run.
/// It is how a process that left the group is told apart when two runs overlap; it is set
/// after the probe's own `env`, so a probe cannot take it over.
pub const RUN_VARIABLE: &str = "SSM_INVENTORYD_RUN";
/// How long children may keep stdout open after the program itself has exited.
const DRAIN_AFTER_EXIT: Duration = Duration::from_secs(1);
/// PATH for probes when the daemon itself has none (systemd gives services a fixed one).
const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
/// The shell of `shell = true`.
pub const SHELL: &str = "/bin/sh";

/// What an exec probe runs and how.
#[derive(Debug, Clone)]
pub struct ExecSpec {
    pub probe: String,
    /// argv; with `shell`, one element: the command line for `/bin/sh -c`.
    pub command: Vec<String>,
    pub shell: bool,
    pub env: BTreeMap<String, String>,
    pub user: Option<String>,
    pub working_dir: Option<PathBuf>,
    pub timeout: Duration,
    pub max_output_bytes: usize,
    /// Refuse a program someone other than root could change, when running as root.
    pub strict_permissions: bool,
}

/// What a successful run printed.
#[derive(Debug)]
pub struct ExecOutput {
    pub stdout: Vec<u8>,
    /// At most a few KiB, lossily decoded, trimmed; says so when cut.
    pub stderr: String,
}

/// Runs the program once and returns its stdout; any failure names the probe.
pub async fn run(spec: &ExecSpec) -> Result<ExecOutput, ProbeError> {
    let prepared = {
        let owned = spec.clone();
        tokio::task::spawn_blocking(move || prepare(&owned))
            .await
            .map_err(|_| ProbeError::Crashed {
                probe: spec.probe.clone(),
            })??
    };
    run_prepared(spec, prepared).await
}

/// Starts the prepared program and collects its output.
async fn run_prepared(spec: &ExecSpec, prepared: Prepared) -> Result<ExecOutput, ProbeError> {
    let probe = spec.probe.clone();
    // The user the run's processes belong to, for signalling them later.
    let user = prepared.run_as.as_ref().map(|r| Ids {
        uid: r.uid,
        gid: r.gid,
    });
    let mut run = Run::new(&probe, user);
    let mut command = Command::new(prepared.exec_path());
    command
        .arg0(&prepared.argv0)
        .args(&prepared.args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .env_clear()
        .env(
            "PATH",
            std::env::var_os("PATH").unwrap_or_else(|| DEFAULT_PATH.into()),
        )
        .envs(std::env::var_os("LANG").map(|v| ("LANG", v)))
        .envs(&spec.env)
        .env(RUN_VARIABLE, &run.token)
        // A group of its own, so that stopping the run reaches every process it started.
        .process_group(0)
        .kill_on_drop(true);
    if let Some(dir) = &spec.working_dir {
        command.current_dir(dir);
    }
    if let Some(run_as) = prepared.run_as {
        switch_user(&mut command, run_as);
    }
    if let Some(fd) = &prepared.checked {
        keep_open_across_exec(&mut command, fd.as_raw_fd());
    }

    let child = run
        .spawn(&mut command)
        .map_err(|source| ProbeError::Spawn {
            probe: probe.clone(),
            program: prepared.program.display().to_string(),
            source,
        })?;
    // `spawn` returns once the child has executed the program: the parent's copy of the
    // descriptor has done its work.
    drop(prepared.checked);
    let (Some(stdout), Some(stderr)) = (child.stdout.take(), child.stderr.take()) else {
        run.stop().await;
        return Err(ProbeError::Spawn {
            probe,
            program: prepared.program.display().to_string(),
            source: std::io::Error::other("stdout or stderr was not captured"),
        });
    };

    let mut out = Capped::default();
    let mut err = Capped::default();
    let ended = {
        let stdout_done = read_into(stdout, spec.max_output_bytes, true, &mut out);
        let stderr_done = read_into(stderr, STDERR_KEEP_BYTES, false, &mut err);
        tokio::time::timeout(spec.timeout, drive(child, stdout_done, stderr_done))
            .await
            .ok()
    };
    // Whatever happened, nothing from this run may outlive it.
    run.stop().await;
    let stderr = err.text();

    let status = match ended {
        None => {
            return Err(ProbeError::Timeout {
                probe,
                timeout: spec.timeout,
            });
        }
        Some(Ended::TooLarge) => {
            return Err(ProbeError::OutputTooLarge {
                probe,
                limit: spec.max_output_bytes,
            });
        }
        Some(Ended::HeldOpen) => return Err(ProbeError::StdoutHeldOpen { probe }),
        Some(Ended::Exited(status)) => status.map_err(|source| ProbeError::Wait {
            probe: probe.clone(),
            source,
        })?,
    };
    if !status.success() {
        // Some runtimes (the JVM among them) report fatal errors on stdout.
        let stdout_head = if stderr.is_empty() {
            head_of(&out.bytes)
        } else {
            String::new()
        };
        return Err(ProbeError::Exit {
            probe,
            status: describe(status),
            stderr,
            stdout_head,
        });
    }
    Ok(ExecOutput {
        stdout: out.bytes,
        stderr,
    })
}

/// The program as it will be started, found and checked before the fork.
#[derive(Debug)]
struct Prepared {
    /// Where it was found, for messages.
    program: PathBuf,
    /// The checked program, open, when the trust checks apply; it is executed through this
    /// descriptor so that what runs is what was checked.
    checked: Option<OwnedFd>,
    /// What the program sees as its name: as configured, not the resolved path.
    argv0: String,
    args: Vec<String>,
    /// Set when the daemon runs as root and the probe names a user.
    run_as: Option<RunAs>,
}

impl Prepared {
    /// What is handed to execve: the checked descriptor when there is one, else the path.
    fn exec_path(&self) -> PathBuf {
        match &self.checked {
            Some(fd) => PathBuf::from(format!("/proc/self/fd/{}", fd.as_raw_fd())),
            None => self.program.clone(),
        }
    }
}

/// PATH search, trust check, working directory and user lookup: everything that can block
/// or fail before anything is started.
fn prepare(spec: &ExecSpec) -> Result<Prepared, ProbeError> {
    let probe = || spec.probe.clone();
    let (argv0, args): (String, Vec<String>) = if spec.shell {
        let line = spec.command.first().cloned().unwrap_or_default();
        (SHELL.to_string(), vec!["-c".to_string(), line])
    } else {
        match spec.command.split_first() {
            Some((program, args)) => (program.clone(), args.to_vec()),
            None => return Err(ProbeError::EmptyCommand { probe: probe() }),
        }
    };
    let search_path: OsString = spec
        .env
        .get("PATH")
        .map(OsString::from)
        .or_else(|| std::env::var_os("PATH"))
        .unwrap_or_else(|| DEFAULT_PATH.into());
    let program = find_program(&argv0, &search_path).ok_or_else(|| {
        if argv0.contains('/') {
            ProbeError::Spawn {
                probe: probe(),
                program: argv0.clone(),
                source: std::io::Error::from(std::io::ErrorKind::NotFound),
            }
        } else {
            ProbeError::ProgramNotFound {
                probe: probe(),
                program: argv0.clone(),
                path: search_path.to_string_lossy().into_owned(),
            }
        }
    })?;
    // Opened here and executed through this descriptor, so that what runs is what was checked.
    let checked = if trust::enforced(spec.strict_permissions) {
        Some(
            trust::open_program(&program).map_err(|source| ProbeError::Untrusted {
                probe: probe(),
                what: "program",
                source,
            })?,
        )
    } else {
        None
    };
    if let Some(dir) = &spec.working_dir
        && !dir.is_dir()
    {
        return Err(ProbeError::WorkingDir {
            probe: probe(),
            path: dir.clone(),
        });
    }
    let run_as = match &spec.user {
        None => None,
        Some(name) => {
            let run_as = user::resolve(name).map_err(|reason| ProbeError::User {
                probe: probe(),
                user: name.clone(),
                reason,
            })?;
            // SAFETY: geteuid has no preconditions and cannot fail.
            let euid = unsafe { libc::geteuid() };
            if euid == 0 {
                Some(run_as)
            } else if run_as.uid == euid {
                None // already that user
            } else {
                return Err(ProbeError::User {
                    probe: probe(),
                    user: name.clone(),
                    reason: format!(
                        "the daemon runs as uid {euid}, not root, so it cannot switch users"
                    ),
                });
            }
        }
    };
    Ok(Prepared {
        program,
        checked,
        argv0,
        args,
        run_as,
    })
}

/// A program with a `/` is taken as it is (relative ones were resolved by the config); a
/// bare name is looked up in `search_path`, skipping empty and relative entries, which would
/// mean the daemon's working directory.
fn find_program(program: &str, search_path: &OsString) -> Option<PathBuf> {
    if program.contains('/') {
        let path = PathBuf::from(program);
        return path.is_file().then_some(path);
    }
    std::env::split_paths(search_path)
        .filter(|dir| dir.is_absolute())
        .map(|dir| dir.join(program))
        .find(|candidate| is_executable(candidate))
}

fn is_executable(path: &Path) -> bool {
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// Drops to `run_as` in the child between fork and exec: supplementary groups, then the
/// group, then the user (in that order: after setuid the others are no longer allowed).
fn switch_user(command: &mut Command, run_as: RunAs) {
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
fn keep_open_across_exec(command: &mut Command, fd: RawFd) {
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

/// How the program's run ended, short of the timeout.
enum Ended {
    /// It exited and its stdout reached end of file.
    Exited(std::io::Result<ExitStatus>),
    /// It printed more than the cap.
    TooLarge,
    /// It exited, but something it started kept stdout open past the drain period.
    HeldOpen,
}

/// Waits for the program to exit and both pipes to close, whichever order they come in.
/// Stdout over the cap ends the run at once; after the exit, children get
/// [`DRAIN_AFTER_EXIT`] to finish writing.
async fn drive(
    child: &mut Child,
    stdout_done: impl Future<Output = bool>,
    stderr_done: impl Future<Output = bool>,
) -> Ended {
    tokio::pin!(stdout_done, stderr_done);
    let mut status: Option<std::io::Result<ExitStatus>> = None;
    let mut out_closed = false;
    let mut err_closed = false;
    let mut drain_until: Option<Instant> = None;
    loop {
        if out_closed && err_closed && status.is_some() {
            break;
        }
        let drain_deadline = drain_until.unwrap_or_else(Instant::now);
        tokio::select! {
            exited = child.wait(), if status.is_none() => {
                status = Some(exited);
                drain_until = Some(Instant::now() + DRAIN_AFTER_EXIT);
            }
            over = &mut stdout_done, if !out_closed => {
                if over {
                    return Ended::TooLarge;
                }
                out_closed = true;
            }
            _ = &mut stderr_done, if !err_closed => err_closed = true,
            () = tokio::time::sleep_until(drain_deadline), if drain_until.is_some() => {
                if !out_closed {
                    return Ended::HeldOpen;
                }
                // Only stderr is held open: what was read of it is enough for the log.
                break;
            }
        }
    }
    match status {
        Some(status) => Ended::Exited(status),
        // The loop only ends with a status, but say something sensible regardless.
        None => Ended::Exited(Err(std::io::Error::other(
            "the program's status is unknown",
        ))),
    }
}

/// Bytes read from one pipe, at most a cap of them.
#[derive(Debug, Default)]
struct Capped {
    bytes: Vec<u8>,
    /// Everything read, kept or not.
    total: usize,
}

impl Capped {
    /// Stderr for messages: lossy UTF-8, trimmed, with a note when it was cut.
    fn text(&self) -> String {
        let text = String::from_utf8_lossy(&self.bytes).trim().to_string();
        if self.total > self.bytes.len() {
            format!(
                "{text} … ({} more bytes not shown)",
                self.total - self.bytes.len()
            )
        } else {
            text
        }
    }
}

/// Reads `reader` to its end into `into`, keeping at most `cap` bytes. With `stop_at_cap`
/// it returns `true` as soon as more than `cap` bytes arrive (the run is then killed);
/// otherwise it drains the rest so the writer never blocks on a full pipe, and returns
/// whether anything was dropped.
async fn read_into(
    mut reader: impl AsyncRead + Unpin,
    cap: usize,
    stop_at_cap: bool,
    into: &mut Capped,
) -> bool {
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        match reader.read(&mut buf).await {
            Ok(0) | Err(_) => return into.total > cap,
            Ok(n) => {
                into.total = into.total.saturating_add(n);
                let room = cap.saturating_sub(into.bytes.len());
                into.bytes.extend_from_slice(&buf[..n.min(room)]);
                if stop_at_cap && into.total > cap {
                    return true;
                }
            }
        }
    }
}

/// The start of a failed run's stdout, for its error message: lossy UTF-8, trimmed, cut on a
/// character boundary, saying so when cut.
fn head_of(stdout: &[u8]) -> String {
    let text = String::from_utf8_lossy(&stdout[..stdout.len().min(STDOUT_HEAD_BYTES)]);
    let text = text.trim_end_matches('\u{fffd}').trim();
    if stdout.len() > STDOUT_HEAD_BYTES {
        format!(
            "{text} … ({} more bytes not shown)",
            stdout.len() - STDOUT_HEAD_BYTES
        )
    } else {
        text.to_string()
    }
}

/// The user a run's processes belong to, when that is not the daemon's.
#[derive(Debug, Clone, Copy)]
struct Ids {
    uid: libc::uid_t,
    gid: libc::gid_t,
}

/// A run's process group, and the user its processes run as when that is not the daemon's.
#[derive(Debug, Clone, Copy)]
struct Group {
    pgid: libc::pid_t,
    user: Option<Ids>,
}

/// Runs `f` as `user`: on a short-lived thread that sets its own effective uid and gid to the
/// user's. From there the kernel lets it signal that user's processes without CAP_KILL, and
/// read their environment without CAP_SYS_PTRACE (and see their `/proc` entries where
/// `hidepid` hides them). The unit can then drop CAP_KILL, which would let the daemon signal
/// every process on the node. Without a user, or with the daemon's own, `f` runs here.
fn as_user<T: Send>(user: Option<Ids>, f: impl FnOnce() -> T + Send) -> T {
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

/// Sends `signal` to the group (0 asks whether any member is left), as the group's user.
fn kill_group(group: Option<Group>, signal: libc::c_int) -> bool {
    let Some(Group { pgid, user }) = group.filter(|g| g.pgid > 0) else {
        return false;
    };
    // SAFETY: killpg only sends a signal; a group that no longer exists yields ESRCH.
    as_user(user, move || unsafe { libc::killpg(pgid, signal) == 0 })
}

/// Whether this process adopts orphans ([`adopt_orphans`]). Only then does a stopping run look
/// at children other than leads: in any other process they are someone else's to wait for.
static ADOPTING: AtomicBool = AtomicBool::new(false);
/// Numbers the runs, for their tokens.
static RUN_SERIAL: AtomicU64 = AtomicU64::new(0);
/// The runs in flight in this process. Held while a lead is started, so that no other run
/// takes it for an orphan before its pid is on record; and while a stopping run picks,
/// signals and reaps the orphans that are its own, so that two runs never both signal a pid
/// one of them has reaped, and which may by then be another process's.
static IN_FLIGHT: Mutex<Vec<InFlight>> = Mutex::new(Vec::new());

struct InFlight {
    serial: u64,
    token: String,
    /// The lead's pid, which is its group's id too; 0 until it is started.
    pgid: libc::pid_t,
}

fn in_flight() -> MutexGuard<'static, Vec<InFlight>> {
    IN_FLIGHT.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Makes this process the reaper of its probes' orphans (`PR_SET_CHILD_SUBREAPER`): a
/// process a probe detached (a double fork, `setsid`, a daemon that backgrounds itself)
/// becomes this process's child instead of init's when its parent exits, where the end of the
/// run finds it, stops it and reaps it. The commands that run probes call this once at their
/// start. A process that does not (a library user, the tests) gets the group stop only, and
/// none of its children but the leads of runs is ever signalled or waited for.
pub fn adopt_orphans() -> std::io::Result<()> {
    // prctl is variadic: the arguments must have the width the kernel reads.
    let (on, unused): (libc::c_ulong, libc::c_ulong) = (1, 0);
    // SAFETY: PR_SET_CHILD_SUBREAPER sets a flag of this process and reads only its second
    // argument.
    if unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, on, unused, unused, unused) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    ADOPTING.store(true, Ordering::SeqCst);
    Ok(())
}

/// A run's processes, from before its program starts until nothing of it is left. Stopping
/// it, when it ends ([`Run::stop`]) or when it is dropped half-way ([`Drop`]), reaches its
/// process group and the processes that left the group.
struct Run {
    probe: String,
    serial: u64,
    /// The value of [`RUN_VARIABLE`] in the run's processes.
    token: String,
    user: Option<Ids>,
    child: Option<Child>,
    group: Option<Group>,
    /// Set once [`Run::stop`] has finished; a run dropped before then is stopped at once.
    stopped: bool,
}

/// Where a child of this process is, as a stopping run sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Where {
    /// In the run's process group.
    Group,
    /// In the daemon's own process group.
    DaemonGroup,
    /// In a group of neither, nor of another run in flight.
    Outside,
}

/// What a stopping run has done to the processes that left its group.
#[derive(Default)]
struct Reach {
    /// The last signal each was sent, so that each gets SIGTERM once and SIGKILL once.
    signalled: HashMap<libc::pid_t, libc::c_int>,
    /// Those neither the daemon nor the run's user may signal: another user's, so not this
    /// run's; their own run stops them.
    out_of_reach: HashSet<libc::pid_t>,
    /// Those found to be this run's, which stay so when their environment can no longer be
    /// read (a zombie's cannot): a pid is not reused before it is reaped.
    ours: HashSet<libc::pid_t>,
    /// Those whose environment could not be read once, while another run was in flight.
    unread_once: HashSet<libc::pid_t>,
}

impl Run {
    fn new(probe: &str, user: Option<Ids>) -> Run {
        let serial = RUN_SERIAL.fetch_add(1, Ordering::Relaxed);
        let token = format!("{}.{serial}", std::process::id());
        in_flight().push(InFlight {
            serial,
            token: token.clone(),
            pgid: 0,
        });
        Run {
            probe: probe.to_string(),
            serial,
            token,
            user,
            child: None,
            group: None,
            stopped: false,
        }
    }

    /// Starts the program, holding [`IN_FLIGHT`] until its pid is on record.
    fn spawn(&mut self, command: &mut Command) -> std::io::Result<&mut Child> {
        let mut in_flight = in_flight();
        let child = command.spawn()?;
        // The pid is known until the child is reaped, and we have not awaited it yet.
        let pgid = child.id().and_then(|pid| libc::pid_t::try_from(pid).ok());
        if let Some(pgid) = pgid
            && let Some(entry) = in_flight.iter_mut().find(|r| r.serial == self.serial)
        {
            entry.pgid = pgid;
        }
        drop(in_flight);
        self.group = pgid.map(|pgid| Group {
            pgid,
            user: self.user,
        });
        Ok(self.child.insert(child))
    }

    /// SIGTERM to the group and to the processes that left it, then SIGKILL to whatever is
    /// left after the grace period. The program and the adopted processes are reaped on the
    /// way, so that none lingers as a zombie (which would also keep the group alive).
    async fn stop(&mut self) {
        let mut reach = Reach::default();
        let mut signal = libc::SIGTERM;
        kill_group(self.group, signal);
        let mut deadline = Instant::now() + KILL_GRACE;
        while self.left(signal, &mut reach) {
            if Instant::now() >= deadline {
                if signal == libc::SIGKILL {
                    self.give_up();
                    break;
                }
                signal = libc::SIGKILL;
                kill_group(self.group, signal);
                deadline = Instant::now() + GONE_AFTER_KILL;
                continue;
            }
            tokio::time::sleep(STOP_POLL).await;
        }
        self.stopped = true;
    }

    /// The stop of a run dropped half-way: SIGKILL at once, since nothing waits for a grace
    /// period to pass, and a wait of milliseconds on this thread for the processes to go.
    fn stop_now(&mut self) {
        let Some(child) = self.child.as_mut() else {
            return;
        };
        kill_group(self.group, libc::SIGKILL);
        let _ = child.start_kill();
        let mut reach = Reach::default();
        let deadline = std::time::Instant::now() + GONE_AFTER_KILL;
        while self.left(libc::SIGKILL, &mut reach) {
            if std::time::Instant::now() >= deadline {
                self.give_up();
                break;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// One look at what is left of the run: reaps what has ended, sends `signal` to the
    /// processes that left the group and have not had it yet, and says whether anything is
    /// left.
    fn left(&mut self, signal: libc::c_int, reach: &mut Reach) -> bool {
        let lead = self
            .child
            .as_mut()
            .is_some_and(|child| matches!(child.try_wait(), Ok(None)));
        let adopted = self.sweep(signal, reach);
        // Signal 0 asks whether any member of the group is still there.
        lead || adopted || kill_group(self.group, 0)
    }

    /// Stops and reaps the processes of this run found among this process's children, which
    /// are, leads aside (every lead is on record, and the runtime waits for it), the orphans
    /// it adopted. Says whether any of them is left. A child is this run's when
    /// - it is in the run's group;
    /// - or it is in no group of another run in flight and not in the daemon's own, and its
    ///   environment does not carry the token of another run in flight;
    /// - or it is in the daemon's own group (which no probe's process starts in, but one can
    ///   join it: the runs share the daemon's session) and carries a token of this process's
    ///   other than another run in flight's. Without one it is someone else's child.
    ///
    /// An environment that cannot be read (another user's process when the daemon lacks
    /// CAP_SYS_PTRACE, as under the unit; one that made itself not dumpable; a zombie; one in
    /// the middle of `execve`, which shows none for an instant) is read again as the run's
    /// user, and while another run is in flight, once more at the next look. If that fails
    /// too, a process outside the daemon's group counts as this run's. So a stray of a run that
    /// already ended is stopped by the next run that ends, and a process of another run in
    /// flight that cannot be told apart is stopped early rather than left running.
    fn sweep(&self, signal: libc::c_int, reach: &mut Reach) -> bool {
        if !ADOPTING.load(Ordering::Relaxed) {
            return false;
        }
        let own = self.group.map(|g| g.pgid);
        let in_flight = in_flight();
        let others = || in_flight.iter().filter(|r| r.serial != self.serial);
        // SAFETY: getpgrp cannot fail.
        let daemon_group = unsafe { libc::getpgrp() };
        let this_process = format!("{}.", std::process::id());
        let mut candidates = Vec::new();
        for pid in children() {
            if in_flight.iter().any(|r| r.pgid == pid) {
                continue;
            }
            // SAFETY: getpgid only reads; for a process that is gone it yields -1.
            let pgid = unsafe { libc::getpgid(pid) };
            if pgid <= 0 {
                continue;
            }
            if Some(pgid) == own {
                candidates.push((pid, Where::Group));
            } else if pgid == daemon_group {
                candidates.push((pid, Where::DaemonGroup));
            } else if !others().any(|r| r.pgid == pgid) {
                candidates.push((pid, Where::Outside));
            }
        }
        let mut tokens = HashMap::new();
        let mut unread = Vec::new();
        for &(pid, place) in &candidates {
            if place != Where::Group {
                match run_token(pid) {
                    Ok(token) => {
                        tokens.insert(pid, token);
                    }
                    Err(_) => unread.push(pid),
                }
            }
        }
        if self.user.is_some() && !unread.is_empty() {
            tokens.extend(as_user(self.user, || {
                unread
                    .iter()
                    .filter_map(|&pid| Some((pid, run_token(pid).ok()?)))
                    .collect::<Vec<_>>()
            }));
        }
        let mut left = 0usize;
        candidates.retain(|&(pid, place)| {
            if place == Where::Group || reach.ours.contains(&pid) {
                return true;
            }
            let Some(token) = tokens.get(&pid) else {
                if place == Where::DaemonGroup {
                    return false;
                }
                if others().next().is_some() && reach.unread_once.insert(pid) {
                    left += 1;
                    return false;
                }
                return true;
            };
            let another_runs = token
                .as_ref()
                .is_some_and(|t| others().any(|r| &r.token == t));
            match place {
                Where::Group | Where::Outside => !another_runs,
                Where::DaemonGroup => {
                    !another_runs && token.as_ref().is_some_and(|t| t.starts_with(&this_process))
                }
            }
        });
        reach.ours.extend(candidates.iter().map(|&(pid, _)| pid));
        let mut denied = Vec::new();
        for (pid, place) in candidates {
            if reap(pid) {
                // Its pid may now be reused, by a process that has had no signal.
                reach.signalled.remove(&pid);
                reach.out_of_reach.remove(&pid);
                reach.ours.remove(&pid);
                reach.unread_once.remove(&pid);
                continue;
            }
            if reach.out_of_reach.contains(&pid) {
                continue;
            }
            left += 1;
            // The group's members had the group's signal.
            if place != Where::Group && reach.signalled.insert(pid, signal) != Some(signal) {
                // SAFETY: kill only sends a signal, and the pid is an unreaped child of ours,
                // so it is still the process we looked at.
                if unsafe { libc::kill(pid, signal) } != 0
                    && std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
                {
                    denied.push(pid);
                }
            }
        }
        if !denied.is_empty() {
            // Another user's process, and no CAP_KILL here: as the run's user, if it is theirs.
            let failed = match self.user {
                None => denied,
                Some(_) => as_user(self.user, || {
                    denied
                        .into_iter()
                        // SAFETY: as above.
                        .filter(|&pid| unsafe { libc::kill(pid, signal) } != 0)
                        .collect::<Vec<_>>()
                }),
            };
            left -= failed.len();
            reach.out_of_reach.extend(failed);
        }
        left > 0
    }

    fn give_up(&self) {
        tracing::warn!(
            probe = %self.probe,
            "processes of the run were still there {} after SIGKILL (in uninterruptible sleep?); they are reaped once they end",
            humantime::format_duration(GONE_AFTER_KILL)
        );
    }
}

impl Drop for Run {
    fn drop(&mut self) {
        if !self.stopped {
            self.stop_now();
        }
        in_flight().retain(|r| r.serial != self.serial);
    }
}

/// This process's children: every thread's `children` list, since an orphan goes to whichever
/// thread the kernel picks. Those lists exist with CONFIG_PROC_CHILDREN, which the usual
/// distribution kernels enable, and they are this process's own, so no `hidepid` setting of
/// `/proc` hides another user's child in them. Without them, `/proc/*/stat` names each
/// process's parent, though only for the processes this one may see.
fn children() -> Vec<libc::pid_t> {
    let mut pids = Vec::new();
    let mut listed = false;
    if let Ok(tasks) = std::fs::read_dir("/proc/self/task") {
        for task in tasks.flatten() {
            if let Ok(list) = std::fs::read_to_string(task.path().join("children")) {
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

fn parent_of(pid: libc::pid_t) -> Option<libc::pid_t> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The name in parentheses may hold anything, spaces and parentheses included.
    let rest = &stat[stat.rfind(')')? + 1..];
    // state, then ppid
    rest.split_ascii_whitespace().nth(1)?.parse().ok()
}

/// The run token in the environment of `pid`; `None` when it has none. An empty environment
/// is an error: it is what a process shows in the middle of `execve`, before the new
/// program's is in place, or a zombie.
fn run_token(pid: libc::pid_t) -> std::io::Result<Option<String>> {
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

/// Reaps `pid` if it has ended; says whether it is gone. Only adopted processes are reaped
/// here, each by its pid: waiting for any child (-1) would take the leads' statuses from the
/// runtime that waits for them.
fn reap(pid: libc::pid_t) -> bool {
    let mut status = 0;
    // SAFETY: waits, without blocking, for this one child of ours.
    unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) != 0 }
}

fn describe(status: ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("exit status {code}"),
        (None, Some(signal)) => format!("signal {signal}"),
        _ => status.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(command: &[&str]) -> ExecSpec {
        ExecSpec {
            probe: "t".into(),
            command: command.iter().map(|s| s.to_string()).collect(),
            shell: false,
            env: BTreeMap::new(),
            user: None,
            working_dir: None,
            timeout: Duration::from_secs(10),
            max_output_bytes: DEFAULT_MAX_OUTPUT_BYTES,
            strict_permissions: true,
        }
    }

    fn shell(line: &str) -> ExecSpec {
        ExecSpec {
            shell: true,
            ..spec(&[line])
        }
    }

    #[tokio::test]
    async fn argv_runs_without_a_shell_and_with_a_clean_environment() {
        let out = run(&spec(&["/bin/echo", "$HOME", "*"])).await.unwrap();
        assert_eq!(out.stdout, b"$HOME *\n");
        let mut s = spec(&["env"]);
        s.env.insert("ONLY".into(), "this".into());
        let out = run(&s).await.unwrap();
        let env = String::from_utf8(out.stdout).unwrap();
        let mut names: Vec<&str> = env.lines().filter_map(|l| l.split('=').next()).collect();
        names.sort();
        names.retain(|n| *n != "LANG");
        assert_eq!(names, ["ONLY", "PATH", RUN_VARIABLE], "{env}");
    }

    #[tokio::test]
    async fn shell_true_runs_the_line_with_bin_sh() {
        let out = run(&shell(
            "printf '%s' \"$0\" | tr a-z A-Z; echo; echo err >&2",
        ))
        .await
        .unwrap();
        assert_eq!(out.stdout, b"/BIN/SH\n");
        assert_eq!(out.stderr, "err");
    }

    #[tokio::test]
    async fn working_dir_is_used_and_checked() {
        let tmp = tempfile::tempdir().unwrap();
        let mut s = spec(&["pwd"]);
        s.working_dir = Some(tmp.path().to_owned());
        let out = run(&s).await.unwrap();
        assert_eq!(
            String::from_utf8(out.stdout).unwrap().trim(),
            tmp.path().to_str().unwrap()
        );
        s.working_dir = Some(tmp.path().join("missing"));
        let e = run(&s).await.unwrap_err().to_string();
        assert!(e.contains("working_dir") && e.contains("missing"), "{e}");
    }

    #[tokio::test]
    async fn a_missing_program_is_named() {
        let e = run(&spec(&["no-such-program-x"])).await.unwrap_err();
        assert!(matches!(e, ProbeError::ProgramNotFound { .. }), "{e}");
        assert!(e.to_string().contains("no-such-program-x"), "{e}");
        let e = run(&spec(&["/nonexistent/prog"])).await.unwrap_err();
        assert!(e.to_string().contains("/nonexistent/prog"), "{e}");
    }

    #[tokio::test]
    async fn stdout_over_the_cap_kills_the_run() {
        let mut s = shell("yes");
        s.max_output_bytes = 1000;
        let e = run(&s).await.unwrap_err();
        assert!(
            matches!(e, ProbeError::OutputTooLarge { limit: 1000, .. }),
            "{e}"
        );
    }

    #[tokio::test]
    async fn stderr_is_cut_and_says_so() {
        let out = run(&shell(
            "head -c 10000 /dev/zero | tr '\\0' x >&2; echo '{}'",
        ))
        .await
        .unwrap();
        assert!(out.stderr.starts_with("xxxx"), "{}", out.stderr);
        assert!(
            out.stderr.ends_with("(5904 more bytes not shown)"),
            "{}",
            out.stderr
        );
    }

    #[tokio::test]
    async fn failure_carries_status_and_stderr() {
        let e = run(&shell("echo broken >&2; exit 3")).await.unwrap_err();
        assert_eq!(
            e.to_string(),
            "probe `t`: failed with exit status 3; stderr: broken"
        );
    }

    #[tokio::test]
    async fn failure_with_empty_stderr_shows_the_head_of_stdout() {
        let e = run(&shell(
            "echo 'Error: could not mark memory executable'; exit 1",
        ))
        .await
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "probe `t`: failed with exit status 1; stdout: Error: could not mark memory executable"
        );
        let e = run(&shell("head -c 2000 /dev/zero | tr '\\0' x; exit 1"))
            .await
            .unwrap_err()
            .to_string();
        assert!(e.contains("; stdout: xxxx"), "{e}");
        assert!(e.ends_with("(1488 more bytes not shown)"), "{e}");
        // With stderr, stdout is not repeated.
        let e = run(&shell("echo out; echo err >&2; exit 1"))
            .await
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "probe `t`: failed with exit status 1; stderr: err"
        );
    }

    #[tokio::test]
    async fn runs_as_another_user_when_root() {
        // SAFETY: geteuid cannot fail.
        if unsafe { libc::geteuid() } != 0 || user::resolve("nobody").is_err() {
            eprintln!("skipped: needs root and a `nobody` account");
            return;
        }
        let nobody = user::resolve("nobody").unwrap();
        let mut s = shell("id -u; id -g");
        s.user = Some("nobody".into());
        let out = run(&s).await.unwrap();
        assert_eq!(
            String::from_utf8(out.stdout).unwrap(),
            format!("{}\n{}\n", nobody.uid, nobody.gid)
        );
        s.user = Some("no-such-user-ssm-inventoryd".into());
        let e = run(&s).await.unwrap_err().to_string();
        assert!(
            e.contains("no-such-user-ssm-inventoryd") && e.contains("no such user"),
            "{e}"
        );
    }

    /// Takes CAP_KILL away from the calling thread (and the threads it starts), as the unit
    /// takes it from the daemon.
    fn drop_cap_kill_on_this_thread() {
        #[repr(C)]
        struct Header {
            version: u32,
            pid: libc::c_int,
        }
        #[repr(C)]
        #[derive(Default, Clone, Copy)]
        struct Data {
            effective: u32,
            permitted: u32,
            inheritable: u32,
        }
        const CAP_KILL: u32 = 5;
        let mut header = Header {
            version: 0x2008_0522,
            pid: 0,
        };
        let mut data = [Data::default(); 2];
        // SAFETY: capget and capset read and write the two structs given; pid 0 is this
        // thread, and the raw calls change this thread's capabilities only.
        unsafe {
            assert_eq!(
                libc::syscall(libc::SYS_capget, &mut header, data.as_mut_ptr()),
                0
            );
            data[0].effective &= !(1 << CAP_KILL);
            data[0].permitted &= !(1 << CAP_KILL);
            assert_eq!(
                libc::syscall(libc::SYS_capset, &mut header, data.as_ptr()),
                0
            );
        }
    }

    /// Whether any process's command line contains `needle`.
    fn process_with(needle: &str) -> bool {
        std::fs::read_dir("/proc").unwrap().flatten().any(|entry| {
            std::fs::read(entry.path().join("cmdline"))
                .is_ok_and(|c| String::from_utf8_lossy(&c).contains(needle))
        })
    }

    /// Under the unit the daemon has no CAP_KILL; a `user` probe that runs past its timeout
    /// is still stopped, with everything it started, because it is signalled as its own user.
    #[tokio::test]
    async fn a_user_probe_is_stopped_without_cap_kill() {
        // SAFETY: geteuid cannot fail.
        if unsafe { libc::geteuid() } != 0 || user::resolve("nobody").is_err() {
            eprintln!("skipped: needs root and a `nobody` account");
            return;
        }
        drop_cap_kill_on_this_thread();
        let marker = format!("30.{}", std::process::id());
        let mut s = shell(&format!("sleep {marker}; true"));
        s.user = Some("nobody".into());
        s.timeout = Duration::from_millis(500);
        let started = Instant::now();
        let e = run(&s).await.unwrap_err();
        assert!(matches!(e, ProbeError::Timeout { .. }), "{e}");
        assert!(started.elapsed() < Duration::from_secs(10));
        assert!(
            !process_with(&marker),
            "the probe's sleep {marker} survived"
        );
    }

    fn write_program(path: &Path, text: &str) {
        // Write a new file and rename it into place, as a swap by an attacker would.
        let new = path.with_extension("new");
        std::fs::write(&new, text).unwrap();
        std::fs::set_permissions(&new, std::fs::Permissions::from_mode(0o755)).unwrap();
        std::fs::rename(&new, path).unwrap();
    }

    /// What runs is the file that was checked: a program replaced between the check and the
    /// start (here by a rename, as a swapped link would do) is not the one that runs.
    #[tokio::test]
    async fn the_checked_file_runs_even_when_replaced_before_the_start() {
        if !trust::root_or_skip() {
            return;
        }
        let tmp = tempfile::tempdir().unwrap();
        let prog = tmp.path().join("prog");
        let s = spec(&[prog.to_str().unwrap(), "checked"]);
        let swapped = "#!/bin/sh\necho swapped\n";

        // A binary.
        std::fs::copy("/bin/echo", &prog).unwrap();
        std::fs::set_permissions(&prog, std::fs::Permissions::from_mode(0o755)).unwrap();
        let prepared = prepare(&s).unwrap();
        write_program(&prog, swapped);
        assert_eq!(
            run_prepared(&s, prepared).await.unwrap().stdout,
            b"checked\n"
        );

        // A script, whose interpreter opens it by the descriptor's path after the exec.
        write_program(&prog, "#!/bin/sh\necho \"$1\" script\n");
        let prepared = prepare(&s).unwrap();
        write_program(&prog, swapped);
        assert_eq!(
            run_prepared(&s, prepared).await.unwrap().stdout,
            b"checked script\n"
        );
    }

    /// The program's own name is as configured; a script, run through its descriptor, sees
    /// that descriptor's path as `$0`.
    #[tokio::test]
    async fn names_seen_by_a_checked_program() {
        if !trust::root_or_skip() {
            return;
        }
        let out = run(&spec(&["sh", "-c", "echo \"$0\""])).await.unwrap();
        assert_eq!(out.stdout, b"sh\n");
        let tmp = tempfile::tempdir().unwrap();
        let prog = tmp.path().join("probe.sh");
        write_program(&prog, "#!/bin/sh\necho \"$0\"\n");
        let out = run(&spec(&[prog.to_str().unwrap()])).await.unwrap();
        let zero = String::from_utf8(out.stdout).unwrap();
        assert!(zero.starts_with("/proc/self/fd/"), "{zero}");
    }

    /// As another user, through the descriptor, both a binary (`/bin/sh` of `shell = true`,
    /// in `runs_as_another_user_when_root`) and a script run.
    #[tokio::test]
    async fn a_checked_script_runs_as_another_user() {
        if !trust::root_or_skip() || user::resolve("nobody").is_err() {
            return;
        }
        let nobody = user::resolve("nobody").unwrap();
        let tmp = tempfile::tempdir().unwrap();
        std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        let prog = tmp.path().join("probe.sh");
        write_program(&prog, "#!/bin/sh\nid -u\n");
        let mut s = spec(&[prog.to_str().unwrap()]);
        s.user = Some("nobody".into());
        let out = run(&s).await.unwrap();
        assert_eq!(
            String::from_utf8(out.stdout).unwrap(),
            format!("{}\n", nobody.uid)
        );
    }

    /// A link in a sticky directory (like /run/lock) that its non-root owner could point
    /// elsewhere after the check is refused, even though it leads to a trusted program.
    #[tokio::test]
    async fn a_link_not_owned_by_root_is_refused() {
        if !trust::root_or_skip() {
            return;
        }
        let tmp = tempfile::tempdir().unwrap();
        std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o1777)).unwrap();
        let link = tmp.path().join("echo");
        std::os::unix::fs::symlink("/bin/echo", &link).unwrap();
        std::os::unix::fs::lchown(&link, Some(65534), Some(65534)).unwrap();
        let e = run(&spec(&[link.to_str().unwrap(), "{}"]))
            .await
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("refusing to run its program")
                && e.contains(&format!(
                    "{} is a symbolic link owned by uid 65534, not root",
                    link.display()
                )),
            "{e}"
        );
    }

    /// What a stopping run goes by: this process's children, the parent in their `stat`, the
    /// run token in their environment.
    #[test]
    fn a_child_is_found_with_its_parent_and_its_run_token() {
        let mut marked = std::process::Command::new("sleep")
            .arg("30")
            .env(RUN_VARIABLE, "42.7")
            .spawn()
            .unwrap();
        let mut unmarked = std::process::Command::new("sleep")
            .arg("30")
            .env_remove(RUN_VARIABLE)
            .spawn()
            .unwrap();
        let pid = |child: &std::process::Child| libc::pid_t::try_from(child.id()).unwrap();
        // The parent goes on before the new program's environment is in place.
        let token = |child: &std::process::Child| {
            let deadline = std::time::Instant::now() + Duration::from_secs(5);
            loop {
                match run_token(pid(child)) {
                    Err(_) if std::time::Instant::now() < deadline => {
                        std::thread::sleep(Duration::from_millis(5));
                    }
                    read => break read.ok().flatten(),
                }
            }
        };
        // SAFETY: getpid cannot fail.
        let me = unsafe { libc::getpid() };
        let found = (
            children().contains(&pid(&marked)),
            parent_of(pid(&marked)),
            token(&marked),
            token(&unmarked),
        );
        for child in [&mut marked, &mut unmarked] {
            let _ = child.kill();
            let _ = child.wait();
        }
        assert_eq!(found, (true, Some(me), Some("42.7".to_string()), None));
    }

    #[tokio::test]
    async fn untrusted_programs_are_refused_when_root() {
        if !trust::root_or_skip() {
            return;
        }
        let tmp = tempfile::tempdir().unwrap();
        let prog = tmp.path().join("probe.sh");
        std::fs::write(&prog, "#!/bin/sh\necho '{}'\n").unwrap();
        std::fs::set_permissions(&prog, std::fs::Permissions::from_mode(0o775)).unwrap();
        let mut s = spec(&[prog.to_str().unwrap()]);
        let e = run(&s).await.unwrap_err().to_string();
        assert!(
            e.contains("refusing to run its program") && e.contains("writable by its group"),
            "{e}"
        );
        s.strict_permissions = false;
        assert_eq!(run(&s).await.unwrap().stdout, b"{}\n");
        std::fs::set_permissions(&prog, std::fs::Permissions::from_mode(0o755)).unwrap();
        s.strict_permissions = true;
        assert_eq!(run(&s).await.unwrap().stdout, b"{}\n");
    }
}
