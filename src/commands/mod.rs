//! The subcommands behind the binary. Each returns a [`CommandError`] whose kind decides the
//! exit code, so `main` stays a thin shell around them.

pub mod collect;
#[cfg(feature = "emulator")]
pub mod demo;
#[cfg(feature = "emulator")]
pub mod emulator;
pub mod once;
pub mod reload;
pub mod run;
pub mod status;
pub mod validate;

use std::path::Path;

use crate::config::{ConfigError, Settings};

/// How a command failed. `Usage` and `Config` mean the operator must change something before
/// trying again (exit 2); `Runtime` means the attempt failed and may work later (exit 1).
#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    #[error("{0}")]
    Config(#[from] ConfigError),
    #[error("{0}")]
    Usage(String),
    #[error("{0}")]
    Runtime(String),
}

impl CommandError {
    pub fn exit_code(&self) -> u8 {
        match self {
            CommandError::Config(_) | CommandError::Usage(_) => 2,
            CommandError::Runtime(_) => 1,
        }
    }
}

/// Commands that run exec probes adopt what the probes detach, so that the end of each run
/// can stop it; see [`crate::probe::exec::adopt_orphans`].
fn adopt_probe_orphans() {
    if let Err(e) = crate::probe::exec::adopt_orphans() {
        tracing::warn!(
            "cannot adopt the processes probes detach ({e}); one that leaves its probe's process group may outlive the run"
        );
    }
}

/// Loads and validates the configuration from `path`, with the last good fleet parameters
/// in its state directory (what the daemon runs).
pub fn load_settings(path: &Path) -> Result<Settings, CommandError> {
    Ok(crate::fleet::load_with_stored(path)?)
}
