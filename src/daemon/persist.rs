//! Keeping the state on disk when the disk refuses (full, read-only, permissions).
//!
//! The state lives in memory and the file is only its copy, so a write that fails costs
//! nothing but the copy: collecting and pushing go on, and what the service acknowledged
//! meanwhile is kept in memory. The write is tried again with the retry backoff
//! (`retry_base` doubling up to `retry_cap`) even when no push changes the state, so the
//! file catches up soon after the disk is writable again. The operator is told once when it
//! starts failing (or fails for another reason) and once when it recovers; in between, STATUS,
//! `status` and the metrics file say so. Every write is atomic (`state::write_atomically`):
//! a failure leaves the previous file whole.
//!
//! The fleet store is kept the same way, with a [`Persistence`] of its own: a version that
//! passed validation but could not be stored runs from memory, and is written again with the
//! same backoff until the store takes it.

use std::path::Path;

use tokio::time::Instant;

use crate::backoff::Backoff;

/// What a [`Persistence`] keeps on disk, for its log lines.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub enum Subject {
    /// `state.json`.
    #[default]
    State,
    /// The last good fleet versions (`fleet::store`).
    Fleet,
}

#[derive(Debug, Default)]
pub struct Persistence {
    subject: Subject,
    /// Why the last write failed, while writes fail.
    failing: Option<String>,
    failures: u32,
    retry_at: Option<Instant>,
    /// Failed writes since the start, for the metrics file.
    pub write_failures: u64,
}

impl Persistence {
    /// Keeps track of writing `subject`.
    pub fn of(subject: Subject) -> Persistence {
        Persistence {
            subject,
            ..Persistence::default()
        }
    }

    /// When to write the state again, while writes fail.
    pub fn retry_at(&self) -> Option<Instant> {
        self.retry_at
    }

    /// Why the state cannot be written, while it cannot.
    pub fn failing(&self) -> Option<&str> {
        self.failing.as_deref()
    }

    /// The state was written to `dir`.
    pub fn saved(&mut self, dir: &Path) {
        if self.failing.take().is_some() {
            match self.subject {
                Subject::State => tracing::info!(
                    "the state is persisted again in {}; everything held in memory is written",
                    dir.display()
                ),
                Subject::Fleet => tracing::info!(
                    "the fleet store is written again in {}; the versions held in memory are stored",
                    dir.display()
                ),
            }
        }
        self.failures = 0;
        self.retry_at = None;
    }

    /// Writing the state failed with `error`; it is tried again after the backoff.
    pub fn failed(&mut self, error: &str, now: Instant, backoff: Backoff) {
        self.write_failures += 1;
        self.failures = self.failures.saturating_add(1);
        let wait = backoff.ceiling(self.failures);
        self.retry_at = Some(now + wait);
        if self.failing.as_deref() == Some(error) {
            tracing::debug!(
                "{error}; trying again in {}",
                humantime::format_duration(wait)
            );
        } else {
            match self.subject {
                Subject::State => tracing::error!(
                    "{error}; the daemon goes on and keeps the state in memory, writing it again with backoff"
                ),
                Subject::Fleet => tracing::error!(
                    "{error}; the daemon goes on, runs the new fleet versions from memory and writes them again with backoff"
                ),
            }
            self.failing = Some(error.to_owned());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn failures_back_off_and_a_success_clears_them() {
        let backoff = Backoff::new(Duration::from_secs(1), Duration::from_secs(4));
        let mut persistence = Persistence::default();
        let now = Instant::now();
        persistence.failed("disk full", now, backoff);
        assert_eq!(persistence.retry_at(), Some(now + Duration::from_secs(1)));
        persistence.failed("disk full", now, backoff);
        persistence.failed("disk full", now, backoff);
        persistence.failed("disk full", now, backoff);
        assert_eq!(persistence.retry_at(), Some(now + Duration::from_secs(4)));
        assert_eq!(persistence.failing(), Some("disk full"));
        assert_eq!(persistence.write_failures, 4);
        persistence.saved(Path::new("/var/lib/ssm-inventoryd"));
        assert_eq!(persistence.failing(), None);
        assert_eq!(persistence.retry_at(), None);
        assert_eq!(persistence.write_failures, 4);
    }
}
