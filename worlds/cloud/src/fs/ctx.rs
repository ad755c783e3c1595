//! The filesystem of one run: its volumes, its budget of bytes written, and the files its
//! guest has open (committed when the guest exits, if it never closed them).

use std::sync::Arc;

use anyhow::Result;

use super::dir::Dir;
use super::file::{CommitFailed, OpenFile};
use super::handle::File;
use super::held::BufferMemory;
use super::volume::Volume;
use worldhost_store::Mount;

pub use worldhost_store::{WriteBudget, WriteLimitExceeded};

/// The cloud filesystem of one run: its volumes, and the files the guest has open.
pub struct FsCtx {
    mounts: Vec<Arc<Mount>>,
    /// One per mount, in the same order.
    volumes: Vec<Arc<Volume>>,
    write_budget: Arc<WriteBudget>,
    /// Host memory the run's file buffers may hold together.
    buffer_memory: Arc<BufferMemory>,
    /// The most one whole read (a blob `get`) may return: the guest's memory limit.
    largest_read: u64,
    /// Files whose handle was closed while a stream on them was still open: kept alive
    /// so what the stream writes after is committed at exit too.
    closed_with_streams: Vec<Arc<OpenFile>>,
    /// The world's `wasi:keyvalue` buckets (served beside the files, on their own stores).
    buckets: Arc<crate::keyvalue::Buckets>,
    /// The run's `wasi:keyvalue` listings in progress.
    kv_listings: crate::keyvalue::Listings,
    /// What the run's `wasi:blobstore` values and listings hold.
    blobstore: crate::blobstore::RunState,
}

impl Default for FsCtx {
    fn default() -> FsCtx {
        FsCtx::with_volumes(Vec::new())
    }
}

impl FsCtx {
    /// A context over mounts already opened and checked, each a volume with a directory cache
    /// of its own. Contexts that should share what they know of which directories exist (a
    /// world's instances: a plugin host's calls) are made from the same volumes with
    /// [`FsCtx::with_volumes`].
    pub fn with_mounts(mounts: Vec<Arc<Mount>>) -> FsCtx {
        FsCtx::with_volumes(mounts.into_iter().map(Volume::new).collect())
    }

    /// A context over volumes already made: it works in volumes of its own over the same mounts
    /// and directory caches ([`Volume::for_run`]), so what it has open is its own.
    pub fn with_volumes(volumes: Vec<Arc<Volume>>) -> FsCtx {
        let volumes: Vec<_> = volumes.iter().map(|volume| volume.for_run()).collect();
        FsCtx {
            mounts: volumes
                .iter()
                .map(|volume| volume.mount().clone())
                .collect(),
            volumes,
            write_budget: Arc::new(WriteBudget::new(u64::MAX)),
            buffer_memory: Arc::default(),
            largest_read: u64::MAX,
            closed_with_streams: Vec::new(),
            buckets: Arc::default(),
            kv_listings: Default::default(),
            blobstore: Default::default(),
        }
    }

    /// The mounts, to share with further contexts.
    pub fn mounts(&self) -> &[Arc<Mount>] {
        &self.mounts
    }

    /// The volumes, one per mount.
    pub fn volumes(&self) -> &[Arc<Volume>] {
        &self.volumes
    }

    /// The root directory of every volume, with where the guest sees it.
    pub fn preopens(&self) -> impl Iterator<Item = (Dir, &str)> {
        self.volumes
            .iter()
            .map(|volume| (Dir::root(volume.clone()), volume.mount().guest.as_str()))
    }

    /// Caps the bytes the guest may write to files in stores, over the whole run.
    pub fn set_write_limit(&mut self, bytes: u64) {
        self.write_budget = Arc::new(WriteBudget::new(bytes));
    }

    /// Caps the bytes the guest may write to stores and the objects it may create there
    /// (new files, directories, blob puts and copies), over the whole run.
    pub fn set_store_limits(&mut self, bytes: u64, objects: u64) {
        self.write_budget = Arc::new(WriteBudget::with_objects(bytes, objects));
    }

    /// Bounds the host memory the run's file buffers may hold together (see [`BufferMemory`]).
    pub fn set_buffer_memory(&mut self, bytes: u64) {
        self.buffer_memory = Arc::new(BufferMemory::new(bytes));
    }

    /// Bounds what one whole read (a blob `get` or `get-range`) may return: a result larger
    /// than the guest's memory could never be handed over, so it is never gathered.
    pub fn set_largest_read(&mut self, bytes: u64) {
        self.largest_read = bytes;
    }

