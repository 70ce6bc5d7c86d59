//! Delivery to SSM: the per-error decisions, isolation of bad items and retries.
//!
//! The sender knows nothing of probes; it receives items with a planned payload and reports
//! what became of each one.

pub mod classify;
pub mod deliver;
pub mod put;
pub mod retry;

pub use deliver::{Deliverer, Fate, Outgoing, Report};
pub use put::{PutInventory, Rejection};
pub use retry::RetryPolicy;
