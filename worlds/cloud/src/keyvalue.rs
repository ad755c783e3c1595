//! `wasi:keyvalue@0.2.0-draft` (`store`, `atomics`, `batch`), served from stores: each bucket
//! the world file names (`[keyvalue.buckets]`, `NAME = "STORE URL"`) is a store opened like a
//! mount, and each key one object directly below its prefix, holding the value's bytes. So a
//! bucket is also a folder a guest or a job can mount and read as files.
//!
//! - A key is one object name: not empty, at most 1024 bytes, no `/` (a local store would make
//!   it a directory), no control characters, not `.`, `..` or one of the host's own names.
//!   Anything else is `error::other` naming why.
//! - `get` refuses, before reading it, a value larger than the guest's memory limit or than the
//!   run's buffer memory left; `set` counts its bytes against the store-write limit (past it the
//!   run stops, as for files) and one object against the store-object limit (past it the call
//!   fails with `error::other` saying `quota`).
//! - `list-keys` lists one page (at most [`LIST_PAGE`] keys) per call: a cloud store one
//!   listing request, a local store a few entries of its open directory, a memory store the
//!   page after the last key given. The cursor names a listing in progress that the run keeps
//!   for the bucket handle that started it (the draft's cursor is a number, too small for a
//!   store's page token): the run's [`LISTINGS`] most recent are kept, whatever the number of
//!   handles, so a guest cannot hold more open directories or listings than that.
//! - A `batch` call takes at most [`BATCH_MOST`] keys (`error::other` past it, before any is
//!   touched).
//! - `atomics.increment` keeps the counter as decimal text (as `wasmtime-wasi-keyvalue`
//!   does). On cloud and memory stores it is a compare-and-swap on the store's conditional
//!   puts (create-if-absent for a new key, replace-if-the-ETag-matches otherwise), retried up
//!   to [`INCREMENT_ATTEMPTS`] times when another writer got there first. object_store's
//!   local-filesystem store has no replace-if-matches, so on `file://` buckets the increment
//!   holds an exclusive `flock` on the bucket's directory while it reads and replaces the
//!   object (an atomic rename): that holds between runs on one machine (and between calls of
//!   one plugin host), not over a network filesystem whose locks are not shared.
//! - `memory:` buckets live as long as the host process: each run of `host run` has its own.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use object_store::path::{Path as Key, PathPart};
use object_store::{ObjectStoreExt, PutMode, PutOptions, PutPayload, UpdateVersion};
use wasmtime::component::Resource;
use worldhost_store::{EntryKind, LIST_PAGE, LocalDir, Mount, MountSpec, StoreUrl, names};

use crate::CloudFsView;
use crate::bindings::standard_imports::wasi::keyvalue::{atomics, batch, store};
use crate::fs::{BufferMemory, WriteBudget, is_not_found};

use store::{Error, KeyResponse};

type KvResult<T> = wasmtime::Result<Result<T, Error>>;

/// How many listings in progress a run keeps, over all its bucket handles (each a cursor
/// `list-keys` gave): each may hold an open directory.
pub const LISTINGS: usize = 16;

/// How many times `increment` tries its compare-and-swap before giving up on a key other
/// writers keep changing.
pub const INCREMENT_ATTEMPTS: u32 = 100;

/// The most keys one `batch` call takes (S3's limit for one multi-object delete): each key
/// is a store request, and a call must end in bounded time.
pub const BATCH_MOST: usize = 1000;

/// The longest key: the longest object key S3 takes.
const LONGEST_KEY: usize = 1024;

/// The buckets a world serves, by name, opened and checked once and shared by every run and
/// plugin call of the world.
#[derive(Debug, Default)]
pub struct Buckets {
    by_name: BTreeMap<String, Arc<Mount>>,
}

