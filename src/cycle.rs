//! One collect → plan → deliver → record cycle: the unit of work of `once`, `demo` and the
//! daemon's push.

use std::collections::HashSet;
use std::path::Path;

use aws_sdk_ssm::Client;
use time::OffsetDateTime;
use tokio_util::sync::CancellationToken;

use crate::batch::Budget;
use crate::config::OnRemoved;
use crate::inventory::{Item, RawItem, format_capture_time};
use crate::plan::{self, Decision, Intervals};
use crate::probe::{self, CollectContext, Probe};
use crate::sender::{Deliverer, Fate, Outgoing, RetryPolicy};
use crate::state::{Ack, Quarantine, State};
use crate::wire::Payload;

/// What probes produced in one round.
#[derive(Debug, Default)]
pub struct Collected {
    pub items: Vec<Item>,
    /// One sentence per failed probe (or duplicate type), naming the probe.
    pub errors: Vec<String>,
    /// Types some configured probe claims, produced this time or not.
    pub declared: HashSet<String>,
    /// A probe whose types are only known from its output failed: which types disappeared
    /// cannot be told this time, so nothing is cleared.
    pub incomplete: bool,
}

/// Runs every probe once. A TypeName produced by two probes is kept from the first.
pub async fn collect(probes: &[Probe]) -> Collected {
    collect_with(probes, &CollectContext::default()).await
}

/// [`collect`] with what probes may need to know, such as the instance ID for a `files`
/// folder named after it. Problems with parts of a probe's run (a bad file next to good
/// ones) are reported in `errors` without dropping the good items; a probe with dynamic
/// types that had such problems makes the round incomplete, so nothing is cleared on its
/// account.
pub async fn collect_with(probes: &[Probe], ctx: &CollectContext) -> Collected {
    let mut collected = Collected::default();
    let mut seen: HashSet<String> = HashSet::new();
    for p in probes {
        collected
            .declared
            .extend(p.declared_types().into_iter().map(str::to_string));
    }
    for ((name, outcome), p) in probe::collect_all_detailed(probes, ctx)
        .await
        .into_iter()
        .zip(probes)
    {
        match outcome {
            Ok(collection) => {
                if !collection.errors.is_empty() {
                    collected.incomplete |= p.has_dynamic_types();
                    collected
                        .errors
                        .extend(collection.errors.iter().map(ToString::to_string));
                }
                for item in collection.items {
                    if seen.insert(item.type_name().to_string()) {
                        collected.items.push(item);
                    } else {
                        collected.errors.push(format!(
                            "probe `{name}`: TypeName `{}` was already produced by another probe; this one is ignored",
                            item.type_name()
                        ));
                    }
                }
            }
            Err(e) => {
                collected.incomplete |= p.has_dynamic_types();
                collected.errors.push(e.to_string());
            }
        }
    }
    collected
}

/// How a push behaves.
#[derive(Debug, Clone)]
pub struct PushOptions {
    pub instance_id: String,
    pub intervals: Intervals,
    pub on_removed: OnRemoved,
    /// Send everything in full, whatever the state says.
    pub force: bool,
    pub budget: Budget,
    pub retry: RetryPolicy,
}

/// What a push did, type by type.
#[derive(Debug, Default)]
pub struct PushReport {
    pub sent_full: Vec<String>,
    pub sent_hash_only: Vec<String>,
    pub skipped: Vec<String>,
    pub still_quarantined: Vec<String>,
    pub cleared: Vec<String>,
    pub quarantined: Vec<(String, String)>,
    pub pending: Vec<(String, String)>,
    pub requests: usize,
    pub bytes: usize,
    pub instance_invalid: Option<String>,
    /// Credentials were missing or refused: the caller may have to choose them anew.
    pub credentials_refused: bool,
    /// Failed PutInventory requests by error code.
    pub errors: std::collections::BTreeMap<String, u64>,
    pub state_error: Option<String>,
    /// Types that must go in full but whose content was let go after an acknowledgement:
    /// their probes must run again (they are also listed as pending).
    pub recollect: Vec<String>,
}

/// Why an item without its content is pending.
pub const NEEDS_CONTENT: &str =
    "the service needs this item in full again; its probe runs again to collect the content";

impl PushReport {
    /// Every item acknowledged or deliberately skipped, and the state recorded.
    pub fn complete(&self) -> bool {
        self.quarantined.is_empty()
            && self.still_quarantined.is_empty()
            && self.pending.is_empty()
            && self.instance_invalid.is_none()
            && self.state_error.is_none()
    }
}

