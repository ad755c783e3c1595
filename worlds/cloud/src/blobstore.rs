//! `wasi:blobstore@0.2.0-draft` (wasmCloud's version) over the cloud world's mounts.
//!
//! A container is a mount, named by its guest path as `--mount` and the world file give it
//! (`.`, `/data`, `out`; `./out/` names `out` too). An object is a file of that mount, named by
//! its key below the mount's root (`a/b.txt`): a value written here is a file there and a file
//! closed there is an object here. Reading and writing go through the filesystem core
//! ([`Dir::open_at`], [`OpenFile`]), so reserved names, read-only mounts, the run's limits
//! (store writes, objects created, buffer memory) and staging apply exactly as for files.
//! Copies, moves and deletes that name two containers go through `worldhost:host/blob`'s
//! code ([`crate::blob`]), which streams across mounts.
//!
//! Containers are configured, not made: `create-container` and `delete-container` fail with
//! an error saying so (`clear` empties a container on purpose). Every error is a sentence the
//! guest can read (the interface's `error` is a string); a limit of the run still stops it.

use std::os::unix::fs::FileExt;
use std::sync::{Arc, Mutex};
use std::time::UNIX_EPOCH;

use bytes::Bytes;
use futures::StreamExt;
use futures::stream::BoxStream;
use object_store::ObjectMeta;
use wasmtime::component::Resource;
use wasmtime_wasi_io::poll::Pollable;
use wasmtime_wasi_io::streams::{
    DynInputStream, DynOutputStream, InputStream, OutputStream, StreamError, StreamResult,
};

use crate::CloudFsView;
use crate::bindings::blobstore_imports::wasi::blobstore::{blobstore, container, types};
use crate::bindings::host_imports::worldhost::host::blob::{Error as BlobError, Host as _};
use crate::blob::guest_prefix;
use crate::fs::path::{RelPath, is_reserved};
use crate::fs::{BufferMemory, Dir, ErrorCode, File, FsError, Kind, OpenFile, OpenOptions, Volume};
use crate::p2::streams::{FileInputStream, FileOutputStream};

use types::{ContainerMetadata, ObjectId, ObjectMetadata};

/// A call's result: the outer error traps (a limit of the run), the inner one is the guest's.
type Answer<T> = wasmtime::Result<Result<T, String>>;

/// Body bytes a guest may write before `write-data` names the object, staged on disk: no
/// more than its memory limit, what `incoming-value-consume-sync` could hand back.
const CHUNK: u64 = 1 << 20;

/// `?` for the inner result of a host function.
macro_rules! attempt {
    ($result:expr) => {
        match $result {
            Ok(value) => value,
            Err(error) => return Ok(Err(error)),
        }
    };
}

/// A filesystem failure as the guest's error (`what` names the object), or a trap when it is
/// a limit of the run.
fn fs_error(error: FsError, what: &str) -> wasmtime::Result<String> {
    match error {
        FsError::Trap(trap) => Err(trap),
        FsError::Code(ErrorCode::NotPermitted) => Ok(format!(
            "{what}: not permitted (the container is a read-only mount, or the name is reserved)"
        )),
        FsError::Code(code) => Ok(format!("{what}: {code}")),
    }
}

/// `attempt!` for filesystem results: a limit traps, anything else is the guest's error.
macro_rules! attempt_fs {
    ($result:expr, $what:expr) => {
        match $result {
            Ok(value) => value,
            Err(error) => return Ok(Err(fs_error(error, &$what)?)),
        }
    };
}

fn blob_error(error: BlobError) -> String {
    match error {
        BlobError::NotFound => "no such object".to_owned(),
        BlobError::NotPermitted => {
            "not permitted (a read-only mount, or no container there)".to_owned()
        }
        BlobError::InvalidKey(why) => format!("invalid object name: {why}"),
        BlobError::Io(why) => why,
    }
}

/// A container: the mount it names, and the name the guest gave.
pub struct Container {
    name: String,
    volume: Arc<Volume>,
}

