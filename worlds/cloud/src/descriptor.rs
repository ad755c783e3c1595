//! `wasi:filesystem/types` served from object stores.
//!
//! Directories are key prefixes; a directory the guest creates is kept by a marker object
//! ([`DIR_MARKER`]) so it survives empty, and markers never show up in listings. Files are
//! objects, read by ranges and written through a staged copy committed on sync or close
//! (see [`crate::file`]). See `worlds/cloud/README.md` for every operation's semantics.

use std::hash::{Hash, Hasher};
use std::sync::Arc;
use std::time::SystemTime;

use futures::TryStreamExt;
use object_store::{ObjectStoreExt, PutPayload};
use wasmtime::component::Resource;
use wasmtime_wasi_io::streams::{DynInputStream, DynOutputStream};

use crate::bindings::wasi::clocks::wall_clock::Datetime;
use crate::bindings::wasi::filesystem::types::{
    self, Advice, DescriptorFlags, DescriptorStat, DescriptorType, DirectoryEntry, ErrorCode,
    Filesize, MetadataHashValue, NewTimestamp, OpenFlags, PathFlags,
};
use crate::error::{is_not_found, store_error};
use crate::file::{FileState, OpenFile};
use crate::mount::{Mount, MountExt};
use crate::path::{DIR_MARKER, RelPath};
use crate::streams::{DeniedStream, FileInputStream, FileOutputStream, StreamCode};
use crate::{CloudFsView, FsError};

type FsResult<T> = Result<T, FsError>;

/// The most one `read` returns (as for a real file, a short read is the guest's to repeat).
const MAX_READ: u64 = 4 << 20;

/// A descriptor handed to the guest: a directory (a prefix) or an open file.
pub enum Descriptor {
    Dir {
        mount: Arc<Mount>,
        path: RelPath,
    },
    File {
        file: Arc<OpenFile>,
        flags: DescriptorFlags,
    },
}

/// The entries of one directory, listed when the guest asked for them.
pub struct DirectoryEntryStream(std::vec::IntoIter<DirectoryEntry>);

/// What a path names in a store.
enum Entry {
    File { size: u64, modified: SystemTime },
    Dir,
    Missing,
}

impl Descriptor {
    fn mount(&self) -> &Arc<Mount> {
        match self {
            Descriptor::Dir { mount, .. } => mount,
            Descriptor::File { file, .. } => &file.mount,
        }
    }

    fn path(&self) -> &RelPath {
        match self {
            Descriptor::Dir { path, .. } => path,
            Descriptor::File { file, .. } => &file.path,
        }
    }
}

/// Looks up what `path` names: an object, a directory (a marker or any key below it), or nothing.
async fn lookup(mount: &Mount, path: &RelPath) -> FsResult<Entry> {
    if path.is_root() {
        return Ok(Entry::Dir);
    }
    if let Some(local) = mount.local_path(path) {
        return lookup_local(mount, path, &local);
    }
    let key = path.key();
    match mount.store.head(&key).await {
        Ok(meta) => {
            return Ok(Entry::File {
                size: meta.size,
                modified: meta.last_modified.into(),
            });
        }
        Err(e) if is_not_found(&e) => {}
        Err(e) => return Err(store_error(e, &key)),
    }
    let listing = match mount.store.list_with_delimiter(Some(&key)).await {
        Ok(listing) => listing,
        Err(e) if is_not_found(&e) => return Ok(Entry::Missing),
        Err(e) => return Err(store_error(e, &key)),
    };
    if listing.objects.is_empty() && listing.common_prefixes.is_empty() {
        Ok(Entry::Missing)
    } else {
        mount.remember_dir(path);
        Ok(Entry::Dir)
    }
}

