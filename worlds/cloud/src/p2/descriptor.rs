//! `wasi:filesystem/types` 0.2 over the core filesystem ([`crate::fs`]): each function
//! fetches its descriptor from the resource table, translates the WIT types, calls the core,
//! and maps the core's error code in [`wit_error_code`].

use std::time::SystemTime;

use wasmtime::component::Resource;
use wasmtime_wasi_io::streams::{DynInputStream, DynOutputStream};

use super::bindings::wasi::clocks::wall_clock::Datetime;
use super::bindings::wasi::filesystem::types::{
    self, Advice, DescriptorFlags, DescriptorStat, DescriptorType, DirectoryEntry, ErrorCode,
    Filesize, MetadataHashValue, NewTimestamp, OpenFlags, PathFlags,
};
use super::streams::{DeniedStream, FileInputStream, FileOutputStream, StreamCode};
use crate::CloudFsView;
use crate::fs::{self, Dir, FsError, Handle, Kind, now};

type FsResult<T> = Result<T, FsError>;

/// A descriptor handed to the guest: a core handle, and the flags it reports.
pub struct Descriptor {
    handle: Handle,
    /// A file's flags as opened; a directory's are `read`, and `mutate-directory` unless
    /// its mount is read-only.
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

/// The entries of one directory, a page at a time as the guest reads them.
pub struct DirectoryEntryStream(fs::Listing);

impl From<wasmtime::component::ResourceTableError> for FsError {
    fn from(error: wasmtime::component::ResourceTableError) -> FsError {
        FsError::Trap(error.into())
    }
}

/// The one mapping of the core's error codes to `wasi:filesystem@0.2`'s.
pub fn wit_error_code(code: fs::ErrorCode) -> ErrorCode {
    wit_error_code!(code, ErrorCode, would_block: ErrorCode::WouldBlock)
}

/// The time a `new-timestamp` asks for (`None`: leave it as it is); `overflow` for one the
/// host's clock cannot hold, as wasmtime-wasi answers (a guest's number never panics the host).
fn new_time(time: NewTimestamp) -> Result<Option<SystemTime>, FsError> {
    Ok(match time {
        NewTimestamp::NoChange => None,
        NewTimestamp::Now => Some(SystemTime::now()),
        NewTimestamp::Timestamp(Datetime {
            seconds,
            nanoseconds,
        }) => {
            let seconds = seconds.checked_add(u64::from(nanoseconds / 1_000_000_000));
            let since_epoch =
                seconds.map(|s| std::time::Duration::new(s, nanoseconds % 1_000_000_000));
            let time = since_epoch.and_then(|d| SystemTime::UNIX_EPOCH.checked_add(d));
            Some(time.ok_or(fs::ErrorCode::Overflow)?)
        }
    })
}

fn datetime(time: SystemTime) -> Option<Datetime> {
    let since = time.duration_since(SystemTime::UNIX_EPOCH).ok()?;
    Some(Datetime {
        seconds: since.as_secs(),
        nanoseconds: since.subsec_nanos(),
    })
}

fn descriptor_type(kind: Kind) -> DescriptorType {
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
        data_modification_timestamp: stat.modified.and_then(datetime),
        status_change_timestamp: None,
    }
}

fn directory_entry(entry: fs::DirEntry) -> DirectoryEntry {
    DirectoryEntry {
        type_: descriptor_type(entry.kind),
        name: entry.name,
    }
}

fn hash_value(hash: fs::MetadataHash) -> MetadataHashValue {
    MetadataHashValue {
        lower: hash.lower,
        upper: hash.upper,
    }
}

