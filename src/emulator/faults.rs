//! Injected faults, so a client's retry and backoff paths can be exercised on purpose.
//!
//! They are applied after the signature check (a fault must not hide a signing bug) and before
//! validation (a throttled request says nothing about its content, as on the real service).

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// What to do to one request instead of answering it normally.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// Close the connection without any response.
    Drop,
    /// `ThrottlingException` (HTTP 400).
    Throttle,
    /// `InternalServerError` (HTTP 500).
    Fail,
}

/// A token bucket holding at most `capacity` tokens and refilled at `rate` per second, so a
/// steady `rate` requests per second pass and a burst of up to `capacity` does.
#[derive(Debug)]
pub struct TokenBucket {
    capacity: f64,
    rate: f64,
    tokens: f64,
    last: Instant,
}

impl TokenBucket {
    /// Starts full: the first `capacity` requests of a burst pass.
    pub fn new(tps: f64, now: Instant) -> Self {
        let capacity = tps.max(1.0);
        Self {
            capacity,
            rate: tps,
            tokens: capacity,
            last: now,
        }
    }

    pub fn try_take(&mut self, now: Instant) -> bool {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.last = self.last.max(now);
        self.tokens = (self.tokens + elapsed * self.rate).min(self.capacity);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

#[derive(Debug)]
pub struct Faults {
    bucket: Option<Mutex<TokenBucket>>,
    fail_rate: f64,
    drop_rate: f64,
    latency: Duration,
    /// API calls still to be throttled whatever the bucket says: a deterministic outage
    /// (set at start by `throttle_first`, at run time by `Emulator::throttle_next`), so a test
    /// can count the attempts a client needs to get through.
    throttle_next: AtomicU64,
    /// Parameter Store reads' own limit, apart from `bucket`: the service meters
    /// GetParameter and GetParameters together, per account and region.
    parameter_bucket: Option<Mutex<TokenBucket>>,
}

impl Faults {
    pub fn new(
        throttle_tps: Option<f64>,
        fail_rate: f64,
        drop_rate: f64,
        latency: Duration,
    ) -> Self {
        Self {
            bucket: throttle_tps.map(|tps| Mutex::new(TokenBucket::new(tps, Instant::now()))),
            fail_rate,
            drop_rate,
            latency,
            throttle_next: AtomicU64::new(0),
            parameter_bucket: None,
        }
    }

    /// Limits Parameter Store reads to `tps` a second (and a burst of as many), on top of
    /// whatever limits every call.
    pub fn with_parameter_tps(mut self, tps: Option<f64>) -> Self {
        self.parameter_bucket = tps.map(|tps| Mutex::new(TokenBucket::new(tps, Instant::now())));
        self
    }

    /// Whether a Parameter Store read may go through now, taking its token if so.
    pub fn parameter_read_allowed(&self, now: Instant) -> bool {
        match &self.parameter_bucket {
            // As in `decide`: a poisoned lock still holds a usable bucket.
            Some(bucket) => bucket
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .try_take(now),
            None => true,
        }
    }

    /// Throttles the next `n` API calls (replacing any count still pending).
    pub fn throttle_next(&self, n: u64) {
        self.throttle_next.store(n, Ordering::SeqCst);
    }

    pub fn latency(&self) -> Duration {
        self.latency
    }

    /// Decides the fate of one request: dropped first (the client sees nothing at all), then
    /// throttled, then failed.
    pub fn decide(&self, now: Instant) -> Option<Fault> {
        if chance(self.drop_rate) {
            return Some(Fault::Drop);
        }
        if self
            .throttle_next
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok()
        {
            return Some(Fault::Throttle);
        }
        if let Some(bucket) = &self.bucket {
            // A poisoned lock only means another request panicked mid-update of two floats;
            // the bucket is still usable.
            let mut bucket = bucket.lock().unwrap_or_else(|e| e.into_inner());
            if !bucket.try_take(now) {
                return Some(Fault::Throttle);
            }
        }
        if chance(self.fail_rate) {
            return Some(Fault::Fail);
        }
        None
    }
}

/// `true` with probability `p`: never for 0, always for 1.
fn chance(p: f64) -> bool {
    p > 0.0 && rand::random::<f64>() < p
}

#[cfg(test)]
mod tests;
