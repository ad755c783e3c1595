//! wasip1 over the cloud filesystem: wasmtime-wasi's own p1 (`wasmtime_wasi::p1`) for
//! everything, with the calls that reach a filesystem descriptor served here from the core
//! ([`crate::fs`]).
//!
//! wasmtime's p1 owns descriptors 0–2 (it is given no preopens); this layer owns the mounts'
//! roots (3 and up, in mount order, as wasmtime numbers preopens) and whatever the guest
//! opens from them. [`CloudP1`] implements wiggle's `WasiSnapshotPreview1` trait, so wiggle's
//! own glue decodes and bounds-checks every argument; each filesystem call serves a
//! descriptor of ours and hands any other to wasmtime's implementation unchanged. Every rule
//! is wasmtime's p1 (`wasmtime-wasi-48.0.8/src/p1.rs`: rights, fdflags, `fd_readdir` cookies
//! and entry layout, errno choices), over our `wasi:filesystem@0.2` host ([`crate::p2`]),
//! exactly as wasmtime's p1 sits on its own p2 filesystem. Guest memory is only ever reached
//! through wiggle, and the bytes one call copies are capped by the store's hostcall fuel, as
//! in wasmtime (reads and writes use the first non-empty buffer only).

use std::collections::{BTreeMap, BTreeSet};

use wasmtime::component::{Resource, ResourceTable};
use wasmtime_wasi::p1::WasiP1Ctx;
use wasmtime_wasi::p1::types;
use wasmtime_wasi::p1::wasi_snapshot_preview1::{self as p1, WasiSnapshotPreview1};
use wiggle::{GuestMemory, GuestPtr, GuestType};

use crate::p2::bindings::wasi::clocks::wall_clock::Datetime;
use crate::p2::bindings::wasi::filesystem::types::{
    DescriptorFlags, DescriptorStat, DescriptorType, HostDescriptor, HostDirectoryEntryStream,
    NewTimestamp, OpenFlags, PathFlags,
};
use crate::p2::descriptor::Descriptor;
use crate::{CloudFsCtx, CloudFsView, FsError, fs};

type Result<T, E = types::Error> = std::result::Result<T, E>;

/// A descriptor this layer serves.
enum Fd {
    Dir {
        fd: Resource<Descriptor>,
        /// Where the guest sees a mount's root; `None` for a directory it opened.
        preopen: Option<String>,
    },
    File {
        fd: Resource<Descriptor>,
        position: u64,
        append: bool,
        /// Only reported back (`fd_fdstat_get`): files never block, as in wasmtime.
        nonblocking: bool,
    },
}

impl Fd {
    fn any(&self) -> Resource<Descriptor> {
        match self {
            Fd::Dir { fd, .. } | Fd::File { fd, .. } => borrowed(fd),
        }
    }

    /// The file: `EBADF` for a directory, as wasmtime's `get_file_fd`.
    fn file(&self) -> Result<Resource<Descriptor>> {
        match self {
            Fd::File { fd, .. } => Ok(borrowed(fd)),
            Fd::Dir { .. } => Err(types::Errno::Badf.into()),
        }
    }

    /// The directory: `EBADF` for a file, as wasmtime's `get_dir_fd`.
    fn dir(&self) -> Result<Resource<Descriptor>> {
        match self {
            Fd::Dir { fd, .. } => Ok(borrowed(fd)),
            Fd::File { .. } => Err(types::Errno::Badf.into()),
        }
    }
}

fn borrowed(fd: &Resource<Descriptor>) -> Resource<Descriptor> {
    Resource::new_borrow(fd.rep())
}

/// The descriptors of one run's p1 guest that this layer serves, and its share of the
/// descriptor numbers.
pub struct P1Files {
    /// Our `wasi:filesystem@0.2` descriptors (and a directory listing while `fd_readdir`
    /// runs), capped like every other handle table of the run.
    table: ResourceTable,
    fds: BTreeMap<u32, Fd>,
    /// The numbers wasmtime's p1 holds (its stdio, wherever the guest moved it).
    theirs: BTreeSet<u32>,
    /// Numbers closed and free again: the next open takes the highest, as wasmtime's does.
    free: BTreeSet<u32>,
    /// What the current call may copy out of or into guest memory (wasmtime's hostcall fuel).
    fuel: usize,
    /// The listing the last `fd_readdir` stopped in, to go on from.
    readdir: Option<ReaddirCursor>,
}

/// Where a directory listing stopped: the directory's number, the listing, the index of the
/// listing's next entry (an entry's index is its cookie, `.` and `..` being 0 and 1), and the
/// entry the last call cut short, with its index, already taken from the listing.
struct ReaddirCursor {
    fd: u32,
    stream: Resource<crate::p2::descriptor::DirectoryEntryStream>,
    next: usize,
    pending: Option<(usize, (u64, types::Filetype, String))>,
}

impl ReaddirCursor {
    /// The cookie a call must ask for to go on from here.
    fn resumes_at(&self) -> usize {
        self.pending.as_ref().map_or(self.next, |(index, _)| *index)
    }
}

impl P1Files {
    /// The mounts of `ctx` as preopens 3, 4, ... in mount order, with room for `handles`
    /// descriptors.
    pub fn new(ctx: &CloudFsCtx, handles: u64) -> wasmtime::Result<P1Files> {
        let mut table = ResourceTable::new();
        table.set_max_capacity(usize::try_from(handles).unwrap_or(usize::MAX));
        let mut fds = BTreeMap::new();
        for ((root, guest), number) in ctx.preopens().zip(3u32..) {
            let fd = table.push(Descriptor::dir(root))?;
            let preopen = Some(guest.to_owned());
            fds.insert(number, Fd::Dir { fd, preopen });
        }
        Ok(P1Files {
            table,
            fds,
            theirs: (0..3).collect(),
            free: BTreeSet::new(),
            fuel: 0,
            readdir: None,
        })
    }

    /// A number for a new descriptor, as wasmtime's p1 picks one: the highest freed, else one
    /// past the highest in use.
    fn push(&mut self, fd: Fd) -> Result<u32> {
        let number = match self.free.pop_last() {
            Some(number) => number,
            None => {
                let last = self.fds.keys().chain(&self.theirs).max().copied();
                match last {
                    None => 0,
                    Some(last) => last.checked_add(1).ok_or(types::Errno::Mfile)?,
                }
            }
        };
        self.fds.insert(number, fd);
        Ok(number)
    }

    fn consume_fuel(&mut self, bytes: usize) -> Result<()> {
        if bytes > self.fuel {
            return Err(types::Errno::Nomem.into());
        }
        self.fuel -= bytes;
        Ok(())
    }

    fn consume_fuel_for_array<T>(&mut self, array: GuestPtr<[T]>) -> Result<()> {
        let bytes = usize::try_from(array.len())?
            .checked_mul(size_of::<T>())
            .ok_or(types::Errno::Overflow)?;
        self.consume_fuel(bytes)
    }

    /// The first non-empty buffer of `iovs` (an empty one if none), charged to the fuel.
    fn first_non_empty<I: GuestType>(
        &mut self,
        memory: &GuestMemory<'_>,
        iovs: GuestPtr<[I]>,
        buffer: impl Fn(I) -> (GuestPtr<u8>, u32),
    ) -> Result<GuestPtr<[u8]>> {
        self.consume_fuel_for_array(iovs)?;
        for iov in iovs.iter() {
            let (buf, len) = buffer(memory.read(iov?)?);
            if len == 0 {
                continue;
            }
            let array = buf.as_array(len);
            self.consume_fuel_for_array(array)?;
            return Ok(array);
        }
        Ok(GuestPtr::new((0, 0)))
    }

