//! Runs an operator's program and reads its stdout as inventory.
//!
//! The program is untrusted input in every sense: it may hang, fork children that hold
//! stdout open, print gigabytes or garbage. So it runs in a process group of its own with
//! stdin from /dev/null and a cleared environment, its stdout is capped, and on timeout the
//! whole group gets SIGTERM and, after a short grace, SIGKILL.

use std::collections::BTreeMap;
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::process::Command;

use super::ProbeError;

/// Default cap on stdout; inventory of a few thousand rows is well under 1 MiB.
pub const DEFAULT_MAX_OUTPUT_BYTES: usize = 8 * 1024 * 1024;
/// Stderr kept for the log line when a run fails.
const STDERR_KEEP_BYTES: usize = 4 * 1024;
/// Time between SIGTERM and SIGKILL when a run is stopped.
const KILL_GRACE: Duration = Duration::from_secs(2);
/// How long children may keep stdout open after the program itself has exited.
const DRAIN_AFTER_EXIT: Duration = Duration::from_secs(1);
/// PATH for probes when the daemon itself has none (systemd gives services a fixed one).
const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// What an exec probe runs and how.
#[derive(Debug, Clone)]
pub struct ExecSpec {
    pub probe: String,
    pub command: Vec<String>,
    pub env: BTreeMap<String, String>,
    pub timeout: Duration,
    pub max_output_bytes: usize,
}

/// What a successful run printed.
#[derive(Debug)]
pub struct ExecOutput {
    pub stdout: Vec<u8>,
    pub stderr: String,
}

/// Runs the program once and returns its stdout; any failure names the probe.
pub async fn run(spec: &ExecSpec) -> Result<ExecOutput, ProbeError> {
    let probe = spec.probe.clone();
    let Some((program, args)) = spec.command.split_first() else {
        return Err(ProbeError::EmptyCommand { probe });
    };
    let mut command = Command::new(program);
    command
        .args(args)
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
        // A group of its own, so the timeout reaches every process the program started.
        .process_group(0)
        .kill_on_drop(true);

    let mut child = command.spawn().map_err(|source| ProbeError::Spawn {
        probe: probe.clone(),
        program: program.clone(),
        source,
    })?;
    // The pid is known until the child is reaped, and we have not awaited it yet.
    let group = child.id().map(|pid| pid as libc::pid_t);
    let (Some(stdout), Some(stderr)) = (child.stdout.take(), child.stderr.take()) else {
        kill_group(group, libc::SIGKILL);
        return Err(ProbeError::Spawn {
            probe,
            program: program.clone(),
            source: std::io::Error::other("stdout or stderr was not captured"),
        });
    };

    let collect = async {
        let stdout_task = read_capped(stdout, spec.max_output_bytes);
        let stderr_task = read_capped(stderr, STDERR_KEEP_BYTES);
        tokio::pin!(stdout_task, stderr_task);
        let status = child.wait().await;
        // The program is done; its children get a moment to finish writing, no more.
        let drained = tokio::time::timeout(DRAIN_AFTER_EXIT, async {
            tokio::join!(&mut stdout_task, &mut stderr_task)
        })
        .await;
        (status, drained)
    };
    let outcome = tokio::select! {
        biased;
        outcome = collect => Some(outcome),
        _ = tokio::time::sleep(spec.timeout) => None,
    };
    // Whatever happened, nothing from this run may outlive it.
    stop_group(group).await;

    let Some((status, drained)) = outcome else {
        return Err(ProbeError::Timeout {
            probe,
            timeout: spec.timeout,
        });
    };
    let status = status.map_err(|source| ProbeError::Wait {
        probe: probe.clone(),
        source,
    })?;
    let Ok((stdout, stderr)) = drained else {
        return Err(ProbeError::StdoutHeldOpen { probe });
    };
    let stderr = String::from_utf8_lossy(&stderr.bytes).trim().to_string();
    if stdout.truncated {
        return Err(ProbeError::OutputTooLarge {
            probe,
            limit: spec.max_output_bytes,
        });
    }
    if !status.success() {
        return Err(ProbeError::Exit {
            probe,
            status: describe(status),
            stderr,
        });
    }
    Ok(ExecOutput {
        stdout: stdout.bytes,
        stderr,
    })
}

struct Capped {
    bytes: Vec<u8>,
    truncated: bool,
}

/// Reads to the end, keeping at most `cap` bytes and draining the rest so the writer never
/// blocks on a full pipe.
async fn read_capped(mut reader: impl AsyncRead + Unpin, cap: usize) -> Capped {
    let mut bytes = Vec::new();
    let mut truncated = false;
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        match reader.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                let room = cap.saturating_sub(bytes.len());
                if n > room {
                    truncated = true;
                }
                bytes.extend_from_slice(&buf[..n.min(room)]);
            }
        }
    }
    Capped { bytes, truncated }
}

fn kill_group(group: Option<libc::pid_t>, signal: libc::c_int) -> bool {
    match group {
        // SAFETY: killpg only sends a signal; a group that no longer exists yields ESRCH.
        Some(pgid) if pgid > 0 => unsafe { libc::killpg(pgid, signal) == 0 },
        _ => false,
    }
}

/// SIGTERM to the group, then SIGKILL to whatever is left after the grace period.
async fn stop_group(group: Option<libc::pid_t>) {
    if !kill_group(group, libc::SIGTERM) {
        return; // nobody left in the group
    }
    let deadline = tokio::time::Instant::now() + KILL_GRACE;
    while tokio::time::Instant::now() < deadline {
        // Signal 0 asks whether any member is still there.
        if !kill_group(group, 0) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    kill_group(group, libc::SIGKILL);
}

fn describe(status: ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("exit status {code}"),
        (None, Some(signal)) => format!("signal {signal}"),
        _ => status.to_string(),
    }
}
