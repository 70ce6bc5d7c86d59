//! The first object of the output, read both as a document and as a row (see the parent
//! module), and judged at its closing brace.

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, MapAccess, SeqAccess, Visitor};

use super::{
    Any, Attr, AttrSeed, ContentVisitor, Key, Mode, Noted, Reader, RowAt, RowBuilder, RowVisitor,
    Scalar, float_attr, number_text, skip_map, skip_seq, string_attr,
};
use crate::inventory::{Row, Rows};
use crate::probe::output::{Document, OutputError, RowName};

/// What the first object turned out to be. One is made per output and taken apart at once, so
/// the size of the larger variant costs nothing, where a box would cost an allocation.
#[allow(clippy::large_enum_variant)]
pub(super) enum First {
    Document(Document),
    /// The row, not yet written: the caller decides which list of rows it starts.
    Row(RowBuilder),
}

/// The first object; anything else there is refused as not an object.
pub(super) struct FirstVisitor<'a, 't> {
    pub(super) reader: &'a mut Reader<'t>,
    /// `$` or `$[0]`.
    pub(super) path: &'a str,
}

impl FirstVisitor<'_, '_> {
    fn not_object<E: de::Error>(self, found: &'static str) -> Result<First, E> {
        let path = self.path.to_owned();
        self.reader.stop(OutputError::NotAnObject { path, found })
    }
}

impl<'de> Visitor<'de> for FirstVisitor<'_, '_> {
    type Value = First;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON object")
    }
    scalars_as!(not_object);
    fn visit_seq<A: SeqAccess<'de>>(self, _: A) -> Result<First, A::Error> {
        self.not_object("an array")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<First, A::Error> {
        let path = self.path;
        let content_path = format!("{path}.Content");
        let context_path = format!("{path}.Context");
        // As a row. After its first problem the row is let go and only the document is read.
        let at = RowAt {
            container: path,
            index: None,
            name: RowName::Content(0),
        };
        let mut row = RowBuilder::default();
        let mut row_problem: Option<OutputError> = None;
        // As a document.
        let mut fields = Fields::default();
        while let Some(key) = map.next_key_seed(Key)? {
            let reader = &mut *self.reader;
            let attr = match &*key {
                "TypeName" | "SchemaVersion" => {
                    let attr = map.next_value_seed(Any(FieldOrAttr))?;
                    fields.set(&key, &attr);
                    attr
                }
                "Content" => {
                    let (rows, attr) = map.next_value_seed(Any(Either {
                        reader,
                        path: &content_path,
                        context: false,
                    }))?;
                    fields.content = Some(rows.map(|part| part.rows));
                    attr
                }
                "Context" => {
                    let (noted, attr) = map.next_value_seed(Any(Either {
                        reader,
                        path: &context_path,
                        context: true,
                    }))?;
                    fields.context = Some(noted.map(|part| part.context));
                    attr
                }
                _ => map.next_value_seed(AttrSeed {
                    reader,
                    mode: Mode::Note,
                    at,
                    key: &key,
                })?,
            };
            if row_problem.is_none()
                && let Err(problem) = row.add(&at, key, attr)
            {
                row_problem = Some(problem);
                row = RowBuilder::default();
            }
        }
        let reader = self.reader;
        if fields.type_name.is_none() || fields.content.is_none() {
            reader.current_type = reader.default_type.map(str::to_owned);
            return match row_problem {
                Some(problem) => reader.stop(problem),
                None => Ok(First::Row(row)),
            };
        }
        fields.finish(reader, path).map(First::Document)
    }
}

/// A document's fields as read: each as last given (`None`: key absent), `Err` where it is
/// not usable.
#[derive(Default)]
pub(super) struct Fields {
    type_name: Option<Result<String, ()>>,
    schema_version: Option<Result<String, ()>>,
    pub(super) content: Option<Noted<Rows>>,
    pub(super) context: Option<Noted<Option<Row>>>,
}

impl Fields {
    /// Takes the value of `TypeName` or `SchemaVersion` (`key`), read by [`FieldOrAttr`].
    pub(super) fn set(&mut self, key: &str, attr: &Attr) {
        let field = match attr {
            Attr::Str(s) => Ok(s.to_string()),
            _ => Err(()),
        };
        if key == "TypeName" {
            self.type_name = Some(field);
        } else {
            self.schema_version = Some(field);
        }
    }

    /// The TypeName, when it is a string.
    pub(super) fn type_name(&self) -> Option<&str> {
        self.type_name.as_ref()?.as_deref().ok()
    }

