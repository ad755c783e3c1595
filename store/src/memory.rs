//! `memory:` stores: object_store's `InMemory` with a capacity.
//!
//! Everything a `memory:` store holds lives in the host's memory, and a plugin host shares the
//! store across calls, so a per-run write limit does not bound it: the store itself refuses a
//! write (a put, an upload's part, a copy) that would take it past its capacity, with
//! [`MemoryStoreFull`] (the cloud filesystem answers `insufficient-space`, as a full disk does).
//! Replacing or deleting objects gives their bytes back.

use std::ops::Range;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use async_trait::async_trait;
use futures::stream::{BoxStream, StreamExt};
use object_store::memory::InMemory;
use object_store::path::Path as Key;
use object_store::{
    CopyOptions, GetOptions, GetResult, ListResult, MultipartUpload, ObjectMeta, ObjectStore,
    ObjectStoreExt, PutMultipartOptions, PutOptions, PutPayload, PutResult, RenameOptions,
    UploadPart,
};

/// What a `memory:` store holds at most, by default.
pub const MEMORY_STORE_CAPACITY: u64 = 1 << 30;

/// A write refused because the memory store is full.
#[derive(Debug)]
pub struct MemoryStoreFull {
    pub capacity: u64,
}

impl std::fmt::Display for MemoryStoreFull {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "the memory: store is full (it holds at most {} bytes in host memory)",
            self.capacity
        )
    }
}

impl std::error::Error for MemoryStoreFull {}

/// Whether `error` is a memory store refusing a write for want of room.
pub fn is_store_full(error: &object_store::Error) -> bool {
    matches!(error, object_store::Error::Generic { source, .. } if source.is::<MemoryStoreFull>())
}

/// An in-memory store that holds at most `capacity` bytes of object data.
#[derive(Debug, Clone)]
pub struct MemoryStore {
    inner: Arc<InMemory>,
    room: Arc<Room>,
}

/// The bytes held, and how many may be.
#[derive(Debug)]
struct Room {
    held: AtomicU64,
    capacity: u64,
}

impl Room {
    /// Takes `bytes` if they fit.
    fn take(&self, bytes: u64) -> object_store::Result<()> {
        self.held
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |held| {
                held.checked_add(bytes)
                    .filter(|total| *total <= self.capacity)
            })
            .map(|_| ())
            .map_err(|_| object_store::Error::Generic {
                store: "memory",
                source: Box::new(MemoryStoreFull {
                    capacity: self.capacity,
                }),
            })
    }

    fn give_back(&self, bytes: u64) {
        let _ = self
            .held
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |held| {
                Some(held.saturating_sub(bytes))
            });
    }
}

impl MemoryStore {
    pub fn new(capacity: u64) -> MemoryStore {
        MemoryStore {
            inner: Arc::new(InMemory::new()),
            room: Arc::new(Room {
                held: AtomicU64::new(0),
                capacity,
            }),
        }
    }

    /// The bytes the store holds now.
    pub fn held(&self) -> u64 {
        self.room.held.load(Ordering::Acquire)
    }

    /// The size of the object at `key`, 0 if there is none.
    async fn size_of(&self, key: &Key) -> u64 {
        self.inner.head(key).await.map_or(0, |meta| meta.size)
    }

    /// Runs a write of `bytes` that replaces what is at `key`: what it adds is taken first
    /// (refused past the capacity) and given back if the write fails; what it frees is given
    /// back once it succeeds.
    async fn replacing<T>(
        &self,
        key: &Key,
        bytes: u64,
        write: impl std::future::Future<Output = object_store::Result<T>>,
    ) -> object_store::Result<T> {
        let replaced = self.size_of(key).await;
        let added = bytes.saturating_sub(replaced);
        self.room.take(added)?;
        match write.await {
            Ok(done) => {
                self.room.give_back(replaced.saturating_sub(bytes));
                Ok(done)
            }
            Err(error) => {
                self.room.give_back(added);
                Err(error)
            }
        }
    }
}

impl std::fmt::Display for MemoryStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "MemoryStore({} bytes)", self.room.capacity)
    }
}

#[async_trait]
impl ObjectStore for MemoryStore {
    async fn put_opts(
        &self,
        location: &Key,
        payload: PutPayload,
        opts: PutOptions,
    ) -> object_store::Result<PutResult> {
        let bytes = payload.content_length() as u64;
        let put = self.inner.put_opts(location, payload, opts);
        self.replacing(location, bytes, put).await
    }

    async fn put_multipart_opts(
        &self,
        location: &Key,
        opts: PutMultipartOptions,
    ) -> object_store::Result<Box<dyn MultipartUpload>> {
        let upload = self.inner.put_multipart_opts(location, opts).await?;
        Ok(Box::new(CountedUpload {
            upload,
            store: self.clone(),
            location: location.clone(),
            taken: 0,
        }))
    }

