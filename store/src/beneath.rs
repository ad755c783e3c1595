//! Local-directory stores never follow a link.
//!
//! A `file://` mount's directory may hold symbolic links that another program (or a cli-world
//! guest) planted, pointing anywhere on the host. The host resolves every key *beneath* the
//! mount's root with no link followed, in the kernel (`openat2` with `RESOLVE_BENEATH |
//! RESOLVE_NO_SYMLINKS`: one system call, linear in the path's depth), so a link is neither a
//! file nor a directory to the guest: a path through one names nothing (`no-entry`), listings
//! hide it, and nothing is ever read, written, listed or deleted outside the root. Only the
//! root itself may be a link: it is resolved once, when the mount is opened.
//!
//! [`LocalRoot`] is that rule for the cloud filesystem's fast path (host paths opened
//! directly); [`BeneathStore`] is the same rule around object_store's `LocalFileSystem`
//! (which follows links by design) for everything that goes through the store.
//!
//! [`BeneathStore`] checks a key beneath the root, then lets `LocalFileSystem` act on the
//! key's host path: another local process that swaps a checked directory for a link in
//! between could redirect that one operation. So the cloud filesystem makes every write and
//! removal of a file or a directory through [`LocalRoot`] (file commits, unlinks, file
//! renames, `mkdir`'s marker, `rmdir`); what still goes through the store on a local mount is
//! directory renames (object by object), `wasi:keyvalue` and blob writes, and jobs' staging.
//!
//! Lookups are the hot path (a guest's `stat`, and `read_dir`'s per-entry inode numbers), so a
//! root keeps the last few directories it opened beneath itself, for at most
//! [`DIR_CACHE_TTL`]: a lookup in one of them is one `fstatat(AT_SYMLINK_NOFOLLOW)` of a single
//! name relative to a directory descriptor opened with no link followed, which follows no link
//! either. The host's own removals and renames of directories clear the cache; a directory
//! that another process renames or replaces is noticed within [`DIR_CACHE_TTL`] (a lookup
//! never follows a link planted meanwhile: it reads the directory it opened, or nothing).
//!
//! A file's removal uses the cache too (a guest removing a directory's files one by one opens
//! that directory once, as a lookup would; `fs-bench remove` on tmpfs: 11.0 to 8.9 us a
//! removal): the check and the `unlinkat` are made in a directory opened beneath the root with
//! no link followed, at most [`DIR_CACHE_TTL`] ago. If another process has moved that
//! directory out of the root since, the file goes where the directory now is; moving a
//! directory to another parent takes write permission on the directory itself (`rename(2)`
//! rewrites its `..`), so only a process that could remove the file itself can bring that
//! about, and a link planted in its place is still never followed. Every write, rename and
//! directory removal opens its directory afresh.

use std::ffi::OsStr;
use std::fmt;
use std::io;
use std::ops::Range;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use async_trait::async_trait;
use futures::stream::{BoxStream, StreamExt, TryStreamExt};
use object_store::local::LocalFileSystem;
use object_store::path::Path as Key;
use object_store::{
    CopyOptions, GetOptions, GetResult, ListResult, MultipartUpload, ObjectMeta, ObjectStore,
    PutMultipartOptions, PutOptions, PutPayload, PutResult, RenameOptions,
};
use rustix::fs::{AtFlags, FileType, Mode, OFlags, ResolveFlags};
use rustix::io::Errno;

/// What a directory entry is, seen without following it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryKind {
    File,
    Dir,
    /// A link, a device, a pipe, a socket: nothing the guest can be given.
    Other,
}

/// What a lookup tells of an entry, not following it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EntryStat {
    pub kind: EntryKind,
    pub size: u64,
    pub modified: SystemTime,
}

/// How long a directory opened for lookups is used again before it is opened afresh.
pub const DIR_CACHE_TTL: Duration = Duration::from_secs(1);
/// How many directories a root keeps open for lookups (the least recently opened goes).
const DIR_CACHE_SIZE: usize = 16;

/// Directories opened beneath a root for lookups, by their path relative to the root.
#[derive(Default)]
struct DirCache(Mutex<Vec<(String, Arc<rustix::fd::OwnedFd>, Instant)>>);

impl DirCache {
    fn entries(
        &self,
    ) -> std::sync::MutexGuard<'_, Vec<(String, Arc<rustix::fd::OwnedFd>, Instant)>> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn get(&self, relative: &str) -> Option<Arc<rustix::fd::OwnedFd>> {
        let mut entries = self.entries();
        let index = entries.iter().position(|(key, _, _)| key == relative)?;
        if entries[index].2.elapsed() < DIR_CACHE_TTL {
            return Some(entries[index].1.clone());
        }
        entries.swap_remove(index);
        None
    }

    fn insert(&self, relative: &str, fd: Arc<rustix::fd::OwnedFd>) {
        let mut entries = self.entries();
        entries.retain(|(key, _, _)| key != relative);
        if entries.len() >= DIR_CACHE_SIZE {
            entries.remove(0);
        }
        entries.push((relative.to_owned(), fd, Instant::now()));
    }

    /// Forgets every directory (the host removed or renamed some).
    fn clear(&self) {
        self.entries().clear();
    }
}

/// A local store's root directory, opened once, and the key prefix below it that a mount
/// serves (empty, or a job's staging prefix). Every key is reached from the open root with no
/// link followed.
#[derive(Clone)]
pub struct LocalRoot {
    dir: Arc<rustix::fd::OwnedFd>,
    /// Directories recently opened beneath the root, shared by every clone and [`LocalRoot::below`].
    dirs: Arc<DirCache>,
    /// The root's host path, resolved (the root itself may have been given as a link).
    root: PathBuf,
    /// The key prefix below the root (empty, or `a/b`).
    sub: String,
}

