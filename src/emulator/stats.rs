//! Counters of what the emulator saw, for tests, the demo and benchmarks to assert on.
//!
//! The body sizes of recent PutInventory requests are kept so a client's own size estimate
//! (the batcher's byte budget) can be compared with what actually went over the wire.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Mutex;

use serde::Serialize;

use super::faults::Fault;

/// How many PutInventory body sizes [`Stats::recent_put_body_sizes`] keeps.
pub const RECENT_BODY_SIZES: usize = 1000;

/// A snapshot of the counters (what `GET /stats` returns as JSON).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Stats {
    /// Every request to the API endpoint (`POST /`), signed or not.
    pub requests: u64,
    /// Sum of the body sizes of those requests.
    pub request_body_bytes: u64,
    /// Signed PutInventory requests (whatever their outcome).
    pub put_inventory_requests: u64,
    /// PutInventory requests that were accepted (HTTP 200).
    pub put_inventory_accepted: u64,
    /// Signed ListInventoryEntries requests.
    pub list_inventory_entries_requests: u64,
    /// Items in accepted PutInventory requests.
    pub items: u64,
    /// Of those, items whose content was (re)stored.
    pub items_stored: u64,
    /// Of those, items that only refreshed CaptureTime (hash-only or unchanged hash).
    pub items_refreshed: u64,
    /// Of `items`, those sent without Content (hash-only refreshes), so a test can tell a
    /// full resend of unchanged content (counted in `items_refreshed` too) from a refresh.
    pub items_hash_only: u64,
    /// Error answers by `__type`, injected ones included.
    pub errors: BTreeMap<String, u64>,
    pub faults: FaultStats,
    pub timeouts: TimeoutStats,
    /// Parameter Store reads (GetParameter and GetParameters), the family the
    /// `parameter_tps` limit applies to.
    pub parameter_reads: ParameterReadStats,
    /// Per InstanceId named in PutInventory requests that got past auth and faults.
    pub instances: BTreeMap<String, InstanceStats>,
    /// Body sizes of the last [`RECENT_BODY_SIZES`] signed PutInventory requests, oldest first.
    pub recent_put_body_sizes: Vec<u64>,
    /// Distinct custom types stored in the account.
    pub custom_types: u64,
    /// The most bytes of request bodies held in memory at once (see `max_buffered_bytes`).
    pub buffered_bytes_peak: u64,
    /// The budget for them.
    pub max_buffered_bytes: u64,
    /// Requests answered 503 `SlowDown` because their body did not fit in the budget (not
    /// counted in `requests`: their body was not kept).
    pub slowed_down: u64,
}

/// One signed PutInventory request as the emulator saw it and answered it, so a test can
/// tell which items went in which request (isolation, change skipping) without parsing bodies.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct PutRecord {
    /// TypeNames in request order (empty when the body could not be read).
    pub types: Vec<String>,
    /// Of those, the ones sent without Content.
    pub hash_only: Vec<String>,
    /// Body size in bytes.
    pub bytes: u64,
    /// `None` when accepted; else the error's `__type`, or `"dropped"` for a connection closed
    /// by fault injection.
    pub error: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct FaultStats {
    pub throttled: u64,
    pub failed: u64,
    pub dropped: u64,
    /// Requests held back by the configured latency.
    pub delayed: u64,
}

/// Signed Parameter Store reads, whatever their answer: what a fleet costs the account's
/// shared Parameter Store throughput.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ParameterReadStats {
    pub get_parameter: u64,
    pub get_parameters: u64,
    /// Of those, the ones answered `ThrottlingException` (by `parameter_tps`, or by the
    /// API-wide faults).
    pub throttled: u64,
}

/// Connections the emulator gave up on because the client was too slow (see
/// [`EmulatorConfig::header_read_timeout`](super::EmulatorConfig::header_read_timeout) and
/// [`EmulatorConfig::body_read_timeout`](super::EmulatorConfig::body_read_timeout)).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct TimeoutStats {
    /// Connections closed because a request's header block did not arrive in time, idle
    /// kept-alive connections included.
    pub header: u64,
    /// Requests answered 408 because their body did not arrive in time (not counted in
    /// `requests`: their body was never read).
    pub body: u64,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct InstanceStats {
    pub requests: u64,
    /// Items accepted for this instance.
    pub items: u64,
    /// Body bytes of its PutInventory requests.
    pub bytes: u64,
    /// What is stored for it now (the total that `max_node_bytes` limits).
    pub stored_bytes: u64,
}

