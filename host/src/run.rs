//! Running a command guest: one store, one instance, one call of `wasi:cli/run`.

use anyhow::{Context, Result};
use wasmtime::component::{Linker, ResourceTable};
use wasmtime::{Engine, Store};
use wasmtime_wasi::{I32Exit, WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};
use worldhost_world_cloud::{CloudFsCtx, CloudFsState, CloudFsView};

use crate::guest::Guest;
use crate::world::World;

/// The exit status of a guest that trapped, as `wasmtime run` (and a Unix abort) uses.
pub const TRAP_EXIT_CODE: i32 = 134;

/// What one run asks for, beyond the guest itself.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// The guest's arguments, not counting `argv[0]` (the guest file's name).
    pub args: Vec<String>,
    /// Environment variables the guest sees, in order.
    pub env: Vec<(String, String)>,
}

/// How a guest's run ended, when the host itself did not fail.
#[derive(Debug)]
pub enum Outcome {
    /// The guest returned from `run` or called `exit`: its exit code.
    Exited(i32),
    /// The guest trapped: the trap and its wasm backtrace, ready to print (never a host
    /// backtrace: the guest's failure is not the host's).
    Trapped(String),
}

impl Outcome {
    /// The process exit status this outcome maps to.
    pub fn exit_code(&self) -> i32 {
        match self {
            Outcome::Exited(code) => *code,
            Outcome::Trapped(_) => TRAP_EXIT_CODE,
        }
    }
}

/// Per-instance state: the WASI context, the table of resources handed to the guest, and the
/// cloud filesystem (empty outside the `cloud` world).
pub struct HostState {
    pub wasi: WasiCtx,
    pub table: ResourceTable,
    pub cloud_fs: CloudFsCtx,
}

impl CloudFsState for HostState {
    fn cloud_fs(&mut self) -> CloudFsView<'_> {
        CloudFsView {
            ctx: &mut self.cloud_fs,
            table: &mut self.table,
        }
    }
}

impl WasiView for HostState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

/// Creates the engine every guest runs on.
pub fn engine() -> Result<Engine> {
    // Defaults serve: async host calls are always available in wasmtime 48 (blob stores are
    // async), and traps carry a wasm backtrace.
    let config = wasmtime::Config::new();
    Engine::new(&config).map_err(anyhow::Error::from)
}

/// Runs `guest` in `world` until it returns, exits or traps.
pub async fn run_command(
    engine: &Engine,
    guest: &Guest,
    world: &World,
    options: &RunOptions,
) -> Result<Outcome> {
    let mut linker: Linker<HostState> = Linker::new(engine);
    world.add_to_linker(&mut linker)?;

    let mut builder = WasiCtxBuilder::new();
    builder.inherit_stdio();
    // argv[0] is the guest's file name, as `wasmtime run` does.
    builder.arg(guest.path.display().to_string());
    builder.args(&options.args);
    builder.envs(&options.env);
    // Sockets stay linked (std pulls them in) but every address is denied: no network access.
    builder.allow_ip_name_lookup(false);
    let cloud_fs = world.filesystem(&mut builder).await?;
    let state = HostState {
        wasi: builder.build(),
        table: ResourceTable::new(),
        cloud_fs,
    };
    let mut store = Store::new(engine, state);

    let instance = linker
        .instantiate_async(&mut store, &guest.component)
        .await
        .map_err(|e| {
            anyhow::Error::from(e).context(format!(
                "`{}` cannot be instantiated in the `{}` world",
                guest.path.display(),
                world.name()
            ))
        })?;
    let run_interface = instance
        .get_export_index(&mut store, None, &guest.run_export)
        .context("the guest's run interface disappeared after loading")?;
    let run_func = instance
        .get_export_index(&mut store, Some(&run_interface), "run")
        .context("the guest's `wasi:cli/run` interface has no `run` function")?;
    let run = instance
        .get_typed_func::<(), (Result<(), ()>,)>(&mut store, &run_func)
        .map_err(|e| anyhow::Error::from(e).context("the guest's `run` has the wrong type"))?;

    let outcome = match run.call_async(&mut store, ()).await {
        Ok((Ok(()),)) => Outcome::Exited(0),
        Ok((Err(()),)) => Outcome::Exited(1),
        Err(error) => classify_failure(error)?,
    };
    // Files the guest left open are stored as closing them would have; a failure here fails
    // the run even if the guest succeeded, so no output is lost silently.
    store.data_mut().cloud_fs.commit_open_files().await?;
    Ok(outcome)
}

/// Sorts an error out of the guest's `run` into an exit, a trap, or a failure of the host.
fn classify_failure(error: wasmtime::Error) -> Result<Outcome> {
    if let Some(exit) = error.downcast_ref::<I32Exit>() {
        return Ok(Outcome::Exited(exit.0));
    }
    if let Some(trap) = error.downcast_ref::<wasmtime::Trap>() {
        let mut report = trap.to_string();
        if let Some(backtrace) = error.downcast_ref::<wasmtime::WasmBacktrace>() {
            report.push_str(&format!("\n{backtrace}"));
        }
        return Ok(Outcome::Trapped(report));
    }
    Err(anyhow::Error::from(error))
}
