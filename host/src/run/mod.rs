//! Running a command guest: one store, one instance, one call of `wasi:cli/run`, within the
//! run's [`crate::limits`].

pub mod enforce;
mod p1;
mod state;

use anyhow::{Context, Result};
use wasmtime::Engine;
use wasmtime::Store;
use wasmtime::component::Linker;
use wasmtime_wasi::I32Exit;
use worldhost_world_api::World;

use crate::guest::{EntryPoint, Guest};
use crate::limits::{Limit, LimitExceeded, Limits};
use crate::world::{AnyWorld, with_world};
pub use enforce::Deadline;
use enforce::{EpochTicker, Watchdog};
pub use state::{
    AsyncAbi, FsCalls, HostState, engine, engine_config, guest_name, linker, new_state, new_store,
};

/// The exit status of a guest that trapped, as `wasmtime run` (and a Unix abort) uses.
pub const TRAP_EXIT_CODE: i32 = 134;

/// What one run asks for, beyond the guest itself.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// The guest's arguments, not counting `argv[0]` (the guest file's name).
    pub args: Vec<String>,
    /// Environment variables the guest sees, in order.
    pub env: Vec<(String, String)>,
    /// What the run may use.
    pub limits: Limits,
    /// `host:port` pairs the guest may connect to; all else is denied.
    pub network_allow: Vec<String>,
    /// Values for the guest's config interface.
    pub config: std::collections::BTreeMap<String, String>,
    /// How the time limit stops guest code; the engine must be made for it ([`engine`]).
    pub deadline: Deadline,
}

/// How a guest's run ended, when the host itself did not fail.
#[derive(Debug)]
pub enum Outcome {
    /// The guest returned from `run` or called `exit`: its exit code.
    Exited(i32),
    /// The guest trapped: the trap and its wasm backtrace, ready to print (never a host
    /// backtrace: the guest's failure is not the host's).
    Trapped(String),
    /// The run was stopped at one of its limits.
    LimitHit(LimitExceeded),
}

impl Outcome {
    /// The process exit status this outcome maps to.
    pub fn exit_code(&self) -> i32 {
        match self {
            Outcome::Exited(code) => *code,
            Outcome::Trapped(_) => TRAP_EXIT_CODE,
            Outcome::LimitHit(exceeded) => exceeded.limit.exit_code(),
        }
    }
}

/// Fails, in plain words, if `world` lacks something `imports` needs (rather than with the
/// linker's first complaint).
pub fn check_imports(guest_path: &std::path::Path, imports: &[String], world: &str) -> Result<()> {
    let missing = crate::world::wit::missing_in_world(world, imports)?;
    if !missing.is_empty() {
        anyhow::bail!(
            "`{}` cannot run in the `{}` world, which does not provide what it imports: {} \
             (`host inspect {}` shows which worlds can run it)",
            guest_path.display(),
            world,
            missing.join(", "),
            guest_path.display()
        );
    }
    Ok(())
}

/// Runs `guest` in `world` until it returns, exits or traps.
pub async fn run_command(
    engine: &Engine,
    guest: &Guest,
    world: &AnyWorld,
    options: &RunOptions,
) -> Result<Outcome> {
    // A plain wasip1 command runs as `wasmtime run` runs it, by wasmtime's own p1: over host
    // directories in the cli world, and in the cloud world with the calls on its filesystem
    // served by the cloud world's p1 layer. A core module importing more than wasip1 runs
    // converted, through the preview1 adapter.
    if let Some(module) = guest.p1_module(engine)? {
        return match world {
            AnyWorld::Cli(cli) => {
                let linking = p1::wasmtime_only();
                let run = p1::run(engine, guest, &module, cli, options, linking);
                run_with_deadline(engine, options, run).await
            }
            AnyWorld::Cloud(cloud) => {
                let run = p1::run(engine, guest, &module, cloud, options, p1::cloud());
                run_with_deadline(engine, options, run).await
            }
        };
    }
    check_imports(&guest.path, &guest.imports(engine), world.name())?;
    with_world!(world, w => run_in_world(engine, guest, w, options).await)
}

async fn run_in_world<W: World>(
    engine: &Engine,
    guest: &Guest,
    world: &W,
    options: &RunOptions,
) -> Result<Outcome> {
    let linker = linker::<W>(engine)?;
    let limits = &options.limits;
    let state = new_state(&guest.path, world, options, FsCalls::InPlace).await?;
    let mut store = new_store(engine, state, limits)?;
    run_with_deadline(
        engine,
        options,
        run_in_store::<W>(&mut store, limits, &linker, guest),
    )
    .await
}

