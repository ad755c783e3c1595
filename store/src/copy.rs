//! Copying one object whatever its size, and multipart uploads that are aborted when dropped.
//!
//! A store's server-side copy has a size limit: on AWS S3 one CopyObject takes at most 5 GiB.
//! Past it S3 has UploadPartCopy (a multipart upload whose parts are ranges of the source), but
//! object_store 0.14 has no API for it, so [`copy_object`] copies larger objects by streaming
//! them through the host instead: ranged GETs of one part each into a multipart upload. The
//! bytes cross the host's network twice, but host memory stays at a few parts whatever the size.

use bytes::Bytes;
use object_store::path::Path as Key;
use object_store::{
    GetOptions, GetRange, MultipartUpload, ObjectStore, ObjectStoreExt, PutPayloadMut, PutResult,
};
use std::sync::Mutex;
use std::time::Duration;

use tokio::task::{JoinHandle, JoinSet};

/// AWS S3's limit for one CopyObject; the other clouds' copies take at least as much.
pub const SINGLE_COPY_LIMIT: u64 = 5 << 30;
/// The part size of a streamed copy: S3's minimum is 5 MiB (all parts but the last).
pub const COPY_PART_SIZE: usize = 8 << 20;
/// S3's (and GCS's XML API's) maximum number of parts in a multipart upload.
const MAX_PARTS: u64 = 10_000;
/// Parts uploading at once during a streamed copy.
const COPY_CONCURRENCY: usize = 2;

/// How [`copy_object`] copies: server-side up to `single_copy` bytes, streamed in parts of
/// `part_size` past it. Tests lower both to exercise the streamed copy on small objects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CopyLimits {
    /// The largest object copied with one server-side copy.
    pub single_copy: u64,
    /// The size of each part (and each ranged GET) of a streamed copy; grown for objects that
    /// would need more than 10,000 parts.
    pub part_size: usize,
}

impl Default for CopyLimits {
    fn default() -> Self {
        CopyLimits {
            single_copy: SINGLE_COPY_LIMIT,
            part_size: COPY_PART_SIZE,
        }
    }
}

impl CopyLimits {
    /// The part size for an object of `size` bytes: `part_size`, or larger if that would take
    /// more than 10,000 parts.
    fn part_size_for(&self, size: u64) -> u64 {
        (self.part_size as u64).max(size.div_ceil(MAX_PARTS))
    }
}

fn copy_error(message: String) -> object_store::Error {
    object_store::Error::Generic {
        store: "copy",
        source: message.into(),
    }
}

/// Copies the object at `from` (of `size` bytes, as a listing or a head gave it) to `to`,
/// replacing what is there: a server-side copy up to `limits.single_copy` bytes, and past it a
/// streamed copy through the host (see the module documentation), whose upload is aborted on
/// any error and if this future is dropped. The source must not change meanwhile: each ranged
/// GET after the first asks for the first one's ETag, so a change fails the copy (where the
/// store reports ETags) rather than mixing two versions.
pub async fn copy_object(
    store: &dyn ObjectStore,
    from: &Key,
    to: &Key,
    size: u64,
    limits: CopyLimits,
) -> object_store::Result<()> {
    if size <= limits.single_copy {
        return store.copy(from, to).await;
    }
    if limits.part_size == 0 {
        return Err(copy_error("the copy part size is zero".into()));
    }
    let part = limits.part_size_for(size);
    let part_len = usize::try_from(part)
        .map_err(|_| copy_error(format!("a part of {part} bytes does not fit in memory")))?;
    let mut upload = Upload::new(store.put_multipart(to).await?, part_len);
    let mut etag: Option<String> = None;
    let mut offset = 0;
    // The size the first GET reports wins over the caller's, should the object have changed.
    let mut total = size;
    while offset < total {
        let end = total.min(offset + part);
        let options = GetOptions {
            range: Some(GetRange::Bounded(offset..end)),
            if_match: etag.clone(),
            ..Default::default()
        };
        let got = store.get_opts(from, options).await?;
        if offset == 0 {
            etag = got.meta.e_tag.clone();
            total = got.meta.size;
        }
        let bytes = got.bytes().await?;
        if bytes.is_empty() {
            // A source that shrank under us: stop rather than loop.
            return Err(copy_error(format!(
                "`{from}` ended at {offset} bytes of {total} while being copied"
            )));
        }
        offset += bytes.len() as u64;
        upload.wait_for_capacity(COPY_CONCURRENCY).await?;
        upload.put(bytes);
    }
    upload.finish().await.map(|_| ())
}

/// The aborts of dropped uploads still running: a runtime dropped before they end cancels them.
static PENDING_ABORTS: Mutex<Vec<JoinHandle<()>>> = Mutex::new(Vec::new());

