//! Copying one object whatever its size, and multipart uploads that are aborted when dropped.
//!
//! A store's server-side copy has a size limit: on AWS S3 one CopyObject takes at most 5 GiB.
//! Past it S3 has UploadPartCopy (a multipart upload whose parts are ranges of the source), but
//! object_store 0.14 has no API for it, so [`copy_object`] copies larger objects by streaming
//! them through the host instead: ranged GETs of one part each into a multipart upload. The
//! bytes cross the host's network twice, but host memory stays at a few parts whatever the size.

use std::sync::Mutex;
use std::time::Duration;

use bytes::Bytes;
use object_store::path::Path as Key;
use object_store::{
    GetOptions, GetRange, MultipartUpload, ObjectStore, ObjectStoreExt, PutPayloadMut, PutResult,
};
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
    streamed_copy(store, from, store, to, size, limits).await
}

/// Copies the object at `from` in `from_store` (of `size` bytes, as a head gave it) to `to` in
/// another store, replacing what is there: no server can copy between two stores, so the bytes
/// stream through the host, one ranged GET of a part at a time, as [`copy_object`]'s large
/// copies do; host memory stays at a few parts whatever the size. An object of one part or
/// less is sent with one PUT; a larger one goes up as a multipart upload, aborted on any error
/// and if this future is dropped.
pub async fn copy_across(
    from_store: &dyn ObjectStore,
    from: &Key,
    to_store: &dyn ObjectStore,
    to: &Key,
    size: u64,
    limits: CopyLimits,
) -> object_store::Result<()> {
    if size <= limits.part_size_for(size) {
        // Should the object have grown past one part meanwhile, it is refused before its
        // body is read rather than buffered.
        let got = from_store.get(from).await?;
        let part = limits.part_size_for(size);
        if got.meta.size > part {
            return Err(copy_error(format!(
                "`{from}` grew past {part} bytes while being copied"
            )));
        }
        let bytes = got.bytes().await?;
        return to_store.put(to, bytes.into()).await.map(|_| ());
    }
    streamed_copy(from_store, from, to_store, to, size, limits).await
}

/// Streams the object at `from` into a multipart upload at `to`, one ranged GET of a part at
/// a time, aborting the upload on any error (and, through [`Upload`], if dropped).
async fn streamed_copy(
    from_store: &dyn ObjectStore,
    from: &Key,
    to_store: &dyn ObjectStore,
    to: &Key,
    size: u64,
    limits: CopyLimits,
) -> object_store::Result<()> {
    if limits.part_size == 0 {
        return Err(copy_error("the copy part size is zero".into()));
    }
    let part = limits.part_size_for(size);
    let part_len = usize::try_from(part)
        .map_err(|_| copy_error(format!("a part of {part} bytes does not fit in memory")))?;
    let mut upload = Upload::new(to_store.put_multipart(to).await?, part_len);
    match stream_parts(from_store, from, size, part, &mut upload).await {
        Ok(()) => upload.finish().await.map(|_| ()),
        Err(error) => {
            let _ = upload.abort().await;
            Err(error)
        }
    }
}

