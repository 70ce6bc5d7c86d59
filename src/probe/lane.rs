//! Where probe runs do their short blocking work: one thread that the runs due together share,
//! with the runtime's blocking pool behind it.
//!
//! Most runs start with blocking work: an exec run finds and checks its program and looks up
//! its user, a `system` run reads `/proc` and asks `statvfs`, a `files` run reads its folder.
//! Each job takes tens of microseconds. With due runs on one grid, five of them reached the
//! blocking pool at the same instant every second, and the pool woke an idle thread for each:
//! five threads woken and parked again where one would do (BENCHMARKS.md, "Idle CPU: one
//! thread for the runs' blocking work"). Here they queue for one thread, which takes them one
//! after another in one wake-up.
//!
//! A job can block for long: a `statvfs` of a mount whose server is gone, a user lookup whose
//! directory does not answer. So no job waits behind another for more than [`SPILL_AFTER`]:
//! one not started by then is taken back and run on the blocking pool, as every job was
//! before. The thread ends after [`IDLE_EXIT`] without work, and the next job starts another.

use std::collections::VecDeque;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

/// How long a queued job waits for the thread before the blocking pool runs it instead.
const SPILL_AFTER: Duration = Duration::from_millis(50);
/// How long the thread waits for work before it ends (the blocking pool's own keep-alive).
const IDLE_EXIT: Duration = Duration::from_secs(10);

/// The lane of this process.
static LANE: Lane = Lane::new(SPILL_AFTER, IDLE_EXIT);

/// A job panicked; the panic hook has logged where.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Panicked;

/// Runs `job` on the lane's thread, or on the blocking pool when the lane is held up, and
/// returns what it returned. Like the exec probes' timeouts, it needs a runtime with time
/// enabled (every command's runtime has it).
pub async fn run<T: Send + 'static>(
    job: impl FnOnce() -> T + Send + 'static,
) -> Result<T, Panicked> {
    LANE.run(job).await
}

type Job = Box<dyn FnOnce() + Send>;
/// A job until the lane's thread or, when it was too long in coming, the one who queued it
/// takes it: whoever takes it runs it, so it runs once.
type Slot = Arc<Mutex<Option<Job>>>;

struct Lane {
    queue: Mutex<Queue>,
    ready: Condvar,
    spill_after: Duration,
    idle_exit: Duration,
}

struct Queue {
    jobs: VecDeque<Slot>,
    /// Whether the thread is there.
    thread: bool,
    /// Whether it waits for work, and so needs a wake-up for a new job.
    waiting: bool,
    /// Since when it has been running the job in hand.
    busy_since: Option<Instant>,
}

impl Lane {
    const fn new(spill_after: Duration, idle_exit: Duration) -> Lane {
        Lane {
            queue: Mutex::new(Queue {
                jobs: VecDeque::new(),
                thread: false,
                waiting: false,
                busy_since: None,
            }),
            ready: Condvar::new(),
            spill_after,
            idle_exit,
        }
    }

    async fn run<T: Send + 'static>(
        &'static self,
        job: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, Panicked> {
        let (tx, mut rx) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move || {
            // Caught here, so that a panic costs neither the thread nor the other jobs.
            let _ = tx.send(catch_unwind(AssertUnwindSafe(job)));
        });
        let slot: Slot = Arc::new(Mutex::new(Some(job)));
        if self.submit(Arc::clone(&slot)) {
            tokio::select! {
                biased;
                done = &mut rx => return outcome(done),
                () = tokio::time::sleep(self.spill_after) => {}
            }
        }
        // Not started in time (or no thread could be started): the blocking pool runs it. Once
        // started on the lane it is the lane's, and its answer is awaited wherever it runs.
        if let Some(job) = take(&slot) {
            drop(tokio::task::spawn_blocking(job));
        }
        outcome(rx.await)
    }

    /// Queues `slot`, starting the thread if it is not there. False when it could not be
    /// started, or when the job in hand has run for `spill_after` already: then the lane is
    /// held up, and a job queued now would only wait to be taken back.
    fn submit(&'static self, slot: Slot) -> bool {
        let mut queue = self.lock();
        if queue
            .busy_since
            .is_some_and(|since| since.elapsed() >= self.spill_after)
        {
            return false;
        }
        if !queue.thread {
            let started = crate::helper_thread::spawn("ssm-inventoryd-lane", move || self.work());
            if started.is_err() {
                return false;
            }
            queue.thread = true;
        }
        queue.jobs.push_back(slot);
        let wake = queue.waiting;
        drop(queue);
        if wake {
            self.ready.notify_one();
        }
        true
    }

    /// The thread: takes the jobs in order until none has come for `idle_exit`.
    fn work(&self) {
        let mut queue = self.lock();
        loop {
            if let Some(slot) = queue.jobs.pop_front() {
                let Some(job) = take(&slot) else {
                    continue;
                };
                queue.busy_since = Some(Instant::now());
                drop(queue);
                job();
                queue = self.lock();
                queue.busy_since = None;
                continue;
            }
            queue.waiting = true;
            let (next, waited) = self
                .ready
                .wait_timeout(queue, self.idle_exit)
                .unwrap_or_else(PoisonError::into_inner);
            queue = next;
            queue.waiting = false;
            // Jobs are queued under the lock, so none can come between this look and the end.
            if waited.timed_out() && queue.jobs.is_empty() {
                queue.thread = false;
                return;
            }
        }
    }

    /// The queue; a poisoned lock (a panic while it was held, which no job can cause: jobs run
    /// without it) still holds a usable queue.
    fn lock(&self) -> MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A job's answer as it reached the caller: dropped unanswered or panicked, it is [`Panicked`].
fn outcome<T>(
    done: Result<std::thread::Result<T>, tokio::sync::oneshot::error::RecvError>,
) -> Result<T, Panicked> {
    done.ok().and_then(Result::ok).ok_or(Panicked)
}

fn take(slot: &Slot) -> Option<Job> {
    slot.lock().unwrap_or_else(PoisonError::into_inner).take()
}

#[cfg(test)]
mod tests;
