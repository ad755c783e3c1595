//! Worlds: their definitions (TOML), the registry that names them, and the WIT they offer.
//!
//! The host reaches a world only through [`AnyWorld`] (built from a [`WorldFile`]) and the
//! `with_world!` macro; `registry.rs` is the one file that names the world crates.

pub mod definition;
mod registry;
pub mod wit;

pub use definition::{WorldFile, parse_env, parse_toml};
pub(crate) use registry::with_world;
pub use registry::{AnyWorld, BUILT_IN, add_mount_flags, names};
pub use worldhost_world_api::{GuestInfo, MountEntry, MountSource};
