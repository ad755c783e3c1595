//! The `cloud` world: `wasi:cli` with every `wasi:filesystem` call served from blob storage.
//!
//! Everything but the filesystem is wasmtime-wasi's (args, env, stdio, clocks, random,
//! sockets with every address denied). The filesystem is ours, in two layers: [`fs`], the
//! core (POSIX-style files and directories over an object store, plain Rust, tested without
//! a guest), and [`p2`] and [`p3`], the `wasi:filesystem@0.2` and `@0.3` adapters over it. [`CloudFsCtx`] holds a
//! run's mounts (a guest path served by an object store, a [`Mount`] of the
//! `worldhost-store` crate). The semantics of
//! every operation are documented in `worlds/cloud/README.md`.

/// The core's error code as a WIT `error-code` of the same name: `wasi:filesystem` 0.2 and 0.3
/// share every name but `would-block` (0.3 dropped it), which the caller gives.
macro_rules! wit_error_code {
    ($code:expr, $wit:ident, would_block: $would_block:expr) => {{
        use $crate::fs::ErrorCode as C;
        match $code {
            C::WouldBlock => $would_block,
            C::Access => $wit::Access,
            C::Already => $wit::Already,
            C::BadDescriptor => $wit::BadDescriptor,
            C::Busy => $wit::Busy,
            C::Deadlock => $wit::Deadlock,
            C::Quota => $wit::Quota,
            C::Exist => $wit::Exist,
            C::FileTooLarge => $wit::FileTooLarge,
            C::IllegalByteSequence => $wit::IllegalByteSequence,
            C::InProgress => $wit::InProgress,
            C::Interrupted => $wit::Interrupted,
            C::Invalid => $wit::Invalid,
            C::Io => $wit::Io,
            C::IsDirectory => $wit::IsDirectory,
            C::Loop => $wit::Loop,
            C::TooManyLinks => $wit::TooManyLinks,
            C::MessageSize => $wit::MessageSize,
            C::NameTooLong => $wit::NameTooLong,
            C::NoDevice => $wit::NoDevice,
            C::NoEntry => $wit::NoEntry,
            C::NoLock => $wit::NoLock,
            C::InsufficientMemory => $wit::InsufficientMemory,
            C::InsufficientSpace => $wit::InsufficientSpace,
            C::NotDirectory => $wit::NotDirectory,
            C::NotEmpty => $wit::NotEmpty,
            C::NotRecoverable => $wit::NotRecoverable,
            C::Unsupported => $wit::Unsupported,
            C::NoTty => $wit::NoTty,
            C::NoSuchDevice => $wit::NoSuchDevice,
            C::Overflow => $wit::Overflow,
            C::NotPermitted => $wit::NotPermitted,
            C::Pipe => $wit::Pipe,
            C::ReadOnly => $wit::ReadOnly,
            C::InvalidSeek => $wit::InvalidSeek,
            C::TextFileBusy => $wit::TextFileBusy,
            C::CrossDevice => $wit::CrossDevice,
        }
    }};
}

/// `open-at`'s flags as the core's open options: `wasi:filesystem` 0.2 and 0.3 name them alike
/// (`$oflags` is an `open-flags`, `$flags` a `descriptor-flags`, of either version).
macro_rules! open_options {
    ($oflags:expr, $flags:expr) => {{
        let (oflags, flags) = ($oflags, $flags);
        $crate::fs::OpenOptions {
            create: oflags.contains(OpenFlags::CREATE),
            exclusive: oflags.contains(OpenFlags::EXCLUSIVE),
            truncate: oflags.contains(OpenFlags::TRUNCATE),
            directory: oflags.contains(OpenFlags::DIRECTORY),
            read: flags.contains(DescriptorFlags::READ),
            write: flags.contains(DescriptorFlags::WRITE),
            mutate_directory: flags.contains(DescriptorFlags::MUTATE_DIRECTORY),
        }
    }};
}

