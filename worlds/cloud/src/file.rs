//! An open file: ranged reads of the stored object, and writes staged until commit.
//!
//! Objects cannot be changed in place, so a handle that writes keeps a private staged copy
//! (the *spool*) and uploads it whole when the guest syncs or closes the file. Readers see
//! the old object until then and the new one after: never a half-written object. The spool
//! lives in memory up to [`MEMORY_SPOOL_LIMIT`] (without limit for in-memory stores, where
//! the data ends up in memory anyway) and on an unnamed temporary file beyond, and large
//! spools are uploaded in parts, so host memory stays bounded whatever the file's size.

use std::io;
use std::os::unix::fs::FileExt;
use std::sync::Arc;
use std::time::SystemTime;

use bytes::Bytes;
use futures::StreamExt;
use object_store::{ObjectStoreExt, PutPayload, WriteMultipart};

use crate::FsError;
use crate::error::{spool_error, store_error};
use crate::mount::{Mount, MountExt};
use crate::path::RelPath;

/// Staged content beyond this size moves from memory to a temporary file.
pub const MEMORY_SPOOL_LIMIT: u64 = 8 << 20;
/// Spools larger than this are uploaded as a multipart upload of parts this size.
pub const UPLOAD_PART_SIZE: usize = 8 << 20;
/// Parts in flight at once during a multipart upload.
const UPLOAD_CONCURRENCY: usize = 2;

/// A file opened by the guest. Shared by its descriptor and the streams made from it.
pub struct OpenFile {
    pub mount: Arc<Mount>,
    pub path: RelPath,
    /// The run's budget of bytes written to stores.
    pub budget: Arc<crate::WriteBudget>,
    /// Where writes are staged.
    pub policy: SpoolPolicy,
    pub state: tokio::sync::Mutex<FileState>,
}

/// Where a file's writes are staged (see [`OpenFile::new`]).
pub struct SpoolPolicy {
    /// Staged bytes beyond this move from memory to disk.
    pub memory_limit: u64,
    /// For a local-directory store, the hidden file beside the target to stage in.
    pub staged_path: Option<std::path::PathBuf>,
}

/// What a handle knows of its file.
#[derive(Default)]
pub struct FileState {
    /// The stored object's size, or `None` when it has not been stored yet (a new file).
    pub stored_size: Option<u64>,
    /// When the content last changed: the object's time, or the time of the last write.
    pub modified: Option<SystemTime>,
    /// The staged content, once the handle has written, truncated or resized.
    pub spool: Option<Spool>,
    /// Whether the spool holds content the store has not got yet.
    pub dirty: bool,
    /// The last commit's failure, reported again by flush so it is never lost silently.
    pub failed: Option<String>,
    /// On a local-directory store, the stored file opened for reading.
    pub local_reader: Option<std::fs::File>,
}

impl FileState {
    /// The file's size as this handle sees it.
    pub fn size(&self) -> u64 {
        match &self.spool {
            Some(spool) => spool.len(),
            None => self.stored_size.unwrap_or(0),
        }
    }
}

impl OpenFile {
    /// Makes sure the spool exists, downloading the stored object into it if there is one
    /// (unless `truncate`, which starts from nothing).
    pub async fn materialize(&self, state: &mut FileState, truncate: bool) -> Result<(), FsError> {
        if state.spool.is_some() {
            return Ok(());
        }
        let mut spool = Spool::Memory(Vec::new());
        if let (Some(size), false) = (state.stored_size, truncate)
            && size > 0
        {
            let key = self.path.key();
            let mut stream = self
                .mount
                .store
                .get(&key)
                .await
                .map_err(|e| store_error(e, &key))?
                .into_stream();
            let mut offset = 0;
            while let Some(chunk) = stream.next().await {
                let chunk = chunk.map_err(|e| store_error(e, &key))?;
                spool
                    .write_at(offset, &chunk, &self.policy)
                    .map_err(spool_error)?;
                offset += chunk.len() as u64;
            }
        }
        state.spool = Some(spool);
        Ok(())
    }

