//! The fast path for local-directory stores: a `stat`, a `readdir` or an `unlink` where
//! the store would hop to a blocking thread, and list. Each gives the answer the store's own
//! view would give (markers and staged uploads hidden, empty directories removed).

use std::path::Path;
use std::time::SystemTime;

use super::error::{FsResult, spool_error};
use super::path::{DIR_MARKER, is_reserved};
use super::volume::Entry;
use super::{DirEntry, Kind};

/// `lookup` on a local-directory store: one `stat`.
pub fn lookup(local: &Path) -> FsResult<Entry> {
    match std::fs::metadata(local) {
        Ok(meta) if meta.is_file() => Ok(Entry::File {
            size: meta.len(),
            modified: meta.modified().unwrap_or(SystemTime::UNIX_EPOCH),
        }),
        Ok(meta) if meta.is_dir() => Ok(Entry::Dir),
        Ok(_) => Ok(Entry::Missing),
        Err(e)
            if matches!(
                e.kind(),
                std::io::ErrorKind::NotFound | std::io::ErrorKind::NotADirectory
            ) =>
        {
            Ok(Entry::Missing)
        }
        Err(e) => Err(spool_error(e)),
    }
}

/// Deletes a file of a local-directory store directly, then removes the directories left
/// empty above it, as the store's automatic cleanup does (a marker keeps a directory).
pub fn remove(local: &Path, root: &Path) -> FsResult<()> {
    std::fs::remove_file(local).map_err(spool_error)?;
    let mut dir = local.parent();
    while let Some(parent) = dir.filter(|parent| *parent != root && parent.starts_with(root)) {
        if std::fs::remove_dir(parent).is_err() {
            break;
        }
        dir = parent.parent();
    }
    Ok(())
}

/// `read-directory` on a local-directory store: one `readdir`, with the kinds it reports,
/// hiding markers and staged uploads as the store's listing does. Unsorted.
pub fn list(local: &Path) -> FsResult<Vec<DirEntry>> {
    let entries = match std::fs::read_dir(local) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(spool_error(e)),
    };
    let mut listed = Vec::new();
    for entry in entries {
        let entry = entry.map_err(spool_error)?;
        let Ok(name) = entry.file_name().into_string() else {
            continue;
        };
        if is_reserved(&name) {
            continue;
        }
        let kind = entry.file_type().map_err(spool_error)?;
        let kind = if kind.is_dir() {
            Kind::Dir
        } else if kind.is_file() {
            Kind::File
        } else {
            continue;
        };
        listed.push(DirEntry { name, kind });
    }
    Ok(listed)
}

/// Whether a local directory holds nothing but (perhaps) its marker. Staged uploads count:
/// they keep a directory, though listings hide them.
pub fn holds_only_marker(local: &Path) -> FsResult<bool> {
    let entries = std::fs::read_dir(local).map_err(spool_error)?;
    let mut names = entries.filter_map(|entry| entry.ok().map(|entry| entry.file_name()));
    Ok(names.all(|name| name == DIR_MARKER))
}

/// Sets a local file's modification time (what `utimensat` does on a real directory).
pub fn set_modified(local: &Path, time: SystemTime) -> std::io::Result<()> {
    std::fs::File::options()
        .write(true)
        .open(local)?
        .set_modified(time)
}
