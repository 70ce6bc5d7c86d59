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
mod tests {
    use super::*;

    /// A fleet's pushes spread evenly over the splay window (no peak in the middle), and stay
    /// inside it.
    #[test]
    fn fleet_splay_is_even_across_the_window() {
        let splay = Duration::from_secs(100);
        let mut bins = [0usize; 10];
        let nodes = 20_000;
        for n in 0..nodes {
            let d = fleet_splay(&format!("i-{n:017x}"), splay);
            assert!(d < splay, "{d:?}");
            bins[(d.as_secs_f64() / 10.0) as usize] += 1;
        }
        // Each tenth of the window holds a tenth of the fleet, within 10 % (a triangular
        // distribution puts 2 % in the first tenth and 18 % in the middle ones).
        for (i, &count) in bins.iter().enumerate() {
            let share = count as f64 / nodes as f64;
            assert!(
                (0.09..=0.11).contains(&share),
                "bin {i}: {share} ({bins:?})"
            );
        }
        assert_eq!(
            fleet_splay("i-0123456789abcdef0", Duration::ZERO),
            Duration::ZERO
        );
    }

    /// The slot is MD5 of the instance ID (first 8 bytes, big-endian, modulo 10,000), computed
    /// here independently with Python's hashlib.
    #[test]
    fn fleet_slots_come_from_a_specified_hash() {
        assert_eq!(fleet_slot("i-0123456789abcdef0"), 0.7132);
        assert_eq!(fleet_slot("mi-0123456789abcdef0"), 0.4284);
    }
}
