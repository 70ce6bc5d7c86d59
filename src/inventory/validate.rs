//! Checks of one item against the PutInventory rules.
//!
//! Every error names the TypeName, the row and attribute where there is one, and the limit,
//! because the operator reading it has to find the probe output that broke it.

use std::collections::{HashMap, HashSet};

use super::Row;
use super::limits::*;

/// Why an item cannot be sent. Each message is one sentence an operator can act on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ItemError {
    #[error("TypeName is empty; it must be `Custom:` followed by a name")]
    TypeNameEmpty,
    #[error(
        "TypeName `{type_name}` is {chars} characters long, over the limit of {MAX_TYPE_NAME_CHARS}"
    )]
    TypeNameTooLong { type_name: String, chars: usize },
    #[error("TypeName `{type_name}` must start with `Custom:`{hint}")]
    TypeNamePrefix {
        type_name: String,
        hint: &'static str,
    },
    #[error("TypeName `{type_name}` has nothing after `Custom:`")]
    TypeNameNoName { type_name: String },
    #[error(
        "{type_name}: SchemaVersion `{value}` does not match `major.minor` (1 to {MAX_SCHEMA_VERSION_DIGITS} digits each, e.g. `1.0`)"
    )]
    SchemaVersion { type_name: String, value: String },
    #[error(
        "{type_name}: CaptureTime `{value}` is not a UTC time of the form YYYY-MM-DDTHH:MM:SSZ in the years 2000-2099"
    )]
    CaptureTime { type_name: String, value: String },
    #[error("{type_name}: {rows} rows, over the limit of {MAX_ROWS}")]
    TooManyRows { type_name: String, rows: usize },
    #[error(
        "{type_name}: row {row} has {count} attributes, over the limit of {MAX_ATTRIBUTES_PER_ROW}"
    )]
    TooManyAttributes {
        type_name: String,
        row: usize,
        count: usize,
    },
    #[error("{type_name}: row {row} has an attribute with an empty name")]
    AttributeNameEmpty { type_name: String, row: usize },
    #[error(
        "{type_name}: row {row} attribute name `{name}` is {chars} characters long, over the limit of {MAX_ATTRIBUTE_NAME_CHARS}"
    )]
    AttributeNameTooLong {
        type_name: String,
        row: usize,
        name: String,
        chars: usize,
    },
    #[error(
        "{type_name}: row {row} attribute `{name}` has a value of {chars} characters, over the limit of {MAX_ATTRIBUTE_VALUE_CHARS}"
    )]
    ValueTooLong {
        type_name: String,
        row: usize,
        name: String,
        chars: usize,
    },
    #[error(
        "{type_name}: row {row} spells attribute `{name}` differently from `{first}` used earlier; one spelling per attribute name is allowed in a type"
    )]
    AttributeSpelling {
        type_name: String,
        row: usize,
        name: String,
        first: String,
    },
    #[error(
        "{type_name}: Context is only allowed on AWS types such as AWS:ComplianceItem, never on Custom types"
    )]
    ContextNotAllowed { type_name: String },
}

impl ItemError {
    /// The same error about `type_name`: row errors are found before the TypeName is known
    /// (see [`RowChecker`]).
    pub fn for_type(mut self, name: &str) -> ItemError {
        match &mut self {
            ItemError::TooManyRows { type_name, .. }
            | ItemError::TooManyAttributes { type_name, .. }
            | ItemError::AttributeNameEmpty { type_name, .. }
            | ItemError::AttributeNameTooLong { type_name, .. }
            | ItemError::ValueTooLong { type_name, .. }
            | ItemError::AttributeSpelling { type_name, .. } => name.clone_into(type_name),
            _ => {}
        }
        self
    }

    /// The TypeName the error is about, when it has one; used to report and quarantine by type.
    pub fn type_name(&self) -> Option<&str> {
        match self {
            ItemError::TypeNameEmpty => None,
            ItemError::TypeNameTooLong { type_name, .. }
            | ItemError::TypeNamePrefix { type_name, .. }
            | ItemError::TypeNameNoName { type_name }
            | ItemError::SchemaVersion { type_name, .. }
            | ItemError::CaptureTime { type_name, .. }
            | ItemError::TooManyRows { type_name, .. }
            | ItemError::TooManyAttributes { type_name, .. }
            | ItemError::AttributeNameEmpty { type_name, .. }
            | ItemError::AttributeNameTooLong { type_name, .. }
            | ItemError::ValueTooLong { type_name, .. }
            | ItemError::AttributeSpelling { type_name, .. }
            | ItemError::ContextNotAllowed { type_name } => Some(type_name),
        }
    }
}

