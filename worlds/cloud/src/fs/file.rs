//! An open file: ranged reads of the stored object, and writes staged until commit.
//!
//! Objects cannot be changed in place, so a handle that writes keeps a private staged copy
//! (the *spool*) and uploads it whole when the guest syncs or closes the file. Readers see
//! the old object until then and the new one after: never a half-written object. The spool
//! lives in memory up to [`MEMORY_SPOOL_LIMIT`] (without limit for in-memory stores, where
//! the data ends up in memory anyway) and on an unnamed temporary file beyond, and large
//! spools are uploaded in parts, so host memory stays bounded whatever the file's size.
//!
//! On a local-directory store, reads go through the stored file opened once, and a large
//! spool is staged beside its target and committed by a rename.

use std::sync::Arc;
use std::time::SystemTime;

use bytes::Bytes;
use futures::StreamExt;
use object_store::{GetOptions, GetRange, ObjectStore, ObjectStoreExt, PutPayload};
use worldhost_store::LocalRoot;

use super::ctx::WriteBudget;
use super::error::{FsError, FsResult, spool_error, store_error};
use super::held::BufferMemory;
use super::path::RelPath;
use super::spool::{Spool, SpoolPolicy, StagedAt, io_to_store, read_exact_at};
use super::volume::{KEEP_CONTENT_MAX, Kept, KeptContent, Volume};

/// Staged content beyond this size moves from memory to a temporary file.
pub const MEMORY_SPOOL_LIMIT: u64 = 8 << 20;
/// Spools larger than this are uploaded as a multipart upload of parts this size.
pub const UPLOAD_PART_SIZE: usize = 8 << 20;
/// Parts in flight at once during a multipart upload.
const UPLOAD_CONCURRENCY: usize = 2;

/// A file opened by the guest. Shared by its handle and the streams made from it.
pub struct OpenFile {
    volume: Arc<Volume>,
    /// Where the file is in the namespace: renames move it, and once unlinked it is nowhere
    /// (its handles keep reading and writing its content, which is never published).
    link: std::sync::Mutex<Link>,
    /// The run's budget of bytes written to stores.
    budget: Arc<WriteBudget>,
    /// Where writes are staged.
    policy: SpoolPolicy,
    state: tokio::sync::Mutex<FileState>,
}

/// Why a commit on close or at exit failed.
pub(super) enum CommitFailed {
    /// A limit of the run: it stops the run as that limit.
    Stopped(wasmtime::Error),
    /// The store refused or failed: its message.
    Store(String),
}

/// Where an open file is in the namespace.
#[derive(Debug, Clone)]
enum Link {
    At(RelPath),
    /// Unlinked, or replaced by a rename onto its name; the path is where it was.
    Gone(RelPath),
}

/// What a handle knows of its file.
#[derive(Default)]
pub(super) struct FileState {
    /// The stored object's size, or `None` when it has not been stored yet (a new file).
    pub stored_size: Option<u64>,
    /// When the content last changed: the object's time, or the time of the last write.
    pub modified: Option<SystemTime>,
    /// The staged content, once the handle has written, truncated or resized.
    pub spool: Option<Spool>,
    /// Whether the spool holds content the store has not got yet.
    pub dirty: bool,
    /// Bytes counted against the write budget since the last commit: a commit that uploads
    /// more (the whole object, after a one-byte write) counts the rest then.
    pub charged: u64,
    /// The last commit's failure, reported again by flush so it is never lost silently.
    pub failed: Option<String>,
    /// On a local-directory store, the stored file opened for reading; on a cloud store, the
    /// staged copy of the stored object the run kept from its own upload (no GET to read it).
    pub local_reader: Option<std::fs::File>,
    /// On an in-memory store, the stored object as first read (the store's own bytes, not a
    /// copy): later reads slice it, and it stays what the handle reads until the handle's own
    /// commit, as an open file on a disk keeps its content when another replaces it.
    pub memory_object: Option<Bytes>,
    /// On a cloud store, a small file's content as its last upload stored it, for the
    /// volume to keep (reads of it in this run then need no GET).
    pub kept: Option<Kept>,
}

