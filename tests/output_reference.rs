//! The streaming probe output parser against a reference that reads the output the plain way:
//! a whole `serde_json::Value` tree, turned into documents, then checked against the limits
//! the parser enforces while reading (rows per document, attributes per row, name and value
//! lengths). On every input both must agree: the same documents when accepted, a refusal
//! from both otherwise; and where keys come in the order the reference walks them (sorted),
//! a refusal of shape must be the very same error.
//!
//! Inputs are random outputs of every accepted shape, and outputs that sit on each limit
//! (10,000 and 10,001 rows, 50 and 51 attributes, 64- and 65-character names, 4,096- and
//! 4,097-character values), each printed with keys in sorted and in reverse order, so that a
//! document's `Content` comes both before and after its `TypeName`.
//!
//! `PROPTEST_CASES` sets the number of cases (default 256).

use std::collections::BTreeMap;

use proptest::prelude::*;
use serde_json::{Map, Value};
use ssm_inventoryd::inventory::Rows;
use ssm_inventoryd::probe::output::{self, Document, OutputError};

const MAX_ROWS: usize = 10_000;
const MAX_ATTRIBUTES: usize = 50;
const MAX_NAME_CHARS: usize = 64;
const MAX_VALUE_CHARS: usize = 4_096;

// ---------------------------------------------------------------------------------------------
// The reference

/// Why the reference refused: a problem of shape (the parser's error for it), or a limit.
#[derive(Debug, PartialEq)]
enum Refused {
    Shape(OutputError),
    Limit,
}

/// A document as the reference reads it: rows as maps, turned into the parser's canonical
/// rows only once every limit is checked.
#[derive(Default)]
struct RefDocument {
    type_name: Option<String>,
    schema_version: Option<String>,
    rows: Vec<BTreeMap<String, String>>,
    context: Option<BTreeMap<String, String>>,
}

impl From<RefDocument> for Document {
    fn from(d: RefDocument) -> Document {
        Document {
            type_name: d.type_name,
            schema_version: d.schema_version,
            rows: Rows::from(&d.rows[..]),
            context: d.context,
        }
    }
}

fn reference(bytes: &[u8]) -> Result<Vec<Document>, Refused> {
    let shape = |path: String, found| Refused::Shape(OutputError::NotAnObject { path, found });
    let value: Value = serde_json::from_slice(bytes).expect("the inputs are JSON");
    let documents = match &value {
        Value::Array(elements) if elements.first().is_some_and(is_document) => elements
            .iter()
            .enumerate()
            .map(|(i, v)| document(v, &format!("$[{i}]")))
            .collect::<Result<Vec<_>, _>>()?,
        Value::Array(elements) => vec![RefDocument {
            rows: elements
                .iter()
                .enumerate()
                .map(|(i, v)| row(v, &format!("$[{i}]")))
                .collect::<Result<_, _>>()?,
            ..RefDocument::default()
        }],
        object @ Value::Object(_) if is_document(object) => vec![document(object, "$")?],
        object @ Value::Object(_) => vec![RefDocument {
            rows: vec![row(object, "$")?],
            ..RefDocument::default()
        }],
        other => return Err(shape("$".into(), kind(other))),
    };
    for document in &documents {
        let rows = document.rows.iter().chain(&document.context);
        if document.rows.len() > MAX_ROWS || !rows.into_iter().all(within_limits) {
            return Err(Refused::Limit);
        }
    }
    Ok(documents.into_iter().map(Document::from).collect())
}

fn within_limits(row: &BTreeMap<String, String>) -> bool {
    row.len() <= MAX_ATTRIBUTES
        && row.iter().all(|(name, value)| {
            name.chars().count() <= MAX_NAME_CHARS && value.chars().count() <= MAX_VALUE_CHARS
        })
}

fn is_document(value: &Value) -> bool {
    value
        .as_object()
        .is_some_and(|o| o.contains_key("TypeName") && o.contains_key("Content"))
}

fn document(value: &Value, path: &str) -> Result<RefDocument, Refused> {
    let Some(object) = value.as_object() else {
        return Err(Refused::Shape(OutputError::NotAnObject {
            path: path.into(),
            found: kind(value),
        }));
    };
    let string = |key: &'static str| match object.get(key) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(Refused::Shape(OutputError::DocumentField {
            path: path.into(),
            key,
        })),
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
            return Err(Refused::Shape(OutputError::NotAnObject {
                path: content_path,
                found: kind(other),
            }));
        }
    };
    let context = match object.get("Context") {
        None | Some(Value::Null) => None,
        Some(v) => Some(row(v, &format!("{path}.Context"))?),
    };
    Ok(RefDocument {
        type_name,
        schema_version,
        rows,
        context,
    })
}

