//! The whole output: one object, or an array whose first element says whether it holds rows
//! or documents.

use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};

use super::first::{FieldOrAttr, Fields, First, FirstVisitor};
use super::{
    Any, ContentVisitor, ContextVisitor, Key, Mode, Reader, RowAt, RowBuilder, RowVisitor, Skip,
    rows_of,
};
use crate::probe::output::{Document, OutputError, RowName};

pub(super) struct Top<'a, 't> {
    pub(super) reader: &'a mut Reader<'t>,
}

impl<'de> DeserializeSeed<'de> for Top<'_, '_> {
    type Value = Vec<Document>;
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl Top<'_, '_> {
    fn not_object<E: de::Error>(self, found: &'static str) -> Result<Vec<Document>, E> {
        self.reader.stop(OutputError::NotAnObject {
            path: "$".to_owned(),
            found,
        })
    }
}

impl<'de> Visitor<'de> for Top<'_, '_> {
    type Value = Vec<Document>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON object or array")
    }
    scalars_as!(not_object);
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        let first = FirstVisitor {
            reader: &mut *self.reader,
            path: "$",
        }
        .visit_map(map)?;
        Ok(vec![match first {
            First::Document(document) => document,
            First::Row(mut row) => {
                let mut rows = self.reader.new_rows();
                row.push_into(&mut rows);
                Document {
                    rows,
                    ..Document::default()
                }
            }
        }])
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let reader = self.reader;
        let first = seq.next_element_seed(Any(FirstVisitor {
            reader: &mut *reader,
            path: "$[0]",
        }))?;
        match first {
            None => Ok(vec![Document::default()]),
            Some(First::Document(document)) => {
                let mut documents = vec![document];
                loop {
                    let path = format!("$[{}]", documents.len());
                    let visitor = DocVisitor {
                        reader: &mut *reader,
                        path: &path,
                    };
                    match seq.next_element_seed(Any(visitor))? {
                        Some(document) => documents.push(document),
                        None => return Ok(documents),
                    }
                }
            }
            Some(First::Row(mut row)) => {
                let mut rows = reader.new_rows();
                row.push_into(&mut rows);
                match rows_of(reader, "$", Mode::Stop, rows, seq)? {
                    Ok(rows) => Ok(vec![Document {
                        rows,
                        ..Document::default()
                    }]),
                    // Mode::Stop returns no problems: it stops on them.
                    Err(problem) => reader.stop(problem),
                }
            }
        }
    }
}

/// A document after the first, known to be one by its place.
struct DocVisitor<'a, 't> {
    reader: &'a mut Reader<'t>,
    path: &'a str,
}

impl DocVisitor<'_, '_> {
    fn not_object<E: de::Error>(self, found: &'static str) -> Result<Document, E> {
        let path = self.path.to_owned();
        self.reader.stop(OutputError::NotAnObject { path, found })
    }
}

impl<'de> Visitor<'de> for DocVisitor<'_, '_> {
    type Value = Document;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a document")
    }
    scalars_as!(not_object);
    fn visit_seq<A: SeqAccess<'de>>(self, _: A) -> Result<Document, A::Error> {
        self.not_object("an array")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Document, A::Error> {
        let reader = self.reader;
        let path = self.path;
        let content_path = format!("{path}.Content");
        let context_path = format!("{path}.Context");
        reader.current_type = None;
        let mut fields = Fields::default();
        let mut context_row = RowBuilder::default();
        while let Some(key) = map.next_key_seed(Key)? {
            match &*key {
                "TypeName" | "SchemaVersion" => {
                    let attr = map.next_value_seed(Any(FieldOrAttr))?;
                    fields.set(&key, &attr);
                    reader.current_type = fields.type_name().map(str::to_owned);
                }
                "Content" => {
                    fields.content = Some(map.next_value_seed(Any(ContentVisitor {
                        reader: &mut *reader,
                        container: &content_path,
                        mode: Mode::NoteShape,
                    }))?);
                }
                "Context" => {
                    fields.context = Some(map.next_value_seed(Any(ContextVisitor {
                        row: RowVisitor {
                            reader: &mut *reader,
                            row: &mut context_row,
                            at: RowAt {
                                container: &context_path,
                                index: None,
                                name: RowName::Context,
                            },
                            mode: Mode::NoteShape,
                        },
                    }))?);
                }
                _ => {
                    map.next_value::<Skip>()?;
                }
            }
        }
        fields.finish(reader, path)
    }
}