/// `lookup` on a local-directory store: one `stat`, where the store would hop to a blocking
/// thread for a `stat` and then list the directory.
fn lookup_local(mount: &Mount, path: &RelPath, local: &std::path::Path) -> FsResult<Entry> {
    match std::fs::metadata(local) {
        Ok(meta) if meta.is_file() => Ok(Entry::File {
            size: meta.len(),
            modified: meta.modified().unwrap_or(SystemTime::UNIX_EPOCH),
        }),
        Ok(meta) if meta.is_dir() => {
            mount.remember_dir(path);
            Ok(Entry::Dir)
        }
        Ok(_) => Ok(Entry::Missing),
        Err(e)
            if matches!(
                e.kind(),
                std::io::ErrorKind::NotFound | std::io::ErrorKind::NotADirectory
            ) =>
        {
            Ok(Entry::Missing)
        }
        Err(e) => Err(crate::error::spool_error(e)),
    }
}

/// Deletes a file of a local-directory store directly, then removes the directories left
/// empty above it, as the store's automatic cleanup does (a marker keeps a directory).
fn remove_local(local: &std::path::Path, root: &std::path::Path) -> FsResult<()> {
    std::fs::remove_file(local).map_err(crate::error::spool_error)?;
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
/// hiding markers and staged uploads as the store's listing does.
fn list_local(local: &std::path::Path) -> FsResult<Vec<DirectoryEntry>> {
    let entries = match std::fs::read_dir(local) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(crate::error::spool_error(e)),
    };
    let mut listed = Vec::new();
    for entry in entries {
        let entry = entry.map_err(crate::error::spool_error)?;
        let Ok(name) = entry.file_name().into_string() else {
            continue;
        };
        if crate::path::is_reserved(&name) {
            continue;
        }
        let kind = entry.file_type().map_err(crate::error::spool_error)?;
        let type_ = if kind.is_dir() {
            DescriptorType::Directory
        } else if kind.is_file() {
            DescriptorType::RegularFile
        } else {
            continue;
        };
        listed.push(DirectoryEntry { type_, name });
    }
    Ok(listed)
}

/// The error for a path that names nothing: `not-directory` when the nearest existing
/// ancestor is a file (as a real filesystem says), `no-entry` otherwise.
async fn missing(mount: &Mount, path: &RelPath) -> FsError {
    let mut ancestor = path.parent();
    while let Some(dir) = ancestor {
        match lookup(mount, &dir).await {
            Ok(Entry::File { .. }) => return ErrorCode::NotDirectory.into(),
            Ok(Entry::Dir) => break,
            Ok(Entry::Missing) => ancestor = dir.parent(),
            Err(error) => return error,
        }
    }
    ErrorCode::NoEntry.into()
}

/// Fails unless `path`'s parent is an existing directory (where a new entry may be made).
async fn check_parent(mount: &Mount, path: &RelPath) -> FsResult<()> {
    match path.parent() {
        None => Err(ErrorCode::Exist.into()), // the mount root itself
        Some(parent) if mount.dir_known(&parent) => Ok(()),
        Some(parent) => match lookup(mount, &parent).await? {
            Entry::Dir => Ok(()),
            Entry::File { .. } => Err(ErrorCode::NotDirectory.into()),
            Entry::Missing => Err(missing(mount, &parent).await),
        },
    }
}

fn check_writable(mount: &Mount) -> FsResult<()> {
    if mount.read_only {
        Err(ErrorCode::NotPermitted.into())
    } else {
        Ok(())
    }
}

fn datetime(time: SystemTime) -> Option<Datetime> {
    let since = time.duration_since(SystemTime::UNIX_EPOCH).ok()?;
    Some(Datetime {
        seconds: since.as_secs(),
        nanoseconds: since.subsec_nanos(),
    })
}

/// A hash that names a path in a mount, the same for every handle and every run.
fn path_hash(mount: &Mount, path: &RelPath) -> MetadataHashValue {
    let hash = |salt: u8| {
        let mut hasher = std::hash::DefaultHasher::new();
        (salt, &mount.url, path.key().as_ref()).hash(&mut hasher);
        hasher.finish()
    };
    MetadataHashValue {
        lower: hash(0),
        upper: hash(1),
    }
}

