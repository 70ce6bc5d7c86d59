//! The reload handshake between `ssm-inventoryd reload` (the unit's `ExecReload`) and the
//! running daemon.
//!
//! systemd considers a reload finished when `ExecReload` exits, and a plain `kill -HUP`
//! exits at once, before the daemon has read anything: `systemctl reload` would report
//! success for a configuration the daemon then refuses. So the command signals the daemon
//! and waits for its answer: after each reload the daemon writes [`Outcome`] to its runtime
//! directory, stamped with the monotonic time the reload began; the command waits for an
//! outcome of that process that began after its signal, and exits 0 only if it was applied.
//! systemd 253's `Type=notify-reload` does the same with a notification, but 252 is still
//! what many fleets run.
//!
//! `reload --fleet` extends the same handshake: before the signal, the command leaves
//! [`FLEET_REQUEST_FILE`] in the runtime directory; the daemon, on that SIGHUP, also fetches
//! its fleet parameters at once (a poll like any other, so it does not bypass the throttle
//! backoff) and writes a second outcome, marked `fleet`, once the new versions are applied or
//! refused. The command waits for that one. Outside systemd's `ExecReload` there is no
//! `$MAINPID`, so the daemon also leaves its process ID in [`PID_FILE`].

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// The file in the runtime directory (`RuntimeDirectory=` of the unit).
pub const OUTCOME_FILE: &str = "reload.json";
/// Left by `reload --fleet` for the daemon to find on the SIGHUP that follows.
pub const FLEET_REQUEST_FILE: &str = "fleet-request";
/// The running daemon's process ID, for a `reload` run without `$MAINPID`.
pub const PID_FILE: &str = "ssm-inventoryd.pid";

/// How the last reload ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Outcome {
    /// The daemon that reloaded, so an outcome left by an earlier process is not taken.
    pub pid: u32,
    /// `CLOCK_MONOTONIC` in nanoseconds when the reload began.
    pub started_ns: u64,
    pub applied: bool,
    /// What changed, or why the new configuration was refused.
    pub message: String,
    /// The answer to `reload --fleet`: the fleet parameters were fetched and their new
    /// versions applied (or refused). Absent in outcomes of older daemons.
    #[serde(default)]
    pub fleet: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum ReloadError {
    #[error("cannot signal ssm-inventoryd (pid {pid}): {source}")]
    Signal { pid: u32, source: std::io::Error },
    #[error("ssm-inventoryd (pid {pid}) ended before it answered the reload")]
    Gone { pid: u32 },
    #[error(
        "ssm-inventoryd (pid {pid}) did not answer the reload within {}; see its log",
        humantime::format_duration(*timeout)
    )]
    Timeout { pid: u32, timeout: Duration },
    #[error("reload refused, ssm-inventoryd keeps the running configuration: {0}")]
    Refused(String),
    #[error("cannot write {}: {source}", path.display())]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "cannot tell which process is ssm-inventoryd: no --pid (or $MAINPID), and {} cannot be read ({source}); is the daemon running?",
        path.display()
    )]
    NoPid {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{} does not hold a process ID: {text:?}", path.display())]
    BadPid { path: PathBuf, text: String },
}

/// `CLOCK_MONOTONIC` in nanoseconds: the same clock in every process of the machine, and
/// unaffected by the wall clock being set.
pub fn monotonic_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes one timespec; CLOCK_MONOTONIC always exists on Linux.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    u64::try_from(ts.tv_sec).unwrap_or(0) * 1_000_000_000 + u64::try_from(ts.tv_nsec).unwrap_or(0)
}

/// The daemon's side: records how a reload that began at `started_ns` ended. Written to a
/// temporary file and renamed, so the command never reads half of it.
pub fn record(dir: &Path, outcome: &Outcome) -> Result<(), ReloadError> {
    let path = dir.join(OUTCOME_FILE);
    let write = || -> std::io::Result<()> {
        let mut temp = tempfile::NamedTempFile::new_in(dir)?;
        serde_json::to_writer(&mut temp, outcome)?;
        temp.persist(&path).map_err(|e| e.error)?;
        Ok(())
    };
    write().map_err(|source| ReloadError::Write {
        path: path.clone(),
        source,
    })
}

