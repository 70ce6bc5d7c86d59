use super::*;
use crate::state::{Ack, Quarantine};

const ID: &str = "i-0123456789abcdef0";
const SECOND: Duration = Duration::from_secs(1);

fn timing() -> Timing {
    Timing {
        min_interval: Duration::from_secs(10),
        splay: Duration::ZERO,
        retry: Backoff::new(Duration::from_secs(2), Duration::from_secs(60)),
        intervals: Intervals {
            refresh: Duration::from_secs(3600),
            quarantine_retry: Duration::from_secs(600),
        },
    }
}

fn pending() -> PushReport {
    PushReport {
        pending: vec![("Custom:A".into(), "ThrottlingException".into())],
        ..PushReport::default()
    }
}

fn ack(at: OffsetDateTime) -> Ack {
    Ack {
        content_hash: "h".into(),
        schema_version: "1.0".into(),
        acknowledged_at: at,
    }
}

/// A burst of changes makes one push, at the first change's time; after a push the next
/// waits out `min_push_interval`.
#[tokio::test(start_paused = true)]
async fn changes_coalesce_and_respect_the_minimum_interval() {
    let mut push = PushController::new(timing());
    let start = Instant::now();
    push.request(start, Duration::ZERO, ID);
    tokio::time::advance(SECOND).await;
    push.request(Instant::now(), Duration::ZERO, ID);
    push.request(Instant::now(), Duration::from_secs(30), ID);
    assert_eq!(push.due(), Some(start));

    push.clear();
    assert!(!push.first_done());
    assert_eq!(
        push.finished(
            &PushReport::default(),
            None,
            Instant::now(),
            OffsetDateTime::now_utc()
        ),
        None
    );
    assert!(push.first_done());
    assert_eq!(push.due(), None, "nothing acknowledged: nothing timed");
    let end = Instant::now();
    tokio::time::advance(3 * SECOND).await;
    push.request(Instant::now(), Duration::ZERO, ID);
    assert_eq!(push.due(), Some(end + Duration::from_secs(10)));
}

/// The splay delays every push by the node's slot, inside the window.
#[tokio::test(start_paused = true)]
async fn the_splay_delays_within_the_window() {
    let mut push = PushController::new(Timing {
        splay: Duration::from_secs(30),
        ..timing()
    });
    let now = Instant::now();
    push.request(now, Duration::ZERO, ID);
    let delay = push.due().unwrap() - now;
    assert!(delay < Duration::from_secs(30), "{delay:?}");
}

/// Pending items: the wait's ceiling doubles per failed push up to the cap, each wait
/// drawn below it; success resets it.
#[tokio::test(start_paused = true)]
async fn pending_items_back_off_and_success_resets() {
    let mut push = PushController::new(timing());
    let utc = OffsetDateTime::now_utc();
    let mut waits = Vec::new();
    for _ in 0..7 {
        push.clear();
        let wait = push
            .finished(&pending(), None, Instant::now(), utc)
            .unwrap();
        assert_eq!(push.due(), Some(Instant::now() + wait));
        waits.push(wait);
        tokio::time::advance(wait).await;
    }
    let ceilings = [2, 4, 8, 16, 32, 60, 60].map(Duration::from_secs);
    for (wait, ceiling) in waits.iter().zip(ceilings) {
        assert!(*wait <= ceiling, "{waits:?}");
    }
    push.clear();
    assert_eq!(
        push.finished(&PushReport::default(), None, Instant::now(), utc),
        None
    );
    let wait = push
        .finished(&pending(), None, Instant::now(), utc)
        .unwrap();
    assert!(
        wait <= Duration::from_secs(2),
        "reset after success: {wait:?}"
    );
}

/// An unknown instance pauses pushing for a minute, doubling to an hour.
#[tokio::test(start_paused = true)]
async fn a_refused_instance_pauses_pushing() {
    let mut push = PushController::new(timing());
    let refused = PushReport {
        instance_invalid: Some("InvalidInstanceId".into()),
        ..PushReport::default()
    };
    let utc = OffsetDateTime::now_utc();
    let waits: Vec<u64> = (0..8)
        .map(|_| {
            push.finished(&refused, None, Instant::now(), utc)
                .unwrap()
                .as_secs()
        })
        .collect();
    assert_eq!(waits, [60, 120, 240, 480, 960, 1920, 3600, 3600]);
}

/// With nothing pending, the next push is the earliest refresh or quarantine retry; a
/// change requested earlier still wins.
#[tokio::test(start_paused = true)]
async fn the_next_refresh_or_retry_is_timed() {
    let mut push = PushController::new(timing());
    let utc = OffsetDateTime::now_utc();
    let mut state = InstanceState::default();
    state
        .types
        .insert("Custom:A".into(), ack(utc - time::Duration::minutes(50)));
    let now = Instant::now();
    push.finished(&PushReport::default(), Some(&state), now, utc);
    assert_eq!(push.due(), Some(now + Duration::from_secs(600)));

    state.quarantine.insert(
        "Custom:B".into(),
        Quarantine {
            content_hash: "h".into(),
            reason: "refused".into(),
            since: utc - time::Duration::minutes(8),
        },
    );
    push.clear();
    push.finished(&PushReport::default(), Some(&state), now, utc);
    assert_eq!(push.due(), Some(now + Duration::from_secs(120)));

    push.request(now, Duration::ZERO, ID);
    assert_eq!(
        push.due(),
        Some(now + Duration::from_secs(10)),
        "min interval"
    );
}

/// The next refresh or retry is computed without panicking whatever the dates and
/// intervals: the daemon once crashed after its first push with `refresh_interval =
/// "10000y"` ("overflow adding duration to date").
#[test]
fn timed_pushes_never_overflow() {
    let now = OffsetDateTime::now_utc();
    let mut instance = InstanceState::default();
    instance.types.insert("Custom:A".into(), ack(now));
    let day = Duration::from_secs(86_400);
    let every = |refresh, quarantine_retry| Intervals {
        refresh,
        quarantine_retry,
    };
    assert_eq!(next_timed_wait(&instance, every(day, day), now), Some(day));
    // Intervals past what a date can hold: nothing due, no panic.
    assert_eq!(
        next_timed_wait(&instance, every(Duration::MAX, day), now),
        None
    );
    let ten_thousand_years = Duration::from_secs(10_000 * 365 * 86_400);
    assert_eq!(
        next_timed_wait(&instance, every(ten_thousand_years, day), now),
        None
    );
    // A date at the end of what the type holds, from a state file written by a broken clock.
    instance.types.insert(
        "Custom:B".into(),
        ack(time::PrimitiveDateTime::MAX.assume_utc()),
    );
    assert_eq!(next_timed_wait(&instance, every(day, day), now), Some(day));
    instance.types.remove("Custom:A");
    assert_eq!(next_timed_wait(&instance, every(day, day), now), None);
}