    fn read_string(&mut self, memory: &GuestMemory<'_>, ptr: GuestPtr<str>) -> Result<String> {
        self.consume_fuel(usize::try_from(ptr.len())?)?;
        Ok(memory.as_cow_str(ptr)?.into_owned())
    }
}

/// One p1 call's view of the run: wasmtime's p1 context, our descriptors, and the cloud
/// filesystem they live in.
pub struct CloudP1<'a> {
    pub wasi: &'a mut WasiP1Ctx,
    pub files: &'a mut P1Files,
    pub fs: &'a mut CloudFsCtx,
}

/// A store state that runs p1 modules over the cloud filesystem.
pub trait CloudP1State: Send + 'static {
    fn cloud_p1(&mut self) -> CloudP1<'_>;
}

impl From<FsError> for types::Error {
    fn from(error: FsError) -> types::Error {
        match error {
            FsError::Code(code) => errno(code).into(),
            FsError::Trap(error) => types::Error::trap(error),
        }
    }
}

/// The core's error code as p1's errno, as wasmtime maps `wasi:filesystem`'s.
fn errno(code: fs::ErrorCode) -> types::Errno {
    use fs::ErrorCode as C;
    use types::Errno as E;
    match code {
        C::Access => E::Acces,
        C::WouldBlock => E::Again,
        C::Already => E::Already,
        C::BadDescriptor => E::Badf,
        C::Busy => E::Busy,
        C::Deadlock => E::Deadlk,
        C::Quota => E::Dquot,
        C::Exist => E::Exist,
        C::FileTooLarge => E::Fbig,
        C::IllegalByteSequence => E::Ilseq,
        C::InProgress => E::Inprogress,
        C::Interrupted => E::Intr,
        C::Invalid => E::Inval,
        C::Io => E::Io,
        C::IsDirectory => E::Isdir,
        C::Loop => E::Loop,
        C::TooManyLinks => E::Mlink,
        C::MessageSize => E::Msgsize,
        C::NameTooLong => E::Nametoolong,
        C::NoDevice => E::Nodev,
        C::NoEntry => E::Noent,
        C::NoLock => E::Nolck,
        C::InsufficientMemory => E::Nomem,
        C::InsufficientSpace => E::Nospc,
        C::Unsupported => E::Notsup,
        C::NotDirectory => E::Notdir,
        C::NotEmpty => E::Notempty,
        C::NotRecoverable => E::Notrecoverable,
        C::NoTty => E::Notty,
        C::NoSuchDevice => E::Nxio,
        C::Overflow => E::Overflow,
        C::NotPermitted => E::Perm,
        C::Pipe => E::Pipe,
        C::ReadOnly => E::Rofs,
        C::InvalidSeek => E::Spipe,
        C::TextFileBusy => E::Txtbsy,
        C::CrossDevice => E::Xdev,
    }
}

fn systimespec(set: bool, ts: types::Timestamp, now: bool) -> Result<NewTimestamp> {
    if set && now {
        Err(types::Errno::Inval.into())
    } else if set {
        Ok(NewTimestamp::Timestamp(Datetime {
            seconds: ts / 1_000_000_000,
            nanoseconds: (ts % 1_000_000_000) as u32,
        }))
    } else if now {
        Ok(NewTimestamp::Now)
    } else {
        Ok(NewTimestamp::NoChange)
    }
}

fn timestamp(time: Option<Datetime>) -> Result<types::Timestamp> {
    let Some(Datetime {
        seconds,
        nanoseconds,
    }) = time
    else {
        return Ok(0);
    };
    Ok(seconds
        .checked_mul(1_000_000_000)
        .and_then(|ns| ns.checked_add(nanoseconds.into()))
        .ok_or(types::Errno::Overflow)?)
}

fn filetype(kind: DescriptorType) -> types::Filetype {
    match kind {
        DescriptorType::Directory => types::Filetype::Directory,
        DescriptorType::RegularFile => types::Filetype::RegularFile,
        DescriptorType::SymbolicLink => types::Filetype::SymbolicLink,
        DescriptorType::BlockDevice => types::Filetype::BlockDevice,
        DescriptorType::CharacterDevice => types::Filetype::CharacterDevice,
        DescriptorType::Socket => types::Filetype::SocketStream,
        DescriptorType::Fifo | DescriptorType::Unknown => types::Filetype::Unknown,
    }
}

fn filestat(stat: DescriptorStat, ino: u64) -> Result<types::Filestat> {
    Ok(types::Filestat {
        dev: 1,
        ino,
        filetype: filetype(stat.type_),
        nlink: stat.link_count,
        size: stat.size,
        atim: timestamp(stat.data_access_timestamp)?,
        mtim: timestamp(stat.data_modification_timestamp)?,
        ctim: timestamp(stat.status_change_timestamp)?,
    })
}

fn path_flags(flags: types::Lookupflags) -> PathFlags {
    if flags.contains(types::Lookupflags::SYMLINK_FOLLOW) {
        PathFlags::SYMLINK_FOLLOW
    } else {
        PathFlags::empty()
    }
}

fn write_bytes(
    memory: &mut GuestMemory<'_>,
    ptr: GuestPtr<u8>,
    buf: &[u8],
) -> Result<GuestPtr<u8>> {
    let len = u32::try_from(buf.len())?;
    memory.copy_from_slice(buf, ptr.as_array(len))?;
    Ok(ptr.add(len)?)
}

/// Where a write goes: at the descriptor's position (`fd_write`) or at an offset (`fd_pwrite`).
#[derive(Clone, Copy)]
enum At {
    Position,
    Offset(u64),
}

