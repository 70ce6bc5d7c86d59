//! The inventory item model: what a probe produces and what PutInventory carries.
//!
//! An [`Item`] can only be built through [`Item::new`], which validates it against the
//! PutInventory rules and computes its ContentHash, so every item that exists downstream is
//! one the service should accept and whose hash is known.

pub mod canonical;
pub mod limits;
pub mod validate;

use std::collections::BTreeMap;
use std::sync::Arc;

pub use canonical::{CONTENT_HASH_LEN, Rows};
pub use validate::{ItemError, check_capture_time, check_schema_version, check_type_name};

/// One row of Content: attribute name to string value. Keys iterate in byte order, which is
/// the canonical key order.
pub type Row = BTreeMap<String, String>;

/// The parts of an item before validation, as a probe produced them.
#[derive(Debug, Clone, Default)]
pub struct RawItem {
    pub type_name: String,
    pub schema_version: String,
    pub capture_time: String,
    pub rows: Vec<Row>,
    /// Only the SSM Agent's `AWS:ComplianceItem` uses Context; a probe that supplies one for a
    /// `Custom:` type is refused rather than silently stripped.
    pub context: Option<BTreeMap<String, String>>,
    pub keep_order: bool,
}

/// An item's parts other than its rows, for [`Item::from_rows`].
#[derive(Debug, Clone, Default)]
pub struct ItemHead {
    pub type_name: String,
    pub schema_version: String,
    pub capture_time: String,
    /// See [`RawItem::context`].
    pub context: Option<Row>,
    pub keep_order: bool,
}

/// A validated inventory item with its ContentHash.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Item {
    type_name: String,
    schema_version: String,
    capture_time: String,
    content_hash: String,
    /// The canonical Content bytes (`[row,row,…]`, what was hashed and what a request body
    /// carries), not rows: rows of `BTreeMap`s take about three times their JSON size (99 bytes
    /// an attribute against 33 for a 10,000 × 8 item, BENCHMARKS.md). Shared, so that cloning an
    /// item (a probe keeping its last good items, the outbox, a push holding what it sends)
    /// costs a reference count, not a copy.
    /// A `Vec` behind the `Arc`, not a slice: `Arc<[u8]>` from the canonical bytes would copy
    /// them once more.
    #[serde(serialize_with = "serialize_content")]
    content: Arc<Vec<u8>>,
    /// Set on an item whose content the service has acknowledged and that was therefore let
    /// go (see [`Item::without_content`]); such an item can only be sent hash-only.
    #[serde(skip)]
    content_dropped: bool,
    /// What keeps the Content counted in the daemon's probe budget (`probe::limit`) while
    /// this item or a copy of it holds the Content; let go with it.
    #[serde(skip)]
    hold: Keepalive,
}

/// Something kept alive as long as an item's Content: shared by the item's copies, and no
/// part of what the item is (two items equal in everything else are equal).
#[derive(Clone, Default)]
struct Keepalive(Option<Arc<dyn std::any::Any + Send + Sync>>);

impl PartialEq for Keepalive {
    fn eq(&self, _: &Keepalive) -> bool {
        true
    }
}

impl Eq for Keepalive {}

impl std::fmt::Debug for Keepalive {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_some() { "held" } else { "-" })
    }
}

impl Item {
    /// Validates `raw` against every PutInventory rule and computes its ContentHash.
    pub fn new(raw: RawItem) -> Result<Item, ItemError> {
        let RawItem {
            type_name,
            schema_version,
            capture_time,
            rows,
            context,
            keep_order,
        } = raw;
        let canonical = Rows::from(rows);
        let head = ItemHead {
            type_name,
            schema_version,
            capture_time,
            context,
            keep_order,
        };
        Item::from_rows(head, canonical)
    }

    /// Validates `head` and `rows` (already in canonical form: a probe's output is read
    /// straight into them) against every PutInventory rule and computes the ContentHash. The
    /// rules are checked in the order [`Item::new`] checks them.
    pub fn from_rows(head: ItemHead, rows: Rows) -> Result<Item, ItemError> {
        let ItemHead {
            type_name,
            schema_version,
            capture_time,
            context,
            keep_order,
        } = head;
        check_type_name(&type_name)?;
        check_schema_version(&type_name, &schema_version)?;
        check_capture_time(&type_name, &capture_time)?;
        if context.is_some() {
            return Err(ItemError::ContextNotAllowed { type_name });
        }
        let canonical = rows.finish(&type_name, keep_order)?;
        Ok(Item {
            type_name,
            schema_version,
            capture_time,
            content_hash: canonical.content_hash,
            content: Arc::new(canonical.content),
            content_dropped: false,
            hold: Keepalive::default(),
        })
    }

