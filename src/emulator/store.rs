//! What the emulated account holds: the latest item per node and type, and the account-wide
//! set of custom types.
//!
//! [`Store::apply`] checks every stateful rule of a request before it changes anything, so a
//! request either lands whole or not at all, as on the real service.
//!
//! ContentHash semantics, as the API reference states them ("the PutInventory API does not
//! update the inventory item type contents if the MD5 hash has not changed"):
//! * a hash-only item (no Content) must name the hash stored for that node and type, else
//!   `ItemContentMismatchException` (with the TypeName); when it matches, only CaptureTime is
//!   refreshed;
//! * an item with Content and the same ContentHash as stored is not stored again either: only
//!   CaptureTime and SchemaVersion are refreshed. (A client whose hash does not follow its
//!   content would lose updates on the real service; this makes it lose them here too.)
//! * any other item with Content replaces what was stored; `Content: []` stores an empty type.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde::Serialize;

use super::error::{ApiError, ErrorCode};
use super::rules::{PutInventoryRequest, Row};

/// A snapshot of one stored inventory item.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct StoredItem {
    pub schema_version: String,
    pub capture_time: String,
    pub content_hash: Option<String>,
    pub content: Vec<Row>,
}

#[derive(Clone, Debug)]
struct Entry {
    item: StoredItem,
    /// Size of the item as it was sent, what the node total is measured on.
    bytes: usize,
}

#[derive(Default, Debug)]
struct Node {
    types: BTreeMap<String, Entry>,
    total_bytes: usize,
}

/// The limits that depend on what is already stored.
#[derive(Clone, Copy, Debug)]
pub struct StoreLimits {
    pub max_custom_types: usize,
    pub max_node_bytes: usize,
}

/// What an accepted request did, for statistics.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Applied {
    /// Items whose content was (re)stored.
    pub stored: usize,
    /// Items that only refreshed CaptureTime (hash-only, or unchanged hash).
    pub refreshed: usize,
}

#[derive(Default, Debug)]
pub struct Store {
    nodes: HashMap<String, Node>,
    /// Account-wide: a custom type exists once any node has stored it.
    custom_types: BTreeSet<String>,
}

impl Store {
    pub fn get(&self, instance_id: &str, type_name: &str) -> Option<&StoredItem> {
        self.nodes
            .get(instance_id)?
            .types
            .get(type_name)
            .map(|e| &e.item)
    }

    pub fn custom_type_count(&self) -> usize {
        self.custom_types.len()
    }

    #[cfg(test)]
    pub fn node_bytes(&self, instance_id: &str) -> usize {
        self.nodes.get(instance_id).map_or(0, |n| n.total_bytes)
    }

    /// Each node's stored total, what `max_node_bytes` is compared with.
    pub fn node_totals(&self) -> impl Iterator<Item = (&str, usize)> {
        self.nodes
            .iter()
            .map(|(id, n)| (id.as_str(), n.total_bytes))
    }

    /// Applies a request that passed the stateless rules, or refuses it whole.
    pub fn apply(
        &mut self,
        req: &PutInventoryRequest,
        limits: StoreLimits,
    ) -> Result<Applied, ApiError> {
        let empty = Node::default();
        let node = self.nodes.get(&req.instance_id).unwrap_or(&empty);

        // Hash-only items must match what is stored.
        for item in &req.items {
            if item.content.is_some() {
                continue;
            }
            let stored = node
                .types
                .get(&item.type_name)
                .and_then(|e| e.item.content_hash.as_deref());
            if stored != item.content_hash.as_deref() {
                let why = match stored {
                    None => "no content is stored for it".to_owned(),
                    Some(_) => "the stored ContentHash differs".to_owned(),
                };
                return Err(ApiError::new(
                    ErrorCode::ItemContentMismatch,
                    format!(
                        "Item {} was sent without Content and its ContentHash does not match: {why}",
                        item.type_name
                    ),
                )
                .with_type_name(&item.type_name));
            }
        }

        // The account-wide custom type count: types already known always go through.
        let new_types: BTreeSet<&str> = req
            .items
            .iter()
            .map(|i| i.type_name.as_str())
            .filter(|t| t.starts_with("Custom:") && !self.custom_types.contains(*t))
            .collect();
        if !new_types.is_empty()
            && self.custom_types.len() + new_types.len() > limits.max_custom_types
        {
            return Err(ApiError::new(
                ErrorCode::CustomSchemaCountLimitExceeded,
                format!(
                    "The account has {} custom inventory types; adding {} would exceed the limit of {}",
                    self.custom_types.len(),
                    new_types.into_iter().collect::<Vec<_>>().join(", "),
                    limits.max_custom_types
                ),
            ));
        }

        // The node total after this request.
        let mut total = node.total_bytes;
        for item in &req.items {
            if item.content.is_none() {
                continue; // a refresh does not change what is stored
            }
            let old = node.types.get(&item.type_name);
            if old.is_some_and(|e| {
                e.item.content_hash.is_some() && e.item.content_hash == item.content_hash
            }) {
                continue; // unchanged hash: content is not replaced
            }
            total = total - old.map_or(0, |e| e.bytes) + item.bytes;
        }
        if total > limits.max_node_bytes {
            return Err(ApiError::new(
                ErrorCode::TotalSizeLimitExceeded,
                format!(
                    "Inventory of {} would be {total} bytes, over the limit of {} bytes",
                    req.instance_id, limits.max_node_bytes
                ),
            ));
        }

        // Everything passed: apply.
        let node = self.nodes.entry(req.instance_id.clone()).or_default();
        let mut applied = Applied::default();
        for item in &req.items {
            if item.type_name.starts_with("Custom:") {
                self.custom_types.insert(item.type_name.clone());
            }
            let existing = node.types.get_mut(&item.type_name);
            match (&item.content, existing) {
                (None, Some(entry)) => {
                    entry.item.capture_time.clone_from(&item.capture_time);
                    applied.refreshed += 1;
                }
                (Some(_), Some(entry))
                    if entry.item.content_hash.is_some()
                        && entry.item.content_hash == item.content_hash =>
                {
                    entry.item.capture_time.clone_from(&item.capture_time);
                    entry.item.schema_version.clone_from(&item.schema_version);
                    applied.refreshed += 1;
                }
                (Some(content), existing) => {
                    let old_bytes = existing.map_or(0, |e| e.bytes);
                    node.total_bytes = node.total_bytes - old_bytes + item.bytes;
                    node.types.insert(
                        item.type_name.clone(),
                        Entry {
                            item: StoredItem {
                                schema_version: item.schema_version.clone(),
                                capture_time: item.capture_time.clone(),
                                content_hash: item.content_hash.clone(),
                                content: content.clone(),
                            },
                            bytes: item.bytes,
                        },
                    );
                    applied.stored += 1;
                }
                // Unreachable: the mismatch check above refused hash-only items with nothing
                // stored. Kept as a no-op rather than a panic.
                (None, None) => {}
            }
        }
        Ok(applied)
    }
}

#[cfg(test)]
mod tests {
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
}