impl Container {
    fn root(&self) -> Dir {
        Dir::root(self.volume.clone())
    }

    fn what(&self, object: &str) -> String {
        format!("object `{object}` in container `{}`", self.name)
    }

    /// The object's guest path, as `worldhost:host/blob` resolves keys.
    fn guest_key(&self, object: &str) -> String {
        match guest_prefix(&self.volume.mount().guest) {
            "" => object.to_owned(),
            "/" => format!("/{object}"),
            prefix => format!("{prefix}/{object}"),
        }
    }
}

/// How many object listings a run may have open at once: each may hold directories open
/// (a local store) or a copy of the store's listing (a memory store).
pub const OPEN_LISTINGS: u64 = 16;

/// The most names one `read-stream-object-names` or `skip-stream-object-names` call takes
/// from a listing: one store page, so a call ends in bounded time.
pub const NAMES_PER_CALL: u64 = worldhost_store::LIST_PAGE as u64;

/// What the blobstore of one run holds, bounded for the run as a whole (however many values
/// and listings the guest makes).
#[derive(Default)]
pub struct RunState {
    /// Bytes written to values before their `write-data`, staged on disk, all values together
    /// (at most the guest's memory limit). Made on first use, when that limit is known.
    staged: Option<Arc<BufferMemory>>,
    /// Object listings open, out of [`OPEN_LISTINGS`].
    listings: Option<Arc<BufferMemory>>,
}

impl RunState {
    /// The count of bytes staged before `write-data`, held to `limit` (the guest's memory).
    fn staged(&mut self, limit: u64) -> Arc<BufferMemory> {
        let staged = self
            .staged
            .get_or_insert_with(|| Arc::new(BufferMemory::new(limit)));
        staged.clone()
    }

    /// A place among the open listings, if one is free.
    fn listing_slot(&mut self) -> Option<ListingSlot> {
        let slots = self
            .listings
            .get_or_insert_with(|| Arc::new(BufferMemory::new(OPEN_LISTINGS)));
        slots.try_hold(1).then(|| ListingSlot(slots.clone()))
    }
}

/// A place among the run's open listings, given back when the listing is dropped.
struct ListingSlot(Arc<BufferMemory>);

impl Drop for ListingSlot {
    fn drop(&mut self) {
        self.0.release(1);
    }
}

/// The names of a container's objects, listed lazily from the store a page at a time.
pub struct ObjectNames {
    listing: BoxStream<'static, object_store::Result<ObjectMeta>>,
    /// A name read ahead to tell whether the listing has ended.
    next: Option<String>,
    ended: bool,
    /// Its place among the run's open listings (`None` for the host's own, in `clear`).
    _slot: Option<ListingSlot>,
}

impl ObjectNames {
    /// The next object name, skipping reserved and staging names.
    async fn pull(&mut self) -> Result<Option<String>, String> {
        if let Some(name) = self.next.take() {
            return Ok(Some(name));
        }
        while !self.ended {
            match self.listing.next().await {
                None => self.ended = true,
                Some(Err(error)) => return Err(format!("listing failed: {error}")),
                Some(Ok(meta)) => {
                    if meta.location.parts().any(|part| is_reserved(part.as_ref())) {
                        continue;
                    }
                    return Ok(Some(meta.location.to_string()));
                }
            }
        }
        Ok(None)
    }

    /// Whether nothing is left, reading one name ahead to know.
    async fn at_end(&mut self) -> Result<bool, String> {
        if self.next.is_none() {
            self.next = self.pull().await?;
        }
        Ok(self.next.is_none())
    }
}

/// What a value holds before its `write-data`: an unnamed temporary file, its bytes counted
/// in the run's staged total until the value is bound, finished or dropped.
struct Pending {
    spill: Option<std::fs::File>,
    len: u64,
    staged: Arc<BufferMemory>,
}

impl Drop for Pending {
    fn drop(&mut self) {
        self.staged.release(self.len);
    }
}