    async fn get_opts(
        &self,
        location: &Key,
        options: GetOptions,
    ) -> object_store::Result<GetResult> {
        self.inner.get_opts(location, options).await
    }

    async fn get_ranges(
        &self,
        location: &Key,
        ranges: &[Range<u64>],
    ) -> object_store::Result<Vec<bytes::Bytes>> {
        self.inner.get_ranges(location, ranges).await
    }

    fn delete_stream(
        &self,
        locations: BoxStream<'static, object_store::Result<Key>>,
    ) -> BoxStream<'static, object_store::Result<Key>> {
        let this = self.clone();
        locations
            .then(move |key| {
                let this = this.clone();
                async move {
                    let key = key?;
                    let size = this.size_of(&key).await;
                    this.inner.delete(&key).await?;
                    this.room.give_back(size);
                    Ok(key)
                }
            })
            .boxed()
    }

    fn list(&self, prefix: Option<&Key>) -> BoxStream<'static, object_store::Result<ObjectMeta>> {
        self.inner.list(prefix)
    }

    async fn list_with_delimiter(&self, prefix: Option<&Key>) -> object_store::Result<ListResult> {
        self.inner.list_with_delimiter(prefix).await
    }

    async fn copy_opts(
        &self,
        from: &Key,
        to: &Key,
        options: CopyOptions,
    ) -> object_store::Result<()> {
        let bytes = self.inner.head(from).await?.size;
        let copy = self.inner.copy_opts(from, to, options);
        self.replacing(to, bytes, copy).await
    }

    async fn rename_opts(
        &self,
        from: &Key,
        to: &Key,
        options: RenameOptions,
    ) -> object_store::Result<()> {
        // The moved bytes stay held; what `to` held goes.
        let replaced = self.size_of(to).await;
        self.inner.rename_opts(from, to, options).await?;
        self.room.give_back(replaced);
        Ok(())
    }
}

/// A multipart upload into a [`MemoryStore`]: each part takes its room as it is sent, the
/// replaced object's is given back on completion, and an aborted upload gives its parts' back.
#[derive(Debug)]
struct CountedUpload {
    upload: Box<dyn MultipartUpload>,
    store: MemoryStore,
    location: Key,
    /// The room its parts took so far.
    taken: u64,
}

#[async_trait]
impl MultipartUpload for CountedUpload {
    fn put_part(&mut self, data: PutPayload) -> UploadPart {
        let bytes = data.content_length() as u64;
        if let Err(error) = self.store.room.take(bytes) {
            return Box::pin(futures::future::ready(Err(error)));
        }
        self.taken += bytes;
        self.upload.put_part(data)
    }

    async fn complete(&mut self) -> object_store::Result<PutResult> {
        let replaced = self.store.size_of(&self.location).await;
        let done = self.upload.complete().await?;
        self.store.room.give_back(replaced);
        self.taken = 0;
        Ok(done)
    }

    async fn abort(&mut self) -> object_store::Result<()> {
        self.store.room.give_back(std::mem::take(&mut self.taken));
        self.upload.abort().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn full(result: object_store::Result<impl std::fmt::Debug>) -> bool {
        matches!(result, Err(error) if is_store_full(&error))
    }

    #[tokio::test]
    async fn writes_past_the_capacity_are_refused_and_removals_give_room_back() {
        let store = MemoryStore::new(100);
        let (a, b) = (Key::from("a"), Key::from("b"));
        store.put(&a, vec![1u8; 60].into()).await.unwrap();
        assert!(full(store.put(&b, vec![1u8; 41].into()).await));
        // Replacing an object needs room only for the difference.
        store.put(&a, vec![2u8; 90].into()).await.unwrap();
        assert_eq!(store.held(), 90);
        assert!(full(store.copy(&a, &b).await));
        store.delete(&a).await.unwrap();
        assert_eq!(store.held(), 0);
        // Parts take room as they are sent; an abort gives it back.
        let mut upload = store.put_multipart(&b).await.unwrap();
        upload.put_part(vec![3u8; 70].into()).await.unwrap();
        assert!(full(upload.put_part(vec![3u8; 31].into()).await));
        upload.abort().await.unwrap();
        assert_eq!(store.held(), 0);
        let mut upload = store.put_multipart(&b).await.unwrap();
        upload.put_part(vec![3u8; 70].into()).await.unwrap();
        upload.complete().await.unwrap();
        assert_eq!(store.held(), 70);
        store.rename(&b, &a).await.unwrap();
        assert_eq!(store.held(), 70);
    }
}
