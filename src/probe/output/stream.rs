//! The reader behind [`super::parse`]: serde visitors that build rows straight from the text.
//!
//! Each visitor is told what it is reading (a row, a document's Content, …) and checks the
//! limits as values arrive, so nothing is held that could not end up in an item: the row
//! after the last allowed one is refused at its first byte, a long string before it is copied,
//! and a nested value in a row at its opening bracket. A refusal is recorded in the [`Reader`]
//! and the parse is unwound with a placeholder serde error, which [`read`] swaps back for it.
//!
//! Two places cannot stop at the first problem of shape, because it may not be the one to
//! report; there the problem is noted, the rest of the value skipped, and the judgement made
//! at the closing brace ([`Mode`]). The first object is a document if it has both `TypeName`
//! and `Content` keys and a row otherwise, whatever order its keys come in, so it is read both
//! ways at once ([`first::FirstVisitor`]). A document's fields are judged in a fixed order,
//! whatever order they come in. Skipping ([`Skip`]) allocates nothing and goes through
//! serde_json's nesting limit, so a deep value costs no memory.

use std::borrow::Cow;
use std::fmt;

use serde::Deserialize;
use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};

use super::{Document, OutputError, RowName, invalid_json};
use crate::inventory::{Row, Rows};

/// Reads `text` (known to be UTF-8 and not blank) into documents.
///
/// A limit is reported as soon as it is crossed. A problem of shape is reported only once the
/// whole text is known to be JSON, so that a syntax error anywhere still wins, as it did when
/// the output was read whole: a truncated output is best reported as truncated.
pub(super) fn read(text: &str, default_type: Option<&str>) -> Result<Vec<Document>, OutputError> {
    let mut reader = Reader {
        default_type,
        current_type: None,
        refusal: None,
        reserve: text.len(),
    };
    // `from_str`, not `from_slice`: the text is already checked UTF-8, and strings without
    // escapes are then borrowed from it rather than checked again.
    let mut de = serde_json::Deserializer::from_str(text);
    let result = Top {
        reader: &mut reader,
    }
    .deserialize(&mut de)
    .and_then(|documents| de.end().map(|()| documents));
    match (result, reader.refusal) {
        (Ok(documents), _) => Ok(documents),
        (Err(_), Some(refusal)) if refusal.is_limit() => Err(refusal),
        (Err(_), Some(refusal)) => {
            check_syntax(text)?;
            Err(refusal)
        }
        (Err(e), None) => Err(invalid_json(&e)),
    }
}

/// Reads the whole text without keeping anything, for its first syntax error.
fn check_syntax(text: &str) -> Result<(), OutputError> {
    let mut de = serde_json::Deserializer::from_str(text);
    Skip::deserialize(&mut de)
        .and_then(|Skip| de.end())
        .map_err(|e| invalid_json(&e))
}

/// What the visitors share while reading.
struct Reader<'t> {
    default_type: Option<&'t str>,
    /// The TypeName the rows being read will have, when known: it goes into limit errors.
    current_type: Option<String>,
    refusal: Option<OutputError>,
    /// Bytes the first list of rows reserves: its canonical form is about as long as the
    /// text (compact output; shorter when pretty-printed), so reserving the text's length once
    /// saves growing the buffer by doubling, which holds the old and new buffer at once.
    reserve: usize,
}

impl Reader<'_> {
    /// An empty list of rows; the first one gets the reservation.
    fn new_rows(&mut self) -> Rows {
        Rows::with_capacity(std::mem::take(&mut self.reserve))
    }

    /// Records `refusal` and unwinds the parse.
    fn stop<T, E: de::Error>(&mut self, mut refusal: OutputError) -> Result<T, E> {
        if let OutputError::Limit(limit) = &mut refusal
            && limit.type_name.is_none()
        {
            limit.type_name.clone_from(&self.current_type);
        }
        self.refusal = Some(refusal);
        Err(E::custom("refused"))
    }
}

/// What a visitor does with a problem inside its value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Stop reading: the problem refuses the output.
    Stop,
    /// Stop at a limit; skip the rest of the value and return a problem of shape. For a
    /// document's fields, whose problems are reported in a fixed order (TypeName,
    /// SchemaVersion, Content, Context) whatever order the keys come in.
    NoteShape,
    /// Skip the rest of the value and return the problem: the first object, which may turn
    /// out not to be what this reading of it assumed.
    Note,
}

impl Mode {
    /// Whether `problem` is returned (after the rest of the value is skipped) rather than
    /// stopping the reading.
    fn notes(self, problem: &OutputError) -> bool {
        match self {
            Mode::Stop => false,
            Mode::NoteShape => !problem.is_limit(),
            Mode::Note => true,
        }
    }
}

/// A value read in a noting [`Mode`]: what it holds, or its first problem.
type Noted<T> = Result<T, OutputError>;

/// Returns or stops on `problem`, as `mode` says; the caller has skipped the rest of the
/// value when `mode.notes(&problem)`.
fn refuse<T, E: de::Error>(
    reader: &mut Reader,
    mode: Mode,
    problem: OutputError,
) -> Result<Noted<T>, E> {
    if mode.notes(&problem) {
        Ok(Err(problem))
    } else {
        reader.stop(problem)
    }
}

