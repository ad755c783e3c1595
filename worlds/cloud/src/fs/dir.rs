//! Directory handles and the namespace operations: every rule about what a path may name,
//! and which error a guest gets, lives here.

use std::sync::Arc;
use std::time::SystemTime;

use futures::TryStreamExt;

use object_store::{ObjectStoreExt, PutMode, PutPayload};

use super::ctx::FsCtx;
use super::ctx::WriteBudget;
use super::error::{ErrorCode, FsError, FsResult, store_error};
use super::file::{FileState, OpenFile};
use super::handle::{File, Handle};
use super::held::BufferMemory;
use super::listing::Listing;
use super::path::{DIR_MARKER, RelPath, is_host_name};
use super::spool::Spool;
use super::volume::{Entry, KeptContent, Volume};
use super::{DirEntry, Kind, MetadataHash, OpenOptions, Stat, local};

/// A directory handle: a volume and a directory's path in it (which may not exist any more).
/// Cheap to clone.
#[derive(Debug, Clone)]
pub struct Dir(Arc<DirAt>);

#[derive(Debug)]
struct DirAt {
    volume: Arc<Volume>,
    path: RelPath,
}

impl Dir {
    fn new(volume: Arc<Volume>, path: RelPath) -> Dir {
        Dir(Arc::new(DirAt { volume, path }))
    }

    /// The root directory of `volume`.
    pub fn root(volume: Arc<Volume>) -> Dir {
        Dir::new(volume, RelPath::root())
    }

    pub fn volume(&self) -> &Arc<Volume> {
        &self.0.volume
    }

    pub fn path(&self) -> &RelPath {
        &self.0.path
    }

    /// Whether entries may be created, removed or renamed here (the mount is not read-only).
    pub fn writable(&self) -> bool {
        !self.volume().read_only()
    }

    /// `stat` of the directory itself: size 0, and the time the guest set on it, if any.
    pub fn stat(&self) -> Stat {
        Stat::dir(self.volume().time_set(self.path()))
    }

    async fn resolve(&self, path: &str) -> FsResult<RelPath> {
        Ok(self.volume().resolve(self.path(), path).await?.0)
    }

    /// `stat` of what `path` names, following links (`stat(2)`): `file/` is `not-directory`.
    pub async fn stat_at(&self, path: &str) -> FsResult<Stat> {
        self.stat_at_following(path, true).await
    }

    /// `stat` of what `path` names without following links (`lstat(2)`). Nothing in a store
    /// is a link, but wasmtime-wasi answers `file/` here with the file, so this does too.
    pub async fn lstat_at(&self, path: &str) -> FsResult<Stat> {
        self.stat_at_following(path, false).await
    }

    async fn stat_at_following(&self, path: &str, follow: bool) -> FsResult<Stat> {
        let (resolved, names_dir) = self.volume().resolve(self.path(), path).await?;
        let entry = self.volume().lookup(&resolved).await?;
        match self.stat_of(path, &resolved, names_dir, follow, entry) {
            Some(stat) => stat,
            None => Err(self.volume().missing(&resolved).await),
        }
    }

    /// [`Dir::stat_at`] (with `follow`) or [`Dir::lstat_at`] with no wait: `None` if it would
    /// wait (a store request, or working out why a path names nothing).
    pub fn stat_at_now(&self, path: &str, follow: bool) -> Option<FsResult<Stat>> {
        let (resolved, names_dir) = now!(self.volume().resolve_now(self.path(), path));
        let entry = now!(self.volume().lookup_now(&resolved));
        self.stat_of(path, &resolved, names_dir, follow, entry)
    }

    /// The `stat` of the guest's `path`, found to be `entry` at `resolved`; `None` if it names
    /// nothing (the caller finds the error).
    fn stat_of(
        &self,
        path: &str,
        resolved: &RelPath,
        names_dir: bool,
        follow: bool,
        entry: Entry,
    ) -> Option<FsResult<Stat>> {
        // `f/.` steps into `f`, which a file cannot be stepped into.
        let through = path.trim_end_matches('/').ends_with("/.");
        Some(match entry {
            Entry::File { .. } if through || (names_dir && follow) => {
                Err(ErrorCode::NotDirectory.into())
            }
            Entry::File { size, modified } => Ok(Stat::file(size, Some(modified))),
            Entry::Dir => Ok(Stat::dir(self.volume().time_set(resolved))),
            Entry::Missing => return None,
        })
    }