/// Where an outgoing value's body goes.
enum Sink {
    /// Before `write-data`: staged on disk, up to the run's staging limit for all values.
    Pending(Pending),
    /// After `write-data`: into the object's open file, committed by `finish`.
    Bound { file: File, out: FileOutputStream },
    /// Finished or dropped: writes fail.
    Done,
}

/// A value being written: its body stream and where that goes.
pub struct OutgoingValue {
    sink: Arc<Mutex<Sink>>,
    body_taken: bool,
}

/// The body stream of an [`OutgoingValue`].
struct BodyStream(Arc<Mutex<Sink>>);

fn failed(message: String) -> StreamError {
    StreamError::LastOperationFailed(wasmtime::format_err!("{message}"))
}

impl BodyStream {
    fn sink(&self) -> StreamResult<std::sync::MutexGuard<'_, Sink>> {
        self.0
            .lock()
            .map_err(|_| StreamError::trap("blobstore value lock poisoned"))
    }
}

#[async_trait::async_trait]
impl OutputStream for BodyStream {
    fn write(&mut self, bytes: Bytes) -> StreamResult<()> {
        match &mut *self.sink()? {
            Sink::Pending(Pending { spill, len, staged }) => {
                let end = len.saturating_add(bytes.len() as u64);
                if !staged.try_hold(bytes.len() as u64) {
                    return Err(failed(format!(
                        "{end} bytes written before write-data (with what other values of this \
                         run staged, {held}) are more than the host stages ({limit} bytes for \
                         all values, the guest's memory limit): call write-data first, then \
                         write the body, to stream a value of any size",
                        held = staged.held(),
                        limit = staged.limit()
                    )));
                }
                let file = match spill {
                    Some(file) => file,
                    empty => empty.insert(
                        tempfile::tempfile()
                            .map_err(|e| failed(format!("cannot stage the value: {e}")))?,
                    ),
                };
                // Counted before the write, so a failed write is counted too (until the value
                // goes): the count never falls below what is on disk.
                *len = end;
                file.write_all_at(&bytes, end - bytes.len() as u64)
                    .map_err(|e| failed(format!("cannot stage the value: {e}")))
            }
            Sink::Bound { out, .. } => out.write(bytes),
            Sink::Done => Err(StreamError::Closed),
        }
    }

    fn flush(&mut self) -> StreamResult<()> {
        match &mut *self.sink()? {
            Sink::Bound { out, .. } => out.flush(),
            _ => Ok(()),
        }
    }

    fn check_write(&mut self) -> StreamResult<usize> {
        match &mut *self.sink()? {
            Sink::Bound { out, .. } => out.check_write(),
            Sink::Pending(_) => Ok(CHUNK as usize),
            Sink::Done => Err(StreamError::Closed),
        }
    }
}

#[async_trait::async_trait]
impl Pollable for BodyStream {
    async fn ready(&mut self) {}
}

/// A value being read: a range of an open file, held from `get-data` on (a later delete or
/// replacement of the object does not change what this value reads on an in-memory or local
/// store; on a cloud store, ranged reads see the object as it is then).
pub struct IncomingValue {
    file: Arc<OpenFile>,
    start: u64,
    end: u64,
}

/// A file's bytes from one offset up to an end: the body of an [`IncomingValue`].
struct RangeStream {
    inner: FileInputStream,
    left: u64,
}

#[async_trait::async_trait]
impl InputStream for RangeStream {
    fn read(&mut self, size: usize) -> StreamResult<Bytes> {
        if self.left == 0 {
            return Err(StreamError::Closed);
        }
        let bytes = self.inner.read(size.min(self.left as usize))?;
        self.left -= bytes.len() as u64;
        Ok(bytes)
    }

    async fn blocking_read(&mut self, size: usize) -> StreamResult<Bytes> {
        if self.left == 0 {
            return Err(StreamError::Closed);
        }
        let bytes = self
            .inner
            .blocking_read(size.min(self.left as usize))
            .await?;
        self.left -= bytes.len() as u64;
        Ok(bytes)
    }
}

