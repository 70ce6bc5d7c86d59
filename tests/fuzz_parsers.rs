//! Fuzz tests (proptest; the stable toolchain has no cargo-fuzz) for the three parsers that
//! read what an operator or a program wrote:
//!
//! * `probe::output::parse`, the exec probe's stdout parser;
//! * the `files` probe's reader of SSM Agent custom inventory documents (through
//!   `FilesProbe::collect` on a real folder, so the file handling, the document checks and
//!   `Item::new` are all under test);
//! * `config::load_str`, the configuration parser and validator.
//!
//! Each target runs on random bytes and on structured input (random JSON / documents / TOML
//! built from the grammar the parser expects, valid and invalid). Every case asserts that the
//! parser does not panic and that its answer makes sense: an output error's JSON path points at
//! a value of the kind it names; a document is accepted exactly when an independent oracle of
//! the PutInventory rules (written here, not calling the daemon's validation) says it is
//! valid, and a refused one is reported with its file path; a configuration error is one line
//! starting with `FILE:LINE` inside the text.
//!
//! CI runs a small number of cases. The heavy run is one command:
//!
//! ```sh
//! PROPTEST_CASES=1000000 cargo test --release --test fuzz_parsers -- --nocapture
//! ```
//!
//! Each target prints how many inputs it executed.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use serde_json::{Map, Value};
use ssm_inventoryd::config;
use ssm_inventoryd::inventory::validate::{ItemError, check_rows};
use ssm_inventoryd::inventory::{Row, Rows};
use ssm_inventoryd::probe::CollectContext;
use ssm_inventoryd::probe::files::FilesProbe;
use ssm_inventoryd::probe::output::{self, OutputError};

// ---------------------------------------------------------------------------------------------
// Harness

/// `PROPTEST_CASES` when set (the heavy run), else `default` (CI).
fn cases(default: u32) -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

/// Runs `test` on `cases` inputs of `strategy`; panics (failing the test) with proptest's
/// minimal failing input on the first failure or panic. Returns the executions.
fn fuzz<S: Strategy>(
    name: &str,
    cases: u32,
    strategy: S,
    test: impl Fn(S::Value) -> Result<(), TestCaseError>,
) {
    let executions = AtomicU64::new(0);
    let mut runner = TestRunner::new(Config {
        cases,
        // Inputs are cheap and independent; shrinking a failure is what matters.
        max_shrink_iters: 10_000,
        // No strategy here filters much, but over millions of cases even rare rejects add up.
        max_local_rejects: u32::MAX,
        max_global_rejects: u32::MAX,
        failure_persistence: None,
        ..Config::default()
    });
    let result = runner.run(&strategy, |value| {
        executions.fetch_add(1, Ordering::Relaxed);
        test(value)
    });
    let n = executions.load(Ordering::Relaxed);
    if let Err(e) = result {
        panic!("fuzz target `{name}` failed after {n} executions: {e}");
    }
    eprintln!("fuzz target `{name}`: {n} executions, 0 failures");
}

// ---------------------------------------------------------------------------------------------
// Input strategies

/// Characters that make JSON and TOML parsers work: structure, quotes, escapes, digits,
/// keywords' letters, whitespace, multi-byte and control characters.
const NEAR_SYNTAX: &str = r#"[\[\]{}":,=.0-9a-zA-Z \\\n\t#'_+\-éü€\x00\x01\x7f]{0,300}"#;

fn scalar_string() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-zA-Z0-9 ._-]{0,12}",
        r#"[\x00-\x1f"\\/€é\u{1F600}a-z]{0,8}"#,
        Just(String::new()),
    ]
}

/// Keys simple enough for the JSONPath-like error paths to be resolved by [`resolve`].
fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => "[A-Za-z][A-Za-z0-9_]{0,8}",
        1 => Just("TypeName".to_owned()),
        1 => Just("Content".to_owned()),
        1 => Just("SchemaVersion".to_owned()),
        1 => Just("Context".to_owned()),
    ]
}

fn json_value() -> BoxedStrategy<Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        // JSON has no NaN or infinity; mapped rather than filtered, so that a million cases
        // never run into proptest's limit on rejected inputs.
        any::<f64>().prop_map(|f| Value::from(if f.is_finite() { f } else { 0.0 })),
        scalar_string().prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(key(), inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect::<Map<_, _>>())),
        ]
    })
    .boxed()
}