impl fmt::Debug for LocalRoot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LocalRoot")
            .field("root", &self.root)
            .field("sub", &self.sub)
            .finish()
    }
}

/// Whether `error` says a path crossed a link (or would have left the root): such a path
/// names nothing the store serves.
pub fn crosses_link(error: &io::Error) -> bool {
    let errno = error.raw_os_error().map(Errno::from_raw_os_error);
    matches!(errno, Some(Errno::LOOP | Errno::XDEV))
}

/// Whether `error` says the path names nothing the store serves: missing, below a file, or
/// through a link.
pub fn names_nothing(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::NotFound | io::ErrorKind::NotADirectory
    ) || crosses_link(error)
}

/// Whether `error` says the process or the system has no file descriptor left (`EMFILE`,
/// `ENFILE`).
pub fn out_of_descriptors(error: &io::Error) -> bool {
    let errno = error.raw_os_error().map(Errno::from_raw_os_error);
    matches!(errno, Some(Errno::MFILE | Errno::NFILE))
}

impl LocalRoot {
    /// Opens the directory `dir` (created if missing; if it is a link, the directory it
    /// points to) as a local store's root.
    pub fn open(dir: &Path) -> io::Result<LocalRoot> {
        std::fs::create_dir_all(dir)?;
        let root = std::fs::canonicalize(dir)?;
        let fd = rustix::fs::open(
            &root,
            OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )?;
        Ok(LocalRoot {
            dir: Arc::new(fd),
            dirs: Arc::default(),
            root,
            sub: String::new(),
        })
    }

    /// The same root serving only the keys under `prefix` (a job's staging area).
    pub fn below(&self, prefix: &str) -> LocalRoot {
        LocalRoot {
            dir: self.dir.clone(),
            dirs: self.dirs.clone(),
            root: self.root.clone(),
            sub: self.relative(prefix).into_owned(),
        }
    }

    /// The host path this root serves (the resolved root, and the prefix below it).
    pub fn path(&self) -> PathBuf {
        self.host_path("")
    }

    /// The host path of `key` (for names only: open it through [`LocalRoot`]'s methods).
    pub fn host_path(&self, key: &str) -> PathBuf {
        match self.relative(key).as_ref() {
            "." => self.root.clone(),
            relative => self.root.join(relative),
        }
    }

    /// Where `key` is, for telling files apart without a host path: the open root directory
    /// (one per store, shared by its clones and [`LocalRoot::below`]) and the key below it.
    pub(crate) fn place(&self, key: &str) -> (usize, String) {
        (
            Arc::as_ptr(&self.dir) as usize,
            self.relative(key).into_owned(),
        )
    }