    /// The same item without its rows. Content the service has acknowledged is not ours to
    /// hold again: the hash alone is enough to skip it or refresh it hash-only, and should
    /// the service ever need the content back, the probe runs again.
    pub fn without_content(&self) -> Item {
        Item {
            type_name: self.type_name.clone(),
            schema_version: self.schema_version.clone(),
            capture_time: self.capture_time.clone(),
            content_hash: self.content_hash.clone(),
            content: Arc::new(b"[]".to_vec()),
            content_dropped: true,
            hold: Keepalive::default(),
        }
    }

    /// Keeps `hold` alive as long as this item, or a copy made from now on, holds its
    /// Content (see `probe::limit`).
    pub fn set_hold(&mut self, hold: Arc<dyn std::any::Any + Send + Sync>) {
        self.hold = Keepalive(Some(hold));
    }

    /// Stops counting this copy's Content in the probe budget: for an item the service has
    /// refused, which no delivery will let go.
    pub fn release_hold(&mut self) {
        self.hold = Keepalive::default();
    }

    /// False for an item made by [`Item::without_content`]: it cannot be sent in full.
    pub fn has_content(&self) -> bool {
        !self.content_dropped
    }

    pub fn type_name(&self) -> &str {
        &self.type_name
    }
    pub fn schema_version(&self) -> &str {
        &self.schema_version
    }
    pub fn capture_time(&self) -> &str {
        &self.capture_time
    }
    pub fn content_hash(&self) -> &str {
        &self.content_hash
    }
    /// Rows in the order they are sent and were hashed, read back from the canonical bytes
    /// (for tools and tests: the daemon itself sends [`Item::content_json`]). None for an item
    /// whose content was let go.
    pub fn content(&self) -> Vec<Row> {
        if self.content_dropped {
            return Vec::new();
        }
        // The bytes were written by `canonicalize` from rows of strings, so they read back.
        serde_json::from_slice(&self.content).unwrap_or_default()
    }
    /// The canonical Content bytes (`[row,row,…]`): what was hashed, and the Content of a
    /// request body. `[]` for an item whose content was let go.
    pub fn content_json(&self) -> &[u8] {
        &self.content
    }
    /// Bytes of the canonical Content: what was hashed, and what the Content takes in a
    /// request body.
    pub fn content_bytes(&self) -> usize {
        self.content.len()
    }
    /// The canonical Content bytes as a buffer that shares them with this item: a request body
    /// carries them without a copy (`wire::request_pieces`). `[]` for an item whose content
    /// was let go.
    pub fn shared_content(&self) -> bytes::Bytes {
        bytes::Bytes::from_owner(SharedContent {
            content: Arc::clone(&self.content),
            _hold: self.hold.clone(),
        })
    }
}

/// The canonical bytes written as they are (`collect` prints items with serde_json): reading
/// them back into rows first would cost a 10,000-row item tens of MB just to print it.
fn serialize_content<S: serde::Serializer>(
    content: &Arc<Vec<u8>>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    let raw: &serde_json::value::RawValue =
        serde_json::from_slice(content).map_err(serde::ser::Error::custom)?;
    serde::Serialize::serialize(raw, serializer)
}

/// The current time as a CaptureTime (`YYYY-MM-DDTHH:MM:SSZ`, UTC, whole seconds).
pub fn capture_time_now() -> String {
    format_capture_time(time::OffsetDateTime::now_utc())
}

pub fn format_capture_time(t: time::OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

/// An item's Content as the owner of a [`bytes::Bytes`], still counted in the probe budget
/// while a request body holds it.
struct SharedContent {
    content: Arc<Vec<u8>>,
    _hold: Keepalive,
}

impl AsRef<[u8]> for SharedContent {
    fn as_ref(&self) -> &[u8] {
        &self.content
    }
}

#[cfg(test)]
mod tests;