fn row(value: &Value, path: &str) -> Result<BTreeMap<String, String>, Refused> {
    let Value::Object(object) = value else {
        return Err(Refused::Shape(OutputError::NotAnObject {
            path: path.into(),
            found: kind(value),
        }));
    };
    let mut row = BTreeMap::new();
    for (key, value) in object {
        let text = match value {
            Value::String(s) => s.clone(),
            Value::Number(n) => n.to_string(),
            Value::Bool(b) => b.to_string(),
            Value::Null => continue,
            Value::Array(_) | Value::Object(_) => {
                return Err(Refused::Shape(OutputError::Nested {
                    path: member_path(path, key),
                    found: kind(value),
                }));
            }
        };
        row.insert(key.clone(), text);
    }
    Ok(row)
}

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

// ---------------------------------------------------------------------------------------------
// Inputs

/// `value` as JSON text with each object's keys in sorted or in reverse order.
fn print(value: &Value, reverse: bool, out: &mut String) {
    match value {
        Value::Object(map) => {
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            if reverse {
                entries.reverse();
            }
            out.push('{');
            for (i, (key, value)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::from(key.as_str()).to_string());
                out.push(':');
                print(value, reverse, out);
            }
            out.push('}');
        }
        Value::Array(elements) => {
            out.push('[');
            for (i, element) in elements.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                print(element, reverse, out);
            }
            out.push(']');
        }
        scalar => out.push_str(&scalar.to_string()),
    }
}

fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        6 => "[A-Za-z][A-Za-z0-9_]{0,6}",
        1 => Just("TypeName".to_owned()),
        1 => Just("Content".to_owned()),
        1 => Just("SchemaVersion".to_owned()),
        1 => Just("Context".to_owned()),
        1 => Just("a b\n\"".to_owned()),
    ]
}

fn scalar() -> impl Strategy<Value = Value> {
    prop_oneof![
        4 => "[a-z0-9 €\"\\\\]{0,8}".prop_map(Value::from),
        1 => any::<i64>().prop_map(Value::from),
        1 => any::<f64>().prop_map(|f| Value::from(if f.is_finite() { f } else { 0.5 })),
        1 => any::<bool>().prop_map(Value::from),
        1 => Just(Value::Null),
    ]
}

