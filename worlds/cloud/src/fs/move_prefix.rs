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