impl CloudFsView<'_> {
    fn handle(&self, fd: &Resource<Descriptor>) -> FsResult<&Handle> {
        Ok(&self.table.get(fd)?.handle)
    }

    /// A directory descriptor's core handle (`not-directory` for a file).
    fn dir(&self, fd: &Resource<Descriptor>) -> FsResult<Dir> {
        Ok(self.handle(fd)?.as_dir()?.clone())
    }

    /// A file descriptor's core handle (`is-directory` for a directory).
    fn file(&self, fd: &Resource<Descriptor>) -> FsResult<fs::File> {
        Ok(self.handle(fd)?.as_file()?.clone())
    }

    /// `read` without waiting, or `None` if it would wait (a store request): see
    /// [`super::ready_calls`].
    pub(super) fn read_now(
        &self,
        fd: &Resource<Descriptor>,
        len: Filesize,
        offset: Filesize,
    ) -> Option<FsResult<(Vec<u8>, bool)>> {
        let file = match self.handle(fd).and_then(|handle| handle.as_file()) {
            Ok(file) => file,
            Err(error) => return Some(Err(error)),
        };
        let read = file.read_now(len, offset)?;
        Some(read.map(|(bytes, at_end)| (bytes.into_vec(), at_end)))
    }

    /// `stat` without waiting, or `None` if it would wait: see [`super::ready_calls`].
    pub(super) fn stat_now(&self, fd: &Resource<Descriptor>) -> Option<FsResult<DescriptorStat>> {
        let stat = now!(Some(self.handle(fd))).stat_now()?;
        Some(Ok(descriptor_stat(stat)))
    }

    /// `stat-at` without waiting, or `None` if it would wait: see [`super::ready_calls`].
    pub(super) fn stat_at_now(
        &self,
        fd: &Resource<Descriptor>,
        flags: PathFlags,
        path: &str,
    ) -> Option<FsResult<DescriptorStat>> {
        let dir = now!(Some(self.handle(fd).and_then(Handle::as_dir)));
        let follow = flags.contains(PathFlags::SYMLINK_FOLLOW);
        let stat = now!(dir.stat_at_now(path, follow));
        Some(Ok(descriptor_stat(stat)))
    }

    /// `metadata-hash-at` without waiting, or `None` if it would wait: see
    /// [`super::ready_calls`].
    pub(super) fn metadata_hash_at_now(
        &self,
        fd: &Resource<Descriptor>,
        path: &str,
    ) -> Option<FsResult<MetadataHashValue>> {
        let dir = now!(Some(self.handle(fd).and_then(Handle::as_dir)));
        let hash = now!(dir.metadata_hash_at_now(path));
        Some(Ok(hash_value(hash)))
    }

    /// `open-at` without waiting, or `None` if it would wait (or changes something): see
    /// [`super::ready_calls`].
    pub(super) fn open_at_now(
        &mut self,
        fd: &Resource<Descriptor>,
        path: &str,
        oflags: OpenFlags,
        flags: DescriptorFlags,
    ) -> Option<FsResult<Resource<Descriptor>>> {
        let dir = now!(Some(self.handle(fd).and_then(Handle::as_dir)));
        let (budget, memory) = (self.ctx.write_budget(), self.ctx.buffer_memory());
        let handle = now!(dir.open_now(budget, memory, path, open_options!(oflags, flags)));
        Some(
            self.table
                .push(Descriptor::new(handle, flags))
                .map_err(FsError::from),
        )
    }

    /// `read-directory-entry` without waiting, or `None` if it would wait (the next page of
    /// a store's listing): see [`super::ready_calls`].
    pub(super) fn read_directory_entry_now(
        &mut self,
        stream: &Resource<DirectoryEntryStream>,
    ) -> Option<FsResult<Option<DirectoryEntry>>> {
        let listing = &mut now!(Some(self.table.get_mut(stream).map_err(FsError::from))).0;
        let entry = now!(listing.next_now());
        Some(Ok(entry.map(directory_entry)))
    }

    /// Drops a descriptor, closing its file: the file handle if its close still has to
    /// store what it wrote (a wait on the store), else `None`, all done.
    pub(super) fn drop_now(
        &mut self,
        fd: Resource<Descriptor>,
    ) -> wasmtime::Result<Option<fs::File>> {
        match self.table.delete(fd)?.handle {
            Handle::File(file) => Ok(self.ctx.close_now(file).err()),
            Handle::Dir(_) => Ok(None),
        }
    }

    /// `unlink-file-at` without waiting, or `None` if it would wait: see
    /// [`super::ready_calls`].
    pub(super) fn unlink_file_now(
        &self,
        fd: &Resource<Descriptor>,
        path: &str,
    ) -> Option<FsResult<()>> {
        match self.handle(fd).and_then(|handle| handle.as_dir()) {
            Ok(dir) => dir.unlink_file_now(path),
            Err(error) => Some(Err(error)),
        }
    }
}

impl types::Host for CloudFsView<'_> {
    fn convert_error_code(&mut self, err: FsError) -> wasmtime::Result<ErrorCode> {
        match err {
            FsError::Code(code) => Ok(wit_error_code(code)),
            FsError::Trap(error) => Err(error),
        }
    }

    async fn filesystem_error_code(
        &mut self,
        err: Resource<wasmtime::Error>,
    ) -> wasmtime::Result<Option<ErrorCode>> {
        // Our streams fail with a code of their own (`StreamCode`), or with a host error.
        let error = self.table.get(&err)?;
        Ok(Some(
            error
                .downcast_ref::<StreamCode>()
                .map_or(ErrorCode::Io, |code| wit_error_code(code.0)),
        ))
    }
}