    /// `key` relative to the open root directory (`.` for the root itself).
    fn relative<'a>(&self, key: &'a str) -> std::borrow::Cow<'a, str> {
        match (self.sub.is_empty(), key.is_empty()) {
            (true, true) => ".".into(),
            (true, false) => key.into(),
            (false, true) => self.sub.clone().into(),
            (false, false) => format!("{}/{key}", self.sub).into(),
        }
    }

    /// Opens `key` with `flags`, following no link on the way or at the end: an error that
    /// [`crosses_link`] if there is one.
    pub fn open_at(&self, key: &str, flags: OFlags) -> io::Result<rustix::fd::OwnedFd> {
        self.open_relative(&self.relative(key), flags)
    }

    /// [`LocalRoot::open_at`] of a path relative to the open root directory.
    fn open_relative(&self, relative: &str, flags: OFlags) -> io::Result<rustix::fd::OwnedFd> {
        // `openat2` takes no other flag beside `O_PATH` (plain `openat` ignores them).
        let flags = match flags.contains(OFlags::PATH) {
            true => flags | OFlags::CLOEXEC,
            false => flags | OFlags::CLOEXEC | OFlags::NOCTTY,
        };
        let resolve = ResolveFlags::BENEATH | ResolveFlags::NO_SYMLINKS;
        match rustix::fs::openat2(&*self.dir, relative, flags, Mode::empty(), resolve) {
            // Kernels before 5.6 (or a sandbox refusing the call): the same walk, one
            // component at a time.
            Err(Errno::NOSYS | Errno::PERM) => self.open_walking(relative, flags),
            // `EAGAIN`: a rename elsewhere raced the lookup; the kernel asks for a retry.
            Err(Errno::AGAIN) => self.open_walking(relative, flags),
            result => Ok(result?),
        }
    }

    /// `open_at` without `openat2`: each component opened from the last with `O_NOFOLLOW`
    /// and checked not to be a link.
    fn open_walking(&self, relative: &str, flags: OFlags) -> io::Result<rustix::fd::OwnedFd> {
        let parts: Vec<&str> = relative.split('/').filter(|p| !p.is_empty()).collect();
        let mut dir: Option<rustix::fd::OwnedFd> = None;
        for (index, part) in parts.iter().enumerate() {
            if *part == ".." {
                return Err(Errno::XDEV.into());
            }
            let at = dir.as_ref().map_or(self.dir.as_ref(), |fd| fd);
            let last = index + 1 == parts.len();
            let step = if last {
                flags | OFlags::NOFOLLOW
            } else {
                OFlags::PATH | OFlags::NOFOLLOW | OFlags::CLOEXEC
            };
            let fd = rustix::fs::openat(at, *part, step, Mode::empty())?;
            // With `O_PATH | O_NOFOLLOW` a link opens as itself: refuse it.
            if step.contains(OFlags::PATH)
                && FileType::from_raw_mode(rustix::fs::fstat(&fd)?.st_mode) == FileType::Symlink
            {
                return Err(Errno::LOOP.into());
            }
            if last {
                return Ok(fd);
            }
            dir = Some(fd);
        }
        // The root itself (`.`).
        Ok(rustix::fs::openat(&*self.dir, ".", flags, Mode::empty())?)
    }

    /// Fails unless `key` is reached with no link on its way (missing is fine: what would
    /// create it creates real directories). Any other failure fails too, so a check that
    /// cannot be made never lets a key through.
    pub fn check(&self, key: &str) -> io::Result<()> {
        match self.open_at(key, OFlags::PATH) {
            Ok(_) => Ok(()),
            Err(error) if names_nothing(&error) && !crosses_link(&error) => Ok(()),
            Err(error) => Err(error),
        }
    }

    /// Fails unless the directory that would hold `key` is reached with no link on its way
    /// (so creating `key` there writes beneath the root); `key` itself may be a link, which a
    /// write replaces (a rename over a link replaces the link, never its target).
    pub fn check_parent(&self, key: &str) -> io::Result<()> {
        self.check(key.rsplit_once('/').map_or("", |(parent, _)| parent))
    }

    /// What `key` is, not following links: one `fstatat` of its name in its directory, opened
    /// beneath the root (or kept from a recent lookup: see the module's documentation).
    pub fn stat(&self, key: &str) -> io::Result<EntryStat> {
        let relative = self.relative(key);
        let (parent, name) = match relative.rsplit_once('/') {
            Some((parent, name)) => (parent, name),
            None => (".", relative.as_ref()),
        };
        let stat = if relative == "." || name.is_empty() || name == "." || name == ".." {
            // The root itself, or a name no key has: the full walk answers.
            rustix::fs::fstat(self.open_relative(&relative, OFlags::PATH)?)?
        } else {
            let dir = self.lookup_dir(parent)?;
            rustix::fs::statat(&*dir, name, AtFlags::SYMLINK_NOFOLLOW)?
        };
        Ok(entry_stat(&stat))
    }

    /// The directory at `relative` (to the root directory), for lookups: a recently opened one,
    /// or opened now with no link followed and kept.
    fn lookup_dir(&self, relative: &str) -> io::Result<Arc<rustix::fd::OwnedFd>> {
        if relative == "." {
            return Ok(self.dir.clone());
        }
        if let Some(dir) = self.dirs.get(relative) {
            return Ok(dir);
        }
        let dir = Arc::new(self.open_relative(relative, OFlags::PATH | OFlags::DIRECTORY)?);
        self.dirs.insert(relative, dir.clone());
        Ok(dir)
    }

    /// Forgets the directories kept for lookups: call after removing or renaming any
    /// directory beneath the root.
    pub fn forget_dirs(&self) {
        self.dirs.clear();
    }

    /// Removes the empty directory `key`, reached with no link followed (`rmdir` of a link
    /// fails: it is not a directory).
    pub fn remove_dir(&self, key: &str) -> io::Result<()> {
        let relative = self.relative(key);
        let (parent, name) = relative.rsplit_once('/').unwrap_or((".", &relative));
        let removed = if parent == "." {
            rustix::fs::unlinkat(&*self.dir, name, AtFlags::REMOVEDIR)
        } else {
            let dir = self.open_relative(parent, OFlags::PATH | OFlags::DIRECTORY)?;
            rustix::fs::unlinkat(&dir, name, AtFlags::REMOVEDIR)
        };
        if removed.is_ok() {
            self.forget_dirs();
        }
        Ok(removed?)
    }

    /// Opens the directory that holds `key` for writing into it (creating the missing
    /// directories, each reached with no link followed), and returns it with `key`'s name.
    pub fn open_parent<'k>(&self, key: &'k str) -> io::Result<(std::fs::File, &'k str)> {
        let (parent, name) = key.rsplit_once('/').unwrap_or(("", key));
        let flags = OFlags::RDONLY | OFlags::DIRECTORY;
        let dir = match self.open_at(parent, flags) {
            Err(error) if error.kind() == io::ErrorKind::NotFound => {
                let relative = self.relative(parent);
                let mut dir = rustix::fs::openat(&*self.dir, ".", flags, Mode::empty())?;
                for part in relative
                    .split('/')
                    .filter(|part| !part.is_empty() && *part != ".")
                {
                    match rustix::fs::mkdirat(&dir, part, Mode::from_raw_mode(0o777)) {
                        Ok(()) | Err(Errno::EXIST) => {}
                        Err(error) => return Err(error.into()),
                    }
                    // One component, not followed if it is a link (a planted one fails).
                    let step = flags | OFlags::NOFOLLOW | OFlags::CLOEXEC;
                    dir = rustix::fs::openat(&dir, part, step, Mode::empty())?;
                }
                dir
            }
            result => result?,
        };
        Ok((std::fs::File::from(dir), name))
    }

    /// Opens the file `key`, for reading or (with `write`) writing, not following links.
    pub fn open_file(&self, key: &str, write: bool) -> io::Result<std::fs::File> {
        let access = if write {
            OFlags::WRONLY
        } else {
            OFlags::RDONLY
        };
        // Non-blocking, so a pipe planted at a key cannot hang the open. The flag stays: it
        // changes nothing for a regular file (reads and writes of one never block).
        let fd = self.open_at(key, access | OFlags::NONBLOCK)?;
        let file = std::fs::File::from(fd);
        if !file.metadata()?.is_file() {
            return Err(io::ErrorKind::InvalidInput.into());
        }
        Ok(file)
    }

    /// Writes `data` into a new file named `staged` in the directory of `key` (made if
    /// missing), then renames it over `key`: a reader sees the old file or the new one whole.
    /// With `durable`, the file and the rename are fsync'd. The directory is opened beneath the
    /// root with no link followed and everything happens relative to it, so a link planted on
    /// the way meanwhile is never followed (a link at `key` itself is replaced, as by a rename).
    pub fn publish(&self, key: &str, staged: &str, data: &[u8], durable: bool) -> io::Result<()> {
        use std::io::Write;
        let (dir, name) = self.open_parent(key)?;
        let flags = OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW;
        // Its key, for a process ended at its time limit while it is written.
        let staged_key = || match key.rsplit_once('/') {
            Some((parent, _)) => format!("{parent}/{staged}"),
            None => staged.to_owned(),
        };
        let fd = crate::staged_files::create(self, staged_key, || {
            let mode = Mode::from_raw_mode(0o666);
            Ok(rustix::fs::openat(
                &dir,
                staged,
                flags | OFlags::CLOEXEC,
                mode,
            )?)
        })?;
        let mut file = std::fs::File::from(fd);
        let written = file
            .write_all(data)
            .and_then(|()| if durable { file.sync_all() } else { Ok(()) })
            .and_then(|()| Ok(rustix::fs::renameat(&dir, staged, &dir, name)?))
            .and_then(|()| if durable { dir.sync_all() } else { Ok(()) });
        if written.is_err() {
            let _ = rustix::fs::unlinkat(&dir, staged, AtFlags::empty());
        }
        crate::staged_files::forget(self, staged_key);
        written
    }

    /// Reads up to `len` bytes of `file` (opened through a root) at `offset`, short only at
    /// the end of the file, into a new buffer that is not zeroed first (the read fills it).
    pub fn read_file_at(file: &std::fs::File, offset: u64, len: usize) -> io::Result<Vec<u8>> {
        let mut buffer = Vec::with_capacity(len);
        while buffer.len() < len {
            let at = offset.saturating_add(buffer.len() as u64);
            match rustix::io::pread(file, rustix::buffer::spare_capacity(&mut buffer), at) {
                Ok(0) => break,
                Ok(_) => {}
                Err(Errno::INTR) => {}
                Err(error) => return Err(error.into()),
            }
        }
        // The spare capacity may have been larger than asked.
        buffer.truncate(len);
        Ok(buffer)
    }

    /// Deletes the file `key` (not a link's target: a link is not there to delete).
    pub fn remove_file(&self, key: &str) -> io::Result<()> {
        match self.remove_if_file(key)? {
            EntryKind::File => Ok(()),
            EntryKind::Dir => Err(Errno::ISDIR.into()),
            // A link at `key` is not a file of the store.
            EntryKind::Other => Err(Errno::LOOP.into()),
        }
    }

    /// Deletes `key` if it is a regular file, and says what it was: a directory, a link or
    /// anything else is left alone. Two system calls (`fstatat` the name, `unlinkat` it) in
    /// its directory, kept from a recent lookup or removal or opened beneath the root now (see
    /// the module's documentation): the check and the removal in one directory.
    pub fn remove_if_file(&self, key: &str) -> io::Result<EntryKind> {
        let (parent, name) = key.rsplit_once('/').unwrap_or(("", key));
        let dir = self.lookup_dir(&self.relative(parent))?;
        let stat = rustix::fs::statat(&*dir, name, AtFlags::SYMLINK_NOFOLLOW)?;
        let kind = entry_kind(&stat);
        if kind == EntryKind::File {
            rustix::fs::unlinkat(&*dir, name, AtFlags::empty())?;
        }
        Ok(kind)
    }

    /// Deletes `key`, which the caller wrote as a regular file: one `unlinkat` in its
    /// directory (kept, as in [`LocalRoot::remove_if_file`]), without asking what it is first.
    /// Whatever another process has put at the name since (a link, a pipe) is removed itself,
    /// never what a link points to; a directory there is left alone ([`EntryKind::Dir`]).
    pub fn remove_written_file(&self, key: &str) -> io::Result<EntryKind> {
        let (parent, name) = key.rsplit_once('/').unwrap_or(("", key));
        let dir = self.lookup_dir(&self.relative(parent))?;
        match rustix::fs::unlinkat(&*dir, name, AtFlags::empty()) {
            Ok(()) => Ok(EntryKind::File),
            // Linux says `EISDIR` for a directory (POSIX allows `EPERM`).
            Err(Errno::ISDIR | Errno::PERM) => Ok(EntryKind::Dir),
            Err(error) => Err(error.into()),
        }
    }

    /// Opens `key` for reading (not following links) and says what it is: two system calls
    /// (`openat2`, `fstat` of what it opened), where a lookup, an open and a check of the
    /// opened file take three. Only a regular file is kept open; anything else (a directory,
    /// a pipe or a device: opened non-blocking, so never waited on) is closed at once.
    pub fn open_to_read(&self, key: &str) -> io::Result<(Option<std::fs::File>, EntryStat)> {
        let fd = self.open_at(key, OFlags::RDONLY | OFlags::NONBLOCK)?;
        let stat = entry_stat(&rustix::fs::fstat(&fd)?);
        let file = (stat.kind == EntryKind::File).then(|| std::fs::File::from(fd));
        Ok((file, stat))
    }

    /// Creates the new file `key` for reading and writing (never through or onto a link: an
    /// existing name fails), making its missing parent directories beneath the root.
    pub fn create_new_file(&self, key: &str) -> io::Result<std::fs::File> {
        let (dir, name) = self.open_parent(key)?;
        let flags =
            OFlags::RDWR | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC;
        let fd = rustix::fs::openat(&dir, name, flags, Mode::from_raw_mode(0o666))?;
        Ok(std::fs::File::from(fd))
    }

    /// [`LocalRoot::create_new_file`] for a staged file (`NAME#DIGITS`), which a process ended
    /// at its time limit removes first ([`crate::staged_files`]). Leave it through
    /// [`LocalRoot::rename_staged`] or [`LocalRoot::remove_staged`].
    pub fn create_staged(&self, key: &str) -> io::Result<std::fs::File> {
        crate::staged_files::create(self, || key.to_owned(), || self.create_new_file(key))
    }

    /// Renames the staged file `from` over `to` ([`LocalRoot::rename_file`]).
    pub fn rename_staged(&self, from: &str, to: &str) -> io::Result<()> {
        let renamed = self.rename_file(from, to);
        if renamed.is_ok() {
            crate::staged_files::forget(self, || from.to_owned());
        }
        renamed
    }

    /// Removes the staged file `key` ([`LocalRoot::remove_file`]).
    pub fn remove_staged(&self, key: &str) -> io::Result<()> {
        let removed = self.remove_file(key);
        crate::staged_files::forget(self, || key.to_owned());
        removed
    }

    /// Renames the file `from` over `to` (replacing a file or a link there, never writing
    /// through one), both reached beneath the root; `to`'s missing parents are made.
    pub fn rename_file(&self, from: &str, to: &str) -> io::Result<()> {
        let (from_parent, from_name) = from.rsplit_once('/').unwrap_or(("", from));
        let from_dir = self.open_at(from_parent, OFlags::PATH | OFlags::DIRECTORY)?;
        let (to_dir, to_name) = self.open_parent(to)?;
        Ok(rustix::fs::renameat(
            &from_dir, from_name, &to_dir, to_name,
        )?)
    }

    /// Flushes the directory holding `key` to disk, so a rename into it survives a crash.
    pub fn sync_parent(&self, key: &str) -> io::Result<()> {
        let parent = key.rsplit_once('/').map_or("", |(parent, _)| parent);
        let dir = self.open_at(parent, OFlags::RDONLY | OFlags::DIRECTORY)?;
        Ok(rustix::fs::fsync(&dir)?)
    }

    /// Calls `each` with the name and kind of every entry of the directory `key` (links are
    /// [`EntryKind::Other`], never followed) until it returns `false`.
    pub fn for_each_entry(
        &self,
        key: &str,
        mut each: impl FnMut(&OsStr, EntryKind) -> bool,
    ) -> io::Result<()> {
        let mut entries = self.open_dir(key)?;
        while let Some((name, kind)) = entries.next_entry()? {
            if !each(&name, kind) {
                break;
            }
        }
        Ok(())
    }

    /// The directory `key`, open for reading its entries a few at a time.
    pub fn open_dir(&self, key: &str) -> io::Result<LocalDir> {
        // `Dir::read_from` opens its own descriptor of the directory: this one closes here.
        let dir = self.open_at(key, OFlags::RDONLY | OFlags::DIRECTORY)?;
        Ok(LocalDir {
            entries: rustix::fs::Dir::read_from(&dir)?,
        })
    }
}