/// Runs `run` (a guest's whole run, in its store) within the time limit, enforced as the
/// options say.
async fn run_with_deadline(
    engine: &Engine,
    options: &RunOptions,
    run: impl Future<Output = Result<Outcome>>,
) -> Result<Outcome> {
    let limits = &options.limits;
    tracing::debug!(deadline = ?options.deadline, "time limit enforced");
    // Dropped when the run ends, before its outcome is reported.
    let (_ticker, _watchdog) = match options.deadline {
        Deadline::Epochs => (Some(EpochTicker::start(engine)), None),
        Deadline::ExitProcess => (None, Some(Watchdog::start(limits))),
    };
    match tokio::time::timeout(limits.timeout, run).await {
        Ok(result) => result,
        // A host call (a store request) outlived the deadline.
        Err(_) => Ok(Outcome::LimitHit(limits.exceeded(Limit::Timeout))),
    }
}

async fn run_in_store<W: World>(
    store: &mut Store<HostState<W::State>>,
    limits: &Limits,
    linker: &Linker<HostState<W::State>>,
    guest: &Guest,
) -> Result<Outcome> {
    let instance = match linker
        .instantiate_async(&mut *store, &guest.component)
        .await
    {
        Ok(instance) => instance,
        // A start function may already hit a limit.
        Err(error) if limit_hit(&error, limits).is_some() => {
            return classify_failure(error, limits);
        }
        Err(e) => {
            return Err({
                anyhow::Error::from(e).context(format!(
                    "`{}` cannot be instantiated in the `{}` world",
                    guest.path.display(),
                    W::NAME
                ))
            });
        }
    };
    let (instance_name, func_name) = match &guest.entry {
        EntryPoint::CliRun(interface) => (Some(interface.as_str()), "run"),
        EntryPoint::Function { instance, name } => (instance.as_deref(), name.as_str()),
    };
    let parent = match instance_name {
        Some(name) => Some(
            instance
                .get_export_index(&mut *store, None, name)
                .with_context(|| {
                    format!("the guest's export `{name}` disappeared after loading")
                })?,
        ),
        None => None,
    };
    let func = instance
        .get_export_index(&mut *store, parent.as_ref(), func_name)
        .with_context(|| format!("the guest has no entry point `{}`", guest.entry))?;
    let called = match &guest.entry {
        EntryPoint::CliRun(_) => {
            let run = instance
                .get_typed_func::<(), (Result<(), ()>,)>(&mut *store, &func)
                .map_err(|e| {
                    anyhow::Error::from(e).context("the guest's `run` has the wrong type")
                })?;
            run.call_async(&mut *store, ())
                .await
                .map(|(result,)| i32::from(result.is_err()))
        }
        EntryPoint::Function { .. } => {
            let entry = instance
                .get_typed_func::<(), ()>(&mut *store, &func)
                .map_err(|e| {
                    anyhow::Error::from(e).context(format!(
                        "the entry point `{}` must take and return nothing",
                        guest.entry
                    ))
                })?;
            entry.call_async(&mut *store, ()).await.map(|()| 0)
        }
    };
    let outcome = match called {
        // A WASIp3 stream past its cap failed the guest's write rather than trapping: however
        // the guest ended after that, the run stopped at the limit.
        _ if store.data().stopped.get().is_some() => {
            Outcome::LimitHit(store.data().stopped.get().cloned().expect("checked"))
        }
        Ok(code) => Outcome::Exited(code),
        Err(error) => classify_failure(error, limits)?,
    };
    // Files a guest left open when it exited are stored as closing them would have; a
    // failure here fails the run even if the guest succeeded, so no output is lost silently.
    // A guest that trapped or hit a limit did not finish: what it left open is not stored.
    if let Outcome::Exited(_) = outcome {
        W::finish(&mut store.data_mut().world).await?;
    }
    Ok(outcome)
}

/// Sorts an error out of the guest's `run` into an exit, a trap, or a failure of the host.
pub fn classify_failure(error: wasmtime::Error, limits: &Limits) -> Result<Outcome> {
    if let Some(exit) = error.downcast_ref::<I32Exit>() {
        return Ok(Outcome::Exited(exit.0));
    }
    if let Some(exceeded) = limit_hit(&error, limits) {
        return Ok(Outcome::LimitHit(exceeded));
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

/// The limit an error stopped the run at, if it is one.
fn limit_hit(error: &wasmtime::Error, limits: &Limits) -> Option<LimitExceeded> {
    if let Some(exceeded) = error.downcast_ref::<LimitExceeded>() {
        Some(exceeded.clone())
    } else if error.is::<worldhost_store::WriteLimitExceeded>() {
        Some(limits.exceeded(Limit::StoreWrites))
    } else if let Some(wasmtime::Trap::OutOfFuel) = error.downcast_ref::<wasmtime::Trap>() {
        Some(limits.exceeded(Limit::Cpu))
    } else if error.chain().any(|cause| {
        matches!(
            cause.downcast_ref::<wasmtime::component::ResourceTableError>(),
            Some(wasmtime::component::ResourceTableError::Full)
        )
    }) {
        // The run's resource table is as full as `handles` lets it be.
        Some(limits.exceeded(Limit::Handles))
    } else {
        // wasmtime's own refusal of an instantiation past the counts.
        limits.count_exceeded(error)
    }
}
