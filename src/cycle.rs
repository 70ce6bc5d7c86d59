//! One collect → plan → deliver → record cycle: the unit of work of `once`, `demo` and the
//! daemon's push.

use std::path::Path;

use time::OffsetDateTime;
use tokio_util::sync::CancellationToken;

use crate::batch::Budget;
use crate::config::{AgentSettings, OnRemoved};
use crate::outbox::Outbox;
use crate::plan::Intervals;
use crate::plan::push::{Policy, PushPlan};
use crate::probe::{self, CollectContext, Probe, RunLimiter};
use crate::record::record;
use crate::scheduler::Outcome;
use crate::sender::{Deliverer, PutInventory, RetryPolicy};
use crate::state::State;

pub use crate::outbox::Collected;
pub use crate::record::{NEEDS_CONTENT, PushReport};

/// Runs every probe once, within the default run limits. A TypeName produced by two probes
/// is kept from the first.
pub async fn collect(probes: &[Probe]) -> Collected {
    collect_with(probes, &CollectContext::default(), &RunLimiter::default()).await
}

/// [`collect`] with what probes may need to know, such as the instance ID for a `files`
/// folder named after it. Problems with parts of a probe's run (a bad file next to good
/// ones) are reported in `errors` without dropping the good items; a probe with dynamic
/// types that had such problems makes the round incomplete, so nothing is cleared on its
/// account. The results are merged by an [`Outbox`], as the daemon's are, as each is ready.
/// Runs wait for `limiter`, the daemon's bound on runs in flight and their output.
pub async fn collect_with(
    probes: &[Probe],
    ctx: &CollectContext,
    limiter: &RunLimiter,
) -> Collected {
    let mut outbox = Outbox::default();
    outbox.set_probes(probes);
    probe::collect_each(probes, ctx, limiter, false, |probe, result| {
        outbox.record(Outcome {
            probe,
            result,
            finished_at: tokio::time::Instant::now(),
        });
    })
    .await;
    outbox.collected()
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

impl PushOptions {
    /// What the `[agent]` settings say, for `instance_id`, delivering with `retry` (which
    /// differs by caller: the daemon makes one attempt per push, `once` a few).
    pub fn new(agent: &AgentSettings, instance_id: &str, retry: RetryPolicy) -> PushOptions {
        PushOptions {
            instance_id: instance_id.to_string(),
            intervals: Intervals::of(agent),
            on_removed: agent.on_removed,
            force: false,
            budget: Budget::new(agent.max_request_bytes),
            retry,
        }
    }

    fn policy(&self) -> Policy {
        Policy {
            intervals: self.intervals,
            on_removed: self.on_removed,
            force: self.force,
        }
    }
}

/// Plans `collected` against `state`, delivers what needs sending, records the outcome in
/// `state` and persists it to `state_dir`. `now` is the push's time: when acknowledgements
/// and quarantines are dated, and what refresh intervals are measured from.
pub async fn push(
    client: &impl PutInventory,
    collected: &Collected,
    state: &mut State,
    state_dir: &Path,
    options: &PushOptions,
    now: OffsetDateTime,
    cancel: &CancellationToken,
) -> PushReport {
    let acknowledged = state
        .instance(&options.instance_id)
        .cloned()
        .unwrap_or_default();
    let plan = PushPlan::new(collected, &acknowledged, options.policy(), now);
    let outgoing = plan.outgoing();
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
    let (mut report, changed) = record(&plan, delivered, &options.instance_id, state);
    if changed {
        let snapshot = state.clone();
        let dir = state_dir.to_path_buf();
        let saved = tokio::task::spawn_blocking(move || snapshot.save(&dir)).await;
        report.state_saved = matches!(saved, Ok(Ok(())));
        report.state_error = match saved {
            Ok(Ok(())) => None,
            Ok(Err(e)) => Some(e.to_string()),
            Err(e) => Some(format!("saving the state stopped unexpectedly: {e}")),
        };
    }
    report
}
