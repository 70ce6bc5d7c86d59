//! Fleet-wide probe definitions from Parameter Store.
//!
//! `[agent] fleet_config` names parameters whose values hold probe drop-in TOML. A node
//! fetches them every `fleet_poll_interval` (plus its splay), validates each new version
//! together with its local files exactly as it validates a drop-in, and applies it like a
//! reload: all or nothing. A version that does not pass is refused and the last good one
//! keeps running; the last good version of each parameter is kept in the state directory so
//! that a node that starts without the network runs what it ran before.
//!
//! One job per file: [`fetch`] reads the parameters (through a trait, so the poller can be
//! tested without the SDK), [`interval`] decides how long to wait between two polls, [`store`] keeps the last good versions and the [`Refusal`]s, [`decide`]
//! tries new versions with the local files, [`poll`] is the task that ties them together,
//! [`load_with_stored`] builds the configuration a node runs from its files and the store, and
//! [`Runner`] is the daemon's handle on the poller. What a parameter's probes may do (the fleet
//! policy) is part of validating the configuration, in `config`.

pub mod decide;
pub mod fetch;
pub mod interval;
mod load;
pub mod poll;
mod runner;
pub mod store;

pub use load::{LeftOut, check_stored, fit, load_with_held, load_with_stored};
pub use runner::Runner;
pub use store::Refusal;
