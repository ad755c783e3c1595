//! The worlds a guest can be run against, chosen by name at run time.
//!
//! Each world's code lives in its own crate under `worlds/`; this enum is the one place that
//! dispatches between them (a plain `match`: the linker is typed by the host state, so a
//! trait object would buy nothing).

use anyhow::{Result, bail};
use wasmtime::component::Linker;
use wasmtime_wasi::WasiCtxBuilder;
use worldhost_world_cli::DirMount;
use worldhost_world_cloud::{CloudFsCtx, MountSpec};

use crate::run::HostState;

/// The names `--world` accepts, with what each one gives the guest.
pub const WORLDS: &[(&str, &str)] = &[
    (
        "cli",
        "standard wasi:cli; --dir preopens real host directories",
    ),
    (
        "cloud",
        "wasi:cli with the filesystem served from blob storage; --mount URL[::GUEST][:ro], \
         the default store at `.` otherwise",
    ),
];

/// A world, with everything it needs to serve one run.
#[derive(Debug, Clone)]
pub enum World {
    /// Standard `wasi:cli` with host directories preopened.
    Cli { dirs: Vec<DirMount> },
    /// `wasi:cli` with every filesystem call served from object stores.
    Cloud { mounts: Vec<MountSpec> },
}

impl World {
    /// Picks the world called `name`, with the directories and store mounts given on the
    /// command line. Each world takes only its own kind of mount.
    pub fn from_name(name: &str, dirs: Vec<DirMount>, mounts: Vec<MountSpec>) -> Result<World> {
        match name {
            "cli" if !mounts.is_empty() => {
                bail!(
                    "`--mount` serves the `cloud` world; in the `cli` world use `--dir HOST[::GUEST]`"
                )
            }
            "cli" => Ok(World::Cli { dirs }),
            "cloud" if !dirs.is_empty() => bail!(
                "`--dir` serves the `cli` world; in the `cloud` world mount a local directory \
                 as a store with `--mount file:///ABSOLUTE/PATH::GUEST`"
            ),
            "cloud" => Ok(World::Cloud {
                mounts: with_default_store(mounts),
            }),
            _ => {
                let known: Vec<_> = WORLDS.iter().map(|(name, _)| format!("`{name}`")).collect();
                bail!(
                    "there is no world called `{name}`; the worlds are: {}",
                    known.join(", ")
                )
            }
        }
    }

    pub fn name(&self) -> &'static str {
        match self {
            World::Cli { .. } => "cli",
            World::Cloud { .. } => "cloud",
        }
    }

    /// Links the imports this world offers.
    pub fn add_to_linker(&self, linker: &mut Linker<HostState>) -> Result<()> {
        match self {
            World::Cli { .. } => worldhost_world_cli::add_to_linker(linker),
            World::Cloud { .. } => worldhost_world_cloud::add_to_linker(linker),
        }
    }

    /// Sets up this world's filesystem for one run: preopens in the WASI context for `cli`,
    /// opened stores for `cloud`.
    pub async fn filesystem(&self, builder: &mut WasiCtxBuilder) -> Result<CloudFsCtx> {
        match self {
            World::Cli { dirs } => {
                worldhost_world_cli::preopen_dirs(builder, dirs)?;
                Ok(CloudFsCtx::default())
            }
            World::Cloud { mounts } => worldhost_world_cloud::open_mounts(mounts).await,
        }
    }
}

/// Mounts the default store at the guest's working directory unless a mount is there already.
fn with_default_store(mut mounts: Vec<MountSpec>) -> Vec<MountSpec> {
    if !mounts.iter().any(|mount| mount.guest == ".") {
        mounts.push(worldhost_world_cloud::default_mount());
    }
    mounts
}
