//! The `cli` world: standard `wasi:cli` with real host directories preopened.
//!
//! This world is wasmtime-wasi's own implementation of WASI 0.2, unchanged. What it adds is
//! the description of what a guest may touch: which host directories are preopened, where,
//! and whether they are writable. Everything else a run needs (args, env, stdio, the network
//! policy) is shared by every world and set up by the host.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use wasmtime::component::Linker;
use wasmtime_wasi::{FsPerms, WasiCtxBuilder};
use worldhost_world_api::{InstanceLimits, MountEntry, MountSource, World, WorldHost};

/// The cli world: the host directories it preopens for every instance.
pub struct CliWorld {
    dirs: Vec<DirMount>,
}

impl World for CliWorld {
    const NAME: &'static str = "cli";
    const DEFINITION: &'static str = include_str!("../world.toml");
    const MOUNT_FLAG: (&'static str, &'static str) = ("--dir", "HOST[::GUEST][:ro]");
    /// wasmtime-wasi's context holds everything, preopens included.
    type State = ();

    fn mount_flag(source: &str) -> Result<(MountSource, Option<String>)> {
        Ok((MountSource::HostDir(source.into()), None))
    }

    async fn open(mounts: &[MountEntry], origin: &str) -> Result<CliWorld> {
        let mut dirs = Vec::new();
        for entry in mounts {
            let MountSource::HostDir(host) = &entry.source else {
                bail!(
                    "{origin}: the mount at `{}` names a store, which the `cli` world cannot mount; give it `host = \"DIR\"`",
                    entry.guest
                );
            };
            dirs.push(DirMount {
                host: host.clone(),
                guest: entry.guest.clone(),
                read_only: entry.read_only,
            });
        }
        Ok(CliWorld { dirs })
    }

    fn add_to_linker<T: WorldHost<()>>(linker: &mut Linker<T>) -> Result<()> {
        wasmtime_wasi::p2::add_to_linker_async(linker)?;
        Ok(())
    }

    fn instance(&self, wasi: &mut WasiCtxBuilder, _: InstanceLimits) -> Result<()> {
        preopen_dirs(wasi, &self.dirs)
    }

    async fn finish(_: &mut ()) -> Result<()> {
        Ok(())
    }
}

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
fn preopen_dirs(builder: &mut WasiCtxBuilder, mounts: &[DirMount]) -> Result<()> {
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
