//! Turns the JSON a probe prints into rows.
//!
//! Accepted shapes: an array of flat objects (rows); one flat object (one row); the SSM
//! Agent's custom inventory document `{"SchemaVersion","TypeName","Content"}` with Content an
//! object or an array; or an array of such documents. Inventory attributes are strings, so
//! numbers and booleans become their JSON text and `null` drops the attribute; anything nested
//! is refused with its JSON path, because flattening it silently would invent a schema the
//! operator never chose.

use serde_json::{Map, Value};

use crate::inventory::Row;

/// Why a probe's output (or a document file) could not be read. Paths are JSONPath-like
/// (`$[3].ports`). Messages read as the end of a sentence about the output or file: "… is
/// empty", "… $[3].ports holds an array".
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OutputError {
    #[error("is empty; expected JSON")]
    Empty,
    #[error("is not valid UTF-8 (first bad byte at offset {offset})")]
    NotUtf8 { offset: usize },
    #[error("is not valid JSON at line {line}, column {column}: {message}")]
    InvalidJson {
        line: usize,
        column: usize,
        message: String,
    },
    #[error("{path} is {found}; expected a JSON object or an array of objects")]
    NotAnObject { path: String, found: &'static str },
    #[error(
        "{path} holds {found}; attribute values must be strings, numbers or booleans, not nested values"
    )]
    Nested { path: String, found: &'static str },
    #[error("{path}: `{key}` must be a string")]
    DocumentField { path: String, key: &'static str },
}

/// One inventory type's worth of output.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Document {
    /// Set when the output was an SSM Agent document, which names its own type.
    pub type_name: Option<String>,
    pub schema_version: Option<String>,
    pub rows: Vec<Row>,
    /// Passed on so that item validation can refuse it with the TypeName in the message.
    pub context: Option<Row>,
}

/// Parses probe output into one or more documents.
pub fn parse(bytes: &[u8]) -> Result<Vec<Document>, OutputError> {
    let text = std::str::from_utf8(bytes).map_err(|e| OutputError::NotUtf8 {
        offset: e.valid_up_to(),
    })?;
    if text.trim().is_empty() {
        return Err(OutputError::Empty);
    }
    let value: Value = serde_json::from_str(text).map_err(|e| OutputError::InvalidJson {
        line: e.line(),
        column: e.column(),
        message: strip_position(&e.to_string()),
    })?;
    match value {
        Value::Array(elements) => {
            if elements.first().is_some_and(is_document) {
                elements
                    .iter()
                    .enumerate()
                    .map(|(i, v)| document(v, &format!("$[{i}]")))
                    .collect()
            } else {
                let rows = elements
                    .iter()
                    .enumerate()
                    .map(|(i, v)| row(v, &format!("$[{i}]")))
                    .collect::<Result<_, _>>()?;
                Ok(vec![Document {
                    rows,
                    ..Document::default()
                }])
            }
        }
        ref object @ Value::Object(_) if is_document(object) => Ok(vec![document(object, "$")?]),
        ref object @ Value::Object(_) => Ok(vec![Document {
            rows: vec![row(object, "$")?],
            ..Document::default()
        }]),
        other => Err(OutputError::NotAnObject {
            path: "$".into(),
            found: kind(&other),
        }),
    }
}

/// serde_json appends " at line L column C"; the error already says where.
fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(i) => message[..i].to_string(),
        None => message.to_string(),
    }
}

fn is_document(value: &Value) -> bool {
    value
        .as_object()
        .is_some_and(|o| o.contains_key("TypeName") && o.contains_key("Content"))
}

fn document(value: &Value, path: &str) -> Result<Document, OutputError> {
    let Some(object) = value.as_object() else {
        return Err(OutputError::NotAnObject {
            path: path.into(),
            found: kind(value),
        });
    };
    let string = |key: &'static str| -> Result<Option<String>, OutputError> {
        match object.get(key) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(OutputError::DocumentField {
                path: path.into(),
                key,
            }),
        }
    };
    let type_name = string("TypeName")?;
    let schema_version = string("SchemaVersion")?;
    let content_path = format!("{path}.Content");
    let rows = match object.get("Content") {
        Some(Value::Array(rows)) => rows
            .iter()
            .enumerate()
            .map(|(i, v)| row(v, &format!("{content_path}[{i}]")))
            .collect::<Result<_, _>>()?,
        Some(single @ Value::Object(_)) => vec![row(single, &content_path)?],
        Some(Value::Null) | None => Vec::new(),
        Some(other) => {
            return Err(OutputError::NotAnObject {
                path: content_path,
                found: kind(other),
            });
        }
    };
    let context = match object.get("Context") {
        None | Some(Value::Null) => None,
        Some(v) => Some(row(v, &format!("{path}.Context"))?),
    };
    Ok(Document {
        type_name,
        schema_version,
        rows,
        context,
    })
}

