use std::collections::BTreeMap;
use std::time::Duration;

use super::*;
use crate::inventory::RawItem;

const MIB: usize = 1024 * 1024;

/// An item whose Content is about `bytes` long.
fn item(type_name: &str, bytes: usize) -> Item {
    let row: BTreeMap<String, String> = [("V".to_owned(), "x".repeat(bytes.min(4096)))]
        .into_iter()
        .collect();
    Item::new(RawItem {
        type_name: type_name.to_owned(),
        schema_version: "1.0".into(),
        capture_time: "2026-12-01T10:00:00Z".into(),
        rows: vec![row; bytes.div_ceil(4096).max(1)],
        ..RawItem::default()
    })
    .unwrap()
}

/// Whether `acquire` completes within a (paused) second.
async fn admitted(limiter: &RunLimiter, reserve: usize) -> Option<RunPermit> {
    tokio::time::timeout(Duration::from_secs(1), limiter.acquire(reserve))
        .await
        .ok()
}

#[tokio::test(start_paused = true)]
async fn items_hold_their_content_until_it_is_let_go() {
    let limiter = RunLimiter::new(4, 8 * MIB);
    let permit = limiter.acquire(8 * MIB).await;
    assert_eq!(limiter.available_bytes(), 0);
    let mut items = vec![item("Custom:A", 2 * MIB), item("Custom:B", MIB)];
    let (a, b) = (items[0].content_bytes(), items[1].content_bytes());
    permit.hold(&mut items);
    // The reservation is gone; the items' Content is counted instead.
    assert_eq!(limiter.held_bytes(), a + b);
    assert_eq!(limiter.available_runs(), 4);
    assert_eq!(limiter.available_bytes(), 8 * MIB - a - b);
    // A copy keeps the hold; the copy without Content does not.
    let copy = items[0].clone();
    let acknowledged = items[0].without_content();
    items[0] = acknowledged;
    assert_eq!(limiter.held_bytes(), a + b);
    drop(copy);
    assert_eq!(limiter.held_bytes(), b);
    // A refused item stops counting although its Content is kept.
    items[1].release_hold();
    assert!(items[1].has_content());
    assert_eq!(limiter.held_bytes(), 0);
    assert_eq!(limiter.available_bytes(), 8 * MIB);
}

#[tokio::test(start_paused = true)]
async fn a_run_waits_for_waiting_items_to_be_delivered() {
    let limiter = RunLimiter::new(4, 8 * MIB);
    let mut items = vec![item("Custom:A", 6 * MIB)];
    limiter.acquire(8 * MIB).await.hold(&mut items);
    // 6 MiB wait for delivery: a run that may hold 4 MiB does not fit, one of 2 MiB does.
    assert!(admitted(&limiter, 4 * MIB).await.is_none());
    let small = admitted(&limiter, MIB).await;
    assert!(small.is_some());
    drop(small);
    let waiting = tokio::spawn({
        let limiter = limiter.clone();
        async move { limiter.acquire(4 * MIB).await }
    });
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert!(!waiting.is_finished());
    // Delivered: the content is let go, and the run starts.
    items.clear();
    let permit = tokio::time::timeout(Duration::from_secs(1), waiting)
        .await
        .expect("admitted once the items were let go")
        .unwrap();
    assert_eq!(limiter.available_bytes(), 4 * MIB);
    drop(permit);
}

#[tokio::test(start_paused = true)]
async fn first_come_first_served_and_a_cancelled_wait_leaves_the_line() {
    let limiter = RunLimiter::new(4, 8 * MIB);
    let holding = limiter.acquire(6 * MIB).await;
    // A large run waits; a small one behind it waits too, rather than pass it.
    let large = tokio::spawn({
        let limiter = limiter.clone();
        async move { limiter.acquire(4 * MIB).await }
    });
    tokio::time::sleep(Duration::from_millis(10)).await;
    assert!(admitted(&limiter, MIB).await.is_none());
    assert_eq!(limiter.waiting(), 1);
    // The large run is stopped (a reload): the small one is first now, and fits.
    large.abort();
    let _ = large.await;
    assert_eq!(limiter.waiting(), 0);
    assert!(admitted(&limiter, MIB).await.is_some());
    drop(holding);
}

#[tokio::test(start_paused = true)]
async fn new_limits_keep_what_is_held() {
    let limiter = RunLimiter::new(4, 8 * MIB);
    let mut items = vec![item("Custom:A", 3 * MIB)];
    limiter.acquire(4 * MIB).await.hold(&mut items);
    let held = limiter.held_bytes();
    limiter.set_limits(1, 4 * MIB);
    assert_eq!(limiter.held_bytes(), held);
    assert_eq!(limiter.available_bytes(), 4 * MIB - held);
    // A run larger than the whole budget is clamped to it, so it waits for the items only.
    assert!(admitted(&limiter, 64 * MIB).await.is_none());
    items.clear();
    let permit = admitted(&limiter, 64 * MIB)
        .await
        .expect("fits an empty budget");
    assert_eq!(limiter.available_runs(), 0);
    assert_eq!(limiter.available_bytes(), 0);
    drop(permit);
}
