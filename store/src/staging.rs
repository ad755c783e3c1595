//! A job's outputs: written to a staging area, published at their final keys only when the job
//! succeeds, so a failed run never leaves half a result set.
//!
//! An output mount's guest writes go to `.worldhost-staging/RUN/` under the mount's own prefix
//! (the same store, so publishing is [`move_prefix`]: hard links on a local store, server-side
//! copies elsewhere, streamed through the host past the store's single-copy limit, then
//! deletes). On success every staged object is moved to its final key,
//! replacing an object of the same name; keys the run did not write are left alone. On
//! failure the staged objects are deleted, or moved to `.worldhost-quarantine/RUN/` to be
//! looked at. Publishing many objects is not atomic across them: if the store fails part-way,
//! the staged objects stay where they are and the error names the staging prefix.

use std::sync::Arc;

use anyhow::{Context, Result};
use futures::TryStreamExt;
use object_store::ObjectStoreExt;
use object_store::path::Path as Key;

use crate::mount::Mount;
use crate::names::{QUARANTINE_DIR, STAGING_DIR};
use crate::prefix::move_prefix;

/// One output mount: the store the results belong in, and the staged mount the guest writes.
pub struct StagedOutput {
    /// The output's own mount (its final keys).
    pub target: Arc<Mount>,
    /// The mount the guest is given: the target's store under the staging prefix.
    pub staged: Arc<Mount>,
    /// `.worldhost-staging/RUN`, relative to the target's root.
    pub prefix: String,
}

impl StagedOutput {
    /// Stages writes to `target` under a prefix named after `run_id`.
    pub fn new(target: Arc<Mount>, run_id: &str) -> StagedOutput {
        let prefix = format!("{STAGING_DIR}/{run_id}");
        let staged = Arc::new(target.staged(&prefix));
        StagedOutput {
            target,
            staged,
            prefix,
        }
    }

    fn staging_key(&self) -> Key {
        Key::from_iter(self.prefix.split('/'))
    }

    /// Moves every staged object to its final key; returns how many were published.
    pub async fn publish(&self) -> Result<u64> {
        let moved = move_prefix(
            &*self.target.store,
            &self.staging_key(),
            &Key::default(),
            self.target.url.copy_limits(),
        )
            .await
            .with_context(|| {
                format!(
                    "publishing the outputs in `{}` failed; what was not yet published is still under `{}`",
                    self.target.url, self.prefix
                )
            })?;
        self.remove_leftovers();
        Ok(moved)
    }

    /// Deletes every staged object (the listing streamed, page by page).
    pub async fn discard(&self) -> Result<()> {
        let store = &self.target.store;
        let mut listing = store.list(Some(&self.staging_key()));
        let listing_failed = || {
            format!(
                "cannot list the staged outputs under `{}` in `{}`",
                self.prefix, self.target.url
            )
        };
        while let Some(meta) = listing.try_next().await.with_context(listing_failed)? {
            store
                .delete(&meta.location)
                .await
                .with_context(|| format!("cannot discard the staged output `{}`", meta.location))?;
        }
        self.remove_leftovers();
        Ok(())
    }

    /// Moves the staged objects to `.worldhost-quarantine/RUN/`; returns that prefix.
    pub async fn quarantine(&self) -> Result<String> {
        let run_id = self.prefix.rsplit('/').next().unwrap_or_default();
        let quarantine = format!("{QUARANTINE_DIR}/{run_id}");
        let destination = Key::from_iter(quarantine.split('/'));
        move_prefix(
            &*self.target.store,
            &self.staging_key(),
            &destination,
            self.target.url.copy_limits(),
        )
        .await
        .with_context(|| {
            format!(
                "cannot quarantine the outputs in `{}`; they are under `{}`",
                self.target.url, self.prefix
            )
        })?;
        self.remove_leftovers();
        Ok(quarantine)
    }

    /// On a local store, removes the staging directory itself (and any half-written file a
    /// crashed write left in it, which listings never show).
    fn remove_leftovers(&self) {
        // Only a real directory beneath the root: `remove_dir_all` would follow a planted
        // link on the way to it (it follows none below it).
        if let Some(staged) = &self.staged.local_root
            && staged.check("").is_ok()
            && let dir = staged.path()
            && let Err(error) = std::fs::remove_dir_all(&dir)
            && error.kind() != std::io::ErrorKind::NotFound
        {
            tracing::warn!(dir = %dir.display(), %error, "cannot remove the staging directory");
        }
        if let Some(root) = &self.target.local_root {
            // `.worldhost-staging` itself, once no other run is using it (`rmdir` never
            // follows a link).
            let _ = root.remove_dir(STAGING_DIR);
        }
    }
}
