//! `reload`: asks the running daemon to re-read its configuration and waits until it has,
//! so that `systemctl reload` (the unit's `ExecReload`) finishes when the reload did, and
//! fails when the new configuration was refused. With `--fleet`, the daemon also fetches its
//! fleet parameters at once, and the command waits until their new versions are applied or
//! refused: what the ApplyFleetConfig Command document runs. See [`crate::reload`].

use std::path::Path;
use std::time::Duration;

use super::CommandError;
use crate::reload;

/// `pid` is the daemon's (systemd's `$MAINPID`); without it, the one the daemon left in
/// `runtime_dir`.
pub fn run(
    pid: Option<u32>,
    runtime_dir: &Path,
    timeout: Duration,
    fleet: bool,
) -> Result<(), CommandError> {
    let pid = match pid {
        Some(pid) => pid,
        None => reload::read_pid(runtime_dir).map_err(|e| CommandError::Runtime(e.to_string()))?,
    };
    let answer = if fleet {
        reload::request_fleet(pid, runtime_dir, timeout)
    } else {
        reload::request(pid, runtime_dir, timeout)
    };
    match answer {
        Ok(outcome) => {
            println!("{}", outcome.message);
            Ok(())
        }
        Err(e) => Err(CommandError::Runtime(e.to_string())),
    }
}