impl CloudFsView<'_> {
    fn descriptor(&self, fd: &Resource<Descriptor>) -> FsResult<&Descriptor> {
        Ok(self.table.get(fd)?)
    }

    /// The mount and path of a directory descriptor.
    fn dir(&self, fd: &Resource<Descriptor>) -> FsResult<(Arc<Mount>, RelPath)> {
        match self.descriptor(fd)? {
            Descriptor::Dir { mount, path } => Ok((mount.clone(), path.clone())),
            Descriptor::File { .. } => Err(ErrorCode::NotDirectory.into()),
        }
    }

    /// The open file of a file descriptor, checking it was opened with `need` (read/write).
    fn file(&self, fd: &Resource<Descriptor>, need: DescriptorFlags) -> FsResult<Arc<OpenFile>> {
        match self.descriptor(fd)? {
            Descriptor::File { file, flags } if flags.contains(need) => Ok(file.clone()),
            Descriptor::File { .. } => Err(ErrorCode::BadDescriptor.into()),
            Descriptor::Dir { .. } => Err(ErrorCode::IsDirectory.into()),
        }
    }

    /// A directory descriptor's mount and the resolved `path` below it.
    async fn resolve(
        &mut self,
        fd: &Resource<Descriptor>,
        path: &str,
    ) -> FsResult<(Arc<Mount>, RelPath)> {
        let (mount, path, _) = self.resolve_checked(fd, path).await?;
        Ok((mount, path))
    }

    /// Like `resolve`, also saying whether the path ended in `/` (so must be a directory).
    /// Every directory a `..` steps out of must exist, as in a real filesystem.
    async fn resolve_checked(
        &mut self,
        fd: &Resource<Descriptor>,
        path: &str,
    ) -> FsResult<(Arc<Mount>, RelPath, bool)> {
        let (mount, dir) = self.dir(fd)?;
        let resolved = dir.join_checked(path)?;
        if mount.local_root.is_some() && resolved.path.has_staging_name() {
            // `NAME#DIGITS` is where a local store stages uploads: never the guest's.
            return Err(ErrorCode::Access.into());
        }
        for dir in resolved
            .must_be_dirs
            .iter()
            .filter(|dir| !mount.dir_known(dir))
        {
            match lookup(&mount, dir).await? {
                Entry::Dir => {}
                Entry::File { .. } => return Err(ErrorCode::NotDirectory.into()),
                Entry::Missing => return Err(missing(&mount, dir).await),
            }
        }
        Ok((mount, resolved.path, resolved.names_dir))
    }

    /// A stream writing at `position` (`None`: appending), with the spool made ready for it.
    async fn output_stream(
        &mut self,
        fd: &Resource<Descriptor>,
        position: Option<u64>,
    ) -> FsResult<DynOutputStream> {
        match self.file(fd, DescriptorFlags::WRITE) {
            Ok(file) => {
                file.materialize(&mut *file.state.lock().await, false)
                    .await?;
                Ok(Box::new(FileOutputStream::new(file, position)))
            }
            Err(FsError::Code(ErrorCode::BadDescriptor)) => Ok(Box::new(DeniedStream)),
            Err(error) => Err(error),
        }
    }

    fn open_file(
        &mut self,
        mount: Arc<Mount>,
        path: RelPath,
        state: FileState,
        flags: DescriptorFlags,
    ) -> FsResult<Resource<Descriptor>> {
        let file = Arc::new(OpenFile::new(
            mount,
            path,
            self.ctx.write_budget.clone(),
            state,
        ));
        self.ctx.track(&file);
        Ok(self.table.push(Descriptor::File { file, flags })?)
    }
}

impl types::Host for CloudFsView<'_> {
    fn convert_error_code(&mut self, err: FsError) -> wasmtime::Result<ErrorCode> {
        match err {
            FsError::Code(code) => Ok(code),
            FsError::Trap(error) => Err(error),
        }
    }

    async fn filesystem_error_code(
        &mut self,
        err: Resource<wasmtime::Error>,
    ) -> wasmtime::Result<Option<ErrorCode>> {
        // Our streams fail with a code of their own (`StreamCode`), or with a host error.
        let error = self.table.get(&err)?;
        Ok(Some(
            error
                .downcast_ref::<StreamCode>()
                .map_or(ErrorCode::Io, |code| code.0),
        ))
    }
}