impl Buckets {
    /// Opens and checks every bucket in `urls` (name to store URL), so a bad URL or an
    /// unreachable store stops the run before the guest starts, naming the bucket.
    pub async fn open(urls: &BTreeMap<String, StoreUrl>) -> anyhow::Result<Buckets> {
        let mut by_name = BTreeMap::new();
        for (name, url) in urls {
            let context = || format!("the key-value bucket `{name}` (at `{url}`) cannot be opened");
            let spec = MountSpec {
                url: url.clone(),
                guest: format!("keyvalue bucket {name}"),
                read_only: false,
            };
            let mount = Mount::open(&spec).with_context(context)?;
            mount.check().await.with_context(context)?;
            by_name.insert(name.clone(), Arc::new(mount));
        }
        Ok(Buckets { by_name })
    }

    /// The bucket's names, for messages.
    fn names(&self) -> String {
        let names: Vec<_> = self
            .by_name
            .keys()
            .map(|name| format!("`{name}`"))
            .collect();
        if names.is_empty() {
            "none".to_owned()
        } else {
            names.join(", ")
        }
    }
}

/// An open bucket: a guest's handle on one configured bucket.
pub struct Bucket {
    name: String,
    mount: Arc<Mount>,
}

/// Where a listing goes on from.
enum Listing {
    /// A cloud store's page token.
    Paged(String),
    /// A local store's directory, open at the next entry.
    Local(LocalDir),
    /// The key after which a store that lists whole (a memory store) goes on: only that key
    /// is kept, not the rest of the listing.
    After(String),
}

/// A run's listings in progress, by cursor, each with the bucket handle that started it.
#[derive(Default)]
pub struct Listings {
    by_cursor: BTreeMap<u64, (u32, Listing)>,
    next_cursor: u64,
}

impl Listings {
    /// Keeps `listing` for the handle `bucket`, dropping the run's oldest past [`LISTINGS`].
    fn keep(&mut self, bucket: u32, listing: Listing) -> u64 {
        let cursor = self.next_cursor;
        self.next_cursor += 1;
        self.by_cursor.insert(cursor, (bucket, listing));
        if self.by_cursor.len() > LISTINGS {
            self.by_cursor.pop_first();
        }
        cursor
    }

    /// The listing `cursor` names, if the handle `bucket` started it.
    fn take(&mut self, bucket: u32, cursor: u64) -> Option<Listing> {
        match self.by_cursor.get(&cursor) {
            Some((owner, _)) if *owner == bucket => self.by_cursor.remove(&cursor).map(|(_, l)| l),
            _ => None,
        }
    }

    /// Ends the listings of a handle the guest dropped (closing their directories).
    fn forget(&mut self, bucket: u32) {
        self.by_cursor.retain(|_, (owner, _)| *owner != bucket);
    }
}

/// `key` as the object key below the bucket's prefix, or why it cannot be one.
fn object_key(key: &str) -> Result<Key, Error> {
    let why = if key.is_empty() {
        Some("a key cannot be empty".to_owned())
    } else if key.len() > LONGEST_KEY {
        Some(format!(
            "a key is at most {LONGEST_KEY} bytes (the longest object key S3 takes); this one is {}",
            key.len()
        ))
    } else if key.contains('/') {
        Some("a key cannot contain `/`: a key is one object name below the bucket's prefix".into())
    } else if names::is_reserved(key) {
        Some("it is a name the host keeps for its own objects".into())
    } else {
        PathPart::parse(key)
            .err()
            .map(|_| "a key cannot be `.` or `..` or contain control characters".to_owned())
    };
    match why {
        Some(why) => Err(Error::Other(format!(
            "`{}` is not a valid key: {why}",
            key.escape_debug()
        ))),
        None => Ok(Key::from_iter(PathPart::parse(key))),
    }
}

/// A store request that failed, as the guest sees it.
fn store_error(bucket: &str, key: &str, error: object_store::Error) -> Error {
    tracing::warn!(bucket, key, %error, "key-value request failed");
    Error::Other(format!("bucket `{bucket}`, key `{key}`: {error}"))
}