/// Waits, at most `within`, for the aborts of dropped multipart uploads to end; returns how
/// many had not. A host calls it after a run is stopped and before its runtime goes, since
/// dropping the runtime would cancel them (leaving the parts in the store).
pub async fn finish_aborts(within: Duration) -> usize {
    let pending = std::mem::take(&mut *PENDING_ABORTS.lock().unwrap_or_else(|e| e.into_inner()));
    let deadline = tokio::time::Instant::now() + within;
    let mut unfinished = 0;
    for task in pending {
        if tokio::time::timeout_at(deadline, task).await.is_err() {
            unfinished += 1;
        }
    }
    unfinished
}

/// A multipart upload fed in parts of a fixed size (the last one shorter), with a bounded
/// number of parts in flight, as object_store's `WriteMultipart` does; unlike it, an upload
/// neither finished nor aborted is aborted when dropped (a run stopped by a limit drops its
/// futures), so the store keeps no orphaned parts (S3 bills them until they are aborted).
///
/// Every method leaves the upload owned here until it is settled, so dropping the future of
/// any of them, `finish` included, still aborts it.
#[derive(Debug)]
pub struct Upload {
    /// `None` once completed or aborted.
    upload: Option<Box<dyn MultipartUpload>>,
    buffer: PutPayloadMut,
    part_size: usize,
    tasks: JoinSet<object_store::Result<()>>,
}

impl Upload {
    /// Feeds `upload` in parts of `part_size` bytes (at least 1).
    pub fn new(upload: Box<dyn MultipartUpload>, part_size: usize) -> Self {
        Upload {
            upload: Some(upload),
            buffer: PutPayloadMut::new(),
            part_size: part_size.max(1),
            tasks: JoinSet::new(),
        }
    }

    fn upload(&mut self) -> object_store::Result<&mut Box<dyn MultipartUpload>> {
        self.upload
            .as_mut()
            .ok_or_else(|| copy_error("the upload is already settled".into()))
    }

    /// Waits until fewer than `max` parts are uploading; a failed part aborts the upload.
    pub async fn wait_for_capacity(&mut self, max: usize) -> object_store::Result<()> {
        while !self.tasks.is_empty() && self.tasks.len() >= max {
            let joined = self.tasks.join_next().await.expect("tasks is not empty");
            let result = joined.unwrap_or_else(|e| Err(copy_error(e.to_string())));
            if let Err(error) = result {
                let _ = self.abort_in_place().await;
                return Err(error);
            }
        }
        Ok(())
    }

    /// Adds `bytes`, starting the upload of every part it completes (without waiting: call
    /// [`Upload::wait_for_capacity`] first to bound the parts in flight).
    pub fn put(&mut self, mut bytes: Bytes) {
        while !bytes.is_empty() {
            let room = self.part_size - self.buffer.content_length();
            if bytes.len() < room {
                self.buffer.push(bytes);
                return;
            }
            self.buffer.push(bytes.split_to(room));
            self.send_buffer();
        }
    }

    fn send_buffer(&mut self) {
        let part = std::mem::take(&mut self.buffer);
        if let Some(upload) = self.upload.as_mut() {
            self.tasks.spawn(upload.put_part(part.into()));
        }
    }

    /// Uploads what is buffered, waits for every part and completes the upload (aborting it
    /// if any of that fails).
    pub async fn finish(mut self) -> object_store::Result<PutResult> {
        if !self.buffer.is_empty() {
            self.send_buffer();
        }
        self.wait_for_capacity(1).await?;
        match self.upload()?.complete().await {
            Ok(done) => {
                self.upload = None;
                Ok(done)
            }
            Err(error) => {
                let _ = self.abort_in_place().await;
                Err(error)
            }
        }
    }

    /// Abandons the upload, asking the store to discard the parts it has.
    pub async fn abort(mut self) -> object_store::Result<()> {
        self.abort_in_place().await
    }

    async fn abort_in_place(&mut self) -> object_store::Result<()> {
        self.tasks.shutdown().await;
        match self.upload.as_mut() {
            Some(upload) => {
                let aborted = upload.abort().await;
                self.upload = None;
                aborted
            }
            None => Ok(()),
        }
    }
}

impl Drop for Upload {
    fn drop(&mut self) {
        let Some(mut upload) = self.upload.take() else {
            return;
        };
        // The parts in flight are cancelled and waited for first, so none lands after the
        // abort; both need a runtime to run on.
        let mut tasks = std::mem::take(&mut self.tasks);
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => {
                let abort = runtime.spawn(async move {
                    tasks.shutdown().await;
                    if let Err(error) = upload.abort().await {
                        tracing::warn!(%error, "cannot abort a dropped multipart upload");
                    }
                });
                let mut pending = PENDING_ABORTS.lock().unwrap_or_else(|e| e.into_inner());
                pending.retain(|task| !task.is_finished());
                pending.push(abort);
            }
            Err(_) => tracing::warn!("a multipart upload dropped outside a runtime is not aborted"),
        }
    }
}