impl<'a> CloudP1<'a> {
    fn fs(&mut self) -> CloudFsView<'_> {
        CloudFsView {
            ctx: self.fs,
            table: &mut self.files.table,
        }
    }

    fn ours(&self, fd: types::Fd) -> Option<&Fd> {
        self.files.fds.get(&u32::from(fd))
    }

    /// Our descriptor `fd` after a successful call of wasmtime's own `fd_close` or
    /// `fd_renumber` moved numbers in its table.
    fn closed_theirs(&mut self, fd: u32) {
        self.files.theirs.remove(&fd);
        self.files.free.insert(fd);
    }

    async fn close_ours(&mut self, number: u32) -> Result<()> {
        let fd = self.files.fds.remove(&number).ok_or(types::Errno::Badf)?;
        self.files.free.insert(number);
        self.forget_listing(number)?;
        let (Fd::Dir { fd, .. } | Fd::File { fd, .. }) = fd;
        // Closing a file commits it; a commit that fails stops the run (as in p2).
        HostDescriptor::drop(&mut self.fs(), fd)
            .await
            .map_err(types::Error::trap)
    }

    /// Drops the listing kept for directory `number`, which is closed or moved.
    fn forget_listing(&mut self, number: u32) -> Result<()> {
        match self.files.readdir.take() {
            Some(cursor) if cursor.fd == number => self.drop_listing(cursor),
            other => {
                self.files.readdir = other;
                Ok(())
            }
        }
    }

    async fn write_ours(
        &mut self,
        memory: &mut GuestMemory<'_>,
        fd: types::Fd,
        ciovs: types::CiovecArray,
        at: At,
    ) -> Result<types::Size> {
        let buf = self
            .files
            .first_non_empty(memory, ciovs, |iov: types::Ciovec| (iov.buf, iov.buf_len))?;
        let Some(Fd::File {
            fd: file,
            position,
            append,
            ..
        }) = self.ours(fd)
        else {
            return Err(types::Errno::Badf.into());
        };
        let (file, position, append) = (borrowed(file), *position, *append);
        let bytes = memory.to_vec(buf)?;
        // Linux's `pwrite` on an `O_APPEND` file appends too, as wasmtime does.
        let offset = match (append, at) {
            (true, _) => self.fs().stat(borrowed(&file)).await?.size,
            (false, At::Offset(offset)) => offset,
            (false, At::Position) => position,
        };
        let written = self.fs().write(borrowed(&file), bytes, offset).await?;
        if let At::Position = at {
            let end = offset.checked_add(written).ok_or(types::Errno::Overflow)?;
            if let Some(Fd::File { position, .. }) = self.files.fds.get_mut(&u32::from(fd)) {
                *position = end;
            }
        }
        Ok(written.try_into()?)
    }

    /// Reads into the first non-empty buffer of `iovs` at `offset` (the position when `None`).
    async fn read_ours(
        &mut self,
        memory: &mut GuestMemory<'_>,
        fd: types::Fd,
        iovs: types::IovecArray,
        offset: Option<u64>,
    ) -> Result<types::Size> {
        let buf = self
            .files
            .first_non_empty(memory, iovs, |iov: types::Iovec| (iov.buf, iov.buf_len))?;
        let Some(Fd::File {
            fd: file, position, ..
        }) = self.ours(fd)
        else {
            return Err(types::Errno::Badf.into());
        };
        let (file, at) = (borrowed(file), offset.unwrap_or(*position));
        let (bytes, _) = self.fs().read(file, buf.len().into(), at).await?;
        let read = u32::try_from(bytes.len())?;
        let into = buf.get_range(0..read).ok_or(types::Errno::Range)?;
        memory.copy_from_slice(&bytes, into)?;
        if offset.is_none() {
            let end = at.checked_add(read.into()).ok_or(types::Errno::Overflow)?;
            if let Some(Fd::File { position, .. }) = self.files.fds.get_mut(&u32::from(fd)) {
                *position = end;
            }
        }
        Ok(read)
    }

    /// The directories behind two descriptors of ours (`EBADF` if either is not one).
    fn two_dirs(
        &self,
        a: types::Fd,
        b: types::Fd,
    ) -> Result<(Resource<Descriptor>, Resource<Descriptor>)> {
        let dir = |fd| {
            self.ours(fd)
                .ok_or(types::Error::from(types::Errno::Badf))?
                .dir()
        };
        Ok((dir(a)?, dir(b)?))
    }

    /// `fd_readdir` on our directory `number`. Entries are laid out as wasmtime lays them out:
    /// `.` and `..` first, then the listing, the last entry cut at the end of the buffer.
    /// Where wasmtime lists the directory again at every call and skips to the cookie, the
    /// listing here is kept between calls while the guest reads on from where the last call
    /// stopped (one pass over an object store's pages, not one per call); any other cookie
    /// lists afresh and skips entries before it without looking at them. A call reads the
    /// listing no further than its buffer reaches.
    async fn readdir_ours(
        &mut self,
        memory: &mut GuestMemory<'_>,
        number: u32,
        dir: Resource<Descriptor>,
        buf: GuestPtr<u8>,
        buf_len: types::Size,
        cookie: types::Dircookie,
    ) -> Result<types::Size> {
        let cookie = usize::try_from(cookie).map_err(|_| types::Errno::Overflow)?;
        let dir_ino = self.fs().metadata_hash(borrowed(&dir))?.lower;
        let mut cursor = match self.files.readdir.take() {
            Some(cursor) if cursor.fd == number && cursor.resumes_at() == cookie => cursor,
            stale => {
                if let Some(stale) = stale {
                    self.drop_listing(stale)?;
                }
                let stream = self.fs().read_directory(borrowed(&dir)).await?;
                ReaddirCursor {
                    fd: number,
                    stream,
                    next: 2,
                    pending: None,
                }
            }
        };
        let filled = self
            .fill_dirents(memory, &dir, dir_ino, &mut cursor, buf, buf_len, cookie)
            .await;
        match filled {
            // A full buffer: the guest may go on from here.
            Ok(written) if written == buf_len && buf_len > 0 => {
                self.files.readdir = Some(cursor);
                Ok(written)
            }
            Ok(written) => {
                self.drop_listing(cursor)?;
                Ok(written)
            }
            Err(error) => {
                self.drop_listing(cursor)?;
                Err(error)
            }
        }
    }

    /// Writes entries from `cookie` on into the guest's buffer, from `cursor`'s listing.
    #[allow(clippy::too_many_arguments)]
    async fn fill_dirents(
        &mut self,
        memory: &mut GuestMemory<'_>,
        dir: &Resource<Descriptor>,
        dir_ino: u64,
        cursor: &mut ReaddirCursor,
        mut buf: GuestPtr<u8>,
        buf_len: types::Size,
        cookie: usize,
    ) -> Result<types::Size> {
        let mut cap = buf_len;
        let mut index = cookie;
        loop {
            let (d_ino, d_type, name) = match index {
                0 => (dir_ino, types::Filetype::Directory, ".".to_owned()),
                // wasmtime gives `..` the directory's own inode too.
                1 => (dir_ino, types::Filetype::Directory, "..".to_owned()),
                _ => match cursor.pending.take() {
                    Some((_, entry)) => entry,
                    None => {
                        let stream = Resource::new_borrow(cursor.stream.rep());
                        let Some(entry) = self.fs().read_directory_entry(stream).await? else {
                            return Ok(buf_len - cap);
                        };
                        cursor.next += 1;
                        if cursor.next <= cookie {
                            continue;
                        }
                        let ino = self
                            .fs()
                            .metadata_hash_at(borrowed(dir), PathFlags::empty(), entry.name.clone())
                            .await?
                            .lower;
                        (ino, filetype(entry.type_), entry.name)
                    }
                },
            };
            let d_next = u64::try_from(index + 1)?;
            let d_namlen = u32::try_from(name.len()).map_err(|_| types::Errno::Overflow)?;
            let mut dirent = vec![0; types::Dirent::guest_size() as usize];
            dirent[0..8].copy_from_slice(&d_next.to_le_bytes());
            dirent[8..16].copy_from_slice(&d_ino.to_le_bytes());
            dirent[16..20].copy_from_slice(&d_namlen.to_le_bytes());
            dirent[20] = d_type as u8;
            let entry_len = cap.min(types::Dirent::guest_size());
            let name_len = u32::try_from(name.len())
                .unwrap_or(u32::MAX)
                .min(cap - entry_len);
            let whole = entry_len == types::Dirent::guest_size() && name_len as usize == name.len();
            cap -= entry_len;
            buf = write_bytes(memory, buf, &dirent[..entry_len as usize])?;
            buf = write_bytes(memory, buf, &name.as_bytes()[..name_len as usize])?;
            cap -= name_len;
            index += 1;
            if cap == 0 {
                // The guest asks next for the entry cut here (its cookie is this one's index),
                // or for the one after it, the listing's next, if it fit exactly.
                if !whole && index > 2 {
                    cursor.pending = Some((index - 1, (d_ino, d_type, name)));
                }
                return Ok(buf_len);
            }
        }
    }

    fn drop_listing(&mut self, cursor: ReaddirCursor) -> Result<()> {
        HostDirectoryEntryStream::drop(&mut self.fs(), cursor.stream).map_err(types::Error::trap)
    }

    /// `poll_oneoff` when a subscription names one of our descriptors: files are always
    /// ready (as wasmtime's are), so the call returns at once with their events. What the
    /// other subscriptions wait for is not reported by this call.
    fn poll_ours(
        &mut self,
        memory: &mut GuestMemory<'_>,
        subs: GuestPtr<[types::Subscription]>,
        events: GuestPtr<[types::Event]>,
        sizes: &BTreeMap<u32, (u64, u64)>,
    ) -> Result<types::Size> {
        let mut count: types::Size = 0;
        let mut events = events.iter();
        for sub in subs.iter() {
            let sub = memory.read(sub?)?;
            let (type_, fd) = match sub.u {
                types::SubscriptionU::FdRead(s) => (types::Eventtype::FdRead, s.file_descriptor),
                types::SubscriptionU::FdWrite(s) => (types::Eventtype::FdWrite, s.file_descriptor),
                types::SubscriptionU::Clock(_) => continue,
            };
            let Some(&(size, position)) = sizes.get(&u32::from(fd)) else {
                continue;
            };
            let hangup = type_ == types::Eventtype::FdRead && size <= position;
            let event = types::Event {
                userdata: sub.userdata,
                error: types::Errno::Success,
                type_,
                fd_readwrite: types::EventFdReadwrite {
                    flags: if hangup {
                        types::Eventrwflags::FD_READWRITE_HANGUP
                    } else {
                        types::Eventrwflags::empty()
                    },
                    nbytes: 1,
                },
            };
            let slot = events.next().ok_or(types::Errno::Overflow)??;
            memory.write(slot, event)?;
            count += 1;
        }
        Ok(count)
    }
}

