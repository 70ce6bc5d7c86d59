//! Rows: attributes checked against the limits as they arrive, and lists of rows counted.

use std::borrow::Cow;
use std::fmt;
use std::ops::Range;

use serde::Deserialize;
use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};

use super::{Key, Mode, Noted, Reader, Skip, refuse, skip_map, skip_seq};
use crate::inventory::canonical::Attribute;
use crate::inventory::limits::{
    MAX_ATTRIBUTE_NAME_CHARS, MAX_ATTRIBUTE_VALUE_CHARS, MAX_ATTRIBUTES_PER_ROW, MAX_ROWS,
};
use crate::inventory::{Row, Rows};
use crate::probe::output::{
    Limit, LimitError, OutputError, RowName, SHOWN_NAME_CHARS, member_path,
};

/// Characters in `s` when over `limit`; counting only strings whose bytes exceed it.
pub(super) fn chars_over(s: &str, limit: usize) -> Option<usize> {
    if s.len() <= limit {
        return None;
    }
    let chars = s.chars().count();
    (chars > limit).then_some(chars)
}

/// The start of an attribute name, as much as a message shows and one character more (so it
/// still shows the name was cut): a name over the limit can be megabytes long, and the error
/// holding it may be kept for a while.
fn shown_part(name: &str) -> String {
    name.chars().take(SHOWN_NAME_CHARS + 1).collect()
}

/// Where a row is: `container[index]`, or the container itself for a lone object.
#[derive(Debug, Clone, Copy)]
pub(super) struct RowAt<'p> {
    pub(super) container: &'p str,
    pub(super) index: Option<usize>,
    pub(super) name: RowName,
}

impl RowAt<'_> {
    pub(super) fn path(&self) -> String {
        match self.index {
            Some(i) => format!("{}[{i}]", self.container),
            None => self.container.to_owned(),
        }
    }

    pub(super) fn limit(&self, path: String, limit: Limit) -> OutputError {
        OutputError::Limit(Box::new(LimitError {
            type_name: None,
            path,
            limit,
        }))
    }
}