/// What `stat` says of an entry: its kind (never following it), size and time.
fn entry_stat(stat: &rustix::fs::Stat) -> EntryStat {
    let since_epoch = Duration::new(
        stat.st_mtime.max(0) as u64,
        (stat.st_mtime_nsec as u32).min(999_999_999),
    );
    EntryStat {
        kind: entry_kind(stat),
        size: stat.st_size.max(0) as u64,
        modified: SystemTime::UNIX_EPOCH + since_epoch,
    }
}

fn entry_kind(stat: &rustix::fs::Stat) -> EntryKind {
    match FileType::from_raw_mode(stat.st_mode) {
        FileType::RegularFile => EntryKind::File,
        FileType::Directory => EntryKind::Dir,
        _ => EntryKind::Other,
    }
}

/// An open directory of a local store ([`LocalRoot::open_dir`]), read an entry at a time:
/// holding it costs one descriptor and one buffer, however large the directory.
pub struct LocalDir {
    entries: rustix::fs::Dir,
}

impl LocalDir {
    /// The next entry's name and kind (links are [`EntryKind::Other`], never followed), `.`
    /// and `..` skipped; `None` at the end.
    pub fn next_entry(&mut self) -> io::Result<Option<(std::ffi::OsString, EntryKind)>> {
        while let Some(entry) = self.entries.read() {
            let entry = entry?;
            let name = OsStr::from_bytes(entry.file_name().to_bytes());
            if name == "." || name == ".." {
                continue;
            }
            let mut kind = entry.file_type();
            if kind == FileType::Unknown {
                // Some filesystems do not say in the listing: ask, not following it.
                let dir = self.entries.fd()?;
                let stat = rustix::fs::statat(dir, entry.file_name(), AtFlags::SYMLINK_NOFOLLOW)?;
                kind = FileType::from_raw_mode(stat.st_mode);
            }
            let kind = match kind {
                FileType::RegularFile => EntryKind::File,
                FileType::Directory => EntryKind::Dir,
                _ => EntryKind::Other,
            };
            return Ok(Some((name.to_owned(), kind)));
        }
        Ok(None)
    }
}

