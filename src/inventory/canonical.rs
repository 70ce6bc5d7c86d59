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
//! into one buffer (no allocation per row), sorted as (offset, length) pairs, copied in that
//! order into the canonical bytes and hashed from them. The item keeps those bytes as its
//! Content: they are exactly what a request body carries, and a third of the memory of the
//! rows they came from.

use base64::Engine as _;
use md5::{Digest, Md5};

use super::Row;
use super::validate::{ItemError, RowChecker};

/// Length of every ContentHash this module produces (base64 of 16 bytes, padded).
pub const CONTENT_HASH_LEN: usize = 24;

/// Serialises one row canonically (the same bytes serde_json writes for it).
pub fn row_json(row: &Row) -> Vec<u8> {
    let mut out = Vec::new();
    write_row(&mut out, row);
    out
}

/// Appends one row's canonical JSON to `out`: `{"key":"value",…}` with keys in the map's
/// (byte) order and the escapes serde_json writes — `\"`, `\\`, `\b`, `\f`, `\n`, `\r`, `\t`,
/// and `\u00xx` (lower-case hex) for the other control characters; nothing else, so UTF-8
/// text goes through unchanged. Written by hand because it runs over every byte of every item:
/// a string without anything to escape, the common case, is one search and one copy.
/// `row_json_is_serde_json` below checks it byte for byte against serde_json.
fn write_row(out: &mut Vec<u8>, row: &Row) {
    out.push(b'{');
    for (i, (key, value)) in row.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        write_str(out, key.as_bytes());
        out.push(b':');
        write_str(out, value.as_bytes());
    }
    out.push(b'}');
}

fn needs_escape(b: u8) -> bool {
    b < 0x20 || b == b'"' || b == b'\\'
}

/// Index of the first byte that JSON must escape, if any.
///
/// Eight bytes at a time: with `ONES` = 0x01 in every byte and `HIGHS` = 0x80, the
/// well-known expression `(w - ONES * n) & !w & HIGHS` is non-zero exactly when some byte of
/// `w` is below `n` (for n <= 0x80), and with n = 1 on `w ^ (ONES * c)` when some byte equals
/// `c`. A word without any of the three kinds of byte is skipped whole; the word that has one
/// is searched byte by byte for the exact position.
fn first_escape(bytes: &[u8]) -> Option<usize> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    let mut chunks = bytes.chunks_exact(8);
    let mut offset = 0;
    for chunk in &mut chunks {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        let w = u64::from_le_bytes(word);
        let control = w.wrapping_sub(ONES * 0x20) & !w;
        let quote =
            (w ^ (ONES * u64::from(b'"'))).wrapping_sub(ONES) & !(w ^ (ONES * u64::from(b'"')));
        let slash =
            (w ^ (ONES * u64::from(b'\\'))).wrapping_sub(ONES) & !(w ^ (ONES * u64::from(b'\\')));
        if (control | quote | slash) & HIGHS != 0
            && let Some(i) = chunk.iter().position(|&b| needs_escape(b))
        {
            return Some(offset + i);
        }
        offset += 8;
    }
    chunks
        .remainder()
        .iter()
        .position(|&b| needs_escape(b))
        .map(|i| offset + i)
}

fn write_str(out: &mut Vec<u8>, mut bytes: &[u8]) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.reserve(bytes.len() + 2);
    out.push(b'"');
    while let Some(at) = first_escape(bytes) {
        out.extend_from_slice(&bytes[..at]);
        let b = bytes[at];
        match b {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            0x08 => out.extend_from_slice(b"\\b"),
            0x0c => out.extend_from_slice(b"\\f"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            _ => out.extend_from_slice(&[
                b'\\',
                b'u',
                b'0',
                b'0',
                HEX[usize::from(b >> 4)],
                HEX[usize::from(b & 0xf)],
            ]),
        }
        bytes = &bytes[at + 1..];
    }
    out.extend_from_slice(bytes);
    out.push(b'"');
}

/// The ContentHash of some rows and the length of their canonical bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Canonical {
    pub content_hash: String,
    /// `[row,row,…]`: what was hashed, and the Content exactly as a request body carries it.
    pub content: Vec<u8>,
}

