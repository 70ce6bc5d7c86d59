//! `once`: one collect-and-push cycle. With `--dry-run` the planned requests are printed
//! instead of sent, touching no state and no network.

use std::io::Write;
use std::path::Path;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::{CommandError, collect::select, load_settings};
use crate::aws as client;
use crate::batch::{self, Budget};
use crate::config::Settings;
use crate::cycle::{self, Collected, PushOptions, PushReport};
use crate::identity::{self, Identity};
use crate::inventory::Item;
use crate::plan::Intervals;
use crate::plan::push::{Policy, PushPlan};
use crate::probe::{CollectContext, RunLimiter};
use crate::resident;
use crate::sender::RetryPolicy;
use crate::state::{self, State};
use crate::wire::{self, Payload};

pub struct OnceOptions<'a> {
    pub dry_run: bool,
    pub force: bool,
    pub instance_id: Option<&'a str>,
}

/// A one-shot run gives up on transient failures after this many attempts per request.
const ONCE_ATTEMPTS: u32 = 5;
/// …and waits at most this long between two of them.
const ONCE_BACKOFF_CAP: Duration = Duration::from_secs(10);

pub async fn run(config_path: &Path, options: OnceOptions<'_>) -> Result<(), CommandError> {
    super::adopt_probe_orphans();
    let settings = load_settings(config_path)?;
    let identity = resolve_identity(&settings, options.instance_id, !options.dry_run).await?;
    let probes = select(&settings, None)?;
    let state = state::load_logged(&settings.agent.state_dir).await;
    let collected = cycle::collect_with(
        &probes,
        &CollectContext::with_instance_id(identity.instance_id.clone()),
        &RunLimiter::from_settings(&settings.agent),
    )
    .await;
    for error in &collected.errors {
        tracing::error!("{error}");
    }

    if options.dry_run {
        return dry_run(&settings, &identity, &state, &collected, options.force);
    }

    // The start and the collection ran code that the push will not run again, and the push
    // faults in code of its own on top of the collected content: given back first, the peak
    // is the larger of the two, not their sum (BENCHMARKS.md, "`once` giving back the code
    // that ran").
    give_back_code("collection").await;

    let client = client::connect(&client::ClientOptions::for_node(
        &settings.agent,
        &identity.region,
        &identity::Sources::default(),
    ))
    .await
    .map_err(|e| CommandError::Runtime(e.to_string()))?;
    let retry = RetryPolicy::of(&settings.agent)
        .capped(ONCE_BACKOFF_CAP)
        .at_most(ONCE_ATTEMPTS);
    let push_options = PushOptions {
        force: options.force,
        ..PushOptions::new(&settings.agent, &identity.instance_id, retry)
    };
    let mut state = state;
    let report = cycle::push(
        &client,
        &collected,
        &mut state,
        &settings.agent.state_dir,
        &push_options,
        time::OffsetDateTime::now_utc(),
        &CancellationToken::new(),
    )
    .await;
    // Likewise for what runs after the push: the summary, dropping the client and the
    // runtime, the exit.
    give_back_code("push").await;
    print_summary(&identity, &collected, &report);
    if collected.errors.is_empty() && report.complete() {
        Ok(())
    } else {
        Err(CommandError::Runtime(failure_summary(&collected, &report)))
    }
}

/// Takes the binary's clean pages out of the resident set (`resident`), off the runtime's
/// thread since it reads /proc.
async fn give_back_code(after: &str) {
    if let Ok(bytes) = tokio::task::spawn_blocking(resident::unmap_clean_binary_pages).await {
        tracing::debug!(bytes, "after the {after}: the binary's pages given back");
    }
}

/// The node's identity, with `--instance-id` over the configured or discovered one. Not
/// knowing who we are is a configuration problem (exit 2).
pub async fn resolve_identity(
    settings: &Settings,
    override_id: Option<&str>,
    need_region: bool,
) -> Result<Identity, CommandError> {
    let instance_id = override_id.or(settings.agent.instance_id.as_deref());
    let resolved = identity::resolve(
        instance_id,
        settings.agent.region.as_deref(),
        &identity::Sources::default(),
    )
    .await;
    match resolved {
        Ok(identity) => Ok(identity),
        // A dry run calls nothing, so only the instance ID (which goes into the body) matters.
        Err(identity::IdentityError::NoRegion { instance_id, .. }) if !need_region => {
            Ok(Identity {
                instance_id,
                region: "region unknown".into(),
                source: "configuration".into(),
            })
        }
        Err(e) => Err(CommandError::Usage(e.to_string())),
    }
}