/// A TypeName this daemon may send: `Custom:` plus at least one character, at most 100 in all.
pub fn check_type_name(type_name: &str) -> Result<(), ItemError> {
    if type_name.is_empty() {
        return Err(ItemError::TypeNameEmpty);
    }
    let chars = type_name.chars().count();
    if chars > MAX_TYPE_NAME_CHARS {
        return Err(ItemError::TypeNameTooLong {
            type_name: type_name.to_owned(),
            chars,
        });
    }
    if !type_name.starts_with(CUSTOM_PREFIX) {
        let hint = if type_name.starts_with("AWS:") {
            " (AWS: types are gathered by the SSM Agent itself)"
        } else {
            ""
        };
        return Err(ItemError::TypeNamePrefix {
            type_name: type_name.to_owned(),
            hint,
        });
    }
    if type_name.len() == CUSTOM_PREFIX.len() {
        return Err(ItemError::TypeNameNoName {
            type_name: type_name.to_owned(),
        });
    }
    Ok(())
}

/// `^([0-9]{1,6})(\.[0-9]{1,6})$`, the service model's SchemaVersion pattern.
pub fn is_schema_version(value: &str) -> bool {
    let Some((major, minor)) = value.split_once('.') else {
        return false;
    };
    let part_ok = |p: &str| {
        (1..=MAX_SCHEMA_VERSION_DIGITS).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_digit())
    };
    part_ok(major) && part_ok(minor)
}

/// `YYYY-MM-DDTHH:MM:SSZ` as the service model's pattern allows it: year 20xx, month 01–12,
/// day 01–31, hour 00–23, minute and second 00–59.
pub fn is_capture_time(value: &str) -> bool {
    let b = value.as_bytes();
    if b.len() != 20 {
        return false;
    }
    let digits = |range: std::ops::Range<usize>| -> Option<u32> {
        b[range.clone()].iter().try_fold(0u32, |acc, &c| {
            c.is_ascii_digit().then(|| acc * 10 + u32::from(c - b'0'))
        })
    };
    let separators = b[4] == b'-'
        && b[7] == b'-'
        && b[10] == b'T'
        && b[13] == b':'
        && b[16] == b':'
        && b[19] == b'Z';
    if !separators || &b[0..2] != b"20" {
        return false;
    }
    matches!(
        (
            digits(2..4),
            digits(5..7),
            digits(8..10),
            digits(11..13),
            digits(14..16),
            digits(17..19)
        ),
        (
            Some(_),
            Some(1..=12),
            Some(1..=31),
            Some(0..=23),
            Some(0..=59),
            Some(0..=59)
        )
    )
}

pub fn check_schema_version(type_name: &str, value: &str) -> Result<(), ItemError> {
    if is_schema_version(value) {
        Ok(())
    } else {
        Err(ItemError::SchemaVersion {
            type_name: type_name.to_owned(),
            value: value.to_owned(),
        })
    }
}

pub fn check_capture_time(type_name: &str, value: &str) -> Result<(), ItemError> {
    if is_capture_time(value) {
        Ok(())
    } else {
        Err(ItemError::CaptureTime {
            type_name: type_name.to_owned(),
            value: value.to_owned(),
        })
    }
}

/// Row count, attribute count, name and value lengths, and one spelling per attribute name.
pub fn check_rows(type_name: &str, rows: &[Row]) -> Result<(), ItemError> {
    if rows.len() > MAX_ROWS {
        return Err(ItemError::TooManyRows {
            type_name: type_name.to_owned(),
            rows: rows.len(),
        });
    }
    let mut checker = RowChecker::default();
    for (row_index, row) in rows.iter().enumerate() {
        checker
            .row(row_index, row.len())
            .and_then(|()| {
                row.iter()
                    .enumerate()
                    .try_for_each(|(position, (name, value))| {
                        checker.attribute(row_index, position, name, value)
                    })
            })
            .map_err(|e| e.for_type(type_name))?;
    }
    Ok(())
}