    /// A file opened at `path`. Its writes are staged in memory up to a limit (none for
    /// in-memory stores), then in a temporary file, which for a local-directory store is a
    /// hidden `NAME#DIGITS` file beside the target (object_store's own staging name, never
    /// listed), so that committing is a rename.
    pub fn new(
        mount: Arc<Mount>,
        path: RelPath,
        budget: Arc<crate::WriteBudget>,
        state: FileState,
    ) -> OpenFile {
        static STAGED: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let staged_path = mount.local_path(&path).map(|target| {
            let n = STAGED.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let mut name = target.into_os_string();
            name.push(format!("#{}{n}", std::process::id()));
            std::path::PathBuf::from(name)
        });
        let memory_limit = if mount.in_memory {
            u64::MAX
        } else {
            MEMORY_SPOOL_LIMIT
        };
        OpenFile {
            mount,
            path,
            budget,
            policy: SpoolPolicy {
                memory_limit,
                staged_path,
            },
            state: tokio::sync::Mutex::new(state),
        }
    }

    /// Reads up to `len` bytes at `offset`: from the spool if the handle has one, else a
    /// ranged read of the stored object (only the bytes asked for are fetched).
    pub async fn read_at(
        &self,
        state: &mut FileState,
        offset: u64,
        len: u64,
    ) -> Result<Bytes, FsError> {
        let size = state.size();
        if offset >= size || len == 0 {
            return Ok(Bytes::new());
        }
        let end = size.min(offset.saturating_add(len));
        match &mut state.spool {
            Some(spool) => spool.read_at(offset, end - offset).map_err(spool_error),
            None => match self.mount.local_path(&self.path) {
                Some(local) => {
                    if state.local_reader.is_none() {
                        state.local_reader =
                            Some(std::fs::File::open(&local).map_err(spool_error)?);
                    }
                    let reader = state.local_reader.as_ref().expect("opened above");
                    let bytes = read_exact_at(reader, offset, end - offset).map_err(spool_error)?;
                    self.mount.stats.read(bytes.len() as u64);
                    Ok(bytes)
                }
                None => {
                    let key = self.path.key();
                    let bytes = self
                        .mount
                        .store
                        .get_range(&key, offset..end)
                        .await
                        .map_err(|e| store_error(e, &key))?;
                    self.mount.stats.read(bytes.len() as u64);
                    Ok(bytes)
                }
            },
        }
    }

    /// Writes `data` at `offset` into the spool (which must exist).
    pub fn write_at(&self, state: &mut FileState, offset: u64, data: &[u8]) -> Result<(), FsError> {
        // The bytes written, and the zeros of any gap they leave past the end, count.
        let gap = offset.saturating_sub(state.size());
        self.charge(data.len() as u64 + gap)?;
        let spool = state
            .spool
            .as_mut()
            .ok_or_else(|| FsError::trap(wasmtime::format_err!("write before the spool exists")))?;
        spool
            .write_at(offset, data, &self.policy)
            .map_err(spool_error)?;
        state.dirty = true;
        state.modified = Some(SystemTime::now());
        Ok(())
    }

    /// Counts `bytes` against the run's budget of bytes written to stores; past it the run
    /// stops (a guest cannot grow files, or host memory, beyond the limit).
    pub fn charge(&self, bytes: u64) -> Result<(), FsError> {
        self.budget.spend(bytes).map_err(FsError::trap)
    }

    /// Uploads the spool if it holds new content. With `closing`, the spool is consumed
    /// (no copy of a memory spool is made).
    pub async fn commit(&self, state: &mut FileState, closing: bool) -> Result<(), FsError> {
        if !state.dirty {
            return Ok(());
        }
        let result = self.upload(state, closing).await;
        match &result {
            Ok(size) => {
                state.dirty = false;
                state.stored_size = Some(*size);
                state.failed = None;
                self.mount.stats.wrote(*size);
                tracing::debug!(mount = %self.mount.url, path = %self.path, size, "committed");
            }
            Err(error) => {
                state.failed = Some(error.to_string());
            }
        }
        result.map(|_| ()).map_err(|e| store_error(e, &self.path))
    }

