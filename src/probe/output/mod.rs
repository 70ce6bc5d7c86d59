//! Turns the JSON a probe prints into rows.
//!
//! Accepted shapes: an array of flat objects (rows); one flat object (one row); the SSM
//! Agent's custom inventory document `{"SchemaVersion","TypeName","Content"}` with Content an
//! object or an array; or an array of such documents. Inventory attributes are strings, so
//! numbers and booleans become their JSON text and `null` drops the attribute; anything nested
//! is refused with its JSON path, because flattening it silently would invent a schema the
//! operator never chose.
//!
//! The output is read in one streaming pass ([`stream`]) that builds rows as it goes and
//! refuses the output at the first PutInventory limit it crosses (rows per item, attributes
//! per row, name and value lengths): a probe may print up to `max_output_bytes` (8 MiB by
//! default), and a tree of the whole output, or rows beyond what an item may hold, would cost
//! the daemon a hundred times that in memory before the item was refused anyway. The rules
//! that are not about size (TypeName, SchemaVersion, one spelling per name, Context) stay with
//! `Item::new`.
//!
//! Which problem is reported when an output has several: a syntax error anywhere wins over a
//! problem of shape, as when the output was read whole; a document's fields are judged in a
//! fixed order (TypeName, SchemaVersion, Content, Context); otherwise the first problem in the
//! text is reported, and reading stops at a limit. Within one object a key given twice keeps
//! its last value (`null` dropping it), as a `serde_json::Map` does, except that a nested
//! value, a value or name over its limit, or an attribute past the row's limit is refused
//! where it stands, even if a later value for the same key would have replaced or dropped it:
//! waiting for one would mean holding what the limit is there to refuse.

mod stream;

use serde_json::Value;

use crate::inventory::limits::{
    MAX_ATTRIBUTE_NAME_CHARS, MAX_ATTRIBUTE_VALUE_CHARS, MAX_ATTRIBUTES_PER_ROW, MAX_ROWS,
};
use crate::inventory::{Row, Rows};

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
    /// Found while reading, so the rest of the output was not read. Boxed: it is the
    /// largest variant, and this error travels inside every probe error.
    #[error("{0}")]
    Limit(Box<LimitError>),
}

impl OutputError {
    /// A limit stops reading at once; other refusals still let a syntax error elsewhere in
    /// the output be reported instead, as it was when the output was read whole.
    fn is_limit(&self) -> bool {
        matches!(self, OutputError::Limit(_))
    }
}

/// A PutInventory limit crossed by the output, and whose rows crossed it. The text after the
/// subject is the one `Item::new` gives for the same limit, so an operator sees the same
/// sentence whichever found it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}: {limit}; reading stopped there", subject(type_name.as_deref(), path))]
pub struct LimitError {
    /// The document's TypeName, or the probe's `type_name` for plain rows, when known by the
    /// time the limit was crossed.
    pub type_name: Option<String>,
    /// The rows for a row count, else the row.
    pub path: String,
    pub limit: Limit,
}

fn subject(type_name: Option<&str>, path: &str) -> String {
    match type_name {
        Some(type_name) => format!("for {type_name}"),
        None => format!("at {path}"),
    }
}

/// A PutInventory limit crossed by the output.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Limit {
    /// `rows` is where reading stopped: the first row over the limit.
    #[error("{rows} rows, over the limit of {MAX_ROWS}")]
    Rows { rows: usize },
    /// `count` is where reading stopped: the first attribute over the limit.
    #[error("{row} has {count} attributes, over the limit of {MAX_ATTRIBUTES_PER_ROW}")]
    Attributes { row: RowName, count: usize },
    #[error(
        "{row} attribute name `{}` is {chars} characters long, over the limit of {MAX_ATTRIBUTE_NAME_CHARS}",
        shown(name)
    )]
    NameTooLong {
        row: RowName,
        /// Cut after what a message shows.
        name: String,
        chars: usize,
    },
    #[error(
        "{row} attribute `{}` has a value of {chars} characters, over the limit of {MAX_ATTRIBUTE_VALUE_CHARS}",
        shown(name)
    )]
    ValueTooLong {
        row: RowName,
        /// Cut after what a message shows.
        name: String,
        chars: usize,
    },
}

/// Which row of a document a limit is about, as `Item::new` names rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RowName {
    /// Index in the document's Content.
    Content(usize),
    Context,
}

impl std::fmt::Display for RowName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RowName::Content(index) => write!(f, "row {index}"),
            RowName::Context => f.write_str("Context"),
        }
    }
}

/// Longest part of an attribute name put in a message: a name over the limit can be
/// megabytes long.
const SHOWN_NAME_CHARS: usize = 80;

/// The name as one line of bounded length: control characters escaped, the end cut.
fn shown(name: &str) -> String {
    let mut out = String::new();
    for (i, c) in name.chars().enumerate() {
        if i == SHOWN_NAME_CHARS {
            out.push('…');
            break;
        }
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

/// One inventory type's worth of output.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Document {
    /// Set when the output was an SSM Agent document, which names its own type.
    pub type_name: Option<String>,
    pub schema_version: Option<String>,
    pub rows: Rows,
    /// Passed on so that item validation can refuse it with the TypeName in the message.
    pub context: Option<Row>,
}

/// Parses probe output into one or more documents.
pub fn parse(bytes: &[u8]) -> Result<Vec<Document>, OutputError> {
    parse_with_type(bytes, None)
}

/// [`parse`], for output whose plain rows will be given `default_type` (an exec probe's
/// `type_name`): a limit crossed by those rows is reported with it, as `Item::new` would.
pub fn parse_with_type(
    bytes: &[u8],
    default_type: Option<&str>,
) -> Result<Vec<Document>, OutputError> {
    let text = std::str::from_utf8(bytes).map_err(|e| OutputError::NotUtf8 {
        offset: e.valid_up_to(),
    })?;
    if text.trim().is_empty() {
        return Err(OutputError::Empty);
    }
    stream::read(text, default_type)
}

fn invalid_json(e: &serde_json::Error) -> OutputError {
    OutputError::InvalidJson {
        line: e.line(),
        column: e.column(),
        message: strip_position(&e.to_string()),
    }
}

/// serde_json appends " at line L column C"; the error already says where.
fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(i) => message[..i].to_string(),
        None => message.to_string(),
    }
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

#[cfg(test)]
mod tests;
