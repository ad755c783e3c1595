//! A std-like filesystem API over WASI 0.3 (`wasi:filesystem@0.3`), so the conformance
//! guest's std checks (`fs-conformance/src/*.rs`) build unchanged for p3: Rust std speaks only
//! WASI 0.2 and 0.1.
//!
//! It copies what Rust std and wasi-libc do over WASI 0.2, so the transcript is the same:
//! - a path is resolved against the preopens as wasi-libc does (`__wasilibc_find_abspath`:
//!   leading `/` ignored, the longest preopen name that is a whole-component prefix wins, the
//!   preopen `.` matches any path, the rest is passed on with its leading `/` removed, and
//!   nothing left means `.`); no preopen at all is `ENOENT`;
//! - `OpenOptions` become open-at flags as std and the preview1 layer make them (read → `read`,
//!   write or append → `write`, create, create_new = create + exclusive, truncate), always
//!   following symbolic links; a handle keeps its position, and an append handle writes at the
//!   end whatever its position;
//! - errors are `io::Error::from_raw_os_error(errno)` with the errno wasi-libc gives for the
//!   WASI error code, so `kind()` and the os code print as std's do;
//! - `create_dir_all` and `remove_dir_all` walk as std's do.
//!
//! Every WASI 0.3 call is async; [`wait`] runs one to completion with the bindings' blocking
//! executor, so the API stays synchronous like std's.

use std::ffi::OsString;
use std::future::{Future, IntoFuture};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use wasip3::clocks::system_clock::Instant;
use wasip3::filesystem::preopens::get_directories;
use wasip3::filesystem::types::{
    Descriptor, DescriptorFlags, DescriptorStat, DescriptorType, ErrorCode, NewTimestamp,
    OpenFlags, PathFlags,
};
use wasip3::wit_bindgen::StreamResult;
use wasip3::wit_stream;

/// Runs an async WASI 0.3 call to completion.
pub fn wait<T>(future: impl Future<Output = T>) -> T {
    wasip3::wit_bindgen::block_on(future)
}

/// The errno wasi-libc (`libc-bottom-half`, `errno` from a WASI `error-code`) gives for `code`,
/// as an `io::Error` std would build from it.
pub fn os_error(code: ErrorCode) -> io::Error {
    let errno = match code {
        ErrorCode::Access => 2,
        ErrorCode::Already => 7,
        ErrorCode::BadDescriptor => 8,
        ErrorCode::Busy => 10,
        ErrorCode::Deadlock => 16,
        ErrorCode::Quota => 19,
        ErrorCode::Exist => 20,
        ErrorCode::FileTooLarge => 22,
        ErrorCode::IllegalByteSequence => 25,
        ErrorCode::InProgress => 26,
        ErrorCode::Interrupted => 27,
        ErrorCode::Invalid => 28,
        ErrorCode::Io => 29,
        ErrorCode::IsDirectory => 31,
        ErrorCode::Loop => 32,
        ErrorCode::TooManyLinks => 34,
        ErrorCode::MessageSize => 35,
        ErrorCode::NameTooLong => 37,
        ErrorCode::NoDevice => 43,
        ErrorCode::NoEntry => 44,
        ErrorCode::NoLock => 46,
        ErrorCode::InsufficientMemory => 48,
        ErrorCode::InsufficientSpace => 51,
        ErrorCode::NotDirectory => 54,
        ErrorCode::NotEmpty => 55,
        ErrorCode::NotRecoverable => 56,
        ErrorCode::Unsupported => 58,
        ErrorCode::NoTty => 59,
        ErrorCode::NoSuchDevice => 60,
        ErrorCode::Overflow => 61,
        ErrorCode::NotPermitted => 63,
        ErrorCode::Pipe => 64,
        ErrorCode::ReadOnly => 69,
        ErrorCode::InvalidSeek => 70,
        ErrorCode::TextFileBusy => 74,
        ErrorCode::CrossDevice => 75,
        // 0.3's catch-all has no errno of its own; wasi-libc says EIO for what it cannot name.
        ErrorCode::Other(_) => 29,
    };
    io::Error::from_raw_os_error(errno)
}

const EINVAL: i32 = 28;

fn wasi<T>(result: Result<T, ErrorCode>) -> io::Result<T> {
    result.map_err(os_error)
}

