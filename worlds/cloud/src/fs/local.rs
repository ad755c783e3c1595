//! The fast path for local-directory stores: a `stat`, a `readdir` or an `unlink` where
//! the store would hop to a blocking thread, and list. Each gives the answer the store's own
//! view would give (markers and staged uploads hidden, empty directories removed), and each
//! reaches its path beneath the mount's root with no link followed ([`LocalRoot`]): a link
//! is neither a file nor a directory here, as for the store.

use std::time::SystemTime;

use object_store::PutResult;
use object_store::path::Path as Key;
use worldhost_store::{EntryKind, LocalRoot, names_nothing, out_of_descriptors};

use super::error::{ErrorCode, FsResult, spool_error};
use super::path::{DIR_MARKER, RelPath};
use super::volume::Entry;

/// `lookup` on a local-directory store: one `fstatat` of the name in its directory (see
/// [`LocalRoot::stat`]). A path through a link, or a link, names nothing.
pub fn lookup(root: &LocalRoot, path: &RelPath) -> FsResult<Entry> {
    match root.stat(path.key_ref().as_ref()) {
        Ok(stat) => Ok(match stat.kind {
            EntryKind::File => Entry::File {
                size: stat.size,
                modified: stat.modified,
            },
            EntryKind::Dir => Entry::Dir,
            EntryKind::Other => Entry::Missing,
        }),
        Err(e) if names_nothing(&e) => Ok(Entry::Missing),
        Err(e) => Err(spool_error(e)),
    }
}

/// Deletes a file of a local-directory store directly, then removes the directories left
/// empty above it, as the store's automatic cleanup does (a marker keeps a directory; each
/// `rmdir` is of a directory reached with no link followed). With `parent_marked` (the run
/// wrote the marker of the file's directory) no `rmdir` is tried: it would fail.
pub fn remove(root: &LocalRoot, path: &RelPath, parent_marked: bool) -> FsResult<()> {
    root.remove_file(path.key_ref().as_ref())
        .map_err(spool_error)?;
    remove_empty_parents(root, path, parent_marked);
    Ok(())
}

/// Creates the empty marker `marker` of a new directory, and the directories it lies in, all
/// beneath the root with no link followed; fails with the store's `AlreadyExists` if it is
/// there, as a conditional put (`PutMode::Create`) does.
pub fn create_marker(root: &LocalRoot, marker: &Key) -> object_store::Result<PutResult> {
    match root.create_new_file(marker.as_ref()) {
        Ok(_) => Ok(PutResult {
            e_tag: None,
            version: None,
            extensions: Default::default(),
        }),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            Err(object_store::Error::AlreadyExists {
                path: marker.to_string(),
                source: Box::new(e),
            })
        }
        // A link on the way names nothing, as for the store.
        Err(e) if names_nothing(&e) => Err(object_store::Error::NotFound {
            path: marker.to_string(),
            source: Box::new(e),
        }),
        Err(e) => Err(super::spool::io_to_store(e)),
    }
}

/// Removes the directory `path` of a local-directory store, empty but for its marker: the
/// marker (if any), the directory, then the directories left empty above it, as the store's
/// automatic cleanup does; each reached beneath the root with no link followed.
pub fn remove_dir(root: &LocalRoot, path: &RelPath) -> FsResult<()> {
    match root.remove_file(path.marker_key().as_ref()) {
        Ok(()) => {}
        Err(e) if names_nothing(&e) => {}
        Err(e) => return Err(spool_error(e)),
    }
    match root.remove_dir(path.key_ref().as_ref()) {
        Ok(()) => {}
        // Gone already (another process), as a store's delete of a missing key.
        Err(e) if names_nothing(&e) => {}
        // Filled meanwhile by another process.
        Err(e) if e.kind() == std::io::ErrorKind::DirectoryNotEmpty => {
            return Err(ErrorCode::NotEmpty.into());
        }
        Err(e) => return Err(spool_error(e)),
    }
    remove_empty_parents(root, path, false);
    Ok(())
}

/// Renames the file `from` of a local-directory store over `to` (its missing parents made),
/// then removes the directories left empty above `from`, as a copy and a delete through the
/// store would; all beneath the root with no link followed.
pub fn rename_file(
    root: &LocalRoot,
    from: &RelPath,
    to: &RelPath,
    from_parent_marked: bool,
) -> FsResult<()> {
    match root.rename_file(from.key_ref().as_ref(), to.key_ref().as_ref()) {
        Ok(()) => {}
        Err(e) if names_nothing(&e) => return Err(ErrorCode::NoEntry.into()),
        Err(e) => return Err(spool_error(e)),
    }
    remove_empty_parents(root, from, from_parent_marked);
    Ok(())
}

/// Deletes `path` if it is a regular file (the check and the removal in one directory opened
/// beneath the root), then the directories left empty above it as [`remove`] does; `false`
/// (and nothing done) if it is anything else or names nothing, for the caller to say why.
/// A file the run wrote itself (`written`) is removed with no check first
/// ([`LocalRoot::remove_written_file`]: the `fstatat` was about a tenth of a removal on tmpfs).
pub fn remove_if_file(
    root: &LocalRoot,
    path: &RelPath,
    parent_marked: bool,
    written: bool,
) -> FsResult<bool> {
    let key = path.key_ref().as_ref();
    let removed = match written {
        true => root.remove_written_file(key),
        false => root.remove_if_file(key),
    };
    match removed {
        Ok(EntryKind::File) => {
            remove_empty_parents(root, path, parent_marked);
            Ok(true)
        }
        Ok(_) => Ok(false),
        Err(e) if names_nothing(&e) => Ok(false),
        Err(e) => Err(spool_error(e)),
    }
}

