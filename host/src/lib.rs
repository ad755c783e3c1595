//! worldhost: runs WebAssembly guests against a world chosen at run time.
//!
//! The pieces, in the order a run uses them:
//! - [`guest`] loads a file: a component as it is, a wasip1 core module converted to one
//!   (compiled code cached on disk; import modules linked in by composition).
//! - [`world`] reads world definitions and builds the world one names; `world/registry.rs`
//!   is the one place that names the world crates under `worlds/`.
//! - [`run`] instantiates the guest in a world and calls `wasi:cli/run`, within [`limits`].
//! - [`plugin`] calls a plugin's handler on fresh instances (the embedding API).
//! - [`job`] runs a described job: its modules fetched, its inputs and outputs on stores
//!   (the `worldhost-store` crate), its outputs published only when it succeeds.
//! - [`inspect`] says what a guest imports and which worlds can run it.

pub mod guest;
pub mod inspect;
pub mod job;
pub mod limits;
pub mod plugin;
pub mod run;
pub mod world;

#[cfg(test)]
mod fuzz_tests;
