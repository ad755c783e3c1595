//! The `cloud` world: `wasi:cli` with every `wasi:filesystem` call served from blob storage.
//!
//! Everything but the filesystem is wasmtime-wasi's (args, env, stdio, clocks, random,
//! sockets with every address denied). The filesystem is ours: [`CloudFsCtx`] holds the
//! mounts (a guest path served by an object store, see [`mount`]), and the descriptors the
//! guest opens are served by [`descriptor`] over `object_store`. The semantics of every
//! operation are documented in `worlds/cloud/README.md`.

mod bindings;
mod blob;
pub mod descriptor;
mod error;
mod file;
mod guest_interfaces;
pub mod mount;
mod path;
mod streams;
mod world;

use std::sync::{Arc, Weak};

use anyhow::{Context, Result};
use wasmtime::component::{HasData, Linker, Resource, ResourceTable};
use wasmtime_wasi::WasiView;

use crate::descriptor::Descriptor;
use crate::file::OpenFile;
pub use crate::mount::{Mount, MountSpec};
pub use crate::world::CloudWorld;

/// A filesystem error: a WASI error code for the guest, or a trap for the host's own faults.
#[derive(Debug)]
pub enum FsError {
    Code(bindings::wasi::filesystem::types::ErrorCode),
    Trap(wasmtime::Error),
}

impl FsError {
    pub fn trap(error: impl Into<wasmtime::Error>) -> FsError {
        FsError::Trap(error.into())
    }
}

impl From<bindings::wasi::filesystem::types::ErrorCode> for FsError {
    fn from(code: bindings::wasi::filesystem::types::ErrorCode) -> FsError {
        FsError::Code(code)
    }
}

impl From<wasmtime::component::ResourceTableError> for FsError {
    fn from(error: wasmtime::component::ResourceTableError) -> FsError {
        FsError::Trap(error.into())
    }
}

impl std::fmt::Display for FsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FsError::Code(code) => write!(f, "{code:?}"),
            FsError::Trap(error) => write!(f, "{error}"),
        }
    }
}

pub use worldhost_store::{WriteBudget, WriteLimitExceeded};

/// The cloud filesystem of one run: its mounts, and the files the guest has open.
pub struct CloudFsCtx {
    mounts: Vec<Arc<Mount>>,
    write_budget: Arc<WriteBudget>,
    /// Every file opened in this run, so that files the guest never closed are still
    /// committed when it exits.
    open_files: Vec<Weak<OpenFile>>,
    /// Files whose descriptor was closed while a stream on them was still open: kept alive
    /// so what the stream writes after is committed at exit too.
    closed_with_streams: Vec<Arc<OpenFile>>,
}

impl Default for CloudFsCtx {
    fn default() -> CloudFsCtx {
        CloudFsCtx {
            mounts: Vec::new(),
            write_budget: Arc::new(WriteBudget::new(u64::MAX)),
            open_files: Vec::new(),
            closed_with_streams: Vec::new(),
        }
    }
}

impl CloudFsCtx {
    /// Opens every mount, failing on the first that cannot be opened.
    pub fn new(specs: &[MountSpec]) -> Result<CloudFsCtx> {
        let mounts = specs
            .iter()
            .map(|spec| Mount::open(spec).map(Arc::new))
            .collect::<Result<Vec<_>>>()?;
        Ok(CloudFsCtx {
            mounts,
            ..CloudFsCtx::default()
        })
    }

    /// A context over mounts already opened and checked (for plugins, which open their
    /// mounts once and serve many calls).
    pub fn with_mounts(mounts: Vec<Arc<Mount>>) -> CloudFsCtx {
        CloudFsCtx {
            mounts,
            ..CloudFsCtx::default()
        }
    }

    /// The mounts, to share with further contexts.
    pub fn mounts(&self) -> &[Arc<Mount>] {
        &self.mounts
    }

    /// Caps the bytes the guest may write to files in stores, over the whole run.
    pub fn set_write_limit(&mut self, bytes: u64) {
        self.write_budget = Arc::new(WriteBudget::new(bytes));
    }

    /// Keeps `file` until the run ends (its descriptor closed, a stream on it still open).
    fn keep_until_exit(&mut self, file: Arc<OpenFile>) {
        self.closed_with_streams.push(file);
    }

    fn track(&mut self, file: &Arc<OpenFile>) {
        if self.open_files.len() >= 64 {
            self.open_files.retain(|file| file.strong_count() > 0);
        }
        self.open_files.push(Arc::downgrade(file));
    }

    /// Commits files the guest left open, as closing them would have. Call after the guest's
    /// run returns; fails naming every file that could not be stored.
    pub async fn commit_open_files(&mut self) -> Result<()> {
        let mut failures = Vec::new();
        let kept: Vec<_> = self.closed_with_streams.drain(..).collect();
        let open = self.open_files.drain(..).filter_map(|file| file.upgrade());
        for file in open.chain(kept) {
            let mut state = file.state.lock().await;
            if file.commit(&mut state, true).await.is_err() {
                failures.push(format!(
                    "`{}` in `{}` ({})",
                    file.path,
                    file.mount.url,
                    state.failed.as_deref().unwrap_or("unknown error")
                ));
            }
        }
        if failures.is_empty() {
            Ok(())
        } else {
            anyhow::bail!(
                "files left open by the guest could not be stored, so they keep their old content: {}",
                failures.join("; ")
            )
        }
    }
}

