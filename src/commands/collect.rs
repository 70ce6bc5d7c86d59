//! `collect`: runs probes and prints their items, touching no state and no network. It is
//! the operator's tool for writing a probe: what it prints is what would be sent.

use std::io::Write;
use std::path::Path;

use super::{CommandError, load_settings};
use crate::config::Settings;
use crate::daemon::allocator;
use crate::identity;
use crate::probe::{self, CollectContext, Probe, RunLimiter};

pub async fn run(config_path: &Path, only: Option<&str>) -> Result<(), CommandError> {
    super::adopt_probe_orphans();
    let settings = load_settings(config_path)?;
    let probes = select(&settings, only)?;
    let ctx = context(&settings, &probes).await;
    let limiter = RunLimiter::from_settings(&settings.agent);
    // As in the daemon: each run's freed memory handed back once its items are printed
    // (one malloc arena, set in `main`), so that runs taking turns reuse memory rather than
    // add up.
    let mut stdout = std::io::stdout().lock();
    let mut failed = 0usize;
    let mut partial = 0usize;
    let mut write_error = None;
    // Each probe's items are printed and let go as soon as it and those before it are done,
    // and count in the limiter's budget until then (a probe that finished ahead of its turn
    // included), so that the process holds what the budget allows, not every probe's items.
    probe::collect_each(
        &probes,
        &ctx,
        &limiter,
        true,
        |name, outcome| match outcome {
            Ok(collection) => {
                for item in collection.items {
                    if write_error.is_some() {
                        break;
                    }
                    // An item holds only strings; serialising it cannot fail.
                    let line = serde_json::to_string(&item).unwrap_or_default();
                    if let Err(e) = writeln!(stdout, "{line}") {
                        write_error = Some(e);
                    }
                }
                if !collection.errors.is_empty() {
                    partial += 1;
                }
                for e in collection.errors {
                    tracing::error!(probe = %name, "{e}");
                }
                allocator::release_freed();
            }
            Err(e) => {
                failed += 1;
                tracing::error!(probe = %name, "{e}");
                allocator::release_freed();
            }
        },
    )
    .await;
    if let Some(e) = write_error {
        return Err(CommandError::Runtime(format!(
            "cannot write to stdout: {e}"
        )));
    }
    if failed + partial > 0 {
        return Err(CommandError::Runtime(format!(
            "{failed} of {} probes failed and {partial} had partial errors; see the errors above",
            probes.len()
        )));
    }
    Ok(())
}

/// The instance ID, looked up only when a probe's folder is named after it: the configured
/// one, else the SSM Agent's registration or instance metadata, as `once` finds it. A
/// failed lookup is logged; the probes that need it then report that they lack it.
async fn context(settings: &Settings, probes: &[Probe]) -> CollectContext {
    if !probes.iter().any(Probe::needs_instance_id) {
        return CollectContext::default();
    }
    // Only the instance ID is wanted here; any region stops the lookup from asking for one.
    let region = settings.agent.region.as_deref().or(Some("us-east-1"));
    match identity::resolve(
        settings.agent.instance_id.as_deref(),
        region,
        &identity::Sources::default(),
    )
    .await
    {
        Ok(identity) => CollectContext::with_instance_id(identity.instance_id),
        Err(e) => {
            tracing::warn!("{e}");
            CollectContext::default()
        }
    }
}

/// All probes, or the one named by `--probe`.
pub fn select(settings: &Settings, only: Option<&str>) -> Result<Vec<Probe>, CommandError> {
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