/// Plans `items` against `state`, delivers what needs sending, records the outcome in
/// `state` and persists it to `state_dir`.
pub async fn push(
    client: &Client,
    collected: &Collected,
    state: &mut State,
    state_dir: &Path,
    options: &PushOptions,
    cancel: &CancellationToken,
) -> PushReport {
    let now = OffsetDateTime::now_utc();
    let mut report = PushReport::default();
    let acknowledged = state
        .instance(&options.instance_id)
        .cloned()
        .unwrap_or_default();

    let mut outgoing: Vec<Outgoing<'_>> = Vec::new();
    for item in &collected.items {
        match plan::decide(
            item,
            Some(&acknowledged),
            now,
            options.intervals,
            options.force,
        ) {
            Decision::Send(payload) => outgoing.push(Outgoing {
                item,
                payload,
                new_type: !acknowledged.types.contains_key(item.type_name()),
            }),
            Decision::Skip => report.skipped.push(item.type_name().to_string()),
            Decision::Quarantined => report.still_quarantined.push(item.type_name().to_string()),
            Decision::NeedsContent => {
                report.recollect.push(item.type_name().to_string());
                report
                    .pending
                    .push((item.type_name().to_string(), NEEDS_CONTENT.to_string()));
            }
        }
    }

    // Types acknowledged before that nothing claims any more.
    let produced: HashSet<&str> = collected.items.iter().map(Item::type_name).collect();
    let removed: Vec<(&String, &Ack)> = if collected.incomplete {
        Vec::new()
    } else {
        acknowledged
            .types
            .iter()
            .filter(|(t, _)| !produced.contains(t.as_str()) && !collected.declared.contains(*t))
            .collect()
    };
    let mut clears: Vec<Item> = Vec::new();
    let mut forget: Vec<String> = Vec::new();
    for (type_name, ack) in removed {
        match options.on_removed {
            OnRemoved::Keep => forget.push(type_name.clone()),
            OnRemoved::Clear => {
                let raw = RawItem {
                    type_name: type_name.clone(),
                    schema_version: ack.schema_version.clone(),
                    capture_time: format_capture_time(now),
                    ..RawItem::default()
                };
                match Item::new(raw) {
                    // Planned like any item, so a clear the service refused waits out its
                    // quarantine instead of being sent every cycle, and a type already held
                    // empty is not cleared twice.
                    Ok(item) => match plan::decide(
                        &item,
                        Some(&acknowledged),
                        now,
                        options.intervals,
                        options.force,
                    ) {
                        // A clear is built here with its (empty) content, so it never lacks it.
                        Decision::Send(Payload::Full) | Decision::NeedsContent => clears.push(item),
                        Decision::Quarantined => report.still_quarantined.push(type_name.clone()),
                        Decision::Send(Payload::HashOnly) | Decision::Skip => {
                            forget.push(type_name.clone());
                        }
                    },
                    // A type once acknowledged was valid; if the rules moved, let it go.
                    Err(e) => {
                        tracing::warn!("cannot clear removed type {type_name}: {e}");
                        forget.push(type_name.clone());
                    }
                }
            }
        }
    }
    // Types only ever refused (never stored by the service) that nothing claims any more:
    // nothing to clear, and their quarantine must not outlive them.
    if !collected.incomplete {
        forget.extend(
            acknowledged
                .quarantine
                .keys()
                .filter(|t| {
                    !acknowledged.types.contains_key(*t)
                        && !produced.contains(t.as_str())
                        && !collected.declared.contains(*t)
                })
                .cloned(),
        );
    }
    let first_clear = outgoing.len();
    outgoing.extend(clears.iter().map(|item| Outgoing {
        item,
        payload: Payload::Full,
        new_type: false,
    }));

    let delivered = if outgoing.is_empty() {
        None
    } else {
        let deliverer = Deliverer {
            client,
            instance_id: &options.instance_id,
            budget: options.budget,
            retry: options.retry,
        };
        Some(deliverer.deliver(&outgoing, cancel).await)
    };

    let mut changed = !forget.is_empty();
    for type_name in &forget {
        state.forget(&options.instance_id, type_name);
    }
    if let Some(delivered) = delivered {
        report.requests = delivered.requests;
        report.bytes = delivered.bytes;
        report.instance_invalid = delivered.instance_invalid;
        report.credentials_refused |= delivered.credentials_refused;
        for (code, n) in &delivered.errors {
            *report.errors.entry(code.clone()).or_default() += n;
        }
        for (index, (out, fate)) in outgoing.iter().zip(delivered.fates).enumerate() {
            let type_name = out.item.type_name().to_string();
            let is_clear = index >= first_clear;
            match fate {
                Some(Fate::Acknowledged { payload }) => {
                    changed = true;
                    if is_clear {
                        state.forget(&options.instance_id, &type_name);
                        report.cleared.push(type_name);
                        continue;
                    }
                    state.acknowledge(&options.instance_id, &type_name, Ack::of(out.item, now));
                    match payload {
                        Payload::Full => report.sent_full.push(type_name),
                        Payload::HashOnly => report.sent_hash_only.push(type_name),
                    }
                }
                Some(Fate::Quarantined { reason }) => {
                    changed = true;
                    state.quarantine(
                        &options.instance_id,
                        &type_name,
                        Quarantine {
                            content_hash: out.item.content_hash().to_string(),
                            reason: reason.clone(),
                            since: now,
                        },
                    );
                    report.quarantined.push((type_name, reason));
                }
                Some(Fate::Pending { reason }) => report.pending.push((type_name, reason)),
                Some(Fate::NeedsContent) => {
                    report.recollect.push(type_name.clone());
                    report.pending.push((type_name, NEEDS_CONTENT.to_string()));
                }
                None => report
                    .pending
                    .push((type_name, "not attempted".to_string())),
            }
        }
    }

    if changed {
        let snapshot = state.clone();
        let dir = state_dir.to_path_buf();
        let saved = tokio::task::spawn_blocking(move || snapshot.save(&dir)).await;
        report.state_error = match saved {
            Ok(Ok(())) => None,
            Ok(Err(e)) => Some(e.to_string()),
            Err(e) => Some(format!("saving the state stopped unexpectedly: {e}")),
        };
    }
    report
}
