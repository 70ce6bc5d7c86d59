use super::*;
use crate::inventory::RawItem;
use crate::state::Ack;

fn item(stage: &str, schema: &str) -> Item {
    Item::new(RawItem {
        type_name: "Custom:StageInfo".into(),
        schema_version: schema.into(),
        capture_time: "2026-11-27T10:00:00Z".into(),
        rows: vec![[("Stage".to_string(), stage.to_string())].into()],
        ..RawItem::default()
    })
    .unwrap()
}

fn acked(item: &Item, at: OffsetDateTime) -> InstanceState {
    let mut state = InstanceState::default();
    state
        .types
        .insert(item.type_name().into(), Ack::of(item, at));
    state
}

const DAY: Intervals = Intervals {
    refresh: Duration::from_secs(86_400),
    quarantine_retry: Duration::from_secs(6 * 3600),
};

#[test]
fn decisions() {
    let now = time::macros::datetime!(2026-11-27 12:00:00 UTC);
    let current = item("PreProd", "1.0");
    let fresh = acked(&current, now - time::Duration::hours(1));
    let stale = acked(&current, now - time::Duration::hours(25));

    assert_eq!(
        decide(&current, None, now, DAY, false),
        Decision::Send(Payload::Full)
    );
    assert_eq!(
        decide(&current, Some(&fresh), now, DAY, false),
        Decision::Skip
    );
    assert_eq!(
        decide(&current, Some(&stale), now, DAY, false),
        Decision::Send(Payload::HashOnly)
    );
    assert_eq!(
        decide(&current, Some(&fresh), now, DAY, true),
        Decision::Send(Payload::Full)
    );
    assert_eq!(
        decide(&item("Prod", "1.0"), Some(&fresh), now, DAY, false),
        Decision::Send(Payload::Full)
    );
    assert_eq!(
        decide(&item("PreProd", "1.1"), Some(&fresh), now, DAY, false),
        Decision::Send(Payload::Full)
    );
}

#[test]
fn quarantine_holds_until_content_changes_or_time_passes() {
    let now = time::macros::datetime!(2026-11-27 12:00:00 UTC);
    let bad = item("PreProd", "1.0");
    let mut state = InstanceState::default();
    state.quarantine.insert(
        bad.type_name().into(),
        crate::state::Quarantine {
            content_hash: bad.content_hash().into(),
            reason: "too large".into(),
            since: now - time::Duration::hours(1),
        },
    );
    assert_eq!(
        decide(&bad, Some(&state), now, DAY, false),
        Decision::Quarantined
    );
    assert_eq!(
        decide(&item("Prod", "1.0"), Some(&state), now, DAY, false),
        Decision::Send(Payload::Full)
    );
    let later = now + time::Duration::hours(6);
    assert_eq!(
        decide(&bad, Some(&state), later, DAY, false),
        Decision::Send(Payload::Full)
    );
    assert_eq!(
        decide(&bad, Some(&state), now, DAY, true),
        Decision::Send(Payload::Full)
    );
}