/// What [`open_to_read`] found.
pub enum OpenedToRead {
    File {
        file: std::fs::File,
        size: u64,
        modified: SystemTime,
    },
    Dir,
}

/// `path` opened for reading if it is a regular file ([`LocalRoot::open_to_read`]: one
/// `openat2` and one `fstat`), or found to be a directory; `None` when it is anything else or
/// names nothing (the caller's lookup then says why).
pub fn open_to_read(root: &LocalRoot, path: &RelPath) -> FsResult<Option<OpenedToRead>> {
    match root.open_to_read(path.key_ref().as_ref()) {
        Ok((Some(file), stat)) => Ok(Some(OpenedToRead::File {
            file,
            size: stat.size,
            modified: stat.modified,
        })),
        Ok((None, stat)) if stat.kind == EntryKind::Dir => Ok(Some(OpenedToRead::Dir)),
        Ok((None, _)) => Ok(None),
        Err(e) if names_nothing(&e) => Ok(None),
        // Out of descriptors (many handles open at once): the file is opened at its first
        // read instead, as before this fast path.
        Err(e) if out_of_descriptors(&e) => Ok(None),
        Err(e) => Err(spool_error(e)),
    }
}

/// The directories above `path` left empty by its removal, removed (none when the parent
/// keeps a marker).
fn remove_empty_parents(root: &LocalRoot, path: &RelPath, parent_marked: bool) {
    if parent_marked {
        return;
    }
    let mut dir = path.parent();
    while let Some(parent) = dir.filter(|parent| !parent.is_root()) {
        if root.remove_dir(parent.key_ref().as_ref()).is_err() {
            break;
        }
        dir = parent.parent();
    }
}

/// Whether a local directory holds nothing but (perhaps) its marker. Staged uploads and
/// links count: they keep a directory, though listings hide them.
pub fn holds_only_marker(root: &LocalRoot, path: &RelPath) -> FsResult<bool> {
    let mut only_marker = true;
    root.for_each_entry(path.key_ref().as_ref(), |name, _| {
        only_marker = name == DIR_MARKER;
        only_marker
    })
    .map_err(spool_error)?;
    Ok(only_marker)
}

/// Sets a local file's modification time (what `utimensat` does on a real directory).
pub fn set_modified(root: &LocalRoot, path: &RelPath, time: SystemTime) -> std::io::Result<()> {
    root.open_file(path.key_ref().as_ref(), true)?
        .set_modified(time)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    /// A directory's marker is made, a directory removed and a file renamed beneath the root:
    /// through a link (planted after the caller's checks, say) nothing is made, removed or
    /// moved outside.
    #[test]
    fn markers_directory_removals_and_renames_stay_beneath_the_root() {
        let base = tempfile::tempdir().unwrap();
        let (inside, outside) = (base.path().join("root"), base.path().join("outside"));
        std::fs::create_dir_all(outside.join("victim")).unwrap();
        let root = LocalRoot::open(&inside).unwrap();
        symlink(&outside, inside.join("link")).unwrap();
        let path = |text: &str| RelPath::root().join(text).unwrap();

        let through_link = create_marker(&root, &path("link/new").marker_key());
        assert!(
            matches!(through_link, Err(object_store::Error::NotFound { .. })),
            "{through_link:?}"
        );
        assert!(!outside.join("new").exists());
        assert!(remove_dir(&root, &path("link/victim")).is_ok());
        assert!(outside.join("victim").is_dir(), "removed through the link");

        create_marker(&root, &path("a/b").marker_key()).unwrap();
        assert!(inside.join("a/b/.worldhost-dir").is_file());
        let again = create_marker(&root, &path("a/b").marker_key());
        assert!(matches!(
            again,
            Err(object_store::Error::AlreadyExists { .. })
        ));
        // The directory goes, and `a`, left empty (as the store's own cleanup does).
        remove_dir(&root, &path("a/b")).unwrap();
        assert!(!inside.join("a").exists());

        // A rename moves the file beneath the root, removes what it left empty, and goes
        // through no link at either end.
        std::fs::create_dir_all(inside.join("x/y")).unwrap();
        std::fs::write(inside.join("x/y/f"), "data").unwrap();
        rename_file(&root, &path("x/y/f"), &path("z/f"), false).unwrap();
        assert_eq!(std::fs::read_to_string(inside.join("z/f")).unwrap(), "data");
        assert!(!inside.join("x").exists());
        let out = rename_file(&root, &path("z/f"), &path("link/f"), false);
        assert!(matches!(out.map_err(code), Err(ErrorCode::NoEntry)));
        std::fs::write(outside.join("secret"), "s").unwrap();
        let stolen = rename_file(&root, &path("link/secret"), &path("z/s"), false);
        assert!(matches!(stolen.map_err(code), Err(ErrorCode::NoEntry)));
        assert!(outside.join("secret").exists() && inside.join("z/f").exists());
    }

    fn code(error: crate::fs::FsError) -> ErrorCode {
        match error {
            crate::fs::FsError::Code(code) => code,
            crate::fs::FsError::Trap(trap) => panic!("a trap: {trap}"),
        }
    }
}
