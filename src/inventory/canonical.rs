//! The canonical form of an item's Content and its ContentHash.
//!
//! The service skips content whose ContentHash it already holds, so the hash must change when
//! and only when the content does: key order and (unless the probe says order matters) row
//! order must not move it. Each row is compact JSON with keys in byte order — a `BTreeMap`
//! of `String`s iterates in exactly that order, and serde_json writes only the escapes JSON
//! requires — rows are sorted by those bytes, and the hash is the standard base64 of the MD5
//! of `[row,row,…]`: the same 24-character shape the SSM Agent sends.
//!
//! Speed: this runs over every byte of every item a probe produces, so all rows are written
//! into one buffer (no allocation per row), sorted as (offset, length) pairs, and hashed from
//! that buffer; the length of the canonical bytes is kept, because it is also the length of
//! the item's Content in the request body and the batcher needs it.

use base64::Engine as _;
use md5::{Digest, Md5};

use super::Row;

/// Length of every ContentHash this module produces (base64 of 16 bytes, padded).
pub const CONTENT_HASH_LEN: usize = 24;

/// Serialises one row canonically.
pub fn row_json(row: &Row) -> Vec<u8> {
    let mut out = Vec::new();
    write_row(&mut out, row);
    out
}

/// Appends one row's canonical JSON to `out`.
fn write_row(out: &mut Vec<u8>, row: &Row) {
    // Serialising a map of strings to strings into a Vec cannot fail: there is no I/O and
    // every key is a string.
    let _ = serde_json::to_writer(&mut *out, row);
}

/// The ContentHash of some rows and the length of their canonical bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Canonical {
    pub content_hash: String,
    /// Bytes of `[row,row,…]`: what was hashed, and the Content's length in a request body.
    pub content_bytes: usize,
}

/// Puts `rows` into canonical order (unless `keep_order`) and returns their ContentHash.
///
/// Sorting the rows themselves, not just the hash input, keeps what is sent identical to
/// what was hashed, so the service's view and ours cannot drift.
pub fn canonicalize(rows: &mut Vec<Row>, keep_order: bool) -> Canonical {
    let mut buffer: Vec<u8> = Vec::new();
    let mut spans: Vec<(usize, usize)> = Vec::with_capacity(rows.len());
    for row in rows.iter() {
        let start = buffer.len();
        write_row(&mut buffer, row);
        spans.push((start, buffer.len()));
    }
    let mut order: Vec<usize> = (0..rows.len()).collect();
    if !keep_order {
        // Equal bytes are equal rows, so an unstable sort gives the same content.
        order.sort_unstable_by(|&a, &b| {
            let (a0, a1) = spans[a];
            let (b0, b1) = spans[b];
            buffer[a0..a1].cmp(&buffer[b0..b1])
        });
    }
    let mut hasher = Md5::new();
    hasher.update(b"[");
    for (i, &index) in order.iter().enumerate() {
        if i > 0 {
            hasher.update(b",");
        }
        let (start, end) = spans[index];
        hasher.update(&buffer[start..end]);
    }
    hasher.update(b"]");
    // `[` + rows + one comma between each two + `]`.
    let content_bytes = buffer.len() + rows.len().saturating_sub(1) + 2;
    if !keep_order {
        let mut taken: Vec<Row> = std::mem::take(rows);
        rows.extend(order.iter().map(|&i| std::mem::take(&mut taken[i])));
    }
    Canonical {
        content_hash: base64::engine::general_purpose::STANDARD.encode(hasher.finalize()),
        content_bytes,
    }
}

/// The canonical Content bytes, for tools that want to show exactly what was hashed.
pub fn canonical_content(rows: &[Row]) -> Vec<u8> {
    let mut out = Vec::from(&b"["[..]);
    for (i, row) in rows.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        write_row(&mut out, row);
    }
    out.push(b']');
    out
}