    /// The most one whole read may return.
    pub fn largest_read(&self) -> u64 {
        self.largest_read
    }

    /// The host memory the run's file buffers hold, and may.
    pub fn buffer_memory(&self) -> &Arc<BufferMemory> {
        &self.buffer_memory
    }

    /// Serves `buckets` to the guest's `wasi:keyvalue` calls.
    pub fn set_buckets(&mut self, buckets: Arc<crate::keyvalue::Buckets>) {
        self.buckets = buckets;
    }

    /// The `wasi:keyvalue` buckets.
    pub fn buckets(&self) -> &crate::keyvalue::Buckets {
        &self.buckets
    }

    /// The run's `wasi:keyvalue` listings in progress.
    pub fn kv_listings(&mut self) -> &mut crate::keyvalue::Listings {
        &mut self.kv_listings
    }

    /// What the run's `wasi:blobstore` values and listings hold.
    pub fn blobstore(&mut self) -> &mut crate::blobstore::RunState {
        &mut self.blobstore
    }

    /// The run's budget of bytes written to stores.
    pub fn write_budget(&self) -> &Arc<WriteBudget> {
        &self.write_budget
    }

    /// Closes a file handle: commits what it wrote. Streams still open on it keep the
    /// staged copy for further writes, and the file is kept so those writes are committed
    /// at exit. A failed commit stops the run: the error names the file and the store.
    pub async fn close(&mut self, file: File) -> wasmtime::Result<()> {
        for file in self.let_go(file) {
            let closing = Arc::strong_count(&file) == 1;
            match file.commit_or_say_why(closing).await {
                Ok(()) => {}
                Err(CommitFailed::Stopped(limit)) => return Err(limit),
                Err(CommitFailed::Store(why)) => {
                    return Err(wasmtime::format_err!(
                        "closing `{}` failed: its content could not be stored in `{}` ({why}); \
                         the stored object is unchanged",
                        file.path(),
                        file.volume().url(),
                    ));
                }
            }
        }
        Ok(())
    }

    /// [`FsCtx::close`] with no wait, when it would store nothing: neither the handle's file
    /// nor any file kept for its streams has new content. Otherwise gives the handle back.
    pub fn close_now(&mut self, file: File) -> Result<(), File> {
        let kept_clean = self
            .closed_with_streams
            .iter()
            .all(|kept| kept.nothing_to_commit_now());
        if !(kept_clean && file.nothing_to_commit_now()) {
            return Err(file);
        }
        // Each commit would return at once: nothing is new.
        drop(self.let_go(file));
        Ok(())
    }

    /// Lets go of a closed handle's file: returns the files to commit (it, and the files
    /// kept for streams that are gone by now), keeping it while its streams are open.
    fn let_go(&mut self, file: File) -> Vec<Arc<OpenFile>> {
        let open = file.into_open_file();
        // Files kept for streams that are gone by now are committed and let go: only files
        // something still uses stay in memory.
        let (mut idle, kept): (Vec<_>, Vec<_>) = std::mem::take(&mut self.closed_with_streams)
            .into_iter()
            .partition(|kept| Arc::strong_count(kept) == 1 && !Arc::ptr_eq(kept, &open));
        self.closed_with_streams = kept;
        let closing = Arc::strong_count(&open) == 1;
        if !closing
            && !self
                .closed_with_streams
                .iter()
                .any(|kept| Arc::ptr_eq(kept, &open))
        {
            self.closed_with_streams.push(open.clone());
        }
        idle.push(open);
        idle
    }

    /// Commits files the guest left open, as closing them would have. Call after the guest's
    /// run returns; fails naming every file that could not be stored.
    pub async fn commit_open_files(&mut self) -> Result<()> {
        let mut failures = Vec::new();
        // Each volume knows every file still open in it (the files kept for their streams
        // among them): each is committed once. Unlinked files are not there.
        let open: Vec<_> = self
            .volumes
            .iter()
            .flat_map(|volume| volume.all_live())
            .collect();
        self.closed_with_streams.clear();
        for file in open {
            if let Err(failed) = file.commit_or_say_why(true).await {
                let why = match failed {
                    CommitFailed::Stopped(limit) => limit.to_string(),
                    CommitFailed::Store(why) => why,
                };
                failures.push(format!(
                    "`{}` in `{}` ({why})",
                    file.path(),
                    file.volume().url(),
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
