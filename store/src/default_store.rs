//! The embedded default store: a local directory, so the cloud world runs with no
//! configuration at all.

use std::path::PathBuf;

/// `$WORLDHOST_STORE` if set, else `$XDG_DATA_HOME/worldhost/store`, else
/// `~/.local/share/worldhost/store`. Created on first use (when a mount opens it).
pub fn default_store_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("WORLDHOST_STORE") {
        return PathBuf::from(dir);
    }
    let data = std::env::var_os("XDG_DATA_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".local/share")))
        .unwrap_or_else(|| PathBuf::from("."));
    data.join("worldhost").join("store")
}