/// A value of a shape the parser accepts or nearly accepts: rows, one row, documents.
fn output_shaped() -> impl Strategy<Value = Value> {
    let flat_value = prop_oneof![
        6 => scalar_string().prop_map(Value::String),
        1 => any::<i32>().prop_map(Value::from),
        1 => any::<bool>().prop_map(Value::Bool),
        1 => Just(Value::Null),
        1 => json_value(),
    ];
    let row = prop::collection::btree_map(key(), flat_value, 0..5)
        .prop_map(|m| Value::Object(m.into_iter().collect()))
        .boxed();
    let rows = prop::collection::vec(row.clone(), 0..5)
        .prop_map(Value::Array)
        .boxed();
    let document = (
        prop::option::of(prop_oneof![
            scalar_string().prop_map(Value::String),
            json_value()
        ]),
        prop::option::of(prop_oneof![Just(Value::String("1.0".into())), json_value()]),
        prop_oneof![rows.clone(), row.clone(), Just(Value::Null), json_value()],
        prop::option::of(prop_oneof![row.clone(), json_value()]),
    )
        .prop_map(|(type_name, schema, content, context)| {
            let mut m = Map::new();
            m.insert(
                "TypeName".into(),
                type_name.unwrap_or(Value::String("Custom:Fuzz".into())),
            );
            if let Some(s) = schema {
                m.insert("SchemaVersion".into(), s);
            }
            m.insert("Content".into(), content);
            if let Some(c) = context {
                m.insert("Context".into(), c);
            }
            Value::Object(m)
        })
        .boxed();
    prop_oneof![
        rows,
        row,
        document.clone(),
        prop::collection::vec(document, 0..4).prop_map(Value::Array),
        json_value(),
    ]
}

/// Bytes of a serialised value with a few bytes changed, inserted or removed.
fn mutated(value: impl Strategy<Value = Value>) -> impl Strategy<Value = Vec<u8>> {
    (
        value,
        prop::collection::vec((any::<prop::sample::Index>(), any::<u8>(), 0u8..3), 1..4),
    )
        .prop_map(|(v, edits)| {
            let mut bytes = serde_json::to_vec(&v).expect("serialise");
            for (at, byte, op) in edits {
                if bytes.is_empty() {
                    bytes.push(byte);
                    continue;
                }
                let i = at.index(bytes.len());
                match op {
                    0 => bytes[i] = byte,
                    1 => bytes.insert(i, byte),
                    _ => {
                        bytes.remove(i);
                    }
                }
            }
            bytes
        })
}

// ---------------------------------------------------------------------------------------------
// Target 1: probe output parser

/// The value at a `$`, `$[3]`, `$.Content[0].x`, `$["odd key"]` path, if there is one.
fn resolve<'a>(root: &'a Value, path: &str) -> Option<&'a Value> {
    let mut rest = path.strip_prefix('$')?;
    let mut at = root;
    while !rest.is_empty() {
        if rest.starts_with("[\"") {
            // `["key"]`: a JSON string literal, for keys that are not plain names.
            let literal = &rest[1..];
            let mut strings = serde_json::Deserializer::from_str(literal).into_iter::<String>();
            let key = strings.next()?.ok()?;
            let used = strings.byte_offset();
            at = at.as_object()?.get(&key)?;
            rest = literal[used..].strip_prefix(']')?;
        } else if let Some(r) = rest.strip_prefix('[') {
            let end = r.find(']')?;
            let index: usize = r[..end].parse().ok()?;
            at = at.as_array()?.get(index)?;
            rest = &r[end + 1..];
        } else if let Some(r) = rest.strip_prefix('.') {
            let end = r.find(['.', '[']).unwrap_or(r.len());
            at = at.as_object()?.get(&r[..end])?;
            rest = &r[end..];
        } else {
            return None;
        }
    }
    Some(at)
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

/// The text a scalar attribute value becomes.
fn scalar_text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// The flat objects of `source` as rows, null attributes dropped.
fn source_rows(source: &[Value]) -> Result<Vec<Row>, TestCaseError> {
    source
        .iter()
        .map(|value| {
            let object = value
                .as_object()
                .ok_or_else(|| fail("a row from a non-object"))?;
            object
                .iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| Ok((k.clone(), scalar_text(v).ok_or_else(|| fail("nested"))?)))
                .collect::<Result<Row, TestCaseError>>()
        })
        .collect()
}

