//! Values from the world definition's `[config]` table.
//!
//! A world file sets them (`host run --world ./my-world.toml`, with `base = "cloud"`):
//!
//! ```toml
//! base = "cloud"
//!
//! [config]
//! output = "results"
//! ```
//!
//! ```no_run
//! let output = worldhost::config::get("output").unwrap_or_else(|| "results".to_owned());
//! ```

use crate::__private::imports::worldhost::host::config as wit;

/// The value of `key`, if the world sets it.
pub fn get(key: &str) -> Option<String> {
    wit::get(key)
}

/// Every key and value the world sets, sorted by key.
pub fn all() -> Vec<(String, String)> {
    wit::get_all()
}