/// What the filesystem host functions work on: the context and the store's resource table.
pub struct CloudFsView<'a> {
    pub ctx: &'a mut CloudFsCtx,
    pub table: &'a mut ResourceTable,
}

/// A store state that carries a cloud filesystem beside its WASI context.
pub trait CloudFsState: WasiView {
    fn cloud_fs(&mut self) -> CloudFsView<'_>;
}

struct CloudFs;

impl HasData for CloudFs {
    type Data<'a> = CloudFsView<'a>;
}

struct Io;

impl HasData for Io {
    type Data<'a> = &'a mut ResourceTable;
}

impl bindings::wasi::filesystem::preopens::Host for CloudFsView<'_> {
    async fn get_directories(&mut self) -> wasmtime::Result<Vec<(Resource<Descriptor>, String)>> {
        let mut preopens = Vec::new();
        for mount in &self.ctx.mounts {
            let root = Descriptor::Dir {
                mount: mount.clone(),
                path: path::RelPath::root(),
            };
            preopens.push((self.table.push(root)?, mount.guest.clone()));
        }
        Ok(preopens)
    }
}

/// Links `worldhost:host/blob` over the same mounts as the filesystem.
pub fn add_blob_to_linker<T: CloudFsState + 'static>(linker: &mut Linker<T>) -> Result<()> {
    bindings::host_imports::worldhost::host::blob::add_to_linker::<T, CloudFs>(
        linker,
        T::cloud_fs,
    )?;
    Ok(())
}

/// Links every `wasi:cli` command import: wasmtime-wasi's for all but the filesystem, ours
/// for `wasi:filesystem`.
pub fn add_to_linker<T: CloudFsState + 'static>(linker: &mut Linker<T>) -> Result<()> {
    use wasmtime_wasi::cli::{WasiCli, WasiCliView};
    use wasmtime_wasi::clocks::{WasiClocks, WasiClocksView};
    use wasmtime_wasi::p2::bindings::{cli, clocks, random, sockets};
    use wasmtime_wasi::random::WasiRandom;
    use wasmtime_wasi::sockets::{WasiSockets, WasiSocketsView};
    use wasmtime_wasi_io::bindings::wasi::io;

    let l = linker;
    io::error::add_to_linker::<T, Io>(l, |t| t.ctx().table)?;
    io::poll::add_to_linker::<T, Io>(l, |t| t.ctx().table)?;
    io::streams::add_to_linker::<T, Io>(l, |t| t.ctx().table)?;
    clocks::wall_clock::add_to_linker::<T, WasiClocks>(l, T::clocks)?;
    clocks::monotonic_clock::add_to_linker::<T, WasiClocks>(l, T::clocks)?;
    random::random::add_to_linker::<T, WasiRandom>(l, |t| t.ctx().ctx.random())?;
    random::insecure::add_to_linker::<T, WasiRandom>(l, |t| t.ctx().ctx.random())?;
    random::insecure_seed::add_to_linker::<T, WasiRandom>(l, |t| t.ctx().ctx.random())?;
    cli::exit::add_to_linker::<T, WasiCli>(l, T::cli)?;
    cli::environment::add_to_linker::<T, WasiCli>(l, T::cli)?;
    cli::stdin::add_to_linker::<T, WasiCli>(l, T::cli)?;
    cli::stdout::add_to_linker::<T, WasiCli>(l, T::cli)?;
    cli::stderr::add_to_linker::<T, WasiCli>(l, T::cli)?;
    cli::terminal_input::add_to_linker::<T, WasiCli>(l, T::cli)?;
    cli::terminal_output::add_to_linker::<T, WasiCli>(l, T::cli)?;
    cli::terminal_stdin::add_to_linker::<T, WasiCli>(l, T::cli)?;
    cli::terminal_stdout::add_to_linker::<T, WasiCli>(l, T::cli)?;
    cli::terminal_stderr::add_to_linker::<T, WasiCli>(l, T::cli)?;
    sockets::tcp::add_to_linker::<T, WasiSockets>(l, T::sockets)?;
    sockets::udp::add_to_linker::<T, WasiSockets>(l, T::sockets)?;
    sockets::udp_create_socket::add_to_linker::<T, WasiSockets>(l, T::sockets)?;
    sockets::tcp_create_socket::add_to_linker::<T, WasiSockets>(l, T::sockets)?;
    sockets::instance_network::add_to_linker::<T, WasiSockets>(l, T::sockets)?;
    sockets::network::add_to_linker::<T, WasiSockets>(l, &Default::default(), T::sockets)?;
    sockets::ip_name_lookup::add_to_linker::<T, WasiSockets>(l, T::sockets)?;
    bindings::wasi::filesystem::types::add_to_linker::<T, CloudFs>(l, T::cloud_fs)?;
    bindings::wasi::filesystem::preopens::add_to_linker::<T, CloudFs>(l, T::cloud_fs)?;
    Ok(())
}

/// Opens the mounts and checks that each store answers (one listing request each), so an
/// unreachable store or bad credentials stop the run before the guest starts, with a message
/// naming the mount.
pub async fn open_mounts(specs: &[MountSpec]) -> Result<CloudFsCtx> {
    let ctx = CloudFsCtx::new(specs).context("the cloud world cannot start")?;
    for mount in &ctx.mounts {
        check_mount(mount).await?;
    }
    Ok(ctx)
}

/// Checks that a mount's store answers (one listing request).
pub async fn check_mount(mount: &Mount) -> Result<()> {
    mount.check().await.context("the cloud world cannot start")
}