impl types::HostDescriptor for CloudFsView<'_> {
    async fn read_via_stream(
        &mut self,
        fd: Resource<Descriptor>,
        offset: Filesize,
    ) -> FsResult<Resource<DynInputStream>> {
        let stream: DynInputStream = match self.file(&fd, DescriptorFlags::READ) {
            Ok(file) => Box::new(FileInputStream::new(file, offset)),
            Err(FsError::Code(ErrorCode::BadDescriptor)) => Box::new(DeniedStream),
            Err(error) => return Err(error),
        };
        Ok(self.table.push(stream)?)
    }

    async fn write_via_stream(
        &mut self,
        fd: Resource<Descriptor>,
        offset: Filesize,
    ) -> FsResult<Resource<DynOutputStream>> {
        let stream = self.output_stream(&fd, Some(offset)).await?;
        Ok(self.table.push(stream)?)
    }

    async fn append_via_stream(
        &mut self,
        fd: Resource<Descriptor>,
    ) -> FsResult<Resource<DynOutputStream>> {
        let stream = self.output_stream(&fd, None).await?;
        Ok(self.table.push(stream)?)
    }

    async fn advise(
        &mut self,
        fd: Resource<Descriptor>,
        _: Filesize,
        _: Filesize,
        _: Advice,
    ) -> FsResult<()> {
        self.descriptor(&fd)?;
        Ok(())
    }

    async fn sync_data(&mut self, fd: Resource<Descriptor>) -> FsResult<()> {
        self.sync(fd).await
    }

    async fn get_flags(&mut self, fd: Resource<Descriptor>) -> FsResult<DescriptorFlags> {
        Ok(match self.descriptor(&fd)? {
            Descriptor::File { flags, .. } => *flags,
            Descriptor::Dir { mount, .. } if mount.read_only => DescriptorFlags::READ,
            Descriptor::Dir { .. } => DescriptorFlags::READ | DescriptorFlags::MUTATE_DIRECTORY,
        })
    }

    async fn get_type(&mut self, fd: Resource<Descriptor>) -> FsResult<DescriptorType> {
        Ok(match self.descriptor(&fd)? {
            Descriptor::File { .. } => DescriptorType::RegularFile,
            Descriptor::Dir { .. } => DescriptorType::Directory,
        })
    }

    async fn set_size(&mut self, fd: Resource<Descriptor>, size: Filesize) -> FsResult<()> {
        // ftruncate(2) on a handle not open for writing is EINVAL.
        let file = match self.file(&fd, DescriptorFlags::WRITE) {
            Err(FsError::Code(ErrorCode::BadDescriptor)) => return Err(ErrorCode::Invalid.into()),
            other => other?,
        };
        let mut state = file.state.lock().await;
        file.charge(size.saturating_sub(state.size()))?;
        // Shrinking to nothing needs no download of the old content.
        file.materialize(&mut state, size == 0).await?;
        if let Some(spool) = state.spool.as_mut() {
            spool
                .set_len(size, &file.policy)
                .map_err(crate::error::spool_error)?;
        }
        state.dirty = true;
        state.modified = Some(SystemTime::now());
        Ok(())
    }

    async fn set_times(
        &mut self,
        fd: Resource<Descriptor>,
        _: NewTimestamp,
        _: NewTimestamp,
    ) -> FsResult<()> {
        self.descriptor(&fd)?;
        // Object stores set modification times themselves.
        Err(ErrorCode::Unsupported.into())
    }

    async fn read(
        &mut self,
        fd: Resource<Descriptor>,
        len: Filesize,
        offset: Filesize,
    ) -> FsResult<(Vec<u8>, bool)> {
        let file = self.file(&fd, DescriptorFlags::READ)?;
        let mut state = file.state.lock().await;
        // A short read is allowed; the guest's asking for more must not size host buffers.
        let bytes = file.read_at(&mut state, offset, len.min(MAX_READ)).await?;
        let at_end = offset + bytes.len() as u64 >= state.size();
        Ok((bytes.to_vec(), at_end))
    }

    async fn write(
        &mut self,
        fd: Resource<Descriptor>,
        buf: Vec<u8>,
        offset: Filesize,
    ) -> FsResult<Filesize> {
        let file = self.file(&fd, DescriptorFlags::WRITE)?;
        let mut state = file.state.lock().await;
        file.materialize(&mut state, false).await?;
        file.write_at(&mut state, offset, &buf)?;
        Ok(buf.len() as Filesize)
    }

    async fn read_directory(
        &mut self,
        fd: Resource<Descriptor>,
    ) -> FsResult<Resource<DirectoryEntryStream>> {
        let (mount, path) = self.dir(&fd)?;
        if let Some(local) = mount.local_path(&path) {
            let mut entries = list_local(&local)?;
            entries.sort_by(|a, b| a.name.cmp(&b.name));
            return Ok(self.table.push(DirectoryEntryStream(entries.into_iter()))?);
        }
        let prefix = path.dir_prefix();
        let listing = mount
            .store
            .list_with_delimiter(prefix.as_ref())
            .await
            .map_err(|e| store_error(e, &path))?;
        let dirs = listing
            .common_prefixes
            .iter()
            .filter(|key| !crate::path::is_reserved(key.filename().unwrap_or_default()))
            .map(|key| DirectoryEntry {
                type_: DescriptorType::Directory,
                name: RelPath::from_key(key).name().to_owned(),
            });
        let files = listing
            .objects
            .iter()
            .filter(|meta| !crate::path::is_reserved(meta.location.filename().unwrap_or_default()))
            .map(|meta| DirectoryEntry {
                type_: DescriptorType::RegularFile,
                name: RelPath::from_key(&meta.location).name().to_owned(),
            });
        let mut entries: Vec<DirectoryEntry> = dirs.chain(files).collect();
        entries.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(self.table.push(DirectoryEntryStream(entries.into_iter()))?)
    }

    async fn sync(&mut self, fd: Resource<Descriptor>) -> FsResult<()> {
        if let Descriptor::File { file, .. } = self.descriptor(&fd)? {
            let file = file.clone();
            file.commit(&mut *file.state.lock().await, false).await?;
        }
        Ok(())
    }

    async fn create_directory_at(
        &mut self,
        fd: Resource<Descriptor>,
        path: String,
    ) -> FsResult<()> {
        let (mount, path) = self.resolve(&fd, &path).await?;
        check_writable(&mount)?;
        if !matches!(lookup(&mount, &path).await?, Entry::Missing) {
            return Err(ErrorCode::Exist.into());
        }
        check_parent(&mount, &path).await?;
        let marker = path.marker_key();
        mount
            .store
            .put(&marker, PutPayload::default())
            .await
            .map_err(|e| store_error(e, &marker))?;
        mount.remember_dir(&path);
        Ok(())
    }

    async fn stat(&mut self, fd: Resource<Descriptor>) -> FsResult<DescriptorStat> {
        match self.descriptor(&fd)? {
            Descriptor::Dir { .. } => Ok(dir_stat()),
            Descriptor::File { file, .. } => {
                let file = file.clone();
                let state = file.state.lock().await;
                Ok(file_stat(state.size(), state.modified))
            }
        }
    }

    async fn stat_at(
        &mut self,
        fd: Resource<Descriptor>,
        _: PathFlags,
        path: String,
    ) -> FsResult<DescriptorStat> {
        let (mount, path, names_dir) = self.resolve_checked(&fd, &path).await?;
        match lookup(&mount, &path).await? {
            Entry::File { .. } if names_dir => Err(ErrorCode::NotDirectory.into()),
            Entry::File { size, modified } => Ok(file_stat(size, Some(modified))),
            Entry::Dir => Ok(dir_stat()),
            Entry::Missing => Err(missing(&mount, &path).await),
        }
    }

    async fn set_times_at(
        &mut self,
        fd: Resource<Descriptor>,
        _: PathFlags,
        path: String,
        _: NewTimestamp,
        _: NewTimestamp,
    ) -> FsResult<()> {
        self.resolve(&fd, &path).await?;
        Err(ErrorCode::Unsupported.into())
    }

    async fn link_at(
        &mut self,
        fd: Resource<Descriptor>,
        _: PathFlags,
        old_path: String,
        new_fd: Resource<Descriptor>,
        new_path: String,
    ) -> FsResult<()> {
        let (mount, source) = self.resolve(&fd, &old_path).await?;
        self.resolve(&new_fd, &new_path).await?;
        if matches!(lookup(&mount, &source).await?, Entry::Missing) {
            return Err(missing(&mount, &source).await);
        }
        // Object stores have no hard links.
        Err(ErrorCode::Unsupported.into())
    }

    async fn open_at(
        &mut self,
        fd: Resource<Descriptor>,
        _: PathFlags,
        path: String,
        oflags: OpenFlags,
        flags: DescriptorFlags,
    ) -> FsResult<Resource<Descriptor>> {
        let (mount, path, names_dir) = self.resolve_checked(&fd, &path).await?;
        let create = oflags.contains(OpenFlags::CREATE);
        let exclusive = oflags.contains(OpenFlags::EXCLUSIVE);
        let truncate = oflags.contains(OpenFlags::TRUNCATE);
        let writes = flags.contains(DescriptorFlags::WRITE) || truncate || create;
        if mount.read_only && (writes || flags.contains(DescriptorFlags::MUTATE_DIRECTORY)) {
            return Err(ErrorCode::NotPermitted.into());
        }
        match lookup(&mount, &path).await? {
            Entry::Dir => {
                if create && exclusive {
                    return Err(ErrorCode::Exist.into());
                }
                if flags.contains(DescriptorFlags::WRITE) || truncate {
                    return Err(ErrorCode::IsDirectory.into());
                }
                Ok(self.table.push(Descriptor::Dir { mount, path })?)
            }
            Entry::File { size, modified } => {
                if oflags.contains(OpenFlags::DIRECTORY) || names_dir {
                    return Err(ErrorCode::NotDirectory.into());
                }
                if create && exclusive {
                    return Err(ErrorCode::Exist.into());
                }
                let mut state = FileState {
                    stored_size: Some(size),
                    modified: Some(modified),
                    ..FileState::default()
                };
                if truncate && flags.contains(DescriptorFlags::WRITE) {
                    state.spool = Some(crate::file::Spool::Memory(Vec::new()));
                    state.dirty = true;
                    state.modified = Some(SystemTime::now());
                }
                self.open_file(mount, path, state, flags)
            }
            Entry::Missing => {
                if !create {
                    return Err(missing(&mount, &path).await);
                }
                if oflags.contains(OpenFlags::DIRECTORY) {
                    return Err(ErrorCode::Invalid.into());
                }
                check_parent(&mount, &path).await?;
                mount.forget_dirs_under(&path);
                // A new file: it reaches the store, empty or not, when the guest closes or
                // syncs it.
                let state = FileState {
                    spool: Some(crate::file::Spool::Memory(Vec::new())),
                    dirty: true,
                    modified: Some(SystemTime::now()),
                    ..FileState::default()
                };
                self.open_file(mount, path, state, flags)
            }
        }
    }

    async fn readlink_at(&mut self, fd: Resource<Descriptor>, path: String) -> FsResult<String> {
        let (mount, path) = self.resolve(&fd, &path).await?;
        match lookup(&mount, &path).await? {
            Entry::Missing => Err(ErrorCode::NoEntry.into()),
            // Nothing in an object store is a symlink.
            _ => Err(ErrorCode::Invalid.into()),
        }
    }

    async fn remove_directory_at(
        &mut self,
        fd: Resource<Descriptor>,
        path: String,
    ) -> FsResult<()> {
        let (mount, path) = self.resolve(&fd, &path).await?;
        check_writable(&mount)?;
        if path.is_root() {
            return Err(ErrorCode::Invalid.into());
        }
        match lookup(&mount, &path).await? {
            Entry::Missing => return Err(ErrorCode::NoEntry.into()),
            Entry::File { .. } => return Err(ErrorCode::NotDirectory.into()),
            Entry::Dir => {}
        }
        if let Some(local) = mount.local_path(&path) {
            // The store's listing hides staged uploads; they keep a directory too.
            let entries = std::fs::read_dir(&local).map_err(crate::error::spool_error)?;
            let mut names = entries.filter_map(|entry| entry.ok().map(|entry| entry.file_name()));
            if names.any(|name| name != DIR_MARKER) {
                return Err(ErrorCode::NotEmpty.into());
            }
        }
        let key = path.key();
        let listing = mount
            .store
            .list_with_delimiter(Some(&key))
            .await
            .map_err(|e| store_error(e, &key))?;
        let only_marker = listing.common_prefixes.is_empty()
            && listing
                .objects
                .iter()
                .all(|meta| meta.location.filename() == Some(DIR_MARKER));
        if !only_marker {
            return Err(ErrorCode::NotEmpty.into());
        }
        let marker = path.marker_key();
        mount.forget_dirs_under(&path);
        match mount.store.delete(&marker).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(store_error(e, &marker)),
        }
    }

    async fn rename_at(
        &mut self,
        fd: Resource<Descriptor>,
        old_path: String,
        new_fd: Resource<Descriptor>,
        new_path: String,
    ) -> FsResult<()> {
        let (mount, from) = self.resolve(&fd, &old_path).await?;
        let (new_mount, to) = self.resolve(&new_fd, &new_path).await?;
        if !Arc::ptr_eq(&mount, &new_mount) {
            return Err(ErrorCode::CrossDevice.into());
        }
        check_writable(&mount)?;
        if from.is_root() || to.is_root() {
            return Err(ErrorCode::Busy.into());
        }
        let source = lookup(&mount, &from).await?;
        let target = lookup(&mount, &to).await?;
        match (source, target) {
            (Entry::Missing, _) => Err(ErrorCode::NoEntry.into()),
            _ if from == to => Ok(()),
            (Entry::File { .. }, Entry::Dir) => Err(ErrorCode::IsDirectory.into()),
            (Entry::File { .. }, target) => {
                if matches!(target, Entry::Missing) {
                    check_parent(&mount, &to).await?;
                }
                mount.forget_ancestors(&from);
                mount.forget_dirs_under(&to);
                let (from_key, to_key) = (from.key(), to.key());
                mount
                    .store
                    .copy(&from_key, &to_key)
                    .await
                    .map_err(|e| store_error(e, &from_key))?;
                mount.stats.wrote(0);
                mount
                    .store
                    .delete(&from_key)
                    .await
                    .map_err(|e| store_error(e, &from_key))
            }
            (Entry::Dir, Entry::File { .. }) => Err(ErrorCode::NotDirectory.into()),
            (Entry::Dir, target) => {
                if to.starts_with(&from) {
                    return Err(ErrorCode::Invalid.into());
                }
                match target {
                    Entry::Missing => check_parent(&mount, &to).await?,
                    // Replacing an empty directory is allowed, as rename(2) does.
                    _ => self.remove_directory_at(new_fd, new_path).await?,
                }
                rename_prefix(&mount, &from, &to).await
            }
        }
    }

    async fn symlink_at(
        &mut self,
        fd: Resource<Descriptor>,
        _: String,
        new_path: String,
    ) -> FsResult<()> {
        self.resolve(&fd, &new_path).await?;
        // Object stores have no symbolic links.
        Err(ErrorCode::Unsupported.into())
    }

    async fn unlink_file_at(&mut self, fd: Resource<Descriptor>, path: String) -> FsResult<()> {
        let (mount, path) = self.resolve(&fd, &path).await?;
        check_writable(&mount)?;
        match lookup(&mount, &path).await? {
            Entry::Missing => Err(ErrorCode::NoEntry.into()),
            Entry::Dir => Err(ErrorCode::IsDirectory.into()),
            Entry::File { .. } => {
                // The directories above may vanish with their last object.
                mount.forget_ancestors(&path);
                match (mount.local_path(&path), &mount.local_root) {
                    (Some(local), Some(root)) => remove_local(&local, root),
                    _ => {
                        let key = path.key();
                        mount
                            .store
                            .delete(&key)
                            .await
                            .map_err(|e| store_error(e, &key))
                    }
                }
            }
        }
    }

    async fn is_same_object(
        &mut self,
        a: Resource<Descriptor>,
        b: Resource<Descriptor>,
    ) -> wasmtime::Result<bool> {
        let (a, b) = (self.table.get(&a)?, self.table.get(&b)?);
        Ok(Arc::ptr_eq(a.mount(), b.mount()) && a.path() == b.path())
    }

    async fn metadata_hash(&mut self, fd: Resource<Descriptor>) -> FsResult<MetadataHashValue> {
        let descriptor = self.descriptor(&fd)?;
        Ok(path_hash(descriptor.mount(), descriptor.path()))
    }

    async fn metadata_hash_at(
        &mut self,
        fd: Resource<Descriptor>,
        _: PathFlags,
        path: String,
    ) -> FsResult<MetadataHashValue> {
        let (mount, path) = self.resolve(&fd, &path).await?;
        if matches!(lookup(&mount, &path).await?, Entry::Missing) {
            return Err(ErrorCode::NoEntry.into());
        }
        Ok(path_hash(&mount, &path))
    }

    async fn drop(&mut self, fd: Resource<Descriptor>) -> wasmtime::Result<()> {
        let descriptor = self.table.delete(fd)?;
        if let Descriptor::File { file, .. } = descriptor {
            // Closing commits. Streams still open keep the staged copy for further writes,
            // and the file is kept so those writes are committed at exit.
            let closing = Arc::strong_count(&file) == 1;
            if !closing {
                self.ctx.keep_until_exit(file.clone());
            }
            let mut state = file.state.lock().await;
            if file.commit(&mut state, closing).await.is_err() {
                wasmtime::bail!(
                    "closing `{}` failed: its content could not be stored in `{}` ({}); \
                     the stored object is unchanged",
                    file.path,
                    file.mount.url,
                    state.failed.as_deref().unwrap_or("unknown error")
                );
            }
        }
        Ok(())
    }
}

