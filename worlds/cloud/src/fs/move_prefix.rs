//! Moving every object under one prefix to another: how a directory is renamed in a store.

use futures::TryStreamExt;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt};

/// Which step of [`move_prefix`] failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MoveStep {
    /// Listing the objects under the source prefix.
    List,
    /// Copying `key` to its new place.
    Copy,
    /// Deleting `key` after every object was copied.
    Delete,
}

/// Why [`move_prefix`] stopped, and how far it got.
#[derive(Debug)]
pub struct MovePrefixError {
    pub step: MoveStep,
    /// The key being listed, copied or deleted.
    pub key: Path,
    /// How many objects had been copied when it stopped.
    pub copied: u64,
    pub source: object_store::Error,
}

impl std::fmt::Display for MovePrefixError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let step = match self.step {
            MoveStep::List => "listing",
            MoveStep::Copy => "copying",
            MoveStep::Delete => "deleting",
        };
        write!(
            f,
            "{step} `{}` failed after {} objects were copied: {}",
            self.key, self.copied, self.source
        )
    }
}

impl std::error::Error for MovePrefixError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.source)
    }
}

/// Moves every object under `from` to the same place under `to`: copies them all first, then
/// deletes every source, so a failure part-way leaves the source whole (and perhaps part of
/// the target). Not atomic: another reader may see both. Returns how many objects moved.
///
/// The caller makes sure `to` does not lie under `from`. Keys are rebuilt part by part, so
/// names stay exactly as they were (no re-encoding).
pub async fn move_prefix(
    store: &dyn ObjectStore,
    from: &Path,
    to: &Path,
) -> Result<u64, MovePrefixError> {
    let failed = |step, key: &Path, copied, source| MovePrefixError {
        step,
        key: key.clone(),
        copied,
        source,
    };
    let objects: Vec<_> = store
        .list(Some(from))
        .try_collect()
        .await
        .map_err(|e| failed(MoveStep::List, from, 0, e))?;
    let mut copied = 0;
    for meta in &objects {
        let Some(relative) = meta.location.prefix_match(from) else {
            continue;
        };
        let target = Path::from_iter(to.parts().chain(relative));
        store
            .copy(&meta.location, &target)
            .await
            .map_err(|e| failed(MoveStep::Copy, &meta.location, copied, e))?;
        copied += 1;
    }
    for meta in &objects {
        if meta.location.prefix_match(from).is_none() {
            continue;
        }
        store
            .delete(&meta.location)
            .await
            .map_err(|e| failed(MoveStep::Delete, &meta.location, copied, e))?;
    }
    Ok(copied)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use futures::stream::BoxStream;
    use object_store::memory::InMemory;
    use object_store::{
        CopyOptions, GetOptions, GetResult, ListResult, MultipartUpload, ObjectMeta,
        PutMultipartOptions, PutOptions, PutPayload, PutResult,
    };

    use super::*;

    /// An in-memory store whose copies to keys containing `fail` fail.
    #[derive(Debug, Default)]
    struct Failing(InMemory);

    impl std::fmt::Display for Failing {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("Failing")
        }
    }

    #[async_trait::async_trait]
    impl ObjectStore for Failing {
        async fn put_opts(
            &self,
            location: &Path,
            payload: PutPayload,
            opts: PutOptions,
        ) -> object_store::Result<PutResult> {
            self.0.put_opts(location, payload, opts).await
        }

        async fn put_multipart_opts(
            &self,
            location: &Path,
            opts: PutMultipartOptions,
        ) -> object_store::Result<Box<dyn MultipartUpload>> {
            self.0.put_multipart_opts(location, opts).await
        }

        async fn get_opts(
            &self,
            location: &Path,
            options: GetOptions,
        ) -> object_store::Result<GetResult> {
            self.0.get_opts(location, options).await
        }

        fn delete_stream(
            &self,
            locations: BoxStream<'static, object_store::Result<Path>>,
        ) -> BoxStream<'static, object_store::Result<Path>> {
            self.0.delete_stream(locations)
        }

        fn list(
            &self,
            prefix: Option<&Path>,
        ) -> BoxStream<'static, object_store::Result<ObjectMeta>> {
            self.0.list(prefix)
        }

        async fn list_with_delimiter(
            &self,
            prefix: Option<&Path>,
        ) -> object_store::Result<ListResult> {
            self.0.list_with_delimiter(prefix).await
        }

        async fn copy_opts(
            &self,
            from: &Path,
            to: &Path,
            options: CopyOptions,
        ) -> object_store::Result<()> {
            if to.as_ref().contains("fail") {
                return Err(object_store::Error::Generic {
                    store: "Failing",
                    source: "refused".into(),
                });
            }
            self.0.copy_opts(from, to, options).await
        }
    }

    async fn keys(store: &dyn ObjectStore) -> Vec<String> {
        let listed: Vec<_> = store.list(None).try_collect().await.unwrap();
        let mut keys: Vec<_> = listed.iter().map(|m| m.location.to_string()).collect();
        keys.sort();
        keys
    }

    async fn store_with(keys: &[&str]) -> Arc<Failing> {
        let store = Arc::new(Failing::default());
        for key in keys {
            store
                .put(&Path::from(*key), PutPayload::from_static(b"x"))
                .await
                .unwrap();
        }
        store
    }

    #[tokio::test]
    async fn moves_everything_under_the_prefix_and_nothing_beside_it() {
        let store = store_with(&["a/1", "a/b/2", "a/b/c/3", "ab/4", "a.txt"]).await;
        let moved = move_prefix(store.as_ref(), &Path::from("a"), &Path::from("z/y"))
            .await
            .unwrap();
        assert_eq!(moved, 3);
        assert_eq!(
            keys(store.as_ref()).await,
            ["a.txt", "ab/4", "z/y/1", "z/y/b/2", "z/y/b/c/3"]
        );
    }

    #[tokio::test]
    async fn names_stay_unencoded() {
        let store = store_with(&[]).await;
        let odd = Path::parse("d/100% sure #1/é").unwrap();
        store
            .put(&odd, PutPayload::from_static(b"x"))
            .await
            .unwrap();
        move_prefix(store.as_ref(), &Path::from("d"), &Path::from("e"))
            .await
            .unwrap();
        assert_eq!(keys(store.as_ref()).await, ["e/100% sure #1/é"]);
    }

    #[tokio::test]
    async fn a_failure_part_way_leaves_the_source_whole() {
        let store = store_with(&["a/1", "a/2", "a/fail", "a/3"]).await;
        let error = move_prefix(store.as_ref(), &Path::from("a"), &Path::from("b"))
            .await
            .unwrap_err();
        assert_eq!((error.step, error.key.as_ref()), (MoveStep::Copy, "a/fail"));
        let keys = keys(store.as_ref()).await;
        for source in ["a/1", "a/2", "a/3", "a/fail"] {
            assert!(keys.contains(&source.to_owned()), "{keys:?}");
        }
        assert_eq!(keys.len() as u64, 4 + error.copied);
    }

    #[tokio::test]
    async fn an_empty_prefix_moves_nothing() {
        let store = store_with(&["x"]).await;
        let moved = move_prefix(store.as_ref(), &Path::from("a"), &Path::from("b"))
            .await
            .unwrap();
        assert_eq!(moved, 0);
        assert_eq!(keys(store.as_ref()).await, ["x"]);
    }
}
