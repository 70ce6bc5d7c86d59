use super::*;

#[test]
fn bucket_allows_a_burst_of_capacity_then_refills() {
    let t0 = Instant::now();
    let mut b = TokenBucket::new(5.0, t0);
    let passed = (0..50).filter(|_| b.try_take(t0)).count();
    assert_eq!(passed, 5);
    assert!(!b.try_take(t0 + Duration::from_millis(100)));
    assert!(b.try_take(t0 + Duration::from_millis(250)));
    // A long pause refills only up to capacity.
    let later = t0 + Duration::from_secs(60);
    let passed = (0..50).filter(|_| b.try_take(later)).count();
    assert_eq!(passed, 5);
}

#[test]
fn fractional_rates_still_let_one_through() {
    let t0 = Instant::now();
    let mut b = TokenBucket::new(0.5, t0);
    assert!(b.try_take(t0));
    assert!(!b.try_take(t0 + Duration::from_secs(1)));
    assert!(b.try_take(t0 + Duration::from_secs(2)));
}

#[test]
fn rates_zero_and_one() {
    let never = Faults::new(None, 0.0, 0.0, Duration::ZERO);
    let always_fail = Faults::new(None, 1.0, 0.0, Duration::ZERO);
    let always_drop = Faults::new(None, 1.0, 1.0, Duration::ZERO);
    let now = Instant::now();
    for _ in 0..1000 {
        assert_eq!(never.decide(now), None);
        assert_eq!(always_fail.decide(now), Some(Fault::Fail));
        assert_eq!(always_drop.decide(now), Some(Fault::Drop));
    }
}

#[test]
fn throttle_next_counts_down() {
    let f = Faults::new(None, 0.0, 0.0, Duration::ZERO);
    let now = Instant::now();
    f.throttle_next(3);
    let seen: Vec<_> = (0..5).map(|_| f.decide(now)).collect();
    assert_eq!(
        seen,
        [
            Some(Fault::Throttle),
            Some(Fault::Throttle),
            Some(Fault::Throttle),
            None,
            None
        ]
    );
}

#[test]
fn parameter_reads_have_a_bucket_of_their_own() {
    let f = Faults::new(None, 0.0, 0.0, Duration::ZERO).with_parameter_tps(Some(2.0));
    let now = Instant::now();
    let passed = (0..10).filter(|_| f.parameter_read_allowed(now)).count();
    assert_eq!(passed, 2);
    assert_eq!(f.decide(now), None, "other calls are not limited by it");
    assert!(f.parameter_read_allowed(now + Duration::from_millis(500)));
    let unlimited = Faults::new(None, 0.0, 0.0, Duration::ZERO);
    assert!((0..100).all(|_| unlimited.parameter_read_allowed(now)));
}

#[test]
fn half_rate_is_roughly_half() {
    let f = Faults::new(None, 0.5, 0.0, Duration::ZERO);
    let now = Instant::now();
    let failed = (0..10_000).filter(|_| f.decide(now).is_some()).count();
    assert!((4_000..6_000).contains(&failed), "{failed}");
}
