//! The seam between the host and its worlds.
//!
//! A world is what the host offers a guest: the imports it links, and what each instance of
//! a guest keeps beside its WASI context. The host core (running commands, plugins, jobs,
//! inspection) knows worlds only through [`World`]; one file of the host lists them
//! (`host/src/world/registry.rs`). A world is a crate under `worlds/` that implements
//! [`World`], plus one line in that list. `worlds/README.md` says what a world provides.
//!
//! What every world shares (args, environment, stdio with its caps, the network policy,
//! limits of memory, CPU and time) is set up by the host before the world adds its own part.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Result;
use wasmtime::component::{Linker, ResourceTable};
use wasmtime_wasi::{WasiCtxBuilder, WasiView};
use worldhost_store::{Mount, StoreUrl};

pub mod http;
pub mod traced;

/// Whether `linker`'s engine runs WASI 0.3 guests, and so takes their imports: the plugin
/// engine has no concurrency support (plugins are WASI 0.2 components; without it a call is
/// a plain fiber, not wasmtime's concurrent task machinery), and wasmtime refuses a 0.3
/// host function there.
pub fn links_wasi_p3<T>(linker: &Linker<T>) -> bool {
    linker.engine().get_concurrency_support()
}

/// One `[[mount]]` of a world definition, or one `--dir`/`--mount` flag: a guest path and
/// what serves it. Each world says which sources it takes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MountEntry {
    /// Where the guest sees it (`.` is its working directory).
    pub guest: String,
    pub source: MountSource,
    /// Refuse every write under it.
    pub read_only: bool,
}

/// What serves a mount.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MountSource {
    /// A host directory (the `cli` world).
    HostDir(PathBuf),
    /// A store (the `cloud` world).
    Store(StoreUrl),
}

/// Where wasmtime-wasi makes the filesystem calls of preopened host directories (the cli
/// world; the cloud world's filesystem is its own and async).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FsCalls {
    /// On the thread running the guest, as `wasmtime run` does: a command has its runtime to
    /// itself, and a hop to tokio's blocking pool and back costs more than most calls (a 4 KiB
    /// read took 6x as long that way, issue 13).
    InPlace,
    /// On tokio's blocking pool: plugin calls share the runtime's worker threads, and one
    /// call waiting on a disk must not hold up the others.
    #[default]
    BlockingPool,
}

impl FsCalls {
    /// Makes the blocking filesystem `call` where these calls are made.
    pub async fn run<R: Send + 'static>(self, call: impl FnOnce() -> R + Send + 'static) -> R {
        match self {
            FsCalls::InPlace => call(),
            FsCalls::BlockingPool => wasmtime_wasi::runtime::spawn_blocking(call).await,
        }
    }
}

/// The guest's name (for log lines), the definition's `[config]` values and its log budget,
/// for the host interfaces a world offers; where its filesystem calls are made.
#[derive(Debug, Clone, Default)]
pub struct GuestInfo {
    /// The guest's file stem, e.g. `word_count`.
    pub name: String,
    pub config: BTreeMap<String, String>,
    /// What the guest's own log lines take of its stderr limit.
    pub log_budget: LogBudget,
    /// Where the cli world's filesystem calls are made (wasmtime-wasi's context has the same
    /// setting, but does not tell).
    pub fs_calls: FsCalls,
}

/// Charges the bytes of a guest's log lines against its stderr limit: the host's log goes to
/// stderr too, so a guest that logs instead of printing is held to the same cap. A refused
/// charge is the error that stops the run at that limit.
#[derive(Clone, Default)]
pub struct LogBudget(Option<Arc<dyn Fn(u64) -> wasmtime::Result<()> + Send + Sync>>);

impl LogBudget {
    pub fn new(charge: impl Fn(u64) -> wasmtime::Result<()> + Send + Sync + 'static) -> LogBudget {
        LogBudget(Some(Arc::new(charge)))
    }

    /// Counts `bytes` more (nothing to count against without a budget).
    pub fn charge(&self, bytes: u64) -> wasmtime::Result<()> {
        self.0.as_ref().map_or(Ok(()), |charge| charge(bytes))
    }
}

impl std::fmt::Debug for LogBudget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_some() {
            "LogBudget"
        } else {
            "LogBudget(none)"
        })
    }
}

/// Limits a world enforces itself, for each instance.
#[derive(Debug, Clone, Copy)]
pub struct InstanceLimits {
    /// Bytes the guest may write to stores, over the whole run.
    pub store_writes: u64,
    /// Objects the guest may create in stores, over the whole run.
    pub store_objects: u64,
    /// Bytes of linear memory the guest may have (no single result can be larger).
    pub memory: u64,
    /// Host memory the guest's file buffers may hold together.
    pub buffer_memory: u64,
}

/// What a world needs of the store data its imports are linked against: the WASI context
/// (through [`WasiView`]), its own per-instance state beside the resource table, and the
/// guest's name and config.
pub trait WorldHost<S>: WasiView + Send + 'static {
    /// This world's per-instance state and the store's resource table, borrowed together.
    fn world(&mut self) -> (&mut S, &mut ResourceTable);
    fn guest(&mut self) -> &mut GuestInfo;
    /// The instance's `wasi:http` state over the store's resource table ([`http`]).
    fn http(&mut self) -> http::WasiHttpCtxView<'_>;
}

/// A world: built once from its definition, then serving any number of instances.
pub trait World: Sized + Send + Sync + 'static {
    /// The name `--world NAME` and a world file's `base` use; also the name of its WIT world
    /// in `wit/worlds.wit`.
    const NAME: &'static str;
    /// Its built-in definition (TOML, keys in `worlds/README.md`).
    const DEFINITION: &'static str;
    /// The command-line flag that adds a mount here (`--dir`, `--mount`), and how its value
    /// is written.
    const MOUNT_FLAG: (&'static str, &'static str);
    /// What one instance of a guest keeps beside its WASI context.
    type State: Send + 'static;

    /// The source a mount flag's `SOURCE` names, and the guest path it gets without
    /// `::GUEST` (`None`: the source's own text, as `wasmtime run --dir` does).
    fn mount_flag(source: &str) -> Result<(MountSource, Option<String>)>;

    /// Builds the world from its definition's mounts (named by `origin` in messages),
    /// opening and checking what they name, so a bad mount fails before any guest runs.
    fn open(mounts: &[MountEntry], origin: &str) -> impl Future<Output = Result<Self>> + Send;

    /// Builds the world over stores already opened (a job's inputs and staged outputs).
    /// Worlds that serve no stores refuse.
    fn over_stores(mounts: Vec<Arc<Mount>>) -> Result<Self> {
        let _ = mounts;
        anyhow::bail!("the `{}` world does not serve stores", Self::NAME)
    }

    /// Links every import this world offers (WASI 0.3's only on an engine with concurrency
    /// support: see [`links_wasi_p3`]).
    fn add_to_linker<T: WorldHost<Self::State>>(linker: &mut Linker<T>) -> Result<()>;

    /// The state of one instance; may add to its WASI context (preopened directories).
    fn instance(&self, wasi: &mut WasiCtxBuilder, limits: InstanceLimits) -> Result<Self::State>;

    /// Ends an instance whose guest exited: stores what it left open. Not called after a
    /// trap or a limit, whose unfinished work is dropped.
    fn finish(state: &mut Self::State) -> impl Future<Output = Result<()>> + Send;
}
