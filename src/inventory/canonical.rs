//! The canonical form of an item's Content and its ContentHash.
//!
//! The service skips content whose ContentHash it already holds, so the hash must change when
//! and only when the content does: key order and (unless the probe says order matters) row
//! order must not move it. Each row is compact JSON with keys in byte order — a `BTreeMap`
//! of `String`s iterates in exactly that order, and serde_json writes only the escapes JSON
//! requires — rows are sorted by those bytes, and the hash is the standard base64 of the MD5
//! of `[row,row,…]`: the same 24-character shape the SSM Agent sends.

use base64::Engine as _;
use md5::{Digest, Md5};

use super::Row;

/// Length of every ContentHash this module produces (base64 of 16 bytes, padded).
pub const CONTENT_HASH_LEN: usize = 24;

/// Serialises one row canonically.
pub fn row_json(row: &Row) -> Vec<u8> {
    // Serialising a map of strings to strings into a Vec cannot fail: there is no I/O and
    // every key is a string.
    serde_json::to_vec(row).unwrap_or_default()
}

/// Puts `rows` into canonical order (unless `keep_order`) and returns their ContentHash.
///
/// Sorting the rows themselves, not just the hash input, keeps what is sent identical to
/// what was hashed, so the service's view and ours cannot drift.
pub fn canonicalize(rows: &mut Vec<Row>, keep_order: bool) -> String {
    let mut encoded: Vec<(Vec<u8>, Row)> = rows.drain(..).map(|r| (row_json(&r), r)).collect();
    if !keep_order {
        encoded.sort_by(|a, b| a.0.cmp(&b.0));
    }
    let mut hasher = Md5::new();
    hasher.update(b"[");
    for (i, (json, _)) in encoded.iter().enumerate() {
        if i > 0 {
            hasher.update(b",");
        }
        hasher.update(json);
    }
    hasher.update(b"]");
    rows.extend(encoded.into_iter().map(|(_, r)| r));
    base64::engine::general_purpose::STANDARD.encode(hasher.finalize())
}

/// The canonical Content bytes, for tools that want to show exactly what was hashed.
pub fn canonical_content(rows: &[Row]) -> Vec<u8> {
    let mut out = Vec::from(&b"["[..]);
    for (i, row) in rows.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend(row_json(row));
    }
    out.push(b']');
    out
}