/// The daemon's side: leaves its process ID in `dir` for a `reload` without `$MAINPID`.
pub fn write_pid(dir: &Path) -> Result<(), ReloadError> {
    let path = dir.join(PID_FILE);
    let write = || -> std::io::Result<()> {
        let mut temp = tempfile::NamedTempFile::new_in(dir)?;
        std::io::Write::write_all(&mut temp, format!("{}\n", std::process::id()).as_bytes())?;
        temp.persist(&path).map_err(|e| e.error)?;
        Ok(())
    };
    write().map_err(|source| ReloadError::Write {
        path: path.clone(),
        source,
    })
}

/// The command's side: the daemon's process ID as it left it in `dir`.
pub fn read_pid(dir: &Path) -> Result<u32, ReloadError> {
    let path = dir.join(PID_FILE);
    let text = std::fs::read_to_string(&path).map_err(|source| ReloadError::NoPid {
        path: path.clone(),
        source,
    })?;
    text.trim()
        .parse::<u32>()
        .map_err(|_| ReloadError::BadPid { path, text })
}

/// The daemon's side, on SIGHUP: whether `reload --fleet` asked for a fetch, taking the
/// request (so the next plain reload does not fetch again).
pub fn take_fleet_request(dir: &Path) -> bool {
    std::fs::remove_file(dir.join(FLEET_REQUEST_FILE)).is_ok()
}

/// The command's side: SIGHUP to `pid`, then wait for its outcome in `dir`.
pub fn request(pid: u32, dir: &Path, timeout: Duration) -> Result<Outcome, ReloadError> {
    signal_and_wait(pid, dir, timeout, false)
}

/// `reload --fleet`: asks `pid` to fetch its fleet parameters now, and waits until the new
/// versions are applied or refused.
pub fn request_fleet(pid: u32, dir: &Path, timeout: Duration) -> Result<Outcome, ReloadError> {
    let path = dir.join(FLEET_REQUEST_FILE);
    std::fs::write(&path, b"").map_err(|source| ReloadError::Write { path, source })?;
    signal_and_wait(pid, dir, timeout, true)
}

fn signal_and_wait(
    pid: u32,
    dir: &Path,
    timeout: Duration,
    fleet: bool,
) -> Result<Outcome, ReloadError> {
    let target = libc::pid_t::try_from(pid).map_err(|_| ReloadError::Gone { pid })?;
    let sent = monotonic_ns();
    // SAFETY: kill only sends a signal.
    if unsafe { libc::kill(target, libc::SIGHUP) } != 0 {
        return Err(ReloadError::Signal {
            pid,
            source: std::io::Error::last_os_error(),
        });
    }
    let deadline = std::time::Instant::now() + timeout;
    let path = dir.join(OUTCOME_FILE);
    loop {
        let answer = std::fs::read(&path)
            .ok()
            .and_then(|bytes| serde_json::from_slice::<Outcome>(&bytes).ok())
            .filter(|o| o.pid == pid && o.started_ns >= sent && o.fleet == fleet);
        if let Some(outcome) = answer {
            return if outcome.applied {
                Ok(outcome)
            } else {
                Err(ReloadError::Refused(outcome.message))
            };
        }
        // SAFETY: signal 0 only checks that the process exists.
        if unsafe { libc::kill(target, 0) } != 0
            && std::io::Error::last_os_error().raw_os_error() == Some(libc::ESRCH)
        {
            return Err(ReloadError::Gone { pid });
        }
        if std::time::Instant::now() >= deadline {
            return Err(ReloadError::Timeout { pid, timeout });
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[cfg(test)]
mod tests;