/// An attribute value as read.
pub(super) enum Attr<'de> {
    Str(Cow<'de, str>),
    /// A number's or boolean's JSON text.
    Scalar(Scalar),
    Null,
    /// An array or object (not returned in [`Mode::Stop`]), its contents skipped.
    Nested(&'static str),
    /// A string over the value limit, with its length in characters; not copied.
    TooLong(usize),
}

pub(super) struct AttrSeed<'a, 't> {
    pub(super) reader: &'a mut Reader<'t>,
    pub(super) mode: Mode,
    pub(super) at: RowAt<'a>,
    pub(super) key: &'a str,
}

impl<'de> DeserializeSeed<'de> for AttrSeed<'_, '_> {
    type Value = Attr<'de>;
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl AttrSeed<'_, '_> {
    fn nested<E: de::Error>(self, found: &'static str) -> Result<Attr<'static>, E> {
        let path = member_path(&self.at.path(), self.key);
        self.reader.stop(OutputError::Nested { path, found })
    }
}

pub(super) fn string_attr<'de>(s: Cow<'de, str>) -> Attr<'de> {
    match chars_over(&s, MAX_ATTRIBUTE_VALUE_CHARS) {
        Some(chars) => Attr::TooLong(chars),
        None => Attr::Str(s),
    }
}

/// The text serde_json gives a number when it prints it, as a `Value` holding it would.
pub(super) fn number_text(n: impl Into<serde_json::Number>) -> Scalar {
    Scalar::of(n.into())
}

/// A non-finite number cannot come from serde_json; were it to, `Value` would hold null.
pub(super) fn float_attr<'de>(v: f64) -> Attr<'de> {
    serde_json::Number::from_f64(v).map_or(Attr::Null, |n| Attr::Scalar(Scalar::of(n)))
}

/// Longest text [`Scalar`] holds: a boolean's is 5 bytes, an integer's at most 20, and the
/// longest an f64 prints as with serde_json (shortest round-trip form, e.g.
/// `-1.7976931348623157e308`) 23.
const SCALAR_BYTES: usize = 32;

/// A number's or boolean's JSON text, kept on the stack: numbers are common in probe output,
/// and a `String` for each would be an allocation per attribute.
pub(super) struct Scalar {
    len: usize,
    bytes: [u8; SCALAR_BYTES],
}

impl Scalar {
    pub(super) fn of(value: impl fmt::Display) -> Scalar {
        let mut scalar = Scalar {
            len: 0,
            bytes: [0; SCALAR_BYTES],
        };
        // Cannot fail: no boolean or serde_json number prints longer than SCALAR_BYTES.
        let _ = fmt::Write::write_fmt(&mut scalar, format_args!("{value}"));
        scalar
    }

    pub(super) fn as_str(&self) -> &str {
        // Only whole `&str`s are written (see `write_str`), so the bytes are UTF-8.
        std::str::from_utf8(&self.bytes[..self.len]).unwrap_or_default()
    }
}

impl fmt::Write for Scalar {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let end = self.len + s.len();
        let to = self.bytes.get_mut(self.len..end).ok_or(fmt::Error)?;
        to.copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

impl<'de> Visitor<'de> for AttrSeed<'_, '_> {
    type Value = Attr<'de>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an attribute value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Self::Value, E> {
        Ok(Attr::Scalar(Scalar::of(v)))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Self::Value, E> {
        Ok(Attr::Scalar(number_text(v)))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Self::Value, E> {
        Ok(Attr::Scalar(number_text(v)))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Self::Value, E> {
        Ok(float_attr(v))
    }
    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(string_attr(Cow::Borrowed(v)))
    }
    fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
        // Checked before copying: an escaped string is in serde_json's buffer, not the text.
        match chars_over(v, MAX_ATTRIBUTE_VALUE_CHARS) {
            Some(chars) => Ok(Attr::TooLong(chars)),
            None => Ok(Attr::Str(Cow::Owned(v.to_owned()))),
        }
    }
    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(Attr::Null)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
        match self.mode {
            Mode::Stop => self.nested("an array"),
            Mode::NoteShape | Mode::Note => skip_seq(seq).map(|()| Attr::Nested("an array")),
        }
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        match self.mode {
            Mode::Stop => self.nested("an object"),
            Mode::NoteShape | Mode::Note => skip_map(map).map(|()| Attr::Nested("an object")),
        }
    }
}

/// One row's attributes as they arrive, their text in one buffer that the next row reuses.
/// Kept as a list until the row ends (a row has at most [`MAX_ATTRIBUTES_PER_ROW`] of them, so a
/// lookup for a repeated key is a short scan), then written into the item's [`Rows`] in key
/// order: reading a row allocates nothing once the buffers have grown to a row's size.
#[derive(Default)]
pub(super) struct RowBuilder {
    text: String,
    entries: Vec<Entry>,
    /// The key order of the last row written, which the next row nearly always shares.
    order: KeyOrder,
    /// The keys so far are the first keys of `order`, in its order. Then a key that is the
    /// next of `order` is not one this row has already (`order`'s keys are unique), so the
    /// search for it is skipped.
    as_last: bool,
}

/// One attribute of the row being read.
#[derive(Debug, Clone)]
struct Entry {
    /// Its name and value in [`RowBuilder::text`].
    key: Range<usize>,
    value: Range<usize>,
    /// Both were read as they stand in the JSON text (no escape sequences), or the value is a
    /// number or boolean: nothing in them needs escaping ([`Attribute::plain`]).
    plain: bool,
}

/// A row's keys in the order they came, and the order that sorts them.
///
/// Rows of one output nearly always give the same keys in the same order, so a row whose keys
/// are the last row's, in the same order, is put in key order the way that row was (no sort),
/// and its names, checked with that row, are not checked again.
#[derive(Default)]
struct KeyOrder {
    /// The keys, one after another, in the order they came.
    keys: String,
    /// Where each key ends in `keys`.
    ends: Vec<usize>,
    /// Positions (in the order they came) in key order.
    sorted: Vec<usize>,
    /// The row count of the [`Rows`] the row with these keys was last written to, right
    /// after it was: if it is still that, the last row there has these keys.
    written_at: usize,
}

impl KeyOrder {
    fn key(&self, i: usize) -> Option<&str> {
        let end = *self.ends.get(i)?;
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        Some(&self.keys[start..end])
    }

    /// Makes this the order of `entries` (keys are unique in a row).
    fn make(&mut self, text: &str, entries: &[Entry]) {
        self.keys.clear();
        self.ends.clear();
        for e in entries {
            self.keys.push_str(&text[e.key.clone()]);
            self.ends.push(self.keys.len());
        }
        self.sorted.clear();
        self.sorted.extend(0..entries.len());
        self.sorted.sort_unstable_by(|&a, &b| {
            text[entries[a].key.clone()].cmp(&text[entries[b].key.clone()])
        });
    }
}

impl RowBuilder {
    pub(super) fn add(&mut self, at: &RowAt, key: Cow<str>, attr: Attr) -> Result<(), OutputError> {
        let position = if self.as_last && self.order.key(self.entries.len()) == Some(&*key) {
            None
        } else {
            self.as_last = false;
            self.entries
                .iter()
                .position(|e| self.text[e.key.clone()] == *key)
        };
        let too_long = |chars| {
            at.limit(
                at.path(),
                Limit::ValueTooLong {
                    row: at.name,
                    name: shown_part(&key),
                    chars,
                },
            )
        };
        // A borrowed string is a slice of the JSON text: it had no escape sequence there, so
        // it holds no byte that needs one.
        let (value, plain_value) = match &attr {
            Attr::Null => {
                if let Some(i) = position {
                    self.entries.swap_remove(i);
                }
                return Ok(());
            }
            Attr::Nested(found) => {
                return Err(OutputError::Nested {
                    path: member_path(&at.path(), &key),
                    found,
                });
            }
            Attr::TooLong(chars) => return Err(too_long(*chars)),
            Attr::Str(s) => match chars_over(s, MAX_ATTRIBUTE_VALUE_CHARS) {
                Some(chars) => return Err(too_long(chars)),
                None => (&**s, matches!(s, Cow::Borrowed(_))),
            },
            Attr::Scalar(s) => (s.as_str(), true),
        };
        let plain = plain_value && matches!(key, Cow::Borrowed(_));
        if let Some(i) = position {
            // The old value's text stays in the buffer until the row ends.
            let start = self.text.len();
            self.text.push_str(value);
            let entry = &mut self.entries[i];
            entry.value = start..self.text.len();
            entry.plain = plain;
            return Ok(());
        }
        if self.entries.len() == MAX_ATTRIBUTES_PER_ROW {
            return Err(at.limit(
                at.path(),
                Limit::Attributes {
                    row: at.name,
                    count: MAX_ATTRIBUTES_PER_ROW + 1,
                },
            ));
        }
        if let Some(chars) = chars_over(&key, MAX_ATTRIBUTE_NAME_CHARS) {
            return Err(at.limit(
                at.path(),
                Limit::NameTooLong {
                    row: at.name,
                    name: shown_part(&key),
                    chars,
                },
            ));
        }
        let key_start = self.text.len();
        self.text.push_str(&key);
        let value_start = self.text.len();
        self.text.push_str(value);
        self.entries.push(Entry {
            key: key_start..value_start,
            value: value_start..self.text.len(),
            plain,
        });
        Ok(())
    }

    pub(super) fn clear(&mut self) {
        self.text.clear();
        self.entries.clear();
        self.as_last = true;
    }

    /// Writes the row into `rows`, in key order, and starts the next one.
    pub(super) fn push_into(&mut self, rows: &mut Rows) {
        let text = &self.text;
        let same_keys = self.as_last && self.entries.len() == self.order.ends.len();
        if !same_keys {
            self.order.make(text, &self.entries);
        }
        let names_as_last = same_keys && rows.len() == self.order.written_at;
        let entries = &self.entries;
        rows.push_attributes(
            entries.len(),
            names_as_last,
            self.order.sorted.iter().map(|&i| {
                let e = &entries[i];
                Attribute {
                    name: &text[e.key.clone()],
                    value: &text[e.value.clone()],
                    plain: e.plain,
                }
            }),
        );
        self.order.written_at = rows.len();
        self.clear();
    }

    /// The row as a map (a document's Context, which is only ever refused or passed on) and
    /// starts the next one.
    pub(super) fn take_row(&mut self) -> Row {
        let row = self
            .entries
            .iter()
            .map(|e| {
                (
                    self.text[e.key.clone()].to_owned(),
                    self.text[e.value.clone()].to_owned(),
                )
            })
            .collect();
        self.clear();
        row
    }
}

/// A flat object: one row, read into `row`.
pub(super) struct RowVisitor<'a, 't> {
    pub(super) reader: &'a mut Reader<'t>,
    pub(super) row: &'a mut RowBuilder,
    pub(super) at: RowAt<'a>,
    pub(super) mode: Mode,
}

impl<'a, 't> RowVisitor<'a, 't> {
    /// For a scalar, already read, or an array, whose contents the caller has skipped if
    /// the mode notes problems of shape.
    pub(super) fn not_object<E: de::Error>(self, found: &'static str) -> Result<Noted<()>, E> {
        let path = self.at.path();
        refuse(
            self.reader,
            self.mode,
            OutputError::NotAnObject { path, found },
        )
    }
}

impl<'de> Visitor<'de> for RowVisitor<'_, '_> {
    type Value = Noted<()>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a row")
    }
    scalars_as!(not_object);
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
        if self.mode != Mode::Stop {
            skip_seq(seq)?;
        }
        self.not_object("an array")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        while let Some(key) = map.next_key_seed(Key)? {
            let attr = map.next_value_seed(AttrSeed {
                reader: &mut *self.reader,
                mode: self.mode,
                at: self.at,
                key: &key,
            })?;
            if let Err(problem) = self.row.add(&self.at, key, attr) {
                self.row.clear();
                if self.mode.notes(&problem) {
                    skip_map(map)?;
                }
                return refuse(self.reader, self.mode, problem);
            }
        }
        Ok(Ok(()))
    }
}

