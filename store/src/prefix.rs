//! Moving every object under one key prefix to another: a directory rename in the cloud
//! filesystem, and publishing or quarantining a job's staged outputs.

use futures::TryStreamExt;
use object_store::path::Path as Key;
use object_store::{ObjectStore, ObjectStoreExt};

use crate::copy::{CopyLimits, copy_object};

/// A move that failed: the object it stopped at, why, and how many objects it had copied
/// by then (their sources are all still in place).
#[derive(Debug)]
pub struct MoveError {
    pub key: Key,
    pub source: object_store::Error,
    pub copied: u64,
}

impl std::fmt::Display for MoveError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "cannot move `{}`: {}", self.key, self.source)
    }
}

impl std::error::Error for MoveError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.source)
    }
}

/// Moves every object under `from` to the same place under `to` (an empty key is the store's
/// root), replacing objects there of the same name; returns how many objects moved.
///
/// Every object is copied first and the sources deleted after, so a failure part-way leaves
/// every source in place. Nothing is atomic across objects: meanwhile another reader may see
/// both copies. A copy is server-side on cloud stores and a hard link on local ones, except
/// objects past `limits.single_copy`, streamed through the host ([`copy_object`]). Keys are
/// joined part by part, so names stay exactly as stored (never re-encoded). The listing is
/// streamed, page by page, twice (copies, then deletes): host memory does not grow with the
/// number of objects. `to` must not lie under `from`.
///
/// A folder placeholder that other tools leave (S3 and GCS consoles store `dir/`, zero bytes)
/// lists as the prefix itself: object_store cannot name that key, so it is left where it is.
pub async fn move_prefix(
    store: &dyn ObjectStore,
    from: &Key,
    to: &Key,
    limits: CopyLimits,
) -> Result<u64, MoveError> {
    let failed = |key: &Key, copied: u64| {
        let key = key.clone();
        move |source| MoveError {
            key,
            source,
            copied,
        }
    };
    let mut moved = 0;
    let mut listing = store.list(Some(from));
    while let Some(meta) = listing.try_next().await.map_err(failed(from, moved))? {
        if is_placeholder(&meta.location, from) {
            continue;
        }
        let Some(relative) = meta.location.prefix_match(from) else {
            continue;
        };
        let target = Key::from_iter(to.parts().chain(relative));
        copy_object(store, &meta.location, &target, meta.size, limits)
            .await
            .map_err(failed(&meta.location, moved))?;
        moved += 1;
    }
    let mut listing = store.list(Some(from));
    while let Some(meta) = listing.try_next().await.map_err(failed(from, moved))? {
        if is_placeholder(&meta.location, from) {
            continue;
        }
        store
            .delete(&meta.location)
            .await
            .map_err(failed(&meta.location, moved))?;
    }
    Ok(moved)
}

/// Whether a listing of `prefix` gave back the prefix itself: the `prefix/` folder
/// placeholder of a console, which object_store parses to `prefix` (and cannot address).
pub fn is_placeholder(listed: &Key, prefix: &Key) -> bool {
    listed == prefix && !prefix.as_ref().is_empty()
}

#[cfg(test)]
mod tests {
    use super::*;
    use object_store::PutPayload;
    use object_store::memory::InMemory;

    async fn keys(store: &dyn ObjectStore) -> Vec<String> {
        let mut keys: Vec<String> = store
            .list(None)
            .map_ok(|meta| meta.location.to_string())
            .try_collect()
            .await
            .unwrap();
        keys.sort();
        keys
    }

    #[tokio::test]
    async fn every_object_moves_with_its_name_unchanged() {
        let store = InMemory::new();
        for key in ["a/x", "a/sub/report 100%.txt", "ab/y", "b/z"] {
            store
                .put(&Key::parse(key).unwrap(), PutPayload::from("data"))
                .await
                .unwrap();
        }
        let moved = move_prefix(
            &store,
            &Key::parse("a").unwrap(),
            &Key::parse("c/d").unwrap(),
            CopyLimits::default(),
        )
        .await
        .unwrap();
        assert_eq!(moved, 2);
        assert_eq!(
            keys(&store).await,
            ["ab/y", "b/z", "c/d/sub/report 100%.txt", "c/d/x"]
        );
        // To the root: the prefix is stripped.
        move_prefix(
            &store,
            &Key::parse("c/d").unwrap(),
            &Key::default(),
            CopyLimits::default(),
        )
        .await
        .unwrap();
        assert_eq!(
            keys(&store).await,
            ["ab/y", "b/z", "sub/report 100%.txt", "x"]
        );
    }

    #[tokio::test]
    async fn a_deep_tree_moves_whole_on_a_local_store() {
        let dir = tempfile::tempdir().unwrap();
        let store = object_store::local::LocalFileSystem::new_with_prefix(dir.path())
            .unwrap()
            .with_automatic_cleanup(true);
        let mut expected = Vec::new();
        for a in 0..5 {
            for b in 0..5 {
                for c in 0..4 {
                    let key = format!("from/{a}/{b}/f{c}");
                    store
                        .put(&Key::parse(&key).unwrap(), PutPayload::from("x"))
                        .await
                        .unwrap();
                    expected.push(key.replacen("from", "to/here", 1));
                }
            }
        }
        store
            .put(&Key::parse("other/x").unwrap(), PutPayload::from("x"))
            .await
            .unwrap();
        expected.push("other/x".into());
        expected.sort();
        let moved = move_prefix(
            &store,
            &Key::parse("from").unwrap(),
            &Key::parse("to/here").unwrap(),
            CopyLimits::default(),
        )
        .await
        .unwrap();
        assert_eq!(moved, 100);
        assert_eq!(keys(&store).await, expected);
        assert!(
            !dir.path().join("from").exists(),
            "emptied directories are removed"
        );
    }

    #[tokio::test]
    async fn an_empty_prefix_moves_nothing() {
        let store = InMemory::new();
        let moved = move_prefix(
            &store,
            &Key::parse("none").unwrap(),
            &Key::parse("x").unwrap(),
            CopyLimits::default(),
        )
        .await
        .unwrap();
        assert_eq!(moved, 0);
    }
}
