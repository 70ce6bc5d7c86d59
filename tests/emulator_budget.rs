//! The emulator's memory under load is bounded in total, not per connection: 256 clients
//! upload 8 MiB bodies at once to 127.0.0.1, far more than the budget for bodies held at
//! once; every one is answered, those that did not fit with HTTP 503 `SlowDown`, and the
//! emulator's own accounting of the most it ever held (`/stats`, `buffered_bytes_peak`) stays
//! within the budget.
//!
//! Raw HTTP over TCP, unsigned: a body the emulator kept is then answered with an
//! authentication error (400), after it was buffered whole, which is what is measured here.
//! Bounded in count (256 uploads) and time (a hang-catcher, never a timing target).

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::emulator::{raw_request, start};
use ssm_inventoryd::emulator::EmulatorConfig;

const UPLOADS: usize = 256;
const BODY_BYTES: usize = 8 * 1024 * 1024;
/// Small enough that most uploads cannot be held at once, so the budget is exercised.
const BUDGET: usize = 64 * 1024 * 1024;
const PATIENCE: Duration = Duration::from_secs(300);

/// One unsigned PutInventory upload; the answer's HTTP status.
async fn upload(addr: std::net::SocketAddr, body: Arc<Vec<u8>>) -> std::io::Result<u16> {
    let headers = [
        ("Content-Type", "application/x-amz-json-1.1"),
        ("X-Amz-Target", "AmazonSSM.PutInventory"),
    ];
    let (status, _, _) = raw_request(addr, "POST", "/", &headers, &body).await?;
    Ok(status)
}

fn high_water_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bodies_held_at_once_stay_within_the_budget() {
    let emu = start(EmulatorConfig {
        max_buffered_bytes: BUDGET,
        max_connections: UPLOADS,
        body_read_timeout: PATIENCE,
        ..EmulatorConfig::default()
    })
    .await;
    let addr = emu.local_addr();
    assert!(addr.ip().is_loopback());
    let body = Arc::new(vec![b'x'; BODY_BYTES]);

    let uploads: Vec<_> = (0..UPLOADS)
        .map(|_| tokio::spawn(upload(addr, Arc::clone(&body))))
        .collect();
    let answers = tokio::time::timeout(PATIENCE, async {
        let mut statuses = Vec::new();
        for upload in uploads {
            statuses.push(upload.await.expect("upload task").expect("upload answered"));
        }
        statuses
    })
    .await
    .expect("every upload answered in time");

    let slowed = answers.iter().filter(|&&s| s == 503).count();
    let kept = answers.iter().filter(|&&s| s == 400).count();
    let stats = emu.stats();
    println!(
        "{UPLOADS} uploads of {BODY_BYTES} bytes: {kept} buffered (answered 400 unsigned), {slowed} answered 503 SlowDown; \
         peak held {} of a {} byte budget; test process VmHWM {:?} KiB",
        stats.buffered_bytes_peak,
        stats.max_buffered_bytes,
        high_water_kib()
    );
    assert_eq!(kept + slowed, UPLOADS, "every upload answered: {answers:?}");
    assert_eq!(stats.slowed_down as usize, slowed);
    assert!(slowed > 0, "the budget was exercised");
    assert!(kept > 0, "bodies that fit were taken");
    assert!(stats.buffered_bytes_peak > 0);
    assert!(
        stats.buffered_bytes_peak <= BUDGET as u64,
        "peak {} over the budget {BUDGET}",
        stats.buffered_bytes_peak
    );
    emu.shutdown().await;
}

/// After the load, the reservations are all given back: a body that fits is kept again.
#[tokio::test]
async fn a_reservation_is_given_back_when_its_request_is_answered() {
    let emu = start(EmulatorConfig {
        max_buffered_bytes: 2 * 1024 * 1024,
        ..EmulatorConfig::default()
    })
    .await;
    let body = Arc::new(vec![b'x'; 1024 * 1024]);
    for _ in 0..5 {
        let status = upload(emu.local_addr(), Arc::clone(&body))
            .await
            .expect("answered");
        assert_eq!(status, 400, "kept and checked, not slowed down");
    }
    let too_big = Arc::new(vec![b'x'; 3 * 1024 * 1024]);
    let status = upload(emu.local_addr(), too_big).await.expect("answered");
    assert_eq!(status, 503);
    assert_eq!(emu.stats().slowed_down, 1);
    emu.shutdown().await;
}