impl WasiSnapshotPreview1 for CloudP1<'_> {
    fn set_hostcall_fuel(&mut self, fuel: usize) {
        self.files.fuel = fuel;
        self.wasi.set_hostcall_fuel(fuel);
    }

    fn args_get(
        &mut self,
        memory: &mut GuestMemory<'_>,
        argv: GuestPtr<GuestPtr<u8>>,
        argv_buf: GuestPtr<u8>,
    ) -> Result<()> {
        self.wasi.args_get(memory, argv, argv_buf)
    }

    fn args_sizes_get(
        &mut self,
        memory: &mut GuestMemory<'_>,
    ) -> Result<(types::Size, types::Size)> {
        self.wasi.args_sizes_get(memory)
    }

    fn environ_get(
        &mut self,
        memory: &mut GuestMemory<'_>,
        environ: GuestPtr<GuestPtr<u8>>,
        environ_buf: GuestPtr<u8>,
    ) -> Result<()> {
        self.wasi.environ_get(memory, environ, environ_buf)
    }

    fn environ_sizes_get(
        &mut self,
        memory: &mut GuestMemory<'_>,
    ) -> Result<(types::Size, types::Size)> {
        self.wasi.environ_sizes_get(memory)
    }

    fn clock_res_get(
        &mut self,
        memory: &mut GuestMemory<'_>,
        id: types::Clockid,
    ) -> Result<types::Timestamp> {
        self.wasi.clock_res_get(memory, id)
    }

    fn clock_time_get(
        &mut self,
        memory: &mut GuestMemory<'_>,
        id: types::Clockid,
        precision: types::Timestamp,
    ) -> Result<types::Timestamp> {
        self.wasi.clock_time_get(memory, id, precision)
    }

    async fn fd_advise(
        &mut self,
        memory: &mut GuestMemory<'_>,
        fd: types::Fd,
        offset: types::Filesize,
        len: types::Filesize,
        advice: types::Advice,
    ) -> Result<()> {
        match self.ours(fd) {
            // Advice changes nothing in an object store; only the descriptor is checked.
            Some(ours) => ours.file().map(drop),
            None => self.wasi.fd_advise(memory, fd, offset, len, advice).await,
        }
    }

    fn fd_allocate(
        &mut self,
        memory: &mut GuestMemory<'_>,
        fd: types::Fd,
        offset: types::Filesize,
        len: types::Filesize,
    ) -> Result<()> {
        match self.ours(fd) {
            Some(ours) => {
                ours.file()?;
                Err(types::Errno::Notsup.into())
            }
            None => self.wasi.fd_allocate(memory, fd, offset, len),
        }
    }

    async fn fd_close(&mut self, memory: &mut GuestMemory<'_>, fd: types::Fd) -> Result<()> {
        if self.ours(fd).is_some() {
            return self.close_ours(fd.into()).await;
        }
        self.wasi.fd_close(memory, fd).await?;
        self.closed_theirs(fd.into());
        Ok(())
    }

    async fn fd_datasync(&mut self, memory: &mut GuestMemory<'_>, fd: types::Fd) -> Result<()> {
        match self.ours(fd) {
            Some(ours) => {
                let file = ours.file()?;
                Ok(self.fs().sync_data(file).await?)
            }
            None => self.wasi.fd_datasync(memory, fd).await,
        }
    }

    async fn fd_fdstat_get(
        &mut self,
        memory: &mut GuestMemory<'_>,
        fd: types::Fd,
    ) -> Result<types::Fdstat> {
        let (desc, nonblocking, append) = match self.ours(fd) {
            None => return self.wasi.fd_fdstat_get(memory, fd).await,
            Some(Fd::Dir {
                preopen: Some(_), ..
            }) => {
                // The rights wasmtime hard-codes for a preopen, which many userlands expect.
                use types::Rights as R;
                let fs_rights_base = R::PATH_CREATE_DIRECTORY
                    | R::PATH_CREATE_FILE
                    | R::PATH_LINK_SOURCE
                    | R::PATH_LINK_TARGET
                    | R::PATH_OPEN
                    | R::FD_READDIR
                    | R::PATH_READLINK
                    | R::PATH_RENAME_SOURCE
                    | R::PATH_RENAME_TARGET
                    | R::PATH_SYMLINK
                    | R::PATH_REMOVE_DIRECTORY
                    | R::PATH_UNLINK_FILE
                    | R::PATH_FILESTAT_GET
                    | R::PATH_FILESTAT_SET_TIMES
                    | R::FD_FILESTAT_GET
                    | R::FD_FILESTAT_SET_TIMES;
                let fs_rights_inheriting = fs_rights_base
                    | R::FD_DATASYNC
                    | R::FD_READ
                    | R::FD_SEEK
                    | R::FD_FDSTAT_SET_FLAGS
                    | R::FD_SYNC
                    | R::FD_TELL
                    | R::FD_WRITE
                    | R::FD_ADVISE
                    | R::FD_ALLOCATE
                    | R::FD_FILESTAT_GET
                    | R::FD_FILESTAT_SET_SIZE
                    | R::FD_FILESTAT_SET_TIMES
                    | R::POLL_FD_READWRITE;
                return Ok(types::Fdstat {
                    fs_filetype: types::Filetype::Directory,
                    fs_flags: types::Fdflags::empty(),
                    fs_rights_base,
                    fs_rights_inheriting,
                });
            }
            Some(Fd::Dir { fd, .. }) => (borrowed(fd), false, false),
            Some(Fd::File {
                fd,
                nonblocking,
                append,
                ..
            }) => (borrowed(fd), *nonblocking, *append),
        };
        let flags = self.fs().get_flags(borrowed(&desc))?;
        let fs_filetype = filetype(self.fs().get_type(desc)?);
        let mut fs_flags = types::Fdflags::empty();
        let mut fs_rights_base = types::Rights::all();
        if let types::Filetype::Directory = fs_filetype {
            fs_rights_base &= !types::Rights::FD_SEEK;
            fs_rights_base &= !types::Rights::FD_FILESTAT_SET_SIZE;
            fs_rights_base &= !types::Rights::PATH_FILESTAT_SET_SIZE;
        }
        if !flags.contains(DescriptorFlags::READ) {
            fs_rights_base &= !types::Rights::FD_READ;
            fs_rights_base &= !types::Rights::FD_READDIR;
        }
        if !flags.contains(DescriptorFlags::WRITE) {
            fs_rights_base &= !types::Rights::FD_WRITE;
        }
        if flags.contains(DescriptorFlags::DATA_INTEGRITY_SYNC) {
            fs_flags |= types::Fdflags::DSYNC;
        }
        if flags.contains(DescriptorFlags::REQUESTED_WRITE_SYNC) {
            fs_flags |= types::Fdflags::RSYNC;
        }
        if flags.contains(DescriptorFlags::FILE_INTEGRITY_SYNC) {
            fs_flags |= types::Fdflags::SYNC;
        }
        if append {
            fs_flags |= types::Fdflags::APPEND;
        }
        if nonblocking {
            fs_flags |= types::Fdflags::NONBLOCK;
        }
        Ok(types::Fdstat {
            fs_filetype,
            fs_flags,
            fs_rights_base,
            fs_rights_inheriting: fs_rights_base,
        })
    }

    fn fd_fdstat_set_flags(
        &mut self,
        memory: &mut GuestMemory<'_>,
        fd: types::Fd,
        flags: types::Fdflags,
    ) -> Result<()> {
        let Some(ours) = self.files.fds.get_mut(&u32::from(fd)) else {
            return self.wasi.fd_fdstat_set_flags(memory, fd, flags);
        };
        let Fd::File {
            append,
            nonblocking,
            ..
        } = ours
        else {
            return Err(types::Errno::Badf.into());
        };
        // Only NONBLOCK and APPEND may change, as in wasmtime.
        if flags.intersects(types::Fdflags::DSYNC | types::Fdflags::SYNC | types::Fdflags::RSYNC) {
            return Err(types::Errno::Inval.into());
        }
        *append = flags.contains(types::Fdflags::APPEND);
        *nonblocking = flags.contains(types::Fdflags::NONBLOCK);
        Ok(())
    }

    fn fd_fdstat_set_rights(
        &mut self,
        memory: &mut GuestMemory<'_>,
        fd: types::Fd,
        base: types::Rights,
        inheriting: types::Rights,
    ) -> Result<()> {
        match self.ours(fd) {
            Some(_) => Err(types::Errno::Notsup.into()),
            None => self.wasi.fd_fdstat_set_rights(memory, fd, base, inheriting),
        }
    }

    async fn fd_filestat_get(
        &mut self,
        memory: &mut GuestMemory<'_>,
        fd: types::Fd,
    ) -> Result<types::Filestat> {
        let Some(ours) = self.ours(fd) else {
            return self.wasi.fd_filestat_get(memory, fd).await;
        };
        let desc = ours.any();
        let stat = self.fs().stat(borrowed(&desc)).await?;
        let hash = self.fs().metadata_hash(desc)?;
        filestat(stat, hash.lower)
    }

    async fn fd_filestat_set_size(
        &mut self,
        memory: &mut GuestMemory<'_>,
        fd: types::Fd,
        size: types::Filesize,
    ) -> Result<()> {
        match self.ours(fd) {
            Some(ours) => {
                let file = ours.file()?;
                Ok(self.fs().set_size(file, size).await?)
            }
            None => self.wasi.fd_filestat_set_size(memory, fd, size).await,
        }
    }

    async fn fd_filestat_set_times(
        &mut self,
        memory: &mut GuestMemory<'_>,
        fd: types::Fd,
        atim: types::Timestamp,
        mtim: types::Timestamp,
        fst_flags: types::Fstflags,
    ) -> Result<()> {
        if self.ours(fd).is_none() {
            return self
                .wasi
                .fd_filestat_set_times(memory, fd, atim, mtim, fst_flags)
                .await;
        }
        let atim = systimespec(
            fst_flags.contains(types::Fstflags::ATIM),
            atim,
            fst_flags.contains(types::Fstflags::ATIM_NOW),
        )?;
        let mtim = systimespec(
            fst_flags.contains(types::Fstflags::MTIM),
            mtim,
            fst_flags.contains(types::Fstflags::MTIM_NOW),
        )?;
        let desc = self.ours(fd).ok_or(types::Errno::Badf)?.any();
        Ok(self.fs().set_times(desc, atim, mtim).await?)
    }

    async fn fd_read(
        &mut self,
        memory: &mut GuestMemory<'_>,
        fd: types::Fd,
        iovs: types::IovecArray,
    ) -> Result<types::Size> {
        match self.ours(fd) {
            Some(_) => self.read_ours(memory, fd, iovs, None).await,
            None => self.wasi.fd_read(memory, fd, iovs).await,
        }
    }

    async fn fd_pread(
        &mut self,
        memory: &mut GuestMemory<'_>,
        fd: types::Fd,
        iovs: types::IovecArray,
        offset: types::Filesize,
    ) -> Result<types::Size> {
        match self.ours(fd) {
            Some(_) => self.read_ours(memory, fd, iovs, Some(offset)).await,
            None => self.wasi.fd_pread(memory, fd, iovs, offset).await,
        }
    }

    async fn fd_write(
        &mut self,
        memory: &mut GuestMemory<'_>,
        fd: types::Fd,
        ciovs: types::CiovecArray,
    ) -> Result<types::Size> {
        match self.ours(fd) {
            Some(_) => self.write_ours(memory, fd, ciovs, At::Position).await,
            None => self.wasi.fd_write(memory, fd, ciovs).await,
        }
    }

    async fn fd_pwrite(
        &mut self,
        memory: &mut GuestMemory<'_>,
        fd: types::Fd,
        ciovs: types::CiovecArray,
        offset: types::Filesize,
    ) -> Result<types::Size> {
        match self.ours(fd) {
            Some(_) => self.write_ours(memory, fd, ciovs, At::Offset(offset)).await,
            None => self.wasi.fd_pwrite(memory, fd, ciovs, offset).await,
        }
    }

    fn fd_prestat_get(
        &mut self,
        memory: &mut GuestMemory<'_>,
        fd: types::Fd,
    ) -> Result<types::Prestat> {
        match self.ours(fd) {
            Some(Fd::Dir {
                preopen: Some(path),
                ..
            }) => Ok(types::Prestat::Dir(types::PrestatDir {
                pr_name_len: path.len().try_into()?,
            })),
            Some(_) => Err(types::Errno::Badf.into()),
            None => self.wasi.fd_prestat_get(memory, fd),
        }
    }

    fn fd_prestat_dir_name(
        &mut self,
        memory: &mut GuestMemory<'_>,
        fd: types::Fd,
        path: GuestPtr<u8>,
        path_max_len: types::Size,
    ) -> Result<()> {
        match self.ours(fd) {
            Some(Fd::Dir {
                preopen: Some(name),
                ..
            }) => {
                if name.len() > usize::try_from(path_max_len)? {
                    return Err(types::Errno::Nametoolong.into());
                }
                let name = name.clone();
                write_bytes(memory, path, name.as_bytes())?;
                Ok(())
            }
            Some(_) => Err(types::Errno::Notdir.into()),
            None => self
                .wasi
                .fd_prestat_dir_name(memory, fd, path, path_max_len),
        }
    }

    async fn fd_renumber(
        &mut self,
        memory: &mut GuestMemory<'_>,
        from: types::Fd,
        to: types::Fd,
    ) -> Result<()> {
        let (from_n, to_n) = (u32::from(from), u32::from(to));
        let (from_ours, to_ours) = (self.ours(from).is_some(), self.ours(to).is_some());
        let to_theirs = self.files.theirs.contains(&to_n);
        match (from_ours, to_ours) {
            (false, false) => {
                self.wasi.fd_renumber(memory, from, to).await?;
                if from_n != to_n {
                    self.closed_theirs(from_n);
                }
                Ok(())
            }
            (true, _) if !to_ours && !to_theirs => Err(types::Errno::Badf.into()),
            (true, _) => {
                if from_n == to_n {
                    return Ok(());
                }
                if to_ours {
                    self.close_ours(to_n).await?;
                } else {
                    self.wasi.fd_close(memory, to).await?;
                    self.files.theirs.remove(&to_n);
                }
                self.forget_listing(from_n)?;
                let moved = self.files.fds.remove(&from_n).ok_or(types::Errno::Badf)?;
                self.files.free.insert(from_n);
                self.files.free.remove(&to_n);
                self.files.fds.insert(to_n, moved);
                Ok(())
            }
            // wasmtime's table cannot take a number it does not hold: moving stdio onto a
            // filesystem descriptor is the one renumbering this layer refuses.
            (false, true) if self.files.theirs.contains(&from_n) => {
                Err(types::Errno::Notsup.into())
            }
            (false, true) => Err(types::Errno::Badf.into()),
        }
    }

    async fn fd_seek(
        &mut self,
        memory: &mut GuestMemory<'_>,
        fd: types::Fd,
        offset: types::Filedelta,
        whence: types::Whence,
    ) -> Result<types::Filesize> {
        let (file, position) = match self.ours(fd) {
            None => return self.wasi.fd_seek(memory, fd, offset, whence).await,
            Some(Fd::Dir { .. }) => return Err(types::Errno::Badf.into()),
            Some(Fd::File { fd, position, .. }) => (borrowed(fd), *position),
        };
        let new = match whence {
            types::Whence::Set if offset >= 0 => {
                u64::try_from(offset).map_err(|_| types::Errno::Inval)?
            }
            types::Whence::Cur => position
                .checked_add_signed(offset)
                .ok_or(types::Errno::Inval)?,
            types::Whence::End => {
                let size = self.fs().stat(file).await?.size;
                size.checked_add_signed(offset).ok_or(types::Errno::Inval)?
            }
            _ => return Err(types::Errno::Inval.into()),
        };
        if let Some(Fd::File { position, .. }) = self.files.fds.get_mut(&u32::from(fd)) {
            *position = new;
        }
        Ok(new)
    }

    async fn fd_sync(&mut self, memory: &mut GuestMemory<'_>, fd: types::Fd) -> Result<()> {
        match self.ours(fd) {
            Some(ours) => {
                let file = ours.file()?;
                Ok(self.fs().sync(file).await?)
            }
            None => self.wasi.fd_sync(memory, fd).await,
        }
    }

    fn fd_tell(&mut self, memory: &mut GuestMemory<'_>, fd: types::Fd) -> Result<types::Filesize> {
        match self.ours(fd) {
            Some(Fd::File { position, .. }) => Ok(*position),
            Some(Fd::Dir { .. }) => Err(types::Errno::Badf.into()),
            None => self.wasi.fd_tell(memory, fd),
        }
    }

    async fn fd_readdir(
        &mut self,
        memory: &mut GuestMemory<'_>,
        fd: types::Fd,
        buf: GuestPtr<u8>,
        buf_len: types::Size,
        cookie: types::Dircookie,
    ) -> Result<types::Size> {
        match self.ours(fd) {
            Some(ours) => {
                let dir = ours.dir()?;
                self.readdir_ours(memory, fd.into(), dir, buf, buf_len, cookie)
                    .await
            }
            None => self.wasi.fd_readdir(memory, fd, buf, buf_len, cookie).await,
        }
    }

    async fn path_create_directory(
        &mut self,
        memory: &mut GuestMemory<'_>,
        dirfd: types::Fd,
        path: GuestPtr<str>,
    ) -> Result<()> {
        let Some(ours) = self.ours(dirfd) else {
            return self.wasi.path_create_directory(memory, dirfd, path).await;
        };
        let dir = ours.dir()?;
        let path = self.files.read_string(memory, path)?;
        Ok(self.fs().create_directory_at(dir, path).await?)
    }

    async fn path_filestat_get(
        &mut self,
        memory: &mut GuestMemory<'_>,
        dirfd: types::Fd,
        flags: types::Lookupflags,
        path: GuestPtr<str>,
    ) -> Result<types::Filestat> {
        let Some(ours) = self.ours(dirfd) else {
            return self
                .wasi
                .path_filestat_get(memory, dirfd, flags, path)
                .await;
        };
        let dir = ours.dir()?;
        let path = self.files.read_string(memory, path)?;
        let stat = self
            .fs()
            .stat_at(borrowed(&dir), path_flags(flags), path.clone())
            .await?;
        let hash = self
            .fs()
            .metadata_hash_at(dir, path_flags(flags), path)
            .await?;
        filestat(stat, hash.lower)
    }

    async fn path_filestat_set_times(
        &mut self,
        memory: &mut GuestMemory<'_>,
        dirfd: types::Fd,
        flags: types::Lookupflags,
        path: GuestPtr<str>,
        atim: types::Timestamp,
        mtim: types::Timestamp,
        fst_flags: types::Fstflags,
    ) -> Result<()> {
        if self.ours(dirfd).is_none() {
            return self
                .wasi
                .path_filestat_set_times(memory, dirfd, flags, path, atim, mtim, fst_flags)
                .await;
        }
        let atim = systimespec(
            fst_flags.contains(types::Fstflags::ATIM),
            atim,
            fst_flags.contains(types::Fstflags::ATIM_NOW),
        )?;
        let mtim = systimespec(
            fst_flags.contains(types::Fstflags::MTIM),
            mtim,
            fst_flags.contains(types::Fstflags::MTIM_NOW),
        )?;
        let dir = self.ours(dirfd).ok_or(types::Errno::Badf)?.dir()?;
        let path = self.files.read_string(memory, path)?;
        Ok(self
            .fs()
            .set_times_at(dir, path_flags(flags), path, atim, mtim)
            .await?)
    }

    async fn path_link(
        &mut self,
        memory: &mut GuestMemory<'_>,
        src_fd: types::Fd,
        src_flags: types::Lookupflags,
        src_path: GuestPtr<str>,
        target_fd: types::Fd,
        target_path: GuestPtr<str>,
    ) -> Result<()> {
        if self.ours(src_fd).is_none() {
            return self
                .wasi
                .path_link(memory, src_fd, src_flags, src_path, target_fd, target_path)
                .await;
        }
        let (src, target) = self.two_dirs(src_fd, target_fd)?;
        let src_path = self.files.read_string(memory, src_path)?;
        let target_path = self.files.read_string(memory, target_path)?;
        Ok(self
            .fs()
            .link_at(src, path_flags(src_flags), src_path, target, target_path)
            .await?)
    }

    async fn path_open(
        &mut self,
        memory: &mut GuestMemory<'_>,
        dirfd: types::Fd,
        dirflags: types::Lookupflags,
        path: GuestPtr<str>,
        oflags: types::Oflags,
        fs_rights_base: types::Rights,
        fs_rights_inheriting: types::Rights,
        fdflags: types::Fdflags,
    ) -> Result<types::Fd> {
        let dir = match self.ours(dirfd) {
            None => {
                return self
                    .wasi
                    .path_open(
                        memory,
                        dirfd,
                        dirflags,
                        path,
                        oflags,
                        fs_rights_base,
                        fs_rights_inheriting,
                        fdflags,
                    )
                    .await;
            }
            Some(Fd::File { .. }) => {
                // wasmtime reads the path before it looks at the descriptor.
                self.files.read_string(memory, path)?;
                return Err(types::Errno::Notdir.into());
            }
            Some(Fd::Dir { fd, .. }) => borrowed(fd),
        };
        let path = self.files.read_string(memory, path)?;
        let mut flags = DescriptorFlags::empty();
        if fs_rights_base.contains(types::Rights::FD_READ) {
            flags |= DescriptorFlags::READ;
        }
        if fs_rights_base.contains(types::Rights::FD_WRITE) {
            flags |= DescriptorFlags::WRITE;
        }
        if fdflags.contains(types::Fdflags::SYNC) {
            flags |= DescriptorFlags::FILE_INTEGRITY_SYNC;
        }
        if fdflags.contains(types::Fdflags::DSYNC) {
            flags |= DescriptorFlags::DATA_INTEGRITY_SYNC;
        }
        if fdflags.contains(types::Fdflags::RSYNC) {
            flags |= DescriptorFlags::REQUESTED_WRITE_SYNC;
        }
        let mut open = OpenFlags::empty();
        for (p1, p2) in [
            (types::Oflags::CREAT, OpenFlags::CREATE),
            (types::Oflags::DIRECTORY, OpenFlags::DIRECTORY),
            (types::Oflags::EXCL, OpenFlags::EXCLUSIVE),
            (types::Oflags::TRUNC, OpenFlags::TRUNCATE),
        ] {
            if oflags.contains(p1) {
                open |= p2;
            }
        }
        let fd = self
            .fs()
            .open_at(dir, path_flags(dirflags), path, open, flags)
            .await?;
        let entry = match self.fs().get_type(borrowed(&fd))? {
            DescriptorType::Directory => Fd::Dir { fd, preopen: None },
            _ => Fd::File {
                fd,
                position: 0,
                append: fdflags.contains(types::Fdflags::APPEND),
                nonblocking: fdflags.contains(types::Fdflags::NONBLOCK),
            },
        };
        Ok(self.files.push(entry)?.into())
    }

    async fn path_readlink(
        &mut self,
        memory: &mut GuestMemory<'_>,
        dirfd: types::Fd,
        path: GuestPtr<str>,
        buf: GuestPtr<u8>,
        buf_len: types::Size,
    ) -> Result<types::Size> {
        let Some(ours) = self.ours(dirfd) else {
            return self
                .wasi
                .path_readlink(memory, dirfd, path, buf, buf_len)
                .await;
        };
        let dir = ours.dir()?;
        let path = self.files.read_string(memory, path)?;
        let mut target = self.fs().readlink_at(dir, path).await?.into_bytes();
        target.truncate(usize::try_from(buf_len).unwrap_or(usize::MAX));
        let n = u32::try_from(target.len()).map_err(|_| types::Errno::Overflow)?;
        write_bytes(memory, buf, &target)?;
        Ok(n)
    }

    async fn path_remove_directory(
        &mut self,
        memory: &mut GuestMemory<'_>,
        dirfd: types::Fd,
        path: GuestPtr<str>,
    ) -> Result<()> {
        let Some(ours) = self.ours(dirfd) else {
            return self.wasi.path_remove_directory(memory, dirfd, path).await;
        };
        let dir = ours.dir()?;
        let path = self.files.read_string(memory, path)?;
        Ok(self.fs().remove_directory_at(dir, path).await?)
    }

    async fn path_rename(
        &mut self,
        memory: &mut GuestMemory<'_>,
        src_fd: types::Fd,
        src_path: GuestPtr<str>,
        dest_fd: types::Fd,
        dest_path: GuestPtr<str>,
    ) -> Result<()> {
        if self.ours(src_fd).is_none() {
            return self
                .wasi
                .path_rename(memory, src_fd, src_path, dest_fd, dest_path)
                .await;
        }
        let (src, dest) = self.two_dirs(src_fd, dest_fd)?;
        let src_path = self.files.read_string(memory, src_path)?;
        let dest_path = self.files.read_string(memory, dest_path)?;
        Ok(self.fs().rename_at(src, src_path, dest, dest_path).await?)
    }

    async fn path_symlink(
        &mut self,
        memory: &mut GuestMemory<'_>,
        src_path: GuestPtr<str>,
        dirfd: types::Fd,
        dest_path: GuestPtr<str>,
    ) -> Result<()> {
        let Some(ours) = self.ours(dirfd) else {
            return self
                .wasi
                .path_symlink(memory, src_path, dirfd, dest_path)
                .await;
        };
        let dir = ours.dir()?;
        let src_path = self.files.read_string(memory, src_path)?;
        let dest_path = self.files.read_string(memory, dest_path)?;
        Ok(self.fs().symlink_at(dir, src_path, dest_path).await?)
    }

    async fn path_unlink_file(
        &mut self,
        memory: &mut GuestMemory<'_>,
        dirfd: types::Fd,
        path: GuestPtr<str>,
    ) -> Result<()> {
        let Some(ours) = self.ours(dirfd) else {
            return self.wasi.path_unlink_file(memory, dirfd, path).await;
        };
        let dir = ours.dir()?;
        // wasmtime copies this one path without charging fuel.
        let path = memory.as_cow_str(path)?.into_owned();
        Ok(self.fs().unlink_file_at(dir, path).await?)
    }

    async fn poll_oneoff(
        &mut self,
        memory: &mut GuestMemory<'_>,
        subs: GuestPtr<types::Subscription>,
        events: GuestPtr<types::Event>,
        nsubscriptions: types::Size,
    ) -> Result<types::Size> {
        let all = subs.as_array(nsubscriptions);
        // Subscriptions are copied once to find ours: charged as wasmtime charges them.
        self.files.consume_fuel_for_array(all)?;
        let mut ours = BTreeMap::new();
        for sub in all.iter() {
            let sub = memory.read(sub?)?;
            let fd = match sub.u {
                types::SubscriptionU::FdRead(s) | types::SubscriptionU::FdWrite(s) => {
                    s.file_descriptor
                }
                types::SubscriptionU::Clock(_) => continue,
            };
            let Some(entry) = self.ours(fd) else { continue };
            // A directory cannot be polled, as in wasmtime.
            let Fd::File {
                fd: file, position, ..
            } = entry
            else {
                return Err(types::Errno::Badf.into());
            };
            let (file, position) = (borrowed(file), *position);
            let size = self.fs().stat(file).await?.size;
            ours.insert(u32::from(fd), (size, position));
        }
        if ours.is_empty() {
            return self
                .wasi
                .poll_oneoff(memory, subs, events, nsubscriptions)
                .await;
        }
        let events = events.as_array(nsubscriptions);
        self.files.consume_fuel_for_array(events)?;
        self.poll_ours(memory, all, events, &ours)
    }

    fn proc_exit(
        &mut self,
        memory: &mut GuestMemory<'_>,
        status: types::Exitcode,
    ) -> wasmtime::Error {
        self.wasi.proc_exit(memory, status)
    }

    fn proc_raise(&mut self, memory: &mut GuestMemory<'_>, sig: types::Signal) -> Result<()> {
        self.wasi.proc_raise(memory, sig)
    }

    fn sched_yield(&mut self, memory: &mut GuestMemory<'_>) -> Result<()> {
        self.wasi.sched_yield(memory)
    }

    fn random_get(
        &mut self,
        memory: &mut GuestMemory<'_>,
        buf: GuestPtr<u8>,
        buf_len: types::Size,
    ) -> Result<()> {
        self.wasi.random_get(memory, buf, buf_len)
    }

    fn sock_accept(
        &mut self,
        memory: &mut GuestMemory<'_>,
        fd: types::Fd,
        flags: types::Fdflags,
    ) -> Result<types::Fd> {
        match self.ours(fd) {
            Some(_) => Err(types::Errno::Notsock.into()),
            None => self.wasi.sock_accept(memory, fd, flags),
        }
    }

    fn sock_recv(
        &mut self,
        memory: &mut GuestMemory<'_>,
        fd: types::Fd,
        ri_data: types::IovecArray,
        ri_flags: types::Riflags,
    ) -> Result<(types::Size, types::Roflags)> {
        match self.ours(fd) {
            Some(_) => Err(types::Errno::Notsock.into()),
            None => self.wasi.sock_recv(memory, fd, ri_data, ri_flags),
        }
    }

    fn sock_send(
        &mut self,
        memory: &mut GuestMemory<'_>,
        fd: types::Fd,
        si_data: types::CiovecArray,
        si_flags: types::Siflags,
    ) -> Result<types::Size> {
        match self.ours(fd) {
            Some(_) => Err(types::Errno::Notsock.into()),
            None => self.wasi.sock_send(memory, fd, si_data, si_flags),
        }
    }

    fn sock_shutdown(
        &mut self,
        memory: &mut GuestMemory<'_>,
        fd: types::Fd,
        how: types::Sdflags,
    ) -> Result<()> {
        match self.ours(fd) {
            Some(_) => Err(types::Errno::Notsock.into()),
            None => self.wasi.sock_shutdown(memory, fd, how),
        }
    }
}

