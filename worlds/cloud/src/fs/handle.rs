//! Handles: what a guest holds after opening a path, a directory or a file.

use std::sync::Arc;
use std::time::SystemTime;

use super::dir::Dir;
use super::error::{ErrorCode, FsResult};
use super::file::OpenFile;
use super::path::RelPath;
use super::volume::Volume;
use super::{Kind, MetadataHash, Stat};

/// The most one `read` returns (as for a real file, a short read is the guest's to repeat),
/// so a guest's request never sizes a host buffer.
pub const MAX_READ: u64 = 4 << 20;

/// A directory or an open file.
#[derive(Debug, Clone)]
pub enum Handle {
    Dir(Dir),
    File(File),
}

impl From<Dir> for Handle {
    fn from(dir: Dir) -> Handle {
        Handle::Dir(dir)
    }
}

impl Handle {
    /// The directory: `not-directory` for a file.
    pub fn as_dir(&self) -> FsResult<&Dir> {
        match self {
            Handle::Dir(dir) => Ok(dir),
            Handle::File(_) => Err(ErrorCode::NotDirectory.into()),
        }
    }

    /// The file: `is-directory` for a directory.
    pub fn as_file(&self) -> FsResult<&File> {
        match self {
            Handle::File(file) => Ok(file),
            Handle::Dir(_) => Err(ErrorCode::IsDirectory.into()),
        }
    }

    pub fn kind(&self) -> Kind {
        match self {
            Handle::Dir(_) => Kind::Dir,
            Handle::File(_) => Kind::File,
        }
    }

    pub fn volume(&self) -> &Arc<Volume> {
        match self {
            Handle::Dir(dir) => dir.volume(),
            Handle::File(file) => file.open.volume(),
        }
    }

    /// Where the handle's directory or file is (a file may have moved since it was opened).
    pub fn path(&self) -> RelPath {
        match self {
            Handle::Dir(dir) => dir.path().clone(),
            Handle::File(file) => file.open.path(),
        }
    }

    /// `stat`: directories have size 0 and no times; a file is as this handle sees it.
    pub async fn stat(&self) -> Stat {
        match self {
            Handle::Dir(dir) => dir.stat(),
            Handle::File(file) => file.stat().await,
        }
    }

    /// [`Handle::stat`] with no wait: `None` while a call holds the file.
    pub fn stat_now(&self) -> Option<Stat> {
        match self {
            Handle::Dir(dir) => Some(dir.stat()),
            Handle::File(file) => file.stat_now(),
        }
    }

    /// Uploads what a file handle wrote (nothing to do for a directory).
    pub async fn sync(&self) -> FsResult<()> {
        match self {
            Handle::Dir(_) => Ok(()),
            Handle::File(file) => file.sync().await,
        }
    }

    /// A hash of the mount and the path: stable across handles and runs.
    pub fn metadata_hash(&self) -> MetadataHash {
        self.volume().metadata_hash(&self.path())
    }

    /// Sets the modification time (`None`: unchanged). A directory's time is recorded for
    /// the run.
    /// As wasmtime's: a read-only mount's handles, and a file handle opened without write
    /// access, may not (`not-permitted`), even to leave the time as it is.
    pub async fn set_modified(&self, time: Option<SystemTime>) -> FsResult<()> {
        self.volume().check_writable()?;
        if let Handle::File(file) = self
            && !file.write
        {
            return Err(ErrorCode::NotPermitted.into());
        }
        let Some(time) = time else { return Ok(()) };
        match self {
            Handle::Dir(dir) => dir.volume().record_time(dir.path(), time),
            Handle::File(file) => file.open.set_modified(time).await,
        }
        Ok(())
    }

    /// The same file (one open file shared by both handles) or the same path in one mount.
    pub fn is_same_object(&self, other: &Handle) -> bool {
        match (self, other) {
            (Handle::File(a), Handle::File(b)) if Arc::ptr_eq(&a.open, &b.open) => true,
            _ => self.volume().same_mount(other.volume()) && self.path() == other.path(),
        }
    }
}

/// An open file handle: the file shared with its streams, and the access it was opened with.
#[derive(Clone)]
pub struct File {
    open: Arc<OpenFile>,
    read: bool,
    write: bool,
}

impl std::fmt::Debug for File {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("File")
            .field("path", &self.open.path())
            .field("read", &self.read)
            .field("write", &self.write)
            .finish()
    }
}

impl File {
    pub(super) fn new(open: Arc<OpenFile>, read: bool, write: bool) -> File {
        File { open, read, write }
    }

    pub(super) fn into_open_file(self) -> Arc<OpenFile> {
        self.open
    }

    pub fn readable(&self) -> bool {
        self.read
    }

    pub fn writable(&self) -> bool {
        self.write
    }

    /// Reads up to `len` bytes at `offset` (at most [`MAX_READ`]), saying whether that
    /// reached the end of the file. `bad-descriptor` without read access.
    pub async fn read(&self, len: u64, offset: u64) -> FsResult<(super::ReadBytes, bool)> {
        if !self.read {
            return Err(ErrorCode::BadDescriptor.into());
        }
        self.open.read_with_end(offset, len.min(MAX_READ)).await
    }

    /// [`File::read`] without waiting, or `None` if that would wait (a store request).
    pub fn read_now(&self, len: u64, offset: u64) -> Option<FsResult<(super::ReadBytes, bool)>> {
        if !self.read {
            return Some(Err(ErrorCode::BadDescriptor.into()));
        }
        self.open.read_with_end_now(offset, len.min(MAX_READ))
    }

    /// Writes `data` at `offset`, returning how many bytes were written (all of them).
    /// `bad-descriptor` without write access.
    pub async fn write(&self, data: &[u8], offset: u64) -> FsResult<u64> {
        if !self.write {
            return Err(ErrorCode::BadDescriptor.into());
        }
        self.open.write(offset, data).await?;
        Ok(data.len() as u64)
    }

    /// Shrinks or extends (with zeros) to `size`; `invalid` without write access, as
    /// `ftruncate(2)` says.
    pub async fn set_size(&self, size: u64) -> FsResult<()> {
        if !self.write {
            return Err(ErrorCode::Invalid.into());
        }
        self.open.set_size(size).await
    }

    /// The file to read a stream from, or `None` if this handle may not read (a stream is
    /// still made, as wasmtime-wasi does, and fails on first use with `bad-descriptor`).
    pub fn reader(&self) -> Option<Arc<OpenFile>> {
        self.read.then(|| self.open.clone())
    }

    /// The file to write a stream to, made ready for writes, or `None` if this handle may
    /// not write (see [`File::reader`]).
    pub async fn writer(&self) -> FsResult<Option<Arc<OpenFile>>> {
        if !self.write {
            return Ok(None);
        }
        self.open.prepare_write().await?;
        Ok(Some(self.open.clone()))
    }

    /// Size and modification time as this handle sees them (its own writes included).
    pub async fn stat(&self) -> Stat {
        let (size, modified) = self.open.size_and_modified().await;
        Stat::file(size, modified)
    }

    /// [`File::stat`] with no wait: `None` while a call holds the file.
    pub fn stat_now(&self) -> Option<Stat> {
        let (size, modified) = self.open.size_and_modified_now()?;
        Some(Stat::file(size, modified))
    }

    /// Whether closing the handle would store nothing (its file holds no new content), found
    /// with no wait: `false` while a call holds the file.
    pub(super) fn nothing_to_commit_now(&self) -> bool {
        self.open.nothing_to_commit_now()
    }

    /// Uploads what the handle wrote, now.
    pub async fn sync(&self) -> FsResult<()> {
        self.open.sync().await
    }
}
