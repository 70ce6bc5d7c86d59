//! The PutInventory limits this daemon enforces before anything leaves the node.
//!
//! They come from the SSM API reference and service model. Checking them locally turns a
//! request the service would refuse as a whole into a clear error about one item.

/// Longest TypeName, in characters.
pub const MAX_TYPE_NAME_CHARS: usize = 100;
/// Most rows in one item's Content.
pub const MAX_ROWS: usize = 10_000;
/// Most attributes in one row.
pub const MAX_ATTRIBUTES_PER_ROW: usize = 50;
/// Longest attribute name, in characters.
pub const MAX_ATTRIBUTE_NAME_CHARS: usize = 64;
/// Longest attribute value, in characters.
pub const MAX_ATTRIBUTE_VALUE_CHARS: usize = 4_096;
/// Most items in one PutInventory request.
pub const MAX_ITEMS_PER_REQUEST: usize = 30;
/// Longest ContentHash the service takes.
pub const MAX_CONTENT_HASH_CHARS: usize = 256;
/// Digits allowed on each side of the dot in a SchemaVersion.
pub const MAX_SCHEMA_VERSION_DIGITS: usize = 6;
/// The only TypeName prefix this daemon emits; `AWS:` types belong to the SSM Agent.
pub const CUSTOM_PREFIX: &str = "Custom:";
