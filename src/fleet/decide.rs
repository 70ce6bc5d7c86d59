//! What one poll changes: each new version is tried on its own on top of the local files and
//! what already passed, in `fleet_config` order; what passes is stored as the last good
//! version, what fails is recorded as refused. Blocking (it reads the configuration files and
//! the store), so the poller runs it off the async threads.

use time::OffsetDateTime;

use super::LeftOut;
use super::fetch::Fetched;
use super::poll::PollOptions;
use super::store::{self, Refused, Stored};
use crate::config::{self, FleetSource, ParameterVersion};

/// A version that did not pass.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub name: String,
    pub version: i64,
    /// The validation error, naming the parameter, its version and line.
    pub reason: String,
    /// The version of the same parameter that runs instead, if one ever passed.
    pub running: Option<i64>,
}

impl Refusal {
    /// One line for the log, STATUS and `status`.
    pub fn line(&self) -> String {
        let instead = match self.running {
            Some(v) => format!("version {v} keeps running"),
            None => "no version of it has passed, so none of its probes run".to_owned(),
        };
        format!(
            "parameter {} version {} refused ({instead}): {}",
            self.name, self.version, self.reason
        )
    }
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
pub fn decide(options: &PollOptions, fetched: Vec<Fetched>, now: OffsetDateTime) -> Decision {
    let (stored, errors) = store::load_all(&options.state_dir, &options.parameters);
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
    let mut base = match super::fit(&options.config_path, &stored_sources) {
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
        match config::load_with_fleet(&options.config_path, &trial) {
            Ok(_) => {
                base = trial;
                passed.push(f);
            }
            Err(e) => decision.refused.push(Refusal {
                running: base.iter().find(|s| s.name == f.name).map(|s| s.version),
                name: f.name,
                version: f.version,
                reason: e.to_string(),
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
        match store::save(&options.state_dir, &record) {
            Ok(()) => decision.applied.push(ParameterVersion {
                name: f.name,
                version: f.version,
            }),
            Err(e) => decision.store_errors.push((f.name, e.to_string())),
        }
    }
    for Refusal {
        name,
        version,
        reason,
        ..
    } in &decision.refused
    {
        let unchanged = matches!(
            store::load_refusal(&options.state_dir, name),
            Ok(Some(r)) if r.version == *version && &r.reason == reason
        );
        if unchanged {
            continue;
        }
        let refused = Refused {
            name: name.clone(),
            version: *version,
            reason: reason.clone(),
            at: now,
        };
        if let Err(e) = store::save_refusal(&options.state_dir, &refused) {
            tracing::warn!("{e}");
        }
    }
    decision
}
