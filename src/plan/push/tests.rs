//! The removal policy and the recording of a push's outcome, without a service.

use std::time::Duration;

use time::OffsetDateTime;

use super::{Policy, PushPlan};
use crate::config::OnRemoved;
use crate::inventory::{Item, RawItem};
use crate::outbox::Collected;
use crate::plan::Intervals;
use crate::record::{NEEDS_CONTENT, record};
use crate::sender::{Fate, Report};
use crate::state::{Ack, InstanceState, Quarantine, State};
use crate::wire::Payload;

const ID: &str = "i-0123456789abcdef0";

fn now() -> OffsetDateTime {
    time::macros::datetime!(2026-12-01 10:00 UTC)
}

fn item(type_name: &str, value: &str) -> Item {
    Item::new(RawItem {
        type_name: type_name.into(),
        schema_version: "1.0".into(),
        capture_time: "2026-12-01T10:00:00Z".into(),
        rows: vec![[("Value".to_string(), value.to_string())].into()],
        ..RawItem::default()
    })
    .unwrap()
}

fn policy(on_removed: OnRemoved) -> Policy {
    Policy {
        intervals: Intervals {
            refresh: Duration::from_secs(3600),
            quarantine_retry: Duration::from_secs(600),
        },
        on_removed,
        force: false,
    }
}

/// The node's state with `Custom:Gone` acknowledged ten minutes ago and `Custom:Kept` with
/// the content `item("Custom:Kept", "v")`.
fn acknowledged() -> InstanceState {
    let mut state = InstanceState::default();
    let at = now() - time::Duration::minutes(10);
    state.types.insert(
        "Custom:Gone".into(),
        Ack::of(&item("Custom:Gone", "old"), at),
    );
    state
        .types
        .insert("Custom:Kept".into(), Ack::of(&item("Custom:Kept", "v"), at));
    state
}

fn collected(items: Vec<Item>) -> Collected {
    Collected {
        declared: items.iter().map(|i| i.type_name().to_string()).collect(),
        items,
        ..Collected::default()
    }
}

fn delivered(fates: Vec<Fate>) -> Report {
    Report {
        fates: fates.into_iter().map(Some).collect(),
        requests: 1,
        ..Report::default()
    }
}

#[test]
fn a_removed_type_is_cleared_once_then_forgotten() {
    let acked = acknowledged();
    let collected = collected(vec![item("Custom:Kept", "v")]);
    let plan = PushPlan::new(&collected, &acked, policy(OnRemoved::Clear), now());
    assert!(plan.send.is_empty());
    assert_eq!(plan.skipped, ["Custom:Kept"]);
    assert_eq!(plan.clear.len(), 1);
    let clear = &plan.clear[0];
    assert_eq!(clear.type_name(), "Custom:Gone");
    assert!(clear.content().is_empty());
    assert_eq!(clear.schema_version(), "1.0");
    assert!(plan.forget.is_empty());
    let outgoing = plan.outgoing();
    assert_eq!(outgoing.len(), 1);
    assert_eq!(outgoing[0].payload, Payload::Full);

    let mut state = State::default();
    state.acknowledge(ID, "Custom:Gone", acked.types["Custom:Gone"].clone());
    let (report, changed) = record(
        &plan,
        Some(delivered(vec![Fate::Acknowledged {
            payload: Payload::Full,
        }])),
        ID,
        &mut state,
    );
    assert!(changed);
    assert_eq!(report.cleared, ["Custom:Gone"]);
    assert!(report.complete());
    assert!(
        !state
            .instance(ID)
            .unwrap()
            .types
            .contains_key("Custom:Gone")
    );
}

#[test]
fn a_removed_type_is_only_forgotten_when_kept() {
    let acked = acknowledged();
    let collected = collected(vec![item("Custom:Kept", "v")]);
    let plan = PushPlan::new(&collected, &acked, policy(OnRemoved::Keep), now());
    assert!(plan.clear.is_empty());
    assert_eq!(plan.forget, ["Custom:Gone"]);
    let mut state = State::default();
    state.acknowledge(ID, "Custom:Gone", acked.types["Custom:Gone"].clone());
    let (report, changed) = record(&plan, None, ID, &mut state);
    assert!(changed, "forgetting changes the state");
    assert_eq!(report.requests, 0);
    assert!(
        !state
            .instance(ID)
            .unwrap()
            .types
            .contains_key("Custom:Gone")
    );
}