impl types::HostDescriptor for CloudFsView<'_> {
    fn read_via_stream(
        &mut self,
        fd: Resource<Descriptor>,
        offset: Filesize,
    ) -> FsResult<Resource<DynInputStream>> {
        let stream: DynInputStream = match self.file(&fd)?.reader() {
            Some(file) => Box::new(FileInputStream::new(file, offset)),
            None => Box::new(DeniedStream),
        };
        Ok(self.table.push(stream)?)
    }

    async fn write_via_stream(
        &mut self,
        fd: Resource<Descriptor>,
        offset: Filesize,
    ) -> FsResult<Resource<DynOutputStream>> {
        let stream: DynOutputStream = match self.file(&fd)?.writer().await? {
            Some(file) => Box::new(FileOutputStream::new(file, Some(offset))),
            None => Box::new(DeniedStream),
        };
        Ok(self.table.push(stream)?)
    }

    async fn append_via_stream(
        &mut self,
        fd: Resource<Descriptor>,
    ) -> FsResult<Resource<DynOutputStream>> {
        let stream: DynOutputStream = match self.file(&fd)?.writer().await? {
            Some(file) => Box::new(FileOutputStream::new(file, None)),
            None => Box::new(DeniedStream),
        };
        Ok(self.table.push(stream)?)
    }

    async fn advise(
        &mut self,
        fd: Resource<Descriptor>,
        _: Filesize,
        _: Filesize,
        _: Advice,
    ) -> FsResult<()> {
        self.handle(&fd)?;
        Ok(())
    }

    async fn sync_data(&mut self, fd: Resource<Descriptor>) -> FsResult<()> {
        self.sync(fd).await
    }

    fn get_flags(&mut self, fd: Resource<Descriptor>) -> FsResult<DescriptorFlags> {
        Ok(self.table.get(&fd)?.flags)
    }

    fn get_type(&mut self, fd: Resource<Descriptor>) -> FsResult<DescriptorType> {
        Ok(descriptor_type(self.handle(&fd)?.kind()))
    }

    async fn set_size(&mut self, fd: Resource<Descriptor>, size: Filesize) -> FsResult<()> {
        self.file(&fd)?.set_size(size).await
    }

    async fn set_times(
        &mut self,
        fd: Resource<Descriptor>,
        _accessed: NewTimestamp,
        modified: NewTimestamp,
    ) -> FsResult<()> {
        // Access times are not kept (stat reports none, as for a `noatime` mount).
        let handle = self.handle(&fd)?.clone();
        handle.set_modified(new_time(modified)?).await
    }

    async fn read(
        &mut self,
        fd: Resource<Descriptor>,
        len: Filesize,
        offset: Filesize,
    ) -> FsResult<(Vec<u8>, bool)> {
        let (bytes, at_end) = self.file(&fd)?.read(len, offset).await?;
        // Without a copy when the read made its buffer (a local file's `pread`).
        Ok((bytes.into_vec(), at_end))
    }

    async fn write(
        &mut self,
        fd: Resource<Descriptor>,
        buf: Vec<u8>,
        offset: Filesize,
    ) -> FsResult<Filesize> {
        self.file(&fd)?.write(&buf, offset).await
    }

    async fn read_directory(
        &mut self,
        fd: Resource<Descriptor>,
    ) -> FsResult<Resource<DirectoryEntryStream>> {
        let memory = self.ctx.buffer_memory().clone();
        let listing = self.dir(&fd)?.list(memory).await?;
        Ok(self.table.push(DirectoryEntryStream(listing))?)
    }

    async fn sync(&mut self, fd: Resource<Descriptor>) -> FsResult<()> {
        let handle = self.handle(&fd)?.clone();
        handle.sync().await
    }

    async fn create_directory_at(
        &mut self,
        fd: Resource<Descriptor>,
        path: String,
    ) -> FsResult<()> {
        let budget = self.ctx.write_budget().clone();
        self.dir(&fd)?
            .create_directory_within(&path, Some(&budget))
            .await
    }

    async fn stat(&mut self, fd: Resource<Descriptor>) -> FsResult<DescriptorStat> {
        let handle = self.handle(&fd)?.clone();
        Ok(descriptor_stat(handle.stat().await))
    }

    async fn stat_at(
        &mut self,
        fd: Resource<Descriptor>,
        flags: PathFlags,
        path: String,
    ) -> FsResult<DescriptorStat> {
        let dir = self.dir(&fd)?;
        let stat = if flags.contains(PathFlags::SYMLINK_FOLLOW) {
            dir.stat_at(&path).await?
        } else {
            dir.lstat_at(&path).await?
        };
        Ok(descriptor_stat(stat))
    }

    async fn set_times_at(
        &mut self,
        fd: Resource<Descriptor>,
        _: PathFlags,
        path: String,
        _accessed: NewTimestamp,
        modified: NewTimestamp,
    ) -> FsResult<()> {
        self.dir(&fd)?
            .set_times_at(&path, new_time(modified)?)
            .await
    }

    async fn link_at(
        &mut self,
        fd: Resource<Descriptor>,
        _: PathFlags,
        old_path: String,
        new_fd: Resource<Descriptor>,
        new_path: String,
    ) -> FsResult<()> {
        let new_dir = self.handle(&new_fd)?.clone();
        self.dir(&fd)?.link_at(&old_path, &new_dir, &new_path).await
    }

    async fn open_at(
        &mut self,
        fd: Resource<Descriptor>,
        _: PathFlags,
        path: String,
        oflags: OpenFlags,
        flags: DescriptorFlags,
    ) -> FsResult<Resource<Descriptor>> {
        let options = open_options!(oflags, flags);
        let handle = self.dir(&fd)?.open_at(self.ctx, &path, options).await?;
        Ok(self.table.push(Descriptor::new(handle, flags))?)
    }

    async fn readlink_at(&mut self, fd: Resource<Descriptor>, path: String) -> FsResult<String> {
        self.dir(&fd)?.readlink_at(&path).await
    }

    async fn remove_directory_at(
        &mut self,
        fd: Resource<Descriptor>,
        path: String,
    ) -> FsResult<()> {
        self.dir(&fd)?.remove_directory_at(&path).await
    }

    async fn rename_at(
        &mut self,
        fd: Resource<Descriptor>,
        old_path: String,
        new_fd: Resource<Descriptor>,
        new_path: String,
    ) -> FsResult<()> {
        let new_dir = self.handle(&new_fd)?.clone();
        let budget = self.ctx.write_budget().clone();
        self.dir(&fd)?
            .rename_within(&old_path, &new_dir, &new_path, Some(&budget))
            .await
    }

    async fn symlink_at(
        &mut self,
        fd: Resource<Descriptor>,
        _: String,
        new_path: String,
    ) -> FsResult<()> {
        self.dir(&fd)?.symlink_at(&new_path).await
    }

    async fn unlink_file_at(&mut self, fd: Resource<Descriptor>, path: String) -> FsResult<()> {
        self.dir(&fd)?.unlink_file_at(&path).await
    }

    fn is_same_object(
        &mut self,
        a: Resource<Descriptor>,
        b: Resource<Descriptor>,
    ) -> wasmtime::Result<bool> {
        let (a, b) = (self.table.get(&a)?, self.table.get(&b)?);
        Ok(a.handle.is_same_object(&b.handle))
    }

    fn metadata_hash(&mut self, fd: Resource<Descriptor>) -> FsResult<MetadataHashValue> {
        Ok(hash_value(self.handle(&fd)?.metadata_hash()))
    }

    async fn metadata_hash_at(
        &mut self,
        fd: Resource<Descriptor>,
        _: PathFlags,
        path: String,
    ) -> FsResult<MetadataHashValue> {
        Ok(hash_value(self.dir(&fd)?.metadata_hash_at(&path).await?))
    }

    async fn drop(&mut self, fd: Resource<Descriptor>) -> wasmtime::Result<()> {
        if let Some(file) = self.drop_now(fd)? {
            // Closing commits; a commit that fails stops the run.
            self.ctx.close(file).await?;
        }
        Ok(())
    }
}

impl types::HostDirectoryEntryStream for CloudFsView<'_> {
    async fn read_directory_entry(
        &mut self,
        stream: Resource<DirectoryEntryStream>,
    ) -> FsResult<Option<DirectoryEntry>> {
        let entry = self.table.get_mut(&stream)?.0.next().await?;
        Ok(entry.map(directory_entry))
    }

    fn drop(&mut self, stream: Resource<DirectoryEntryStream>) -> wasmtime::Result<()> {
        self.table.delete(stream)?;
        Ok(())
    }
}
