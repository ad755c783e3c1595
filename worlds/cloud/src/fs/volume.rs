//! A volume: one mount as the filesystem sees it. What a path names there (`lookup`), which
//! directories are known to exist, and where a local store keeps a path on disk.
//!
//! Lookups on a local-directory store take the fast path of [`super::local`] (one `stat`);
//! every other store is asked with a `head` and, when nothing is there, a delimiter listing.

use std::collections::HashSet;
use std::hash::{Hash, Hasher};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use object_store::{ObjectStore, ObjectStoreExt};

use super::error::{ErrorCode, FsError, FsResult, is_not_found, store_error};
use super::path::RelPath;
use super::{MetadataHash, local};
use worldhost_store::Mount;

/// What a path names in a store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Entry {
    File { size: u64, modified: SystemTime },
    Dir,
    Missing,
}

/// Directories known to exist, so creating many files in one directory does not list it each
/// time. Kept up to date by this run's own creations, removals and renames.
type DirCache = Mutex<HashSet<RelPath>>;

/// One mount as the filesystem sees it: the store, the directories known to exist, and for a
/// local-directory store the host path of each key.
pub struct Volume {
    mount: Arc<Mount>,
    known_dirs: Arc<DirCache>,
    /// The mount's URL as text, which names it in metadata hashes and messages.
    url: String,
}

impl std::fmt::Debug for Volume {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Volume")
            .field("mount", &self.mount)
            .finish()
    }
}

impl Volume {
    /// A volume over `mount` with a directory cache of its own.
    pub fn new(mount: Arc<Mount>) -> Arc<Volume> {
        Volume::with_cache(mount, Arc::default())
    }

    fn with_cache(mount: Arc<Mount>, known_dirs: Arc<DirCache>) -> Arc<Volume> {
        let url = mount.url.to_string();
        Arc::new(Volume {
            mount,
            known_dirs,
            url,
        })
    }

    pub fn mount(&self) -> &Arc<Mount> {
        &self.mount
    }

    pub fn store(&self) -> &Arc<dyn ObjectStore> {
        &self.mount.store
    }

    /// The mount's URL, as text.
    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn read_only(&self) -> bool {
        self.mount.read_only
    }

    /// Whether the store keeps objects in host memory.
    pub fn in_memory(&self) -> bool {
        self.mount.in_memory
    }

    /// Whether two volumes serve the same mount (a rename between them is not cross-device).
    pub fn same_mount(&self, other: &Volume) -> bool {
        Arc::ptr_eq(&self.mount, &other.mount)
    }

    /// `not-permitted` on a read-only mount.
    pub fn check_writable(&self) -> FsResult<()> {
        if self.mount.read_only {
            Err(ErrorCode::NotPermitted.into())
        } else {
            Ok(())
        }
    }

    fn known(&self) -> std::sync::MutexGuard<'_, HashSet<RelPath>> {
        self.known_dirs.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether `path` is known to be a directory.
    pub fn dir_known(&self, path: &RelPath) -> bool {
        path.is_root() || self.known().contains(path)
    }

    /// Remembers that `path` is a directory.
    pub fn remember_dir(&self, path: &RelPath) {
        self.known().insert(path.clone());
    }

    /// Forgets `path` and every directory below it (after a removal or rename).
    pub fn forget_dirs_under(&self, path: &RelPath) {
        self.known().retain(|known| !known.starts_with(path));
    }

    /// Forgets the directories above `path`: removing or moving its last object may take
    /// them away.
    pub fn forget_ancestors(&self, path: &RelPath) {
        let mut known = self.known();
        let mut ancestor = path.parent();
        while let Some(dir) = ancestor {
            known.remove(&dir);
            ancestor = dir.parent();
        }
    }

    /// Whether the store is a local directory (its paths have host paths).
    pub fn is_local(&self) -> bool {
        self.mount.local_root.is_some()
    }

    /// The host path of `path` in a local-directory store.
    pub fn local_path(&self, path: &RelPath) -> Option<PathBuf> {
        let root = self.mount.local_root.as_ref()?;
        Some(if path.is_root() {
            root.clone()
        } else {
            root.join(path.key_ref().as_ref())
        })
    }