/// Asserts that `rows` are exactly the flat objects of `source`, null attributes dropped; or,
/// when a row breaks a row rule (the reader keeps reading and leaves the refusal to the item
/// made of the rows), that the refusal is the one the same rows as maps get, and for two
/// spellings of one name, that the input has both.
fn same_rows(rows: &Rows, source: &[Value]) -> Result<(), TestCaseError> {
    let expected = source_rows(source)?;
    match rows.clone().finish("Custom:Fuzz", true) {
        Ok(_) => {
            let rows = rows.to_rows();
            prop_assert_eq!(rows.len(), expected.len());
            for (row, expected) in rows.iter().zip(&expected) {
                prop_assert_eq!(row, expected);
            }
        }
        Err(refused) => {
            prop_assert_eq!(Err(refused.clone()), check_rows("Custom:Fuzz", &expected));
            if let ItemError::AttributeSpelling {
                row, name, first, ..
            } = &refused
            {
                prop_assert!(name != first && name.to_lowercase() == first.to_lowercase());
                prop_assert!(expected[*row].contains_key(name));
                prop_assert!(expected.iter().any(|r| r.contains_key(first)));
            }
        }
    }
    Ok(())
}

fn fail(why: &str) -> TestCaseError {
    TestCaseError::fail(why.to_owned())
}

/// Checks `parse(bytes)`; `value` is what the bytes are, when they are JSON.
fn check_output(bytes: &[u8]) -> Result<(), TestCaseError> {
    let result = output::parse(bytes);
    let text = match std::str::from_utf8(bytes) {
        Ok(text) => text,
        Err(e) => {
            prop_assert_eq!(
                result,
                Err(OutputError::NotUtf8 {
                    offset: e.valid_up_to()
                })
            );
            return Ok(());
        }
    };
    let value: Value = match serde_json::from_str(text) {
        Ok(v) => v,
        Err(_) => {
            let e = result.expect_err("invalid JSON must be refused");
            match e {
                OutputError::Empty => prop_assert!(text.trim().is_empty()),
                OutputError::InvalidJson { line, column, .. } => {
                    prop_assert!(line >= 1 && line <= text.lines().count().max(1) + 1);
                    prop_assert!(column <= text.len() + 1);
                }
                // Reading stops at the first limit crossed, before any later syntax error.
                OutputError::Limit(_) => {}
                other => return Err(fail(&format!("unexpected {other:?} for invalid JSON"))),
            }
            return Ok(());
        }
    };
    match result {
        Ok(docs) => check_accepted(&value, &docs),
        Err(e) => {
            let message = e.to_string();
            prop_assert!(!message.is_empty());
            prop_assert!(!message.contains('\n'), "multi-line error: {}", message);
            match &e {
                OutputError::Nested { path, found } => {
                    let at = resolve(&value, path)
                        .ok_or_else(|| fail(&format!("{e}: path not in the input")))?;
                    prop_assert!(at.is_array() || at.is_object(), "{e}");
                    prop_assert_eq!(*found, kind(at));
                }
                OutputError::NotAnObject { path, found } => {
                    let at = resolve(&value, path)
                        .ok_or_else(|| fail(&format!("{e}: path not in the input")))?;
                    prop_assert!(!at.is_object(), "{e}");
                    prop_assert_eq!(*found, kind(at));
                }
                OutputError::DocumentField { path, key } => {
                    let at = resolve(&value, path)
                        .and_then(|v| v.get(*key))
                        .ok_or_else(|| fail(&format!("{e}: path not in the input")))?;
                    prop_assert!(!at.is_string(), "{e}");
                }
                OutputError::Limit(limit) => {
                    let at = resolve(&value, &limit.path)
                        .ok_or_else(|| fail(&format!("{e}: path not in the input")))?;
                    prop_assert!(at.is_array() || at.is_object(), "{e}");
                }
                other => return Err(fail(&format!("unexpected {other:?} for valid JSON"))),
            }
            Ok(())
        }
    }
}

fn is_document(v: &Value) -> bool {
    v.as_object()
        .is_some_and(|o| o.contains_key("TypeName") && o.contains_key("Content"))
}

/// What was accepted is what the input says.
fn check_accepted(value: &Value, docs: &[output::Document]) -> Result<(), TestCaseError> {
    let documents: Vec<&Value> = match value {
        Value::Array(a) if a.first().is_some_and(is_document) => a.iter().collect(),
        Value::Array(rows) => {
            prop_assert_eq!(docs.len(), 1);
            prop_assert!(docs[0].type_name.is_none());
            return same_rows(&docs[0].rows, rows);
        }
        v if is_document(v) => vec![v],
        Value::Object(_) => {
            prop_assert_eq!(docs.len(), 1);
            return same_rows(&docs[0].rows, std::slice::from_ref(value));
        }
        other => return Err(fail(&format!("accepted {}", kind(other)))),
    };
    prop_assert_eq!(docs.len(), documents.len());
    for (doc, v) in docs.iter().zip(documents) {
        prop_assert_eq!(doc.type_name.as_deref(), v["TypeName"].as_str());
        prop_assert_eq!(
            doc.schema_version.as_deref(),
            v.get("SchemaVersion").and_then(Value::as_str)
        );
        match &v["Content"] {
            Value::Array(rows) => same_rows(&doc.rows, rows)?,
            one @ Value::Object(_) => same_rows(&doc.rows, std::slice::from_ref(one))?,
            Value::Null => prop_assert!(doc.rows.is_empty()),
            other => return Err(fail(&format!("Content {} accepted", kind(other)))),
        }
    }
    Ok(())
}

