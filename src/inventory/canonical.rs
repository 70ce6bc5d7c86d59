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
//! into one buffer as they arrive ([`Rows`], no allocation per row), sorted as (offset,
//! length) pairs, copied in that order into the canonical bytes (unless already in order) and
//! hashed from them. The item keeps those bytes as its Content: they are exactly what a
//! request body carries.

use base64::Engine as _;
use md5::{Digest, Md5};

use super::Row;
use super::limits::MAX_ROWS;
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

/// `"name":"value"` for a name and value known to hold nothing JSON escapes: one reservation
/// and two copies, without the search [`write_str`] makes.
fn write_plain(out: &mut Vec<u8>, name: &str, value: &str) {
    debug_assert!(
        first_escape(name.as_bytes()).is_none() && first_escape(value.as_bytes()).is_none(),
        "an attribute given as plain holds a byte JSON escapes: {name:?}: {value:?}"
    );
    out.reserve(name.len() + value.len() + 5);
    out.push(b'"');
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b"\":\"");
    out.extend_from_slice(value.as_bytes());
    out.push(b'"');
}

/// One attribute on its way into [`Rows::push_attributes`].
#[derive(Debug, Clone, Copy)]
pub struct Attribute<'a> {
    pub name: &'a str,
    pub value: &'a str,
    /// Neither name nor value holds a byte that JSON escapes (`"`, `\`, below 0x20), so both
    /// are copied as they are, without the search for one. True of a string read from JSON
    /// text without escape sequences, which JSON does not allow those bytes raw in, and of a
    /// number's or boolean's text: nearly every attribute a probe prints. Debug builds check
    /// it.
    pub plain: bool,
}

impl<'a> Attribute<'a> {
    /// An attribute not known to be plain: it is searched for bytes to escape as it is
    /// written.
    pub fn new(name: &'a str, value: &'a str) -> Attribute<'a> {
        Attribute {
            name,
            value,
            plain: false,
        }
    }
}

/// The ContentHash of some rows and their canonical bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Canonical {
    pub content_hash: String,
    /// `[row,row,…]`: what was hashed, and the Content exactly as a request body carries it.
    pub content: Vec<u8>,
}

/// Content rows written in their canonical form as they arrive, checked against the row rules
/// on the way (see [`RowChecker`]), and put in canonical order once all are in
/// ([`Rows::finish`]).
///
/// This is what a probe's output is read into: a row exists only as its canonical bytes, never
/// as a map of strings (which took three times the bytes and an allocation per attribute), so
/// reading a 10,000 × 50 output costs about its own size again, not eleven times it
/// (BENCHMARKS.md). The bytes are already laid out as the Content (`[row,row,…`, the closing
/// bracket added at the end), so rows that arrive in canonical order — or an item that keeps
/// its order — become the item's Content without another copy.
#[derive(Debug, Clone, Default)]
pub struct Rows {
    /// `[` and the rows so far, a comma between each two.
    bytes: Vec<u8>,
    /// Where each row is in `bytes`.
    spans: Vec<(usize, usize)>,
    /// Rows given, including those past the limit, which are counted and not kept.
    count: usize,
    checker: RowChecker,
    /// The first row rule broken, with an empty TypeName.
    problem: Option<ItemError>,
}

impl PartialEq for Rows {
    /// The same rows, in the same order, with the same verdict.
    fn eq(&self, other: &Rows) -> bool {
        self.count == other.count
            && self.problem == other.problem
            && self.spans.len() == other.spans.len()
            && self.rows_bytes().eq(other.rows_bytes())
    }
}

impl Eq for Rows {}

impl From<&[Row]> for Rows {
    fn from(rows: &[Row]) -> Rows {
        let mut out = Rows::default();
        for row in rows {
            out.push(row.len(), row.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        }
        out
    }
}

impl From<Vec<Row>> for Rows {
    /// Each map is freed as soon as its row is written, while what it points to is still in
    /// the cache: freeing them all afterwards went back through memory the size of the maps
    /// (several times the rows' bytes) and was about a fifth of the pipeline benchmark
    /// (BENCHMARKS.md).
    fn from(rows: Vec<Row>) -> Rows {
        let mut out = Rows::default();
        for row in rows {
            out.push(row.len(), row.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        }
        out
    }
}

impl Rows {
    /// Rows whose bytes are expected to take about `bytes`: one allocation instead of a dozen
    /// doublings, each a copy of everything written so far.
    pub fn with_capacity(bytes: usize) -> Rows {
        Rows {
            bytes: Vec::with_capacity(bytes),
            ..Rows::default()
        }
    }

    /// Adds a row of `len` attributes, given in byte order of their names, each name once.
    pub fn push<'a>(&mut self, len: usize, attributes: impl Iterator<Item = (&'a str, &'a str)>) {
        self.push_attributes(
            len,
            false,
            attributes.map(|(name, value)| Attribute::new(name, value)),
        );
    }

