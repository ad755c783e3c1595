//! Plugins: components of the `plugin` world, whose `handler` export the host calls.
//!
//! [`PluginHost`] is the embedding API: set up once (compile, check, link, pre-instantiate,
//! open the world's stores), then [`PluginHost::call`] as often as you like, concurrently,
//! each call on a fresh, isolated instance.
//!
//! ```no_run
//! # async fn example() -> anyhow::Result<()> {
//! use worldhost::plugin::{CallResult, Payload, PluginHost};
//! use worldhost::world::WorldFile;
//!
//! let world = WorldFile::load("cloud")?;
//! let host = PluginHost::new("word_count.wasm".as_ref(), &world, Default::default()).await?;
//! match host.call(Payload::Text("docs/".into())).await? {
//!     CallResult::Returned(Ok(output)) => println!("{output:?}"),
//!     CallResult::Returned(Err(error)) => eprintln!("{}: {}", error.code, error.message),
//!     CallResult::Stopped(outcome) => eprintln!("{outcome:?}"),
//! }
//! # Ok(())
//! # }
//! ```

use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;

use anyhow::{Context, Result, bail};
use wasmtime::{Engine, InstanceAllocationStrategy, PoolingAllocationConfig};
use worldhost_world_api::World;

use crate::guest;
use crate::limits::{Limit, Limits};
use crate::run::enforce::EpochTicker;
use crate::run::{
    AsyncAbi, Deadline, FsCalls, HostState, Outcome, RunOptions, check_imports, classify_failure,
    engine_config, linker, new_state, new_store,
};
use crate::world::{AnyWorld, WorldFile, with_world};

mod bindings {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "worldhost:host/plugin",
        imports: { default: async | trappable },
        exports: { default: async },
        // The imports are linked by the worlds; only the export is used here.
        with: {
            "wasi:io": wasmtime_wasi_io::bindings::wasi::io,
            "wasi:clocks": wasmtime_wasi::p2::bindings::clocks,
            "wasi:random": wasmtime_wasi::p2::bindings::random,
            "wasi:cli": wasmtime_wasi::p2::bindings::cli,
            "wasi:filesystem": wasmtime_wasi::p2::bindings::filesystem,
            "wasi:sockets": wasmtime_wasi::p2::bindings::sockets,
        },
    });
}

pub use bindings::exports::worldhost::host::handler::{Error as PluginError, Payload};

/// The interface a plugin exports.
pub const HANDLER_INTERFACE: &str = "worldhost:host/handler";

/// How one call ended.
#[derive(Debug)]
pub enum CallResult {
    /// The plugin returned: its output, or its own typed error.
    Returned(Result<Payload, PluginError>),
    /// The plugin trapped or hit a limit.
    Stopped(Outcome),
}

/// An engine for plugins with the default limits: instances come from a pool, so a call
/// costs microseconds.
pub fn plugin_engine() -> Result<Engine> {
    plugin_engine_for(&Limits::default())
}

/// Elements in each of the pool's tables, unless the limit asks for more (wasmtime's default).
const POOL_TABLE_ELEMENTS: u64 = 20_000;
/// Bytes of each freed linear memory and table reset in place rather than decommitted.
const POOL_MEMORY_KEEP_RESIDENT: usize = 1 << 20;
const POOL_TABLE_KEEP_RESIDENT: usize = 64 << 10;
/// Freed slots whose remaining pages are decommitted together (one TLB flush for the batch).
const POOL_DECOMMIT_BATCH: usize = 32;

/// An engine for plugins run within `limits`. The limiter of every store enforces the limits
/// (`run::new_store`), as for commands; the pool's own ceilings are at least the limits, so a
/// plugin growing past one is stopped by the limit, not quietly refused by the pool: each
/// table holds at least the limit on elements, each memory 4 GiB (wasmtime's default, a
/// 32-bit memory's whole range), and the counts per component are the pool's default,
/// unbounded. The pool keeps two ceilings of its own, checked when the plugin is loaded:
/// one memory and one table per core module, and tables no larger than its own to begin with.
pub fn plugin_engine_for(limits: &Limits) -> Result<Engine> {
    // Plugins serve many calls: a call past its time is stopped in-process, by epochs.
    // Plugins are WASI 0.2 components: without concurrency support a call runs on a plain
    // fiber, not through wasmtime's concurrent task machinery, and dropping its store resumes
    // no parked fiber with an error (which captured a backtrace under RUST_BACKTRACE).
    let mut config = engine_config(limits, Deadline::Epochs, AsyncAbi::Off);
    let mut pool = PoolingAllocationConfig::default();
    let table_elements = limits.table_elements.max(POOL_TABLE_ELEMENTS);
    pool.total_component_instances(1000)
        .total_core_instances(5000)
        .total_memories(2000)
        .total_tables(2000)
        .total_stacks(1000)
        .table_elements(usize::try_from(table_elements).unwrap_or(usize::MAX));
    // A freed slot is reset for the next call without giving its pages back: the pages the
    // call dirtied (found with the PAGEMAP_SCAN ioctl where the kernel has it, Linux 6.7+) are
    // rewritten with memset up to these sizes, the rest decommitted in batches. madvise per
    // slot made each call fault its pages in again and shoot down TLBs on every core: 48 us a
    // call on one core and fewer calls on two; this way 17 us (issue 13). The cost: up to
    // this much stays resident per warm slot (at most 100 warm slots, wasmtime's default).
    pool.linear_memory_keep_resident(POOL_MEMORY_KEEP_RESIDENT)
        .table_keep_resident(POOL_TABLE_KEEP_RESIDENT)
        .decommit_batch_size(POOL_DECOMMIT_BATCH)
        .pagemap_scan(wasmtime::Enabled::Auto);
    config.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
    Engine::new(&config).map_err(anyhow::Error::from)
}

