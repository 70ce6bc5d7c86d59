//! The PutInventory request body: rendered here and sent as it is (the SDK serialises only the
//! items' other members, and its body is replaced before signing: see `sender::put`), in the
//! shape aws-sdk-ssm would give it.
//!
//! The batcher's byte budget is only worth something if it measures what is actually sent.
//! The SDK writes an `InventoryItem`'s members in model order (TypeName, SchemaVersion,
//! CaptureTime, ContentHash, Content) as compact JSON, escaping only `"`, `\` and control
//! characters — the same escapes serde_json uses — so serialising the same shape with
//! serde_json gives the same length. Content rows are hash maps in the SDK, so their key order
//! differs from ours, but not their length. `dry-run` prints these bodies, so an operator sees
//! what would go over the wire.

use std::io;

use bytes::Bytes;
use serde::Serialize;

use crate::inventory::Item;

/// Whether an item is sent with its Content or as its ContentHash alone (a refresh of an
/// item the service already holds).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Payload {
    Full,
    HashOnly,
}

/// An item's members before its Content, in the order the SDK writes them.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct WireItem<'a> {
    type_name: &'a str,
    schema_version: &'a str,
    capture_time: &'a str,
    content_hash: &'a str,
}

impl<'a> WireItem<'a> {
    fn new(item: &'a Item) -> Self {
        WireItem {
            type_name: item.type_name(),
            schema_version: item.schema_version(),
            capture_time: item.capture_time(),
            content_hash: item.content_hash(),
        }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct WireRequest<'a> {
    instance_id: &'a str,
    items: [(); 0],
}

/// Counts bytes instead of storing them, so sizing a 10,000-row item allocates nothing.
struct Counter(usize);

impl io::Write for Counter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0 += buf.len();
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

fn serialized_len<T: Serialize>(value: &T) -> usize {
    let mut counter = Counter(0);
    // Writing strings into a counter cannot fail: no I/O happens and every map key is a string.
    let _ = serde_json::to_writer(&mut counter, value);
    counter.0
}

/// What a full item adds to its hash-only form, before the Content itself.
const CONTENT_MEMBER: &str = ",\"Content\":";

/// Bytes one item occupies inside the `Items` array.
///
/// The Content is not serialised again to size it: its bytes in the body are exactly its
/// canonical bytes (the rows in the order they were hashed, keys in byte order, the same
/// escapes), whose length the item already knows. Only the few members around it are counted.
pub fn item_bytes(item: &Item, payload: Payload) -> usize {
    let hash_only = serialized_len(&WireItem::new(item));
    match payload {
        Payload::HashOnly => hash_only,
        Payload::Full => hash_only + CONTENT_MEMBER.len() + item.content_bytes(),
    }
}

/// Bytes a request spends outside its items: `{"InstanceId":"…","Items":[` and `]}`.
pub fn request_overhead(instance_id: &str) -> usize {
    serialized_len(&WireRequest {
        instance_id,
        items: [],
    })
}

/// The request body for `items` in pieces: the members around each Content, written here,
/// and each full item's canonical bytes as they are, shared with the item and not copied.
/// This is what is sent (see `sender::put`): a 1 MB request would otherwise copy its items'
/// Content once more, beside the items that still hold it.
pub fn request_pieces(instance_id: &str, items: &[(&Item, Payload)]) -> Vec<Bytes> {
    let mut pieces = Vec::with_capacity(2 * items.len() + 1);
    let mut text = Vec::with_capacity(256);
    text.extend_from_slice(b"{\"InstanceId\":");
    // Writing into a Vec cannot fail: no I/O happens and every member is a string.
    let _ = serde_json::to_writer(&mut text, instance_id);
    text.extend_from_slice(b",\"Items\":[");
    for (i, &(item, payload)) in items.iter().enumerate() {
        if i > 0 {
            text.push(b',');
        }
        let _ = serde_json::to_writer(&mut text, &WireItem::new(item));
        if payload == Payload::Full {
            // `{…}` becomes `{…,"Content":[…]}`.
            text.pop();
            text.extend_from_slice(CONTENT_MEMBER.as_bytes());
            pieces.push(Bytes::from(std::mem::take(&mut text)));
            pieces.push(item.shared_content());
            text.push(b'}');
        }
    }
    text.extend_from_slice(b"]}");
    pieces.push(Bytes::from(text));
    pieces
}

/// The whole request body for `items` in one buffer, the pieces of [`request_pieces`] joined:
/// what `once --dry-run` prints. Its length is what the sizes above give.
pub fn request_body(instance_id: &str, items: &[(&Item, Payload)]) -> Vec<u8> {
    let pieces = request_pieces(instance_id, items);
    let mut body = Vec::with_capacity(pieces.iter().map(Bytes::len).sum());
    for piece in &pieces {
        body.extend_from_slice(piece);
    }
    body
}

#[cfg(test)]
mod tests;
