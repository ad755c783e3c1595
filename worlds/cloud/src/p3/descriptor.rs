//! `wasi:filesystem/types` 0.3 over the core filesystem ([`crate::fs`]): each function fetches
//! its descriptor's core handle from the resource table (never holding the table across a
//! wait), calls the core as the 0.2 adapter does, and maps the core's error code in
//! [`wit_error_code`].

use std::time::{Duration, SystemTime};

use wasmtime::component::{Access, Accessor, FutureReader, Resource, StreamReader};
use wasmtime_wasi::p3::bindings::clocks::system_clock::Instant;

use super::bindings::wasi::filesystem::types::{
    self, Advice, DescriptorFlags, DescriptorStat, DescriptorType, DirectoryEntry, ErrorCode,
    Filesize, MetadataHashValue, NewTimestamp, OpenFlags, PathFlags,
};
use super::streams::{EntryReader, FileReader, FileWriter, Outcome};
use crate::fs::{self, Dir, FsError, Handle, Kind};
use crate::{CloudFs, CloudFsView};

type FsResult<T> = Result<T, FsError>;

/// The future handed out beside a stream: how the stream ended.
type Ended = FutureReader<Result<(), ErrorCode>>;

/// A descriptor handed to a p3 guest: a core handle, and the flags it reports (as in 0.2).
pub struct Descriptor {
    handle: Handle,
    flags: DescriptorFlags,
}

impl Descriptor {
    pub fn new(handle: Handle, flags: DescriptorFlags) -> Descriptor {
        let flags = match &handle {
            Handle::File(_) => flags,
            Handle::Dir(dir) if dir.writable() => {
                DescriptorFlags::READ | DescriptorFlags::MUTATE_DIRECTORY
            }
            Handle::Dir(_) => DescriptorFlags::READ,
        };
        Descriptor { handle, flags }
    }

    /// The root directory of a volume, as a preopen.
    pub fn dir(dir: Dir) -> Descriptor {
        Descriptor::new(Handle::Dir(dir), DescriptorFlags::empty())
    }
}

/// The one mapping of the core's error codes to `wasi:filesystem@0.3`'s: the same names as
/// 0.2's, but for `would-block`, which 0.3 dropped (the core never gives it; it would reach
/// the guest as `other("would-block")`).
pub fn wit_error_code(code: fs::ErrorCode) -> ErrorCode {
    wit_error_code!(code, ErrorCode, would_block: ErrorCode::Other(Some("would-block".to_owned())))
}

/// The time a `new-timestamp` asks for (`None`: leave it); `overflow` for one the host's clock
/// cannot hold (a guest's number never panics the host).
fn new_time(time: NewTimestamp) -> FsResult<Option<SystemTime>> {
    Ok(match time {
        NewTimestamp::NoChange => None,
        NewTimestamp::Now => Some(SystemTime::now()),
        NewTimestamp::Timestamp(Instant {
            seconds,
            nanoseconds,
        }) => {
            let whole = seconds
                .unsigned_abs()
                .checked_add(u64::from(nanoseconds / 1_000_000_000));
            let span = whole.map(|s| Duration::new(s, nanoseconds % 1_000_000_000));
            let time = span.and_then(|span| match seconds >= 0 {
                true => SystemTime::UNIX_EPOCH.checked_add(span),
                false => SystemTime::UNIX_EPOCH.checked_sub(span),
            });
            Some(time.ok_or(fs::ErrorCode::Overflow)?)
        }
    })
}

fn instant(time: SystemTime) -> Option<Instant> {
    let since = time.duration_since(SystemTime::UNIX_EPOCH).ok()?;
    Some(Instant {
        seconds: i64::try_from(since.as_secs()).ok()?,
        nanoseconds: since.subsec_nanos(),
    })
}

pub(super) fn descriptor_type(kind: Kind) -> DescriptorType {
    match kind {
        Kind::File => DescriptorType::RegularFile,
        Kind::Dir => DescriptorType::Directory,
    }
}

fn descriptor_stat(stat: fs::Stat) -> DescriptorStat {
    DescriptorStat {
        type_: descriptor_type(stat.kind),
        link_count: 1,
        size: stat.size,
        data_access_timestamp: None,
        data_modification_timestamp: stat.modified.and_then(instant),
        status_change_timestamp: None,
    }
}