/// Checks `rows` against the row rules (see [`RowChecker`]) and returns their canonical bytes,
/// rows in canonical order (unless `keep_order`), and their ContentHash.
///
/// Checking and writing the canonical form happen in one pass over the rows: walking rows of
/// `BTreeMap`s is a good part of the cost, so they are walked once. The first error is the
/// one [`super::validate::check_rows`] would give. What is sent is these bytes, so what the
/// service holds and what was hashed cannot drift.
pub fn canonicalize(
    type_name: &str,
    rows: Vec<Row>,
    keep_order: bool,
) -> Result<Canonical, ItemError> {
    let mut buffer: Vec<u8> = Vec::new();
    let mut spans: Vec<(usize, usize)> = Vec::with_capacity(rows.len());
    {
        let mut checker = RowChecker::new(type_name, rows.len())?;
        for (row_index, row) in rows.iter().enumerate() {
            checker.row(row_index, row)?;
            let start = buffer.len();
            buffer.push(b'{');
            for (position, (key, value)) in row.iter().enumerate() {
                checker.attribute(row_index, position, key, value)?;
                if position > 0 {
                    buffer.push(b',');
                }
                write_str(&mut buffer, key.as_bytes());
                buffer.push(b':');
                write_str(&mut buffer, value.as_bytes());
            }
            buffer.push(b'}');
            spans.push((start, buffer.len()));
            if row_index == RESERVE_AFTER_ROWS && rows.len() > 2 * RESERVE_AFTER_ROWS {
                // The rows so far predict the rest: one allocation instead of a dozen doublings
                // (each a copy of everything written so far).
                let expected = buffer.len() / (row_index + 1) * rows.len();
                buffer.reserve((expected + expected / 8).saturating_sub(buffer.len()));
            }
        }
    }
    let row_count = rows.len();
    // Written out: from here on the bytes are the rows, and the maps (several times their
    // size) are freed before the canonical copy is made.
    drop(rows);
    let mut order: Vec<usize> = (0..row_count).collect();
    if !keep_order {
        // Rows of one type mostly share a long prefix (`{"FirstKey":"`), so comparing whole
        // slices compares that prefix every time. Instead each row gets the 8 bytes after the
        // prefix common to all rows as a big-endian number, and only rows whose numbers tie
        // are compared as slices. A row ending within those 8 bytes is padded with zeros,
        // which sorts it first, as the slice comparison does: JSON text never holds a raw 0.
        let common = common_prefix(&buffer, &spans);
        let key = |&(start, end): &(usize, usize)| -> u64 {
            let from = (start + common).min(end);
            let take = (end - from).min(8);
            let mut word = [0u8; 8];
            word[..take].copy_from_slice(&buffer[from..from + take]);
            u64::from_be_bytes(word)
        };
        let keys: Vec<u64> = spans.iter().map(key).collect();
        // Equal bytes are equal rows, so an unstable sort gives the same content.
        order.sort_unstable_by(|&a, &b| {
            keys[a].cmp(&keys[b]).then_with(|| {
                let (a0, a1) = spans[a];
                let (b0, b1) = spans[b];
                buffer[a0..a1].cmp(&buffer[b0..b1])
            })
        });
    }
    // `[` + rows + one comma between each two + `]`.
    let mut content = Vec::with_capacity(buffer.len() + row_count.saturating_sub(1) + 2);
    content.push(b'[');
    for (i, &index) in order.iter().enumerate() {
        if i > 0 {
            content.push(b',');
        }
        let (start, end) = spans[index];
        content.extend_from_slice(&buffer[start..end]);
    }
    content.push(b']');
    drop(buffer);
    let content_hash = base64::engine::general_purpose::STANDARD.encode(Md5::digest(&content));
    Ok(Canonical {
        content_hash,
        content,
    })
}

/// Rows written before the buffer is sized for the whole item.
const RESERVE_AFTER_ROWS: usize = 15;

/// Length of the prefix all rows share.
fn common_prefix(buffer: &[u8], spans: &[(usize, usize)]) -> usize {
    let Some(&(first_start, first_end)) = spans.first() else {
        return 0;
    };
    let first = &buffer[first_start..first_end];
    let mut common = first.len();
    for &(start, end) in &spans[1..] {
        let row = &buffer[start..end];
        common = first[..common]
            .iter()
            .zip(row)
            .take_while(|(a, b)| a == b)
            .count();
        if common == 0 {
            break;
        }
    }
    common
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

#[cfg(test)]
mod tests;