/// A plugin, set up once, called many times.
pub struct PluginHost {
    calls: Box<dyn Calls>,
    _ticker: EpochTicker,
}

/// A call on a fresh instance, in the world the plugin was set up in.
trait Calls: Send + Sync {
    fn call(&self, input: Payload)
    -> Pin<Box<dyn Future<Output = Result<CallResult>> + Send + '_>>;
}

/// A plugin linked in world `W`.
struct InWorld<W: World> {
    engine: Engine,
    pre: bindings::PluginPre<HostState<W::State>>,
    world: W,
    options: RunOptions,
    path: PathBuf,
}

impl PluginHost {
    /// Compiles the plugin at `path`, checks it against `definition`'s world, links it and
    /// opens the world's stores. `options` applies to every call (limits, env, config; the
    /// definition's config and network allow-list are added to it).
    pub async fn new(
        path: &Path,
        definition: &WorldFile,
        mut options: RunOptions,
    ) -> Result<PluginHost> {
        let engine = plugin_engine_for(&options.limits)?;
        let bytes =
            std::fs::read(path).with_context(|| format!("cannot read `{}`", path.display()))?;
        let (_, component, _) = guest::compile(&engine, path, &bytes)?;
        let exports = guest::component_exports(&engine, &component);
        if !exports
            .iter()
            .any(|export| guest::unversioned(export) == HANDLER_INTERFACE)
        {
            bail!(
                "`{}` is not a plugin: it does not export `{HANDLER_INTERFACE}` (it exports: {})",
                path.display(),
                if exports.is_empty() {
                    "nothing".to_owned()
                } else {
                    exports.join(", ")
                }
            );
        }
        let imports = guest::component_imports(&engine, &component);
        check_imports(path, &imports, &definition.base)?;
        options.config.extend(definition.config.clone());
        options
            .network_allow
            .extend(definition.network.allow.clone());
        let world = AnyWorld::open(definition).await?;
        let ticker = EpochTicker::start(&engine);
        let calls = with_world!(world, w => {
            let calls: Box<dyn Calls> =
                Box::new(InWorld::new(engine, w, &component, options, path)?);
            calls
        });
        Ok(PluginHost {
            calls,
            _ticker: ticker,
        })
    }

    /// Calls the plugin once, on a fresh instance.
    pub async fn call(&self, input: Payload) -> Result<CallResult> {
        self.calls.call(input).await
    }
}

impl<W: World> InWorld<W> {
    fn new(
        engine: Engine,
        world: W,
        component: &wasmtime::component::Component,
        options: RunOptions,
        path: &Path,
    ) -> Result<InWorld<W>> {
        let linker = linker::<W>(&engine)?;
        let instance_pre = linker.instantiate_pre(component).map_err(|e| {
            anyhow::Error::from(e).context(format!("`{}` cannot be linked", path.display()))
        })?;
        let pre = bindings::PluginPre::new(instance_pre).map_err(anyhow::Error::from)?;
        Ok(InWorld {
            engine,
            pre,
            world,
            options,
            path: path.to_owned(),
        })
    }

    async fn call_once(&self, input: Payload) -> Result<CallResult> {
        let state = new_state(
            &self.path,
            &self.world,
            &self.options,
            FsCalls::BlockingPool,
        )
        .await?;
        let limits = &self.options.limits;
        let mut store = new_store(&self.engine, state, limits)?;
        // The time limit covers the call and the storing of what it left open.
        let call = async {
            let plugin = self.pre.instantiate_async(&mut store).await?;
            let handler = plugin.worldhost_host_handler();
            let returned = handler.call_handle(&mut store, &input).await?;
            if returned.is_ok() {
                // As after a command: files the plugin left open are stored.
                let stored = W::finish(&mut store.data_mut().world).await;
                stored.map_err(wasmtime::Error::from_anyhow)?;
            }
            Ok::<_, wasmtime::Error>(returned)
        };
        Ok(match tokio::time::timeout(limits.timeout, call).await {
            Ok(Ok(returned)) => CallResult::Returned(returned),
            Ok(Err(error)) => CallResult::Stopped(classify_failure(error, limits)?),
            Err(_) => CallResult::Stopped(Outcome::LimitHit(limits.exceeded(Limit::Timeout))),
        })
    }
}

impl<W: World> Calls for InWorld<W> {
    fn call(
        &self,
        input: Payload,
    ) -> Pin<Box<dyn Future<Output = Result<CallResult>> + Send + '_>> {
        Box::pin(self.call_once(input))
    }
}
