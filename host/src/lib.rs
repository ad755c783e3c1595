//! worldhost: runs WebAssembly guests against a world chosen at run time.
//!
//! The pieces, in the order a run uses them:
//! - [`guest`] loads a file: a component as it is, a wasip1 core module converted to one.
//! - [`world`] names the worlds and links what each offers.
//! - [`run`] instantiates the guest in a world and calls `wasi:cli/run`, within [`limits`].
//! - [`job`] runs a described job: [`modules`] fetches its modules, [`compose`] links its
//!   import modules in, and its outputs are published only when it succeeds.

pub mod compile_cache;
pub mod compose;
pub mod guest;
pub mod host_interfaces;
pub mod inspect;
pub mod job;
pub mod limits;
pub mod modules;
pub mod plugin;
pub mod run;
pub mod wit;
pub mod world;
pub mod world_file;