/// The rest of a stored object from some offset, streamed by one GET ([`OpenFile::stored_body`]):
/// what a sequential reader of a cloud store's file reads once past its first window.
pub struct StoredBody {
    chunks: futures::stream::BoxStream<'static, object_store::Result<Bytes>>,
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
    pub(super) async fn materialize(&self, state: &mut FileState, truncate: bool) -> FsResult<()> {
        if state.spool.is_some() {
            return Ok(());
        }
        let mut spool = Spool::Memory(Vec::new());
        if let (Some(size), false, Some(reader)) =
            (state.stored_size, truncate, &state.local_reader)
        {
            // A local file held open (perhaps unlinked since): copied from the descriptor.
            let mut offset = 0;
            while offset < size {
                let chunk = read_exact_at(reader, offset, (size - offset).min(1 << 20))
                    .map_err(spool_error)?;
                spool
                    .write_at(offset, &chunk, &self.policy)
                    .map_err(spool_error)?;
                offset += chunk.len() as u64;
            }
        } else if let (Some(_), false, Some(object)) =
            (state.stored_size, truncate, &state.memory_object)
        {
            // The content the handle reads already (kept from this run's upload, or an
            // in-memory store's object): no second download.
            spool
                .write_at(0, object, &self.policy)
                .map_err(spool_error)?;
        } else if let (Some(size), false) = (state.stored_size, truncate)
            && size > 0
        {
            let path = self.path();
            let key = path.key_ref();
            let mut stream = self
                .volume
                .store()
                .get(key)
                .await
                .map_err(|e| store_error(e, key))?
                .into_stream();
            let mut offset = 0;
            while let Some(chunk) = stream.next().await {
                let chunk = chunk.map_err(|e| store_error(e, key))?;
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
    pub(super) fn new(
        volume: Arc<Volume>,
        path: RelPath,
        budget: Arc<WriteBudget>,
        run_memory: &Arc<BufferMemory>,
        state: FileState,
    ) -> OpenFile {
        let stage_beside = volume.local_root().map(|root| StagedAt {
            root: root.clone(),
            key: path.key_ref().as_ref().to_owned(),
        });
        let memory_limit = if volume.in_memory() {
            u64::MAX
        } else {
            MEMORY_SPOOL_LIMIT
        };
        // In-memory stores keep the data in memory anyway: their spools stay there, up to
        // what the store could hold (shared by every run on the mount), then move to disk
        // like any other.
        let run_memory = match volume.in_memory() {
            true => volume.memory_spools().clone(),
            false => run_memory.clone(),
        };
        OpenFile {
            volume,
            link: std::sync::Mutex::new(Link::At(path)),
            budget,
            policy: SpoolPolicy {
                memory_limit,
                stage_beside,
                run_memory: Some(run_memory),
                holding: Default::default(),
            },
            state: tokio::sync::Mutex::new(state),
        }
    }

    /// Reads up to `len` bytes at `offset`: from the spool if the handle has one, else a
    /// ranged read of the stored object (only the bytes asked for are fetched).
    pub(super) async fn read_at(
        &self,
        state: &mut FileState,
        offset: u64,
        len: u64,
    ) -> FsResult<ReadBytes> {
        if let Some(read) = self.read_ready(state, offset, len) {
            return read;
        }
        let end = state.size().min(offset.saturating_add(len));
        // Boxed: a store's futures are large, and inline they made every read's future (the
        // local `pread`'s too) 1.2 KB to move at each call.
        if self.volume.in_memory() {
            // An in-memory store's object: the whole of it, kept for the next reads.
            let object = Box::pin(self.fetch_whole()).await?;
            let object = state.memory_object.insert(object);
            return Ok(ReadBytes::Shared(read_object(object, offset, end, self)));
        }
        let bytes = Box::pin(self.fetch_range(offset..end)).await?;
        self.volume.mount().stats.read(bytes.len() as u64);
        Ok(ReadBytes::Shared(bytes))
    }

    /// One GET of the stored object from `offset` to its end, for a sequential reader to take
    /// chunk by chunk ([`OpenFile::next_stored_chunk`]): a whole-file read in one request, not
    /// one a window. `None` if the handle reads from elsewhere (its staged copy, an object at
    /// hand, a local or in-memory store) or nothing is left. Host memory holds a chunk at a
    /// time: the connection is read only as the guest reads, so a reader that stops early has
    /// fetched what it read and what the socket buffered.
    pub async fn stored_body(&self, offset: u64) -> FsResult<Option<StoredBody>> {
        let state = self.state.lock().await;
        let from_store = state.spool.is_none()
            && state.memory_object.is_none()
            && state.local_reader.is_none()
            && !self.volume.is_local()
            && !self.volume.in_memory();
        let size = match state.stored_size {
            Some(size) if from_store && offset < size => size,
            _ => return Ok(None),
        };
        let path = self.path();
        let key = path.key_ref();
        let options = GetOptions {
            range: Some(GetRange::Bounded(offset..size)),
            ..Default::default()
        };
        let got = Box::pin(self.volume.store().get_opts(key, options)).await;
        let got = got.map_err(|e| store_error(e, key))?;
        Ok(Some(StoredBody {
            chunks: got.into_stream(),
        }))
    }

    /// The next chunk of `body`; `None` when it has ended, failed, or no longer streams the
    /// file's content: the reader goes on by ranged reads, which see the content as it is now
    /// and report any error. The content changes only through a staged copy, which stays while
    /// a stream holds the file (only the last holder's close lets it go).
    pub async fn next_stored_chunk(&self, body: &mut StoredBody) -> Option<Bytes> {
        if self.state.lock().await.spool.is_some() {
            return None;
        }
        match body.chunks.next().await {
            Some(Ok(chunk)) if !chunk.is_empty() => {
                self.volume.mount().stats.read(chunk.len() as u64);
                Some(chunk)
            }
            _ => None,
        }
    }

    /// [`OpenFile::read_at`] when it needs no store request: from the staged copy, a local
    /// file, or an object already at hand (`None` otherwise).
    fn read_ready(
        &self,
        state: &mut FileState,
        offset: u64,
        len: u64,
    ) -> Option<FsResult<ReadBytes>> {
        let size = state.size();
        if offset >= size || len == 0 {
            return Some(Ok(ReadBytes::Shared(Bytes::new())));
        }
        let end = size.min(offset.saturating_add(len));
        Some(match &mut state.spool {
            Some(spool) => spool
                .read_at(offset, end - offset)
                .map(ReadBytes::Shared)
                .map_err(spool_error),
            // A local store's file, or the staged copy kept of what this run stored.
            None if state.local_reader.is_some() || self.volume.is_local() => {
                let reader = match &mut state.local_reader {
                    Some(reader) => reader,
                    empty => match self.open_local() {
                        Ok(reader) => empty.insert(reader),
                        Err(error) => return Some(Err(error)),
                    },
                };
                // One `pread` into a buffer handed on whole (no copy on the way to the guest).
                let read = LocalRoot::read_file_at(reader, offset, (end - offset) as usize);
                read.map_err(spool_error).map(|made| {
                    self.volume.mount().stats.read(made.len() as u64);
                    ReadBytes::Made(made)
                })
            }
            // The content this run stored (kept by the volume), or a `memory:` object read
            // before.
            None => {
                let object = state.memory_object.as_ref()?;
                Ok(ReadBytes::Shared(read_object(object, offset, end, self)))
            }
        })
    }

    /// The whole stored object.
    async fn fetch_whole(&self) -> FsResult<Bytes> {
        let path = self.path();
        let key = path.key_ref();
        let got = self.volume.store().get(key).await;
        let got = got.map_err(|e| store_error(e, key))?.bytes().await;
        got.map_err(|e| store_error(e, key))
    }

    /// `range` of the stored object.
    async fn fetch_range(&self, range: std::ops::Range<u64>) -> FsResult<Bytes> {
        let path = self.path();
        let key = path.key_ref();
        let got = self.volume.store().get_range(key, range).await;
        got.map_err(|e| store_error(e, key))
    }

    /// Writes `data` at `offset` into the spool (which must exist).
    pub(super) fn write_at(&self, state: &mut FileState, offset: u64, data: &[u8]) -> FsResult<()> {
        // The bytes written, and the zeros of any gap they leave past the end, count.
        // Checked: a hostile offset near 2^64 must not wrap the charge back to nothing.
        let gap = offset.saturating_sub(state.size());
        let bytes = (data.len() as u64).saturating_add(gap);
        self.charge(bytes)?;
        state.charged = state.charged.saturating_add(bytes);
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
    pub(super) fn charge(&self, bytes: u64) -> FsResult<()> {
        self.budget.spend(bytes).map_err(FsError::trap)
    }

    /// Uploads the spool if it holds new content. With `closing`, the spool is consumed
    /// (no copy of a memory spool is made). With `durable` (a guest's sync), a local store's
    /// publish is fsync'd before it returns; a close is not, as on a real disk. An unlinked
    /// file is never published.
    pub(super) async fn commit(
        &self,
        state: &mut FileState,
        closing: bool,
        durable: bool,
    ) -> FsResult<()> {
        let Link::At(path) = self.link() else {
            return Ok(());
        };
        if !state.dirty {
            return Ok(());
        }
        // An upload writes the whole file: what the writes since the last commit did not count
        // (the unchanged rest of a file patched in place) counts now, before it is sent.
        let uploading = state.size();
        self.charge(uploading.saturating_sub(state.charged))?;
        state.charged = state.charged.max(uploading);
        let result = self.upload(&path, state, closing, durable).await;
        match &result {
            Ok(size) => {
                state.dirty = false;
                state.charged = 0;
                state.stored_size = Some(*size);
                // What the handle reads from now on is what it just stored: its staged copy
                // if it keeps one, else the store.
                state.memory_object = None;
                state.local_reader = match &state.kept {
                    Some(Kept {
                        content: KeptContent::Staged { file, .. },
                        ..
                    }) => file.try_clone().ok(),
                    _ => None,
                };
                state.failed = None;
                self.volume.mount().stats.wrote(*size);
                let modified = state.modified.unwrap_or_else(SystemTime::now);
                self.volume.refresh_time(&path, modified);
                self.volume
                    .stored_file(&path, *size, modified, state.kept.take());
                self.keep_set_time(&path);
                tracing::debug!(mount = %self.volume.url(), %path, size, "committed");
            }
            Err(error) => {
                state.failed = Some(error.to_string());
            }
        }
        result.map(|_| ()).map_err(|e| store_error(e, &path))
    }

    /// On a local store, gives the stored file the modification time the guest set.
    fn keep_set_time(&self, path: &RelPath) {
        self.volume.keep_time_on_disk(path);
    }

    async fn upload(
        &self,
        path: &RelPath,
        state: &mut FileState,
        closing: bool,
        durable: bool,
    ) -> object_store::Result<u64> {
        let key = path.key_ref();
        let store = self.volume.store();
        match state.spool.as_mut() {
            None => {
                // Dirty without a spool cannot happen (a memory spool is consumed only by a
                // commit that succeeded): refuse rather than store an empty object.
                Err(io_to_store(std::io::Error::other(
                    "the file's staged content is gone",
                )))
            }
            Some(Spool::Memory(data)) => {
                let size = data.len() as u64;
                if let Some(root) = self.volume.local_root() {
                    // A local store: written beside the target, made durable, renamed over it
                    // (in its directory, reached with no link).
                    let key = key.as_ref();
                    let name = key.rsplit_once('/').map_or(key, |(_, name)| name);
                    root.publish(key, &staged_file_name(name), data, durable)
                        .map_err(io_to_store)?;
                    state.local_reader = None;
                    return Ok(size);
                }
                if !closing {
                    store
                        .put(key, PutPayload::from(Bytes::copy_from_slice(data)))
                        .await?;
                    return Ok(size);
                }
                let bytes = Bytes::from(std::mem::take(data));
                match store.put(key, PutPayload::from(bytes.clone())).await {
                    Ok(put) => {
                        state.spool = None;
                        self.policy.release_all();
                        // A small file's content, for the volume to keep (no copy).
                        if size <= KEEP_CONTENT_MAX && !self.volume.in_memory() {
                            let e_tag = put.e_tag;
                            let content = KeptContent::Bytes(bytes);
                            state.kept = Some(Kept { content, e_tag });
                        }
                        Ok(size)
                    }
                    Err(error) => {
                        // Kept for another try (at exit, or a flush): never lost, never empty.
                        state.spool = Some(Spool::Memory(Vec::from(bytes)));
                        self.policy.hold_again(size);
                        Err(error)
                    }
                }
            }
            Some(Spool::Disk {
                file,
                staged: Some(staged),
                len,
            }) => {
                // A local store: the staged file becomes the object by an atomic rename, every
                // step beneath the store's root.
                let size = *len;
                let (root, target) = (&staged.root, key.as_ref());
                if closing {
                    (if durable { file.sync_all() } else { Ok(()) })
                        .and_then(|()| root.rename_staged(&staged.key, target))
                        .and_then(|()| {
                            if durable {
                                root.sync_parent(target)
                            } else {
                                Ok(())
                            }
                        })
                        .map_err(io_to_store)?;
                    // Moved into place: nothing staged is left to remove.
                    staged.key.clear();
                    state.spool = None;
                } else {
                    // A sync: publish a copy (renamed into place whole) and keep staging, so
                    // the handle and its streams go on writing.
                    let copy = format!("{}0", staged.key);
                    let published = root
                        .create_staged(&copy)
                        .and_then(|mut to| {
                            let mut from = file.try_clone()?;
                            std::io::Seek::rewind(&mut from)?;
                            std::io::copy(&mut from, &mut to)?;
                            to.sync_all()
                        })
                        .and_then(|()| root.rename_staged(&copy, target))
                        .and_then(|()| root.sync_parent(target));
                    if published.is_err() {
                        let _ = root.remove_staged(&copy);
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
                let put = if size <= UPLOAD_PART_SIZE as u64 {
                    let bytes = read_exact_at(file, 0, size).map_err(io_to_store)?;
                    store.put(key, PutPayload::from(bytes)).await?
                } else {
                    upload_in_parts(store, key, file, size).await?
                };
                if closing && size > MEMORY_SPOOL_LIMIT && !self.volume.in_memory() {
                    // The staged copy (an unlinked temporary file) stays for reads of what was
                    // just stored, while the volume has room for it: read back, it needs no GET.
                    // Only past the memory staging size, so the room bounds the descriptors
                    // kept open too (1 GiB: at most 128), however a guest truncates its files.
                    if let Ok(copy) = file.try_clone() {
                        let file = Arc::new(copy);
                        let content = KeptContent::Staged { file, len: size };
                        state.kept = Some(Kept {
                            content,
                            e_tag: put.e_tag,
                        });
                        // The copy is what the store holds now: a later write through this
                        // file stages afresh (from the copy), never into it.
                        state.spool = None;
                        self.policy.release_all();
                    }
                }
                Ok(size)
            }
        }
    }
}

/// Uploads the first `size` bytes of `file` to `key` as a multipart upload, a part at a time
/// read from the file, with [`UPLOAD_CONCURRENCY`] parts in flight. Aborted on an error, and
/// when dropped (a run stopped by a limit).
async fn upload_in_parts(
    store: &dyn object_store::ObjectStore,
    key: &object_store::path::Path,
    file: &std::fs::File,
    size: u64,
) -> object_store::Result<object_store::PutResult> {
    let upload = store.put_multipart(key).await?;
    let mut writer = worldhost_store::Upload::new(upload, UPLOAD_PART_SIZE);
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
    writer.finish().await
}

/// What streams and handles ask of an open file (each takes the file's lock itself).
impl OpenFile {
    pub fn volume(&self) -> &Arc<Volume> {
        &self.volume
    }

    /// Where the file is (or, once unlinked, was).
    /// The run's allowance of memory for buffers (read streams' windows draw on it too).
    pub fn run_memory(&self) -> Option<&Arc<BufferMemory>> {
        self.policy.run_memory.as_ref()
    }

    pub fn path(&self) -> RelPath {
        match self.link() {
            Link::At(path) | Link::Gone(path) => path,
        }
    }

    fn link(&self) -> Link {
        self.link.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Whether the file still has a name (it was not unlinked or replaced).
    pub fn is_linked(&self) -> bool {
        matches!(self.link(), Link::At(_))
    }

    /// Takes the file out of the namespace: its handles keep its content; it is never
    /// published.
    pub(super) fn unlink(&self) {
        let mut link = self.link.lock().unwrap_or_else(|e| e.into_inner());
        if let Link::At(path) = &*link {
            *link = Link::Gone(path.clone());
        }
    }

    /// Gives the file its new name after a rename.
    pub(super) fn moved_to(&self, path: RelPath) {
        *self.link.lock().unwrap_or_else(|e| e.into_inner()) = Link::At(path);
    }

    /// Reads up to `len` bytes at `offset`: from the handle's staged copy if it has one, else
    /// a ranged read of the stored object (only the bytes asked for are fetched).
    pub async fn read(&self, offset: u64, len: u64) -> FsResult<Bytes> {
        let mut state = self.state.lock().await;
        Ok(self.read_at(&mut state, offset, len).await?.into_bytes())
    }

    /// [`OpenFile::read`] without waiting, or `None` if that would wait (for the file's lock,
    /// or a store request).
    pub fn read_now(&self, offset: u64, len: u64) -> Option<FsResult<Bytes>> {
        let mut state = self.state.try_lock().ok()?;
        Some(
            self.read_ready(&mut state, offset, len)?
                .map(ReadBytes::into_bytes),
        )
    }

    /// Makes the file ready for writes (its spool made, with the stored content unless the
    /// handle truncated it).
    pub async fn prepare_write(&self) -> FsResult<()> {
        self.materialize(&mut *self.state.lock().await, false).await
    }

    /// Writes `data` at `position` (`None`: at the end), without waiting: for a stream's
    /// non-blocking write. The file must be ready for writes ([`OpenFile::prepare_write`]).
    pub fn write_now(&self, position: Option<u64>, data: &[u8]) -> FsResult<()> {
        // A WASI 0.2 store runs one guest call at a time, so the lock is free unless a host
        // call is in progress on this very file, which cannot happen during a non-blocking
        // write.
        self.try_write_now(position, data).unwrap_or_else(|| {
            Err(FsError::trap(wasmtime::format_err!(
                "file state busy during a stream write"
            )))
        })
    }

    /// [`OpenFile::write_now`], or `None` while another call holds the file (a WASI 0.3
    /// guest's calls run at once: a read's fetch or a sync may be waiting on the store):
    /// wait for [`OpenFile::idle`] and try again.
    pub fn try_write_now(&self, position: Option<u64>, data: &[u8]) -> Option<FsResult<()>> {
        let mut state = self.state.try_lock().ok()?;
        let offset = position.unwrap_or_else(|| state.size());
        Some(self.write_at(&mut state, offset, data))
    }

    /// Resolves once no call holds the file.
    pub async fn idle(&self) {
        drop(self.state.lock().await);
    }

    /// The last commit's failure, if it failed, without waiting: for a stream's flush.
    pub fn failure_now(&self) -> FsResult<Option<String>> {
        let state = self.state.try_lock().map_err(|_| {
            FsError::trap(wasmtime::format_err!(
                "file state busy during a stream flush"
            ))
        })?;
        Ok(state.failed.clone())
    }

    /// Uploads new content now, keeping the handle open (a sync).
    pub async fn sync(&self) -> FsResult<()> {
        self.commit(&mut *self.state.lock().await, false, true)
            .await
    }

    /// Uploads new content; with `closing`, nothing will write to the file again. On
    /// failure, says why (the store's message).
    pub(super) async fn commit_or_say_why(&self, closing: bool) -> Result<(), CommitFailed> {
        let mut state = self.state.lock().await;
        match self.commit(&mut state, closing, false).await {
            Ok(()) => Ok(()),
            // A limit (the store-write budget) stops the run as itself.
            Err(FsError::Trap(error)) => Err(CommitFailed::Stopped(error)),
            Err(FsError::Code(_)) => Err(CommitFailed::Store(
                state
                    .failed
                    .clone()
                    .unwrap_or_else(|| "unknown error".to_owned()),
            )),
        }
    }

    /// The file's size and modification time as this handle sees them.
    pub(super) async fn size_and_modified(&self) -> (u64, Option<SystemTime>) {
        let state = self.state.lock().await;
        (state.size(), state.modified)
    }

    /// [`OpenFile::size_and_modified`], or `None` while a call holds the file.
    pub(super) fn size_and_modified_now(&self) -> Option<(u64, Option<SystemTime>)> {
        let state = self.state.try_lock().ok()?;
        Some((state.size(), state.modified))
    }

    /// Whether a commit would store nothing (no new content), found with no wait: `false`
    /// while a call holds the file.
    pub(super) fn nothing_to_commit_now(&self) -> bool {
        self.state.try_lock().is_ok_and(|state| !state.dirty)
    }

    /// Shrinks or extends (with zeros) to `size`, counting growth against the write budget.
    pub(super) async fn set_size(&self, size: u64) -> FsResult<()> {
        let mut state = self.state.lock().await;
        let growth = size.saturating_sub(state.size());
        self.charge(growth)?;
        state.charged = state.charged.saturating_add(growth);
        if size == state.size() && state.spool.is_none() {
            // Nothing changes (POSIX still updates the time; the store's object stays).
            return Ok(());
        }
        // Shrinking to nothing needs no download of the old content.
        self.materialize(&mut state, size == 0).await?;
        if let Some(spool) = state.spool.as_mut() {
            spool.set_len(size, &self.policy).map_err(spool_error)?;
        }
        state.dirty = true;
        state.modified = Some(SystemTime::now());
        Ok(())
    }

    /// Whether the store holds the file (it was there when opened, or has been published).
    pub(super) async fn is_stored(&self) -> bool {
        self.state.lock().await.stored_size.is_some()
    }

    /// Opens the stored file of a local store for reading, beneath the mount's root (never
    /// through a link).
    fn open_local(&self) -> FsResult<std::fs::File> {
        let root = self.volume.local_root().expect("a local store has a root");
        let local = root.open_file(self.path().key_ref().as_ref(), false);
        local.map_err(spool_error)
    }

    /// Makes sure the file's content is in its staged copy, not only in the store, before the
    /// stored object goes away under its handles (an unlink, or a rename over it).
    pub(super) async fn keep_content(&self) -> FsResult<()> {
        let mut state = self.state.lock().await;
        if state.spool.is_none() && state.local_reader.is_none() && self.volume.is_local() {
            // On a local store an open descriptor keeps the unlinked file's data, as Linux does.
            state.local_reader = Some(self.open_local()?);
            return Ok(());
        }
        if state.local_reader.is_some() {
            return Ok(());
        }
        self.materialize(&mut state, false).await
    }

    /// Whether the file holds content the store has not got yet.
    pub(super) async fn has_unpublished(&self) -> bool {
        self.state.lock().await.dirty
    }

    /// Sets the modification time, as `futimens(2)`: reported by every handle and lookup in
    /// the run, and kept by local stores.
    pub(super) async fn set_modified(&self, time: SystemTime) {
        let mut state = self.state.lock().await;
        state.modified = Some(time);
        if let Link::At(path) = self.link() {
            self.volume.record_time(&path, time);
            if !state.dirty {
                self.keep_set_time(&path);
            }
        }
    }

    /// [`OpenFile::read_with_end`] without waiting, or `None` if that would wait (for the
    /// file's lock, or a store request).
    pub(super) fn read_with_end_now(
        &self,
        offset: u64,
        len: u64,
    ) -> Option<FsResult<(ReadBytes, bool)>> {
        let mut state = self.state.try_lock().ok()?;
        let read = self.read_ready(&mut state, offset, len)?;
        Some(read.map(|bytes| with_end(bytes, offset, &state)))
    }

    /// Reads up to `len` bytes at `offset`, saying whether that reached the end.
    pub(super) async fn read_with_end(&self, offset: u64, len: u64) -> FsResult<(ReadBytes, bool)> {
        let mut state = self.state.lock().await;
        let bytes = self.read_at(&mut state, offset, len).await?;
        Ok(with_end(bytes, offset, &state))
    }

    /// Writes `data` at `offset`, making the spool first if needed.
    pub(super) async fn write(&self, offset: u64, data: &[u8]) -> FsResult<()> {
        let mut state = self.state.lock().await;
        self.materialize(&mut state, false).await?;
        self.write_at(&mut state, offset, data)
    }
}

/// The bytes read at `offset`, and whether they reach the end of the file (a read at or past
/// the end is empty, so the sum never wraps).
fn with_end(bytes: ReadBytes, offset: u64, state: &FileState) -> (ReadBytes, bool) {
    let at_end = offset + bytes.len() as u64 >= state.size();
    (bytes, at_end)
}

/// `offset..end` of a whole object at hand. It may be shorter than the size the handle was
/// opened with (replaced since by another run): what is there is read.
fn read_object(object: &Bytes, offset: u64, end: u64, file: &OpenFile) -> Bytes {
    let len = object.len() as u64;
    let bytes = object.slice(offset.min(len) as usize..end.min(len) as usize);
    file.volume.mount().stats.read(bytes.len() as u64);
    bytes
}

/// The bytes a read returns, without a copy on the way to the guest: a buffer the read made
/// itself (a local file's `pread`), or a slice of bytes held elsewhere (a stored object, the
/// staged copy). A `Vec` made into `Bytes` and back is moved in place by `bytes` (a
/// `memmove` of every byte: 4% of a `file://` random read).
#[derive(Debug)]
pub enum ReadBytes {
    Made(Vec<u8>),
    Shared(Bytes),
}

impl ReadBytes {
    /// The bytes as a `Vec`: copied only if they are shared.
    pub fn into_vec(self) -> Vec<u8> {
        match self {
            ReadBytes::Made(made) => made,
            ReadBytes::Shared(shared) => shared.to_vec(),
        }
    }

    /// The bytes as `Bytes`, never copied.
    pub fn into_bytes(self) -> Bytes {
        match self {
            ReadBytes::Made(made) => Bytes::from(made),
            ReadBytes::Shared(shared) => shared,
        }
    }
}

impl std::ops::Deref for ReadBytes {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        match self {
            ReadBytes::Made(made) => made,
            ReadBytes::Shared(shared) => shared,
        }
    }
}

/// A staged file's key beside `key`: `NAME#DIGITS`, the name local stores hide.
pub(super) fn staged_name(key: &str) -> String {
    match key.rsplit_once('/') {
        Some((parent, name)) => format!("{parent}/{}", staged_file_name(name)),
        None => staged_file_name(key),
    }
}

/// [`staged_name`] of a file name: unique across handles (a counter), processes (the pid) and
/// hosts sharing a directory (random).
fn staged_file_name(name: &str) -> String {
    use std::hash::{BuildHasher, RandomState};
    use std::sync::atomic::{AtomicU64, Ordering};
    static STAGED: AtomicU64 = AtomicU64::new(0);
    let n = STAGED.fetch_add(1, Ordering::Relaxed);
    let random = RandomState::new().hash_one(n) % 1_000_000_000;
    // The digits must fit in the name: a target whose name is near NAME_MAX (255 bytes)
    // stages under a shortened name (still `NAME#DIGITS`, so still hidden and refused).
    let mut keep = name.len().min(200);
    while !name.is_char_boundary(keep) {
        keep -= 1;
    }
    format!("{}#{}{n}{random:09}", &name[..keep], std::process::id())
}