/// Gives each scalar visit to `$method(found)`, `found` naming the kind as messages do;
/// `except_unit` or `except_str_and_unit` leaves those to the visitor.
macro_rules! scalars_as {
    ($method:ident) => {
        scalars_as!($method, except_unit);
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            self.$method("null")
        }
    };
    ($method:ident, except_unit) => {
        scalars_as!($method, except_str_and_unit);
        fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
            self.$method("a string")
        }
    };
    ($method:ident, except_str_and_unit) => {
        fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
            self.$method("a boolean")
        }
        fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
            self.$method("a number")
        }
        fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
            self.$method("a number")
        }
        fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
            self.$method("a number")
        }
    };
}

/// Any JSON value, read and dropped.
struct Skip;

impl<'de> Deserialize<'de> for Skip {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Skip, D::Error> {
        // `deserialize_any`, not `deserialize_ignored_any`: serde_json skips the latter
        // without its nesting limit, keeping a stack as deep as the input.
        deserializer.deserialize_any(SkipVisitor)
    }
}

struct SkipVisitor;

impl<'de> Visitor<'de> for SkipVisitor {
    type Value = Skip;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }
    scalars_as!(skip);
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Skip, A::Error> {
        skip_seq(seq).map(|()| Skip)
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Skip, A::Error> {
        skip_map(map).map(|()| Skip)
    }
}

impl SkipVisitor {
    fn skip<E>(self, _: &'static str) -> Result<Skip, E> {
        Ok(Skip)
    }
}

fn skip_seq<'de, A: SeqAccess<'de>>(mut seq: A) -> Result<(), A::Error> {
    while seq.next_element::<Skip>()?.is_some() {}
    Ok(())
}

fn skip_map<'de, A: MapAccess<'de>>(mut map: A) -> Result<(), A::Error> {
    while map.next_key::<Skip>()?.is_some() {
        map.next_value::<Skip>()?;
    }
    Ok(())
}

/// An object key, borrowed from the text unless it holds escapes.
struct Key;

impl<'de> DeserializeSeed<'de> for Key {
    type Value = Cow<'de, str>;
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_str(KeyVisitor)
    }
}

struct KeyVisitor;

impl<'de> Visitor<'de> for KeyVisitor {
    type Value = Cow<'de, str>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an object key")
    }
    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Cow::Borrowed(v))
    }
    fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Cow::Owned(v.to_owned()))
    }
}

/// A document's Content: rows, one row, or null.
struct ContentVisitor<'a, 't> {
    reader: &'a mut Reader<'t>,
    container: &'a str,
    mode: Mode,
}

impl ContentVisitor<'_, '_> {
    fn not_object<E: de::Error>(self, found: &'static str) -> Result<Noted<Rows>, E> {
        let path = self.container.to_owned();
        refuse(
            self.reader,
            self.mode,
            OutputError::NotAnObject { path, found },
        )
    }
}

impl<'de> Visitor<'de> for ContentVisitor<'_, '_> {
    type Value = Noted<Rows>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("Content")
    }
    scalars_as!(not_object, except_unit);
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Ok(Rows::default()))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
        let rows = self.reader.new_rows();
        rows_of(self.reader, self.container, self.mode, rows, seq)
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        let at = RowAt {
            container: self.container,
            index: None,
            name: RowName::Content(0),
        };
        let mut row = RowBuilder::default();
        let read = RowVisitor {
            reader: self.reader,
            row: &mut row,
            at,
            mode: self.mode,
        }
        .visit_map(map)?;
        Ok(read.map(|()| {
            let mut rows = Rows::default();
            row.push_into(&mut rows);
            rows
        }))
    }
}

/// A document's Context: one row, or null.
struct ContextVisitor<'a, 't> {
    row: RowVisitor<'a, 't>,
}

impl<'de> Visitor<'de> for ContextVisitor<'_, '_> {
    type Value = Noted<Option<Row>>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("Context")
    }
    scalars_as!(not_object, except_unit);
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Ok(None))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
        Ok(self.row.visit_seq(seq)?.map(|()| None))
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        let RowVisitor {
            reader,
            row,
            at,
            mode,
        } = self.row;
        let read = RowVisitor {
            reader,
            row: &mut *row,
            at,
            mode,
        }
        .visit_map(map)?;
        Ok(read.map(|()| Some(row.take_row())))
    }
}

impl ContextVisitor<'_, '_> {
    fn not_object<E: de::Error>(self, found: &'static str) -> Result<Noted<Option<Row>>, E> {
        Ok(self.row.not_object(found)?.map(|()| None))
    }
}

/// Gives any visitor to `deserialize_any`, for `next_value_seed`.
struct Any<V>(V);

impl<'de, V: Visitor<'de>> DeserializeSeed<'de> for Any<V> {
    type Value = V::Value;
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<V::Value, D::Error> {
        deserializer.deserialize_any(self.0)
    }
}

mod first;
mod row;
mod top;

use row::{
    Attr, AttrSeed, RowAt, RowBuilder, RowVisitor, Scalar, float_attr, number_text, rows_of,
    string_attr,
};
use top::Top;