thread_local! {
    /// The preopens with wasi-libc's names (`./` and a lone `.` stripped), listed once, as
    /// wasi-libc does at start-up. Leaked: they live as long as the program.
    static PREOPENS: &'static [(Descriptor, String)] = Box::leak(
        get_directories()
            .into_iter()
            .map(|(dir, name)| {
                let name = name.trim_start_matches('/');
                let name = name.strip_prefix("./").unwrap_or(name);
                let name = if name == "." { "" } else { name };
                (dir, name.to_owned())
            })
            .collect(),
    );
}

/// The preopen `path` is under and the path relative to it, as `__wasilibc_find_abspath`
/// finds them.
fn resolve(path: &Path) -> io::Result<(&'static Descriptor, String)> {
    let path = path
        .to_str()
        .ok_or_else(|| io::Error::from_raw_os_error(25))?;
    let path = path.trim_start_matches('/');
    let mut best: Option<&'static (Descriptor, String)> = None;
    // Later preopens win among names of the same length, as in wasi-libc's reverse walk.
    for preopen in PREOPENS.with(|p| *p).iter().rev() {
        let name = preopen.1.as_str();
        let longer = best.is_none_or(|(_, best)| name.len() > best.len());
        if longer && prefix_matches(name, path) {
            best = Some(preopen);
        }
    }
    let (dir, name) = best.ok_or_else(|| io::Error::from_raw_os_error(44))?;
    let rest = path[name.len()..].trim_start_matches('/');
    let rest = if rest.is_empty() { "." } else { rest };
    Ok((dir, rest.to_owned()))
}

/// Whether the preopen `name` is a whole-component prefix of `path` (the empty name is a
/// prefix of every relative path).
fn prefix_matches(name: &str, path: &str) -> bool {
    if name.is_empty() {
        return true;
    }
    if !path.starts_with(name) {
        return false;
    }
    let end = name.trim_end_matches('/').len();
    matches!(path.as_bytes().get(end), None | Some(b'/'))
}

/// Options for opening a file, as std's `OpenOptions`.
#[derive(Clone, Debug, Default)]
pub struct OpenOptions {
    read: bool,
    write: bool,
    append: bool,
    truncate: bool,
    create: bool,
    create_new: bool,
    directory: bool,
    follow: bool,
}

impl OpenOptions {
    pub fn new() -> Self {
        OpenOptions {
            follow: true,
            ..Self::default()
        }
    }

    pub fn read(&mut self, read: bool) -> &mut Self {
        self.read = read;
        self
    }

    pub fn write(&mut self, write: bool) -> &mut Self {
        self.write = write;
        self
    }

    pub fn append(&mut self, append: bool) -> &mut Self {
        self.append = append;
        self
    }

    pub fn truncate(&mut self, truncate: bool) -> &mut Self {
        self.truncate = truncate;
        self
    }

    pub fn create(&mut self, create: bool) -> &mut Self {
        self.create = create;
        self
    }

    pub fn create_new(&mut self, create_new: bool) -> &mut Self {
        self.create_new = create_new;
        self
    }

    pub fn open<P: AsRef<Path>>(&self, path: P) -> io::Result<File> {
        let (dir, relative) = resolve(path.as_ref())?;
        self.open_at(dir, relative)
    }

    fn open_at(&self, dir: &Descriptor, relative: String) -> io::Result<File> {
        let mut open = OpenFlags::empty();
        open.set(OpenFlags::CREATE, self.create || self.create_new);
        open.set(OpenFlags::EXCLUSIVE, self.create_new);
        open.set(OpenFlags::TRUNCATE, self.truncate);
        open.set(OpenFlags::DIRECTORY, self.directory);
        let mut flags = DescriptorFlags::empty();
        flags.set(DescriptorFlags::READ, self.read);
        flags.set(DescriptorFlags::WRITE, self.write || self.append);
        let path_flags = if self.follow {
            PathFlags::SYMLINK_FOLLOW
        } else {
            PathFlags::empty()
        };
        let descriptor = wasi(wait(dir.open_at(path_flags, relative, open, flags)))?;
        Ok(File {
            descriptor,
            position: 0,
            append: self.append,
        })
    }
}

/// An open file (or directory), with its own position, as std's `File`.
#[derive(Debug)]
pub struct File {
    descriptor: Descriptor,
    position: u64,
    append: bool,
}

impl File {
    pub fn open<P: AsRef<Path>>(path: P) -> io::Result<File> {
        OpenOptions::new().read(true).open(path)
    }

    pub fn create<P: AsRef<Path>>(path: P) -> io::Result<File> {
        OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(path)
    }

