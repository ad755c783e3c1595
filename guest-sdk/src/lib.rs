//! Write worldhost guests in Rust: blob storage, config values and logging from the host, and
//! plugins that `host call` calls.
//!
//! worldhost offers guests, beyond WASI, the interfaces of the `worldhost:host` WIT package
//! (`wit/interfaces.wit` in the worldhost repository). This crate wraps them:
//!
//! | module or item | interface | what it does |
//! | --- | --- | --- |
//! | [`blob`] | `blob` | list, get (whole or a range), put, delete, copy objects in the mounted stores, by guest path |
//! | [`config`] | `config` | the world file's `[config]` values |
//! | [`info!`] and the other level macros, [`logging`] | `logging` | log lines with `key = value` fields into the host's log |
//! | [`Plugin`], [`export_plugin!`] | `handler` (export) | a plugin: a payload in, a payload or a [`PluginError`] out |
//!
//! Build guests for `wasm32-wasip2`. Two shapes of guest use it:
//!
//! - A **command** (a binary with `fn main`) uses blob, config and logging alongside `std`, and
//!   runs with `host run --world cloud app.wasm` (or a world file with `base = "cloud"`).
//!   Using the SDK does not make it export anything but `wasi:cli/run`.
//! - A **plugin** (a `cdylib`) implements [`Plugin`] and exports it with [`export_plugin!`];
//!   `host call --world cloud plugin.wasm` calls it once, with its input from `--input`.
//!
//! Both import only the interfaces they use, so `host inspect` shows which worlds they run in:
//! a guest that never calls blob, config or logging still runs in the `cli` world.
//!
//! # A plugin
//!
//! `Cargo.toml`:
//!
//! ```toml
//! [lib]
//! crate-type = ["cdylib"]
//!
//! [dependencies]
//! worldhost-guest-sdk = { path = "../guest-sdk" }
//! ```
//!
//! `src/lib.rs`, a plugin that copies the blob its input names into the output folder that the
//! world's config names, and returns the copy's key:
//!
//! ```no_run
//! use worldhost::{Payload, Plugin, PluginError, blob, config};
//!
//! struct Backup;
//!
//! impl Plugin for Backup {
//!     fn handle(input: Payload) -> Result<Payload, PluginError> {
//!         let key = input.into_text()?.trim().to_owned();
//!         if key.is_empty() {
//!             return Err(PluginError::new("no-input", "give the key of a blob to back up"));
//!         }
//!         let folder = config::get("backups").unwrap_or_else(|| "backups".to_owned());
//!         let backup = format!("{folder}/{key}");
//!         // A blob error becomes a PluginError with the blob error's code (`not-found`, ...).
//!         blob::copy(&key, &backup)?;
//!         let size = blob::metadata(&backup)?.size;
//!         worldhost::info!("backed up", key = key, backup = backup, bytes = size);
//!         Ok(Payload::from(backup))
//!     }
//! }
//!
//! worldhost::export_plugin!(Backup);
//! ```
//!
//! Run it on a local directory, with the key on stdin:
//!
//! ```text
//! echo notes/today.txt | host call --world cloud --mount file:///tmp/store --input - backup.wasm
//! ```
//!
//! A complete plugin is `examples/word-count` in the worldhost repository; a command using the
//! blob functions is `examples/blob-copy`.
//!
//! # A command
//!
//! ```no_run
//! use std::error::Error;
//!
//! fn main() -> Result<(), Box<dyn Error>> {
//!     for entry in worldhost::blob::list("inputs/")? {
//!         worldhost::info!("found", key = entry.key, bytes = entry.size);
//!     }
//!     Ok(())
//! }
//! ```

#![warn(missing_docs)]

pub mod blob;
pub mod config;
pub mod logging;
mod plugin;

pub use logging::Level;
pub use plugin::{Payload, Plugin, PluginError};

/// What the macros expand to; not part of the API.
#[doc(hidden)]
pub mod __private {
    pub use crate::plugin::handle;

    /// Bindings for the host's imports: world `host-imports` (blob, config, logging), and
    /// nothing exported, so that a command guest using them exports only `wasi:cli/run`.
    #[allow(missing_docs)]
    pub mod imports {
        wit_bindgen::generate!({
            world: "host-imports",
            path: "../wit",
        });
    }

    /// Bindings for the plugin's export, `worldhost:host/handler`, in a world of its own that
    /// imports nothing (the imports are `imports`' business). With `pub_export_macro`,
    /// wit-bindgen puts the custom section that declares the export inside the generated
    /// `export!` macro, so it lands only in crates that invoke `export_plugin!`: this crate
    /// itself carries just the (empty) import side.
    #[allow(missing_docs)]
    pub mod plugin {
        wit_bindgen::generate!({
            inline: "
                package worldhost:guest-sdk;

                world plugin-handler {
                    export worldhost:host/handler@0.1.0;
                }
            ",
            path: "../wit",
            pub_export_macro: true,
            default_bindings_module: "::worldhost::__private::plugin",
        });
    }

    /// A logging field's key from `stringify!` of an identifier or a string literal.
    pub fn field_key(key: &str) -> String {
        let key = key.strip_prefix("r#").unwrap_or(key);
        match key.strip_prefix('"').and_then(|key| key.strip_suffix('"')) {
            Some(quoted) => quoted.to_owned(),
            None => key.to_owned(),
        }
    }
}