    /// Opens `path`, as `openat(2)` with `options`: a directory handle, or a file handle
    /// whose writes are staged until it is synced or closed. Every handle the run opens on
    /// one path shares one open file (as on a real filesystem, where they share an inode), so
    /// each sees what the others wrote, and a file exists for the run from its creation on
    /// (`exclusive` holds against the run's own files, and against the store as it is now).
    pub async fn open_at(
        &self,
        ctx: &mut FsCtx,
        path: &str,
        options: OpenOptions,
    ) -> FsResult<Handle> {
        let (budget, memory) = (ctx.write_budget().clone(), ctx.buffer_memory().clone());
        self.open_within(&budget, &memory, path, options).await
    }

    /// [`Dir::open_at`] with the run's write budget and buffer memory given apart (for an
    /// adapter that cannot hold the run's [`FsCtx`] while the open waits on the store).
    pub async fn open_within(
        &self,
        budget: &Arc<WriteBudget>,
        memory: &Arc<BufferMemory>,
        path: &str,
        options: OpenOptions,
    ) -> FsResult<Handle> {
        let (path, names_dir) = self.volume().resolve(self.path(), path).await?;
        let OpenOptions {
            create,
            truncate,
            directory,
            write,
            ..
        } = options;
        self.check_open(options)?;
        let volume = self.volume().clone();
        if create && names_dir && !matches!(volume.lookup(&path).await?, Entry::Dir) {
            // `open("name/", O_CREAT)`: a file cannot have a directory's name (Linux says so
            // whether or not `name` exists).
            return Err(ErrorCode::IsDirectory.into());
        }
        if let Some(open) = volume.live(&path) {
            if truncate && write {
                check_live_open(options, names_dir)?;
                open.set_size(0).await?;
            }
            return open_live(open, options, names_dir);
        }
        let found = match self.open_local_to_read(&path, options, names_dir)? {
            Some(found) => found,
            None => (volume.lookup(&path).await?, None),
        };
        if !matches!(found.0, Entry::Missing) {
            return self.open_found(path, names_dir, found, options, (budget, memory));
        }
        if !create {
            return Err(volume.missing(&path).await);
        }
        if directory {
            return Err(ErrorCode::Invalid.into());
        }
        volume.check_parent(&path).await?;
        // Every new file becomes an object (empty or not) when it is closed.
        budget.create_object().map_err(|_| ErrorCode::Quota)?;
        volume.forget_dirs_under(&path);
        // A new file: it reaches the store, empty or not, when the guest closes or syncs it.
        let state = FileState {
            spool: Some(Spool::Memory(Vec::new())),
            dirty: true,
            modified: Some(SystemTime::now()),
            ..FileState::default()
        };
        Ok(self.open_file(path, state, options, (budget, memory)))
    }

    /// [`Dir::open_within`] with no wait, for an open that changes nothing (no create,
    /// truncate or write access): `None` for any other open, or if it would wait.
    pub fn open_now(
        &self,
        budget: &Arc<WriteBudget>,
        memory: &Arc<BufferMemory>,
        path: &str,
        options: OpenOptions,
    ) -> Option<FsResult<Handle>> {
        if options.create || options.truncate || options.write {
            return None;
        }
        let (path, names_dir) = now!(self.volume().resolve_now(self.path(), path));
        if let Err(error) = self.check_open(options) {
            return Some(Err(error));
        }
        let volume = self.volume();
        if let Some(open) = volume.live(&path) {
            return Some(open_live(open, options, names_dir));
        }
        let found = match self.open_local_to_read(&path, options, names_dir) {
            Ok(Some(found)) => found,
            Ok(None) => (now!(volume.lookup_now(&path)), None),
            Err(error) => return Some(Err(error)),
        };
        if matches!(found.0, Entry::Missing) {
            // The async way says why (`no-entry` or `not-directory`).
            return None;
        }
        Some(self.open_found(path, names_dir, found, options, (budget, memory)))
    }

    /// `not-permitted` for an open that would change a read-only mount.
    fn check_open(&self, options: OpenOptions) -> FsResult<()> {
        let writes = options.write || options.truncate || options.create;
        if self.volume().read_only() && (writes || options.mutate_directory) {
            return Err(ErrorCode::NotPermitted.into());
        }
        Ok(())
    }