#[async_trait::async_trait]
impl Pollable for RangeStream {
    async fn ready(&mut self) {
        if self.left > 0 {
            self.inner.ready().await;
        }
    }
}

/// An object name as a key below a container's root: relative, without `.`, `..` or empty
/// segments, and no reserved name (the host's own, as for files).
fn object_path(name: &str) -> Result<RelPath, String> {
    if name.split('/').any(is_reserved) {
        return Err(format!("object name `{name}` is reserved for the host"));
    }
    match RelPath::root().join(name).ok() {
        Some(path) if !path.is_root() && path.key().as_ref() == name => Ok(path),
        _ => Err(format!(
            "object name `{name}` is not a key: names are relative (`a/b.txt`), without `.`, \
             `..` or empty segments"
        )),
    }
}

fn seconds(time: Option<std::time::SystemTime>) -> u64 {
    time.and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_secs())
}

impl CloudFsView<'_> {
    /// The mount a container name names, or an error listing the names there are.
    fn container_volume(&self, name: &str) -> Result<Arc<Volume>, String> {
        let wanted = guest_prefix(name);
        let volumes = self.ctx.volumes();
        if let Some(volume) = volumes
            .iter()
            .find(|volume| guest_prefix(&volume.mount().guest) == wanted)
        {
            return Ok(volume.clone());
        }
        let names: Vec<_> = volumes
            .iter()
            .map(|volume| format!("`{}`", volume.mount().guest))
            .collect();
        Err(format!(
            "no container `{name}`: a container is one of the run's mounts, named by its guest \
             path (this run has {})",
            if names.is_empty() {
                "none".to_owned()
            } else {
                names.join(", ")
            }
        ))
    }

    fn container(&self, container: &Resource<Container>) -> wasmtime::Result<&Container> {
        Ok(self.table.get(container)?)
    }

    /// The guest path of an object named by container and name, checked.
    fn object_key(&self, id: &ObjectId) -> Result<String, String> {
        let volume = self.container_volume(&id.container)?;
        object_path(&id.object)?;
        let container = Container {
            name: id.container.clone(),
            volume,
        };
        Ok(container.guest_key(&id.object))
    }

    /// Makes the directories above `path` that do not exist yet, as a put of a nested key
    /// would imply (their markers count as objects created, as `mkdir` does).
    async fn make_parents(&mut self, dir: &Dir, path: &RelPath, what: &str) -> Answer<()> {
        let mut parents = Vec::new();
        let mut parent = path.parent();
        while let Some(dir_path) = parent.filter(|p| !p.is_root()) {
            parent = dir_path.parent();
            parents.push(dir_path);
        }
        let budget = self.ctx.write_budget().clone();
        for dir_path in parents.into_iter().rev() {
            let path = dir_path.key();
            match dir
                .create_directory_within(path.as_ref(), Some(&budget))
                .await
            {
                Ok(()) | Err(FsError::Code(ErrorCode::Exist)) => {}
                Err(error) => return Ok(Err(fs_error(error, what)?)),
            }
        }
        Ok(Ok(()))
    }
}

