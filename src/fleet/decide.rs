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
    /// Versions that passed (and are in `applied`) but could not be written to the store,
    /// each with the error: the daemon holds them in memory and writes them again.
    pub unstored: Vec<Unstored>,
    /// Refusals that could not be written to the store, one line each: only `status` misses
    /// them, the poll reports them anyway.
    pub write_errors: Vec<String>,
    /// Stored versions that no longer fit the local files and are not run.
    pub left_out: Vec<LeftOut>,
}

/// A version that passed but could not be written to the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unstored {
    pub version: Stored,
    /// Why the write failed, in one line.
    pub error: String,
}

/// Tries each new version on top of the local files and what already passed; stores what
/// passes and records what does not. `held` are versions that passed at an earlier poll but
/// are not in the store yet: they count as stored. Blocking: reads the configuration and the
/// store.
pub fn decide(
    node: &Node,
    fetched: Vec<Fetched>,
    held: &[Stored],
    now: OffsetDateTime,
) -> Decision {
    let (mut stored, errors) = store::load_all(&node.state_dir, &node.parameters);
    for e in errors {
        tracing::warn!("{e}");
    }
    stored = node
        .parameters
        .iter()
        .filter_map(|name| {
            held.iter()
                .chain(&stored)
                .find(|s| &s.name == name)
                .cloned()
        })
        .collect();
    let stored_sources: Vec<FleetSource> = stored.iter().map(Stored::source).collect();
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
        if let Err(e) = store::save(&node.state_dir, &record) {
            decision.unstored.push(Unstored {
                version: record,
                error: e.write_line(&node.state_dir),
            });
        }
        decision.applied.push(ParameterVersion {
            name: f.name,
            version: f.version,
        });
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
            decision.write_errors.push(e.to_string());
        }
    }
    decision
}
