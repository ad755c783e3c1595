//! A volume: one mount as the filesystem sees it. What a path names there (`lookup`), which
//! directories are known to exist, and where a local store keeps a path on disk.
//!
//! Lookups on a local-directory store take the fast path of [`super::local`] (one `stat`);
//! every other store is asked with a `head` and, when nothing is there, a delimiter listing.
//!
//! A volume belongs to one run ([`Volume::for_run`]) and also holds what that run has done and
//! the store does not show yet: the files its guest has open (*live* files, whose staged
//! content is what every handle and every lookup in the run sees, as on a real directory) and
//! the modification times it set.

use std::collections::{HashMap, HashSet};
use std::hash::{Hash, Hasher};
use std::sync::{Arc, Mutex, Weak};
use std::time::SystemTime;

use bytes::Bytes;
use object_store::{ObjectMeta, ObjectStore, ObjectStoreExt};

use super::error::{ErrorCode, FsError, FsResult, is_not_found, store_error};
use super::file::OpenFile;
use super::held::BufferMemory;
use super::path::RelPath;
use super::{Kind, MetadataHash, local};
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
    /// On a `memory:` store, the host memory the staged copies of every run on the mount may
    /// hold together (as much as the store itself may hold).
    memory_spools: Arc<BufferMemory>,
    /// The mount's URL as text, which names it in metadata hashes and messages.
    url: String,
    /// A hasher that has hashed `url`: each metadata hash goes on from it.
    url_hashed: std::hash::DefaultHasher,
    /// The run's open files by path: one [`OpenFile`] per path, shared by every handle on it
    /// (as an inode is), alive while a handle or stream holds it. Unlinked files leave it.
    live: Mutex<HashMap<RelPath, Weak<OpenFile>>>,
    /// Modification times the guest set, reported by `stat` for the rest of the run.
    times: Mutex<HashMap<RelPath, SystemTime>>,
    /// What the run knows of the store without asking it again (cloud and memory stores):
    /// files it stored or listed, and directories it made; on a local store, the files it
    /// wrote (names only).
    known: Mutex<Known>,
}

/// Files this run stored or listed, and directories it made (their marker was new, so it
/// knows every name in them): a lookup there needs no request (a cloud store's HEAD and
/// listing). Another process changing the same keys during the run is not seen, as with any
/// cache of an object store; a local store is always asked (a `stat` costs little), and only
/// a removal uses what the run wrote there ([`Volume::wrote_file`]).
#[derive(Default)]
struct Known {
    files: HashMap<RelPath, KnownFile>,
    made_dirs: HashSet<RelPath>,
    /// Bytes of content the known files keep in memory, at most [`KNOWN_CONTENT`].
    content_bytes: u64,
    /// Bytes of staged copies the known files keep on disk, at most [`KNOWN_STAGED`].
    staged_bytes: u64,
}

/// A file the run stored or listed: its size and time, and for a file the run wrote, its
/// content while there is room to keep it, so that reading it back needs no GET.
struct KnownFile {
    size: u64,
    modified: SystemTime,
    content: Option<Kept>,
}

/// The content of a file as the run stored it, and the store's entity tag for it: a listing
/// that shows another tag means the object changed, and the content is dropped.
#[derive(Clone)]
pub(super) struct Kept {
    pub content: KeptContent,
    pub e_tag: Option<String>,
}

/// Where kept content is: a small file's bytes in host memory, or a larger file's staged
/// copy, the unlinked temporary file its upload was read from (host disk, never memory).
#[derive(Clone)]
pub(super) enum KeptContent {
    Bytes(Bytes),
    Staged { file: Arc<std::fs::File>, len: u64 },
}

impl KeptContent {
    fn len(&self) -> u64 {
        match self {
            KeptContent::Bytes(bytes) => bytes.len() as u64,
            KeptContent::Staged { len, .. } => *len,
        }
    }
}