    /// On a local store, a read-only open of a file opens it and finds its size at once
    /// (no lookup before, no check at the first read); `None` for other opens and stores,
    /// or when nothing readable is there (the caller's lookup says what is).
    fn open_local_to_read(
        &self,
        path: &RelPath,
        options: OpenOptions,
        names_dir: bool,
    ) -> FsResult<Option<(Entry, Option<std::fs::File>)>> {
        let volume = self.volume();
        let writes = options.write || options.truncate || options.create;
        let read_only = !(writes || options.directory || names_dir || options.mutate_directory);
        let opened = match volume.local_root() {
            Some(root) if read_only => local::open_to_read(root, path)?,
            _ => None,
        };
        Ok(opened.map(|opened| match opened {
            local::OpenedToRead::File {
                file,
                size,
                modified,
            } => {
                let modified = volume.time_set(path).unwrap_or(modified);
                (Entry::File { size, modified }, Some(file))
            }
            local::OpenedToRead::Dir => {
                volume.remember_dir(path);
                (Entry::Dir, None)
            }
        }))
    }

    /// The handle for an open of `path`, found to be a directory or a file (with the file
    /// opened already, on a local store), with the run's write budget and buffer memory.
    fn open_found(
        &self,
        path: RelPath,
        names_dir: bool,
        (entry, local_reader): (Entry, Option<std::fs::File>),
        options: OpenOptions,
        run: RunAllowance<'_>,
    ) -> FsResult<Handle> {
        let OpenOptions {
            create,
            exclusive,
            truncate,
            directory,
            write,
            ..
        } = options;
        let (size, modified) = match entry {
            Entry::File { size, modified } => (size, modified),
            _ => {
                if create && exclusive {
                    return Err(ErrorCode::Exist.into());
                }
                if write || truncate {
                    return Err(ErrorCode::IsDirectory.into());
                }
                return Ok(Handle::Dir(Dir::new(self.volume().clone(), path)));
            }
        };
        if directory || names_dir {
            return Err(ErrorCode::NotDirectory.into());
        }
        if create && exclusive {
            return Err(ErrorCode::Exist.into());
        }
        // What the run stored there, if it kept the content: read without a GET.
        let (memory_object, local_reader) = match self.volume().kept_content(&path, size) {
            Some(KeptContent::Bytes(bytes)) => (Some(bytes), local_reader),
            Some(KeptContent::Staged { file, .. }) => (None, file.try_clone().ok()),
            None => (None, local_reader),
        };
        let mut state = FileState {
            stored_size: Some(size),
            modified: Some(modified),
            memory_object,
            local_reader,
            ..FileState::default()
        };
        if truncate && write {
            state.spool = Some(Spool::Memory(Vec::new()));
            state.dirty = true;
            state.modified = Some(SystemTime::now());
        }
        Ok(self.open_file(path, state, options, run))
    }

    /// A handle on a new open file at `path` in `state`, which every handle of the run on
    /// `path` shares from now on.
    fn open_file(
        &self,
        path: RelPath,
        state: FileState,
        options: OpenOptions,
        (budget, memory): RunAllowance<'_>,
    ) -> Handle {
        let volume = self.volume();
        let file = Arc::new(OpenFile::new(
            volume.clone(),
            path.clone(),
            budget.clone(),
            memory,
            state,
        ));
        volume.add_live(&path, &file);
        Handle::File(File::new(file, options.read, options.write))
    }

    /// Creates the directory `path`: writes its marker.
    pub async fn create_directory_at(&self, path: &str) -> FsResult<()> {
        self.create_directory_within(path, None).await
    }

