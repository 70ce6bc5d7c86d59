use super::*;
use crate::emulator::rules::Item;

const ID: &str = "i-0123456789abcdef0";
const LIMITS: StoreLimits = StoreLimits {
    max_custom_types: 20,
    max_node_bytes: 10_000,
};

fn row(k: &str, v: &str) -> Row {
    [(k.to_owned(), v.to_owned())].into_iter().collect()
}

fn full(type_name: &str, hash: Option<&str>, value: &str, bytes: usize) -> Item {
    Item {
        type_name: type_name.into(),
        schema_version: "1.0".into(),
        capture_time: "2026-11-27T10:00:00Z".into(),
        content_hash: hash.map(Into::into),
        content: Some(vec![row("k", value)]),
        bytes,
    }
}

fn hash_only(type_name: &str, hash: &str, time: &str) -> Item {
    Item {
        type_name: type_name.into(),
        schema_version: "1.0".into(),
        capture_time: time.into(),
        content_hash: Some(hash.into()),
        content: None,
        bytes: 100,
    }
}

fn req(items: Vec<Item>) -> PutInventoryRequest {
    PutInventoryRequest {
        instance_id: ID.into(),
        items,
    }
}

#[test]
fn stores_and_reads_back() {
    let mut s = Store::default();
    let a = s
        .apply(&req(vec![full("Custom:A", Some("h1"), "v1", 100)]), LIMITS)
        .unwrap();
    assert_eq!(
        a,
        Applied {
            stored: 1,
            refreshed: 0
        }
    );
    let got = s.get(ID, "Custom:A").unwrap();
    assert_eq!(got.content, vec![row("k", "v1")]);
    assert_eq!(got.content_hash.as_deref(), Some("h1"));
    assert_eq!(s.node_bytes(ID), 100);
    assert!(s.get(ID, "Custom:B").is_none());
    assert!(s.get("i-other000", "Custom:A").is_none());
}

#[test]
fn hash_only_unknown_or_different_is_a_mismatch() {
    let mut s = Store::default();
    let err = s
        .apply(
            &req(vec![hash_only("Custom:A", "h1", "2026-11-27T11:00:00Z")]),
            LIMITS,
        )
        .unwrap_err();
    assert_eq!(err.code, ErrorCode::ItemContentMismatch);
    assert_eq!(err.type_name.as_deref(), Some("Custom:A"));

    s.apply(&req(vec![full("Custom:A", Some("h1"), "v1", 100)]), LIMITS)
        .unwrap();
    let err = s
        .apply(
            &req(vec![hash_only("Custom:A", "h2", "2026-11-27T11:00:00Z")]),
            LIMITS,
        )
        .unwrap_err();
    assert_eq!(err.code, ErrorCode::ItemContentMismatch);
}

#[test]
fn hash_only_match_refreshes_capture_time_only() {
    let mut s = Store::default();
    s.apply(&req(vec![full("Custom:A", Some("h1"), "v1", 100)]), LIMITS)
        .unwrap();
    let a = s
        .apply(
            &req(vec![hash_only("Custom:A", "h1", "2026-11-28T00:00:00Z")]),
            LIMITS,
        )
        .unwrap();
    assert_eq!(
        a,
        Applied {
            stored: 0,
            refreshed: 1
        }
    );
    let got = s.get(ID, "Custom:A").unwrap();
    assert_eq!(got.capture_time, "2026-11-28T00:00:00Z");
    assert_eq!(got.content, vec![row("k", "v1")]);
    assert_eq!(s.node_bytes(ID), 100);
}

#[test]
fn same_hash_with_content_does_not_replace_content() {
    let mut s = Store::default();
    s.apply(&req(vec![full("Custom:A", Some("h1"), "v1", 100)]), LIMITS)
        .unwrap();
    let a = s
        .apply(&req(vec![full("Custom:A", Some("h1"), "v2", 200)]), LIMITS)
        .unwrap();
    assert_eq!(a.refreshed, 1);
    assert_eq!(s.get(ID, "Custom:A").unwrap().content, vec![row("k", "v1")]);
    assert_eq!(s.node_bytes(ID), 100);
    // A new hash replaces it.
    s.apply(&req(vec![full("Custom:A", Some("h2"), "v2", 200)]), LIMITS)
        .unwrap();
    assert_eq!(s.get(ID, "Custom:A").unwrap().content, vec![row("k", "v2")]);
    assert_eq!(s.node_bytes(ID), 200);
    // No hash at all always replaces.
    s.apply(&req(vec![full("Custom:A", None, "v3", 150)]), LIMITS)
        .unwrap();
    assert_eq!(s.get(ID, "Custom:A").unwrap().content, vec![row("k", "v3")]);
    assert_eq!(s.node_bytes(ID), 150);
}