fn hash_value(hash: fs::MetadataHash) -> MetadataHashValue {
    MetadataHashValue {
        lower: hash.lower,
        upper: hash.upper,
    }
}

/// A descriptor's core handle, cloned out of the table.
fn handle<U>(store: &Accessor<U, CloudFs>, fd: &Resource<Descriptor>) -> FsResult<Handle> {
    store.with(|mut access| Ok(access.get().table.get(fd)?.handle.clone()))
}

/// A directory descriptor's core handle (`not-directory` for a file).
fn dir<U>(store: &Accessor<U, CloudFs>, fd: &Resource<Descriptor>) -> FsResult<Dir> {
    Ok(handle(store, fd)?.as_dir()?.clone())
}

/// A file descriptor's core handle (`is-directory` for a directory).
fn file<U>(store: &Accessor<U, CloudFs>, fd: &Resource<Descriptor>) -> FsResult<fs::File> {
    Ok(handle(store, fd)?.as_file()?.clone())
}

/// A stream that ends at once, its future carrying `error` (a trap stops the run).
fn failed_stream<U, T>(
    store: &mut Access<'_, U, CloudFs>,
    error: FsError,
) -> wasmtime::Result<(StreamReader<T>, Ended)>
where
    T: wasmtime::component::Lower + wasmtime::component::Lift + Send + Sync + 'static,
{
    let code = match error {
        FsError::Code(code) => wit_error_code(code),
        FsError::Trap(error) => return Err(error),
    };
    Ok((
        StreamReader::new(&mut *store, std::iter::empty())?,
        FutureReader::new(&mut *store, async move { wasmtime::error::Ok(Err(code)) })?,
    ))
}

impl types::Host for CloudFsView<'_> {
    fn convert_error_code(&mut self, err: FsError) -> wasmtime::Result<ErrorCode> {
        match err {
            FsError::Code(code) => Ok(wit_error_code(code)),
            FsError::Trap(error) => Err(error),
        }
    }
}

impl<U> types::HostDescriptorWithStore<U> for CloudFs {
    fn read_via_stream(
        mut store: Access<U, Self>,
        fd: Resource<Descriptor>,
        offset: Filesize,
    ) -> wasmtime::Result<(StreamReader<u8>, FutureReader<Result<(), ErrorCode>>)> {
        let file = {
            let view = store.get();
            let handle = &view.table.get(&fd)?.handle;
            handle.as_file().map(fs::File::reader)
        };
        // As 0.2 answers: a directory is `is-directory`; a handle without read access gives
        // a stream that fails with `bad-descriptor`.
        let file = match file {
            Ok(Some(file)) => file,
            Ok(None) => return failed_stream(&mut store, fs::ErrorCode::BadDescriptor.into()),
            Err(error) => return failed_stream(&mut store, error),
        };
        let (outcome, result) = Outcome::new();
        Ok((
            StreamReader::new(&mut store, FileReader::new(file, offset, outcome))?,
            FutureReader::new(&mut store, result)?,
        ))
    }

    fn write_via_stream(
        store: Access<'_, U, Self>,
        fd: Resource<Descriptor>,
        data: StreamReader<u8>,
        offset: Filesize,
    ) -> wasmtime::Result<FutureReader<Result<(), ErrorCode>>> {
        write_stream(store, fd, data, Some(offset))
    }

    fn append_via_stream(
        store: Access<'_, U, Self>,
        fd: Resource<Descriptor>,
        data: StreamReader<u8>,
    ) -> wasmtime::Result<FutureReader<Result<(), ErrorCode>>> {
        write_stream(store, fd, data, None)
    }

    async fn advise(
        store: &Accessor<U, Self>,
        fd: Resource<Descriptor>,
        _: Filesize,
        _: Filesize,
        _: Advice,
    ) -> FsResult<()> {
        handle(store, &fd)?;
        Ok(())
    }

    async fn sync_data(store: &Accessor<U, Self>, fd: Resource<Descriptor>) -> FsResult<()> {
        handle(store, &fd)?.sync().await
    }

