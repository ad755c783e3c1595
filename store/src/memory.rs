//! `memory:` stores: object_store's `InMemory` with a capacity.
//!
//! Everything a `memory:` store holds lives in the host's memory, and a plugin host shares the
//! store across calls, so a per-run write limit does not bound it: the store itself refuses a
//! write (a put, an upload's part, a copy) that would take it past its capacity, with
//! [`MemoryStoreFull`] (the cloud filesystem answers `insufficient-space`, as a full disk does).
//! Replacing or deleting objects gives their bytes back. An object's key counts too (its
//! bytes and [`KEY_OVERHEAD`]), so a store of many empty objects with long names is bounded
//! as well.

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

/// What an object costs beyond its data and its key's bytes: the map's entry, its metadata.
pub const KEY_OVERHEAD: u64 = 64;

/// The room an object at `key` takes beside its data.
fn key_cost(key: &Key) -> u64 {
    KEY_OVERHEAD + key.as_ref().len() as u64
}

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

    /// Takes `bytes` whatever the capacity (what a write already made, such as a key's
    /// cost after a rename or a completed upload: it is given back with the object).
    fn hold(&self, bytes: u64) {
        self.held.fetch_add(bytes, Ordering::AcqRel);
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

    /// The room the object at `key` takes (its data and its key's cost), 0 if there is none.
    async fn held_by(&self, key: &Key) -> u64 {
        self.inner
            .head(key)
            .await
            .map_or(0, |meta| meta.size + key_cost(key))
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
        let replaced = self.held_by(key).await;
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
        let bytes = payload.content_length() as u64 + key_cost(location);
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
                    let size = this.held_by(&key).await;
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
        let bytes = self.inner.head(from).await?.size + key_cost(to);
        let copy = self.inner.copy_opts(from, to, options);
        self.replacing(to, bytes, copy).await
    }

    async fn rename_opts(
        &self,
        from: &Key,
        to: &Key,
        options: RenameOptions,
    ) -> object_store::Result<()> {
        // The moved bytes stay held; what `to` held goes, and the key's cost moves.
        let replaced = self.held_by(to).await;
        self.inner.rename_opts(from, to, options).await?;
        self.room.hold(key_cost(to));
        self.room.give_back(replaced + key_cost(from));
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
        let replaced = self.store.held_by(&self.location).await;
        let done = self.upload.complete().await?;
        self.store.room.hold(key_cost(&self.location));
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
        // Keys `a` and `b` cost 65 each beside their data.
        let store = MemoryStore::new(300);
        let (a, b) = (Key::from("a"), Key::from("b"));
        store.put(&a, vec![1u8; 100].into()).await.unwrap();
        assert_eq!(store.held(), 165);
        assert!(full(store.put(&b, vec![1u8; 71].into()).await));
        // Replacing an object needs room only for the difference.
        store.put(&a, vec![2u8; 160].into()).await.unwrap();
        assert_eq!(store.held(), 225);
        assert!(full(store.copy(&a, &b).await));
        store.delete(&a).await.unwrap();
        assert_eq!(store.held(), 0);
        // Parts take room as they are sent; an abort gives it back.
        let mut upload = store.put_multipart(&b).await.unwrap();
        upload.put_part(vec![3u8; 100].into()).await.unwrap();
        assert!(full(upload.put_part(vec![3u8; 201].into()).await));
        upload.abort().await.unwrap();
        assert_eq!(store.held(), 0);
        let mut upload = store.put_multipart(&b).await.unwrap();
        upload.put_part(vec![3u8; 100].into()).await.unwrap();
        upload.complete().await.unwrap();
        assert_eq!(store.held(), 165);
        store.rename(&b, &Key::from("longer")).await.unwrap();
        assert_eq!(store.held(), 170);
        store.delete(&Key::from("longer")).await.unwrap();
        assert_eq!(store.held(), 0);
    }

    /// Empty objects with long names are not free: a guest cannot fill host memory with keys.
    #[tokio::test]
    async fn keys_count_against_the_capacity() {
        let store = MemoryStore::new(4 * (KEY_OVERHEAD + 1000));
        let key = |i: usize| Key::from(format!("{i}{}", "k".repeat(999)));
        for i in 0..4 {
            store.put(&key(i), PutPayload::default()).await.unwrap();
        }
        assert!(full(store.put(&key(4), PutPayload::default()).await));
        store.delete(&key(0)).await.unwrap();
        store.put(&key(4), PutPayload::default()).await.unwrap();
    }
}
