//! The configuration a node runs: its local files plus the last good version of each fleet
//! parameter in its state directory.
//!
//! Reading the store here, rather than handing the daemon the texts the poller fetched, makes
//! a reload and a restart read exactly the same thing.

use std::path::Path;

use super::store;
use crate::config::{self, ConfigError, FleetSource, Settings};

/// Local files + stored last good versions, validated together. Used on reload: an error
/// refuses the reload, the running configuration stays.
pub fn load(config_path: &Path) -> Result<Settings, ConfigError> {
    config::load_with(config_path, |agent| {
        store::sources(&agent.state_dir, &agent.fleet.parameters)
    })
}

/// Like [`load`], but a stored version that no longer passes together with the local files
/// (they changed while the daemon was stopped) is left out, with an error naming it, instead
/// of failing the start: the local files are the node's own and must always be able to run.
/// An error in the local files themselves still fails.
pub fn load_at_start(config_path: &Path) -> Result<Settings, ConfigError> {
    let mut left_out: Vec<String> = Vec::new();
    loop {
        let mut sources: Vec<FleetSource> = Vec::new();
        let result = config::load_with(config_path, |agent| {
            sources = store::sources(&agent.state_dir, &agent.fleet.parameters)
                .into_iter()
                .filter(|s| !left_out.contains(&s.name))
                .collect();
            sources.clone()
        });
        match result {
            Ok(settings) => return Ok(settings),
            Err(e) => match e.parameter() {
                Some((name, version)) if sources.iter().any(|s| s.name == name) => {
                    tracing::error!(
                        parameter = %name,
                        version,
                        "the stored version of parameter {name} no longer passes with the local configuration, so it is left out until a new version passes: {e}"
                    );
                    left_out.push(name.to_owned());
                }
                _ => return Err(e),
            },
        }
    }
}

/// The stored last good versions, each validated together with the local files (as the
/// daemon would run them), for `validate`.
pub fn check_stored(config_path: &Path) -> Result<Vec<FleetSource>, ConfigError> {
    let mut sources = Vec::new();
    config::load_with(config_path, |agent| {
        sources = store::sources(&agent.state_dir, &agent.fleet.parameters);
        sources.clone()
    })?;
    Ok(sources)
}
