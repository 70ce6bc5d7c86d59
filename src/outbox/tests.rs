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