/// What one call works with: the bucket and the run's limits, owned, so that no borrow of the
/// store's state is held while the call waits on the store.
struct Target {
    name: String,
    mount: Arc<Mount>,
    /// The most one result may hold: the guest's memory limit.
    largest_read: u64,
    buffer_memory: Arc<BufferMemory>,
    budget: Arc<WriteBudget>,
}

impl CloudFsView<'_> {
    fn target(&self, bucket: &Resource<Bucket>) -> wasmtime::Result<Target> {
        let bucket = self.table.get(bucket)?;
        Ok(Target {
            name: bucket.name.clone(),
            mount: bucket.mount.clone(),
            largest_read: self.ctx.largest_read(),
            buffer_memory: self.ctx.buffer_memory().clone(),
            budget: self.ctx.write_budget().clone(),
        })
    }
}

impl Target {
    fn error(&self, key: &str, error: object_store::Error) -> Error {
        store_error(&self.name, key, error)
    }

    /// Reads `key`'s value whole, failing before it is read if it is larger than the guest
    /// could take (its memory limit, less the `held` bytes already gathered for the same
    /// result) or than the run's buffer memory has left. The bytes are held in the buffer
    /// memory until the caller releases `held`, once the result is handed over.
    async fn read_value(&self, key: &str, held: &mut u64) -> Result<Option<Vec<u8>>, Error> {
        let path = object_key(key)?;
        let got = match self.mount.store.get(&path).await {
            Ok(got) => got,
            Err(error) if is_not_found(&error) => return Ok(None),
            Err(error) => return Err(self.error(key, error)),
        };
        let (name, size, limit) = (&self.name, got.meta.size, self.largest_read);
        if size.saturating_add(*held) > limit {
            return Err(Error::Other(format!(
                "bucket `{name}`, key `{key}`: the value is {size} bytes, more than one result \
                 may hold ({limit} bytes, the guest's memory limit)"
            )));
        }
        if !self.buffer_memory.try_hold(size) {
            return Err(Error::Other(format!(
                "bucket `{name}`, key `{key}`: the value is {size} bytes, more than the run's \
                 buffer memory has left (raise it with --max-buffer-memory)"
            )));
        }
        *held += size;
        let bytes = got.bytes().await.map_err(|e| self.error(key, e))?;
        self.mount.stats.read(bytes.len() as u64);
        Ok(Some(bytes.to_vec()))
    }

    /// Refuses a batch of more than [`BATCH_MOST`] keys, before any is read or written.
    fn batch_size(&self, keys: usize) -> Result<(), Error> {
        if keys <= BATCH_MOST {
            return Ok(());
        }
        Err(Error::Other(format!(
            "bucket `{}`: a batch takes at most {BATCH_MOST} keys; this one has {keys} (split it)",
            self.name
        )))
    }

    /// Counts a write of `bytes`, and an object if the key may be `new`: past the byte limit
    /// the run stops, as for files; past the object limit the call fails with `quota`.
    fn charge(&self, bytes: usize, new: bool) -> KvResult<()> {
        self.budget.spend(bytes as u64)?;
        if new && let Err(exceeded) = self.budget.create_object() {
            return Ok(Err(Error::Other(format!("quota: {exceeded}"))));
        }
        Ok(Ok(()))
    }

    /// Stores `value` at `key`, counted first. Whether the key is new is not asked (that
    /// would be one more request), so each `set` counts as an object, as a blob put does.
    async fn write_value(&self, key: &str, value: Vec<u8>) -> KvResult<()> {
        let path = match object_key(key) {
            Ok(path) => path,
            Err(error) => return Ok(Err(error)),
        };
        if let Err(error) = self.charge(value.len(), true)? {
            return Ok(Err(error));
        }
        let size = value.len() as u64;
        match self.mount.store.put(&path, PutPayload::from(value)).await {
            Ok(_) => {
                self.mount.stats.wrote(size);
                Ok(Ok(()))
            }
            Err(error) => Ok(Err(self.error(key, error))),
        }
    }