    /// [`Dir::create_directory_at`], counting the marker against `budget`'s objects first
    /// (`quota` past its limit).
    pub async fn create_directory_within(
        &self,
        path: &str,
        budget: Option<&WriteBudget>,
    ) -> FsResult<()> {
        let path = self.resolve(path).await?;
        self.volume().check_writable()?;
        if !matches!(self.volume().lookup(&path).await?, Entry::Missing) {
            return Err(ErrorCode::Exist.into());
        }
        self.volume().check_parent(&path).await?;
        if let Some(budget) = budget {
            budget.create_object().map_err(|_| ErrorCode::Quota)?;
        }
        // The marker is created only if absent, where the store can say so (a conditional put),
        // so of two runs making one directory at once only one succeeds, as `mkdir(2)`: what
        // lock directories (SQLite's `NAME.lock`) rely on.
        let marker = path.marker_key();
        let store = self.volume().store();
        let created = match self.volume().local_root() {
            // Made beneath the root, every directory on the way reached with no link followed
            // (object_store's local put would follow one planted there meanwhile).
            Some(root) => local::create_marker(root, &marker),
            None => {
                store
                    .put_opts(&marker, PutPayload::default(), PutMode::Create.into())
                    .await
            }
        };
        match created {
            // New where nothing was (the lookup above): the run knows every name in it.
            Ok(_) => self.volume().made_dir(&path),
            Err(object_store::Error::AlreadyExists { .. }) => return Err(ErrorCode::Exist.into()),
            Err(
                object_store::Error::NotImplemented { .. }
                | object_store::Error::NotSupported { .. },
            ) => {
                store
                    .put(&marker, PutPayload::default())
                    .await
                    .map_err(|e| store_error(e, &marker))?;
            }
            Err(e) => return Err(store_error(e, &marker)),
        }
        self.volume().remember_dir(&path);
        Ok(())
    }

    /// Removes the directory `path`, which must be empty but for its marker.
    pub async fn remove_directory_at(&self, path: &str) -> FsResult<()> {
        let path = self.resolve(path).await?;
        self.volume().check_writable()?;
        if path.is_root() {
            return Err(ErrorCode::Invalid.into());
        }
        match self.volume().lookup(&path).await? {
            Entry::Missing => return Err(self.volume().missing(&path).await),
            Entry::File { .. } => return Err(ErrorCode::NotDirectory.into()),
            Entry::Dir => {}
        }
        remove_empty_dir(self.volume(), &path).await
    }

    /// Deletes the file `path`. A file the run has open stays readable and writable through
    /// its handles, and is never published (as an unlinked file's inode on a real disk).
    pub async fn unlink_file_at(&self, path: &str) -> FsResult<()> {
        let (path, names_dir) = self.volume().resolve(self.path(), path).await?;
        let volume = self.volume();
        volume.check_writable()?;
        if self.unlink_local_file(&path, names_dir)? {
            return Ok(());
        }
        match volume.lookup(&path).await? {
            Entry::Missing => Err(volume.missing(&path).await),
            Entry::Dir => Err(ErrorCode::IsDirectory.into()),
            // `unlink("file/")`: the trailing slash says directory, and a file is not one.
            Entry::File { .. } if names_dir => Err(ErrorCode::NotDirectory.into()),
            Entry::File { .. } => {
                let stored = match volume.live(&path) {
                    Some(open) => {
                        // Its handles go on reading it once the stored object is gone.
                        open.keep_content().await?;
                        open.is_stored().await
                    }
                    None => true,
                };
                if stored {
                    delete_stored(volume, &path).await?;
                }
                volume.unlink_live(&path);
                Ok(())
            }
        }
    }

    /// [`Dir::unlink_file_at`] with no store request, or `None` if it needs one (not a local
    /// store, a `..` to look up, or not a plain file nobody in the run has open).
    pub fn unlink_file_now(&self, path: &str) -> Option<FsResult<()>> {
        let (path, names_dir) = match self.volume().resolve_now(self.path(), path)? {
            Ok(resolved) => resolved,
            Err(error) => return Some(Err(error)),
        };
        let unlinked = self
            .volume()
            .check_writable()
            .and_then(|()| self.unlink_local_file(&path, names_dir));
        match unlinked {
            Ok(true) => Some(Ok(())),
            Ok(false) => None,
            Err(error) => Some(Err(error)),
        }
    }

    /// Removes `path` if it is a local store's file that nobody in the run has open: checked
    /// and removed in one directory, no lookup first (not checked at all if the run wrote
    /// it). `false` (nothing done) for anything else: the caller's lookup says why.
    fn unlink_local_file(&self, path: &RelPath, names_dir: bool) -> FsResult<bool> {
        let volume = self.volume();
        let Some(root) = volume.local_root() else {
            return Ok(false);
        };
        if names_dir || volume.live(path).is_some() {
            return Ok(false);
        }
        let (marked, written) = (volume.parent_marked(path), volume.wrote_file(path));
        if !marked {
            // Removing its last file may remove the directories above (a marker keeps them).
            volume.forget_ancestors(path);
        }
        if !local::remove_if_file(root, path, marked, written)? {
            return Ok(false);
        }
        volume.stored_gone(path, Kind::File);
        volume.unlink_live(path);
        Ok(true)
    }

