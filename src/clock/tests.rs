use std::time::Duration;

use super::*;

#[tokio::test(start_paused = true)]
async fn a_test_clock_moves_with_paused_time() {
    let start = time::macros::datetime!(2026-12-01 10:00 UTC);
    let clock = Clock::following_tokio(start);
    let then = clock.now();
    tokio::time::sleep(Duration::from_secs(3600)).await;
    assert_eq!(clock.now() - then, Duration::from_secs(3600));
    assert_eq!(
        clock.now_utc(),
        time::macros::datetime!(2026-12-01 11:00 UTC)
    );
}
