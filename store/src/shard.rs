//! A shard's view of an input store: only the objects assigned to it.
//!
//! A sharded job (`host run --job J --shard I/N`) mounts its split input through
//! [`ShardStore`]: listings hold only the shard's objects (and the directories leading to
//! them), and a get or head of any other key answers not-found, exactly as if the object were
//! not there, so the guest sees its share as plain files and cannot read another shard's.
//! Every write is refused: inputs are read-only.
//!
//! The mount built over it ([`Mount::only`]) has no local root and no paged listing: every
//! read and listing goes through the filter (a directory is listed in one page, holding only
//! the shard's entries).

use std::collections::HashSet;
use std::ops::Range;
use std::sync::Arc;

use async_trait::async_trait;
use futures::stream::{BoxStream, StreamExt};
use object_store::path::Path as Key;
use object_store::{
    CopyOptions, GetOptions, GetResult, ListResult, MultipartUpload, ObjectMeta, ObjectStore,
    PutMultipartOptions, PutOptions, PutPayload, PutResult, RenameOptions,
};

use crate::mount::{Mount, MountStats};
use crate::names::is_reserved;

/// An input store seen through a shard: only the keys in `keys` exist.
#[derive(Debug)]
pub struct ShardStore {
    inner: Arc<dyn ObjectStore>,
    /// The shard's objects, relative to the store's root.
    keys: Arc<HashSet<Key>>,
    /// Every directory that holds one of them (at any depth), the root excluded.
    dirs: Arc<HashSet<Key>>,
}

impl ShardStore {
    pub fn new(inner: Arc<dyn ObjectStore>, keys: impl IntoIterator<Item = Key>) -> ShardStore {
        let keys: HashSet<Key> = keys.into_iter().collect();
        let mut dirs = HashSet::new();
        for key in &keys {
            let parts: Vec<_> = key.parts().collect();
            for depth in 1..parts.len() {
                dirs.insert(Key::from_iter(parts[..depth].iter().cloned()));
            }
        }
        ShardStore {
            inner,
            keys: Arc::new(keys),
            dirs: Arc::new(dirs),
        }
    }

    fn not_found(location: &Key) -> object_store::Error {
        object_store::Error::NotFound {
            path: location.to_string(),
            source: "not in this shard".into(),
        }
    }

    fn read_only() -> object_store::Error {
        object_store::Error::NotSupported {
            source: "a sharded job's input is read-only".into(),
        }
    }
}

impl std::fmt::Display for ShardStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "ShardStore({} objects of {})",
            self.keys.len(),
            self.inner
        )
    }
}

#[async_trait]
impl ObjectStore for ShardStore {
    async fn put_opts(
        &self,
        _: &Key,
        _: PutPayload,
        _: PutOptions,
    ) -> object_store::Result<PutResult> {
        Err(Self::read_only())
    }

    async fn put_multipart_opts(
        &self,
        _: &Key,
        _: PutMultipartOptions,
    ) -> object_store::Result<Box<dyn MultipartUpload>> {
        Err(Self::read_only())
    }

    async fn get_opts(
        &self,
        location: &Key,
        options: GetOptions,
    ) -> object_store::Result<GetResult> {
        if !self.keys.contains(location) {
            return Err(Self::not_found(location));
        }
        self.inner.get_opts(location, options).await
    }

    async fn get_ranges(
        &self,
        location: &Key,
        ranges: &[Range<u64>],
    ) -> object_store::Result<Vec<bytes::Bytes>> {
        if !self.keys.contains(location) {
            return Err(Self::not_found(location));
        }
        self.inner.get_ranges(location, ranges).await
    }

    fn delete_stream(
        &self,
        locations: BoxStream<'static, object_store::Result<Key>>,
    ) -> BoxStream<'static, object_store::Result<Key>> {
        locations.map(|_| Err(Self::read_only())).boxed()
    }

    fn list(&self, prefix: Option<&Key>) -> BoxStream<'static, object_store::Result<ObjectMeta>> {
        let keys = self.keys.clone();
        self.inner
            .list(prefix)
            .filter(move |meta| {
                let keep = meta
                    .as_ref()
                    .map_or(true, |meta| keys.contains(&meta.location));
                futures::future::ready(keep)
            })
            .boxed()
    }

    async fn list_with_delimiter(&self, prefix: Option<&Key>) -> object_store::Result<ListResult> {
        let mut listed = self.inner.list_with_delimiter(prefix).await?;
        listed
            .objects
            .retain(|meta| self.keys.contains(&meta.location));
        listed.common_prefixes.retain(|dir| self.dirs.contains(dir));
        Ok(listed)
    }

    async fn copy_opts(&self, _: &Key, _: &Key, _: CopyOptions) -> object_store::Result<()> {
        Err(Self::read_only())
    }

    async fn rename_opts(&self, _: &Key, _: &Key, _: RenameOptions) -> object_store::Result<()> {
        Err(Self::read_only())
    }
}

impl Mount {
    /// This mount's objects (keys relative to its root), every one of them, host names and
    /// local stores' staged uploads left out: what a sharded job splits.
    pub async fn all_objects(&self) -> object_store::Result<Vec<ObjectMeta>> {
        let mut objects = Vec::new();
        let mut listing = self.store.list(None);
        while let Some(meta) = listing.next().await {
            let meta = meta?;
            if meta.location.parts().any(|part| is_reserved(part.as_ref())) {
                continue;
            }
            objects.push(meta);
        }
        objects.sort_by(|a, b| a.location.cmp(&b.location));
        Ok(objects)
    }

    /// The same store, read-only, showing only `keys` (see [`ShardStore`]).
    pub fn only(&self, keys: impl IntoIterator<Item = Key>) -> Mount {
        Mount {
            url: self.url.clone(),
            guest: self.guest.clone(),
            read_only: true,
            store: Arc::new(ShardStore::new(self.store.clone(), keys)),
            in_memory: self.in_memory,
            local_root: None,
            stats: MountStats::default(),
            pager: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use object_store::ObjectStoreExt;

    #[tokio::test]
    async fn only_the_shards_objects_exist() {
        let inner = Arc::new(crate::MemoryStore::new(1 << 20));
        for key in ["a.txt", "b.txt", "d/c.txt", "e/f.txt"] {
            inner.put(&Key::from(key), "x".into()).await.unwrap();
        }
        let shard = ShardStore::new(inner, [Key::from("a.txt"), Key::from("d/c.txt")]);
        let root = shard.list_with_delimiter(None).await.unwrap();
        let objects: Vec<_> = root
            .objects
            .iter()
            .map(|m| m.location.to_string())
            .collect();
        assert_eq!(objects, ["a.txt"]);
        assert_eq!(root.common_prefixes, [Key::from("d")]);
        let all: Vec<_> = shard
            .list(None)
            .map(|m| m.unwrap().location.to_string())
            .collect()
            .await;
        assert_eq!(all.len(), 2, "{all:?}");
        assert!(shard.get(&Key::from("d/c.txt")).await.is_ok());
        let other = shard.head(&Key::from("b.txt")).await;
        assert!(
            matches!(other, Err(object_store::Error::NotFound { .. })),
            "{other:?}"
        );
        assert!(shard.put(&Key::from("a.txt"), "y".into()).await.is_err());
    }
}
