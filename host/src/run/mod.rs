//! Running a command guest: one store, one instance, one call of `wasi:cli/run`.

use anyhow::{Context, Result};
use wasmtime::component::{Linker, ResourceTable};
use wasmtime::{Engine, Store};
use wasmtime_wasi::{I32Exit, WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};
use worldhost_world_cloud::{CloudFsCtx, CloudFsState, CloudFsView};

use crate::guest::{EntryPoint, Guest};
use crate::limits::{CappedOutput, EpochTicker, Limit, LimitExceeded, Limits, MemoryLimiter, past};
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
    /// What the run may use.
    pub limits: Limits,
    /// `host:port` pairs the guest may connect to; all else is denied.
    pub network_allow: Vec<String>,
    /// Values for the guest's config interface.
    pub config: std::collections::BTreeMap<String, String>,
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

/// Per-instance state: the WASI context, the table of resources handed to the guest, and the
/// cloud filesystem (empty outside the `cloud` world).
pub struct HostState {
    pub wasi: WasiCtx,
    pub table: ResourceTable,
    pub cloud_fs: CloudFsCtx,
    pub limiter: MemoryLimiter,
    /// The guest's name and config values, for its host interfaces.
    pub guest: crate::host_interfaces::GuestInfo,
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
    // Async host calls are always available in wasmtime 48 (blob stores are async), and traps
    // carry a wasm backtrace. Fuel caps CPU; epochs let a guest in a loop be stopped on time.
    let mut config = wasmtime::Config::new();
    config.consume_fuel(true);
    config.epoch_interruption(true);
    Engine::new(&config).map_err(anyhow::Error::from)
}

/// Fails, in plain words, if `world` lacks something `imports` needs (rather than with the
/// linker's first complaint).
pub fn check_imports(
    guest_path: &std::path::Path,
    imports: &[String],
    world: &World,
) -> Result<()> {
    let missing =
        crate::inspect::missing_in_world(&crate::wit::Worlds::load()?, world.name(), imports)?;
    if !missing.is_empty() {
        anyhow::bail!(
            "`{}` cannot run in the `{}` world, which does not provide what it imports: {} \
             (`host inspect {}` shows which worlds can run it)",
            guest_path.display(),
            world.name(),
            missing.join(", "),
            guest_path.display()
        );
    }
    Ok(())
}

/// A linker with everything `world` offers.
pub fn linker(engine: &Engine, world: &World) -> Result<Linker<HostState>> {
    let mut linker: Linker<HostState> = Linker::new(engine);
    world.add_to_linker(&mut linker)?;
    Ok(linker)
}

/// The state of one instance of the guest at `guest_path`: its WASI context, its filesystem
/// (`cloud_fs`: the cloud world's opened mounts; ignored by the cli world, which preopens its
/// directories here) and its host interfaces.
pub async fn new_state(
    guest_path: &std::path::Path,
    world: &World,
    cloud_fs: Option<CloudFsCtx>,
    options: &RunOptions,
) -> Result<HostState> {
    let limits = &options.limits;
    let mut builder = WasiCtxBuilder::new();
    builder.inherit_stdin();
    builder.stdout(CappedOutput::new(
        wasmtime_wasi::cli::stdout(),
        limits.stdout,
        limits.exceeded(Limit::Stdout),
    ));
    builder.stderr(CappedOutput::new(
        wasmtime_wasi::cli::stderr(),
        limits.stderr,
        limits.exceeded(Limit::Stderr),
    ));
    // argv[0] is the guest's file name, as `wasmtime run` does.
    builder.arg(guest_path.display().to_string());
    builder.args(&options.args);
    builder.envs(&options.env);
    // Sockets stay linked (std pulls them in) but every address is denied unless allowed.
    allow_network(&mut builder, &options.network_allow).await?;
    let mut cloud_fs = match cloud_fs {
        Some(cloud_fs) => cloud_fs,
        None => world.filesystem(&mut builder).await?,
    };
    cloud_fs.set_write_limit(limits.store_writes);
    Ok(HostState {
        wasi: builder.build(),
        table: ResourceTable::new(),
        cloud_fs,
        limiter: MemoryLimiter {
            limits: limits.clone(),
        },
        guest: crate::host_interfaces::GuestInfo {
            name: guest_name(guest_path),
            config: options.config.clone(),
        },
    })
}