    async fn delete_value(&self, key: &str) -> Result<(), Error> {
        let path = object_key(key)?;
        match self.mount.store.delete(&path).await {
            Err(error) if !is_not_found(&error) => Err(self.error(key, error)),
            _ => Ok(()),
        }
    }
}

impl store::Host for CloudFsView<'_> {
    /// A name the world does not configure is `no-such-store`.
    async fn open(&mut self, identifier: String) -> KvResult<Resource<Bucket>> {
        let buckets = self.ctx.buckets();
        let Some(mount) = buckets.by_name.get(&identifier) else {
            tracing::debug!(
                bucket = identifier,
                configured = buckets.names(),
                "no such key-value bucket"
            );
            return Ok(Err(Error::NoSuchStore));
        };
        let bucket = Bucket {
            name: identifier,
            mount: mount.clone(),
        };
        Ok(Ok(self.table.push(bucket)?))
    }
}

impl store::HostBucket for CloudFsView<'_> {
    async fn get(&mut self, bucket: Resource<Bucket>, key: String) -> KvResult<Option<Vec<u8>>> {
        let target = self.target(&bucket)?;
        let mut held = 0;
        let value = target.read_value(&key, &mut held).await;
        target.buffer_memory.release(held);
        Ok(value)
    }

    async fn set(&mut self, bucket: Resource<Bucket>, key: String, value: Vec<u8>) -> KvResult<()> {
        self.target(&bucket)?.write_value(&key, value).await
    }

    async fn delete(&mut self, bucket: Resource<Bucket>, key: String) -> KvResult<()> {
        Ok(self.target(&bucket)?.delete_value(&key).await)
    }

    async fn exists(&mut self, bucket: Resource<Bucket>, key: String) -> KvResult<bool> {
        let target = self.target(&bucket)?;
        let path = match object_key(&key) {
            Ok(path) => path,
            Err(error) => return Ok(Err(error)),
        };
        Ok(match target.mount.store.head(&path).await {
            Ok(_) => Ok(true),
            Err(error) if is_not_found(&error) => Ok(false),
            Err(error) => Err(target.error(&key, error)),
        })
    }

    async fn list_keys(
        &mut self,
        bucket: Resource<Bucket>,
        cursor: Option<u64>,
    ) -> KvResult<KeyResponse> {
        let Target { name, mount, .. } = self.target(&bucket)?;
        let handle = bucket.rep();
        let listings = self.ctx.kv_listings();
        let listing = match cursor {
            None => None,
            Some(cursor) => match listings.take(handle, cursor) {
                Some(listing) => Some(listing),
                None => {
                    return Ok(Err(Error::Other(format!(
                        "bucket `{name}`: cursor {cursor} is not a listing in progress on this \
                         handle (a listing's last page ends it, and a run keeps only its \
                         {LISTINGS} most recent listings)"
                    ))));
                }
            },
        };
        let (keys, rest) = match list_page(&mount, listing).await {
            Ok(page) => page,
            Err(why) => return Ok(Err(Error::Other(format!("bucket `{name}`: {why}")))),
        };
        let cursor = rest.map(|rest| self.ctx.kv_listings().keep(handle, rest));
        Ok(Ok(KeyResponse { keys, cursor }))
    }

    async fn drop(&mut self, bucket: Resource<Bucket>) -> wasmtime::Result<()> {
        self.ctx.kv_listings().forget(bucket.rep());
        self.table.delete(bucket)?;
        Ok(())
    }
}

