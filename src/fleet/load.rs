//! The configuration a node runs: its local files plus the last good version of each fleet
//! parameter in its state directory.
//!
//! Reading the store here, rather than handing the daemon the texts the poller fetched, makes
//! a reload and a restart read exactly the same thing.
//!
//! The local files always run. A stored version that no longer passes with them (they changed
//! after it was fetched: a local probe now claims its TypeName, say) is left out, with an
//! error naming it and why, rather than failing the start or refusing the reload: the node's
//! own configuration must not be held hostage by a remote one, and the poller reports the
//! left-out version until a version that passes replaces it.

use std::path::Path;

use super::store;
use crate::config::{self, ConfigError, FleetSource, Settings};

/// A stored version left out because it no longer passes with the local files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeftOut {
    pub name: String,
    pub version: i64,
    /// The validation error, naming the parameter, its version and line, and what it clashes
    /// with.
    pub reason: String,
}

impl LeftOut {
    /// One line for the log, STATUS and `status`.
    pub fn line(&self) -> String {
        format!(
            "parameter {} version {} (the last good version) is left out until a version that passes is fetched: {}",
            self.name, self.version, self.reason
        )
    }
}

/// Local files + stored last good versions: what a node runs, at start and at each reload.
/// An error in the local files fails (the reload is refused, or the start fails); a stored
/// version that does not fit is left out and logged.
pub fn load_with_stored(config_path: &Path) -> Result<Settings, ConfigError> {
    load_with_held(config_path, &[])
}

/// [`load_with_stored`], with the versions in `held` (versions that passed but could not be
/// written to the store) in place of the stored version of the same parameter.
pub fn load_with_held(config_path: &Path, held: &[FleetSource]) -> Result<Settings, ConfigError> {
    let local = config::load_local(config_path)?;
    if local.agent.fleet.parameters.is_empty() {
        return Ok(local);
    }
    let names = &local.agent.fleet.parameters;
    let sources = store::with_held(store::sources(&local.agent.state_dir, names), held, names);
    let (settings, _, left_out) = fit(config_path, &sources)?;
    for l in left_out {
        tracing::error!(parameter = %l.name, version = l.version, "{}", l.line());
    }
    Ok(settings)
}

/// The configuration with as many of `sources` as fit, in order: each one an error blames is
/// left out and the rest tried again. Returns the settings, the sources kept and those left
/// out; fails only when the local files themselves do not pass.
pub fn fit(
    config_path: &Path,
    sources: &[FleetSource],
) -> Result<(Settings, Vec<FleetSource>, Vec<LeftOut>), ConfigError> {
    let mut kept: Vec<FleetSource> = sources.to_vec();
    let mut left_out: Vec<LeftOut> = Vec::new();
    loop {
        let error = match config::load_with_fleet(config_path, &kept) {
            Ok(settings) => return Ok((settings, kept, left_out)),
            Err(e) => e,
        };
        let Some((name, version)) = error.parameter() else {
            return Err(error);
        };
        if !kept.iter().any(|s| s.name == name) {
            return Err(error);
        }
        let name = name.to_owned();
        left_out.push(LeftOut {
            name: name.clone(),
            version,
            reason: error.to_string(),
        });
        kept.retain(|s| s.name != name);
    }
}

/// The stored last good versions, each validated together with the local files (as the
/// daemon would run them), for `validate`: unlike [`load_with_stored`], a version that does not fit is an
/// error, since the operator asked.
pub fn check_stored(config_path: &Path) -> Result<Vec<FleetSource>, ConfigError> {
    let mut sources = Vec::new();
    config::load_with(config_path, |agent| {
        sources = store::sources(&agent.state_dir, &agent.fleet.parameters);
        sources.clone()
    })?;
    Ok(sources)
}

#[cfg(test)]
mod tests;