impl blobstore::Host for CloudFsView<'_> {
    /// Containers are the run's mounts: one is never made here.
    async fn create_container(&mut self, name: String) -> Answer<Resource<Container>> {
        Ok(Err(match self.container_volume(&name) {
            Ok(_) => format!("container `{name}` already exists"),
            Err(_) => format!(
                "cannot create container `{name}`: containers are the run's mounts, configured \
                 with `--mount` or the world file's `[[mounts]]`"
            ),
        }))
    }

    async fn get_container(&mut self, name: String) -> Answer<Resource<Container>> {
        let volume = attempt!(self.container_volume(&name));
        Ok(Ok(self.table.push(Container { name, volume })?))
    }

    /// Refused, so that no mount is emptied by surprise: `clear` empties one on purpose.
    async fn delete_container(&mut self, name: String) -> Answer<()> {
        attempt!(self.container_volume(&name));
        Ok(Err(format!(
            "cannot delete container `{name}`: containers are the run's mounts and stay \
             configured; `clear` removes every object in one"
        )))
    }

    async fn container_exists(&mut self, name: String) -> Answer<bool> {
        Ok(Ok(self.container_volume(&name).is_ok()))
    }

    /// A copy streamed as `worldhost:host/blob`'s `copy` does (server-side within a mount).
    async fn copy_object(&mut self, src: ObjectId, dest: ObjectId) -> Answer<()> {
        let from = attempt!(self.object_key(&src));
        let to = attempt!(self.object_key(&dest));
        Ok(self.copy(from, to).await?.map_err(blob_error))
    }

    /// A copy, then the source's removal.
    async fn move_object(&mut self, src: ObjectId, dest: ObjectId) -> Answer<()> {
        let from = attempt!(self.object_key(&src));
        let to = attempt!(self.object_key(&dest));
        if from == to {
            return Ok(Ok(()));
        }
        attempt!(self.copy(from.clone(), to).await?.map_err(blob_error));
        Ok(self.delete(from).await?.map_err(blob_error))
    }
}

