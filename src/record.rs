//! Records what became of a push in the acknowledged state, and reports it type by type.
//!
//! The other half of [`crate::plan::push`]: the plan says what was attempted, the sender's
//! report what became of each item, and this writes acknowledgements, quarantines and
//! forgotten types into the state. Pure, like the plan; saving the state is the caller's.

use std::collections::BTreeMap;

use crate::plan::push::PushPlan;
use crate::sender::{Fate, Report};
use crate::state::{Ack, Quarantine, State};
use crate::wire::Payload;

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
    pub errors: BTreeMap<String, u64>,
    pub state_error: Option<String>,
    /// The state changed and was written (when it changed and could not be, `state_error`).
    pub state_saved: bool,
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

    fn needs_content(&mut self, type_name: String) {
        self.pending
            .push((type_name.clone(), NEEDS_CONTENT.to_string()));
        self.recollect.push(type_name);
    }
}

/// Writes the outcome of `plan` into `state` for `instance_id`. `delivered` is `None` when
/// nothing needed sending. Returns the report and whether `state` changed (and so must be
/// saved).
pub fn record(
    plan: &PushPlan<'_>,
    delivered: Option<Report>,
    instance_id: &str,
    state: &mut State,
) -> (PushReport, bool) {
    let now = plan.now;
    let mut report = PushReport {
        skipped: plan.skipped.clone(),
        still_quarantined: plan.still_quarantined.clone(),
        ..PushReport::default()
    };
    for type_name in &plan.recollect {
        report.needs_content(type_name.clone());
    }
    let mut changed = !plan.forget.is_empty();
    for type_name in &plan.forget {
        state.forget(instance_id, type_name);
    }
    let Some(delivered) = delivered else {
        return (report, changed);
    };
    report.requests = delivered.requests;
    report.bytes = delivered.bytes;
    report.instance_invalid = delivered.instance_invalid;
    report.credentials_refused = delivered.credentials_refused;
    report.errors = delivered.errors;

    let first_clear = plan.send.len();
    for (index, (out, fate)) in plan.outgoing().iter().zip(delivered.fates).enumerate() {
        let type_name = out.item.type_name().to_string();
        let is_clear = index >= first_clear;
        match fate {
            Some(Fate::Acknowledged { payload }) => {
                changed = true;
                if is_clear {
                    state.forget(instance_id, &type_name);
                    report.cleared.push(type_name);
                    continue;
                }
                state.acknowledge(instance_id, &type_name, Ack::of(out.item, now));
                match payload {
                    Payload::Full => report.sent_full.push(type_name),
                    Payload::HashOnly => report.sent_hash_only.push(type_name),
                }
            }
            Some(Fate::Quarantined { reason }) => {
                changed = true;
                state.quarantine(
                    instance_id,
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
            Some(Fate::NeedsContent) => report.needs_content(type_name),
            None => report
                .pending
                .push((type_name, "not attempted".to_string())),
        }
    }
    (report, changed)
}