    async fn get_flags(
        store: &Accessor<U, Self>,
        fd: Resource<Descriptor>,
    ) -> FsResult<DescriptorFlags> {
        store.with(|mut access| Ok(access.get().table.get(&fd)?.flags))
    }

    async fn get_type(
        store: &Accessor<U, Self>,
        fd: Resource<Descriptor>,
    ) -> FsResult<DescriptorType> {
        Ok(descriptor_type(handle(store, &fd)?.kind()))
    }

    async fn set_size(
        store: &Accessor<U, Self>,
        fd: Resource<Descriptor>,
        size: Filesize,
    ) -> FsResult<()> {
        file(store, &fd)?.set_size(size).await
    }

    async fn set_times(
        store: &Accessor<U, Self>,
        fd: Resource<Descriptor>,
        _accessed: NewTimestamp,
        modified: NewTimestamp,
    ) -> FsResult<()> {
        // Access times are not kept (as in 0.2).
        let handle = handle(store, &fd)?;
        handle.set_modified(new_time(modified)?).await
    }

    fn read_directory(
        mut store: Access<'_, U, Self>,
        fd: Resource<Descriptor>,
    ) -> wasmtime::Result<(
        StreamReader<DirectoryEntry>,
        FutureReader<Result<(), ErrorCode>>,
    )> {
        let found = {
            let view = store.get();
            let memory = view.ctx.buffer_memory().clone();
            let handle = &view.table.get(&fd)?.handle;
            handle.as_dir().map(|dir| (dir.clone(), memory))
        };
        let (dir, memory) = match found {
            Ok(found) => found,
            Err(error) => return failed_stream(&mut store, error),
        };
        let (outcome, result) = Outcome::new();
        Ok((
            StreamReader::new(&mut store, EntryReader::new(dir, memory, outcome))?,
            FutureReader::new(&mut store, result)?,
        ))
    }

    async fn sync(store: &Accessor<U, Self>, fd: Resource<Descriptor>) -> FsResult<()> {
        handle(store, &fd)?.sync().await
    }

    async fn create_directory_at(
        store: &Accessor<U, Self>,
        fd: Resource<Descriptor>,
        path: String,
    ) -> FsResult<()> {
        let budget = store.with(|mut access| access.get().ctx.write_budget().clone());
        dir(store, &fd)?
            .create_directory_within(&path, Some(&budget))
            .await
    }

    async fn stat(store: &Accessor<U, Self>, fd: Resource<Descriptor>) -> FsResult<DescriptorStat> {
        Ok(descriptor_stat(handle(store, &fd)?.stat().await))
    }

    async fn stat_at(
        store: &Accessor<U, Self>,
        fd: Resource<Descriptor>,
        flags: PathFlags,
        path: String,
    ) -> FsResult<DescriptorStat> {
        let dir = dir(store, &fd)?;
        let stat = if flags.contains(PathFlags::SYMLINK_FOLLOW) {
            dir.stat_at(&path).await?
        } else {
            dir.lstat_at(&path).await?
        };
        Ok(descriptor_stat(stat))
    }

    async fn set_times_at(
        store: &Accessor<U, Self>,
        fd: Resource<Descriptor>,
        _: PathFlags,
        path: String,
        _accessed: NewTimestamp,
        modified: NewTimestamp,
    ) -> FsResult<()> {
        let dir = dir(store, &fd)?;
        dir.set_times_at(&path, new_time(modified)?).await
    }

    async fn link_at(
        store: &Accessor<U, Self>,
        fd: Resource<Descriptor>,
        _: PathFlags,
        old_path: String,
        new_fd: Resource<Descriptor>,
        new_path: String,
    ) -> FsResult<()> {
        let new_dir = handle(store, &new_fd)?;
        let dir = dir(store, &fd)?;
        dir.link_at(&old_path, &new_dir, &new_path).await
    }