fn dry_run(
    settings: &Settings,
    identity: &Identity,
    state: &State,
    collected: &Collected,
    force: bool,
) -> Result<(), CommandError> {
    let acknowledged = state
        .instance(&identity.instance_id)
        .cloned()
        .unwrap_or_default();
    let policy = Policy {
        intervals: Intervals::of(&settings.agent),
        on_removed: settings.agent.on_removed,
        force,
    };
    let plan = PushPlan::new(
        collected,
        &acknowledged,
        policy,
        time::OffsetDateTime::now_utc(),
    );
    // What probes produce now; a dry run's items are fresh and always have their content.
    let planned: Vec<(&Item, Payload)> = plan.send.iter().map(|o| (o.item, o.payload)).collect();
    let sizes: Vec<batch::Sized<'_>> = planned
        .iter()
        .map(|&(item, payload)| batch::Sized {
            bytes: wire::item_bytes(item, payload),
            key: item.type_name(),
        })
        .collect();
    let budget = Budget::new(settings.agent.max_request_bytes);
    let requests = batch::pack(
        &sizes,
        wire::request_overhead(&identity.instance_id),
        budget,
    );
    let mut stdout = std::io::stdout().lock();
    for request in &requests {
        if request.oversized {
            tracing::warn!(
                type_name = planned[request.items[0]].0.type_name(),
                bytes = request.bytes,
                max_request_bytes = budget.max_bytes,
                "item alone is over max_request_bytes; it would be sent by itself"
            );
        }
        let members: Vec<(&Item, Payload)> = request.items.iter().map(|&i| planned[i]).collect();
        let body = wire::request_body(&identity.instance_id, &members);
        stdout
            .write_all(&body)
            .and_then(|()| stdout.write_all(b"\n"))
            .map_err(|e| CommandError::Runtime(format!("cannot write to stdout: {e}")))?;
    }
    tracing::info!(
        instance_id = %identity.instance_id,
        items = collected.items.len(),
        to_send = planned.len(),
        requests = requests.len(),
        bytes = requests.iter().map(|r| r.bytes).sum::<usize>(),
        "dry run: nothing was sent"
    );
    if collected.errors.is_empty() {
        Ok(())
    } else {
        Err(CommandError::Runtime(format!(
            "{} probe errors; their items are missing from the requests above",
            collected.errors.len()
        )))
    }
}

fn print_summary(identity: &Identity, collected: &Collected, report: &PushReport) {
    println!(
        "{} ({}, {}): {} items collected; {} sent in full, {} refreshed by hash, {} unchanged, {} cleared; {} requests, {} bytes",
        identity.instance_id,
        identity.region,
        identity.source,
        collected.items.len(),
        report.sent_full.len(),
        report.sent_hash_only.len(),
        report.skipped.len(),
        report.cleared.len(),
        report.requests,
        report.bytes,
    );
}

fn failure_summary(collected: &Collected, report: &PushReport) -> String {
    let mut parts: Vec<String> = Vec::new();
    if let Some(reason) = &report.instance_invalid {
        parts.push(reason.clone());
    }
    parts.extend(collected.errors.iter().cloned());
    parts.extend(
        report
            .quarantined
            .iter()
            .map(|(t, reason)| format!("{t} was refused and quarantined: {reason}")),
    );
    parts.extend(
        report
            .still_quarantined
            .iter()
            .map(|t| format!("{t} is quarantined (see `status`)")),
    );
    // Items held back by one cause share one reason (every item of a request, or all of
    // them when the node is unknown): name the cause once, then the items.
    let mut pending: Vec<(&str, Vec<&str>)> = Vec::new();
    for (type_name, reason) in &report.pending {
        match pending.iter_mut().find(|(r, _)| *r == reason.as_str()) {
            Some((_, types)) => types.push(type_name),
            None => pending.push((reason, vec![type_name])),
        }
    }
    for (reason, types) in pending {
        let (list, verb) = match types.as_slice() {
            [one] => (one.to_string(), "is"),
            many => (many.join(", "), "are"),
        };
        if report.instance_invalid.as_deref() == Some(reason) {
            parts.push(format!("{list} {verb} still pending"));
        } else {
            parts.push(format!("{list} {verb} still pending: {reason}"));
        }
    }
    if let Some(e) = &report.state_error {
        parts.push(e.clone());
    }
    format!("the cycle did not complete: {}", parts.join("; "))
}
