use super::*;

const POLICY: RetryPolicy = RetryPolicy {
    base: Duration::from_millis(100),
    cap: Duration::from_secs(5),
    max_attempts: Some(4),
};

#[test]
fn ceiling_doubles_then_caps() {
    let ceilings: Vec<u64> = (1..=8)
        .map(|a| POLICY.ceiling(a).as_millis() as u64)
        .collect();
    assert_eq!(ceilings, [100, 200, 400, 800, 1600, 3200, 5000, 5000]);
    assert_eq!(POLICY.ceiling(1_000), Duration::from_secs(5));
}

#[test]
fn jitter_stays_within_the_ceiling() {
    assert_eq!(POLICY.wait(3, 0.0), Duration::ZERO);
    assert_eq!(POLICY.wait(3, 0.5), Duration::from_millis(200));
    for attempt in 1..20 {
        for _ in 0..100 {
            assert!(POLICY.jittered(attempt) <= POLICY.ceiling(attempt));
        }
    }
}

#[test]
fn attempts_are_bounded_only_when_asked() {
    assert!(POLICY.allows(3));
    assert!(!POLICY.allows(4));
    let forever = RetryPolicy {
        max_attempts: None,
        ..POLICY
    };
    assert!(forever.allows(u32::MAX));
}
