//! `reload`: asks the running daemon to re-read its configuration and waits until it has,
//! so that `systemctl reload` (the unit's `ExecReload`) finishes when the reload did, and
//! fails when the new configuration was refused. See [`crate::reload`].

use std::path::Path;
use std::time::Duration;

use super::CommandError;
use crate::reload;

pub fn run(pid: u32, runtime_dir: &Path, timeout: Duration) -> Result<(), CommandError> {
    match reload::request(pid, runtime_dir, timeout) {
        Ok(outcome) => {
            println!("{}", outcome.message);
            Ok(())
        }
        Err(e) => Err(CommandError::Runtime(e.to_string())),
    }
}
