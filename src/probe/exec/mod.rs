//! Runs an operator's program and reads its stdout as inventory.
//!
//! The program is untrusted input in every sense: it may hang, fork children that hold
//! stdout open, print gigabytes or garbage, or detach processes that would run on forever.
//! So it runs in a session (and so a process group) of its own with stdin from /dev/null and a
//! cleared environment, its stdout is capped (over the cap the run is killed at once), and when it
//! ends, times out or misbehaves the whole group gets SIGTERM and, after a short grace,
//! SIGKILL. A process can leave the group (`setsid`, a double fork, a daemon backgrounding
//! itself); in the commands that run probes the daemon adopts such processes once their parent
//! is gone ([`adopt_orphans`]), so the end of the run finds them among its own children and
//! stops and reaps them with the group. A run dropped half-way (a reload, the scheduler's
//! backstop, the daemon stopping) is stopped the same way, with SIGKILL at once.
//!
//! The program is started without `fork` (`spawn`), so that a run does not copy the daemon's
//! page tables.
//!
//! Everything that may block before the start (the PATH search, the trust check of the
//! program, the user lookup through NSS) runs off the runtime's thread, on the probes' lane
//! (`lane`: one thread that runs due together share, the blocking pool behind it).
//!
//! When the trust checks apply, the program is opened when it is checked and executed
//! through that descriptor (`/proc/self/fd/N`), not by its path again: what runs is the
//! file that was checked, even if the path is made to lead elsewhere in between.

mod capture;
mod prepare;
mod procfs;
mod run_guard;
mod signal;
mod spawn;

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::os::fd::AsFd;
use std::path::PathBuf;
use std::process::ExitStatus;
use std::time::Duration;

use self::capture::{Capped, Ended, STDERR_KEEP_BYTES, drive, head_of, read_into};
use self::prepare::{Prepared, prepare};
use self::run_guard::Run;
use self::signal::Ids;
use self::spawn::Spawn;
use super::ProbeError;

pub use self::run_guard::adopt_orphans;
pub use crate::config::defaults::DEFAULT_MAX_OUTPUT_BYTES;

/// The variable that carries a run's token into the environment of every process of the run.
/// It is how a process that left the group is told apart when two runs overlap; it is set
/// after the probe's own `env`, so a probe cannot take it over.
pub const RUN_VARIABLE: &str = "SSM_INVENTORYD_RUN";
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
        super::lane::run(move || prepare(&owned))
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
    let watch = run.watch();
    // The environment is cleared: PATH (the daemon's, or a fixed one), LANG, the probe's
    // own, then the run token, which a probe's `env` cannot take over.
    let mut env: BTreeMap<OsString, OsString> = BTreeMap::new();
    env.insert(
        "PATH".into(),
        std::env::var_os("PATH").unwrap_or_else(|| DEFAULT_PATH.into()),
    );
    if let Some(lang) = std::env::var_os("LANG") {
        env.insert("LANG".into(), lang);
    }
    env.extend(
        spec.env
            .iter()
            .map(|(name, value)| (name.into(), value.into())),
    );
    env.insert(RUN_VARIABLE.into(), run.token.clone().into());
    let env: Vec<(OsString, OsString)> = env.into_iter().collect();
    // A session of its own (so that stopping the run reaches every process it started: by
    // its group, by its session, and by the ancestry the run guard records), stdin from
    // /dev/null, the probe's user; see `spawn`.
    let started = Spawn {
        program: &prepared.program,
        checked: prepared.checked.as_ref().map(AsFd::as_fd),
        argv0: prepared.argv0.as_ref(),
        args: &prepared.args,
        env: &env,
        working_dir: spec.working_dir.as_deref(),
        run_as: prepared.run_as.as_ref(),
    };
    let child = run.spawn(&started).map_err(|source| ProbeError::Spawn {
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
        // While it runs, its processes are recorded, so that those that leave it are known.
        tokio::select! {
            ended = tokio::time::timeout(spec.timeout, drive(child, stdout_done, stderr_done)) => ended.ok(),
            never = watch.run() => match never {},
        }
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

fn describe(status: ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("exit status {code}"),
        (None, Some(signal)) => format!("signal {signal}"),
        _ => status.to_string(),
    }
}

#[cfg(test)]
mod tests;