    /// Renames `old_path` here to `new_path` in `new_dir`, as `rename(2)`: a file by a
    /// server-side copy and a delete, a directory by moving every object under it (not
    /// atomic). Replaces a file with a file, or an empty directory with a directory.
    ///
    /// `new_dir` must be a directory handle (`not-directory` otherwise, once `old_path` has
    /// resolved).
    pub async fn rename_at(
        &self,
        old_path: &str,
        new_dir: &Handle,
        new_path: &str,
    ) -> FsResult<()> {
        self.rename_within(old_path, new_dir, new_path, None).await
    }

    /// [`Dir::rename_at`], counting the bytes the store copies against `budget` first: on an
    /// object store a rename is a copy, so it writes as much as the guest writing it anew.
    pub async fn rename_within(
        &self,
        old_path: &str,
        new_dir: &Handle,
        new_path: &str,
        budget: Option<&WriteBudget>,
    ) -> FsResult<()> {
        let charge = |bytes: u64| match budget {
            Some(budget) => budget.spend(bytes).map_err(FsError::trap),
            None => Ok(()),
        };
        let (from, from_names_dir) = self.volume().resolve(self.path(), old_path).await?;
        let new_dir = new_dir.as_dir()?;
        let (to, to_names_dir) = new_dir.volume().resolve(new_dir.path(), new_path).await?;
        if !self.volume().same_mount(new_dir.volume()) {
            return Err(ErrorCode::CrossDevice.into());
        }
        let volume = self.volume();
        volume.check_writable()?;
        if from.is_root() || to.is_root() {
            return Err(ErrorCode::Busy.into());
        }
        let source = volume.lookup(&from).await?;
        let target = volume.lookup(&to).await?;
        match (source, target) {
            (Entry::Missing, _) => Err(volume.missing(&from).await),
            // A trailing slash on either name says directory: a file is not one.
            (Entry::File { .. }, _) if from_names_dir => Err(ErrorCode::NotDirectory.into()),
            (Entry::File { .. }, Entry::Missing | Entry::File { .. }) if to_names_dir => {
                Err(ErrorCode::NotDirectory.into())
            }
            _ if from == to => Ok(()),
            (Entry::File { .. }, Entry::Dir) => Err(ErrorCode::IsDirectory.into()),
            (Entry::File { size, .. }, target) => {
                if matches!(target, Entry::Missing) {
                    volume.check_parent(&to).await?;
                }
                volume.forget_ancestors(&from);
                volume.forget_dirs_under(&to);
                volume.stored_gone(&from, Kind::File);
                volume.stored_unknown(&to, Kind::File);
                if let Some(replaced) = volume.live(&to) {
                    // The replaced file's handles go on reading its old content.
                    replaced.keep_content().await?;
                }
                let open = volume.live(&from);
                let staged = match &open {
                    Some(open) => open.has_unpublished().await,
                    None => false,
                };
                if let (Some(open), true) = (&open, staged) {
                    // Its content is the run's staged copy: published under the new name (as a
                    // sync would), then the old name's object goes.
                    let stored = open.is_stored().await;
                    volume.move_live(&from, &to);
                    open.sync().await?;
                    if stored {
                        delete_stored(volume, &from).await?;
                    }
                    return Ok(());
                }
                charge(size)?;
                if let Some(root) = volume.local_root() {
                    // One rename beneath the root, never through a link planted meanwhile.
                    let parent_marked = volume.parent_marked(&from);
                    local::rename_file(root, &from, &to, parent_marked)?;
                    volume.mount().stats.wrote(0);
                    volume.move_live(&from, &to);
                    return Ok(());
                }
                let (from_key, to_key) = (from.key_ref(), to.key_ref());
                let store = volume.store();
                let limits = volume.mount().url.copy_limits();
                let copied =
                    worldhost_store::copy_object(store.as_ref(), from_key, to_key, size, limits)
                        .await;
                copied.map_err(|e| store_error(e, from_key))?;
                volume.mount().stats.wrote(0);
                volume.move_live(&from, &to);
                let deleted = store.delete(from_key).await;
                deleted.map_err(|e| store_error(e, from_key))
            }
            (Entry::Dir, Entry::File { .. }) => Err(ErrorCode::NotDirectory.into()),
            (Entry::Dir, target) => {
                if to.starts_with(&from) {
                    return Err(ErrorCode::Invalid.into());
                }
                match target {
                    Entry::Missing => volume.check_parent(&to).await?,
                    // Replacing an empty directory is allowed, as rename(2) does.
                    _ => remove_empty_dir(volume, &to).await?,
                }
                // One streamed pass over what would move: its size, and whether the host keeps
                // anything of its own below (another run's staged or quarantined outputs),
                // which must not move with the guest's directory.
                let (bytes, holds_host_names) = survey(volume, &from).await?;
                if holds_host_names {
                    return Err(ErrorCode::Busy.into());
                }
                charge(bytes)?;
                volume.forget_dirs_under(&from);
                volume.stored_gone(&from, Kind::Dir);
                volume.stored_unknown(&to, Kind::Dir);
                let stats = &volume.mount().stats;
                let moved = worldhost_store::move_prefix(
                    volume.store().as_ref(),
                    from.key_ref(),
                    to.key_ref(),
                    volume.mount().url.copy_limits(),
                )
                .await
                .map_err(|error| {
                    stats.copied(error.copied);
                    store_error(error.source, &error.key)
                })?;
                stats.copied(moved);
                volume.move_live(&from, &to);
                Ok(())
            }
        }
    }

