//! The time the daemon goes by, given to it rather than read from the system, so that its
//! schedules can be tested on tokio's paused clock.
//!
//! Monotonic time is tokio's [`Instant`] (which a paused test runtime controls). Wall-clock
//! time — what acknowledgements are dated with and refresh intervals are measured from — is
//! the system's in production; a test clock derives it from the monotonic one, so that
//! advancing paused time also moves the dates.

use time::OffsetDateTime;
use tokio::time::Instant;

#[derive(Debug, Clone, Copy)]
pub struct Clock {
    /// `None`: the system's UTC. Otherwise UTC is this date plus the monotonic time elapsed
    /// since this instant.
    anchor: Option<(Instant, OffsetDateTime)>,
}

impl Clock {
    /// The real clock.
    pub fn system() -> Clock {
        Clock { anchor: None }
    }

    /// A clock whose UTC starts at `utc` now and advances with tokio's (possibly paused)
    /// monotonic time.
    pub fn following_tokio(utc: OffsetDateTime) -> Clock {
        Clock {
            anchor: Some((Instant::now(), utc)),
        }
    }

    pub fn now(&self) -> Instant {
        Instant::now()
    }

    pub fn now_utc(&self) -> OffsetDateTime {
        match self.anchor {
            None => OffsetDateTime::now_utc(),
            Some((at, utc)) => {
                let elapsed =
                    time::Duration::try_from(Instant::now() - at).unwrap_or(time::Duration::MAX);
                utc.checked_add(elapsed).unwrap_or(utc)
            }
        }
    }
}

#[cfg(test)]
mod tests;
