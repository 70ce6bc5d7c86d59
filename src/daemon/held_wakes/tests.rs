use super::*;

const SPACING: Duration = Duration::from_millis(100);

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

#[test]
fn a_lone_change_runs_at_once() {
    let t0 = Instant::now();
    let mut held = HeldWakes::new(SPACING);
    assert_eq!(held.changed("a".into(), t0, false).as_deref(), Some("a"));
    assert_eq!(held.due(), None);
    // The next lone change, well after: at once again.
    assert_eq!(
        held.changed("a".into(), t0 + ms(500), false).as_deref(),
        Some("a")
    );
    // Other probes are not held by this one's runs.
    assert_eq!(
        held.changed("b".into(), t0 + ms(501), false).as_deref(),
        Some("b")
    );
}

#[test]
fn a_burst_makes_one_follow_up_run_after_the_spacing() {
    let t0 = Instant::now();
    let mut held = HeldWakes::new(SPACING);
    assert_eq!(held.changed("a".into(), t0, false).as_deref(), Some("a"));
    // Twenty writes over 50 ms, no push in flight: all held, for one run at 100 ms.
    for i in 1..=20 {
        assert_eq!(held.changed("a".into(), t0 + ms(i * 50 / 20), false), None);
    }
    assert_eq!(held.due(), Some(t0 + SPACING));
    assert!(held.release(t0 + ms(99), false).is_empty());
    assert_eq!(held.release(t0 + SPACING, false), ["a"]);
    assert_eq!(held.due(), None);
    // Released once; a later change is spaced from that follow-up run.
    assert!(held.release(t0 + ms(300), false).is_empty());
    assert_eq!(held.changed("a".into(), t0 + ms(150), false), None);
    assert_eq!(held.due(), Some(t0 + ms(200)));
}

#[test]
fn changes_during_a_push_wait_for_its_end() {
    let t0 = Instant::now();
    let mut held = HeldWakes::new(SPACING);
    // Never woken before, but a push is in flight.
    assert_eq!(held.changed("a".into(), t0, true), None);
    assert_eq!(held.changed("a".into(), t0 + ms(1), true), None);
    assert_eq!(held.changed("b".into(), t0 + ms(2), true), None);
    assert!(
        held.release(t0 + ms(500), true).is_empty(),
        "still in flight"
    );
    assert_eq!(held.release(t0 + ms(500), false), ["a", "b"]);
    assert!(held.release(t0 + ms(501), false).is_empty());
}

#[test]
fn a_restart_forgets_what_was_held() {
    let t0 = Instant::now();
    let mut held = HeldWakes::new(SPACING);
    assert_eq!(held.changed("a".into(), t0, false).as_deref(), Some("a"));
    assert_eq!(held.changed("a".into(), t0 + ms(1), false), None);
    held.clear();
    assert_eq!(held.due(), None);
    assert_eq!(
        held.changed("a".into(), t0 + ms(2), false).as_deref(),
        Some("a")
    );
}
