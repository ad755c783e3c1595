//! What one instance of a guest runs with: the engine, the store and its per-instance state.

use anyhow::Result;
use wasmtime::component::{Linker, ResourceTable};
use wasmtime::{Engine, Store};
use wasmtime_wasi::p1::WasiP1Ctx;
use wasmtime_wasi::{WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};
pub use worldhost_world_api::FsCalls;
use worldhost_world_api::http::{AllowList, HttpState, HttpTimeouts};
use worldhost_world_api::{GuestInfo, InstanceLimits, LogBudget, World, WorldHost};

use super::RunOptions;
use super::enforce::{CappedOutput, Deadline, GuestLimiter, StoppedAt, past};
use crate::limits::{Limit, Limits};

/// Per-instance state: the WASI context, the table of resources handed to the guest, the
/// world's own state `S` (nothing for `cli`, the filesystem for `cloud`), the resource
/// limiter (memory, tables, counts) and the guest's name and config.
pub struct HostState<S> {
    pub wasi: WasiCtx,
    pub table: ResourceTable,
    pub world: S,
    pub limiter: GuestLimiter,
    pub guest: GuestInfo,
    /// Set when an output cap stopped the run where no trap could ([`StoppedAt`]).
    pub stopped: StoppedAt,
    /// `wasi:http`: requests to the network allow-list only.
    pub http: HttpState,
}

impl<S: Send + 'static> WasiView for HostState<S> {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl<S: Send + 'static> WorldHost<S> for HostState<S> {
    fn world(&mut self) -> (&mut S, &mut ResourceTable) {
        (&mut self.world, &mut self.table)
    }

    fn guest(&mut self) -> &mut GuestInfo {
        &mut self.guest
    }

    fn http(&mut self) -> worldhost_world_api::http::WasiHttpCtxView<'_> {
        self.http.view(&mut self.table)
    }
}

/// Whether an engine runs the component model's async ABI, which WASI 0.3 guests need. With
/// it, wasmtime's concurrency support is on and every call between guest and host goes
/// through its task machinery; without it a call is a plain fiber switch (a 4 KiB `pread` on
/// a `file://` store took 17% longer with it, issue 13). Plugins never have it (they are WASI
/// 0.2 components); a command or a job's module has it only if it uses it
/// ([`crate::guest::Guest::for_run`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AsyncAbi {
    On,
    Off,
}

/// Creates the engine command guests run on within `limits`, their time limit enforced as
/// `deadline` says.
pub fn engine(limits: &Limits, deadline: Deadline, async_abi: AsyncAbi) -> Result<Engine> {
    Engine::new(&engine_config(limits, deadline, async_abi)).map_err(anyhow::Error::from)
}

/// The engine settings every guest runs with. Async host calls are always available in
/// wasmtime 48 (blob stores are async), and traps carry a wasm backtrace; the component
/// model's async ABI (WASIp3) as `async_abi` says. Epochs let a guest in a loop be stopped on
/// time, unless the process is ended instead; fuel is metered only when a fuel limit is set.
/// Both slow all guest code ([`crate::limits`]).
pub fn engine_config(limits: &Limits, deadline: Deadline, async_abi: AsyncAbi) -> wasmtime::Config {
    let mut config = wasmtime::Config::new();
    // WASIp3 guests (async exports, streams and futures) need both; `wasmtime run` 48 turns
    // them on for every guest.
    let on = async_abi == AsyncAbi::On;
    config
        .wasm_component_model_async(on)
        .concurrency_support(on);
    config.consume_fuel(limits.fuel.is_some());
    config.epoch_interruption(deadline == Deadline::Epochs);
    config
}

/// A linker with everything world `W` offers.
pub fn linker<W: World>(engine: &Engine) -> Result<Linker<HostState<W::State>>> {
    let mut linker = Linker::new(engine);
    W::add_to_linker(&mut linker)?;
    Ok(linker)
}

