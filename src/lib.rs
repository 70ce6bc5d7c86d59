//! `ssm-inventoryd` keeps a managed node's custom inventory in AWS Systems Manager current.
//!
//! The data flows one way through the modules below; no stage reaches backwards:
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
//! * [`config`] turns TOML files into validated [`config::Settings`].
//! * [`probe`] runs probes and turns their output into [`inventory::Item`]s.
//! * [`inventory`] holds the item model, the PutInventory limits and the canonical ContentHash.
//! * [`scheduler`] decides when each probe runs; [`outbox`] keeps the latest items per type
//!   and is the one place probes' results are merged into [`outbox::Collected`].
//! * [`plan`] decides per item (full, hash-only, skip) and, in [`plan::push`], per push:
//!   which removed types are cleared or forgotten.
//! * [`batch`] packs items into requests; it knows nothing about AWS.
//! * [`wire`] renders the PutInventory request body exactly as the SDK sends it, which is
//!   what the batcher's byte budget is measured against.
//! * [`sender`] calls PutInventory (behind the [`sender::PutInventory`] trait), classifies
//!   failures, isolates bad items and retries.
//! * [`record`] writes what became of a push into the [`state`], which persists what the
//!   service acknowledged; [`status`] tells what a run is doing; [`metrics`] counts it all
//!   for Prometheus.
//! * [`identity`] finds the instance ID and region.
//! * [`fleet`] adds probe definitions from Parameter Store to the configuration: polled,
//!   validated with the local files, applied like a reload, the last good version kept.
//! * [`cycle`] is one collect → plan → deliver → record round (`once`, `demo`, the daemon);
//!   [`daemon`] is the long-running service around it: an event loop over a push
//!   controller, an identity resolver, the running probes, a configuration watch and a
//!   reporter, with [`notify`] for systemd and [`reload`] for the reload handshake.
//! * [`backoff`] is the one "wait longer after each failure" formula; [`clock`] the time
//!   the daemon is given (paused in tests); [`watch`] the folder watcher shared by `files`
//!   probes and the configuration.
//! * [`logging`] (with its `journal` under systemd) is where log records go.
//! * [`commands`] are the subcommands behind the binary.
//! * [`emulator`] is a local PutInventory endpoint for tests, the demo and benchmarks.

pub mod aws;
pub mod backoff;
pub mod batch;
pub mod clock;
pub mod commands;
pub mod config;
pub mod cycle;
pub mod daemon;
#[cfg(feature = "emulator")]
pub mod emulator;
pub mod fleet;
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
pub mod scheduler;
pub mod sender;
pub mod splay;
pub mod ssm_agent;
pub mod state;
pub mod status;
pub mod watch;
pub mod wire;
