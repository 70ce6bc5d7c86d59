use super::*;

#[test]
fn doubles_to_the_cap() {
    let b = Backoff::new(Duration::from_secs(60), Duration::from_secs(3600));
    let s = |n| b.ceiling(n).as_secs();
    assert_eq!(
        [s(0), s(1), s(2), s(3), s(6), s(7), s(50), s(u32::MAX)],
        [60, 60, 120, 240, 1920, 3600, 3600, 3600]
    );
}

#[test]
fn never_overflows() {
    let b = Backoff::new(Duration::MAX, Duration::MAX);
    assert_eq!(b.ceiling(40), Duration::MAX);
    let b = Backoff::new(Duration::from_secs(1), Duration::MAX);
    assert_eq!(b.ceiling(u32::MAX), Duration::from_secs(1 << 31));
}

#[test]
fn jitter_stays_below_the_ceiling() {
    let b = Backoff::new(Duration::from_millis(100), Duration::from_secs(5));
    assert_eq!(b.jittered_with(3, 0.0), Duration::ZERO);
    assert_eq!(b.jittered_with(3, 0.5), Duration::from_millis(200));
    assert_eq!(b.jittered_with(3, 7.0), Duration::from_millis(400));
    for n in 1..20 {
        for _ in 0..50 {
            assert!(b.jittered(n) <= b.ceiling(n));
        }
    }
}