/// One page of a bucket's keys, from where `listing` says (the start for `None`), and where
/// the next page starts (`None`: that was the last).
async fn list_page(
    mount: &Mount,
    listing: Option<Listing>,
) -> Result<(Vec<String>, Option<Listing>), String> {
    let listing = match (listing, &mount.local_root) {
        (Some(listing), _) => listing,
        (None, Some(root)) => Listing::Local(root.open_dir("").map_err(|e| e.to_string())?),
        (None, None) => return store_page(mount, None, None).await,
    };
    match listing {
        Listing::Paged(token) => store_page(mount, Some(token), None).await,
        Listing::Local(mut dir) => {
            // Every entry read counts toward the page, kept as a key or not, so a directory
            // of other things is walked a page per call too (a page may then hold no keys).
            let mut keys = Vec::new();
            for _ in 0..LIST_PAGE {
                match dir.next_entry().map_err(|e| e.to_string())? {
                    None => return Ok((keys, None)),
                    Some((name, EntryKind::File)) => {
                        // A name that is not UTF-8 cannot be a key a guest set.
                        if let Some(name) = name.to_str().filter(|name| object_key(name).is_ok()) {
                            keys.push(name.to_owned());
                        }
                    }
                    Some(_) => {}
                }
            }
            Ok((keys, Some(Listing::Local(dir))))
        }
        Listing::After(last) => store_page(mount, None, Some(last)).await,
    }
}

/// A page of a store's listing: a cloud store's next page, or of another (a memory store,
/// which lists whole) the first [`LIST_PAGE`] keys after `after`, in order.
async fn store_page(
    mount: &Mount,
    token: Option<String>,
    after: Option<String>,
) -> Result<(Vec<String>, Option<Listing>), String> {
    let page = mount
        .list_dir_page(None, token)
        .await
        .map_err(|e| e.to_string())?;
    let mut keys: Vec<String> = page
        .listed
        .objects
        .into_iter()
        .map(|meta| meta.location.to_string())
        .filter(|key| object_key(key).is_ok())
        .filter(|key| after.as_ref().is_none_or(|after| key > after))
        .collect();
    if let Some(token) = page.next {
        return Ok((keys, Some(Listing::Paged(token))));
    }
    keys.sort_unstable();
    let more = keys.len() > LIST_PAGE;
    keys.truncate(LIST_PAGE);
    let next = more.then(|| Listing::After(keys[LIST_PAGE - 1].clone()));
    Ok((keys, next))
}

impl atomics::Host for CloudFsView<'_> {
    async fn increment(
        &mut self,
        bucket: Resource<Bucket>,
        key: String,
        delta: u64,
    ) -> KvResult<u64> {
        let target = self.target(&bucket)?;
        let path = match object_key(&key) {
            Ok(path) => path,
            Err(error) => return Ok(Err(error)),
        };
        let counter = Counter {
            target: &target,
            key: &key,
            path: &path,
            delta,
        };
        match &target.mount.local_root {
            Some(root) => counter.increment_locked(root.path()).await,
            None => counter.increment_swapped().await,
        }
    }
}

/// What an increment's attempts have counted so far against the limits.
#[derive(Default)]
struct Charged {
    bytes: usize,
    object: bool,
}

/// One `increment` call.
struct Counter<'a> {
    target: &'a Target,
    key: &'a str,
    path: &'a Key,
    delta: u64,
}