    /// [`Rows::push`] for attributes that may be known to need no escaping
    /// ([`Attribute::plain`]). `names_as_last`: the names are those of the last row pushed
    /// here, in the same order, so they are not checked again (their values are).
    pub fn push_attributes<'a>(
        &mut self,
        len: usize,
        names_as_last: bool,
        attributes: impl Iterator<Item = Attribute<'a>>,
    ) {
        let row_index = self.count;
        self.count += 1;
        if self.count > MAX_ROWS || self.problem.is_some() {
            // The item is refused; what is left is only counted.
            return;
        }
        let started = if names_as_last && row_index > 0 {
            self.checker.row_as_last(row_index, len)
        } else {
            self.checker.row(row_index, len)
        };
        if let Err(e) = started {
            self.problem = Some(e);
            return;
        }
        if self.bytes.is_empty() {
            self.bytes.push(b'[');
        } else {
            self.bytes.push(b',');
        }
        let start = self.bytes.len();
        self.bytes.push(b'{');
        for (position, attribute) in attributes.enumerate() {
            let Attribute { name, value, plain } = attribute;
            if let Err(e) = self.checker.attribute(row_index, position, name, value) {
                self.problem = Some(e);
                return;
            }
            if position > 0 {
                self.bytes.push(b',');
            }
            if plain {
                write_plain(&mut self.bytes, name, value);
            } else {
                write_str(&mut self.bytes, name.as_bytes());
                self.bytes.push(b':');
                write_str(&mut self.bytes, value.as_bytes());
            }
        }
        self.bytes.push(b'}');
        self.spans.push((start, self.bytes.len()));
    }

    /// Rows given so far (the limit is enforced by [`Rows::finish`]).
    pub fn len(&self) -> usize {
        self.count
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Each row's canonical bytes, in the order given.
    fn rows_bytes(&self) -> impl Iterator<Item = &[u8]> {
        self.spans
            .iter()
            .map(|&(start, end)| &self.bytes[start..end])
    }

    /// The rows read back into maps, in the order given: for tools and tests, which compare
    /// rows; the daemon never needs them.
    pub fn to_rows(&self) -> Vec<Row> {
        // Written from strings by `push`, so every row reads back.
        self.rows_bytes()
            .map(|bytes| serde_json::from_slice(bytes).unwrap_or_default())
            .collect()
    }

    /// Checks the row count and the rows, and returns their canonical bytes — rows in
    /// canonical order unless `keep_order` — and their ContentHash. The first error is the
    /// one [`super::validate::check_rows`] would give, about `type_name`.
    pub fn finish(self, type_name: &str, keep_order: bool) -> Result<Canonical, ItemError> {
        let Rows {
            mut bytes,
            spans,
            count,
            problem,
            ..
        } = self;
        if count > MAX_ROWS {
            return Err(ItemError::TooManyRows {
                type_name: type_name.to_owned(),
                rows: count,
            });
        }
        if let Some(problem) = problem {
            return Err(problem.for_type(type_name));
        }
        let order = if keep_order {
            None
        } else {
            canonical_order(&bytes, &spans)
        };
        let content = match order {
            None => {
                // Already in order: the bytes are the Content once closed.
                if bytes.is_empty() {
                    bytes.push(b'[');
                }
                bytes.push(b']');
                bytes.shrink_to_fit();
                bytes
            }
            Some(order) => {
                // `[` + rows + one comma between each two + `]`.
                let mut content = Vec::with_capacity(bytes.len() + 1);
                content.push(b'[');
                for (i, &index) in order.iter().enumerate() {
                    if i > 0 {
                        content.push(b',');
                    }
                    let (start, end) = spans[index];
                    content.extend_from_slice(&bytes[start..end]);
                }
                content.push(b']');
                content
            }
        };
        let content_hash = base64::engine::general_purpose::STANDARD.encode(Md5::digest(&content));
        Ok(Canonical {
            content_hash,
            content,
        })
    }
}

/// The rows' indices in canonical (byte) order, or `None` when they are in it already.
fn canonical_order(bytes: &[u8], spans: &[(usize, usize)]) -> Option<Vec<usize>> {
    let row = |i: usize| &bytes[spans[i].0..spans[i].1];
    if (1..spans.len()).all(|i| row(i - 1) <= row(i)) {
        return None;
    }
    // Rows of one type mostly share a long prefix (`{"FirstKey":"`), so comparing whole
    // slices compares that prefix every time. Instead each row gets the 8 bytes after the
    // prefix common to all rows as a big-endian number, and only rows whose numbers tie are
    // compared as slices. A row ending within those 8 bytes is padded with zeros, which sorts
    // it first, as the slice comparison does: JSON text never holds a raw 0.
    let common = common_prefix(bytes, spans);
    let key = |&(start, end): &(usize, usize)| -> u64 {
        let from = (start + common).min(end);
        let take = (end - from).min(8);
        let mut word = [0u8; 8];
        word[..take].copy_from_slice(&bytes[from..from + take]);
        u64::from_be_bytes(word)
    };
    let keys: Vec<u64> = spans.iter().map(key).collect();
    let mut order: Vec<usize> = (0..spans.len()).collect();
    // Equal bytes are equal rows, so an unstable sort gives the same content.
    order.sort_unstable_by(|&a, &b| keys[a].cmp(&keys[b]).then_with(|| row(a).cmp(row(b))));
    Some(order)
}

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