/// Defines each named p1 function over [`CloudP1`], through wiggle's generated glue (which
/// decodes and checks every argument), as wiggle's own `add_to_linker` defines them over
/// wasmtime's context.
macro_rules! define {
    ($linker:ident, $($kind:ident $name:ident($($arg:ident),*);)*) => {$(
        $linker.func_wrap_async(
            "wasi_snapshot_preview1",
            stringify!($name),
            move |mut caller: wasmtime::Caller<'_, T>, ($($arg,)*)| {
                Box::new(async move {
                    let fuel = wasmtime::AsContextMut::as_context_mut(&mut caller).hostcall_fuel();
                    let export = caller.get_export("memory");
                    let (mut memory, state) = match &export {
                        Some(wasmtime::Extern::Memory(m)) => {
                            let (memory, state) = m.data_and_store_mut(&mut caller);
                            (GuestMemory::Unshared(memory), state)
                        }
                        Some(wasmtime::Extern::SharedMemory(m)) => {
                            (GuestMemory::Shared(m.data()), caller.data_mut())
                        }
                        _ => wasmtime::bail!("missing required memory export"),
                    };
                    let mut view = state.cloud_p1();
                    view.set_hostcall_fuel(fuel);
                    define!(@call $kind p1::$name(&mut view, &mut memory $(, $arg)*))
                })
            },
        )?;
    )*};
    (@call async $($call:tt)*) => { $($call)*.await };
    (@call sync $($call:tt)*) => { $($call)* };
}