/// The row rules, fed one row and one attribute at a time, so that a pass over the rows that
/// does something else (writing their canonical form as a probe's output is read) checks them
/// on the way instead of walking every row twice. Rows must be given in order, each followed
/// by its attributes in key order.
///
/// Errors carry an empty TypeName, filled in with [`ItemError::for_type`]: rows are checked
/// as they are read, and a document's `TypeName` may come after its `Content`.
///
/// Each distinct attribute name is checked once, the spelling check keying on its lower-cased
/// form. This runs over every attribute of every item, so the common case is made cheap: rows
/// of one type nearly always have the same names as the row before, in the same order, and a
/// name equal to the previous row's name at the same position has been checked already, which
/// one short comparison shows. Other names cost a hash lookup. The names are copied (the
/// previous row's into one reused buffer), so nothing borrows the text they were read from.
/// A reader that already knows a row has the last row's names, in the same order, says so
/// with [`RowChecker::row_as_last`], and then only the values are checked.
#[derive(Debug, Clone, Default)]
pub struct RowChecker {
    seen: HashSet<Box<str>>,
    folded: HashMap<String, Box<str>>,
    previous: Names,
    current: Names,
    /// The current row's names are known to be the last row's, in the same order
    /// ([`RowChecker::row_as_last`]).
    names_known: bool,
}

/// One row's attribute names, in one buffer.
#[derive(Debug, Clone, Default)]
struct Names {
    text: String,
    ends: Vec<usize>,
}

impl Names {
    fn get(&self, position: usize) -> Option<&str> {
        let end = *self.ends.get(position)?;
        let start = match position {
            0 => 0,
            _ => self.ends[position - 1],
        };
        Some(&self.text[start..end])
    }

    fn clear(&mut self) {
        self.text.clear();
        self.ends.clear();
    }

    fn push(&mut self, name: &str) {
        self.text.push_str(name);
        self.ends.push(self.text.len());
    }
}

impl RowChecker {
    /// Starts a row: checks its attribute count.
    pub fn row(&mut self, row_index: usize, attributes: usize) -> Result<(), ItemError> {
        check_attribute_count(row_index, attributes)?;
        std::mem::swap(&mut self.previous, &mut self.current);
        self.current.clear();
        self.names_known = false;
        Ok(())
    }

    /// Starts a row whose names are the last row's, in the same order: they were checked with
    /// it, so only the values are. `current` keeps the names of the last row checked by name,
    /// which are this row's too, for the next row to be compared with.
    pub fn row_as_last(&mut self, row_index: usize, attributes: usize) -> Result<(), ItemError> {
        check_attribute_count(row_index, attributes)?;
        self.names_known = true;
        Ok(())
    }

    /// Checks one attribute of the current row; `position` is its index in the row.
    pub fn attribute(
        &mut self,
        row_index: usize,
        position: usize,
        name: &str,
        value: &str,
    ) -> Result<(), ItemError> {
        if self.names_known {
            return check_value(row_index, name, value);
        }
        let checked = self.previous.get(position) == Some(name);
        if !checked && !self.seen.contains(name) {
            check_attribute_name(row_index, name)?;
            if let Some(first) = self.folded.get(&name.to_lowercase()) {
                return Err(ItemError::AttributeSpelling {
                    type_name: String::new(),
                    row: row_index,
                    name: name.to_owned(),
                    first: first.to_string(),
                });
            }
            self.folded.insert(name.to_lowercase(), name.into());
            self.seen.insert(name.into());
        }
        self.current.push(name);
        check_value(row_index, name, value)
    }
}

fn check_attribute_count(row: usize, attributes: usize) -> Result<(), ItemError> {
    if attributes > MAX_ATTRIBUTES_PER_ROW {
        return Err(ItemError::TooManyAttributes {
            type_name: String::new(),
            row,
            count: attributes,
        });
    }
    Ok(())
}

fn check_value(row: usize, name: &str, value: &str) -> Result<(), ItemError> {
    // Byte length bounds the character count from above, so most values skip counting.
    if value.len() > MAX_ATTRIBUTE_VALUE_CHARS {
        let chars = value.chars().count();
        if chars > MAX_ATTRIBUTE_VALUE_CHARS {
            return Err(ItemError::ValueTooLong {
                type_name: String::new(),
                row,
                name: name.to_owned(),
                chars,
            });
        }
    }
    Ok(())
}

fn check_attribute_name(row: usize, name: &str) -> Result<(), ItemError> {
    if name.is_empty() {
        return Err(ItemError::AttributeNameEmpty {
            type_name: String::new(),
            row,
        });
    }
    let chars = name.chars().count();
    if chars > MAX_ATTRIBUTE_NAME_CHARS {
        return Err(ItemError::AttributeNameTooLong {
            type_name: String::new(),
            row,
            name: name.to_owned(),
            chars,
        });
    }
    Ok(())
}
