//! What one poll changes: each new version is tried on its own on top of the local files and
//! what already passed, in `fleet_config` order; what passes is stored as the last good
//! version, what fails is recorded as refused. Blocking (it reads the configuration files and
//! the store), so the poller runs it off the async threads.

use std::path::PathBuf;

use time::OffsetDateTime;

use super::fetch::Fetched;
use super::load::{LeftOut, fit};
use super::store::{self, Refusal, Stored};
use crate::config::{self, FleetSource, ParameterVersion};

/// What deciding needs to know about the node: where its configuration and its store are, and
/// which parameters it uses. Its own type, so that deciding depends on nothing of the poller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    /// The main configuration file, read again for each validation.
    pub config_path: PathBuf,
    pub state_dir: PathBuf,
    /// `[agent] fleet_config`, in order.
    pub parameters: Vec<String>,
}

/// The outcome of one poll.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Decision {
    pub applied: Vec<ParameterVersion>,
    pub refused: Vec<Refusal>,
    /// Store writes that failed: the version is not applied, and tried again next poll.
    pub store_errors: Vec<(String, String)>,
    /// Stored versions that no longer fit the local files and are not run.
    pub left_out: Vec<LeftOut>,
}

/// Tries each new version on top of the local files and what already passed; stores what
/// passes and records what does not. Blocking: reads the configuration and the store.
pub fn decide(node: &Node, fetched: Vec<Fetched>, now: OffsetDateTime) -> Decision {
    let (stored, errors) = store::load_all(&node.state_dir, &node.parameters);
    for e in errors {
        tracing::warn!("{e}");
    }
    let stored_sources: Vec<FleetSource> = stored
        .iter()
        .map(|s| FleetSource {
            name: s.name.clone(),
            version: s.version,
            text: s.text.clone(),
        })
        .collect();
    let mut decision = Decision::default();
    // What the daemon runs now: the stored versions that fit the local files. When the local
    // files themselves fail, every candidate fails with their error, which is the news.
    let mut base = match fit(&node.config_path, &stored_sources) {
        Ok((_, kept, left_out)) => {
            decision.left_out = left_out;
            kept
        }
        Err(_) => stored_sources,
    };
    let mut passed: Vec<Fetched> = Vec::new();
    for f in fetched {
        if stored
            .iter()
            .any(|s| s.name == f.name && s.version == f.version)
        {
            continue;
        }
        let mut trial: Vec<FleetSource> =
            base.iter().filter(|s| s.name != f.name).cloned().collect();
        trial.push(FleetSource {
            name: f.name.clone(),
            version: f.version,
            text: f.text.clone(),
        });
        match config::load_with_fleet(&node.config_path, &trial) {
            Ok(_) => {
                base = trial;
                passed.push(f);
            }
            Err(e) => decision.refused.push(Refusal {
                running: base.iter().find(|s| s.name == f.name).map(|s| s.version),
                name: f.name,
                version: f.version,
                reason: e.to_string(),
                at: now,
            }),
        }
    }
    for f in passed {
        let record = Stored {
            name: f.name.clone(),
            version: f.version,
            text: f.text,
            parameter_type: f.parameter_type,
            fetched_at: now,
        };
        match store::save(&node.state_dir, &record) {
            Ok(()) => decision.applied.push(ParameterVersion {
                name: f.name,
                version: f.version,
            }),
            Err(e) => decision.store_errors.push((f.name, e.to_string())),
        }
    }
    for refusal in &decision.refused {
        let unchanged = matches!(
            store::load_refusal(&node.state_dir, &refusal.name),
            Ok(Some(r)) if r.version == refusal.version && r.reason == refusal.reason
        );
        if unchanged {
            continue;
        }
        if let Err(e) = store::save_refusal(&node.state_dir, refusal) {
            tracing::warn!("{e}");
        }
    }
    decision
}