/// Reads the object at `from` in ranged GETs of `part` bytes into `upload`.
async fn stream_parts(
    store: &dyn ObjectStore,
    from: &Key,
    size: u64,
    part: u64,
    upload: &mut Upload,
) -> object_store::Result<()> {
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
    Ok(())
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

#[cfg(test)]
mod tests {
    use std::fmt;
    use std::ops::Range;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use async_trait::async_trait;
    use futures::stream::BoxStream;
    use object_store::local::LocalFileSystem;
    use object_store::memory::InMemory;
    use object_store::{
        CopyOptions, GetResult, ListResult, ObjectMeta, PutMultipartOptions, PutOptions,
        PutPayload, RenameOptions, UploadPart,
    };

    use super::*;
    use crate::move_prefix;

    const LIMIT: u64 = 1 << 20;
    /// Not a divisor of the sizes tried, so the last part is short.
    const LIMITS: CopyLimits = CopyLimits {
        single_copy: LIMIT,
        part_size: 300_000,
    };

    /// What the `n`th ranged GET and those after it do (counting from 0).
    #[derive(Debug, Clone, Copy)]
    enum Fault {
        Stall(usize),
        Fail(usize),
    }

    /// A real store whose server-side copy refuses objects past `LIMIT` bytes, as S3's
    /// CopyObject does past 5 GiB, and which counts the multipart uploads started and those
    /// still open (neither completed nor aborted).
    #[derive(Debug)]
    struct CopyLimited {
        inner: Arc<dyn ObjectStore>,
        started: Arc<AtomicUsize>,
        open: Arc<AtomicUsize>,
        gets: AtomicUsize,
        fault: Option<Fault>,
    }

    impl CopyLimited {
        fn new(inner: impl ObjectStore, fault: Option<Fault>) -> CopyLimited {
            CopyLimited {
                inner: Arc::new(inner),
                started: Arc::default(),
                open: Arc::default(),
                gets: AtomicUsize::new(0),
                fault,
            }
        }
    }

    impl fmt::Display for CopyLimited {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            write!(f, "CopyLimited({})", self.inner)
        }
    }

    #[derive(Debug)]
    struct CountedUpload {
        inner: Box<dyn MultipartUpload>,
        open: Arc<AtomicUsize>,
    }

    #[async_trait]
    impl MultipartUpload for CountedUpload {
        fn put_part(&mut self, data: PutPayload) -> UploadPart {
            self.inner.put_part(data)
        }
        async fn complete(&mut self) -> object_store::Result<PutResult> {
            let done = self.inner.complete().await;
            self.open.fetch_sub(1, Ordering::SeqCst);
            done
        }
        async fn abort(&mut self) -> object_store::Result<()> {
            let aborted = self.inner.abort().await;
            self.open.fetch_sub(1, Ordering::SeqCst);
            aborted
        }
    }

    #[async_trait]
    impl ObjectStore for CopyLimited {
        async fn put_opts(
            &self,
            location: &Key,
            payload: PutPayload,
            opts: PutOptions,
        ) -> object_store::Result<PutResult> {
            self.inner.put_opts(location, payload, opts).await
        }
        async fn put_multipart_opts(
            &self,
            location: &Key,
            opts: PutMultipartOptions,
        ) -> object_store::Result<Box<dyn MultipartUpload>> {
            let inner = self.inner.put_multipart_opts(location, opts).await?;
            self.started.fetch_add(1, Ordering::SeqCst);
            self.open.fetch_add(1, Ordering::SeqCst);
            let open = self.open.clone();
            Ok(Box::new(CountedUpload { inner, open }))
        }
        async fn get_opts(
            &self,
            location: &Key,
            options: GetOptions,
        ) -> object_store::Result<GetResult> {
            let n = self.gets.fetch_add(1, Ordering::SeqCst);
            match self.fault {
                Some(Fault::Stall(at)) if n >= at => futures::future::pending().await,
                Some(Fault::Fail(at)) if n >= at => {
                    return Err(copy_error("the test store fails this GET".into()));
                }
                _ => {}
            }
            self.inner.get_opts(location, options).await
        }
        async fn get_ranges(
            &self,
            location: &Key,
            ranges: &[Range<u64>],
        ) -> object_store::Result<Vec<Bytes>> {
            self.inner.get_ranges(location, ranges).await
        }
        fn delete_stream(
            &self,
            locations: BoxStream<'static, object_store::Result<Key>>,
        ) -> BoxStream<'static, object_store::Result<Key>> {
            self.inner.delete_stream(locations)
        }
        fn list(
            &self,
            prefix: Option<&Key>,
        ) -> BoxStream<'static, object_store::Result<ObjectMeta>> {
            self.inner.list(prefix)
        }
        async fn list_with_delimiter(
            &self,
            prefix: Option<&Key>,
        ) -> object_store::Result<ListResult> {
            self.inner.list_with_delimiter(prefix).await
        }
        async fn copy_opts(
            &self,
            from: &Key,
            to: &Key,
            options: CopyOptions,
        ) -> object_store::Result<()> {
            let size = self.inner.head(from).await?.size;
            if size > LIMIT {
                return Err(copy_error(format!("{size} bytes is past the copy limit")));
            }
            self.inner.copy_opts(from, to, options).await
        }
        async fn rename_opts(
            &self,
            from: &Key,
            to: &Key,
            options: RenameOptions,
        ) -> object_store::Result<()> {
            self.inner.rename_opts(from, to, options).await
        }
    }

    fn key(text: &str) -> Key {
        Key::parse(text).unwrap()
    }

    /// Bytes that differ from part to part and from one size to the next.
    fn content(size: u64) -> Bytes {
        (0..size)
            .map(|i| (i.wrapping_mul(2654435761) >> 7) as u8 ^ size as u8)
            .collect::<Vec<u8>>()
            .into()
    }

    /// Names of the files under `dir`, recursively.
    fn files_under(dir: &std::path::Path) -> Vec<String> {
        let mut found = Vec::new();
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                found.extend(files_under(&path));
            } else {
                found.push(path.file_name().unwrap().to_string_lossy().into_owned());
            }
        }
        found.sort();
        found
    }

    /// The uploads still open once dropped uploads' aborts have ended (tests run at once and
    /// share the pending aborts, so another test may be the one waiting for ours).
    async fn settled(store: &CopyLimited) -> usize {
        finish_aborts(Duration::from_secs(10)).await;
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while store.open.load(Ordering::SeqCst) > 0 && std::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        store.open.load(Ordering::SeqCst)
    }

    async fn copies_every_size_identically(store: CopyLimited) {
        for (i, size) in [LIMIT - 1, LIMIT, LIMIT + 1, 3 * LIMIT + 7]
            .into_iter()
            .enumerate()
        {
            let data = content(size);
            let (from, to) = (key(&format!("from/{i}")), key(&format!("to/{i}")));
            store.put(&from, data.clone().into()).await.unwrap();
            let started = store.started.load(Ordering::SeqCst);
            copy_object(&store, &from, &to, size, LIMITS).await.unwrap();
            let copied = store.get(&to).await.unwrap().bytes().await.unwrap();
            assert!(copied == data, "a copy of {size} bytes differs");
            let source = store.get(&from).await.unwrap().bytes().await.unwrap();
            assert!(source == data, "the source of {size} bytes changed");
            let streamed = store.started.load(Ordering::SeqCst) - started;
            assert_eq!(streamed, usize::from(size > LIMIT), "size {size}");
        }
        assert_eq!(store.open.load(Ordering::SeqCst), 0, "an upload is open");
        // Past the limit, the store's own copy refuses (the case copy_object exists for).
        let plain = store.copy(&key("from/3"), &key("plain")).await;
        assert!(plain.is_err(), "the test store copies past its limit");
    }

    #[tokio::test]
    async fn every_size_copies_identically_in_memory() {
        copies_every_size_identically(CopyLimited::new(InMemory::new(), None)).await;
    }

    #[tokio::test]
    async fn every_size_copies_identically_on_a_local_store() {
        let dir = tempfile::tempdir().unwrap();
        let local = LocalFileSystem::new_with_prefix(dir.path()).unwrap();
        copies_every_size_identically(CopyLimited::new(local, None)).await;
        // No staged `NAME#N` part file is left.
        assert_eq!(
            files_under(dir.path()),
            ["0", "0", "1", "1", "2", "2", "3", "3"]
        );
    }

    #[tokio::test]
    async fn move_prefix_streams_objects_past_the_limit() {
        let store = CopyLimited::new(InMemory::new(), None);
        let (small, big) = (content(10), content(2 * LIMIT + 1));
        store
            .put(&key("a/small"), small.clone().into())
            .await
            .unwrap();
        store
            .put(&key("a/d/big"), big.clone().into())
            .await
            .unwrap();
        let moved = move_prefix(&store, &key("a"), &key("b"), LIMITS)
            .await
            .unwrap();
        assert_eq!(moved, 2);
        let get = |k: &'static str| {
            let store = &store;
            async move { store.get(&key(k)).await.unwrap().bytes().await.unwrap() }
        };
        assert!(get("b/small").await == small);
        assert!(get("b/d/big").await == big);
        assert!(
            store.head(&key("a/d/big")).await.is_err(),
            "the source is gone"
        );
        assert_eq!(store.started.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn a_failed_read_aborts_the_upload() {
        let dir = tempfile::tempdir().unwrap();
        let local = LocalFileSystem::new_with_prefix(dir.path()).unwrap();
        let store = CopyLimited::new(local, Some(Fault::Fail(2)));
        store
            .put(&key("from"), content(3 * LIMIT).into())
            .await
            .unwrap();
        let copied = copy_object(&store, &key("from"), &key("to"), 3 * LIMIT, LIMITS).await;
        assert!(copied.is_err());
        // Aborted before the error is returned.
        assert_eq!(store.started.load(Ordering::SeqCst), 1);
        assert_eq!(store.open.load(Ordering::SeqCst), 0, "the upload is open");
        assert_eq!(files_under(dir.path()), ["from"]);
    }

    /// A copy stopped part-way (its future dropped, as a run stopped by a limit drops it)
    /// aborts its upload: the store keeps no part.
    #[tokio::test]
    async fn a_dropped_copy_aborts_its_upload() {
        let dir = tempfile::tempdir().unwrap();
        let local = LocalFileSystem::new_with_prefix(dir.path()).unwrap();
        let store = CopyLimited::new(local, Some(Fault::Stall(3)));
        store
            .put(&key("from"), content(3 * LIMIT).into())
            .await
            .unwrap();
        let (from, to) = (key("from"), key("to"));
        let copy = copy_object(&store, &from, &to, 3 * LIMIT, LIMITS);
        let stopped = tokio::time::timeout(Duration::from_millis(500), copy).await;
        assert!(stopped.is_err(), "the copy ended: {stopped:?}");
        assert_eq!(store.started.load(Ordering::SeqCst), 1);
        assert_eq!(settled(&store).await, 0, "the upload is open");
        assert_eq!(files_under(dir.path()), ["from"]);
    }

    /// The same for an upload fed directly, as the cloud world uploads a file.
    #[tokio::test]
    async fn a_dropped_upload_is_aborted() {
        let store = CopyLimited::new(InMemory::new(), None);
        let mut upload = Upload::new(store.put_multipart(&key("x")).await.unwrap(), 1000);
        upload.put(content(2500));
        upload.wait_for_capacity(1).await.unwrap();
        drop(upload);
        assert_eq!(settled(&store).await, 0, "the upload is open");
        assert!(store.head(&key("x")).await.is_err(), "the object exists");
        // A finished upload is not aborted.
        let mut upload = Upload::new(store.put_multipart(&key("y")).await.unwrap(), 1000);
        upload.put(content(2500));
        upload.finish().await.unwrap();
        assert_eq!(store.open.load(Ordering::SeqCst), 0);
        assert_eq!(
            store.get(&key("y")).await.unwrap().bytes().await.unwrap(),
            content(2500)
        );
    }

    #[tokio::test]
    async fn a_zero_part_size_is_an_error() {
        let store = InMemory::new();
        store.put(&key("from"), content(10).into()).await.unwrap();
        let limits = CopyLimits {
            single_copy: 1,
            part_size: 0,
        };
        let copied = copy_object(&store, &key("from"), &key("to"), 10, limits).await;
        assert!(
            copied
                .unwrap_err()
                .to_string()
                .contains("part size is zero")
        );
    }
}
