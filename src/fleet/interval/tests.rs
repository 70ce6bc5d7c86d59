use super::*;

const MIN: Duration = Duration::from_secs(60);

#[test]
fn busy_polls_lengthen_the_interval_up_to_the_cap() {
    let mut p = PollInterval::new(20 * MIN);
    assert_eq!(p.cap(), 160 * MIN);
    assert_eq!(p.after_poll(true, 0.0), 40 * MIN);
    assert!(p.backed_off());
    assert_eq!(p.after_poll(true, 0.0), 80 * MIN);
    assert_eq!(p.after_poll(true, 0.0), 160 * MIN);
    assert_eq!(p.after_poll(true, 0.0), 160 * MIN);
    // The jitter spreads the wait over the upper half of the lengthened part.
    assert_eq!(p.after_poll(true, 0.999_999).as_secs(), 90 * 60);
}

#[test]
fn polls_that_go_through_bring_it_back_gradually_never_below_the_configured() {
    let mut p = PollInterval::new(20 * MIN);
    p.after_poll(true, 0.0);
    p.after_poll(true, 0.0);
    // From 80 minutes: 60, 45, 33.75, 25.3, then the configured 20.
    let waits: Vec<u64> = (0..6).map(|_| p.after_poll(false, 0.0).as_secs()).collect();
    assert_eq!(waits, [3600, 2700, 2025, 1518, 1200, 1200]);
    assert!(!p.backed_off());
    // Never faster than configured, whatever the draw.
    for unit in [0.0, 0.5, 0.999, 7.0, -1.0] {
        assert_eq!(p.after_poll(false, unit), 20 * MIN);
    }
}

#[test]
fn short_intervals_may_back_off_up_to_an_hour() {
    let mut p = PollInterval::new(Duration::from_secs(1));
    assert_eq!(p.cap(), CAP_FLOOR);
    for _ in 0..20 {
        p.after_poll(true, 0.0);
    }
    assert_eq!(p.current(), CAP_FLOOR);
    // A wait is never shorter than the configured interval.
    for unit in [0.0, 0.3, 0.999] {
        let mut q = PollInterval::new(Duration::from_secs(1));
        assert!(q.after_poll(true, unit) >= Duration::from_secs(1));
    }
    let long = PollInterval::new(Duration::from_secs(365 * 24 * 3600));
    assert_eq!(long.cap(), Duration::from_secs(8 * 365 * 24 * 3600));
}
