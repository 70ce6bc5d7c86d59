//! `collect`: runs probes and prints their items, touching no state and no network. It is
//! the operator's tool for writing a probe: what it prints is what would be sent.

use std::io::Write;
use std::path::Path;

use super::{CommandError, load_settings};
use crate::probe::{self, Probe};

pub async fn run(config_path: &Path, only: Option<&str>) -> Result<(), CommandError> {
    let settings = load_settings(config_path)?;
    let probes = select(&settings, only)?;
    let mut stdout = std::io::stdout().lock();
    let mut failed = 0usize;
    for (name, outcome) in probe::collect_all(&probes).await {
        match outcome {
            Ok(items) => {
                for item in items {
                    // An item holds only strings; serialising it cannot fail.
                    let line = serde_json::to_string(&item).unwrap_or_default();
                    writeln!(stdout, "{line}").map_err(|e| {
                        CommandError::Runtime(format!("cannot write to stdout: {e}"))
                    })?;
                }
            }
            Err(e) => {
                failed += 1;
                tracing::error!(probe = %name, "{e}");
            }
        }
    }
    if failed > 0 {
        return Err(CommandError::Runtime(format!(
            "{failed} of {} probes failed; see the errors above",
            probes.len()
        )));
    }
    Ok(())
}

/// All probes, or the one named by `--probe`.
pub fn select(
    settings: &crate::config::Settings,
    only: Option<&str>,
) -> Result<Vec<Probe>, CommandError> {
    match only {
        None => Ok(settings.probes.iter().map(Probe::from_settings).collect()),
        Some(name) => settings
            .probe(name)
            .map(|p| vec![Probe::from_settings(p)])
            .ok_or_else(|| {
                let known: Vec<&str> = settings.probes.iter().map(|p| p.name.as_str()).collect();
                CommandError::Usage(format!(
                    "no probe named `{name}` in {}; probes: {}",
                    settings.config_path.display(),
                    if known.is_empty() {
                        "none".to_string()
                    } else {
                        known.join(", ")
                    }
                ))
            }),
    }
}