impl container::HostContainer for CloudFsView<'_> {
    async fn name(&mut self, this: Resource<Container>) -> Answer<String> {
        Ok(Ok(self.container(&this)?.name.clone()))
    }

    /// Mounts have no creation time: `created-at` is 0.
    async fn info(&mut self, this: Resource<Container>) -> Answer<ContainerMetadata> {
        let name = self.container(&this)?.name.clone();
        Ok(Ok(ContainerMetadata {
            name,
            created_at: 0,
        }))
    }

    /// Opens the object for reading; `start` and `end` are inclusive offsets, clamped to the
    /// object's size (so `0, u64::MAX` is the whole object).
    async fn get_data(
        &mut self,
        this: Resource<Container>,
        name: String,
        start: u64,
        end: u64,
    ) -> Answer<Resource<IncomingValue>> {
        let container = self.container(&this)?;
        let (dir, what) = (container.root(), container.what(&name));
        attempt!(object_path(&name));
        let options = OpenOptions {
            read: true,
            ..OpenOptions::default()
        };
        let handle = attempt_fs!(dir.open_at(self.ctx, &name, options).await, what);
        let file = attempt_fs!(handle.as_file(), what);
        let size = file.stat().await.size;
        let Some(open) = file.reader() else {
            return Ok(Err(format!("{what}: not readable")));
        };
        let end = size.min(end.saturating_add(1));
        let start = start.min(end);
        Ok(Ok(self.table.push(IncomingValue {
            file: open,
            start,
            end,
        })?))
    }

    /// Binds the value to the object: its body (what was written so far, and everything
    /// written from now on) goes to the object's file, stored when the value is finished.
    async fn write_data(
        &mut self,
        this: Resource<Container>,
        name: String,
        data: Resource<OutgoingValue>,
    ) -> Answer<()> {
        let container = self.container(&this)?;
        let (dir, what) = (container.root(), container.what(&name));
        let path = attempt!(object_path(&name));
        let sink = self.table.get(&data)?.sink.clone();
        if !matches!(*sink.lock().unwrap(), Sink::Pending(_)) {
            return Ok(Err(format!(
                "{what}: this value was already written to an object, or finished"
            )));
        }
        if dir.volume().read_only() {
            return Ok(Err(fs_error(ErrorCode::NotPermitted.into(), &what)?));
        }
        attempt!(self.make_parents(&dir, &path, &what).await?);
        let options = OpenOptions {
            create: true,
            truncate: true,
            write: true,
            ..OpenOptions::default()
        };
        let handle = attempt_fs!(dir.open_at(self.ctx, &name, options).await, what);
        let file = attempt_fs!(handle.as_file(), what).clone();
        let Some(open) = attempt_fs!(file.writer().await, what) else {
            return Ok(Err(format!("{what}: not writable")));
        };
        // What the guest wrote before naming the object moves into the file, a chunk at a time.
        let pending = match std::mem::replace(&mut *sink.lock().unwrap(), Sink::Done) {
            Sink::Pending(pending) => Some(pending),
            _ => None,
        };
        // The staged bytes stay counted until `pending` goes, at the end of this call.
        if let Some(Pending {
            spill: Some(spill),
            len,
            ..
        }) = &pending
        {
            let len = *len;
            let mut offset = 0;
            while offset < len {
                let mut chunk = vec![0; (len - offset).min(CHUNK) as usize];
                if let Err(error) = spill.read_exact_at(&mut chunk, offset) {
                    return Ok(Err(format!("{what}: the staged value is lost: {error}")));
                }
                attempt_fs!(file.write(&chunk, offset).await, what);
                offset += chunk.len() as u64;
            }
        }
        let out = FileOutputStream::new(open, None);
        *sink.lock().unwrap() = Sink::Bound { file, out };
        Ok(Ok(()))
    }

    /// A listing read lazily; at most [`OPEN_LISTINGS`] are open at once in a run.
    async fn list_objects(&mut self, this: Resource<Container>) -> Answer<Resource<ObjectNames>> {
        let Some(slot) = self.ctx.blobstore().listing_slot() else {
            return Ok(Err(format!(
                "a run may have {OPEN_LISTINGS} object listings open at once: drop one (its \
                 stream-object-names) before starting another"
            )));
        };
        let listing = self.container(&this)?.volume.store().list(None);
        Ok(Ok(self.table.push(ObjectNames {
            listing,
            next: None,
            ended: false,
            _slot: Some(slot),
        })?))
    }

    /// Deletes the object's file; a missing object is no error, as the interface says.
    async fn delete_object(&mut self, this: Resource<Container>, name: String) -> Answer<()> {
        let container = self.container(&this)?;
        let (dir, what) = (container.root(), container.what(&name));
        attempt!(object_path(&name));
        match dir.unlink_file_at(&name).await {
            Ok(()) | Err(FsError::Code(ErrorCode::NoEntry)) => Ok(Ok(())),
            Err(error) => Ok(Err(fs_error(error, &what)?)),
        }
    }

    async fn delete_objects(
        &mut self,
        this: Resource<Container>,
        names: Vec<String>,
    ) -> Answer<()> {
        for name in names {
            let this = Resource::new_borrow(this.rep());
            attempt!(self.delete_object(this, name).await?);
        }
        Ok(Ok(()))
    }

    async fn has_object(&mut self, this: Resource<Container>, name: String) -> Answer<bool> {
        let container = self.container(&this)?;
        let (dir, what) = (container.root(), container.what(&name));
        attempt!(object_path(&name));
        match dir.stat_at(&name).await {
            Ok(stat) => Ok(Ok(stat.kind == Kind::File)),
            Err(FsError::Code(ErrorCode::NoEntry | ErrorCode::NotDirectory)) => Ok(Ok(false)),
            Err(error) => Ok(Err(fs_error(error, &what)?)),
        }
    }

    /// `created-at` is the object's modification time, in seconds since the Unix epoch.
    async fn object_info(
        &mut self,
        this: Resource<Container>,
        name: String,
    ) -> Answer<ObjectMetadata> {
        let container = self.container(&this)?;
        let (dir, what) = (container.root(), container.what(&name));
        let container_name = container.name.clone();
        attempt!(object_path(&name));
        let stat = attempt_fs!(dir.stat_at(&name).await, what);
        if stat.kind != Kind::File {
            return Ok(Err(format!("{what}: a directory, not an object")));
        }
        Ok(Ok(ObjectMetadata {
            name,
            container: container_name,
            created_at: seconds(stat.modified),
            size: stat.size,
        }))
    }

    /// Deletes every object of the container, one at a time, as `delete-object` does.
    async fn clear(&mut self, this: Resource<Container>) -> Answer<()> {
        let container = self.container(&this)?;
        let (dir, name) = (container.root(), container.name.clone());
        if dir.volume().read_only() {
            return Ok(Err(format!(
                "cannot clear container `{name}`: a read-only mount"
            )));
        }
        let mut names = ObjectNames {
            listing: dir.volume().store().list(None),
            next: None,
            ended: false,
            _slot: None,
        };
        while let Some(object) = attempt!(names.pull().await) {
            match dir.unlink_file_at(&object).await {
                Ok(()) | Err(FsError::Code(ErrorCode::NoEntry)) => {}
                Err(error) => return Ok(Err(fs_error(error, &format!("clearing `{name}`"))?)),
            }
        }
        Ok(Ok(()))
    }

    async fn drop(&mut self, this: Resource<Container>) -> wasmtime::Result<()> {
        self.table.delete(this)?;
        Ok(())
    }
}