/// Files [`Known`] holds at most; past it, it starts again empty.
const KNOWN_FILES: usize = 10_000;
/// A file the run writes keeps its content in memory for reads only up to this size, and all
/// kept content of a volume (a mount in one run) stays under [`KNOWN_CONTENT`]: host memory
/// the guest cannot grow past it.
pub(super) const KEEP_CONTENT_MAX: u64 = 64 << 10;
const KNOWN_CONTENT: u64 = 16 << 20;
/// Staged copies (on host disk) a volume keeps of larger files the run stored, in all: what a
/// guest can hold of the host's temporary directory beyond its open files' staged copies.
/// Past it, files stored later are read back from the store. Only copies past the memory
/// staging size (8 MiB) are kept, so this bounds the descriptors they hold too (128).
pub(super) const KNOWN_STAGED: u64 = 1 << 30;

impl Known {
    /// Records the file `path`, keeping `content` while the room for kept content lasts (the
    /// file's earlier record, and its content, gone first).
    fn record(&mut self, path: &RelPath, size: u64, modified: SystemTime, content: Option<Kept>) {
        if let Some(old) = self.files.remove(path) {
            self.let_go(old.content.as_ref());
        }
        if self.files.len() >= KNOWN_FILES {
            // Everything, the directories made too: knowing every name in one rests on the
            // records of the files stored there.
            *self = Known::default();
        }
        let content = content.filter(|kept| {
            let len = kept.content.len();
            len == size
                && match kept.content {
                    KeptContent::Bytes(_) => {
                        len <= KEEP_CONTENT_MAX && self.content_bytes + len <= KNOWN_CONTENT
                    }
                    KeptContent::Staged { .. } => self.staged_bytes + len <= KNOWN_STAGED,
                }
        });
        let file = KnownFile {
            size,
            modified,
            content,
        };
        self.hold(file.content.as_ref());
        self.files.insert(path.clone(), file);
    }

    /// Counts what `kept` takes of the room for kept content.
    fn hold(&mut self, kept: Option<&Kept>) {
        let (memory, staged) = room_taken(kept);
        self.content_bytes += memory;
        self.staged_bytes += staged;
    }

    /// Gives back the room `kept` took (its file is forgotten, or its content is).
    fn let_go(&mut self, kept: Option<&Kept>) {
        let (memory, staged) = room_taken(kept);
        self.content_bytes -= memory;
        self.staged_bytes -= staged;
    }

    /// Records a listed file, updating its record in place if it has one.
    fn listed(&mut self, meta: &ObjectMeta) {
        let modified = meta.last_modified.into();
        let Some(file) = self.files.get_mut(&meta.location) else {
            let path = RelPath::from_key(&meta.location);
            return self.record(&path, meta.size, modified, None);
        };
        let unchanged = file.content.as_ref().is_some_and(|kept| {
            kept.e_tag.is_some() && kept.e_tag == meta.e_tag && file.size == meta.size
        });
        file.size = meta.size;
        file.modified = modified;
        if !unchanged {
            let dropped = file.content.take();
            self.let_go(dropped.as_ref());
        }
    }

    /// Forgets `path` (a file, or with `kind` a directory and everything below it: a pass
    /// over what is known, so only for directories); with `appeared`, something new lies there
    /// that the run did not record, so the directories above are no longer known whole.
    fn forget(&mut self, path: &RelPath, kind: Kind, appeared: bool) {
        match kind {
            Kind::File => {
                if let Some(file) = self.files.remove(path) {
                    self.let_go(file.content.as_ref());
                }
            }
            Kind::Dir => {
                let (mut memory, mut staged) = (0, 0);
                self.files.retain(|known, file| {
                    let keep = !known.starts_with(path);
                    if !keep {
                        let (in_memory, on_disk) = room_taken(file.content.as_ref());
                        memory += in_memory;
                        staged += on_disk;
                    }
                    keep
                });
                self.content_bytes -= memory;
                self.staged_bytes -= staged;
                self.made_dirs.retain(|made| !made.starts_with(path));
            }
        }
        if appeared {
            let mut ancestor = path.parent();
            while let Some(dir) = ancestor {
                self.made_dirs.remove(&dir);
                ancestor = dir.parent();
            }
        }
    }
}

