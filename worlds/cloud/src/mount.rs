//! Mounts come from the `worldhost-store` crate. Until the filesystem core owns its directory
//! cache, this extension answers what the descriptors ask of a mount.

use std::path::PathBuf;

use crate::path::RelPath;
pub use worldhost_store::{Mount, MountSpec};

/// What the descriptors ask of a mount beyond the store.
pub trait MountExt {
    fn dir_known(&self, path: &RelPath) -> bool;
    fn remember_dir(&self, path: &RelPath);
    fn forget_dirs_under(&self, path: &RelPath);
    fn forget_ancestors(&self, path: &RelPath);
    fn local_path(&self, path: &RelPath) -> Option<PathBuf>;
}

impl MountExt for Mount {
    fn dir_known(&self, path: &RelPath) -> bool {
        path.is_root()
    }

    fn remember_dir(&self, _: &RelPath) {}

    fn forget_dirs_under(&self, _: &RelPath) {}

    fn forget_ancestors(&self, _: &RelPath) {}

    fn local_path(&self, path: &RelPath) -> Option<PathBuf> {
        let root = self.local_root.as_ref()?;
        Some(if path.is_root() {
            root.clone()
        } else {
            root.join(path.key().as_ref())
        })
    }
}