    pub fn create_new<P: AsRef<Path>>(path: P) -> io::Result<File> {
        OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(path)
    }

    pub fn options() -> OpenOptions {
        OpenOptions::new()
    }

    pub fn metadata(&self) -> io::Result<Metadata> {
        wasi(wait(self.descriptor.stat())).map(Metadata)
    }

    pub fn set_len(&self, size: u64) -> io::Result<()> {
        wasi(wait(self.descriptor.set_size(size)))
    }

    pub fn sync_all(&self) -> io::Result<()> {
        wasi(wait(self.descriptor.sync()))
    }

    pub fn sync_data(&self) -> io::Result<()> {
        wasi(wait(self.descriptor.sync_data()))
    }

    pub fn set_modified(&self, time: SystemTime) -> io::Result<()> {
        self.set_times(FileTimes::new().set_modified(time))
    }

    pub fn set_times(&self, times: FileTimes) -> io::Result<()> {
        let access = new_timestamp(times.accessed)?;
        let modification = new_timestamp(times.modified)?;
        wasi(wait(self.descriptor.set_times(access, modification)))
    }

    /// Reads up to `buf.len()` bytes at `offset`: one read stream, taken until the buffer is
    /// full or the file ends (where the stream's future says why it ended).
    pub fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
        wait(async {
            let (mut rx, result) = self.descriptor.read_via_stream(offset);
            let mut filled = 0;
            while filled < buf.len() {
                let (status, bytes) = rx.read(Vec::with_capacity(buf.len() - filled)).await;
                buf[filled..filled + bytes.len()].copy_from_slice(&bytes);
                filled += bytes.len();
                if !matches!(status, StreamResult::Complete(_)) {
                    break;
                }
            }
            if filled == buf.len() {
                // What was asked for arrived: the stream's end no longer matters.
                return Ok(filled);
            }
            drop(rx);
            match result.await {
                Err(code) if filled == 0 => Err(os_error(code)),
                _ => Ok(filled),
            }
        })
    }

    /// Writes all of `buf` at `offset` (at the end in append mode) through one write stream;
    /// the stream's future gives the error if the host refuses it.
    pub fn write_at(&self, buf: &[u8], offset: u64) -> io::Result<usize> {
        wait(async {
            let (mut tx, rx) = wit_stream::new();
            let written = if self.append {
                self.descriptor.append_via_stream(rx)
            } else {
                self.descriptor.write_via_stream(rx, offset)
            };
            let (result, left) = futures::join!(written.into_future(), async {
                let left = tx.write_all(buf.to_vec()).await;
                drop(tx);
                left
            });
            wasi(result)?;
            Ok(buf.len() - left.len())
        })
    }

    fn descriptor_type(&self) -> io::Result<DescriptorType> {
        wasi(wait(self.descriptor.get_type()))
    }
}

impl Read for File {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.read_at(buf, self.position)?;
        self.position += n as u64;
        Ok(n)
    }
}

impl Write for File {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.write_at(buf, self.position)?;
        self.position = if self.append {
            self.metadata()?.len()
        } else {
            self.position + n as u64
        };
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Seek for File {
    /// As the preview1 layer seeks: a position before the start is `EINVAL` and leaves the
    /// position where it was; past the end is allowed.
    fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
        let (base, delta) = match to {
            SeekFrom::Start(offset) => {
                let offset =
                    i64::try_from(offset).map_err(|_| io::Error::from_raw_os_error(EINVAL))?;
                (0, offset)
            }
            SeekFrom::Current(delta) => (self.position, delta),
            SeekFrom::End(delta) => (self.metadata()?.len(), delta),
        };
        let position = i64::try_from(base)
            .ok()
            .and_then(|base| base.checked_add(delta))
            .and_then(|position| u64::try_from(position).ok())
            .ok_or_else(|| io::Error::from_raw_os_error(EINVAL))?;
        self.position = position;
        Ok(position)
    }
}

/// Times to set on a file, as std's `FileTimes`.
#[derive(Clone, Copy, Debug, Default)]
pub struct FileTimes {
    accessed: Option<SystemTime>,
    modified: Option<SystemTime>,
}

impl FileTimes {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn set_accessed(mut self, time: SystemTime) -> Self {
        self.accessed = Some(time);
        self
    }

    pub fn set_modified(mut self, time: SystemTime) -> Self {
        self.modified = Some(time);
        self
    }
}