/// Links wasmtime's p1 for every wasip1 function, with the ones that take a descriptor or a
/// path served by [`CloudP1`] (which hands what is not ours back to wasmtime's).
pub fn add_to_linker<T: CloudP1State>(linker: &mut wasmtime::Linker<T>) -> anyhow::Result<()> {
    wasmtime_wasi::p1::add_to_linker_async(linker, |state: &mut T| state.cloud_p1().wasi)?;
    linker.allow_shadowing(true);
    define!(linker,
        async fd_advise(a0, a1, a2, a3);
        sync fd_allocate(a0, a1, a2);
        async fd_close(a0);
        async fd_datasync(a0);
        async fd_fdstat_get(a0, a1);
        sync fd_fdstat_set_flags(a0, a1);
        sync fd_fdstat_set_rights(a0, a1, a2);
        async fd_filestat_get(a0, a1);
        async fd_filestat_set_size(a0, a1);
        async fd_filestat_set_times(a0, a1, a2, a3);
        async fd_pread(a0, a1, a2, a3, a4);
        sync fd_prestat_get(a0, a1);
        sync fd_prestat_dir_name(a0, a1, a2);
        async fd_pwrite(a0, a1, a2, a3, a4);
        async fd_read(a0, a1, a2, a3);
        async fd_readdir(a0, a1, a2, a3, a4);
        async fd_renumber(a0, a1);
        async fd_seek(a0, a1, a2, a3);
        async fd_sync(a0);
        sync fd_tell(a0, a1);
        async fd_write(a0, a1, a2, a3);
        async path_create_directory(a0, a1, a2);
        async path_filestat_get(a0, a1, a2, a3, a4);
        async path_filestat_set_times(a0, a1, a2, a3, a4, a5, a6);
        async path_link(a0, a1, a2, a3, a4, a5, a6);
        async path_open(a0, a1, a2, a3, a4, a5, a6, a7, a8);
        async path_readlink(a0, a1, a2, a3, a4, a5);
        async path_remove_directory(a0, a1, a2);
        async path_rename(a0, a1, a2, a3, a4, a5);
        async path_symlink(a0, a1, a2, a3, a4);
        async path_unlink_file(a0, a1, a2);
        async poll_oneoff(a0, a1, a2, a3);
        sync sock_accept(a0, a1, a2);
        sync sock_recv(a0, a1, a2, a3, a4, a5);
        sync sock_send(a0, a1, a2, a3, a4);
        sync sock_shutdown(a0, a1);
    );
    linker.allow_shadowing(false);
    Ok(())
}