#[test]
fn empty_content_clears_the_type() {
    let mut s = Store::default();
    s.apply(&req(vec![full("Custom:A", Some("h1"), "v1", 100)]), LIMITS)
        .unwrap();
    let mut clear = full("Custom:A", Some("h0"), "", 40);
    clear.content = Some(vec![]);
    s.apply(&req(vec![clear]), LIMITS).unwrap();
    assert!(s.get(ID, "Custom:A").unwrap().content.is_empty());
    assert_eq!(s.node_bytes(ID), 40);
}

#[test]
fn custom_type_limit_is_account_wide_and_spares_known_types() {
    let mut s = Store::default();
    let limits = StoreLimits {
        max_custom_types: 3,
        ..LIMITS
    };
    s.apply(
        &req(vec![
            full("Custom:A", None, "v", 10),
            full("Custom:B", None, "v", 10),
        ]),
        limits,
    )
    .unwrap();
    let other = PutInventoryRequest {
        instance_id: "mi-0123456789abcdef0".into(),
        items: vec![full("Custom:C", None, "v", 10)],
    };
    s.apply(&other, limits).unwrap();
    assert_eq!(s.custom_type_count(), 3);
    // A fourth type on any node is refused, and the whole request with it.
    let err = s
        .apply(
            &req(vec![
                full("Custom:A", None, "new", 10),
                full("Custom:D", None, "v", 10),
            ]),
            limits,
        )
        .unwrap_err();
    assert_eq!(err.code, ErrorCode::CustomSchemaCountLimitExceeded);
    assert_eq!(s.get(ID, "Custom:A").unwrap().content, vec![row("k", "v")]);
    // Known types still go through, on any node; AWS types do not count.
    s.apply(
        &req(vec![
            full("Custom:C", None, "v", 10),
            full("AWS:Tag", None, "v", 10),
        ]),
        limits,
    )
    .unwrap();
    assert_eq!(s.custom_type_count(), 3);
}

#[test]
fn node_total_is_checked_after_replacements() {
    let mut s = Store::default();
    let limits = StoreLimits {
        max_node_bytes: 1000,
        ..LIMITS
    };
    s.apply(&req(vec![full("Custom:A", None, "v", 600)]), limits)
        .unwrap();
    let err = s
        .apply(&req(vec![full("Custom:B", None, "v", 500)]), limits)
        .unwrap_err();
    assert_eq!(err.code, ErrorCode::TotalSizeLimitExceeded);
    assert!(s.get(ID, "Custom:B").is_none());
    // Shrinking A in the same request makes room.
    s.apply(
        &req(vec![
            full("Custom:A", None, "v", 400),
            full("Custom:B", None, "v", 500),
        ]),
        limits,
    )
    .unwrap();
    assert_eq!(s.node_bytes(ID), 900);
    // Other nodes have their own total.
    let other = PutInventoryRequest {
        instance_id: "i-01234567".into(),
        items: vec![full("Custom:A", None, "v", 900)],
    };
    s.apply(&other, limits).unwrap();
}

#[test]
fn a_failing_request_changes_nothing() {
    let mut s = Store::default();
    s.apply(&req(vec![full("Custom:A", Some("h1"), "v1", 100)]), LIMITS)
        .unwrap();
    let err = s
        .apply(
            &req(vec![
                full("Custom:A", Some("h2"), "v2", 100),
                full("Custom:B", Some("h1"), "v1", 100),
                hash_only("Custom:C", "hx", "2026-11-27T11:00:00Z"),
            ]),
            LIMITS,
        )
        .unwrap_err();
    assert_eq!(err.code, ErrorCode::ItemContentMismatch);
    assert_eq!(s.get(ID, "Custom:A").unwrap().content, vec![row("k", "v1")]);
    assert!(s.get(ID, "Custom:B").is_none());
    assert_eq!(s.custom_type_count(), 1);
}