/// A time to set, or no change; a time std cannot give the host is `EINVAL`, as in std.
fn new_timestamp(time: Option<SystemTime>) -> io::Result<NewTimestamp> {
    let Some(time) = time else {
        return Ok(NewTimestamp::NoChange);
    };
    let since = time
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_err(|_| io::Error::from_raw_os_error(EINVAL))?;
    let seconds =
        i64::try_from(since.as_secs()).map_err(|_| io::Error::from_raw_os_error(EINVAL))?;
    Ok(NewTimestamp::Timestamp(Instant {
        seconds,
        nanoseconds: since.subsec_nanos(),
    }))
}

/// A time the host gave, as a `SystemTime` (none is the epoch, as the preview1 layer gives 0).
fn system_time(instant: Option<Instant>) -> SystemTime {
    let Some(Instant {
        seconds,
        nanoseconds,
    }) = instant
    else {
        return SystemTime::UNIX_EPOCH;
    };
    let nanos = Duration::from_nanos(u64::from(nanoseconds));
    match u64::try_from(seconds) {
        Ok(seconds) => SystemTime::UNIX_EPOCH + Duration::from_secs(seconds) + nanos,
        Err(_) => SystemTime::UNIX_EPOCH - Duration::from_secs(seconds.unsigned_abs()) + nanos,
    }
}

/// What a stat gives, as std's `Metadata`.
#[derive(Debug)]
pub struct Metadata(DescriptorStat);

impl Metadata {
    pub fn is_file(&self) -> bool {
        self.file_type().is_file()
    }

    pub fn is_dir(&self) -> bool {
        self.file_type().is_dir()
    }

    pub fn is_symlink(&self) -> bool {
        self.file_type().is_symlink()
    }

    pub fn file_type(&self) -> FileType {
        FileType(self.0.type_.clone())
    }

    pub fn len(&self) -> u64 {
        self.0.size
    }

    pub fn modified(&self) -> io::Result<SystemTime> {
        Ok(system_time(self.0.data_modification_timestamp))
    }
}

/// A descriptor type, as std's `FileType`.
#[derive(Debug)]
pub struct FileType(DescriptorType);

impl FileType {
    pub fn is_file(&self) -> bool {
        matches!(self.0, DescriptorType::RegularFile)
    }

    pub fn is_dir(&self) -> bool {
        matches!(self.0, DescriptorType::Directory)
    }

    pub fn is_symlink(&self) -> bool {
        matches!(self.0, DescriptorType::SymbolicLink)
    }
}

/// One entry of a directory listing, as std's `DirEntry`.
#[derive(Debug)]
pub struct DirEntry {
    name: String,
    kind: DescriptorType,
}

impl DirEntry {
    pub fn file_name(&self) -> OsString {
        OsString::from(&self.name)
    }

    pub fn file_type(&self) -> io::Result<FileType> {
        Ok(FileType(self.kind.clone()))
    }
}

/// A directory's entries (without `.` and `..`), read in full when it is opened; an error
/// that ends the listing is its last item, as std's iterator yields it.
pub type ReadDir = std::vec::IntoIter<io::Result<DirEntry>>;

pub fn read_dir<P: AsRef<Path>>(path: P) -> io::Result<ReadDir> {
    let dir = open_directory(path.as_ref(), true)?;
    Ok(entries(&dir.descriptor).into_iter())
}

/// Opens a directory for reading, following a final symbolic link or not.
fn open_directory(path: &Path, follow: bool) -> io::Result<File> {
    let mut options = OpenOptions::new();
    options.read(true);
    options.directory = true;
    options.follow = follow;
    options.open(path)
}

fn entries(dir: &Descriptor) -> Vec<io::Result<DirEntry>> {
    wait(async {
        let (mut rx, result) = dir.read_directory();
        let mut entries = Vec::new();
        while let Some(entry) = rx.next().await {
            if entry.name != "." && entry.name != ".." {
                entries.push(Ok(DirEntry {
                    name: entry.name,
                    kind: entry.type_,
                }));
            }
        }
        if let Err(code) = result.await {
            entries.push(Err(os_error(code)));
        }
        entries
    })
}

pub fn metadata<P: AsRef<Path>>(path: P) -> io::Result<Metadata> {
    let (dir, relative) = resolve(path.as_ref())?;
    wasi(wait(dir.stat_at(PathFlags::SYMLINK_FOLLOW, relative))).map(Metadata)
}