    async fn upload(&self, state: &mut FileState, closing: bool) -> object_store::Result<u64> {
        let key = self.path.key();
        let store = &self.mount.store;
        match state.spool.as_mut() {
            None => {
                // A new file that was never written: commit it empty.
                store.put(&key, PutPayload::default()).await?;
                Ok(0)
            }
            Some(Spool::Memory(data)) => {
                let size = data.len() as u64;
                let bytes = if closing {
                    Bytes::from(std::mem::take(data))
                } else {
                    Bytes::copy_from_slice(data)
                };
                if closing {
                    state.spool = None;
                }
                store.put(&key, PutPayload::from(bytes)).await?;
                Ok(size)
            }
            Some(Spool::Disk {
                staged: Some(staged),
                len,
                ..
            }) => {
                // A local store: the staged file becomes the object by an atomic rename.
                let size = *len;
                let target = self
                    .mount
                    .local_path(&self.path)
                    .expect("staged only on local stores");
                let parent_made = target.parent().map_or(Ok(()), std::fs::create_dir_all);
                if closing {
                    parent_made
                        .and_then(|()| std::fs::rename(&*staged, &target))
                        .map_err(io_to_store)?;
                    // Moved into place: nothing staged is left to remove.
                    *staged = std::path::PathBuf::new();
                    state.spool = None;
                } else {
                    // A sync: publish a copy (renamed into place whole) and keep staging, so
                    // the handle and its streams go on writing.
                    let mut copy = staged.clone().into_os_string();
                    copy.push("0");
                    let copy = std::path::PathBuf::from(copy);
                    let published = parent_made
                        .and_then(|()| std::fs::copy(&*staged, &copy))
                        .and_then(|_| std::fs::rename(&copy, &target));
                    if published.is_err() {
                        let _ = std::fs::remove_file(&copy);
                    }
                    published.map_err(io_to_store)?;
                }
                state.local_reader = None;
                Ok(size)
            }
            Some(Spool::Disk {
                file,
                len,
                staged: None,
            }) => {
                let size = *len;
                if size <= UPLOAD_PART_SIZE as u64 {
                    let bytes = read_exact_at(file, 0, size).map_err(io_to_store)?;
                    store.put(&key, PutPayload::from(bytes)).await?;
                    return Ok(size);
                }
                let upload = store.put_multipart(&key).await?;
                let mut writer = WriteMultipart::new_with_chunk_size(upload, UPLOAD_PART_SIZE);
                let mut offset = 0;
                while offset < size {
                    let chunk_len = (size - offset).min(1 << 20);
                    let chunk = match read_exact_at(file, offset, chunk_len) {
                        Ok(chunk) => chunk,
                        Err(e) => {
                            let _ = writer.abort().await;
                            return Err(io_to_store(e));
                        }
                    };
                    if let Err(e) = writer.wait_for_capacity(UPLOAD_CONCURRENCY).await {
                        let _ = writer.abort().await;
                        return Err(e);
                    }
                    writer.put(chunk);
                    offset += chunk_len;
                }
                writer.finish().await?;
                Ok(size)
            }
        }
    }
}

fn io_to_store(error: io::Error) -> object_store::Error {
    object_store::Error::Generic {
        store: "staging file",
        source: Box::new(error),
    }
}

fn read_exact_at(file: &std::fs::File, offset: u64, len: u64) -> io::Result<Bytes> {
    let mut buffer = vec![0; len as usize];
    file.read_exact_at(&mut buffer, offset)?;
    Ok(Bytes::from(buffer))
}

/// Staged file content: in memory, or on disk once it grows (an unnamed temporary file, or
/// for a local store a hidden staged file beside the target, removed unless committed).
pub enum Spool {
    Memory(Vec<u8>),
    Disk {
        file: std::fs::File,
        len: u64,
        staged: Option<std::path::PathBuf>,
    },
}

impl Drop for Spool {
    fn drop(&mut self) {
        if let Spool::Disk {
            staged: Some(staged),
            ..
        } = self
            && !staged.as_os_str().is_empty()
        {
            let _ = std::fs::remove_file(staged);
        }
    }
}

impl Spool {
    pub fn len(&self) -> u64 {
        match self {
            Spool::Memory(data) => data.len() as u64,
            Spool::Disk { len, .. } => *len,
        }
    }

