//! The PutInventory and ListInventoryEntries request rules, checked without any state.
//!
//! Written from the tables in docs/ARCHITECTURE.md ("PutInventory rules", "PutInventory
//! errors") and the API reference, on purpose without calling the daemon's own `inventory`
//! validation: an oracle that shares the code under test proves nothing. Everything here is pure so each rule can be unit-tested on its own; the checks
//! that need stored inventory (hashes, the custom type count, node totals) live in
//! [`super::store`].
//!
//! Choices where the public documentation is silent (each is what a strict service would do,
//! so a client that passes here should pass there):
//! * Model constraints on the request shape (InstanceId pattern, 1–30 Items, SchemaVersion and
//!   CaptureTime patterns, ContentHash length, missing required members) answer
//!   `ValidationException`, in the service's "N validation errors detected: …" form.
//! * Content limits (rows, attributes per row, name and value lengths, and two spellings of one
//!   attribute name) answer `InvalidItemContentException` with the TypeName, because that is
//!   the error the service documents for "one or more content items isn't valid" and it lets
//!   a client isolate the item.
//! * The same TypeName twice in one request answers `InvalidItemContentException` naming the
//!   type: the service stores one item per type and node, so the second copy is bad content of
//!   the request, not a bad type name.
//! * An item with neither Content nor ContentHash answers `InvalidItemContentException`: there
//!   is nothing to store and nothing to compare.
//! * `AWS:` types must be one of the documented built-in types ([`AWS_TYPES`]) at its one
//!   supported schema version, else `InvalidTypeNameException` or
//!   `UnsupportedInventorySchemaVersionException`. `Custom:` types take any valid version.
//! * A non-empty Context on any type but `AWS:ComplianceItem` answers
//!   `UnsupportedInventoryItemContextException` with the TypeName; on `AWS:ComplianceItem` a
//!   Context of more than 50 entries, an empty or over-64-character key, or an
//!   over-4,096-character value answers `InvalidInventoryItemContextException`.
//! * Lengths are counted in Unicode scalar values (characters), not bytes.
//! * An item's size is the byte length of its compact JSON serialisation (members with no
//!   value left out), which is within a few bytes of what any SDK puts on the wire.

use std::collections::{BTreeMap, HashMap, HashSet};

use serde::{Deserialize, Serialize};

use super::error::{ApiError, ErrorCode};

pub const MAX_ITEMS_PER_REQUEST: usize = 30;
pub const MAX_TYPE_NAME_CHARS: usize = 100;
pub const MAX_CONTENT_ROWS: usize = 10_000;
pub const MAX_ATTRIBUTES_PER_ROW: usize = 50;
pub const MAX_ATTRIBUTE_NAME_CHARS: usize = 64;
pub const MAX_ATTRIBUTE_VALUE_CHARS: usize = 4_096;
pub const MAX_CONTENT_HASH_CHARS: usize = 256;
pub const MAX_CONTEXT_ENTRIES: usize = 50;
pub const MAX_LIST_RESULTS: usize = 50;

/// The only type that may carry a Context.
pub const COMPLIANCE_TYPE: &str = "AWS:ComplianceItem";

/// The built-in `AWS:` types a client may name, each with the one schema version the emulator
/// accepts for it (the version the SSM Agent sends).
pub const AWS_TYPES: &[(&str, &str)] = &[
    ("AWS:AWSComponent", "1.0"),
    ("AWS:Application", "1.1"),
    ("AWS:BillingInfo", "1.0"),
    ("AWS:ComplianceItem", "1.0"),
    ("AWS:File", "1.0"),
    ("AWS:InstanceDetailedInformation", "1.0"),
    ("AWS:InstanceInformation", "1.0"),
    ("AWS:Network", "1.0"),
    ("AWS:Service", "1.0"),
    ("AWS:Tag", "1.0"),
    ("AWS:WindowsRegistry", "1.0"),
    ("AWS:WindowsRole", "1.0"),
    ("AWS:WindowsUpdate", "1.0"),
];

pub type Row = BTreeMap<String, String>;

/// The part of the emulator's configuration that the stateless rules need.
#[derive(Clone, Copy, Debug)]
pub struct RuleConfig<'a> {
    pub max_item_bytes: usize,
    pub known_instances: Option<&'a [String]>,
}

