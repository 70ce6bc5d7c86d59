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
mod tests;
