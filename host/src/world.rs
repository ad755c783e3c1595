//! The worlds a guest can be run against, chosen by name at run time.
//!
//! Each world's code lives in its own crate under `worlds/`; this enum is the one place that
//! dispatches between them (a plain `match`: the linker is typed by the host state, so a
//! trait object would buy nothing).

use anyhow::{Result, bail};
use wasmtime::component::Linker;
use wasmtime_wasi::WasiCtxBuilder;
use worldhost_world_cli::DirMount;

use crate::run::HostState;

/// The names `--world` accepts, with what each one gives the guest.
pub const WORLDS: &[(&str, &str)] = &[(
    "cli",
    "standard wasi:cli; --dir preopens real host directories",
)];

/// A world, with everything it needs to serve one run.
#[derive(Debug, Clone)]
pub enum World {
    /// Standard `wasi:cli` with host directories preopened.
    Cli { dirs: Vec<DirMount> },
}

impl World {
    /// Picks the world called `name`, with the directories given on the command line.
    pub fn from_name(name: &str, dirs: Vec<DirMount>) -> Result<World> {
        match name {
            "cli" => Ok(World::Cli { dirs }),
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
        }
    }

    /// Links the imports this world offers.
    pub fn add_to_linker(&self, linker: &mut Linker<HostState>) -> Result<()> {
        match self {
            World::Cli { .. } => worldhost_world_cli::add_to_linker(linker),
        }
    }

    /// Adds this world's part of a run's WASI context (its filesystem).
    pub fn configure(&self, builder: &mut WasiCtxBuilder) -> Result<()> {
        match self {
            World::Cli { dirs } => worldhost_world_cli::preopen_dirs(builder, dirs),
        }
    }
}
