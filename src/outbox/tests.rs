use super::*;
use crate::inventory::RawItem;
use crate::probe::Collection;
use crate::state::Ack;

fn item(stage: &str) -> Item {
    Item::new(RawItem {
        type_name: "Custom:Stage".into(),
        schema_version: "1.0".into(),
        capture_time: "2026-11-27T10:00:00Z".into(),
        rows: vec![[("Stage".to_string(), stage.to_string())].into()],
        ..RawItem::default()
    })
    .unwrap()
}

fn outcome(stage: &str) -> Outcome {
    Outcome {
        probe: "stage".into(),
        result: Ok(Collection {
            items: vec![item(stage)],
            errors: Vec::new(),
        }),
        finished_at: tokio::time::Instant::now(),
    }
}

fn outbox() -> Outbox {
    let settings = crate::config::load_str(
        std::path::Path::new("/etc/ssm-inventoryd/config.toml"),
        "[[probe]]\nname = \"stage\"\nkind = \"exec\"\ntype_name = \"Custom:Stage\"\ncommand = [\"/bin/true\"]\n",
    )
    .unwrap();
    let probes: Vec<Probe> = settings.probes.iter().map(Probe::from_settings).collect();
    let mut outbox = Outbox::default();
    outbox.set_probes(&probes);
    outbox
}

fn acked(item: &Item) -> InstanceState {
    let mut state = InstanceState::default();
    state.types.insert(
        item.type_name().into(),
        Ack::of(item, time::OffsetDateTime::now_utc()),
    );
    state
}

fn held(outbox: &Outbox) -> Vec<bool> {
    outbox
        .collected()
        .items
        .iter()
        .map(Item::has_content)
        .collect()
}

#[test]
fn acknowledged_content_is_let_go_and_comes_back_when_needed() {
    let mut outbox = outbox();
    assert!(outbox.record(outcome("A")), "a first run is a change");
    assert_eq!(held(&outbox), [true]);

    outbox.drop_acknowledged(Some(&acked(&item("A"))));
    assert_eq!(held(&outbox), [false]);
    assert_eq!(
        outbox.collected().items[0].content_hash(),
        item("A").content_hash()
    );

    // The same content again: no change, and it stays let go.
    assert!(!outbox.record(outcome("A")));
    assert_eq!(held(&outbox), [false]);

    // New content is a change and is held until acknowledged.
    assert!(outbox.record(outcome("B")));
    assert_eq!(held(&outbox), [true]);
    outbox.drop_acknowledged(Some(&acked(&item("A"))));
    assert_eq!(
        held(&outbox),
        [true],
        "only the acknowledged hash is let go"
    );

    // The service lost it: the next run keeps the content and counts as a change.
    outbox.drop_acknowledged(Some(&acked(&item("B"))));
    assert_eq!(
        outbox.request_content(&["Custom:Stage".to_string()]),
        ["stage"]
    );
    assert!(outbox.record(outcome("B")));
    assert_eq!(held(&outbox), [true]);
}

#[test]
fn a_failed_run_keeps_the_last_items() {
    let mut outbox = outbox();
    outbox.record(outcome("A"));
    let failed = Outcome {
        probe: "stage".into(),
        result: Err(crate::probe::ProbeError::EmptyCommand {
            probe: "stage".into(),
        }),
        finished_at: tokio::time::Instant::now(),
    };
    assert!(!outbox.record(failed));
    let collected = outbox.collected();
    assert_eq!(collected.items.len(), 1);
    assert_eq!(collected.errors.len(), 1);
}

/// An item holds its share of the probe budget while it waits; acknowledged, it lets go of its
/// Content and the share; refused by the service, it keeps its Content (for the retry) but not
/// the share.
#[tokio::test]
async fn waiting_items_hold_budget_until_acknowledged_or_refused() {
    use crate::probe::RunLimiter;
    use crate::state::Quarantine;
    let limiter = RunLimiter::new(4, 1024 * 1024);
    let run = |stage: &str| {
        let limiter = limiter.clone();
        let mut outcome = outcome(stage);
        async move {
            let permit = limiter.acquire(64 * 1024).await;
            if let Ok(collection) = &mut outcome.result {
                permit.hold(&mut collection.items);
            }
            outcome
        }
    };
    let mut outbox = outbox();
    outbox.record(run("A").await);
    assert!(limiter.held_bytes() > 0);
    outbox.drop_acknowledged(Some(&acked(&item("A"))));
    assert_eq!(held(&outbox), [false]);
    assert_eq!(limiter.held_bytes(), 0);

    outbox.record(run("B").await);
    assert!(limiter.held_bytes() > 0);
    let mut refused = InstanceState::default();
    refused.quarantine.insert(
        "Custom:Stage".into(),
        Quarantine {
            content_hash: item("B").content_hash().into(),
            reason: "too large".into(),
            since: time::OffsetDateTime::now_utc(),
        },
    );
    outbox.drop_acknowledged(Some(&refused));
    assert_eq!(held(&outbox), [true]);
    assert_eq!(limiter.held_bytes(), 0);
}
