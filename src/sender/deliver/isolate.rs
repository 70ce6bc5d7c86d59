//! The bookkeeping of isolation: units of work in the delivery queue, and what happens to a
//! batch the service refused because of one item.

use std::collections::VecDeque;

use super::{Fate, Outgoing, Report};
use crate::wire::Payload;

/// One unit of work in the delivery queue.
#[derive(Debug)]
pub(super) struct Work {
    pub(super) members: Vec<usize>,
    /// Set when this batch is known to hold an item the service refuses (for this reason)
    /// without naming it: it is split rather than sent whole.
    pub(super) known_bad: Option<String>,
    /// The other half of a split, with the refusal that caused the split. If this half goes
    /// through, the culprit is over there; if this half fails, that half is not known to be
    /// bad and is sent later with everything else set aside.
    pub(super) sibling: Option<(Vec<usize>, String)>,
}

impl Work {
    pub(super) fn plain(members: Vec<usize>) -> Work {
        Work {
            members,
            known_bad: None,
            sibling: None,
        }
    }
}

/// Removes the culprit: by name when the service named one in this batch; else, alone, it is
/// the culprit; else the batch is known bad and will be split.
pub(super) fn isolate(
    items: &[Outgoing<'_>],
    report: &mut Report,
    queue: &mut VecDeque<Work>,
    batch: Vec<usize>,
    type_name: Option<&str>,
    reason: String,
) {
    let named = type_name.and_then(|name| {
        batch
            .iter()
            .position(|&i| items[i].item.type_name() == name)
    });
    if let Some(position) = named {
        let mut rest = batch;
        let culprit = rest.remove(position);
        quarantine(items, report, culprit, reason);
        if !rest.is_empty() {
            queue.push_front(Work::plain(rest));
        }
    } else if let [culprit] = batch[..] {
        quarantine(items, report, culprit, reason);
    } else {
        queue.push_front(Work {
            members: batch,
            known_bad: Some(reason),
            sibling: None,
        });
    }
}

pub(super) fn quarantine(
    items: &[Outgoing<'_>],
    report: &mut Report,
    culprit: usize,
    reason: String,
) {
    tracing::warn!(
        type_name = items[culprit].item.type_name(),
        "refused by the service and quarantined: {reason}"
    );
    report.fates[culprit] = Some(Fate::Quarantined { reason });
}

pub(super) fn pending(reason: &str) -> Fate {
    Fate::Pending {
        reason: reason.to_string(),
    }
}

pub(super) fn set(report: &mut Report, members: &[usize], fate: Fate) {
    for &i in members {
        report.fates[i] = Some(fate.clone());
    }
}

/// The hash-only items of `batch` an error is about: the named one, or all when unnamed.
pub(super) fn hash_only(
    items: &[Outgoing<'_>],
    payloads: &[Payload],
    batch: &[usize],
    type_name: Option<&str>,
) -> Vec<usize> {
    batch
        .iter()
        .copied()
        .filter(|&i| payloads[i] == Payload::HashOnly)
        .filter(|&i| type_name.is_none_or(|name| items[i].item.type_name() == name))
        .collect()
}
