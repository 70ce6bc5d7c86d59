//! The daemon in this process, for tests of its behaviour on tokio's paused clock.

use std::time::Duration;

/// Gives threads outside the runtime (a folder watcher, a child process) a moment of real
/// time. Blocking work holds a paused clock still while it runs, so time does not leap ahead
/// of what those threads are about to report.
pub async fn settle() {
    tokio::task::spawn_blocking(|| std::thread::sleep(Duration::from_millis(1)))
        .await
        .expect("a sleep does not panic");
}