#[derive(Default, Debug)]
struct Inner {
    stats: Stats,
    recent: VecDeque<u64>,
    puts: VecDeque<PutRecord>,
}

/// The live counters behind [`Stats`]; every method takes the lock briefly.
#[derive(Default, Debug)]
pub struct Recorder {
    inner: Mutex<Inner>,
}

impl Recorder {
    fn with<R>(&self, f: impl FnOnce(&mut Inner) -> R) -> R {
        // Only counters live behind the lock; a panic elsewhere cannot leave them unusable.
        let mut guard = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        f(&mut guard)
    }

    pub fn request(&self, body_len: usize) {
        self.with(|i| {
            i.stats.requests += 1;
            i.stats.request_body_bytes += body_len as u64;
        });
    }

    pub fn put_inventory(&self, body_len: usize) {
        self.with(|i| {
            i.stats.put_inventory_requests += 1;
            if i.recent.len() == RECENT_BODY_SIZES {
                i.recent.pop_front();
            }
            i.recent.push_back(body_len as u64);
        });
    }

    /// Keeps the last [`RECENT_BODY_SIZES`] PutInventory records.
    pub fn put_record(&self, record: PutRecord) {
        self.with(|i| {
            if i.puts.len() == RECENT_BODY_SIZES {
                i.puts.pop_front();
            }
            i.puts.push_back(record);
        });
    }

    pub fn put_records(&self) -> Vec<PutRecord> {
        self.with(|i| i.puts.iter().cloned().collect())
    }

    pub fn hash_only(&self, items: usize) {
        self.with(|i| i.stats.items_hash_only += items as u64);
    }

    pub fn list_inventory_entries(&self) {
        self.with(|i| i.stats.list_inventory_entries_requests += 1);
    }

    /// A signed GetParameter (`batch` false) or GetParameters (`batch` true) call.
    pub fn parameter_read(&self, batch: bool) {
        self.with(|i| {
            let reads = &mut i.stats.parameter_reads;
            if batch {
                reads.get_parameters += 1;
            } else {
                reads.get_parameter += 1;
            }
        });
    }

    pub fn parameter_read_throttled(&self) {
        self.with(|i| i.stats.parameter_reads.throttled += 1);
    }

    pub fn instance_request(&self, instance_id: &str, body_len: usize) {
        self.with(|i| {
            let s = i.stats.instances.entry(instance_id.to_owned()).or_default();
            s.requests += 1;
            s.bytes += body_len as u64;
        });
    }

    pub fn accepted(&self, instance_id: &str, stored: usize, refreshed: usize) {
        self.with(|i| {
            let n = (stored + refreshed) as u64;
            i.stats.put_inventory_accepted += 1;
            i.stats.items += n;
            i.stats.items_stored += stored as u64;
            i.stats.items_refreshed += refreshed as u64;
            i.stats
                .instances
                .entry(instance_id.to_owned())
                .or_default()
                .items += n;
        });
    }

    pub fn error(&self, name: &str) {
        self.with(|i| *i.stats.errors.entry(name.to_owned()).or_default() += 1);
    }

    pub fn fault(&self, fault: Fault) {
        self.with(|i| match fault {
            Fault::Drop => i.stats.faults.dropped += 1,
            Fault::Throttle => i.stats.faults.throttled += 1,
            Fault::Fail => i.stats.faults.failed += 1,
        });
    }

    pub fn delayed(&self) {
        self.with(|i| i.stats.faults.delayed += 1);
    }

    pub fn slowed_down(&self) {
        self.with(|i| i.stats.slowed_down += 1);
    }

    pub fn header_timeout(&self) {
        self.with(|i| i.stats.timeouts.header += 1);
    }

    pub fn body_timeout(&self) {
        self.with(|i| i.stats.timeouts.body += 1);
    }

    /// `custom_types` and `stored_bytes` come from the store, which the caller has locked.
    pub fn snapshot<'a>(
        &self,
        custom_types: usize,
        stored_bytes: impl Iterator<Item = (&'a str, usize)>,
    ) -> Stats {
        self.with(|i| {
            let mut s = i.stats.clone();
            s.recent_put_body_sizes = i.recent.iter().copied().collect();
            s.custom_types = custom_types as u64;
            for (id, bytes) in stored_bytes {
                s.instances.entry(id.to_owned()).or_default().stored_bytes = bytes as u64;
            }
            s
        })
    }
}

#[cfg(test)]
mod tests;