mod bindings;
mod blob;
mod blobstore;
pub mod fs;
mod guest_interfaces;
pub mod keyvalue;
pub mod p1;
pub mod p2;
pub mod p3;
mod standard;
mod world;

use anyhow::Result;
use wasmtime::component::{HasData, Linker, ResourceTable};
use wasmtime_wasi::WasiView;

/// The cloud filesystem of one run (see [`fs::FsCtx`]).
pub use crate::fs::FsCtx as CloudFsCtx;
pub use crate::fs::{FsError, WriteBudget, WriteLimitExceeded};
pub use crate::world::CloudWorld;
pub use worldhost_store::{Mount, MountSpec};

/// What the filesystem host functions work on: the context and the store's resource table.
pub struct CloudFsView<'a> {
    pub ctx: &'a mut CloudFsCtx,
    pub table: &'a mut ResourceTable,
}

/// A store state that carries a cloud filesystem beside its WASI context.
pub trait CloudFsState: WasiView {
    fn cloud_fs(&mut self) -> CloudFsView<'_>;
}

pub(crate) struct CloudFs;

impl HasData for CloudFs {
    type Data<'a> = CloudFsView<'a>;
}

struct Io;

impl HasData for Io {
    type Data<'a> = &'a mut ResourceTable;
}

/// Links `worldhost:host/blob` over the same mounts as the filesystem.
pub fn add_blob_to_linker<T: CloudFsState + 'static>(linker: &mut Linker<T>) -> Result<()> {
    bindings::host_imports::worldhost::host::blob::add_to_linker::<T, CloudFs>(
        linker,
        T::cloud_fs,
    )?;
    Ok(())
}

/// Links `wasi:keyvalue` (`store`, `atomics`, `batch`) over the world's buckets.
pub fn add_keyvalue_to_linker<T: CloudFsState + 'static>(linker: &mut Linker<T>) -> Result<()> {
    use bindings::standard_imports::wasi::keyvalue::{atomics, batch, store};
    store::add_to_linker::<T, CloudFs>(linker, T::cloud_fs)?;
    atomics::add_to_linker::<T, CloudFs>(linker, T::cloud_fs)?;
    batch::add_to_linker::<T, CloudFs>(linker, T::cloud_fs)?;
    Ok(())
}

/// Links `wasi:blobstore@0.2.0-draft` over the same mounts as the filesystem.
pub fn add_blobstore_to_linker<T: CloudFsState + 'static>(linker: &mut Linker<T>) -> Result<()> {
    use bindings::blobstore_imports::wasi::blobstore::{blobstore, container, types};
    types::add_to_linker::<T, CloudFs>(linker, T::cloud_fs)?;
    container::add_to_linker::<T, CloudFs>(linker, T::cloud_fs)?;
    blobstore::add_to_linker::<T, CloudFs>(linker, T::cloud_fs)?;
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
    p2::stream_reads::shadow_reads(l)?;
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
    p2::bindings::wasi::filesystem::types::add_to_linker::<T, CloudFs>(l, T::cloud_fs)?;
    p2::ready_calls::shadow_ready_calls(l)?;
    p2::bindings::wasi::filesystem::preopens::add_to_linker::<T, CloudFs>(l, T::cloud_fs)?;
    Ok(())
}

/// Links `wasi:filesystem@0.3` (ours, over the same core as 0.2). The rest of WASI 0.3 is
/// wasmtime-wasi's, linked by the world.
pub fn add_p3_filesystem_to_linker<T: CloudFsState + 'static>(
    linker: &mut Linker<T>,
) -> Result<()> {
    p3::bindings::wasi::filesystem::types::add_to_linker::<T, CloudFs>(linker, T::cloud_fs)?;
    p3::bindings::wasi::filesystem::preopens::add_to_linker::<T, CloudFs>(linker, T::cloud_fs)?;
    Ok(())
}