#[test]
fn fuzz_probe_output_random_bytes() {
    fuzz(
        "probe output: random bytes",
        cases(512),
        prop::collection::vec(any::<u8>(), 0..300),
        |bytes| check_output(&bytes),
    );
}

#[test]
fn fuzz_probe_output_near_json() {
    fuzz(
        "probe output: near-JSON text",
        cases(512),
        NEAR_SYNTAX,
        |text| check_output(text.as_bytes()),
    );
}

/// Found by `fuzz_probe_output_structured`: one name in two spellings is read, and refused by
/// the item made of the rows, not by the reader.
#[test]
fn a_name_in_two_spellings_is_refused_by_the_item() {
    check_output(br#"{"P":"","p":""}"#).expect("checked");
    check_output(br#"[{"Name":"a"},{"name":"b"}]"#).expect("checked");
    let docs = output::parse(br#"{"P":"","p":""}"#).expect("read");
    let refused = docs[0].rows.clone().finish("Custom:X", false);
    assert!(
        matches!(refused, Err(ItemError::AttributeSpelling { .. })),
        "{refused:?}"
    );
}

#[test]
fn fuzz_probe_output_structured() {
    fuzz(
        "probe output: structured JSON",
        cases(512),
        output_shaped(),
        |value| check_output(&serde_json::to_vec(&value).expect("serialise")),
    );
}

#[test]
fn fuzz_probe_output_mutated() {
    fuzz(
        "probe output: mutated JSON",
        cases(512),
        mutated(output_shaped()),
        |bytes| check_output(&bytes),
    );
}

// ---------------------------------------------------------------------------------------------
// Target 2: the files probe's SSM Agent document reader

/// A document as the SSM Agent reads them, with the values that sit on each rule's boundary.
#[derive(Debug, Clone)]
struct Doc {
    type_name: Option<String>,
    schema_version: Option<String>,
    /// `None`: no Content key. `Some(rows)` with `single` set and one row: Content is an object.
    content: Option<Vec<BTreeMap<String, String>>>,
    single: bool,
    context: Option<BTreeMap<String, String>>,
}

fn doc_strategy() -> impl Strategy<Value = Doc> {
    let type_name = prop_oneof![
        6 => "Custom:[A-Za-z0-9_.]{1,12}",
        1 => Just("Custom:".to_owned()),
        1 => Just(String::new()),
        1 => Just("AWS:Application".to_owned()),
        1 => Just("custom:lower".to_owned()),
        1 => Just(format!("Custom:{}", "a".repeat(93))),
        1 => Just(format!("Custom:{}", "a".repeat(94))),
        1 => Just(format!("Custom:{}", "€".repeat(93))),
    ];
    let schema_version = prop_oneof![
        4 => Just("1.0".to_owned()),
        1 => "[0-9]{1,7}\\.[0-9]{1,7}",
        1 => "[0-9.a-z]{0,5}",
    ];
    let name = prop_oneof![
        6 => prop::sample::select(vec!["Name", "Version", "Vendor", "Port", "Id"])
            .prop_map(str::to_owned),
        1 => prop::sample::select(vec!["name", "VENDOR", "port"]).prop_map(str::to_owned),
        1 => Just(String::new()),
        1 => Just("N".repeat(64)),
        1 => Just("N".repeat(65)),
        1 => Just("é".repeat(64)),
        1 => "[a-zA-Z0-9 \"\\\\€]{1,10}",
    ];
    let value = prop_oneof![
        8 => "[a-zA-Z0-9 .,:/\"\\\\\t€-]{0,20}",
        1 => Just("v".repeat(4096)),
        1 => Just("v".repeat(4097)),
        1 => Just("€".repeat(4096)),
    ];
    let value = value.boxed();
    let row = prop::collection::btree_map(name, value.clone(), 0..6);
    let wide_row = Just(
        (0..51)
            .map(|i| (format!("A{i}"), "x".to_owned()))
            .collect::<BTreeMap<_, _>>(),
    );
    let row = prop_oneof![20 => row, 1 => wide_row];
    (
        prop::option::weighted(0.95, type_name),
        prop::option::of(schema_version),
        prop::option::weighted(0.9, prop::collection::vec(row, 0..6)),
        any::<bool>(),
        prop::option::weighted(
            0.05,
            prop::collection::btree_map("[A-Z][a-z]{0,5}", value, 0..3),
        ),
    )
        .prop_map(
            |(type_name, schema_version, content, single, context)| Doc {
                type_name,
                schema_version,
                content,
                single,
                context,
            },
        )
}

impl Doc {
    fn to_json(&self) -> Value {
        let mut m = Map::new();
        if let Some(s) = &self.schema_version {
            m.insert("SchemaVersion".into(), Value::String(s.clone()));
        }
        if let Some(t) = &self.type_name {
            m.insert("TypeName".into(), Value::String(t.clone()));
        }
        let row = |r: &BTreeMap<String, String>| {
            Value::Object(
                r.iter()
                    .map(|(k, v)| (k.clone(), Value::String(v.clone())))
                    .collect(),
            )
        };
        match &self.content {
            Some(rows) if self.single && rows.len() == 1 => {
                m.insert("Content".into(), row(&rows[0]));
            }
            Some(rows) => {
                m.insert(
                    "Content".into(),
                    Value::Array(rows.iter().map(row).collect()),
                );
            }
            None => {}
        }
        if let Some(c) = &self.context {
            m.insert("Context".into(), row(c));
        }
        Value::Object(m)
    }

    /// The PutInventory rules (docs/ARCHITECTURE.md, "PutInventory rules"), written out on their own; missing Content is empty
    /// content.
    fn valid(&self) -> bool {
        let Some(type_name) = &self.type_name else {
            return false;
        };
        let type_ok = type_name.starts_with("Custom:")
            && type_name.len() > "Custom:".len()
            && type_name.chars().count() <= 100;
        let schema = self.schema_version.as_deref().unwrap_or("1.0");
        let schema_ok = schema.split_once('.').is_some_and(|(a, b)| {
            [a, b]
                .iter()
                .all(|p| (1..=6).contains(&p.len()) && p.chars().all(|c| c.is_ascii_digit()))
        });
        let rows = self.content.as_deref().unwrap_or_default();
        let mut spellings: BTreeMap<String, std::collections::BTreeSet<&str>> = BTreeMap::new();
        let rows_ok = rows.len() <= 10_000
            && rows.iter().all(|row| {
                row.len() <= 50
                    && row.iter().all(|(name, value)| {
                        spellings
                            .entry(name.to_lowercase())
                            .or_default()
                            .insert(name);
                        !name.is_empty()
                            && name.chars().count() <= 64
                            && value.chars().count() <= 4096
                    })
            });
        let spelling_ok = spellings.values().all(|s| s.len() == 1);
        type_ok && schema_ok && rows_ok && spelling_ok && self.context.is_none()
    }
}

struct Folder {
    dir: tempfile::TempDir,
    runtime: tokio::runtime::Runtime,
}

impl Folder {
    fn new() -> Folder {
        Folder {
            dir: tempfile::tempdir().expect("temp dir"),
            // With time: a probe's blocking work is taken back from a held-up lane after a
            // timer (src/probe/lane.rs).
            runtime: tokio::runtime::Builder::new_current_thread()
                .enable_time()
                .build()
                .expect("runtime"),
        }
    }

    /// Writes `bytes` as the folder's only document and collects it with a fresh probe.
    fn collect(
        &self,
        bytes: &[u8],
    ) -> (
        std::path::PathBuf,
        Result<ssm_inventoryd::probe::Collection, ssm_inventoryd::probe::ProbeError>,
    ) {
        let path = self.dir.path().join("doc.json");
        std::fs::write(&path, bytes).expect("write document");
        let probe = FilesProbe::new("fuzz", self.dir.path(), false);
        let result = self
            .runtime
            .block_on(probe.collect(&CollectContext::default()));
        (path, result)
    }
}

/// What reading one file must give, by the rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    /// Any answer that follows the general rules (random input).
    Unknown,
    /// `items` items; TypeNames repeated inside the file are reported once each
    /// (`duplicates`) and the first copy kept.
    Accept {
        items: usize,
        duplicates: usize,
    },
    Refuse,
}

/// A file is either taken (every document valid) or reported, with its path, and skipped;
/// nothing else happens to a folder of one file.
fn check_file(folder: &Folder, bytes: &[u8], expect: Expect) -> Result<(), TestCaseError> {
    let (path, result) = folder.collect(bytes);
    let collection = result.map_err(|e| fail(&format!("the folder run failed: {e}")))?;
    let shown = path.display().to_string();
    for error in &collection.errors {
        let message = error.to_string();
        prop_assert!(
            message.contains(&shown),
            "error does not name the file: {message}"
        );
        prop_assert!(!message.contains('\n'), "multi-line error: {message}");
    }
    for item in &collection.items {
        prop_assert_eq!(item.content_hash().len(), 24);
    }
    let duplicate = |e: &ssm_inventoryd::probe::ProbeError| e.to_string().contains("is already in");
    match expect {
        Expect::Unknown => {
            // Refused whole (one error, no items), or taken with only duplicates reported.
            if collection.items.is_empty() {
                prop_assert!(collection.errors.len() <= 1, "{:?}", collection.errors);
            } else {
                prop_assert!(
                    collection.errors.iter().all(duplicate),
                    "{:?}",
                    collection.errors
                );
            }
        }
        Expect::Accept { items, duplicates } => {
            prop_assert!(
                collection.errors.iter().all(duplicate),
                "refused a valid document: {:?}",
                collection.errors
            );
            prop_assert_eq!(collection.items.len(), items);
            prop_assert_eq!(collection.errors.len(), duplicates);
        }
        Expect::Refuse => {
            prop_assert!(
                collection.items.is_empty(),
                "accepted a document the rules refuse"
            );
            prop_assert_eq!(collection.errors.len(), 1);
        }
    }
    Ok(())
}

#[test]
fn fuzz_files_random_bytes() {
    let folder = Folder::new();
    fuzz(
        "files probe: random bytes",
        cases(128),
        prop::collection::vec(any::<u8>(), 0..300),
        |bytes| check_file(&folder, &bytes, Expect::Unknown),
    );
}

/// What the rules say about a file holding `docs` (one document, or an array of them).
fn expect(docs: &[Doc]) -> Expect {
    match docs {
        [one] if one.type_name.is_some() && one.content.is_some() && one.valid() => {
            Expect::Accept {
                items: 1,
                duplicates: 0,
            }
        }
        [_] => Expect::Refuse,
        // An array is an array of documents when its first element is one; then every
        // element is read as a document (missing Content is empty content).
        [first, ..] if first.type_name.is_some() && first.content.is_some() => {
            if !docs.iter().all(|d| d.type_name.is_some() && d.valid()) {
                return Expect::Refuse;
            }
            let mut names: Vec<&str> = docs.iter().filter_map(|d| d.type_name.as_deref()).collect();
            names.sort_unstable();
            names.dedup();
            Expect::Accept {
                items: names.len(),
                duplicates: docs.len() - names.len(),
            }
        }
        // Otherwise it is rows without a TypeName (or nested values): refused.
        _ => Expect::Refuse,
    }
}

#[test]
fn fuzz_files_documents() {
    let folder = Folder::new();
    fuzz(
        "files probe: structured documents",
        cases(256),
        prop_oneof![
            3 => doc_strategy().prop_map(|d| vec![d]),
            1 => prop::collection::vec(doc_strategy(), 0..4),
        ],
        |docs| {
            let json = match docs.as_slice() {
                [one] => one.to_json(),
                many => Value::Array(many.iter().map(Doc::to_json).collect()),
            };
            let bytes = serde_json::to_vec(&json).expect("serialise");
            check_file(&folder, &bytes, expect(&docs))
        },
    );
}

#[test]
fn fuzz_files_mutated_documents() {
    let folder = Folder::new();
    fuzz(
        "files probe: mutated documents",
        cases(128),
        mutated(doc_strategy().prop_map(|d| d.to_json())),
        |bytes| check_file(&folder, &bytes, Expect::Unknown),
    );
}

// ---------------------------------------------------------------------------------------------
// Target 3: configuration

const CONFIG_PATH: &str = "/etc/ssm-inventoryd/config.toml";

fn check_config(text: &str, probes: Option<usize>) -> Result<(), TestCaseError> {
    match config::load_str(Path::new(CONFIG_PATH), text) {
        Ok(settings) => {
            if let Some(n) = probes {
                prop_assert_eq!(settings.probes.len(), n);
            }
        }
        Err(e) => {
            let message = e.to_string();
            prop_assert!(
                message.starts_with(&format!("{CONFIG_PATH}:")),
                "error does not start with the file: {message}"
            );
            prop_assert!(!message.contains('\n'), "multi-line error: {message}");
            let lines = text.split('\n').count();
            if let Some(line) = e.line() {
                prop_assert!(
                    line >= 1 && line <= lines,
                    "line {line} outside the {lines} lines of the text: {message}"
                );
                let prefix = format!("{CONFIG_PATH}:{line}: ");
                prop_assert!(message.starts_with(&prefix), "{}", message);
            }
        }
    }
    Ok(())
}

/// A TOML value for a key: often right for it, often wrong in type or range.
fn toml_value(key: &'static str) -> BoxedStrategy<String> {
    let duration = prop_oneof![
        Just("\"30s\"".to_owned()),
        Just("\"1h 30m\"".to_owned()),
        Just("\"0s\"".to_owned()),
        Just("\"500ms\"".to_owned()),
        "\"[0-9]{1,20}[a-z]{0,3}\"",
        Just("\"-5s\"".to_owned()),
    ];
    let string = "\"[a-zA-Z0-9 ./:{}*_\\-]{0,20}\"";
    let any_toml = prop_oneof![
        Just("true".to_owned()),
        "-?[0-9]{1,20}",
        Just("1.5".to_owned()),
        Just("[]".to_owned()),
        Just("{}".to_owned()),
        string.prop_map(|s| s),
        Just("\"\"".to_owned()),
        Just("1979-05-27T07:32:00Z".to_owned()),
    ];
    let specific: BoxedStrategy<String> = match key {
        "splay" | "min_push_interval" | "refresh_interval" | "quarantine_retry" | "retry_base"
        | "retry_cap" | "interval" | "timeout" => duration.boxed(),
        "instance_id" => prop_oneof![
            Just("\"auto\"".to_owned()),
            Just("\"i-0123456789abcdef0\"".to_owned()),
            Just("\"mi-0123456789abcdef0\"".to_owned()),
            "\"[a-z0-9-]{0,20}\"",
        ]
        .boxed(),
        "region" => prop_oneof![Just("\"us-east-1\"".to_owned()), "\"[a-z0-9-]{0,15}\""].boxed(),
        "endpoint_url" => prop_oneof![
            Just("\"http://127.0.0.1:4566\"".to_owned()),
            "\"[a-z:/.0-9]{0,20}\"",
        ]
        .boxed(),
        "max_request_bytes" | "max_output_bytes" | "probe_output_budget" => "-?[0-9]{1,12}".boxed(),
        "max_concurrent_probes" => "-?[0-9]{1,5}".boxed(),
        "on_removed" => prop_oneof![
            Just("\"clear\"".to_owned()),
            Just("\"keep\"".to_owned()),
            Just("\"drop\"".to_owned()),
        ]
        .boxed(),
        "strict_permissions" | "shell" | "keep_order" => {
            prop_oneof![Just("true".to_owned()), Just("false".to_owned())].boxed()
        }
        "kind" => prop_oneof![
            Just("\"exec\"".to_owned()),
            Just("\"files\"".to_owned()),
            Just("\"system\"".to_owned()),
            Just("\"cron\"".to_owned()),
        ]
        .boxed(),
        "name" => prop_oneof![
            "\"[a-z][a-z0-9_.-]{0,10}\"",
            Just("\"\"".to_owned()),
            Just(format!("\"{}\"", "n".repeat(65))),
        ]
        .boxed(),
        "command" => prop_oneof![
            Just("[\"/bin/echo\", \"{}\"]".to_owned()),
            Just("[]".to_owned()),
            Just("\"echo hi\"".to_owned()),
        ]
        .boxed(),
        "type_name" => prop_oneof![
            "\"Custom:[A-Za-z]{1,8}\"",
            Just("\"AWS:X\"".to_owned()),
            Just("\"Custom:\"".to_owned()),
        ]
        .boxed(),
        "types" => prop_oneof![
            Just("[\"Custom:A\", \"Custom:B.*\"]".to_owned()),
            Just("[\"Custom:*\"]".to_owned()),
            Just("[\"*\"]".to_owned()),
            Just("[1]".to_owned()),
        ]
        .boxed(),
        "collectors" => prop_oneof![
            Just("[\"host\", \"disks\"]".to_owned()),
            Just("[\"cpu\"]".to_owned()),
            Just("[]".to_owned()),
        ]
        .boxed(),
        "env" => prop_oneof![
            Just("{ PATH = \"/usr/bin\" }".to_owned()),
            Just("{ \"\" = \"x\" }".to_owned()),
            Just("{ A = 1 }".to_owned()),
        ]
        .boxed(),
        _ => string.boxed(),
    };
    prop_oneof![4 => specific, 1 => any_toml].boxed()
}

const AGENT_KEYS: &[&str] = &[
    "instance_id",
    "region",
    "endpoint_url",
    "state_dir",
    "probes_dir",
    "splay",
    "min_push_interval",
    "refresh_interval",
    "quarantine_retry",
    "max_request_bytes",
    "max_concurrent_probes",
    "probe_output_budget",
    "on_removed",
    "profile",
    "credentials_file",
    "retry_base",
    "retry_cap",
    "strict_permissions",
    "bogus_key",
];

const PROBE_KEYS: &[&str] = &[
    "name",
    "kind",
    "interval",
    "timeout",
    "splay",
    "command",
    "shell",
    "type_name",
    "types",
    "schema_version",
    "env",
    "user",
    "working_dir",
    "max_output_bytes",
    "keep_order",
    "path",
    "collectors",
    "Interval",
];

fn table(keys: &'static [&'static str]) -> impl Strategy<Value = String> {
    prop::sample::subsequence(keys.to_vec(), 0..=keys.len().min(8))
        .prop_flat_map(|chosen| {
            chosen
                .into_iter()
                .map(|k| toml_value(k).prop_map(move |v| format!("{k} = {v}\n")))
                .collect::<Vec<_>>()
        })
        .prop_map(|lines| lines.concat())
}

/// A configuration file from the real grammar: `[agent]`, then `[[probe]]` tables.
fn config_text() -> impl Strategy<Value = (String, usize)> {
    (
        prop::option::of(table(AGENT_KEYS)),
        prop::collection::vec(table(PROBE_KEYS), 0..4),
        prop::option::weighted(0.1, NEAR_SYNTAX),
    )
        .prop_map(|(agent, probes, junk)| {
            let mut text = String::new();
            if let Some(agent) = agent {
                text.push_str("[agent]\n");
                text.push_str(&agent);
            }
            for p in &probes {
                text.push_str("\n[[probe]]\n");
                text.push_str(p);
            }
            if let Some(junk) = junk {
                text.push_str(&junk);
            }
            (text, probes.len())
        })
}

/// A valid configuration with its probe count, to check that what is valid stays accepted.
/// Valid by construction (no filtering): names get their index appended, so they are distinct,
/// and only the first `system` probe stays one (two would produce the same TypeNames).
fn valid_config() -> impl Strategy<Value = (String, usize)> {
    (
        prop::collection::vec((0u8..3, "[a-z]{1,8}"), 0..4),
        prop::sample::select(vec!["30s", "0s", "2m"]),
    )
        .prop_map(|(probes, splay)| {
            let mut system_seen = false;
            let tables: Vec<String> = probes
                .iter()
                .enumerate()
                .map(|(i, (kind, base))| {
                    let n = format!("{base}{i}");
                    match kind {
                        2 if !system_seen => {
                            system_seen = true;
                            format!(
                                "[[probe]]\nname = \"{n}\"\nkind = \"system\"\ncollectors = [\"host\"]\n"
                            )
                        }
                        1 => format!(
                            "[[probe]]\nname = \"{n}\"\nkind = \"files\"\npath = \"/var/lib/x/{n}\"\n"
                        ),
                        _ => format!(
                            "[[probe]]\nname = \"{n}\"\nkind = \"exec\"\ntype_name = \"Custom:{n}\"\n\
                             command = [\"/bin/echo\", \"{{}}\"]\ninterval = \"1m\"\ntimeout = \"10s\"\n"
                        ),
                    }
                })
                .collect();
            (
                format!(
                    "[agent]\ninstance_id = \"i-0123456789abcdef0\"\nregion = \"us-east-1\"\n\
                     splay = \"{splay}\"\n\n{}",
                    tables.join("\n")
                ),
                tables.len(),
            )
        })
}

#[test]
fn fuzz_config_random_bytes() {
    fuzz(
        "config: random bytes",
        cases(512),
        prop::collection::vec(any::<u8>(), 0..300),
        |bytes| check_config(&String::from_utf8_lossy(&bytes), None),
    );
}

#[test]
fn fuzz_config_near_toml() {
    fuzz("config: near-TOML text", cases(512), NEAR_SYNTAX, |text| {
        check_config(&text, None)
    });
}

#[test]
fn fuzz_config_structured() {
    fuzz(
        "config: structured TOML",
        cases(512),
        config_text(),
        |(text, _)| check_config(&text, None),
    );
}

#[test]
fn fuzz_config_valid_is_accepted() {
    fuzz(
        "config: valid files",
        cases(128),
        valid_config(),
        |(text, probes)| {
            let settings = config::load_str(Path::new(CONFIG_PATH), &text)
                .map_err(|e| fail(&format!("valid config refused: {e}\n{text}")))?;
            prop_assert_eq!(settings.probes.len(), probes);
            check_config(&text, Some(probes))
        },
    );
}