/// The state of one instance of the guest at `guest_path` in `world`.
pub async fn new_state<W: World>(
    guest_path: &std::path::Path,
    world: &W,
    options: &RunOptions,
    fs_calls: FsCalls,
) -> Result<HostState<W::State>> {
    let mut prepared = prepare(guest_path, world, options, fs_calls).await?;
    Ok(HostState {
        wasi: prepared.builder.build(),
        table: handle_table(options.limits.handles),
        world: prepared.world,
        limiter: GuestLimiter::new(options.limits.clone()),
        guest: GuestInfo {
            name: guest_name(guest_path),
            config: options.config.clone(),
            log_budget: prepared.log_budget,
            fs_calls,
        },
        stopped: prepared.stopped,
        http: prepared.http,
    })
}

/// The state of a wasip1 command run by wasmtime's own p1 ([`super::p1`]): the same context
/// (args, env, capped stdio, network policy, the world's preopens of host directories) and
/// limits as a component's, the world's own state `S`, and `F`, what the world serves p1
/// through beside wasmtime (the cloud world's filesystem descriptors; nothing for `cli`).
pub struct P1State<S, F = ()> {
    pub wasi: WasiP1Ctx,
    pub limiter: GuestLimiter,
    pub stopped: StoppedAt,
    pub world: S,
    pub files: F,
}

/// The cloud world's p1 modules: wasmtime's p1 with the filesystem calls served by the
/// cloud world's p1 layer.
impl worldhost_world_cloud::p1::CloudP1State
    for P1State<worldhost_world_cloud::CloudFsCtx, worldhost_world_cloud::p1::P1Files>
{
    fn cloud_p1(&mut self) -> worldhost_world_cloud::p1::CloudP1<'_> {
        worldhost_world_cloud::p1::CloudP1 {
            wasi: &mut self.wasi,
            files: &mut self.files,
            fs: &mut self.world,
        }
    }
}

/// The [`P1State`] of one instance of the wasip1 command at `guest_path` in `world`; `files`
/// makes what the world serves beside wasmtime's p1, from the world's state.
pub async fn new_p1_state<W: World, F>(
    guest_path: &std::path::Path,
    world: &W,
    options: &RunOptions,
    files: impl FnOnce(&W::State) -> Result<F>,
) -> Result<P1State<W::State, F>> {
    let mut prepared = prepare(guest_path, world, options, FsCalls::InPlace).await?;
    let mut wasi = prepared.builder.build_p1();
    // p1 keeps its descriptors in its own table: the same cap on handles applies to it.
    wasi.ctx()
        .table
        .set_max_capacity(usize::try_from(options.limits.handles).unwrap_or(usize::MAX));
    let files = files(&prepared.world)?;
    Ok(P1State {
        wasi,
        limiter: GuestLimiter::new(options.limits.clone()),
        stopped: prepared.stopped,
        world: prepared.world,
        files,
    })
}

/// What every instance's WASI context starts from, before it is built for p2/p3 or for p1.
struct Prepared<S> {
    builder: WasiCtxBuilder,
    world: S,
    log_budget: LogBudget,
    stopped: StoppedAt,
    /// `wasi:http`'s state (p2 components only: p1 has no HTTP).
    http: HttpState,
}