impl fmt::Debug for LocalDir {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LocalDir").finish_non_exhaustive()
    }
}

/// object_store's `LocalFileSystem` with every key reached beneath the root and no link
/// followed: a key through a link is not found (a write below one is refused as not found),
/// and listings skip links instead of walking into them.
#[derive(Debug, Clone)]
pub struct BeneathStore {
    inner: Arc<LocalFileSystem>,
    root: LocalRoot,
}

impl fmt::Display for BeneathStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.inner)
    }
}

/// The store's error for a key that crosses a link (not found), or could not be checked.
fn through_link(key: &Key, source: io::Error) -> object_store::Error {
    if crosses_link(&source) {
        object_store::Error::NotFound {
            path: key.to_string(),
            source: Box::new(source),
        }
    } else {
        object_store::Error::Generic {
            store: "LocalFileSystem",
            source: Box::new(source),
        }
    }
}

impl BeneathStore {
    /// A local store over `root` (keys are created as nested directories; a directory left
    /// empty by a delete is removed, which keeps the tree as the guest left it).
    pub fn new(root: LocalRoot) -> object_store::Result<BeneathStore> {
        let inner = LocalFileSystem::new_with_prefix(root.path())?.with_automatic_cleanup(true);
        Ok(BeneathStore {
            inner: Arc::new(inner),
            root,
        })
    }

