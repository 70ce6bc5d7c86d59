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
