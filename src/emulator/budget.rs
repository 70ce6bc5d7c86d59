//! The emulator's budget for request bodies held in memory at once, across all connections.
//!
//! A body is buffered whole before its signature can be checked. Bounding connections alone
//! bounds that memory only at `max_connections` × [`MAX_REQUEST_BODY_BYTES`]
//! (256 × 64 MiB), far more than a test machine has; the budget bounds the total instead. A
//! request reserves bytes as its body arrives (all of a declared Content-Length at once) and
//! gives them back when it has been answered; one that does not fit is read to its end
//! without being kept and answered HTTP 503 `SlowDown`, which clients retry.
//!
//! [`MAX_REQUEST_BODY_BYTES`]: super::MAX_REQUEST_BODY_BYTES

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Bytes of request bodies held at once, and the most ever held.
#[derive(Debug)]
pub struct Budget {
    max: usize,
    used: AtomicUsize,
    peak: AtomicUsize,
}

impl Budget {
    pub fn new(max: usize) -> Arc<Budget> {
        Arc::new(Budget {
            max,
            used: AtomicUsize::new(0),
            peak: AtomicUsize::new(0),
        })
    }

    /// The most bytes ever held at once.
    pub fn peak(&self) -> usize {
        self.peak.load(Ordering::Relaxed)
    }

    pub fn max(&self) -> usize {
        self.max
    }

    /// Takes `bytes` more if they fit.
    fn take(&self, bytes: usize) -> bool {
        let taken = self
            .used
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |used| {
                used.checked_add(bytes).filter(|&total| total <= self.max)
            });
        match taken {
            Ok(before) => {
                self.peak.fetch_max(before + bytes, Ordering::Relaxed);
                true
            }
            Err(_) => false,
        }
    }

    fn give_back(&self, bytes: usize) {
        self.used.fetch_sub(bytes, Ordering::AcqRel);
    }
}

/// What one request holds of the budget; given back when dropped.
#[derive(Debug)]
pub struct Reservation {
    budget: Arc<Budget>,
    held: usize,
}

impl Reservation {
    pub fn new(budget: &Arc<Budget>) -> Reservation {
        Reservation {
            budget: Arc::clone(budget),
            held: 0,
        }
    }

    /// Makes the reservation at least `bytes`; false when the budget has no room for it.
    pub fn cover(&mut self, bytes: usize) -> bool {
        if bytes <= self.held {
            return true;
        }
        let more = bytes - self.held;
        if self.budget.take(more) {
            self.held = bytes;
            true
        } else {
            false
        }
    }

    /// Gives everything back now (the body is being thrown away).
    pub fn release(&mut self) {
        self.budget.give_back(self.held);
        self.held = 0;
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        self.release();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reservations_share_the_budget_and_give_it_back() {
        let budget = Budget::new(100);
        let mut a = Reservation::new(&budget);
        let mut b = Reservation::new(&budget);
        assert!(a.cover(60));
        assert!(!b.cover(50));
        assert!(b.cover(40));
        assert!(!a.cover(61));
        drop(a);
        assert!(b.cover(100));
        assert_eq!(budget.peak(), 100);
        b.release();
        assert!(Reservation::new(&budget).cover(100));
    }
}