impl Counter<'_> {
    /// The counter's value and version now (zero and none if the key is not there).
    async fn read(&self) -> Result<(u64, Option<UpdateVersion>), Error> {
        let got = match self.target.mount.store.get(self.path).await {
            Ok(got) => got,
            Err(error) if is_not_found(&error) => return Ok((0, None)),
            Err(error) => return Err(self.target.error(self.key, error)),
        };
        let version = UpdateVersion {
            e_tag: got.meta.e_tag.clone(),
            version: got.meta.version.clone(),
        };
        // A counter is a few digits; anything much longer is not one.
        if got.meta.size > 32 {
            return Err(self.not_a_counter("it holds more than 32 bytes"));
        }
        let bytes = got
            .bytes()
            .await
            .map_err(|e| self.target.error(self.key, e))?;
        let text = std::str::from_utf8(&bytes).map_err(|_| self.not_a_counter("not UTF-8"))?;
        let value = text
            .trim()
            .parse::<u64>()
            .map_err(|_| self.not_a_counter(&format!("`{}` is not a u64", text.escape_debug())))?;
        Ok((value, Some(version)))
    }

    fn not_a_counter(&self, why: &str) -> Error {
        Error::Other(format!(
            "bucket `{}`, key `{}`: the value is not a counter (decimal text of a u64): {why}",
            self.target.name, self.key
        ))
    }

    fn next(&self, value: u64) -> Result<u64, Error> {
        value.checked_add(self.delta).ok_or_else(|| {
            Error::Other(format!(
                "bucket `{}`, key `{}`: {value} + {} overflows a u64",
                self.target.name, self.key, self.delta
            ))
        })
    }

    /// The stored counter plus the delta, as the text to store, with the version it was read
    /// at (`None`: the key is new), its bytes (and the key, if new) counted against the limits.
    async fn next_charged(
        &self,
        charged: &mut Charged,
    ) -> KvResult<(u64, String, Option<UpdateVersion>)> {
        let (value, version) = match self.read().await {
            Ok(read) => read,
            Err(error) => return Ok(Err(error)),
        };
        let next = match self.next(value) {
            Ok(next) => next,
            Err(error) => return Ok(Err(error)),
        };
        let text = next.to_string();
        // A retry is charged only for what its write adds to the attempts before it: the
        // limits count what is stored, and one increment stores one value.
        let bytes = text.len().saturating_sub(charged.bytes);
        let new = version.is_none() && !charged.object;
        if let Err(error) = self.target.charge(bytes, new)? {
            return Ok(Err(error));
        }
        charged.bytes += bytes;
        charged.object |= new;
        Ok(Ok((next, text, version)))
    }

    /// Compare-and-swap on the store's conditional puts, retried while other writers win.
    async fn increment_swapped(&self) -> KvResult<u64> {
        let mut charged = Charged::default();
        for attempt in 0..INCREMENT_ATTEMPTS {
            let (next, text, version) = match self.next_charged(&mut charged).await? {
                Ok(next) => next,
                Err(error) => return Ok(Err(error)),
            };
            let size = text.len() as u64;
            let mode = match version {
                Some(version) => PutMode::Update(version),
                None => PutMode::Create,
            };
            let put = self
                .target
                .mount
                .store
                .put_opts(
                    self.path,
                    PutPayload::from(text.into_bytes()),
                    PutOptions::from(mode),
                )
                .await;
            match put {
                Ok(_) => {
                    self.target.mount.stats.wrote(size);
                    return Ok(Ok(next));
                }
                Err(
                    object_store::Error::Precondition { .. }
                    | object_store::Error::AlreadyExists { .. },
                ) => {
                    // Another writer got there first: read again after a short, varied wait,
                    // so that writers in step do not keep colliding.
                    let jitter = std::time::SystemTime::now()
                        .duration_since(std::time::UNIX_EPOCH)
                        .map_or(0, |now| now.subsec_nanos() as u64);
                    let most = 1 + u64::from(attempt.min(20)) * 2;
                    tokio::time::sleep(Duration::from_millis(jitter % most)).await;
                }
                Err(object_store::Error::NotImplemented { .. }) => {
                    return Ok(Err(Error::Other(format!(
                        "bucket `{}`: the store `{}` takes no conditional writes, so it cannot \
                         increment atomically",
                        self.target.name, self.target.mount.url
                    ))));
                }
                Err(error) => return Ok(Err(self.target.error(self.key, error))),
            }
        }
        Ok(Err(Error::Other(format!(
            "bucket `{}`, key `{}`: gave up after {INCREMENT_ATTEMPTS} tries, each lost to \
             another writer of the key",
            self.target.name, self.key
        ))))
    }

    /// Read and replace under an exclusive lock on the bucket's directory (a local store).
    async fn increment_locked(&self, dir: std::path::PathBuf) -> KvResult<u64> {
        // `flock` blocks, so it waits on a blocking thread; the lock lasts as long as `lock`.
        let lock = tokio::task::spawn_blocking(move || {
            let lock = std::fs::File::open(&dir)?;
            lock.lock()?;
            Ok::<_, std::io::Error>(lock)
        })
        .await;
        let _lock = match lock {
            Ok(Ok(lock)) => lock,
            Ok(Err(error)) => {
                return Ok(Err(Error::Other(format!(
                    "bucket `{}`: cannot lock its directory to increment `{}`: {error}",
                    self.target.name, self.key
                ))));
            }
            Err(join) => return Err(wasmtime::format_err!("locking a bucket failed: {join}")),
        };
        let (next, text, _) = match self.next_charged(&mut Charged::default()).await? {
            Ok(next) => next,
            Err(error) => return Ok(Err(error)),
        };
        let size = text.len() as u64;
        // The local store writes a staged file and renames it over the key: readers see the
        // old value or the new one, never a part.
        match self
            .target
            .mount
            .store
            .put(self.path, PutPayload::from(text.into_bytes()))
            .await
        {
            Ok(_) => {
                self.target.mount.stats.wrote(size);
                Ok(Ok(next))
            }
            Err(error) => Ok(Err(self.target.error(self.key, error))),
        }
    }
}

