//! Compiled guests cached on disk, so running the same guest again skips Cranelift.
//!
//! Where: `$WORLDHOST_CACHE`, else `$XDG_CACHE_HOME/worldhost/compiled`, else
//! `~/.cache/worldhost/compiled`. The key is the SHA-256 of the guest's bytes and a hash of
//! the engine's settings (wasmtime's own compatibility hash, which covers its version), so a
//! changed guest or host never loads stale code. Files are written whole (temp file, then
//! rename); one that cannot be loaded is compiled again and replaced. Set `WORLDHOST_CACHE=off`
//! to disable. The cache holds native code the host will run: keep it as private as the
//! `host` binary itself.

use std::hash::{Hash, Hasher};
use std::path::PathBuf;

use anyhow::Result;
use sha2::{Digest, Sha256};
use wasmtime::Engine;
use wasmtime::component::Component;

/// The cache directory, or `None` when caching is off.
pub fn cache_dir() -> Option<PathBuf> {
    match std::env::var_os("WORLDHOST_CACHE") {
        Some(dir) if dir == "off" => None,
        Some(dir) => Some(PathBuf::from(dir)),
        None => {
            let cache = std::env::var_os("XDG_CACHE_HOME")
                .map(PathBuf::from)
                .or_else(|| {
                    std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cache"))
                })?;
            Some(cache.join("worldhost").join("compiled"))
        }
    }
}

/// The component `compile` makes of `bytes`, from the cache when it holds it; says whether
/// it came from the cache.
pub fn load_or_compile(
    engine: &Engine,
    bytes: &[u8],
    compile: impl FnOnce() -> Result<Component>,
) -> Result<(Component, bool)> {
    let Some(dir) = cache_dir() else {
        return Ok((compile()?, false));
    };
    let mut settings = std::hash::DefaultHasher::new();
    engine.precompile_compatibility_hash().hash(&mut settings);
    let digest = Sha256::digest(bytes);
    let name: String = digest.iter().map(|byte| format!("{byte:02x}")).collect();
    let path = dir.join(format!("{name}-{:016x}.cwasm", settings.finish()));
    if path.exists() {
        // SAFETY: the file was written by `Component::serialize` of this same engine
        // configuration (the name says so), into the user's own cache directory.
        match unsafe { Component::deserialize_file(engine, &path) } {
            Ok(component) => {
                tracing::debug!(path = %path.display(), "compiled guest loaded from the cache");
                return Ok((component, true));
            }
            Err(error) => {
                tracing::warn!(path = %path.display(), %error, "cached guest unusable; compiling again")
            }
        }
    }
    let component = compile()?;
    if let Err(error) = store(&component, &dir, &path) {
        tracing::warn!(dir = %dir.display(), %error, "cannot cache the compiled guest");
    }
    Ok((component, false))
}

fn store(component: &Component, dir: &std::path::Path, path: &std::path::Path) -> Result<()> {
    std::fs::create_dir_all(dir)?;
    let serialized = component.serialize().map_err(anyhow::Error::from)?;
    let temp = tempfile::NamedTempFile::new_in(dir)?;
    std::fs::write(temp.path(), serialized)?;
    temp.persist(path)?;
    Ok(())
}