    /// The local store's root directory.
    pub(super) fn local_root(&self) -> Option<&std::path::Path> {
        self.mount.local_root.as_deref()
    }

    /// Resolves the guest's `path` against the directory `base`, and says whether it ended in
    /// `/` (so must name a directory). Every directory a `..` steps out of must exist, as in a
    /// real filesystem; on local stores, staged uploads' names (`NAME#DIGITS`) are refused.
    pub async fn resolve(&self, base: &RelPath, path: &str) -> FsResult<(RelPath, bool)> {
        let resolved = base.join_checked(path)?;
        if self.is_local() && resolved.path.has_staging_name() {
            // `NAME#DIGITS` is where a local store stages uploads: never the guest's.
            return Err(ErrorCode::Access.into());
        }
        for dir in resolved
            .must_be_dirs
            .iter()
            .filter(|dir| !self.dir_known(dir))
        {
            match self.lookup(dir).await? {
                Entry::Dir => {}
                Entry::File { .. } => return Err(ErrorCode::NotDirectory.into()),
                Entry::Missing => return Err(self.missing(dir).await),
            }
        }
        Ok((resolved.path, resolved.names_dir))
    }

    /// Looks up what `path` names: an object, a directory (a marker or any key below it), or
    /// nothing.
    pub async fn lookup(&self, path: &RelPath) -> FsResult<Entry> {
        if path.is_root() {
            return Ok(Entry::Dir);
        }
        if let Some(local) = self.local_path(path) {
            let entry = local::lookup(&local)?;
            if entry == Entry::Dir {
                self.remember_dir(path);
            }
            return Ok(entry);
        }
        let key = path.key_ref();
        match self.mount.store.head(key).await {
            Ok(meta) => {
                return Ok(Entry::File {
                    size: meta.size,
                    modified: meta.last_modified.into(),
                });
            }
            Err(e) if is_not_found(&e) => {}
            Err(e) => return Err(store_error(e, key)),
        }
        let listing = match self.mount.store.list_with_delimiter(Some(key)).await {
            Ok(listing) => listing,
            Err(e) if is_not_found(&e) => return Ok(Entry::Missing),
            Err(e) => return Err(store_error(e, key)),
        };
        if listing.objects.is_empty() && listing.common_prefixes.is_empty() {
            Ok(Entry::Missing)
        } else {
            self.remember_dir(path);
            Ok(Entry::Dir)
        }
    }

    /// The error for a path that names nothing: `not-directory` when the nearest existing
    /// ancestor is a file (as a real filesystem says), `no-entry` otherwise.
    pub async fn missing(&self, path: &RelPath) -> FsError {
        let mut ancestor = path.parent();
        while let Some(dir) = ancestor {
            match self.lookup(&dir).await {
                Ok(Entry::File { .. }) => return ErrorCode::NotDirectory.into(),
                Ok(Entry::Dir) => break,
                Ok(Entry::Missing) => ancestor = dir.parent(),
                Err(error) => return error,
            }
        }
        ErrorCode::NoEntry.into()
    }

    /// Fails unless `path`'s parent is an existing directory (where a new entry may be made).
    pub async fn check_parent(&self, path: &RelPath) -> FsResult<()> {
        match path.parent() {
            None => Err(ErrorCode::Exist.into()), // the mount root itself
            Some(parent) if self.dir_known(&parent) => Ok(()),
            Some(parent) => match self.lookup(&parent).await? {
                Entry::Dir => Ok(()),
                Entry::File { .. } => Err(ErrorCode::NotDirectory.into()),
                Entry::Missing => Err(self.missing(&parent).await),
            },
        }
    }

    /// A hash that names `path` in this mount, the same for every handle and every run.
    pub fn metadata_hash(&self, path: &RelPath) -> MetadataHash {
        let hash = |salt: u8| {
            let mut hasher = std::hash::DefaultHasher::new();
            (salt, &self.url, path.key_ref().as_ref()).hash(&mut hasher);
            hasher.finish()
        };
        MetadataHash {
            lower: hash(0),
            upper: hash(1),
        }
    }
}