pub fn symlink_metadata<P: AsRef<Path>>(path: P) -> io::Result<Metadata> {
    let (dir, relative) = resolve(path.as_ref())?;
    wasi(wait(dir.stat_at(PathFlags::empty(), relative))).map(Metadata)
}

pub fn create_dir<P: AsRef<Path>>(path: P) -> io::Result<()> {
    let (dir, relative) = resolve(path.as_ref())?;
    wasi(wait(dir.create_directory_at(relative)))
}

/// std's walk: make the directory; if its parent is missing, make the parents first and try
/// again; an existing directory is success.
pub fn create_dir_all<P: AsRef<Path>>(path: P) -> io::Result<()> {
    let path = path.as_ref();
    if path.as_os_str().is_empty() {
        return Ok(());
    }
    match create_dir(path) {
        Ok(()) => return Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(_) if is_dir(path) => return Ok(()),
        Err(e) => return Err(e),
    }
    match path.parent() {
        Some(parent) => create_dir_all(parent)?,
        None => return Err(io::Error::other("failed to create whole tree")),
    }
    match create_dir(path) {
        Ok(()) => Ok(()),
        Err(_) if is_dir(path) => Ok(()),
        Err(e) => Err(e),
    }
}

fn is_dir(path: &Path) -> bool {
    metadata(path).is_ok_and(|meta| meta.is_dir())
}

pub fn remove_dir<P: AsRef<Path>>(path: P) -> io::Result<()> {
    let (dir, relative) = resolve(path.as_ref())?;
    wasi(wait(dir.remove_directory_at(relative)))
}

pub fn remove_file<P: AsRef<Path>>(path: P) -> io::Result<()> {
    let (dir, relative) = resolve(path.as_ref())?;
    wasi(wait(dir.unlink_file_at(relative)))
}

/// std's walk on WASI: open the directory without following a link, remove each entry
/// (directories depth first, anything else unlinked; an entry already gone is no error), then
/// the directory itself.
pub fn remove_dir_all<P: AsRef<Path>>(path: P) -> io::Result<()> {
    let (parent, relative) = resolve(path.as_ref())?;
    remove_dir_all_at(parent, relative)
}

fn remove_dir_all_at(parent: &Descriptor, relative: String) -> io::Result<()> {
    let mut options = OpenOptions::new();
    options.read(true);
    options.directory = true;
    options.follow = false;
    let dir = options.open_at(parent, relative.clone())?;
    if matches!(dir.descriptor_type()?, DescriptorType::SymbolicLink) {
        return Err(io::Error::from_raw_os_error(54));
    }
    for entry in entries(&dir.descriptor) {
        let entry = entry?;
        let removed = if entry.file_type()?.is_dir() {
            remove_dir_all_at(&dir.descriptor, entry.name)
        } else {
            wasi(wait(dir.descriptor.unlink_file_at(entry.name)))
        };
        match removed {
            Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
            _ => {}
        }
    }
    match wasi(wait(parent.remove_directory_at(relative))) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        removed => removed,
    }
}

pub fn rename<P: AsRef<Path>, Q: AsRef<Path>>(from: P, to: Q) -> io::Result<()> {
    let (from_dir, from) = resolve(from.as_ref())?;
    let (to_dir, to) = resolve(to.as_ref())?;
    wasi(wait(from_dir.rename_at(from, to_dir, to)))
}

pub fn hard_link<P: AsRef<Path>, Q: AsRef<Path>>(original: P, link: Q) -> io::Result<()> {
    let (from_dir, from) = resolve(original.as_ref())?;
    let (to_dir, to) = resolve(link.as_ref())?;
    wasi(wait(from_dir.link_at(PathFlags::empty(), from, to_dir, to)))
}

pub fn read_link<P: AsRef<Path>>(path: P) -> io::Result<PathBuf> {
    let (dir, relative) = resolve(path.as_ref())?;
    wasi(wait(dir.readlink_at(relative))).map(PathBuf::from)
}

/// Makes a symbolic link at `link` holding `target` (wasi-libc's `symlink`).
pub fn symlink(target: &str, link: &Path) -> io::Result<()> {
    let (dir, relative) = resolve(link)?;
    wasi(wait(dir.symlink_at(target.to_owned(), relative)))
}

pub fn write<P: AsRef<Path>, C: AsRef<[u8]>>(path: P, contents: C) -> io::Result<()> {
    File::create(path)?.write_all(contents.as_ref())
}