/// What kept content takes of a volume's room for it: (bytes of host memory, bytes of staged
/// copies on disk).
fn room_taken(kept: Option<&Kept>) -> (u64, u64) {
    match kept.map(|kept| &kept.content) {
        Some(KeptContent::Bytes(bytes)) => (bytes.len() as u64, 0),
        Some(KeptContent::Staged { len, .. }) => (0, *len),
        None => (0, 0),
    }
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
        let spools = Arc::new(BufferMemory::new(worldhost_store::MEMORY_STORE_CAPACITY));
        Volume::with_cache(mount, Arc::default(), spools)
    }

    fn with_cache(
        mount: Arc<Mount>,
        known_dirs: Arc<DirCache>,
        memory_spools: Arc<BufferMemory>,
    ) -> Arc<Volume> {
        let url = mount.url.to_string();
        let mut url_hashed = std::hash::DefaultHasher::new();
        url.hash(&mut url_hashed);
        Arc::new(Volume {
            mount,
            known_dirs,
            memory_spools,
            url,
            url_hashed,
            live: Mutex::default(),
            times: Mutex::default(),
            known: Mutex::default(),
        })
    }

    /// On a `memory:` store, what staged copies may hold in host memory (every run's together).
    pub(super) fn memory_spools(&self) -> &Arc<BufferMemory> {
        &self.memory_spools
    }

    fn known_now(&self) -> std::sync::MutexGuard<'_, Known> {
        self.known.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Records that the run stored the file `path` with `size` bytes, and keeps `content`
    /// (what it stored, if small) for reads, while the room for kept content lasts. On a local
    /// store only the name is of use: lookups there always ask, but a file the run wrote is
    /// removed without a check of what it is ([`Volume::wrote_file`]).
    pub(super) fn stored_file(
        &self,
        path: &RelPath,
        size: u64,
        modified: SystemTime,
        content: Option<Kept>,
    ) {
        let content = content.filter(|_| !self.is_local());
        self.known_now().record(path, size, modified, content);
    }

    /// Whether the run stored the file `path` itself, and has not removed or replaced it since
    /// (as far as the run knows: not if another process did).
    pub(super) fn wrote_file(&self, path: &RelPath) -> bool {
        self.known_now().files.contains_key(path)
    }

    /// Records the files a listing showed, so a lookup of any of them needs no request. A
    /// file's kept content stays only if the listing shows the entity tag the run stored.
    pub(super) fn listed_files(&self, listed: &[&ObjectMeta]) {
        if self.is_local() {
            return;
        }
        let mut known = self.known_now();
        for meta in listed {
            known.listed(meta);
        }
    }

    /// The content the run stored at `path`, if it kept it and it is `size` bytes long.
    pub(super) fn kept_content(&self, path: &RelPath, size: u64) -> Option<KeptContent> {
        if self.is_local() {
            // A local store's files are read where they are: nothing is kept.
            return None;
        }
        let known = self.known_now();
        let kept = known.files.get(path)?.content.as_ref()?;
        (kept.content.len() == size).then(|| kept.content.clone())
    }

    /// Records that the run made the directory `path`, empty. On a local store this only
    /// says that its marker keeps it ([`Volume::parent_marked`]): lookups there always ask.
    pub(super) fn made_dir(&self, path: &RelPath) {
        self.known_now().made_dirs.insert(path.clone());
    }

    /// Whether the directory holding `path` has a marker this run wrote, so removing `path`
    /// cannot leave it empty (a removal of a local file then tries no `rmdir` above it). If
    /// another process deletes the marker meanwhile, the directory stays, empty, which a local
    /// store shows as an empty directory: what the marker would have kept.
    pub(super) fn parent_marked(&self, path: &RelPath) -> bool {
        path.parent()
            .is_some_and(|parent| self.known_now().made_dirs.contains(&parent))
    }

    /// Records that nothing is stored at (or for a directory, below) `path` any more (an
    /// unlink, a removal, the source of a rename).
    pub(crate) fn stored_gone(&self, path: &RelPath, kind: Kind) {
        self.known_now().forget(path, kind, false);
    }

    /// Records that something the run did not follow now lies at (or for a directory, below)
    /// `path` (the target of a rename, a blob put or copy): the store is asked again.
    pub(crate) fn stored_unknown(&self, path: &RelPath, kind: Kind) {
        self.known_now().forget(path, kind, true);
    }

    /// The same mount and directory cache, with nothing open: the volume one run works in
    /// (runs sharing a mount, a plugin's calls, never see each other's unpublished files).
    pub fn for_run(&self) -> Arc<Volume> {
        let spools = self.memory_spools.clone();
        Volume::with_cache(self.mount.clone(), self.known_dirs.clone(), spools)
    }

    fn live_files(&self) -> std::sync::MutexGuard<'_, HashMap<RelPath, Weak<OpenFile>>> {
        self.live.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn set_times(&self) -> std::sync::MutexGuard<'_, HashMap<RelPath, SystemTime>> {
        self.times.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The file the run has open at `path`, if any.
    pub(super) fn live(&self, path: &RelPath) -> Option<Arc<OpenFile>> {
        self.live_files().get(path).and_then(Weak::upgrade)
    }

    /// Every file the run has open.
    pub(super) fn all_live(&self) -> Vec<Arc<OpenFile>> {
        self.live_files()
            .values()
            .filter_map(Weak::upgrade)
            .collect()
    }

    /// Records `file` as open at `path` (the path must not have a live file).
    pub(super) fn add_live(&self, path: &RelPath, file: &Arc<OpenFile>) {
        let mut live = self.live_files();
        if live.len() >= 64 && live.len().is_power_of_two() {
            live.retain(|_, file| file.strong_count() > 0);
        }
        live.insert(path.clone(), Arc::downgrade(file));
    }

    /// Takes the live file at `path` out of the namespace (it was unlinked or replaced): it
    /// keeps its content for its handles, and is never published.
    pub(super) fn unlink_live(&self, path: &RelPath) {
        let removed = self
            .live_files()
            .remove(path)
            .and_then(|file| file.upgrade());
        if let Some(file) = removed {
            file.unlink();
        }
        self.set_times().remove(path);
    }

    /// Moves the live files and set times at `from`, or below it, to the same place under
    /// `to` (after a rename); what `to` held is unlinked first.
    pub(super) fn move_live(&self, from: &RelPath, to: &RelPath) {
        let mut live = self.live_files();
        for replaced in rebase_entries(&mut live, from, to) {
            if let Some(file) = replaced.upgrade() {
                file.unlink();
            }
        }
        // Everything at or below `to` now is what moved there.
        for (path, file) in live.iter().filter(|(path, _)| path.starts_with(to)) {
            if let Some(open) = file.upgrade() {
                open.moved_to(path.clone());
            }
        }
        drop(live);
        rebase_entries(&mut self.set_times(), from, to);
    }

    /// Whether a live file lies below the directory `path`.
    pub(super) fn holds_live(&self, path: &RelPath) -> bool {
        let live = self.live_files();
        live.iter()
            .any(|(p, file)| p != path && p.starts_with(path) && file.strong_count() > 0)
    }

    /// The entries the run's live files add to the directory `dir`: its files, and the
    /// directories leading to files further down.
    pub(super) fn live_entries(&self, dir: &RelPath) -> Vec<(String, super::Kind)> {
        let depth = dir.depth();
        let live = self.live_files();
        live.iter()
            .filter(|(path, file)| {
                path.starts_with(dir) && path.depth() > depth && file.strong_count() > 0
            })
            .map(|(path, _)| {
                let kind = if path.depth() == depth + 1 {
                    super::Kind::File
                } else {
                    super::Kind::Dir
                };
                (path.segment(depth).to_owned(), kind)
            })
            .collect()
    }

    /// The modification time the guest set on `path` in this run, if it set one.
    pub(super) fn time_set(&self, path: &RelPath) -> Option<SystemTime> {
        self.set_times().get(path).copied()
    }

    /// Records the modification time the guest set on `path`.
    pub(super) fn record_time(&self, path: &RelPath, time: SystemTime) {
        self.set_times().insert(path.clone(), time);
    }

    /// On a local store, gives the stored file at `path` the time the guest set on it, if it
    /// set one (object stores keep their own upload times).
    pub(super) fn keep_time_on_disk(&self, path: &RelPath) {
        if let (Some(time), Some(root)) = (self.time_set(path), self.local_root())
            && let Err(error) = local::set_modified(root, path, time)
        {
            tracing::debug!(%path, %error, "could not set the stored file's time");
        }
    }

    /// Updates a recorded time after the file's content changed (no record: nothing to do).
    pub(super) fn refresh_time(&self, path: &RelPath, time: SystemTime) {
        if let Some(recorded) = self.set_times().get_mut(path) {
            *recorded = time;
        }
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

    /// The local store's root directory, through which paths are opened with no link
    /// followed.
    pub(super) fn local_root(&self) -> Option<&worldhost_store::LocalRoot> {
        self.mount.local_root.as_ref()
    }

    /// Resolves the guest's `path` against the directory `base`, and says whether it ended in
    /// `/` (so must name a directory). An empty path is `no-entry`. Every directory a `..` steps out of must exist, as in a
    /// real filesystem; on local stores, staged uploads' names (`NAME#DIGITS`) are refused.
    pub async fn resolve(&self, base: &RelPath, path: &str) -> FsResult<(RelPath, bool)> {
        let resolved = self.join_guest_path(base, path)?;
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

    /// [`Volume::resolve`] with no store request: `None` if a directory a `..` steps out of
    /// is not known to exist (the caller resolves it the async way instead).
    pub fn resolve_now(&self, base: &RelPath, path: &str) -> Option<FsResult<(RelPath, bool)>> {
        let resolved = match self.join_guest_path(base, path) {
            Ok(resolved) => resolved,
            Err(error) => return Some(Err(error)),
        };
        if resolved.must_be_dirs.iter().any(|dir| !self.dir_known(dir)) {
            return None;
        }
        Some(Ok((resolved.path, resolved.names_dir)))
    }

    /// The guest's `path` joined to `base`, before any lookup.
    fn join_guest_path(&self, base: &RelPath, path: &str) -> FsResult<super::path::Resolved> {
        if path.is_empty() {
            // An empty path names nothing, as on Linux (`ENOENT`) and in wasmtime-wasi.
            return Err(ErrorCode::NoEntry.into());
        }
        let resolved = base.join_checked(path)?;
        if self.is_local() && resolved.path.has_staging_name() {
            // `NAME#DIGITS` is where a local store stages uploads: never the guest's.
            return Err(ErrorCode::Access.into());
        }
        Ok(resolved)
    }

    /// Looks up what `path` names: an object, a directory (a marker or any key below it), or
    /// nothing.
    pub async fn lookup(&self, path: &RelPath) -> FsResult<Entry> {
        if let Some(entry) = self.lookup_now(path) {
            return entry;
        }
        // Waits on a file a call holds, or on the store.
        if let Some(file) = self.live(path) {
            let (size, modified) = file.size_and_modified().await;
            return Ok(live_entry(size, modified));
        }
        let entry = self.ask_store(path).await?;
        Ok(self.as_run_sees(path, entry))
    }

    /// [`Volume::lookup`] with no wait: `None` if it needs a store request, or a file the
    /// run has open there is busy.
    pub fn lookup_now(&self, path: &RelPath) -> Option<FsResult<Entry>> {
        if path.is_root() {
            return Some(Ok(Entry::Dir));
        }
        if let Some(file) = self.live(path) {
            let (size, modified) = file.size_and_modified_now()?;
            return Some(Ok(live_entry(size, modified)));
        }
        let entry = now!(self.stored_now(path));
        Some(Ok(self.as_run_sees(path, entry)))
    }

    /// What the store holds at `path` as the run sees it: with the time the guest set, and
    /// a directory whose stored objects are gone still holding the run's open files.
    fn as_run_sees(&self, path: &RelPath, entry: Entry) -> Entry {
        match entry {
            Entry::File { size, modified } => Entry::File {
                size,
                modified: self.time_set(path).unwrap_or(modified),
            },
            Entry::Missing if self.holds_live(path) => Entry::Dir,
            entry => entry,
        }
    }

    /// What the store holds at `path` (regardless of the run's open files) if that is known
    /// without a request: always on a local store (one `stat`), and for what the run stored,
    /// listed or made elsewhere.
    fn stored_now(&self, path: &RelPath) -> Option<FsResult<Entry>> {
        if let Some(root) = self.local_root() {
            let entry = local::lookup(root, path);
            if let Ok(Entry::Dir) = entry {
                self.remember_dir(path);
            }
            return Some(entry);
        }
        let known = self.known_now();
        if let Some(file) = known.files.get(path) {
            let (size, modified) = (file.size, file.modified);
            return Some(Ok(Entry::File { size, modified }));
        }
        if known.made_dirs.contains(path) {
            return Some(Ok(Entry::Dir));
        }
        if path
            .parent()
            .is_some_and(|dir| known.made_dirs.contains(&dir))
        {
            return Some(Ok(Entry::Missing));
        }
        None
    }

    /// Asks the store what `path` names: a HEAD, and if no object is there, whether any key
    /// lies below it.
    async fn ask_store(&self, path: &RelPath) -> FsResult<Entry> {
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
        // A directory is a prefix with something below: one key of a listing tells.
        match self.mount.holds_any(key).await {
            Ok(true) => {
                self.remember_dir(path);
                Ok(Entry::Dir)
            }
            Ok(false) => Ok(Entry::Missing),
            Err(e) if is_not_found(&e) => Ok(Entry::Missing),
            Err(e) => Err(store_error(e, key)),
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
            let mut hasher = self.url_hashed.clone();
            (salt, path.key_ref().as_ref()).hash(&mut hasher);
            hasher.finish()
        };
        MetadataHash {
            lower: hash(0),
            upper: hash(1),
        }
    }
}

/// A file the run has open, as a lookup gives it (a new file not yet stored has the time now).
fn live_entry(size: u64, modified: Option<SystemTime>) -> Entry {
    let modified = modified.unwrap_or_else(SystemTime::now);
    Entry::File { size, modified }
}

/// Moves the entries of `map` at `from` or below it to the same place under `to`, after taking
/// out (and returning) what was at `to` or below it: a rename's effect on what a run keeps
/// by path.
fn rebase_entries<V>(map: &mut HashMap<RelPath, V>, from: &RelPath, to: &RelPath) -> Vec<V> {
    let at_target: Vec<RelPath> = map.keys().filter(|p| p.starts_with(to)).cloned().collect();
    let replaced = at_target
        .iter()
        .filter_map(|path| map.remove(path))
        .collect();
    let moving: Vec<RelPath> = map
        .keys()
        .filter(|p| p.starts_with(from))
        .cloned()
        .collect();
    for path in moving {
        if let Some(value) = map.remove(&path) {
            map.insert(path.rebase(from, to), value);
        }
    }
    replaced
}