/// Moves every object under `from` to the same place under `to`: copies first, then deletes,
/// so a failure part-way leaves the source whole. Not atomic: another reader may see both.
async fn rename_prefix(mount: &Mount, from: &RelPath, to: &RelPath) -> FsResult<()> {
    mount.forget_dirs_under(from);
    let prefix = from.key();
    let objects: Vec<_> = mount
        .store
        .list(Some(&prefix))
        .try_collect()
        .await
        .map_err(|e| store_error(e, &prefix))?;
    for meta in &objects {
        let target = RelPath::from_key(&meta.location).rebase(from, to).key();
        mount
            .store
            .copy(&meta.location, &target)
            .await
            .map_err(|e| store_error(e, &meta.location))?;
        mount.stats.wrote(0);
    }
    for meta in &objects {
        mount
            .store
            .delete(&meta.location)
            .await
            .map_err(|e| store_error(e, &meta.location))?;
    }
    Ok(())
}

fn file_stat(size: u64, modified: Option<SystemTime>) -> DescriptorStat {
    DescriptorStat {
        type_: DescriptorType::RegularFile,
        link_count: 1,
        size,
        data_access_timestamp: None,
        data_modification_timestamp: modified.and_then(datetime),
        status_change_timestamp: None,
    }
}

fn dir_stat() -> DescriptorStat {
    DescriptorStat {
        type_: DescriptorType::Directory,
        link_count: 1,
        size: 0,
        data_access_timestamp: None,
        data_modification_timestamp: None,
        status_change_timestamp: None,
    }
}

impl types::HostDirectoryEntryStream for CloudFsView<'_> {
    async fn read_directory_entry(
        &mut self,
        stream: Resource<DirectoryEntryStream>,
    ) -> FsResult<Option<DirectoryEntry>> {
        Ok(self.table.get_mut(&stream)?.0.next())
    }

    async fn drop(&mut self, stream: Resource<DirectoryEntryStream>) -> wasmtime::Result<()> {
        self.table.delete(stream)?;
        Ok(())
    }
}
