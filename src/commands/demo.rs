//! `demo`: the quick start. The example configuration, embedded in the binary, is pushed
//! twice to an in-process emulator through the real SDK path (SigV4, HTTP, the sender), so a
//! newcomer sees what the daemon does without an AWS account, root or network: the first
//! cycle stores every item, the second sends nothing because nothing changed.

use std::os::unix::fs::PermissionsExt;

use tokio_util::sync::CancellationToken;

use super::CommandError;
use super::collect::select;
use crate::aws as client;
use crate::config;
use crate::cycle::{self, PushOptions, PushReport};
use crate::emulator::{DEMO_ACCESS_KEY_ID, DEMO_SECRET_ACCESS_KEY, Emulator, EmulatorConfig};
use crate::sender::RetryPolicy;
use crate::state::State;

/// Instance ID and region the demo pretends to be.
pub const DEMO_INSTANCE_ID: &str = "i-0123456789abcdef0";
pub const DEMO_REGION: &str = "us-east-1";

/// The example configuration shipped in `config/`, so `demo` works from any directory.
const EXAMPLE_FILES: &[(&str, &str)] = &[
    (
        "ssm-inventoryd.toml",
        include_str!("../../config/ssm-inventoryd.toml"),
    ),
    (
        "probes.d/kernel.toml",
        include_str!("../../config/probes.d/kernel.toml"),
    ),
    (
        "probes.d/shells.toml",
        include_str!("../../config/probes.d/shells.toml"),
    ),
    (
        "probes.d/stage.toml",
        include_str!("../../config/probes.d/stage.toml"),
    ),
    (
        "probes.d/system.toml",
        include_str!("../../config/probes.d/system.toml"),
    ),
    (
        "probes.d/files.toml",
        include_str!("../../config/probes.d/files.toml"),
    ),
];

fn runtime_error(what: &str) -> impl FnOnce(std::io::Error) -> CommandError + '_ {
    move |e| CommandError::Runtime(format!("demo: {what}: {e}"))
}

pub async fn run() -> Result<(), CommandError> {
    super::adopt_probe_orphans();
    let workdir = tempfile::Builder::new()
        .prefix("ssm-inventoryd-demo-")
        .tempdir()
        .map_err(runtime_error("cannot create a temporary directory"))?;
    let config_dir = workdir.path().join("config");
    // Explicit modes, whatever the caller's umask: run as root, the trust check refuses
    // configuration that group or others could write.
    let write = |path: &std::path::Path, text: &str| -> std::io::Result<()> {
        use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
        if let Some(parent) = path.parent() {
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o755)
                .create(parent)?;
            std::fs::set_permissions(parent, std::fs::Permissions::from_mode(0o755))?;
        }
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o644)
            .open(path)?;
        std::io::Write::write_all(&mut file, text.as_bytes())?;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o644))
    };
    std::fs::set_permissions(workdir.path(), std::fs::Permissions::from_mode(0o700))
        .map_err(runtime_error("cannot secure the temporary directory"))?;
    for (name, text) in EXAMPLE_FILES {
        write(&config_dir.join(name), text)
            .map_err(runtime_error("cannot write the example configuration"))?;
    }
    let mut settings = config::load_local(&config_dir.join("ssm-inventoryd.toml"))?;
    settings.agent.state_dir = workdir.path().join("state");
    let probes = select(&settings, None)?;

    let emulator = Emulator::start(EmulatorConfig::default())
        .await
        .map_err(|e| CommandError::Runtime(format!("demo: cannot start the emulator: {e}")))?;
    let client = client::build(&client::ClientOptions {
        region: DEMO_REGION.into(),
        endpoint_url: Some(emulator.endpoint_url()),
        static_credentials: Some((DEMO_ACCESS_KEY_ID.into(), DEMO_SECRET_ACCESS_KEY.into())),
        ..client::ClientOptions::default()
    })
    .await;
    let retry = RetryPolicy {
        base: RetryPolicy::DEFAULT_BASE,
        cap: std::time::Duration::from_secs(2),
        max_attempts: Some(3),
    };
    let options = PushOptions::new(&settings.agent, DEMO_INSTANCE_ID, retry);

    println!(
        "ssm-inventoryd demo: the example configuration pushed to a local PutInventory emulator"
    );
    println!(
        "  emulator  {} (requests are SigV4-verified with the demo keys; no AWS account is used)",
        emulator.endpoint_url()
    );
    println!(
        "  node      {DEMO_INSTANCE_ID} in {DEMO_REGION}, state in {}",
        settings.agent.state_dir.display()
    );
    println!(
        "  probes    {}",
        probes
            .iter()
            .map(|p| p.name())
            .collect::<Vec<_>>()
            .join(", ")
    );
    println!();

    let mut state = State::default();
    let cancel = CancellationToken::new();
    let mut cycles: Vec<(usize, PushReport, u64, u64)> = Vec::new();
    let mut problems: Vec<String> = Vec::new();
    for number in 1..=2 {
        let before = emulator.stats();
        let collected = cycle::collect(&probes).await;
        problems.extend(collected.errors.iter().cloned());
        let report = cycle::push(
            &client,
            &collected,
            &mut state,
            &settings.agent.state_dir,
            &options,
            time::OffsetDateTime::now_utc(),
            &cancel,
        )
        .await;
        let after = emulator.stats();
        let requests = after.put_inventory_requests - before.put_inventory_requests;
        let bytes = after.request_body_bytes - before.request_body_bytes;
        println!(
            "cycle {number}: {} items collected; {} sent in full, {} unchanged and skipped; the emulator received {requests} request{} ({bytes} bytes)",
            collected.items.len(),
            report.sent_full.len(),
            report.skipped.len(),
            if requests == 1 { "" } else { "s" },
        );
        if !report.complete() {
            problems.push(format!("cycle {number} did not complete: {report:?}"));
        }
        cycles.push((collected.items.len(), report, requests, bytes));
    }

    println!();
    println!("stored in the emulator for {DEMO_INSTANCE_ID}:");
    let mut type_names: Vec<String> = cycles[0].1.sent_full.clone();
    type_names.sort();
    for type_name in &type_names {
        match emulator.stored(DEMO_INSTANCE_ID, type_name) {
            Some(stored) => println!(
                "  {type_name:<24} {:>3} row{}  SchemaVersion {}  ContentHash {}",
                stored.content.len(),
                if stored.content.len() == 1 { " " } else { "s" },
                stored.schema_version,
                stored.content_hash.as_deref().unwrap_or("-"),
            ),
            None => problems.push(format!(
                "{type_name} was acknowledged but the emulator does not hold it"
            )),
        }
    }
    emulator.shutdown().await;

    let (collected_second, second, second_requests, _) = &cycles[1];
    if *second_requests == 0 && second.skipped.len() == *collected_second && problems.is_empty() {
        println!();
        println!(
            "The second cycle sent nothing: all {} items matched the ContentHash the service had acknowledged.",
            second.skipped.len()
        );
        Ok(())
    } else {
        if *second_requests > 0 {
            problems.push(format!(
                "the second cycle sent {second_requests} requests although nothing changed"
            ));
        }
        Err(CommandError::Runtime(format!(
            "demo: {}",
            problems.join("; ")
        )))
    }
}