/// A store for `state` with the run's limits applied: memory, fuel, and a wall-clock
/// deadline checked at every epoch tick (guest code also yields there, so timers can fire).
/// The engine's epoch must be advancing ([`EpochTicker`]).
pub fn new_store(engine: &Engine, state: HostState, limits: &Limits) -> Result<Store<HostState>> {
    let mut store = Store::new(engine, state);
    store.limiter(|state| &mut state.limiter);
    store.set_fuel(limits.fuel).map_err(anyhow::Error::from)?;
    let deadline = std::time::Instant::now() + limits.timeout;
    let timed_out = limits.exceeded(Limit::Timeout);
    store.epoch_deadline_callback(move |_| {
        if past(deadline) {
            Err(wasmtime::Error::new(timed_out.clone()))
        } else {
            Ok(wasmtime::UpdateDeadline::Yield(1))
        }
    });
    store.set_epoch_deadline(1);
    Ok(store)
}

/// Runs `guest` in `world` until it returns, exits or traps.
pub async fn run_command(
    engine: &Engine,
    guest: &Guest,
    world: &World,
    options: &RunOptions,
) -> Result<Outcome> {
    run_command_in(engine, guest, world, None, options).await
}

/// [`run_command`] over a cloud filesystem already opened (`None`: open the world's own).
pub async fn run_command_in(
    engine: &Engine,
    guest: &Guest,
    world: &World,
    cloud_fs: Option<CloudFsCtx>,
    options: &RunOptions,
) -> Result<Outcome> {
    check_imports(&guest.path, &guest.imports(engine), world)?;
    let linker = linker(engine, world)?;
    let limits = &options.limits;
    let state = new_state(&guest.path, world, cloud_fs, options).await?;
    let mut store = new_store(engine, state, limits)?;
    let _ticker = EpochTicker::start(engine);
    match tokio::time::timeout(
        limits.timeout,
        run_in_store(&mut store, limits, &linker, guest, world),
    )
    .await
    {
        Ok(result) => result,
        // A host call (a store request) outlived the deadline.
        Err(_) => Ok(Outcome::LimitHit(limits.exceeded(Limit::Timeout))),
    }
}

async fn run_in_store(
    store: &mut Store<HostState>,
    limits: &Limits,
    linker: &Linker<HostState>,
    guest: &Guest,
    world: &World,
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
                    world.name()
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
        Ok(code) => Outcome::Exited(code),
        Err(error) => classify_failure(error, limits)?,
    };
    // Files a guest left open when it exited are stored as closing them would have; a
    // failure here fails the run even if the guest succeeded, so no output is lost silently.
    // A guest that trapped or hit a limit did not finish: what it left open is not stored.
    if let Outcome::Exited(_) = outcome {
        store.data_mut().cloud_fs.commit_open_files().await?;
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
    } else if error.is::<worldhost_world_cloud::WriteLimitExceeded>() {
        Some(limits.exceeded(Limit::StoreWrites))
    } else if let Some(wasmtime::Trap::OutOfFuel) = error.downcast_ref::<wasmtime::Trap>() {
        Some(limits.exceeded(Limit::Cpu))
    } else {
        None
    }
}

/// Lets the guest connect to the allow-listed `host:port` pairs (resolved now) and nothing else.
async fn allow_network(builder: &mut WasiCtxBuilder, allow: &[String]) -> Result<()> {
    let mut allowed = std::collections::HashSet::new();
    for entry in allow {
        let addresses = tokio::net::lookup_host(entry.as_str())
            .await
            .with_context(|| format!("cannot resolve `{entry}` from the network allow-list"))?;
        allowed.extend(addresses);
    }
    // wasmtime-wasi turns TCP and UDP off by default; TCP goes on only with an allow-list.
    builder.allow_ip_name_lookup(!allowed.is_empty());
    builder.allow_tcp(!allowed.is_empty());
    builder.allow_udp(false);
    let allowed = std::sync::Arc::new(allowed);
    builder.socket_addr_check(move |address, used_for| {
        // Connecting first binds an ephemeral local port (`0.0.0.0:0`); no other bind is allowed.
        let ephemeral_bind = matches!(used_for, wasmtime_wasi::sockets::SocketAddrUse::TcpBind)
            && address.ip().is_unspecified()
            && address.port() == 0;
        let permitted = allowed.contains(&address) || (ephemeral_bind && !allowed.is_empty());
        tracing::debug!(%address, ?used_for, permitted, "network access");
        Box::pin(async move { permitted })
    });
    Ok(())
}

/// A guest's name for log lines: its file stem.
pub fn guest_name(path: &std::path::Path) -> String {
    path.file_stem().map_or_else(
        || "guest".to_owned(),
        |stem| stem.to_string_lossy().into_owned(),
    )
}