    /// The document, or its first problem in the order the fields have always been checked
    /// in: TypeName, SchemaVersion, Content, Context.
    pub(super) fn finish<E: de::Error>(
        self,
        reader: &mut Reader,
        path: &str,
    ) -> Result<Document, E> {
        let field = |key| OutputError::DocumentField {
            path: path.to_owned(),
            key,
        };
        let type_name = match self.type_name {
            None => None,
            Some(Ok(s)) => Some(s),
            Some(Err(())) => return reader.stop(field("TypeName")),
        };
        let schema_version = match self.schema_version {
            None => None,
            Some(Ok(s)) => Some(s),
            Some(Err(())) => return reader.stop(field("SchemaVersion")),
        };
        reader.current_type.clone_from(&type_name);
        let rows = match self.content {
            None => Rows::default(),
            Some(Ok(rows)) => rows,
            Some(Err(problem)) => return reader.stop(problem),
        };
        let context = match self.context {
            None | Some(Ok(None)) => None,
            Some(Ok(Some(row))) => Some(row),
            Some(Err(problem)) => return reader.stop(problem),
        };
        Ok(Document {
            type_name,
            schema_version,
            rows,
            context,
        })
    }
}

/// What a `Content` (`rows`) or `Context` (`context`) value is to the document reading.
#[derive(Default)]
struct Part {
    rows: Rows,
    context: Option<Row>,
}

/// The value of `Content` or `Context` in the first object, read both ways.
struct Either<'a, 't> {
    reader: &'a mut Reader<'t>,
    path: &'a str,
    context: bool,
}

impl<'a, 't> Either<'a, 't> {
    fn context_row(self, row: &'a mut RowBuilder) -> RowVisitor<'a, 't> {
        RowVisitor {
            reader: self.reader,
            row,
            at: RowAt {
                container: self.path,
                index: None,
                name: RowName::Context,
            },
            mode: Mode::Note,
        }
    }

    fn content(self) -> ContentVisitor<'a, 't> {
        ContentVisitor {
            reader: self.reader,
            container: self.path,
            mode: Mode::Note,
        }
    }

    /// A scalar: not a row to the document reading, an attribute to the row reading.
    fn scalar<'de>(self, found: &'static str, attr: Attr<'de>) -> (Noted<Part>, Attr<'de>) {
        (
            Err(OutputError::NotAnObject {
                path: self.path.to_owned(),
                found,
            }),
            attr,
        )
    }
}

impl<'de> Visitor<'de> for Either<'_, '_> {
    type Value = (Noted<Part>, Attr<'de>);
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("Content or Context")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Self::Value, E> {
        Ok(self.scalar("a boolean", Attr::Scalar(Scalar::of(v))))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Self::Value, E> {
        Ok(self.scalar("a number", Attr::Scalar(number_text(v))))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Self::Value, E> {
        Ok(self.scalar("a number", Attr::Scalar(number_text(v))))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Self::Value, E> {
        Ok(self.scalar("a number", float_attr(v)))
    }
    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(self.scalar("a string", string_attr(Cow::Borrowed(v))))
    }
    fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
        Ok(self.scalar("a string", string_attr(Cow::Owned(v.to_owned()))))
    }
    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok((Ok(Part::default()), Attr::Null))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
        let part = if self.context {
            skip_seq(seq)?;
            Err(OutputError::NotAnObject {
                path: self.path.to_owned(),
                found: "an array",
            })
        } else {
            self.content().visit_seq(seq)?.map(|rows| Part {
                rows,
                context: None,
            })
        };
        Ok((part, Attr::Nested("an array")))
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        let part = if self.context {
            let mut row = RowBuilder::default();
            let read = self.context_row(&mut row).visit_map(map)?;
            read.map(|()| Part {
                rows: Rows::default(),
                context: Some(row.take_row()),
            })
        } else {
            self.content().visit_map(map)?.map(|rows| Part {
                rows,
                context: None,
            })
        };
        Ok((part, Attr::Nested("an object")))
    }
}

/// `TypeName` or `SchemaVersion` in the first object: kept whole (a document needs the
/// string even past the value limit, and `Item::new` reports it), the row reading checks it.
pub(super) struct FieldOrAttr;

impl<'de> Visitor<'de> for FieldOrAttr {
    type Value = Attr<'de>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a value")
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
        Ok(Attr::Str(Cow::Borrowed(v)))
    }
    fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Attr::Str(Cow::Owned(v.to_owned())))
    }
    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(Attr::Null)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
        skip_seq(seq).map(|()| Attr::Nested("an array"))
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        skip_map(map).map(|()| Attr::Nested("an object"))
    }
}