/// A type still claimed by a probe (which failed to produce it this time), or any type while
/// the round is incomplete, is neither cleared nor forgotten: a broken probe must never clear
/// inventory.
#[test]
fn nothing_is_removed_while_a_type_is_claimed_or_the_round_incomplete() {
    let acked = acknowledged();
    let mut claimed = collected(vec![item("Custom:Kept", "v")]);
    claimed.declared.insert("Custom:Gone".into());
    let plan = PushPlan::new(&claimed, &acked, policy(OnRemoved::Clear), now());
    assert!(plan.clear.is_empty() && plan.forget.is_empty());

    let mut incomplete = collected(vec![item("Custom:Kept", "v")]);
    incomplete.incomplete = true;
    for on_removed in [OnRemoved::Clear, OnRemoved::Keep] {
        let plan = PushPlan::new(&incomplete, &acked, policy(on_removed), now());
        assert!(plan.clear.is_empty() && plan.forget.is_empty());
    }
}

/// A clear the service refused waits out its quarantine like any item; a type that was only
/// ever refused and is no longer claimed leaves the state without a request.
#[test]
fn refused_clears_wait_and_refused_only_types_are_forgotten() {
    let mut acked = acknowledged();
    let empty = Item::new(RawItem {
        type_name: "Custom:Gone".into(),
        schema_version: "1.0".into(),
        capture_time: "2026-12-01T10:00:00Z".into(),
        ..RawItem::default()
    })
    .unwrap();
    let quarantine = |hash: &str| Quarantine {
        content_hash: hash.into(),
        reason: "refused".into(),
        since: now() - time::Duration::minutes(1),
    };
    acked
        .quarantine
        .insert("Custom:Gone".into(), quarantine(empty.content_hash()));
    acked
        .quarantine
        .insert("Custom:Never".into(), quarantine("abc"));
    let collected = collected(vec![item("Custom:Kept", "v")]);
    let plan = PushPlan::new(&collected, &acked, policy(OnRemoved::Clear), now());
    assert!(plan.clear.is_empty());
    assert_eq!(plan.still_quarantined, ["Custom:Gone"]);
    assert_eq!(plan.forget, ["Custom:Never"]);
}

/// Fates become acknowledgements, quarantines and pending reasons; a changed item is sent
/// in full, a new type is marked new, an item whose content was let go is collected again.
#[test]
fn outcomes_are_recorded_type_by_type() {
    let acked = acknowledged();
    let let_go = item("Custom:Kept", "changed").without_content();
    let collected = collected(vec![
        item("Custom:New", "a"),
        item("Custom:Bad", "b"),
        item("Custom:Slow", "c"),
        let_go,
        item("Custom:Gone", "back"),
    ]);
    let plan = PushPlan::new(&collected, &acked, policy(OnRemoved::Clear), now());
    assert_eq!(plan.recollect, ["Custom:Kept"]);
    let sent: Vec<(&str, Payload, bool)> = plan
        .send
        .iter()
        .map(|o| (o.item.type_name(), o.payload, o.new_type))
        .collect();
    assert_eq!(
        sent,
        [
            ("Custom:New", Payload::Full, true),
            ("Custom:Bad", Payload::Full, true),
            ("Custom:Slow", Payload::Full, true),
            ("Custom:Gone", Payload::Full, false),
        ]
    );

    let mut state = State::default();
    let (report, changed) = record(
        &plan,
        Some(delivered(vec![
            Fate::Acknowledged {
                payload: Payload::Full,
            },
            Fate::Quarantined {
                reason: "InvalidTypeNameException".into(),
            },
            Fate::Pending {
                reason: "ThrottlingException".into(),
            },
            Fate::NeedsContent,
        ])),
        ID,
        &mut state,
    );
    assert!(changed);
    assert_eq!(report.sent_full, ["Custom:New"]);
    assert_eq!(
        report.quarantined,
        [(
            "Custom:Bad".to_string(),
            "InvalidTypeNameException".to_string()
        )]
    );
    assert_eq!(
        report.pending,
        [
            ("Custom:Kept".to_string(), NEEDS_CONTENT.to_string()),
            ("Custom:Slow".to_string(), "ThrottlingException".to_string()),
            ("Custom:Gone".to_string(), NEEDS_CONTENT.to_string()),
        ]
    );
    assert_eq!(report.recollect, ["Custom:Kept", "Custom:Gone"]);
    let instance = state.instance(ID).unwrap();
    assert_eq!(instance.types["Custom:New"].acknowledged_at, now());
    assert_eq!(instance.quarantine["Custom:Bad"].since, now());
    assert!(!instance.types.contains_key("Custom:Slow"));
    assert!(!report.complete());
}