fn row(value: &Value, path: &str) -> Result<Row, OutputError> {
    let Value::Object(object) = value else {
        return Err(OutputError::NotAnObject {
            path: path.into(),
            found: kind(value),
        });
    };
    flat_row(object, path)
}

fn flat_row(object: &Map<String, Value>, path: &str) -> Result<Row, OutputError> {
    let mut row = Row::new();
    for (key, value) in object {
        let text = match value {
            Value::String(s) => s.clone(),
            Value::Number(n) => n.to_string(),
            Value::Bool(b) => b.to_string(),
            Value::Null => continue,
            Value::Array(_) | Value::Object(_) => {
                return Err(OutputError::Nested {
                    path: member_path(path, key),
                    found: kind(value),
                });
            }
        };
        row.insert(key.clone(), text);
    }
    Ok(row)
}

/// `path.key`, or `path["key"]` with the key JSON-escaped when it is not a plain name, so that
/// a key holding quotes, dots, brackets or control characters (a newline) can neither break the
/// one-line message nor make the path ambiguous.
fn member_path(path: &str, key: &str) -> String {
    let plain = !key.is_empty()
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if plain {
        format!("{path}.{key}")
    } else {
        format!("{path}[{}]", Value::from(key))
    }
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows_of(json: &str) -> Vec<Row> {
        let docs = parse(json.as_bytes()).unwrap();
        assert_eq!(docs.len(), 1);
        docs.into_iter().next().unwrap().rows
    }

    #[test]
    fn array_of_objects_and_single_object() {
        let rows = rows_of(r#"[{"Name":"a","Port":22,"Up":true,"Gone":null},{"Name":"b"}]"#);
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0]["Port"], "22");
        assert_eq!(rows[0]["Up"], "true");
        assert!(!rows[0].contains_key("Gone"));
        assert_eq!(rows_of(r#"{"Stage":"PreProd"}"#)[0]["Stage"], "PreProd");
        assert_eq!(rows_of("[]").len(), 0);
        assert_eq!(rows_of(r#"{"F":1.5,"E":-2e3}"#)[0]["F"], "1.5");
    }

    #[test]
    fn ssm_agent_documents() {
        let docs = parse(
            br#"{"SchemaVersion":"1.0","TypeName":"Custom:RackInfo","Content":{"RackLocation":"Bay B"}}"#,
        )
        .unwrap();
        assert_eq!(docs[0].type_name.as_deref(), Some("Custom:RackInfo"));
        assert_eq!(docs[0].schema_version.as_deref(), Some("1.0"));
        assert_eq!(docs[0].rows[0]["RackLocation"], "Bay B");

        let docs = parse(
            br#"[{"TypeName":"Custom:A","Content":[{"X":"1"},{"X":"2"}]},{"TypeName":"Custom:B","Content":[]}]"#,
        )
        .unwrap();
        assert_eq!(docs.len(), 2);
        assert_eq!(docs[0].rows.len(), 2);
        assert_eq!(docs[1].type_name.as_deref(), Some("Custom:B"));
    }

    #[test]
    fn hostile_output_is_named() {
        assert_eq!(parse(b"  \n"), Err(OutputError::Empty));
        assert_eq!(
            parse(b"{\"a\":\"\xff\"}"),
            Err(OutputError::NotUtf8 { offset: 6 })
        );
        let e = parse(b"[{\"a\":1},{\"b\":").unwrap_err();
        assert!(matches!(e, OutputError::InvalidJson { line: 1, .. }), "{e}");
        let e = parse(br#"[{"a":1},{"b":2},{"c":3},{"ports":[22]}]"#).unwrap_err();
        assert_eq!(
            e.to_string(),
            "$[3].ports holds an array; attribute values must be strings, numbers or booleans, not nested values"
        );
        let e = parse(br#"{"TypeName":"Custom:A","Content":[{"x":{"y":1}}]}"#).unwrap_err();
        assert!(
            e.to_string().starts_with("$.Content[0].x holds an object"),
            "{e}"
        );
        // A key that is not a plain name is quoted: a newline in it cannot split the message.
        let e = parse(b"{\"a\\nb.c\":[1]}").unwrap_err();
        assert_eq!(
            e.to_string(),
            r#"$["a\nb.c"] holds an array; attribute values must be strings, numbers or booleans, not nested values"#
        );
        assert!(matches!(parse(b"42"), Err(OutputError::NotAnObject { .. })));
        assert!(matches!(
            parse(b"[1,2]"),
            Err(OutputError::NotAnObject { .. })
        ));
        assert!(matches!(
            parse(br#"{"TypeName":7,"Content":[]}"#),
            Err(OutputError::DocumentField {
                key: "TypeName",
                ..
            })
        ));
    }
}
