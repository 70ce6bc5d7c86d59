//! Plans a whole push: what goes in full, hash-only or not at all, which removed types are
//! cleared on the service and which are only forgotten here.
//!
//! Pure: it reads the merged items and the acknowledged state and touches neither, so the
//! removal policy is tested without a service.

use std::collections::HashSet;

use time::OffsetDateTime;

use super::{Decision, Intervals, decide};
use crate::config::OnRemoved;
use crate::inventory::{Item, RawItem, format_capture_time};
use crate::outbox::Collected;
use crate::sender::Outgoing;
use crate::state::InstanceState;
use crate::wire::Payload;

/// What one push will do.
#[derive(Debug)]
pub struct PushPlan<'a> {
    pub now: OffsetDateTime,
    /// Items to send, with their payload.
    pub send: Vec<Outgoing<'a>>,
    /// Empty items clearing types nothing produces any more (`on_removed = "clear"`); sent
    /// after `send`.
    pub clear: Vec<Item>,
    /// Types to drop from the state without telling the service.
    pub forget: Vec<String>,
    /// Unchanged and recently acknowledged.
    pub skipped: Vec<String>,
    /// Refused before with this content; waiting out `quarantine_retry`.
    pub still_quarantined: Vec<String>,
    /// Must go in full but their content was let go: their probes must run again.
    pub recollect: Vec<String>,
}

/// How a push decides.
#[derive(Debug, Clone, Copy)]
pub struct Policy {
    pub intervals: Intervals,
    pub on_removed: OnRemoved,
    /// Send everything in full, whatever the state says.
    pub force: bool,
}

impl<'a> PushPlan<'a> {
    pub fn new(
        collected: &'a Collected,
        acknowledged: &InstanceState,
        policy: Policy,
        now: OffsetDateTime,
    ) -> PushPlan<'a> {
        let mut plan = PushPlan {
            now,
            send: Vec::new(),
            clear: Vec::new(),
            forget: Vec::new(),
            skipped: Vec::new(),
            still_quarantined: Vec::new(),
            recollect: Vec::new(),
        };
        let decide = |item: &Item| {
            decide(
                item,
                Some(acknowledged),
                now,
                policy.intervals,
                policy.force,
            )
        };
        for item in &collected.items {
            let type_name = item.type_name().to_string();
            match decide(item) {
                Decision::Send(payload) => plan.send.push(Outgoing {
                    item,
                    payload,
                    new_type: !acknowledged.types.contains_key(item.type_name()),
                }),
                Decision::Skip => plan.skipped.push(type_name),
                Decision::Quarantined => plan.still_quarantined.push(type_name),
                Decision::NeedsContent => plan.recollect.push(type_name),
            }
        }
        if collected.incomplete {
            // Which types disappeared cannot be told this time.
            return plan;
        }

        let produced: HashSet<&str> = collected.items.iter().map(Item::type_name).collect();
        let unclaimed =
            |t: &String| !produced.contains(t.as_str()) && !collected.declared.contains(t);
        for (type_name, ack) in acknowledged.types.iter().filter(|(t, _)| unclaimed(t)) {
            if policy.on_removed == OnRemoved::Keep {
                plan.forget.push(type_name.clone());
                continue;
            }
            let raw = RawItem {
                type_name: type_name.clone(),
                schema_version: ack.schema_version.clone(),
                capture_time: format_capture_time(now),
                ..RawItem::default()
            };
            match Item::new(raw) {
                // Planned like any item, so a clear the service refused waits out its
                // quarantine instead of being sent every cycle, and a type already held empty
                // is not cleared twice.
                Ok(item) => match decide(&item) {
                    // A clear is built here with its (empty) content, so it never lacks it.
                    Decision::Send(Payload::Full) | Decision::NeedsContent => plan.clear.push(item),
                    Decision::Quarantined => plan.still_quarantined.push(type_name.clone()),
                    Decision::Send(Payload::HashOnly) | Decision::Skip => {
                        plan.forget.push(type_name.clone());
                    }
                },
                // A type once acknowledged was valid; if the rules moved, let it go.
                Err(e) => {
                    tracing::warn!("cannot clear removed type {type_name}: {e}");
                    plan.forget.push(type_name.clone());
                }
            }
        }
        // Types only ever refused (never stored by the service) that nothing claims any more:
        // nothing to clear, and their quarantine must not outlive them.
        plan.forget.extend(
            acknowledged
                .quarantine
                .keys()
                .filter(|t| !acknowledged.types.contains_key(*t) && unclaimed(t))
                .cloned(),
        );
        plan
    }

    /// Everything to deliver, in the order [`crate::record::record`] expects the fates:
    /// `send`, then `clear`.
    pub fn outgoing(&self) -> Vec<Outgoing<'_>> {
        self.send
            .iter()
            .copied()
            .chain(self.clear.iter().map(|item| Outgoing {
                item,
                payload: Payload::Full,
                new_type: false,
            }))
            .collect()
    }
}

#[cfg(test)]
mod tests;
