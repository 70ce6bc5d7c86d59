//! `ssm-inventoryd` keeps a managed node's custom inventory in AWS Systems Manager current.
//!
//! The data flows one way through the modules below; no stage reaches backwards:
//!
//! ```text
//! config ──► probe ──► inventory::Item ──► batch ──► wire (PutInventory bodies) ──► SSM
//!  (TOML)    (exec…)   (validated, hashed)  (≤30 items, ≤ byte budget)
//! ```
//!
//! * [`config`] turns TOML files into validated [`config::Settings`].
//! * [`probe`] runs probes and turns their output into [`inventory::Item`]s.
//! * [`inventory`] holds the item model, the PutInventory limits and the canonical ContentHash.
//! * [`batch`] packs items into requests; it knows nothing about AWS.
//! * [`wire`] renders the PutInventory request body exactly as the SDK sends it, which is
//!   what the batcher's byte budget is measured against.
//! * [`emulator`] is a local PutInventory endpoint for tests, the demo and benchmarks.

pub mod batch;
pub mod commands;
pub mod config;
pub mod cycle;
pub mod daemon;
#[cfg(feature = "emulator")]
pub mod emulator;
pub mod identity;
pub mod inventory;
pub mod notify;
pub mod outbox;
pub mod plan;
pub mod probe;
pub mod scheduler;
pub mod sender;
pub mod state;
pub mod status;
pub mod wire;
