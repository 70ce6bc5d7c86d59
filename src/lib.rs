//! `ssm-inventoryd` keeps a managed node's custom inventory in AWS Systems Manager current.
//!
//! Inventory flows one way through the stages below (docs/ARCHITECTURE.md, "Data flow"):
//!
//! ```text
//! config ─► probe ─► scheduler ─► outbox ─► plan ─► batch ─► sender ─► record ─► state
//! (TOML)   (exec,    (per-probe   (latest   (full, (≤30 items, (PutInventory, (fates   (acknowledged
//!           files,    timers)      item per  hash-   ≤ bytes)    errors,        into     hashes,
//!           system)                type,     only,              retries)       state)   quarantine)
//!                                  merged)   skip,
//!                                            clear)
//! ```
//!
//! No two files import each other, directly or through others, and only [`daemon`] and
//! [`commands`] use [`daemon`] and [`commands`]: `tests/module_graph.rs` checks both
//! (docs/ARCHITECTURE.md, "Module rules").
//!
//! The stages:
//!
//! * [`config`] turns TOML files into validated [`config::Settings`]; the fleet policy (what a
//!   parameter's probe may do) is part of that validation.
//! * [`probe`] runs probes and turns their output into [`inventory::Item`]s.
//! * [`scheduler`] decides when each probe runs; [`outbox`] keeps the latest items per type
//!   and is the one place probes' results are merged into [`outbox::Collected`].
//! * [`plan`] decides per item (full, hash-only, skip) and, in [`plan::push`], per push:
//!   which removed types are cleared or forgotten.
//! * [`batch`] packs items into requests; it knows nothing about AWS.
//! * [`sender`] calls PutInventory (behind the [`sender::PutInventory`] trait), classifies
//!   failures, isolates bad items and retries.
//! * [`record`] writes what became of a push into the [`state`], which persists what the
//!   service acknowledged; [`status`] tells what a run is doing; [`metrics`] counts it all
//!   for Prometheus.
//!
//! Beside them:
//!
//! * [`identity`] finds the instance ID and region; [`aws`] builds the one SSM client and
//!   chooses its credentials; [`ssm_agent`] reads the SSM Agent's files that both use.
//! * [`fleet`] adds probe definitions from Parameter Store to the configuration: polled,
//!   validated with the local files, applied like a reload, the last good version kept
//!   ([`fleet::load_with_stored`] is what a node runs).
//! * [`cycle`] is one collect → plan → deliver → record round (`once`, `demo`, the daemon).
//! * [`notify`] speaks to systemd, [`reload`] is the reload handshake with `ExecReload`.
//! * [`emulator`] is a local PutInventory endpoint for tests, the demo and benchmarks.
//!
//! The floor, used by many and using little: [`inventory`] (the item model, the PutInventory
//! limits, the canonical ContentHash), [`wire`] (the request body exactly as sent, which the
//! batcher's byte budget is measured against), [`backoff`] (the one "wait longer after each
//! failure" formula), [`splay`] (a node's place in the splay window), [`clock`] (the time the
//! daemon is given: tokio's monotonic time, on which the schedules are tested paused, and the
//! system's UTC), [`watch`] (the folder watcher of `files` probes and of the configuration),
//! [`logging`] (where log records go, natively to journald under systemd), [`durable`] (the one
//! way a file is replaced so that it survives a power cut), [`helper_thread`] (the daemon's
//! own threads, which leave the process's signals to the main thread).
//!
//! The top, which nothing else uses: [`daemon`] is the long-running service, an event loop
//! over a push controller, an identity resolver, the running probes, a configuration watch,
//! the fleet poller and a reporter; [`commands`] are the subcommands behind the binary.

pub mod aws;
pub mod backoff;
pub mod batch;
pub mod clock;
pub mod commands;
pub mod config;
pub mod cycle;
pub mod daemon;
pub mod durable;
#[cfg(feature = "emulator")]
pub mod emulator;
pub mod fleet;
pub mod helper_thread;
pub mod identity;
pub mod inventory;
pub mod logging;
pub mod metrics;
pub mod notify;
pub mod outbox;
pub mod plan;
pub mod probe;
pub mod record;
pub mod reload;
pub mod resident;
pub mod scheduler;
pub mod sender;
pub mod splay;
pub mod ssm_agent;
pub mod state;
pub mod status;
pub mod watch;
pub mod wire;

/// How a unit test that needs root skips: the same file as the integration tests' own.
#[cfg(test)]
#[path = "../tests/common/skip.rs"]
mod skip;

#[cfg(test)]
mod test_alone;