impl container::HostStreamObjectNames for CloudFsView<'_> {
    /// Up to `len` names (at most [`NAMES_PER_CALL`]), no more in all than the guest's memory
    /// could take (a name's bytes and 8 for its pointer and length); the rest come with the
    /// next call.
    async fn read_stream_object_names(
        &mut self,
        this: Resource<ObjectNames>,
        len: u64,
    ) -> Answer<(Vec<String>, bool)> {
        let limit = self.ctx.largest_read();
        let names = self.table.get_mut(&this)?;
        let (mut out, mut bytes) = (Vec::new(), 0u64);
        while (out.len() as u64) < len.min(NAMES_PER_CALL) {
            let Some(name) = attempt!(names.pull().await) else {
                break;
            };
            bytes = bytes.saturating_add(name.len() as u64 + 8);
            if bytes > limit && !out.is_empty() {
                names.next = Some(name);
                break;
            }
            out.push(name);
        }
        let ended = attempt!(names.at_end().await);
        Ok(Ok((out, ended)))
    }

    async fn skip_stream_object_names(
        &mut self,
        this: Resource<ObjectNames>,
        num: u64,
    ) -> Answer<(u64, bool)> {
        let names = self.table.get_mut(&this)?;
        let mut skipped = 0;
        // At most a page a call: the result says how many were skipped.
        while skipped < num.min(NAMES_PER_CALL) && attempt!(names.pull().await).is_some() {
            skipped += 1;
        }
        let ended = attempt!(names.at_end().await);
        Ok(Ok((skipped, ended)))
    }

    async fn drop(&mut self, this: Resource<ObjectNames>) -> wasmtime::Result<()> {
        self.table.delete(this)?;
        Ok(())
    }
}

impl container::Host for CloudFsView<'_> {}

impl types::HostOutgoingValue for CloudFsView<'_> {
    async fn new_outgoing_value(&mut self) -> wasmtime::Result<Resource<OutgoingValue>> {
        let limit = self.ctx.largest_read();
        let staged = self.ctx.blobstore().staged(limit);
        let sink = Sink::Pending(Pending {
            spill: None,
            len: 0,
            staged,
        });
        Ok(self.table.push(OutgoingValue {
            sink: Arc::new(Mutex::new(sink)),
            body_taken: false,
        })?)
    }

    /// The body stream, once per value.
    async fn outgoing_value_write_body(
        &mut self,
        this: Resource<OutgoingValue>,
    ) -> wasmtime::Result<Result<Resource<DynOutputStream>, ()>> {
        let value = self.table.get_mut(&this)?;
        if std::mem::replace(&mut value.body_taken, true) {
            return Ok(Err(()));
        }
        let stream: DynOutputStream = Box::new(BodyStream(value.sink.clone()));
        Ok(Ok(self.table.push(stream)?))
    }

    /// Stores the object now (its file's commit), reporting a store's refusal to the guest.
    async fn finish(&mut self, this: Resource<OutgoingValue>) -> Answer<()> {
        let value = self.table.delete(this)?;
        let sink = std::mem::replace(&mut *value.sink.lock().unwrap(), Sink::Done);
        let Sink::Bound { file, .. } = sink else {
            return Ok(Err(
                "finish before write-data: the value was never given an object, and nothing \
                 was stored"
                    .to_owned(),
            ));
        };
        let synced = file.sync().await;
        self.ctx.close(file).await?;
        match synced {
            Ok(()) => Ok(Ok(())),
            Err(error) => Ok(Err(fs_error(error, "storing the value")?)),
        }
    }

    /// A value dropped unfinished stores nothing: its file's writes go with it, and the
    /// object keeps what it held (the interface calls such a value corrupted). A value still
    /// held, unfinished, when the guest exits is stored as written, as a file left open is.
    async fn drop(&mut self, this: Resource<OutgoingValue>) -> wasmtime::Result<()> {
        let value = self.table.delete(this)?;
        *value.sink.lock().unwrap() = Sink::Done;
        Ok(())
    }
}

