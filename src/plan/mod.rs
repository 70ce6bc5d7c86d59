//! Decides what each item needs: its full Content, its hash alone, or nothing.
//!
//! The point of the daemon is near-zero cost when nothing changes, so an item whose hash and
//! SchemaVersion match what the service acknowledged is not sent — until `refresh_interval`
//! has passed, when it is sent hash-only so the service keeps a current CaptureTime without
//! receiving the content again.

pub mod push;
use std::time::Duration;

use time::OffsetDateTime;

use crate::config::AgentSettings;
use crate::inventory::Item;
use crate::state::InstanceState;
use crate::wire::Payload;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Send(Payload),
    /// Unchanged and recently acknowledged.
    Skip,
    /// Refused by the service before with this very content, and `quarantine_retry` has not
    /// passed yet.
    Quarantined,
    /// Must go in full, but its content was let go after an acknowledgement: the probe has
    /// to run again first.
    NeedsContent,
}

/// How often things are sent again although nothing changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Intervals {
    pub refresh: Duration,
    pub quarantine_retry: Duration,
}

impl Intervals {
    pub fn of(agent: &AgentSettings) -> Intervals {
        Intervals {
            refresh: agent.refresh_interval,
            quarantine_retry: agent.quarantine_retry,
        }
    }
}

/// Plans one item against the acknowledged state.
pub fn decide(
    item: &Item,
    acknowledged: Option<&InstanceState>,
    now: OffsetDateTime,
    intervals: Intervals,
    force: bool,
) -> Decision {
    match decide_payload(item, acknowledged, now, intervals, force) {
        Decision::Send(Payload::Full) if !item.has_content() => Decision::NeedsContent,
        decision => decision,
    }
}

fn decide_payload(
    item: &Item,
    acknowledged: Option<&InstanceState>,
    now: OffsetDateTime,
    intervals: Intervals,
    force: bool,
) -> Decision {
    if force {
        return Decision::Send(Payload::Full);
    }
    let quarantined = acknowledged.and_then(|s| s.quarantine.get(item.type_name()));
    if let Some(q) = quarantined {
        if q.content_hash == item.content_hash() && now - q.since < intervals.quarantine_retry {
            return Decision::Quarantined;
        }
        return Decision::Send(Payload::Full);
    }
    let Some(ack) = acknowledged.and_then(|s| s.types.get(item.type_name())) else {
        return Decision::Send(Payload::Full);
    };
    if ack.content_hash != item.content_hash() || ack.schema_version != item.schema_version() {
        return Decision::Send(Payload::Full);
    }
    let age = now - ack.acknowledged_at;
    if age >= intervals.refresh {
        Decision::Send(Payload::HashOnly)
    } else {
        Decision::Skip
    }
}

#[cfg(test)]
mod tests;