    /// `readlink`: nothing in an object store is a symlink.
    pub async fn readlink_at(&self, path: &str) -> FsResult<String> {
        let path = self.resolve(path).await?;
        match self.volume().lookup(&path).await? {
            Entry::Missing => Err(ErrorCode::NoEntry.into()),
            _ => Err(ErrorCode::Invalid.into()),
        }
    }

    /// `link`: object stores have no hard links (a missing source says so first).
    pub async fn link_at(&self, old_path: &str, new_dir: &Handle, new_path: &str) -> FsResult<()> {
        let source = self.resolve(old_path).await?;
        new_dir.as_dir()?.resolve(new_path).await?;
        if matches!(self.volume().lookup(&source).await?, Entry::Missing) {
            return Err(self.volume().missing(&source).await);
        }
        Err(ErrorCode::Unsupported.into())
    }

    /// `symlink`: object stores have no symbolic links.
    pub async fn symlink_at(&self, new_path: &str) -> FsResult<()> {
        self.resolve(new_path).await?;
        Err(ErrorCode::Unsupported.into())
    }

    /// Sets the modification time of what `path` names (`None`: unchanged), as
    /// `utimensat(2)`: `stat` reports it for the rest of the run, and local stores keep it on
    /// the stored file (other stores keep their own upload times; see the README).
    pub async fn set_times_at(&self, path: &str, modified: Option<SystemTime>) -> FsResult<()> {
        // A read-only mount's times are not the guest's to change (on a local store they
        // are the host files' own).
        self.volume().check_writable()?;
        let (path, names_dir) = self.volume().resolve(self.path(), path).await?;
        let volume = self.volume();
        match volume.lookup(&path).await? {
            Entry::Missing => Err(volume.missing(&path).await),
            Entry::File { .. } if names_dir => Err(ErrorCode::NotDirectory.into()),
            entry => {
                let Some(time) = modified else { return Ok(()) };
                match volume.live(&path) {
                    Some(open) => open.set_modified(time).await,
                    None => {
                        volume.record_time(&path, time);
                        if matches!(entry, Entry::File { .. }) {
                            volume.keep_time_on_disk(&path);
                        }
                    }
                }
                Ok(())
            }
        }
    }

    /// The metadata hash of what `path` names.
    pub async fn metadata_hash_at(&self, path: &str) -> FsResult<MetadataHash> {
        let path = self.resolve(path).await?;
        if matches!(self.volume().lookup(&path).await?, Entry::Missing) {
            return Err(self.volume().missing(&path).await);
        }
        Ok(self.volume().metadata_hash(&path))
    }

    /// [`Dir::metadata_hash_at`] with no wait: `None` if it would wait.
    pub fn metadata_hash_at_now(&self, path: &str) -> Option<FsResult<MetadataHash>> {
        let (path, _) = now!(self.volume().resolve_now(self.path(), path));
        match now!(self.volume().lookup_now(&path)) {
            // The async way says why (`no-entry` or `not-directory`).
            Entry::Missing => None,
            _ => Some(Ok(self.volume().metadata_hash(&path))),
        }
    }

