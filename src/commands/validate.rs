//! `validate`: checks the configuration and probe definitions without running anything.
//!
//! The local files are checked together with the last good version of each fleet parameter
//! in the state directory, since that is what the daemon would run. With `--fleet`, the
//! parameters are also fetched (which needs the node's identity, credentials and endpoint,
//! like `once`) and their newest versions checked together with the local files, so an
//! operator can try a version on one node before the fleet polls it.

use std::path::Path;

use super::{CommandError, once::resolve_identity};
use crate::aws as client;
use crate::config::{self, FleetSource, ProbeKind, Settings};
use crate::fleet::fetch::{ParameterSource, SdkSource};
use crate::inventory::format_capture_time;

pub async fn run(config_path: &Path, fetch: bool) -> Result<(), CommandError> {
    let local = config::load_local(config_path)?;
    let stored_dir = local.agent.state_dir.clone();
    let stored = blocking(config_path, crate::fleet::check_stored).await?;
    let settings = config::load_with_fleet(config_path, &stored)?;
    summary(config_path, &settings, "");
    for name in &settings.agent.fleet.parameters {
        match crate::fleet::store::load(&stored_dir, name) {
            Ok(Some(s)) => println!(
                "parameter {name}: last good version {} (fetched {}) is valid",
                s.version,
                format_capture_time(s.fetched_at)
            ),
            Ok(None) => println!("parameter {name}: no version stored yet"),
            Err(e) => println!("{e}"),
        }
        if let Ok(Some(r)) = crate::fleet::store::load_refusal(&stored_dir, name) {
            println!(
                "parameter {name}: version {} was refused ({})",
                r.version, r.reason
            );
        }
    }
    if !fetch {
        return Ok(());
    }
    if settings.agent.fleet.parameters.is_empty() {
        return Err(CommandError::Usage(
            "--fleet: the configuration names no parameters (`[agent] fleet_config`)".into(),
        ));
    }
    let fetched = fetch_all(&settings).await?;
    let mut sources: Vec<FleetSource> = stored
        .into_iter()
        .filter(|s| !fetched.iter().any(|f| f.name == s.name))
        .collect();
    sources.extend(fetched.iter().cloned());
    let combined = config::load_with_fleet(config_path, &sources)?;
    let versions: Vec<String> = combined
        .parameters
        .iter()
        .map(|p| format!("{} version {}", p.name, p.version))
        .collect();
    summary(
        config_path,
        &combined,
        &format!(" with the newest parameters ({})", versions.join(", ")),
    );
    Ok(())
}

/// Fetches every parameter; any failure fails the command (exit 1) with one line each.
async fn fetch_all(settings: &Settings) -> Result<Vec<FleetSource>, CommandError> {
    let identity = resolve_identity(settings, None, true).await?;
    let client = client::connect(&client::ClientOptions::for_node(
        &settings.agent,
        &identity.region,
        &crate::identity::Sources::default(),
    ))
    .await
    .map_err(|e| CommandError::Runtime(e.to_string()))?;
    let source = SdkSource::new(client);
    let mut fetched = Vec::new();
    let mut errors = Vec::new();
    for name in &settings.agent.fleet.parameters {
        match source.get(name).await {
            Ok(f) => {
                println!(
                    "parameter {name}: fetched version {} ({})",
                    f.version, f.parameter_type
                );
                fetched.push(FleetSource {
                    name: f.name,
                    version: f.version,
                    text: f.text,
                });
            }
            Err(e) => errors.push(e.to_string()),
        }
    }
    if !errors.is_empty() {
        return Err(CommandError::Runtime(errors.join("\nerror: ")));
    }
    Ok(fetched)
}

async fn blocking<T: Send + 'static>(
    config_path: &Path,
    f: fn(&Path) -> Result<T, config::ConfigError>,
) -> Result<T, CommandError> {
    let path = config_path.to_owned();
    tokio::task::spawn_blocking(move || f(&path))
        .await
        .map_err(|e| CommandError::Runtime(format!("validation stopped unexpectedly: {e}")))?
        .map_err(CommandError::from)
}

fn summary(config_path: &Path, settings: &Settings, with: &str) {
    let count =
        |wanted: fn(&ProbeKind) -> bool| settings.probes.iter().filter(|p| wanted(&p.kind)).count();
    println!(
        "{}: valid{with}; {} probes ({} exec, {} files, {} system)",
        config_path.display(),
        settings.probes.len(),
        count(|k| matches!(k, ProbeKind::Exec(_))),
        count(|k| matches!(k, ProbeKind::Files(_))),
        count(|k| matches!(k, ProbeKind::System(_))),
    );
}