    async fn open_at(
        store: &Accessor<U, Self>,
        fd: Resource<Descriptor>,
        _: PathFlags,
        path: String,
        oflags: OpenFlags,
        flags: DescriptorFlags,
    ) -> FsResult<Resource<Descriptor>> {
        let options = open_options!(oflags, flags);
        let (budget, memory) = store.with(|mut access| {
            let ctx = &access.get().ctx;
            (ctx.write_budget().clone(), ctx.buffer_memory().clone())
        });
        let dir = dir(store, &fd)?;
        let handle = dir.open_within(&budget, &memory, &path, options).await?;
        let pushed =
            store.with(|mut access| access.get().table.push(Descriptor::new(handle, flags)));
        Ok(pushed?)
    }

    async fn readlink_at(
        store: &Accessor<U, Self>,
        fd: Resource<Descriptor>,
        path: String,
    ) -> FsResult<String> {
        dir(store, &fd)?.readlink_at(&path).await
    }

    async fn remove_directory_at(
        store: &Accessor<U, Self>,
        fd: Resource<Descriptor>,
        path: String,
    ) -> FsResult<()> {
        dir(store, &fd)?.remove_directory_at(&path).await
    }

    async fn rename_at(
        store: &Accessor<U, Self>,
        fd: Resource<Descriptor>,
        old_path: String,
        new_fd: Resource<Descriptor>,
        new_path: String,
    ) -> FsResult<()> {
        let new_dir = handle(store, &new_fd)?;
        let budget = store.with(|mut access| access.get().ctx.write_budget().clone());
        dir(store, &fd)?
            .rename_within(&old_path, &new_dir, &new_path, Some(&budget))
            .await
    }

    async fn symlink_at(
        store: &Accessor<U, Self>,
        fd: Resource<Descriptor>,
        _: String,
        new_path: String,
    ) -> FsResult<()> {
        dir(store, &fd)?.symlink_at(&new_path).await
    }

    async fn unlink_file_at(
        store: &Accessor<U, Self>,
        fd: Resource<Descriptor>,
        path: String,
    ) -> FsResult<()> {
        dir(store, &fd)?.unlink_file_at(&path).await
    }

    async fn is_same_object(
        store: &Accessor<U, Self>,
        a: Resource<Descriptor>,
        b: Resource<Descriptor>,
    ) -> wasmtime::Result<bool> {
        store.with(|mut access| {
            let table = &access.get().table;
            let (a, b) = (table.get(&a)?, table.get(&b)?);
            Ok(a.handle.is_same_object(&b.handle))
        })
    }

    async fn metadata_hash(
        store: &Accessor<U, Self>,
        fd: Resource<Descriptor>,
    ) -> FsResult<MetadataHashValue> {
        Ok(hash_value(handle(store, &fd)?.metadata_hash()))
    }

    async fn metadata_hash_at(
        store: &Accessor<U, Self>,
        fd: Resource<Descriptor>,
        _: PathFlags,
        path: String,
    ) -> FsResult<MetadataHashValue> {
        let dir = dir(store, &fd)?;
        Ok(hash_value(dir.metadata_hash_at(&path).await?))
    }
}

/// `write-via-stream` (at `offset`) and `append-via-stream` (`None`): the guest's stream is
/// piped into the file; a directory is `is-directory`, as in 0.2.
fn write_stream<U>(
    mut store: Access<'_, U, CloudFs>,
    fd: Resource<Descriptor>,
    mut data: StreamReader<u8>,
    offset: Option<u64>,
) -> wasmtime::Result<FutureReader<Result<(), ErrorCode>>> {
    let (mut outcome, result) = Outcome::new();
    let file = {
        let view = store.get();
        view.table.get(&fd)?.handle.as_file().cloned()
    };
    match file {
        Ok(file) => data.pipe(&mut store, FileWriter::new(file, offset, outcome))?,
        Err(error) => {
            data.close(&mut store)?;
            let FsError::Code(code) = error else {
                return Err(wasmtime::format_err!("{error}"));
            };
            outcome.send(Err(wit_error_code(code)));
        }
    }
    FutureReader::new(&mut store, result)
}

impl types::HostDescriptor for CloudFsView<'_> {
    async fn drop(&mut self, fd: Resource<Descriptor>) -> wasmtime::Result<()> {
        let descriptor = self.table.delete(fd)?;
        if let Handle::File(file) = descriptor.handle {
            // Closing commits; a commit that fails stops the run (as in 0.2).
            self.ctx.close(file).await?;
        }
        Ok(())
    }
}
