//! The emulated SSM operations: request bodies in, response bodies or service errors out.
//!
//! Kept apart from the HTTP layer so the operations read as the API reference does, and so
//! the HTTP layer only deals with transport, signing and faults.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::{Mutex, MutexGuard};

use serde_json::{Value, json};

use super::EmulatorConfig;
use super::budget::Budget;
use super::error::{ApiError, ErrorCode};
use super::faults::Faults;
use super::parameters::Parameters;
use super::refuse::{self, Refusal};
use super::rules::{self, RuleConfig};
use super::stats::{PutRecord, Recorder, Stats};
use super::store::{Store, StoreLimits, StoredItem};

/// Prefix of the emulator's opaque ListInventoryEntries NextToken.
const NEXT_TOKEN_PREFIX: &str = "emulator-offset-";

#[derive(Debug)]
pub struct Service {
    pub config: EmulatorConfig,
    /// access key id → secret access key
    pub credentials: HashMap<String, String>,
    pub stats: Recorder,
    pub faults: Faults,
    /// Request bodies held in memory at once, across connections.
    pub buffers: Arc<Budget>,
    store: Mutex<Store>,
    /// Starts as `config.refuse`; tests may change it while the emulator runs.
    refusals: Mutex<Vec<Refusal>>,
    /// Access keys revoked while running: answered as the service answers expired ones.
    revoked: Mutex<std::collections::HashSet<String>>,
    parameters: Mutex<Parameters>,
}

impl Service {
    pub fn new(config: EmulatorConfig) -> Self {
        let credentials = config.credentials.iter().cloned().collect();
        let faults = Faults::new(
            config.throttle_tps,
            config.fail_rate,
            config.drop_rate,
            config.latency,
        )
        .with_parameter_tps(config.parameter_tps);
        faults.throttle_next(config.throttle_first);
        let refusals = Mutex::new(config.refuse.clone());
        let buffers = Budget::new(config.max_buffered_bytes);
        Self {
            config,
            credentials,
            stats: Recorder::default(),
            buffers,
            faults,
            store: Mutex::new(Store::default()),
            refusals,
            revoked: Mutex::default(),
            parameters: Mutex::default(),
        }
    }

    fn parameters(&self) -> MutexGuard<'_, Parameters> {
        // `Parameters` checks a request fully before it changes anything, so a panic while
        // the lock was held cannot have left half a version behind.
        self.parameters.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn put_parameter(&self, body: &[u8]) -> Result<Value, ApiError> {
        let body = parse_body(body)?;
        self.parameters().put(&body)
    }

    pub fn get_parameter(&self, body: &[u8], region: &str) -> Result<Value, ApiError> {
        let body = parse_body(body)?;
        self.parameters().get(&body, region)
    }

    pub fn get_parameters(&self, body: &[u8], region: &str) -> Result<Value, ApiError> {
        let body = parse_body(body)?;
        self.parameters().get_many(&body, region)
    }

    pub fn deny_parameter(&self, name: &str) {
        self.parameters().deny(name);
    }

    pub fn parameter_gets(&self) -> u64 {
        self.parameters().gets()
    }

    /// From now on, requests signed with `access_key_id` are refused as expired.
    pub fn revoke_access_key(&self, access_key_id: &str) {
        // Only a set of plain values lives behind the lock.
        self.revoked
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(access_key_id.to_string());
    }

    /// The refusal for a request signed with a revoked key, if it was.
    pub fn check_revoked(&self, access_key_id: &str) -> Option<ApiError> {
        let revoked = self.revoked.lock().unwrap_or_else(|e| e.into_inner());
        revoked.contains(access_key_id).then(|| {
            ApiError::new(
                ErrorCode::ExpiredToken,
                "The security token included in the request is expired",
            )
        })
    }

    /// Replaces the refusals in force.
    pub fn set_refusals(&self, refusals: Vec<Refusal>) {
        // Only a list of plain values lives behind the lock.
        *self.refusals.lock().unwrap_or_else(|e| e.into_inner()) = refusals;
    }