    /// `key` must be reached with no link on its way or at its end.
    fn reach(&self, key: &Key) -> object_store::Result<()> {
        self.root
            .check(key.as_ref())
            .map_err(|error| through_link(key, error))
    }

    /// The directory that would hold `key` must be reached with no link on its way.
    fn reach_parent(&self, key: &Key) -> object_store::Result<()> {
        self.root
            .check_parent(key.as_ref())
            .map_err(|error| through_link(key, error))
    }

    /// Whether a listed key is reached with no link (the listing follows them).
    fn no_link(&self, key: &Key) -> bool {
        self.root.check(key.as_ref()).is_ok()
    }
}

#[async_trait]
impl ObjectStore for BeneathStore {
    async fn put_opts(
        &self,
        location: &Key,
        payload: PutPayload,
        opts: PutOptions,
    ) -> object_store::Result<PutResult> {
        self.reach_parent(location)?;
        self.inner.put_opts(location, payload, opts).await
    }

    async fn put_multipart_opts(
        &self,
        location: &Key,
        opts: PutMultipartOptions,
    ) -> object_store::Result<Box<dyn MultipartUpload>> {
        self.reach_parent(location)?;
        self.inner.put_multipart_opts(location, opts).await
    }

    async fn get_opts(
        &self,
        location: &Key,
        options: GetOptions,
    ) -> object_store::Result<GetResult> {
        self.reach(location)?;
        self.inner.get_opts(location, options).await
    }

    async fn get_ranges(
        &self,
        location: &Key,
        ranges: &[Range<u64>],
    ) -> object_store::Result<Vec<bytes::Bytes>> {
        self.reach(location)?;
        self.inner.get_ranges(location, ranges).await
    }