fn any_json() -> BoxedStrategy<Value> {
    scalar()
        .prop_recursive(3, 24, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                prop::collection::btree_map(key(), inner, 0..4)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
        .boxed()
}

/// Outputs of every shape the parser knows, mostly valid, some nested where they must not be.
fn shaped() -> BoxedStrategy<Value> {
    let attribute = prop_oneof![8 => scalar(), 1 => any_json()];
    let row = prop::collection::btree_map(key(), attribute, 0..5)
        .prop_map(|m| Value::Object(m.into_iter().collect()))
        .boxed();
    let rows = prop::collection::vec(row.clone(), 0..4).prop_map(Value::Array);
    let document = (
        prop_oneof![4 => "Custom:[A-Z][a-z]{0,5}".prop_map(Value::from), 1 => any_json()],
        prop::option::of(prop_oneof![Just(Value::from("1.0")), scalar()]),
        prop_oneof![4 => rows.clone().boxed(), 1 => row.clone(), 1 => any_json()],
        prop::option::weighted(0.2, prop_oneof![row.clone(), any_json()]),
        prop::option::weighted(0.3, any_json()),
    )
        .prop_map(|(type_name, schema, content, context, extra)| {
            let mut m = Map::new();
            m.insert("TypeName".into(), type_name);
            m.insert("Content".into(), content);
            if let Some(s) = schema {
                m.insert("SchemaVersion".into(), s);
            }
            if let Some(c) = context {
                m.insert("Context".into(), c);
            }
            if let Some(x) = extra {
                m.insert("Extra".into(), x);
            }
            Value::Object(m)
        })
        .boxed();
    prop_oneof![
        rows.boxed(),
        row,
        document.clone(),
        prop::collection::vec(document, 1..4)
            .prop_map(Value::Array)
            .boxed(),
        any_json(),
    ]
    .boxed()
}

/// A row on or over one of the row limits, or an ordinary one.
fn edge_row() -> impl Strategy<Value = Value> {
    let name = prop_oneof![
        4 => Just("Name".to_owned()),
        1 => Just("N".repeat(MAX_NAME_CHARS)),
        1 => Just("N".repeat(MAX_NAME_CHARS + 1)),
        1 => Just("é".repeat(MAX_NAME_CHARS + 1)),
    ];
    let value = prop_oneof![
        4 => Just(Value::from("v")),
        1 => Just(Value::from("v".repeat(MAX_VALUE_CHARS))),
        1 => Just(Value::from("€".repeat(MAX_VALUE_CHARS))),
        1 => Just(Value::from("v".repeat(MAX_VALUE_CHARS + 1))),
        1 => Just(Value::Null),
        1 => Just(Value::from(42)),
    ];
    let fillers = prop_oneof![
        Just(0usize),
        Just(MAX_ATTRIBUTES - 2),
        Just(MAX_ATTRIBUTES - 1),
        Just(MAX_ATTRIBUTES),
        Just(MAX_ATTRIBUTES + 1)
    ];
    (
        name,
        value,
        fillers,
        prop_oneof![Just(Value::from("f")), Just(Value::Null)],
    )
        .prop_map(|(name, value, fillers, filler)| {
            let mut m = Map::new();
            m.insert(name, value);
            for i in 0..fillers {
                m.insert(format!("F{i:02}"), filler.clone());
            }
            Value::Object(m)
        })
}

/// Outputs on the limits: a list of small rows of a count around the row limit, with one
/// row on or over another limit somewhere in it, as plain rows or as a document's Content.
fn on_the_limits() -> BoxedStrategy<Value> {
    let count = prop_oneof![0usize..3, (MAX_ROWS - 1)..(MAX_ROWS + 2)];
    (count, edge_row(), any::<prop::sample::Index>(), 0u8..4)
        .prop_map(|(count, edge, at, wrap)| {
            let mut rows = vec![serde_json::json!({"a": "1"}); count];
            if count > 0 {
                rows[at.index(count)] = edge;
            } else {
                rows.push(edge);
            }
            let document = |content: Value| {
                serde_json::json!({"TypeName": "Custom:Edge", "SchemaVersion": "1.0", "Content": content})
            };
            match wrap {
                0 => Value::Array(rows),
                1 => document(Value::Array(rows)),
                2 => Value::Array(vec![
                    document(Value::Array(Vec::new())),
                    document(Value::Array(rows)),
                ]),
                _ => rows.swap_remove(0),
            }
        })
        .boxed()
}

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: std::env::var("PROPTEST_CASES")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(256),
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// Both readers agree on `value` printed with keys in `reverse` order or not.
fn agree(value: &Value, reverse: bool) -> Result<(), TestCaseError> {
    let mut text = String::new();
    print(value, reverse, &mut text);
    let streamed = output::parse(text.as_bytes());
    let whole = reference(text.as_bytes());
    match (&streamed, &whole) {
        (Ok(a), Ok(b)) => prop_assert_eq!(a, b),
        // Without a problem of shape, only a limit can refuse.
        (Err(e), Err(Refused::Limit)) => prop_assert!(matches!(e, OutputError::Limit(_)), "{e}"),
        (Err(e), Err(Refused::Shape(expected))) => {
            // Sorted keys are the order the reference checks rows in, so the first problem of
            // shape in the text is its problem; a limit may come first in the text.
            if !reverse && !matches!(e, OutputError::Limit(_)) {
                prop_assert_eq!(e, expected);
            }
        }
        _ => prop_assert!(
            false,
            "streamed {:?}, reference {:?}, on {}",
            streamed.as_ref().map(Vec::len),
            whole.as_ref().map(Vec::len),
            text.chars().take(300).collect::<String>()
        ),
    }
    Ok(())
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn the_stream_reads_what_the_tree_reads(value in shaped()) {
        agree(&value, false)?;
        agree(&value, true)?;
    }

    #[test]
    fn the_stream_refuses_what_the_tree_refuses_on_the_limits(value in on_the_limits()) {
        agree(&value, false)?;
        agree(&value, true)?;
    }
}
