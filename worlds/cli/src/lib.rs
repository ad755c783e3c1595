//! The `cli` world: standard `wasi:cli` with real host directories preopened.
//!
//! This world is wasmtime-wasi's own implementation of WASI 0.2, unchanged. What it adds is
//! the description of what a guest may touch: which host directories are preopened, where,
//! and whether they are writable. Everything else a run needs (args, env, stdio, the network
//! policy) is shared by every world and set up by the host.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use wasmtime::component::Linker;
use wasmtime_wasi::{FsPerms, WasiCtxBuilder, WasiView};

/// A host directory made visible to the guest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirMount {
    /// The directory on the host.
    pub host: PathBuf,
    /// Where the guest sees it (`.` for the guest's working directory).
    pub guest: String,
    /// Whether the guest is refused every write under it.
    pub read_only: bool,
}

/// Preopens each mount in `builder`, after checking that its host directory exists.
pub fn preopen_dirs(builder: &mut WasiCtxBuilder, mounts: &[DirMount]) -> Result<()> {
    for mount in mounts {
        check_is_dir(&mount.host)?;
        let perms = if mount.read_only {
            FsPerms::ReadOnly
        } else {
            FsPerms::ReadWrite
        };
        builder
            .preopened_dir(&mount.host, &mount.guest, perms)
            .map_err(anyhow::Error::from)
            .with_context(|| format!("cannot open host directory `{}`", mount.host.display()))?;
        tracing::debug!(host = %mount.host.display(), guest = %mount.guest, read_only = mount.read_only, "preopened");
    }
    Ok(())
}

fn check_is_dir(path: &Path) -> Result<()> {
    match std::fs::metadata(path) {
        Ok(meta) if meta.is_dir() => Ok(()),
        Ok(_) => bail!(
            "`--dir {}`: that path is not a directory on the host",
            path.display()
        ),
        Err(e) => bail!(
            "`--dir {}`: the host directory cannot be opened: {e}",
            path.display()
        ),
    }
}

/// Links every `wasi:cli` command import, served by wasmtime-wasi.
pub fn add_to_linker<T: WasiView>(linker: &mut Linker<T>) -> Result<()> {
    wasmtime_wasi::p2::add_to_linker_async(linker)?;
    Ok(())
}