impl types::HostIncomingValue for CloudFsView<'_> {
    /// The whole value in one list: refused when larger than the guest's memory limit, which
    /// it could never fit in (read it with `incoming-value-consume-async` instead).
    async fn incoming_value_consume_sync(
        &mut self,
        this: Resource<IncomingValue>,
    ) -> Answer<Vec<u8>> {
        let value = self.table.delete(this)?;
        let size = value.end - value.start;
        let limit = self.ctx.largest_read();
        if size > limit {
            return Ok(Err(format!(
                "the value is {size} bytes, more than one call may return ({limit} bytes, the \
                 guest's memory limit): read it with incoming-value-consume-async"
            )));
        }
        // The list is host memory until the guest takes it: it counts as the run's buffers do.
        let memory = self.ctx.buffer_memory().clone();
        if !memory.try_hold(size) {
            return Ok(Err(format!(
                "the value is {size} bytes, more than the run's buffer memory has room for \
                 ({} of {} bytes held): read it with incoming-value-consume-async",
                memory.held(),
                memory.limit()
            )));
        }
        let data = read_range(&value, size).await;
        memory.release(size);
        data
    }

    async fn incoming_value_consume_async(
        &mut self,
        this: Resource<IncomingValue>,
    ) -> Answer<Resource<DynInputStream>> {
        let value = self.table.delete(this)?;
        let stream: DynInputStream = Box::new(RangeStream {
            inner: FileInputStream::new(value.file, value.start),
            left: value.end - value.start,
        });
        Ok(Ok(self.table.push(stream)?))
    }

    async fn size(&mut self, this: Resource<IncomingValue>) -> wasmtime::Result<u64> {
        let value = self.table.get(&this)?;
        Ok(value.end - value.start)
    }

    async fn drop(&mut self, this: Resource<IncomingValue>) -> wasmtime::Result<()> {
        self.table.delete(this)?;
        Ok(())
    }
}

/// The bytes of `value` (`size` of them), read a chunk at a time so no read holds a second
/// copy of the whole.
async fn read_range(value: &IncomingValue, size: u64) -> Answer<Vec<u8>> {
    let mut data = Vec::with_capacity(size as usize);
    let mut offset = value.start;
    while offset < value.end {
        let len = (value.end - offset).min(CHUNK);
        let bytes = attempt_fs!(value.file.read(offset, len).await, "reading the value");
        if bytes.is_empty() {
            break; // the object shrank since `get-data`
        }
        offset += bytes.len() as u64;
        data.extend_from_slice(&bytes);
    }
    Ok(Ok(data))
}

impl types::Host for CloudFsView<'_> {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn object_names_are_plain_relative_keys() {
        assert!(object_path("a/b.txt").is_ok());
        for bad in ["", "/a", "a/../b", "./a", "a//b", "a/", ".."] {
            assert!(object_path(bad).is_err(), "{bad}");
        }
        assert!(
            object_path(".worldhost-dir")
                .unwrap_err()
                .contains("reserved")
        );
    }
}