    pub fn read_at(&mut self, offset: u64, len: u64) -> io::Result<Bytes> {
        let end = self.len().min(offset.saturating_add(len));
        if offset >= end {
            return Ok(Bytes::new());
        }
        match self {
            Spool::Memory(data) => Ok(Bytes::copy_from_slice(&data[offset as usize..end as usize])),
            Spool::Disk { file, .. } => read_exact_at(file, offset, end - offset),
        }
    }

    /// Writes `data` at `offset`, zero-filling any gap, spilling to disk past `limit`.
    pub fn write_at(&mut self, offset: u64, data: &[u8], policy: &SpoolPolicy) -> io::Result<()> {
        let end = offset
            .checked_add(data.len() as u64)
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "file offset overflow"))?;
        self.spill_if_over(end, policy)?;
        match self {
            // Appending, the common case, copies once (no zero-fill first).
            Spool::Memory(buffer) if offset as usize == buffer.len() => {
                buffer.extend_from_slice(data)
            }
            Spool::Memory(buffer) => {
                let (offset, end) = (offset as usize, end as usize);
                if buffer.len() < end {
                    buffer.resize(end, 0);
                }
                buffer[offset..end].copy_from_slice(data);
            }
            Spool::Disk { file, len, .. } => {
                file.write_all_at(data, offset)?;
                *len = (*len).max(end);
            }
        }
        Ok(())
    }

    /// Shrinks or extends (with zeros) to `size`.
    pub fn set_len(&mut self, size: u64, policy: &SpoolPolicy) -> io::Result<()> {
        self.spill_if_over(size, policy)?;
        match self {
            Spool::Memory(buffer) => buffer.resize(size as usize, 0),
            Spool::Disk { file, len, .. } => {
                file.set_len(size)?;
                *len = size;
            }
        }
        Ok(())
    }

    fn spill_if_over(&mut self, size: u64, policy: &SpoolPolicy) -> io::Result<()> {
        if let Spool::Memory(buffer) = self
            && size > policy.memory_limit
        {
            let (file, staged) = match &policy.staged_path {
                Some(path) => {
                    if let Some(parent) = path.parent() {
                        std::fs::create_dir_all(parent)?;
                    }
                    let file = std::fs::OpenOptions::new()
                        .read(true)
                        .write(true)
                        .create_new(true)
                        .open(path)?;
                    (file, Some(path.clone()))
                }
                None => (tempfile::tempfile()?, None),
            };
            file.write_all_at(buffer, 0)?;
            *self = Spool::Disk {
                file,
                len: buffer.len() as u64,
                staged,
            };
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spool_writes_reads_and_spills_alike() {
        let staging = tempfile::tempdir().unwrap();
        for (limit, staged_path) in [
            (u64::MAX, None),
            (4, None),
            (4, Some(staging.path().join("f#1"))),
        ] {
            let limit_is_small = limit == 4;
            let limit = &SpoolPolicy {
                memory_limit: limit,
                staged_path: staged_path.clone(),
            };
            let mut spool = Spool::Memory(Vec::new());
            spool.write_at(0, b"hello", limit).unwrap();
            spool.write_at(8, b"!", limit).unwrap();
            assert_eq!(spool.len(), 9);
            assert_eq!(&spool.read_at(0, 100).unwrap()[..], b"hello\0\0\0!");
            spool.set_len(4, limit).unwrap();
            assert_eq!(&spool.read_at(0, 100).unwrap()[..], b"hell");
            spool.set_len(6, limit).unwrap();
            assert_eq!(&spool.read_at(2, 100).unwrap()[..], b"ll\0\0");
            assert_eq!(spool.read_at(6, 1).unwrap().len(), 0);
            assert_eq!(matches!(spool, Spool::Disk { .. }), limit_is_small);
            assert_eq!(
                staged_path.as_ref().is_some_and(|path| path.exists()),
                staged_path.is_some()
            );
            drop(spool);
            assert!(
                !staged_path.is_some_and(|path| path.exists()),
                "an uncommitted staged file is removed"
            );
        }
    }
}
