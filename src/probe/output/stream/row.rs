//! Rows: attributes checked against the limits as they arrive, and lists of rows counted.

use std::borrow::Cow;
use std::fmt;

use serde::Deserialize;
use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};

use super::{Key, Mode, Noted, Reader, Skip, refuse, skip_map, skip_seq};
use crate::inventory::Row;
use crate::inventory::limits::{
    MAX_ATTRIBUTE_NAME_CHARS, MAX_ATTRIBUTE_VALUE_CHARS, MAX_ATTRIBUTES_PER_ROW, MAX_ROWS,
};
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
    Scalar(String),
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
pub(super) fn number_text(n: impl Into<serde_json::Number>) -> String {
    n.into().to_string()
}

impl<'de> Visitor<'de> for AttrSeed<'_, '_> {
    type Value = Attr<'de>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an attribute value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Self::Value, E> {
        Ok(Attr::Scalar(v.to_string()))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Self::Value, E> {
        Ok(Attr::Scalar(number_text(v)))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Self::Value, E> {
        Ok(Attr::Scalar(number_text(v)))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Self::Value, E> {
        // serde_json never yields a non-finite number; were it to, `Value` would hold null.
        Ok(serde_json::Number::from_f64(v).map_or(Attr::Null, |n| Attr::Scalar(n.to_string())))
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

/// One row's attributes as they arrive. Kept as a list, not a map, until the row ends: a
/// row has at most [`MAX_ATTRIBUTES_PER_ROW`] of them, so a lookup is a short scan, and a map
/// built from sorted pairs in one go has full nodes where one built by inserts has half-empty
/// ones — most of a large item's memory is these maps.
#[derive(Default)]
pub(super) struct RowBuilder {
    pub(super) entries: Vec<(String, String)>,
}

impl RowBuilder {
    pub(super) fn add(&mut self, at: &RowAt, key: Cow<str>, attr: Attr) -> Result<(), OutputError> {
        let position = self.entries.iter().position(|(k, _)| **k == *key);
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
        let value = match attr {
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
            Attr::TooLong(chars) => return Err(too_long(chars)),
            Attr::Str(s) => match chars_over(&s, MAX_ATTRIBUTE_VALUE_CHARS) {
                Some(chars) => return Err(too_long(chars)),
                None => s.into_owned(),
            },
            Attr::Scalar(s) => s,
        };
        if let Some(i) = position {
            self.entries[i].1 = value;
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
        self.entries.push((key.into_owned(), value));
        Ok(())
    }

    pub(super) fn finish(mut self) -> Row {
        // Keys are unique here; `collect` sorts again (stably, already sorted) and builds
        // the map bottom-up.
        self.entries.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        self.entries.into_iter().collect()
    }
}

/// A flat object: one row.
pub(super) struct RowVisitor<'a, 't> {
    pub(super) reader: &'a mut Reader<'t>,
    pub(super) at: RowAt<'a>,
    pub(super) mode: Mode,
}

impl<'a, 't> RowVisitor<'a, 't> {
    /// For a scalar, already read, or an array, whose contents the caller has skipped if
    /// the mode notes problems of shape.
    pub(super) fn not_object<E: de::Error>(self, found: &'static str) -> Result<Noted<Row>, E> {
        let path = self.at.path();
        refuse(
            self.reader,
            self.mode,
            OutputError::NotAnObject { path, found },
        )
    }
}

impl<'de> Visitor<'de> for RowVisitor<'_, '_> {
    type Value = Noted<Row>;
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
        let mut row = RowBuilder::default();
        while let Some(key) = map.next_key_seed(Key)? {
            let attr = map.next_value_seed(AttrSeed {
                reader: &mut *self.reader,
                mode: self.mode,
                at: self.at,
                key: &key,
            })?;
            if let Err(problem) = row.add(&self.at, key, attr) {
                if self.mode.notes(&problem) {
                    skip_map(map)?;
                }
                return refuse(self.reader, self.mode, problem);
            }
        }
        Ok(Ok(row.finish()))
    }
}

/// One element of a list of rows; `over_limit` when the list already holds all it may.
pub(super) struct RowSeed<'a, 't> {
    pub(super) visitor: RowVisitor<'a, 't>,
    pub(super) over_limit: bool,
}

impl<'de> DeserializeSeed<'de> for RowSeed<'_, '_> {
    type Value = Noted<Row>;
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        let RowVisitor { reader, at, mode } = self.visitor;
        if self.over_limit {
            let problem = at.limit(at.container.to_owned(), Limit::Rows { rows: MAX_ROWS + 1 });
            if mode.notes(&problem) {
                Skip::deserialize(deserializer)?;
            }
            return refuse(reader, mode, problem);
        }
        deserializer.deserialize_any(RowVisitor { reader, at, mode })
    }
}

/// The elements of a list of rows, after `rows` (the first row of plain-rows output, read
/// before it was known to be one).
pub(super) fn rows_of<'de, A: SeqAccess<'de>>(
    reader: &mut Reader,
    container: &str,
    mode: Mode,
    mut rows: Vec<Row>,
    mut seq: A,
) -> Result<Noted<Vec<Row>>, A::Error> {
    loop {
        let index = rows.len();
        let seed = RowSeed {
            visitor: RowVisitor {
                reader: &mut *reader,
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
            Some(Ok(row)) => rows.push(row),
            Some(Err(problem)) => {
                skip_seq(seq)?;
                return Ok(Err(problem));
            }
        }
    }
}