async fn prepare<W: World>(
    guest_path: &std::path::Path,
    world: &W,
    options: &RunOptions,
    fs_calls: FsCalls,
) -> Result<Prepared<W::State>> {
    let limits = &options.limits;
    let mut builder = WasiCtxBuilder::new();
    // Before the world preopens anything: each directory keeps the setting it was opened with.
    builder.allow_blocking_current_thread(fs_calls == FsCalls::InPlace);
    builder.inherit_stdin();
    let shared = std::sync::Arc::new(limits.clone());
    let stopped = StoppedAt::default();
    builder.stdout(CappedOutput::new(
        wasmtime_wasi::cli::stdout(),
        limits.stdout,
        Limit::Stdout,
        shared.clone(),
        stopped.clone(),
    ));
    let stderr = CappedOutput::new(
        wasmtime_wasi::cli::stderr(),
        limits.stderr,
        Limit::Stderr,
        shared,
        stopped.clone(),
    );
    let log_budget = LogBudget::new(stderr.shared_charge());
    builder.stderr(stderr);
    // argv[0] is the guest's file name alone, as `wasmtime run` gives it: the host's
    // directories are none of the guest's business.
    let name = guest_path.file_name().unwrap_or(guest_path.as_os_str());
    builder.arg(name.to_string_lossy());
    builder.args(&options.args);
    builder.envs(&options.env);
    // Sockets stay linked (std pulls them in) but every address is denied unless allowed.
    let allow = std::sync::Arc::new(AllowList::resolve(&options.network_allow).await?);
    allow_network(&mut builder, &allow);
    let timeouts = HttpTimeouts::default().at_most(limits.timeout);
    let http = HttpState::new(allow, timeouts, limits.buffer_memory);
    let instance_limits = InstanceLimits {
        store_writes: limits.store_writes,
        store_objects: limits.store_objects,
        memory: limits.memory,
        buffer_memory: limits.buffer_memory,
    };
    let world = world.instance(&mut builder, instance_limits)?;
    Ok(Prepared {
        builder,
        world,
        log_budget,
        stopped,
        http,
    })
}

/// A store for `state` with the run's limits applied: memory, tables and the counts of
/// instances, tables and memories (the limiter), fuel when set (the engine must then meter
/// it: [`engine_config`] with the same limits), and a wall-clock deadline checked at every
/// epoch tick (guest code also yields there, so timers can fire).
/// With [`Deadline::Epochs`] the engine's epoch must be advancing
/// ([`super::enforce::EpochTicker`]); without epochs the deadline set here is never checked.
pub fn new_store<S: Send + 'static>(
    engine: &Engine,
    state: HostState<S>,
    limits: &Limits,
) -> Result<Store<HostState<S>>> {
    limited_store(engine, state, limits, |state| &mut state.limiter)
}

/// [`new_store`] for any state holding a [`GuestLimiter`] (`limiter` finds it).
pub fn limited_store<T: Send + 'static>(
    engine: &Engine,
    state: T,
    limits: &Limits,
    limiter: fn(&mut T) -> &mut GuestLimiter,
) -> Result<Store<T>> {
    let mut store = Store::new(engine, state);
    store.limiter(move |state| limiter(state));
    // Handles the guest makes without a host call (its own resources, and each WASI 0.3
    // call, stream or future in flight) are capped too. Twice the run's limit, so a guest
    // holding host resources meets the resource table's limit (exit 200) first.
    let component_handles = usize::try_from(limits.handles.saturating_mul(2)).unwrap_or(usize::MAX);
    store.set_max_component_handles(component_handles);
    if let Some(fuel) = limits.fuel {
        store.set_fuel(fuel).map_err(|e| {
            anyhow::Error::from(e).context("a fuel limit needs an engine that meters fuel")
        })?;
    }
    let deadline = std::time::Instant::now() + limits.timeout;
    // The message is made when the limit is hit, not for every instance.
    let limits = limits.clone();
    store.epoch_deadline_callback(move |_| {
        if past(deadline) {
            Err(wasmtime::Error::new(limits.exceeded(Limit::Timeout)))
        } else {
            Ok(wasmtime::UpdateDeadline::Yield(1))
        }
    });
    store.set_epoch_deadline(1);
    Ok(store)
}

/// Lets the guest connect to the allow-listed `host:port` pairs (resolved when the run
/// started) and nothing else.
fn allow_network(builder: &mut WasiCtxBuilder, allow: &AllowList) {
    let allowed: std::collections::HashSet<_> = allow.addresses().collect();
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
}

/// A guest's name for log lines: its file stem.
pub fn guest_name(path: &std::path::Path) -> String {
    path.file_stem().map_or_else(
        || "guest".to_owned(),
        |stem| stem.to_string_lossy().into_owned(),
    )
}

/// The run's resource table, holding at most `handles` entries (every handle a guest holds
/// costs host memory; past the limit a new one is refused and the run stops).
pub fn handle_table(handles: u64) -> ResourceTable {
    let mut table = ResourceTable::new();
    table.set_max_capacity(usize::try_from(handles).unwrap_or(usize::MAX));
    table
}