/// A PutInventory request that passed every stateless rule.
#[derive(Clone, Debug, PartialEq)]
pub struct PutInventoryRequest {
    pub instance_id: String,
    pub items: Vec<Item>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Item {
    pub type_name: String,
    pub schema_version: String,
    pub capture_time: String,
    pub content_hash: Option<String>,
    /// `None` for a hash-only item; `Some(vec![])` clears the type.
    pub content: Option<Vec<Row>>,
    /// Size of the item's compact JSON, what the byte limits are measured on.
    pub bytes: usize,
}

/// A ListInventoryEntries request that passed the model rules.
#[derive(Clone, Debug, PartialEq)]
pub struct ListInventoryEntriesRequest {
    pub instance_id: String,
    pub type_name: String,
    pub max_results: Option<usize>,
    pub next_token: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct RawPutInventory {
    instance_id: Option<String>,
    items: Option<Vec<RawItem>>,
}

#[derive(Deserialize, Serialize)]
#[serde(rename_all = "PascalCase")]
struct RawItem {
    #[serde(skip_serializing_if = "Option::is_none")]
    type_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    schema_version: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    capture_time: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    content_hash: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    content: Option<Vec<Row>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    context: Option<BTreeMap<String, String>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct RawListInventoryEntries {
    instance_id: Option<String>,
    type_name: Option<String>,
    max_results: Option<i64>,
    next_token: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Peek {
    instance_id: Option<serde_json::Value>,
}

/// Best-effort InstanceId of a body, for per-instance statistics of requests that fail.
pub fn peek_instance_id(body: &[u8]) -> Option<String> {
    let peek: Peek = serde_json::from_slice(body).ok()?;
    match peek.instance_id? {
        serde_json::Value::String(s) => Some(s),
        _ => None,
    }
}

/// Best-effort TypeNames of a PutInventory body in request order, and which of them carry no
/// Content, for the request log. Items without a string TypeName are left out.
pub fn peek_items(body: &[u8]) -> (Vec<String>, Vec<String>) {
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(body) else {
        return (Vec::new(), Vec::new());
    };
    let mut types = Vec::new();
    let mut hash_only = Vec::new();
    for item in value
        .get("Items")
        .and_then(serde_json::Value::as_array)
        .into_iter()
        .flatten()
    {
        if let Some(t) = item.get("TypeName").and_then(serde_json::Value::as_str) {
            types.push(t.to_owned());
            if item.get("Content").is_none() {
                hash_only.push(t.to_owned());
            }
        }
    }
    (types, hash_only)
}

fn decode<'de, T: Deserialize<'de>>(body: &'de [u8]) -> Result<T, ApiError> {
    // The SDK always sends at least `{}`; an empty body means the same to the service.
    let body: &[u8] = if body.iter().all(u8::is_ascii_whitespace) {
        b"{}"
    } else {
        body
    };
    serde_json::from_slice(body).map_err(|e| {
        ApiError::new(
            ErrorCode::Serialization,
            format!("could not read the request body as the operation's input: {e}"),
        )
    })
}

/// Accumulates model-constraint violations so one answer lists all of them, as the service
/// does.
#[derive(Default)]
struct Violations(Vec<String>);

impl Violations {
    fn push(&mut self, value: Option<&str>, path: &str, constraint: &str) {
        let value = match value {
            Some(v) => format!("'{v}'"),
            None => "null".to_owned(),
        };
        self.0.push(format!(
            "Value {value} at '{path}' failed to satisfy constraint: {constraint}"
        ));
    }

    fn into_result(self) -> Result<(), ApiError> {
        match self.0.len() {
            0 => Ok(()),
            1 => Err(ApiError::new(
                ErrorCode::Validation,
                format!("1 validation error detected: {}", self.0[0]),
            )),
            n => Err(ApiError::new(
                ErrorCode::Validation,
                format!("{n} validation errors detected: {}", self.0.join("; ")),
            )),
        }
    }
}

const INSTANCE_ID_PATTERN: &str = r"(^i-(\w{8}|\w{17})$)|(^mi-\w{17}$)";
const SCHEMA_VERSION_PATTERN: &str = r"^([0-9]{1,6})(\.[0-9]{1,6})$";
const CAPTURE_TIME_PATTERN: &str = r"^(20)[0-9][0-9]-(0[1-9]|1[012])-([12][0-9]|3[01]|0[1-9])(T)(2[0-3]|[0-1][0-9])(:[0-5][0-9])(:[0-5][0-9])(Z)$";
const TYPE_NAME_PATTERN: &str = r"^(AWS|Custom):.*$";

fn is_word(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// `(^i-(\w{8}|\w{17})$)|(^mi-\w{17}$)`, with `\w` as ASCII word characters (Java regex).
pub fn instance_id_matches(id: &str) -> bool {
    let all_word = |s: &str| s.chars().all(is_word);
    if let Some(rest) = id.strip_prefix("mi-") {
        return rest.len() == 17 && all_word(rest);
    }
    if let Some(rest) = id.strip_prefix("i-") {
        return (rest.len() == 8 || rest.len() == 17) && all_word(rest);
    }
    false
}

/// `^([0-9]{1,6})(\.[0-9]{1,6})$`
pub fn schema_version_matches(v: &str) -> bool {
    let digits = |s: &str| (1..=6).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit());
    match v.split_once('.') {
        Some((major, minor)) => digits(major) && digits(minor),
        None => false,
    }
}

/// The API reference's CaptureTime pattern, character by character: `20YY-MM-DDTHH:MM:SSZ`
/// with month 01–12, day 01–31, hour 00–23.
pub fn capture_time_matches(t: &str) -> bool {
    let b = t.as_bytes();
    if b.len() != 20 {
        return false;
    }
    let d = |i: usize| b[i].is_ascii_digit();
    let two = |i: usize| (b[i] - b'0') * 10 + (b[i + 1] - b'0');
    let shape = b[0] == b'2'
        && b[1] == b'0'
        && d(2)
        && d(3)
        && b[4] == b'-'
        && d(5)
        && d(6)
        && b[7] == b'-'
        && d(8)
        && d(9)
        && b[10] == b'T'
        && d(11)
        && d(12)
        && b[13] == b':'
        && d(14)
        && d(15)
        && b[16] == b':'
        && d(17)
        && d(18)
        && b[19] == b'Z';
    shape
        && (1..=12).contains(&two(5))
        && (1..=31).contains(&two(8))
        && two(11) <= 23
        && two(14) <= 59
        && two(17) <= 59
}

fn type_name_shape_ok(t: &str) -> bool {
    let n = t.chars().count();
    (1..=MAX_TYPE_NAME_CHARS).contains(&n) && (t.starts_with("AWS:") || t.starts_with("Custom:"))
}

/// Parses and checks a PutInventory body. The first failing rule decides the answer; the
/// whole request fails with it (nothing of it is stored).
pub fn check_put_inventory(
    body: &[u8],
    cfg: RuleConfig<'_>,
) -> Result<PutInventoryRequest, ApiError> {
    let raw: RawPutInventory = decode(body)?;

    // Phase 1: model constraints, all reported together.
    let mut v = Violations::default();
    match raw.instance_id.as_deref() {
        None => v.push(None, "instanceId", "Member must not be null"),
        Some(id) if !instance_id_matches(id) => v.push(
            Some(id),
            "instanceId",
            &format!("Member must satisfy regular expression pattern: {INSTANCE_ID_PATTERN}"),
        ),
        Some(_) => {}
    }
    match raw.items.as_deref() {
        None => v.push(None, "items", "Member must not be null"),
        Some(items) if items.is_empty() || items.len() > MAX_ITEMS_PER_REQUEST => v.push(
            Some(&format!("{} items", items.len())),
            "items",
            &format!(
                "Member must have length less than or equal to {MAX_ITEMS_PER_REQUEST}, \
                 Member must have length greater than or equal to 1"
            ),
        ),
        Some(_) => {}
    }
    for (i, item) in raw.items.iter().flatten().enumerate() {
        let at = |member: &str| format!("items.{}.member.{member}", i + 1);
        if item.type_name.is_none() {
            v.push(None, &at("typeName"), "Member must not be null");
        }
        match item.schema_version.as_deref() {
            None => v.push(None, &at("schemaVersion"), "Member must not be null"),
            Some(s) if !schema_version_matches(s) => v.push(
                Some(s),
                &at("schemaVersion"),
                &format!(
                    "Member must satisfy regular expression pattern: {SCHEMA_VERSION_PATTERN}"
                ),
            ),
            Some(_) => {}
        }
        match item.capture_time.as_deref() {
            None => v.push(None, &at("captureTime"), "Member must not be null"),
            Some(s) if !capture_time_matches(s) => v.push(
                Some(s),
                &at("captureTime"),
                &format!("Member must satisfy regular expression pattern: {CAPTURE_TIME_PATTERN}"),
            ),
            Some(_) => {}
        }
        if let Some(h) = item.content_hash.as_deref()
            && h.chars().count() > MAX_CONTENT_HASH_CHARS
        {
            v.push(
                Some(h),
                &at("contentHash"),
                &format!("Member must have length less than or equal to {MAX_CONTENT_HASH_CHARS}"),
            );
        }
    }
    v.into_result()?;

    // The model check above guarantees both are present.
    let (Some(instance_id), Some(raw_items)) = (raw.instance_id, raw.items) else {
        return Err(ApiError::new(
            ErrorCode::Validation,
            "InstanceId and Items are required",
        ));
    };

    // Phase 2: the node must be one the account knows.
    if let Some(known) = cfg.known_instances
        && !known.iter().any(|k| k == &instance_id)
    {
        return Err(ApiError::new(
            ErrorCode::InvalidInstanceId,
            format!("Instance Id {instance_id} is not registered with Systems Manager"),
        ));
    }

    // Phase 3: item rules, in request order.
    let mut seen: HashSet<String> = HashSet::new();
    let mut items = Vec::with_capacity(raw_items.len());
    for raw_item in raw_items {
        items.push(check_item(raw_item, &mut seen, cfg)?);
    }
    Ok(PutInventoryRequest { instance_id, items })
}

fn check_item(
    raw: RawItem,
    seen: &mut HashSet<String>,
    cfg: RuleConfig<'_>,
) -> Result<Item, ApiError> {
    let bytes = serde_json::to_vec(&raw)
        .map(|v| v.len())
        .unwrap_or(usize::MAX);
    let RawItem {
        type_name,
        schema_version,
        capture_time,
        content_hash,
        content,
        context,
    } = raw;
    // Phase 1 rejected items missing any of these.
    let (Some(type_name), Some(schema_version), Some(capture_time)) =
        (type_name, schema_version, capture_time)
    else {
        return Err(ApiError::new(
            ErrorCode::Validation,
            "TypeName, SchemaVersion and CaptureTime are required",
        ));
    };

    check_type_name(&type_name)?;
    if !seen.insert(type_name.clone()) {
        return Err(ApiError::new(
            ErrorCode::InvalidItemContent,
            format!("TypeName {type_name} appears more than once in the request"),
        )
        .with_type_name(&type_name));
    }
    if let Some((_, supported)) = AWS_TYPES.iter().find(|(name, _)| *name == type_name)
        && schema_version != *supported
    {
        return Err(ApiError::new(
            ErrorCode::UnsupportedInventorySchemaVersion,
            format!(
                "SchemaVersion {schema_version} is not supported for {type_name}; supported: {supported}"
            ),
        ));
    }
    if let Some(context) = &context {
        check_context(&type_name, context)?;
    }
    match &content {
        Some(rows) => check_content(&type_name, rows)?,
        None if content_hash.is_none() => {
            return Err(ApiError::new(
                ErrorCode::InvalidItemContent,
                format!("Item {type_name} has neither Content nor ContentHash"),
            )
            .with_type_name(&type_name));
        }
        None => {}
    }
    if bytes > cfg.max_item_bytes {
        return Err(ApiError::new(
            ErrorCode::ItemSizeLimitExceeded,
            format!(
                "Item {type_name} is {bytes} bytes, over the limit of {} bytes",
                cfg.max_item_bytes
            ),
        )
        .with_type_name(&type_name));
    }
    Ok(Item {
        type_name,
        schema_version,
        capture_time,
        content_hash,
        content,
        bytes,
    })
}

/// TypeName rules that answer `InvalidTypeNameException`.
pub fn check_type_name(type_name: &str) -> Result<(), ApiError> {
    let invalid = |why: &str| {
        Err(ApiError::new(
            ErrorCode::InvalidTypeName,
            format!("The type name {type_name} is not valid: {why}"),
        ))
    };
    if !type_name_shape_ok(type_name) {
        return invalid(&format!(
            "it must be 1 to {MAX_TYPE_NAME_CHARS} characters and match {TYPE_NAME_PATTERN}"
        ));
    }
    if type_name.starts_with("AWS:") && !AWS_TYPES.iter().any(|(name, _)| *name == type_name) {
        return invalid("it is not a built-in AWS inventory type");
    }
    if type_name == "Custom:" {
        return invalid("a custom type needs a name after the prefix");
    }
    Ok(())
}

fn check_context(type_name: &str, context: &BTreeMap<String, String>) -> Result<(), ApiError> {
    if context.is_empty() {
        return Ok(());
    }
    if type_name != COMPLIANCE_TYPE {
        return Err(ApiError::new(
            ErrorCode::UnsupportedInventoryItemContext,
            format!("Context is not supported for {type_name}; only {COMPLIANCE_TYPE} takes one"),
        )
        .with_type_name(type_name));
    }
    let bad = |why: String| Err(ApiError::new(ErrorCode::InvalidInventoryItemContext, why));
    if context.len() > MAX_CONTEXT_ENTRIES {
        return bad(format!(
            "Context has {} entries, more than {MAX_CONTEXT_ENTRIES}",
            context.len()
        ));
    }
    for (key, value) in context {
        let n = key.chars().count();
        if n == 0 || n > MAX_ATTRIBUTE_NAME_CHARS {
            return bad(format!(
                "Context key '{key}' must be 1 to {MAX_ATTRIBUTE_NAME_CHARS} characters"
            ));
        }
        if value.chars().count() > MAX_ATTRIBUTE_VALUE_CHARS {
            return bad(format!(
                "Context value of '{key}' is longer than {MAX_ATTRIBUTE_VALUE_CHARS} characters"
            ));
        }
    }
    Ok(())
}

fn check_content(type_name: &str, rows: &[Row]) -> Result<(), ApiError> {
    let bad = |why: String| {
        Err(ApiError::new(
            ErrorCode::InvalidItemContent,
            format!("Item {type_name}: {why}"),
        )
        .with_type_name(type_name))
    };
    if rows.len() > MAX_CONTENT_ROWS {
        return bad(format!("{} rows, more than {MAX_CONTENT_ROWS}", rows.len()));
    }
    // lower-cased name -> the first spelling seen in this item
    let mut spellings: HashMap<String, &str> = HashMap::new();
    for (i, row) in rows.iter().enumerate() {
        if row.len() > MAX_ATTRIBUTES_PER_ROW {
            return bad(format!(
                "row {i} has {} attributes, more than {MAX_ATTRIBUTES_PER_ROW}",
                row.len()
            ));
        }
        for (name, value) in row {
            let n = name.chars().count();
            if n == 0 || n > MAX_ATTRIBUTE_NAME_CHARS {
                return bad(format!(
                    "attribute name '{name}' in row {i} must be 1 to {MAX_ATTRIBUTE_NAME_CHARS} characters"
                ));
            }
            if value.chars().count() > MAX_ATTRIBUTE_VALUE_CHARS {
                return bad(format!(
                    "value of attribute '{name}' in row {i} is longer than {MAX_ATTRIBUTE_VALUE_CHARS} characters"
                ));
            }
            let first = spellings
                .entry(name.to_lowercase())
                .or_insert(name.as_str());
            if *first != name.as_str() {
                return bad(format!(
                    "attribute '{name}' is also spelled '{first}'; one spelling per attribute name"
                ));
            }
        }
    }
    Ok(())
}

/// Parses and checks a ListInventoryEntries body (model constraints only; Filters are
/// accepted and ignored).
pub fn check_list_inventory_entries(
    body: &[u8],
    known_instances: Option<&[String]>,
) -> Result<ListInventoryEntriesRequest, ApiError> {
    let raw: RawListInventoryEntries = decode(body)?;
    let mut v = Violations::default();
    match raw.instance_id.as_deref() {
        None => v.push(None, "instanceId", "Member must not be null"),
        Some(id) if !instance_id_matches(id) => v.push(
            Some(id),
            "instanceId",
            &format!("Member must satisfy regular expression pattern: {INSTANCE_ID_PATTERN}"),
        ),
        Some(_) => {}
    }
    match raw.type_name.as_deref() {
        None => v.push(None, "typeName", "Member must not be null"),
        Some(t) if !type_name_shape_ok(t) => v.push(
            Some(t),
            "typeName",
            &format!("Member must satisfy regular expression pattern: {TYPE_NAME_PATTERN}"),
        ),
        Some(_) => {}
    }
    if let Some(m) = raw.max_results
        && !(1..=MAX_LIST_RESULTS as i64).contains(&m)
    {
        v.push(
            Some(&m.to_string()),
            "maxResults",
            &format!("Member must have value between 1 and {MAX_LIST_RESULTS}"),
        );
    }
    v.into_result()?;
    let (Some(instance_id), Some(type_name)) = (raw.instance_id, raw.type_name) else {
        return Err(ApiError::new(
            ErrorCode::Validation,
            "InstanceId and TypeName are required",
        ));
    };
    if let Some(known) = known_instances
        && !known.iter().any(|k| k == &instance_id)
    {
        return Err(ApiError::new(
            ErrorCode::InvalidInstanceId,
            format!("Instance Id {instance_id} is not registered with Systems Manager"),
        ));
    }
    Ok(ListInventoryEntriesRequest {
        instance_id,
        type_name,
        // Bounded to 1..=50 by the check above.
        max_results: raw.max_results.map(|m| m as usize),
        next_token: raw.next_token,
    })
}

#[cfg(test)]
mod tests;
