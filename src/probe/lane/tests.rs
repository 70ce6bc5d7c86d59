use std::sync::mpsc;
use std::time::Duration;

use super::{Lane, Panicked};

/// A lane of the test's own, so that other tests' jobs do not share its thread.
fn lane(spill_after: Duration, idle_exit: Duration) -> &'static Lane {
    Box::leak(Box::new(Lane::new(spill_after, idle_exit)))
}

fn thread_name() -> String {
    std::thread::current().name().unwrap_or("").to_owned()
}

#[tokio::test]
async fn jobs_queued_together_run_on_one_thread_in_order() {
    let lane = lane(Duration::from_secs(5), Duration::from_secs(5));
    let (tx, rx) = mpsc::channel();
    // Spawned tasks are first polled in order, each queueing its job.
    let jobs: Vec<_> = (0..5)
        .map(|i| {
            let tx = tx.clone();
            tokio::spawn(lane.run(move || {
                tx.send(i).unwrap();
                (std::thread::current().id(), thread_name())
            }))
        })
        .collect();
    let mut ran = Vec::new();
    for job in jobs {
        ran.push(job.await.unwrap().unwrap());
    }
    assert!(ran.iter().all(|r| r.0 == ran[0].0), "{ran:?}");
    assert_eq!(ran[0].1, "ssm-inventoryd-lane");
    assert_ne!(ran[0].0, std::thread::current().id());
    drop(tx);
    assert_eq!(rx.iter().collect::<Vec<_>>(), vec![0, 1, 2, 3, 4]);
}

#[tokio::test]
async fn a_job_that_blocks_holds_up_no_other() {
    let lane = lane(Duration::from_millis(50), Duration::from_secs(5));
    let (release, blocked) = mpsc::channel::<()>();
    let (started_tx, started) = tokio::sync::oneshot::channel();
    let stuck = tokio::spawn(lane.run(move || {
        started_tx.send(()).unwrap();
        blocked.recv().unwrap();
        thread_name()
    }));
    started.await.unwrap();
    // Queued behind the stuck job, and taken back from it: the pool runs it.
    let behind = lane.run(thread_name).await.unwrap();
    assert_ne!(behind, "ssm-inventoryd-lane");
    // Once the job in hand has run that long, a new one goes to the pool at once.
    let next = tokio::time::timeout(Duration::from_secs(5), lane.run(thread_name))
        .await
        .unwrap()
        .unwrap();
    assert_ne!(next, "ssm-inventoryd-lane");
    release.send(()).unwrap();
    assert_eq!(stuck.await.unwrap().unwrap(), "ssm-inventoryd-lane");
    // Free again, the lane takes the next job itself.
    assert_eq!(lane.run(thread_name).await.unwrap(), "ssm-inventoryd-lane");
}

#[tokio::test]
async fn a_panic_is_an_error_and_the_lane_goes_on() {
    let lane = lane(Duration::from_secs(5), Duration::from_secs(5));
    let failed = lane.run(|| -> u32 { panic!("a job that panics") }).await;
    assert_eq!(failed, Err(Panicked));
    assert_eq!(lane.run(|| 7).await, Ok(7));
}

#[tokio::test]
async fn the_thread_ends_when_idle_and_comes_back_for_work() {
    let lane = lane(Duration::from_secs(5), Duration::from_millis(100));
    let first = lane.run(|| std::thread::current().id()).await.unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while lane.lock().thread {
        assert!(
            std::time::Instant::now() < deadline,
            "the thread never ended"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let second = lane.run(|| std::thread::current().id()).await.unwrap();
    assert_ne!(first, second);
    assert!(lane.lock().thread);
}
