//! Where in the splay window a node pushes or polls, so that a fleet's requests arrive at an
//! even rate. A pure function of the instance ID and the window, beside [`crate::backoff`]:
//! the push controller and the fleet poller both use it, and the fleet simulation paces its
//! agents with it.

use std::time::Duration;

/// The delay a node adds before each push, within `splay`: a fixed slot per instance ID (so a
/// fleet spreads out deterministically) plus a random part of up to half the splay (so two
/// nodes with colliding slots still part), wrapped around the end of the window.
///
/// The wrap matters: a slot uniform over the window plus anything, modulo the window, is still
/// uniform, so a fleet's pushes arrive at an even rate across the whole splay. Adding a fixed
/// half and a random half without wrapping gives a triangular distribution instead, with twice
/// the average rate in the middle of the window — measured with `examples/fleet.rs` at 2,000
/// nodes against a 50 TPS limit, that throttled 2.7 requests per delivered one and stretched
/// each round to 2.3× its ideal length (see BENCHMARKS.md).
///
/// Public so the fleet simulation paces its agents with exactly this formula.
pub fn fleet_splay(instance_id: &str, splay: Duration) -> Duration {
    if splay.is_zero() {
        return Duration::ZERO;
    }
    let unit = (fleet_slot(instance_id) + rand::random::<f64>() / 2.0).fract();
    splay.mul_f64(unit)
}

/// A node's fixed place in the splay window, in [0, 1): from the MD5 of its instance ID, a
/// specified hash, so a node keeps its slot whatever toolchain built the daemon (the
/// standard library's hasher may change between releases).
fn fleet_slot(instance_id: &str) -> f64 {
    use md5::{Digest, Md5};
    let digest = Md5::digest(instance_id.as_bytes());
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    (u64::from_be_bytes(first) % 10_000) as f64 / 10_000.0
}

#[cfg(test)]
mod tests;