/// One element of a list of rows; `over_limit` when the list already holds all it may.
pub(super) struct RowSeed<'a, 't> {
    pub(super) visitor: RowVisitor<'a, 't>,
    pub(super) over_limit: bool,
}

impl<'de> DeserializeSeed<'de> for RowSeed<'_, '_> {
    type Value = Noted<()>;
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        let RowVisitor {
            reader,
            row,
            at,
            mode,
        } = self.visitor;
        if self.over_limit {
            let problem = at.limit(at.container.to_owned(), Limit::Rows { rows: MAX_ROWS + 1 });
            if mode.notes(&problem) {
                Skip::deserialize(deserializer)?;
            }
            return refuse(reader, mode, problem);
        }
        deserializer.deserialize_any(RowVisitor {
            reader,
            row,
            at,
            mode,
        })
    }
}

/// The elements of a list of rows, after those already in `rows` (the first row of plain-rows
/// output, read before it was known to be one).
pub(super) fn rows_of<'de, A: SeqAccess<'de>>(
    reader: &mut Reader,
    container: &str,
    mode: Mode,
    mut rows: Rows,
    mut seq: A,
) -> Result<Noted<Rows>, A::Error> {
    let mut row = RowBuilder::default();
    loop {
        let index = rows.len();
        let seed = RowSeed {
            visitor: RowVisitor {
                reader: &mut *reader,
                row: &mut row,
                at: RowAt {
                    container,
                    index: Some(index),
                    name: RowName::Content(index),
                },
                mode,
            },
            over_limit: index == MAX_ROWS,
        };
        match seq.next_element_seed(seed)? {
            None => return Ok(Ok(rows)),
            Some(Ok(())) => row.push_into(&mut rows),
            Some(Err(problem)) => {
                skip_seq(seq)?;
                return Ok(Err(problem));
            }
        }
    }
}