    /// The directory's entries, a page at a time, each page's memory taken from `memory`
    /// (see [`Listing`]).
    pub async fn list(&self, memory: Arc<BufferMemory>) -> FsResult<Listing> {
        Listing::open(self, memory).await
    }

    /// The directory's entries, all of them, sorted by name, markers and other reserved names
    /// hidden (for callers that want the whole directory; guests read a [`Listing`]).
    pub async fn read_directory(&self) -> FsResult<Vec<DirEntry>> {
        let mut listing = self.list(Arc::new(BufferMemory::new(u64::MAX))).await?;
        let mut entries = Vec::new();
        while let Some(entry) = listing.next().await? {
            entries.push(entry);
        }
        entries.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(entries)
    }
}

/// The run's write budget and buffer memory, which a new open file draws on.
type RunAllowance<'a> = (&'a Arc<WriteBudget>, &'a Arc<BufferMemory>);

/// A handle on a file the run has open already (its truncation, if asked, is the caller's).
fn open_live(open: Arc<OpenFile>, options: OpenOptions, names_dir: bool) -> FsResult<Handle> {
    check_live_open(options, names_dir)?;
    Ok(Handle::File(File::new(open, options.read, options.write)))
}

/// Whether a file the run has open may be opened with `options`.
fn check_live_open(options: OpenOptions, names_dir: bool) -> FsResult<()> {
    if options.directory || names_dir {
        return Err(ErrorCode::NotDirectory.into());
    }
    if options.create && options.exclusive {
        return Err(ErrorCode::Exist.into());
    }
    Ok(())
}

/// Deletes the stored object at `path` (directly on a local store, removing the directories
/// left empty above it, as the store's own cleanup does).
async fn delete_stored(volume: &Volume, path: &RelPath) -> FsResult<()> {
    // The directories above may vanish with their last object.
    volume.forget_ancestors(path);
    volume.stored_gone(path, Kind::File);
    match volume.local_root() {
        Some(root) => local::remove(root, path, volume.parent_marked(path)),
        None => {
            let key = path.key_ref();
            let deleted = volume.store().delete(key).await;
            deleted.map_err(|e| store_error(e, key))
        }
    }
}

/// The bytes stored under the directory `path`, and whether any key below holds one of the
/// host's own names other than a directory marker (jobs' staging and quarantine folders).
async fn survey(volume: &Volume, path: &RelPath) -> FsResult<(u64, bool)> {
    let key = path.key_ref();
    let (mut bytes, mut host_names) = (0u64, false);
    let mut listing = volume.store().list(Some(key));
    while let Some(meta) = listing.try_next().await.map_err(|e| store_error(e, key))? {
        bytes = bytes.saturating_add(meta.size);
        if let Some(mut below) = meta.location.prefix_match(key) {
            host_names |=
                below.any(|part| is_host_name(part.as_ref()) && part.as_ref() != DIR_MARKER);
        }
    }
    Ok((bytes, host_names))
}

/// Removes the existing directory `path` if only its marker is below it: `not-empty`
/// otherwise. On a local store staged uploads count too (listings hide them).
async fn remove_empty_dir(volume: &Volume, path: &RelPath) -> FsResult<()> {
    if volume.holds_live(path) {
        return Err(ErrorCode::NotEmpty.into());
    }
    let empty = match volume.local_root() {
        Some(root) => local::holds_only_marker(root, path)?,
        None => {
            // Anything below but the directory's own marker makes it non-empty, so the first
            // two keys of a listing tell: one request, however many objects lie below.
            let (key, marker) = (path.key_ref(), path.marker_key());
            let mut listing = volume.store().list(Some(key));
            let mut empty = true;
            while let Some(meta) = listing.try_next().await.map_err(|e| store_error(e, key))? {
                if meta.location != marker && !worldhost_store::is_placeholder(&meta.location, key)
                {
                    empty = false;
                    break;
                }
            }
            empty
        }
    };
    if !empty {
        return Err(ErrorCode::NotEmpty.into());
    }
    let marker = path.marker_key();
    volume.forget_dirs_under(path);
    volume.stored_gone(path, Kind::Dir);
    if let Some(root) = volume.local_root() {
        // Beneath the root, as a file's removal: never through a link planted meanwhile.
        return local::remove_dir(root, path);
    }
    match volume.store().delete(&marker).await {
        Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
        Err(e) => Err(store_error(e, &marker)),
    }
}
