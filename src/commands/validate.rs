//! `validate`: checks the configuration and probe definitions without running anything.
//!
//! The local files are checked together with the last good version of each fleet parameter
//! in the state directory, since that is what the daemon would run. With `--fleet`, the
//! parameters are also fetched (which needs the node's identity, credentials and endpoint,
//! like `once`) and their newest versions checked together with the local files, so an
//! operator can try a version on one node before the fleet polls it. That fetch is one try: a
//! throttled one fails with one line rather than adding to the account's shared read budget.

use std::path::Path;

use super::{CommandError, once::resolve_identity};
use crate::aws as client;
use crate::config::{self, FleetSettings, FleetSource, ProbeKind, Settings};
use crate::fleet::fetch::{self, FetchError, SdkSource};
use crate::inventory::format_capture_time;

pub async fn run(config_path: &Path, fetch: bool) -> Result<(), CommandError> {
    let local = config::load_local(config_path)?;
    let stored_dir = local.agent.state_dir.clone();
    let stored = blocking(config_path, crate::fleet::check_stored).await?;
    let settings = config::load_with_fleet(config_path, &stored)?;
    summary(config_path, &settings, "");
    read_rate(&settings);
    memory(&settings);
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
    let answers = fetch::fetch_all(&source, &settings.agent.fleet.parameters).await;
    if let Some(line) = throttled_line(&answers) {
        return Err(CommandError::Runtime(line));
    }
    for (name, answer) in answers {
        match answer {
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

/// With `fleet_size_hint`, the fleet's expected Parameter Store read rate, and one warning
/// line when it is over the fleet's share of the account's budget.
fn read_rate(settings: &Settings) {
    let fleet = &settings.agent.fleet;
    let Some(rate) = fleet.expected_read_rate() else {
        return;
    };
    let calls = crate::fleet::fetch::calls_per_poll(fleet.parameters.len());
    let what = format!(
        "{} nodes × {calls} GetParameters call{} every {}",
        fleet.size_hint,
        if calls == 1 { "" } else { "s" },
        humantime::format_duration(fleet.poll_interval)
    );
    println!("fleet: {what} make {rate:.1} calls a second");
    let budget = FleetSettings::read_budget();
    if rate > budget {
        let needed = (fleet.size_hint as f64 * calls as f64 / budget).ceil() as u64;
        eprintln!(
            "warning: fleet: {what} make {rate:.1} Parameter Store reads a second, over the \
             fleet's budget of {budget} (a quarter of the account's {} a second, shared with \
             every application that reads parameters); make fleet_poll_interval at least {}",
            crate::config::defaults::PARAMETER_STORE_READ_TPS,
            humantime::format_duration(std::time::Duration::from_secs(needed))
        );
    }
}

/// One warning line when the configuration's worst case (the daemon's baseline, the probe
/// budget times its measured peak per byte, a push of `max_request_bytes` times its measured
/// peak per byte) is over the unit's `MemoryMax`.
fn memory(settings: &Settings) {
    use crate::config::defaults::{
        DAEMON_BASELINE_BYTES, PEAK_PER_OUTPUT_BYTE, PUSH_PEAK_PER_REQUEST_BYTE, UNIT_MEMORY_MAX,
    };
    let agent = &settings.agent;
    let worst = agent.worst_case_bytes();
    if worst > UNIT_MEMORY_MAX {
        const MIB: usize = 1024 * 1024;
        let push = agent
            .max_request_bytes
            .saturating_mul(PUSH_PEAK_PER_REQUEST_BYTE);
        let room = UNIT_MEMORY_MAX
            .saturating_sub(DAEMON_BASELINE_BYTES)
            .saturating_sub(push)
            / PEAK_PER_OUTPUT_BYTE;
        eprintln!(
            "warning: memory: probe_output_budget {} bytes × {PEAK_PER_OUTPUT_BYTE} (peak per byte \
             of it) + max_request_bytes {} × {PUSH_PEAK_PER_REQUEST_BYTE} (a push's peak) + {} MiB \
             (the daemon's own) = {} MiB, over the unit's MemoryMax of {} MiB: the kernel would \
             stop the service; lower probe_output_budget to at most {room} bytes (or \
             max_request_bytes) or raise MemoryMax",
            agent.probe_output_budget,
            agent.max_request_bytes,
            DAEMON_BASELINE_BYTES / MIB,
            worst.div_ceil(MIB),
            UNIT_MEMORY_MAX / MIB,
        );
    }
}

/// One line for a fetch Parameter Store throttled (or failed with a 5xx): it is not tried
/// again, since its read budget is shared with every application of the account.
fn throttled_line(answers: &[(String, Result<fetch::Fetched, FetchError>)]) -> Option<String> {
    let busy: Vec<(&str, &FetchError)> = answers
        .iter()
        .filter_map(|(name, answer)| match answer {
            Err(e) if e.is_busy() => Some((name.as_str(), e)),
            _ => None,
        })
        .collect();
    let (_, first) = busy.first()?;
    let FetchError::Busy { detail, .. } = first else {
        return None;
    };
    let names: Vec<&str> = busy.iter().map(|(name, _)| *name).collect();
    Some(format!(
        "Parameter Store did not answer the read of {} ({detail}); not tried again, since its read \
         throughput is shared with every application of the account: try again in a minute",
        names.join(", ")
    ))
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