impl batch::Host for CloudFsView<'_> {
    /// Values are read one after another; together they are held to one result's limits.
    async fn get_many(
        &mut self,
        bucket: Resource<Bucket>,
        keys: Vec<String>,
    ) -> KvResult<Vec<Option<(String, Vec<u8>)>>> {
        let target = self.target(&bucket)?;
        if let Err(error) = target.batch_size(keys.len()) {
            return Ok(Err(error));
        }
        let mut values = Vec::with_capacity(keys.len());
        let mut held = 0;
        let mut failed = None;
        for key in keys {
            match target.read_value(&key, &mut held).await {
                Ok(value) => values.push(value.map(|value| (key, value))),
                Err(error) => {
                    failed = Some(error);
                    break;
                }
            }
        }
        target.buffer_memory.release(held);
        Ok(failed.map_or(Ok(values), Err))
    }

    async fn set_many(
        &mut self,
        bucket: Resource<Bucket>,
        key_values: Vec<(String, Vec<u8>)>,
    ) -> KvResult<()> {
        let target = self.target(&bucket)?;
        if let Err(error) = target.batch_size(key_values.len()) {
            return Ok(Err(error));
        }
        for (key, value) in key_values {
            if let Err(error) = target.write_value(&key, value).await? {
                return Ok(Err(error));
            }
        }
        Ok(Ok(()))
    }

    async fn delete_many(&mut self, bucket: Resource<Bucket>, keys: Vec<String>) -> KvResult<()> {
        let target = self.target(&bucket)?;
        if let Err(error) = target.batch_size(keys.len()) {
            return Ok(Err(error));
        }
        for key in keys {
            if let Err(error) = target.delete_value(&key).await {
                return Ok(Err(error));
            }
        }
        Ok(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_one_object_name() {
        for good in ["counter", "user:42", "a b", "ü", "x.json", "big.bin#x"] {
            assert!(object_key(good).is_ok(), "{good}");
        }
        for (bad, why) in [
            ("", "cannot be empty"),
            ("a/b", "cannot contain `/`"),
            ("..", "`.` or `..`"),
            ("a\nb", "control characters"),
            (".worldhost-dir", "keeps for its own"),
            ("big.bin#123", "keeps for its own"),
        ] {
            let Err(Error::Other(message)) = object_key(bad) else {
                panic!("{bad:?} was taken");
            };
            assert!(message.contains(why), "{bad:?}: {message}");
        }
        let long = "k".repeat(LONGEST_KEY + 1);
        assert!(object_key(&long).is_err());
        assert!(object_key(&long[1..]).is_ok());
    }
}