    /// Forgets every stored item and custom type, as if the service had lost them.
    pub fn clear_store(&self) {
        *self.store() = Store::default();
    }

    /// Logs one PutInventory request and its answer (`None` when accepted).
    pub fn log_put(&self, body: &[u8], error: Option<String>) {
        let (types, hash_only) = rules::peek_items(body);
        self.stats.put_record(PutRecord {
            types,
            hash_only,
            bytes: body.len() as u64,
            error,
        });
    }

    pub fn put_records(&self) -> Vec<PutRecord> {
        self.stats.put_records()
    }

    fn store(&self) -> MutexGuard<'_, Store> {
        // `Store::apply` checks everything before it mutates, so a panic while the lock was
        // held cannot have left a half-applied request behind.
        self.store.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn stored(&self, instance_id: &str, type_name: &str) -> Option<StoredItem> {
        self.store().get(instance_id, type_name).cloned()
    }

    pub fn stats(&self) -> Stats {
        let store = self.store();
        let mut stats = self
            .stats
            .snapshot(store.custom_type_count(), store.node_totals());
        stats.buffered_bytes_peak = self.buffers.peak() as u64;
        stats.max_buffered_bytes = self.buffers.max() as u64;
        stats
    }

    pub fn put_inventory(&self, body: &[u8]) -> Result<Value, ApiError> {
        if let Some(id) = rules::peek_instance_id(body) {
            self.stats.instance_request(&id, body.len());
        }
        let req = rules::check_put_inventory(
            body,
            RuleConfig {
                max_item_bytes: self.config.max_item_bytes,
                known_instances: self.config.known_instances.as_deref(),
            },
        )?;
        {
            let refusals = self.refusals.lock().unwrap_or_else(|e| e.into_inner());
            refuse::check(&refusals, &req)?;
        }
        let applied = self.store().apply(
            &req,
            StoreLimits {
                max_custom_types: self.config.max_custom_types,
                max_node_bytes: self.config.max_node_bytes,
            },
        )?;
        self.stats
            .accepted(&req.instance_id, applied.stored, applied.refreshed);
        self.stats
            .hash_only(req.items.iter().filter(|i| i.content.is_none()).count());
        Ok(json!({}))
    }

    pub fn list_inventory_entries(&self, body: &[u8]) -> Result<Value, ApiError> {
        let req =
            rules::check_list_inventory_entries(body, self.config.known_instances.as_deref())?;
        let offset = match &req.next_token {
            None => 0,
            Some(token) => token
                .strip_prefix(NEXT_TOKEN_PREFIX)
                .and_then(|n| n.parse::<usize>().ok())
                .ok_or_else(|| {
                    ApiError::new(
                        ErrorCode::InvalidNextToken,
                        "The specified token isn't valid.",
                    )
                })?,
        };
        let mut out = serde_json::Map::new();
        out.insert("TypeName".into(), json!(req.type_name));
        out.insert("InstanceId".into(), json!(req.instance_id));
        let Some(item) = self.stored(&req.instance_id, &req.type_name) else {
            out.insert("Entries".into(), json!([]));
            return Ok(Value::Object(out));
        };
        let total = item.content.len();
        let end = match req.max_results {
            Some(n) => offset.saturating_add(n).min(total),
            None => total,
        };
        let page = item.content.get(offset.min(total)..end).unwrap_or_default();
        out.insert("SchemaVersion".into(), json!(item.schema_version));
        out.insert("CaptureTime".into(), json!(item.capture_time));
        out.insert("Entries".into(), json!(page));
        if end < total {
            out.insert(
                "NextToken".into(),
                json!(format!("{NEXT_TOKEN_PREFIX}{end}")),
            );
        }
        Ok(Value::Object(out))
    }
}

/// An awsJson1.1 body: a JSON object.
fn parse_body(body: &[u8]) -> Result<Value, ApiError> {
    match serde_json::from_slice::<Value>(body) {
        Ok(v) if v.is_object() => Ok(v),
        _ => Err(ApiError::new(
            ErrorCode::Serialization,
            "The request body is not a JSON object",
        )),
    }
}

#[cfg(test)]
mod tests;