    fn delete_stream(
        &self,
        locations: BoxStream<'static, object_store::Result<Key>>,
    ) -> BoxStream<'static, object_store::Result<Key>> {
        let this = self.clone();
        let checked = locations
            .and_then(move |key| futures::future::ready(this.reach(&key).map(|()| key)))
            .boxed();
        // A delete may remove the directories it empties: lookups open them afresh.
        let root = self.root.clone();
        self.inner
            .delete_stream(checked)
            .inspect(move |_| root.forget_dirs())
            .boxed()
    }

    /// Every object under `prefix`, directory by directory (one delimiter listing each), so
    /// no link is ever walked into.
    fn list(&self, prefix: Option<&Key>) -> BoxStream<'static, object_store::Result<ObjectMeta>> {
        let start = prefix.cloned().unwrap_or_default();
        let state = (self.clone(), vec![start], std::collections::VecDeque::new());
        futures::stream::try_unfold(state, |(this, mut dirs, mut ready)| async move {
            loop {
                if let Some(meta) = ready.pop_front() {
                    return Ok(Some((meta, (this, dirs, ready))));
                }
                let Some(dir) = dirs.pop() else {
                    return Ok(None);
                };
                let listing = this.list_with_delimiter(Some(&dir)).await?;
                dirs.extend(listing.common_prefixes);
                ready.extend(listing.objects);
            }
        })
        .boxed()
    }

    async fn list_with_delimiter(&self, prefix: Option<&Key>) -> object_store::Result<ListResult> {
        let key = prefix.cloned().unwrap_or_default();
        if let Err(error) = self.root.check(key.as_ref()) {
            if !crosses_link(&error) {
                return Err(through_link(&key, error));
            }
            // A link names no directory: nothing is below it.
            return Ok(ListResult {
                common_prefixes: Vec::new(),
                objects: Vec::new(),
                extensions: Default::default(),
            });
        }
        let mut listing = self.inner.list_with_delimiter(prefix).await?;
        listing.common_prefixes.retain(|key| self.no_link(key));
        listing.objects.retain(|meta| self.no_link(&meta.location));
        Ok(listing)
    }

    async fn copy_opts(
        &self,
        from: &Key,
        to: &Key,
        options: CopyOptions,
    ) -> object_store::Result<()> {
        self.reach(from)?;
        self.reach_parent(to)?;
        self.inner.copy_opts(from, to, options).await
    }

    async fn rename_opts(
        &self,
        from: &Key,
        to: &Key,
        options: RenameOptions,
    ) -> object_store::Result<()> {
        self.reach(from)?;
        self.reach_parent(to)?;
        let renamed = self.inner.rename_opts(from, to, options).await;
        self.root.forget_dirs();
        renamed
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use object_store::ObjectStoreExt;
    use std::os::unix::fs::symlink;

    /// `root/` with `a/b/file`, `a/out -> outside/`, `a/out-file -> outside/secret`,
    /// `top -> /`; `outside/secret`.
    fn planted() -> (tempfile::TempDir, LocalRoot) {
        let base = tempfile::tempdir().unwrap();
        let (root, outside) = (base.path().join("root"), base.path().join("outside"));
        std::fs::create_dir_all(root.join("a/b")).unwrap();
        std::fs::create_dir_all(&outside).unwrap();
        std::fs::write(root.join("a/b/file"), "in").unwrap();
        std::fs::write(outside.join("secret"), "out").unwrap();
        symlink(&outside, root.join("a/out")).unwrap();
        symlink(outside.join("secret"), root.join("a/out-file")).unwrap();
        symlink("/", root.join("top")).unwrap();
        let opened = LocalRoot::open(&root).unwrap();
        (base, opened)
    }

    /// The two-call paths (open-and-fstat for reads, fstatat-and-unlink for removals) give
    /// a link, a pipe or a directory nothing: no file to read, nothing removed.
    #[test]
    fn reading_and_removing_in_one_step_touch_regular_files_only() {
        let (base, root) = planted();
        rustix::fs::mkfifoat(rustix::fs::CWD, base.path().join("root/a/pipe"), Mode::RUSR).unwrap();
        let (file, stat) = root.open_to_read("a/b/file").unwrap();
        assert_eq!(
            (file.is_some(), stat.kind, stat.size),
            (true, EntryKind::File, 2)
        );
        for (key, kind) in [("a/b", EntryKind::Dir), ("a/pipe", EntryKind::Other)] {
            let (file, stat) = root.open_to_read(key).unwrap();
            assert!(file.is_none() && stat.kind == kind, "{key}");
        }
        for key in ["a/out-file", "a/out/secret", "top"] {
            assert!(crosses_link(&root.open_to_read(key).unwrap_err()), "{key}");
        }
        assert_eq!(root.remove_if_file("a/out-file").unwrap(), EntryKind::Other);
        assert_eq!(root.remove_if_file("a/pipe").unwrap(), EntryKind::Other);
        assert_eq!(root.remove_if_file("a/b").unwrap(), EntryKind::Dir);
        assert!(crosses_link(
            &root.remove_if_file("a/out/secret").unwrap_err()
        ));
        let outside = base.path().join("outside/secret");
        assert!(outside.exists() && base.path().join("root/a/out-file").is_symlink());
        assert_eq!(root.remove_if_file("a/b/file").unwrap(), EntryKind::File);
        assert!(!base.path().join("root/a/b/file").exists());
        assert!(names_nothing(&root.remove_if_file("a/b/file").unwrap_err()));
    }

    /// Staging a file and renaming it into place go beneath the root step by step: a link
    /// on the way (planted before, or between the check and the write) is refused, and
    /// nothing outside is created or replaced.
    #[test]
    fn staged_files_are_made_and_renamed_beneath_the_root_only() {
        let (base, root) = planted();
        let outside = base.path().join("outside");
        let mut file = root.create_new_file("new/dirs/f#1").unwrap();
        std::io::Write::write_all(&mut file, b"staged").unwrap();
        assert!(
            root.create_new_file("new/dirs/f#1").is_err(),
            "an existing name"
        );
        root.rename_file("new/dirs/f#1", "moved/f").unwrap();
        root.sync_parent("moved/f").unwrap();
        let moved = root.path().join("moved/f");
        assert_eq!(std::fs::read_to_string(moved).unwrap(), "staged");
        for key in ["a/out/x#1", "top/tmp/x#1", "a/out-file"] {
            assert!(root.create_new_file(key).is_err(), "{key} was created");
        }
        assert!(root.rename_file("a/b/file", "a/out/secret").is_err());
        assert!(root.rename_file("a/out/secret", "a/b/stolen").is_err());
        assert!(root.open_parent("a/out/deeper/x").is_err());
        // A rename over the link replaces the link, not its target.
        root.create_new_file("a/b/new").unwrap();
        root.rename_file("a/b/new", "a/out-file").unwrap();
        assert_eq!(
            std::fs::read_to_string(outside.join("secret")).unwrap(),
            "out"
        );
        let names: Vec<_> = std::fs::read_dir(&outside).unwrap().collect();
        assert_eq!(names.len(), 1, "only the secret is outside");
    }

    /// The kernel's walk and the fallback one answer alike.
    #[test]
    fn no_link_is_followed_with_or_without_openat2() {
        let (_base, root) = planted();
        type Open = fn(&LocalRoot, &str, OFlags) -> io::Result<rustix::fd::OwnedFd>;
        let walking: Open =
            |root, key, flags| root.open_walking(&root.relative(key), flags | OFlags::CLOEXEC);
        for open in [LocalRoot::open_at as Open, walking] {
            for key in ["", "a", "a/b", "a/b/file"] {
                open(&root, key, OFlags::PATH).unwrap();
            }
            open(&root, "a/b/file", OFlags::RDONLY).unwrap();
            for key in [
                "a/out",
                "a/out/secret",
                "a/out-file",
                "top",
                "top/etc/passwd",
            ] {
                for flags in [OFlags::PATH, OFlags::RDONLY] {
                    let error = open(&root, key, flags).unwrap_err();
                    assert!(crosses_link(&error), "{key}: {error}");
                }
            }
            let missing = open(&root, "a/none/x", OFlags::PATH).unwrap_err();
            assert!(names_nothing(&missing) && !crosses_link(&missing));
        }
        assert!(root.check("a/out/new").is_err());
        assert!(root.check_parent("a/out/new").is_err());
        assert!(
            root.check_parent("a/out-file").is_ok(),
            "a write replaces the link"
        );
        assert!(root.check_parent("a/made/new").is_ok());
        assert!(root.open_file("a/out-file", false).is_err());
        assert!(root.remove_file("a/out-file").is_err());
        let mut names = Vec::new();
        root.for_each_entry("a", |name, kind| {
            names.push((name.to_str().unwrap().to_owned(), kind));
            true
        })
        .unwrap();
        names.sort_by(|x, y| x.0.cmp(&y.0));
        let expected = [
            ("b", EntryKind::Dir),
            ("out", EntryKind::Other),
            ("out-file", EntryKind::Other),
        ];
        let expected: Vec<_> = expected.iter().map(|(n, k)| (n.to_string(), *k)).collect();
        assert_eq!(names, expected);
        assert!(root.below("a").check("out").is_err());
    }

    /// A directory kept for lookups is the one that was opened: a link another process puts
    /// in its place is never followed, and the host's own changes are seen at once.
    #[test]
    fn kept_directories_never_lead_through_a_link() {
        let (base, root) = planted();
        let outside = base.path().join("outside");
        std::fs::write(outside.join("file"), "outside!").unwrap();
        assert_eq!(root.stat("a/b/file").unwrap().size, 2);
        std::fs::rename(root.host_path("a/b"), base.path().join("moved")).unwrap();
        symlink(&outside, root.host_path("a/b")).unwrap();
        assert_eq!(
            root.stat("a/b/file").unwrap().size,
            2,
            "the directory opened"
        );
        // A removal in the kept directory removes from the directory opened (where the
        // process that moved it put it), never through the link now in its place.
        assert_eq!(root.remove_if_file("a/b/file").unwrap(), EntryKind::File);
        assert!(!base.path().join("moved/file").exists());
        assert!(outside.join("file").exists());
        std::fs::write(base.path().join("moved/file"), "in").unwrap();
        root.forget_dirs();
        let error = root.stat("a/b/file").unwrap_err();
        assert!(crosses_link(&error), "{error}");
        assert!(crosses_link(&root.remove_if_file("a/b/file").unwrap_err()));
        assert!(outside.join("file").exists());
        for key in ["a/out", "a/out-file", "top"] {
            assert_eq!(root.stat(key).unwrap().kind, EntryKind::Other, "{key}");
        }

        // Files come and go in a kept directory as they do on disk; a directory the host
        // removes and makes again is the new one.
        let (_base, root) = planted();
        assert_eq!(root.stat("a/b/file").unwrap().kind, EntryKind::File);
        std::fs::remove_file(root.host_path("a/b/file")).unwrap();
        assert!(names_nothing(&root.stat("a/b/file").unwrap_err()));
        root.remove_dir("a/b").unwrap();
        std::fs::create_dir(root.host_path("a/b")).unwrap();
        std::fs::write(root.host_path("a/b/new"), "new").unwrap();
        assert_eq!(root.stat("a/b/new").unwrap().size, 3);
        assert!(root.remove_dir("a/out").is_err(), "a link is no directory");
    }

    #[test]
    fn publishing_writes_beneath_the_root_only() {
        let (base, root) = planted();
        let outside = base.path().join("outside");
        assert!(root.publish("a/out/planted", "s#1", b"x", false).is_err());
        assert!(root.publish("top/tmp/planted", "s#1", b"x", true).is_err());
        root.publish("a/out-file", "s#2", b"replaced", true)
            .unwrap();
        assert_eq!(
            std::fs::read_to_string(outside.join("secret")).unwrap(),
            "out"
        );
        assert_eq!(
            root.stat("a/out-file").unwrap().size,
            8,
            "the link replaced"
        );
        root.publish("a/new/deeper/file", "s#3", b"made", false)
            .unwrap();
        let made = std::fs::read_to_string(root.host_path("a/new/deeper/file")).unwrap();
        assert_eq!(made, "made");
        let mut names: Vec<_> = std::fs::read_dir(&outside)
            .unwrap()
            .map(|entry| entry.unwrap().file_name())
            .collect();
        names.sort();
        assert_eq!(names, ["secret"]);
        let file = root.open_file("a/new/deeper/file", false).unwrap();
        assert_eq!(LocalRoot::read_file_at(&file, 1, 100).unwrap(), b"ade");
        assert!(LocalRoot::read_file_at(&file, 9, 100).unwrap().is_empty());
    }

    #[tokio::test]
    async fn the_store_serves_nothing_through_a_link() {
        let (base, root) = planted();
        let store = BeneathStore::new(root).unwrap();
        let key = |text: &str| Key::parse(text).unwrap();
        let listed: Vec<String> = store
            .list(None)
            .map_ok(|meta| meta.location.to_string())
            .try_collect()
            .await
            .unwrap();
        assert_eq!(listed, ["a/b/file"]);
        let top = store.list_with_delimiter(None).await.unwrap();
        assert_eq!(top.common_prefixes, [key("a")]);
        for missing in ["a/out/secret", "a/out-file", "top/etc/passwd"] {
            let error = store.get(&key(missing)).await.unwrap_err();
            assert!(
                matches!(error, object_store::Error::NotFound { .. }),
                "{error}"
            );
            let error = store.delete(&key(missing)).await.unwrap_err();
            assert!(
                matches!(error, object_store::Error::NotFound { .. }),
                "{error}"
            );
        }
        let put = store.put(&key("a/out/planted"), "x".into()).await;
        assert!(matches!(put, Err(object_store::Error::NotFound { .. })));
        let copy = store.copy(&key("a/b/file"), &key("a/out/copied")).await;
        assert!(matches!(copy, Err(object_store::Error::NotFound { .. })));
        let outside = base.path().join("outside");
        let mut names: Vec<_> = std::fs::read_dir(&outside)
            .unwrap()
            .map(|entry| entry.unwrap().file_name())
            .collect();
        names.sort();
        assert_eq!(names, ["secret"]);
        assert_eq!(
            std::fs::read_to_string(outside.join("secret")).unwrap(),
            "out"
        );
        // What is really there works as before.
        assert_eq!(
            store
                .get(&key("a/b/file"))
                .await
                .unwrap()
                .bytes()
                .await
                .unwrap(),
            "in"
        );
        store.put(&key("a/c/new"), "new".into()).await.unwrap();
    }
}
