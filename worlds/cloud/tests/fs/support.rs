//! Filesystems to test on, without a guest: a core context over one mount of each kind.

use std::sync::Arc;

use futures::TryStreamExt;
use object_store::path::Path as Key;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};
use worldhost_world_cloud::fs::{
    Dir, ErrorCode, FsCtx, FsError, FsResult, Handle, Kind, OpenOptions, Volume,
};
use worldhost_world_cloud::{Mount, MountSpec};

/// The stores the core is tested on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// `memory:`: an `InMemory` store.
    Memory,
    /// `file://`: a `LocalFileSystem` in a temporary directory (the local fast path).
    Local,
    /// An `InMemory` store seen through a `PrefixStore` (`pfx/`), as a bucket prefix is.
    PrefixedMemory,
}

pub const BACKENDS: [Backend; 3] = [Backend::Memory, Backend::Local, Backend::PrefixedMemory];

/// The prefix of [`Backend::PrefixedMemory`] in its underlying store.
pub const PREFIX: &str = "pfx";

/// Opens a mount (the one place tests build mounts, so a change to `Mount` is fixed here).
pub fn open_mount(url: &str, read_only: bool) -> Arc<Mount> {
    let spec = MountSpec {
        url: worldhost_store::StoreUrl::parse(url).expect("a test store URL"),
        guest: ".".to_owned(),
        read_only,
    };
    Arc::new(Mount::open(&spec).expect("the test mount opens"))
}

/// One filesystem under test: a run context over one mount, and its root directory.
pub struct Fs {
    pub backend: Backend,
    pub ctx: FsCtx,
    pub root: Dir,
    /// The store under the mount: for a prefixed mount, the whole `InMemory`.
    pub base: Arc<dyn ObjectStore>,
    /// A local store's directory, inside `_temp` (which holds nothing else).
    pub local: Option<std::path::PathBuf>,
    _temp: Option<tempfile::TempDir>,
}

impl Fs {
    pub fn new(backend: Backend) -> Fs {
        Fs::with(backend, false)
    }

    pub fn read_only(backend: Backend) -> Fs {
        Fs::with(backend, true)
    }

    fn with(backend: Backend, read_only: bool) -> Fs {
        let (mount, base, temp, local) = match backend {
            Backend::Memory => {
                let mount = open_mount("memory:", read_only);
                (mount.clone(), mount.store.clone(), None, None)
            }
            Backend::Local => {
                let temp = tempfile::tempdir().unwrap();
                let local = temp.path().join("mnt");
                let mount = open_mount(&format!("file://{}", local.display()), read_only);
                (mount.clone(), mount.store.clone(), Some(temp), Some(local))
            }
            Backend::PrefixedMemory => {
                let whole = open_mount("memory:", read_only);
                let mut staged = whole.staged(PREFIX);
                staged.read_only = read_only;
                (Arc::new(staged), whole.store.clone(), None, None)
            }
        };
        Fs::over(backend, mount, base, temp, local)
    }

    /// A run context over `mount` alone (`base`: the store beneath it).
    fn over(
        backend: Backend,
        mount: Arc<Mount>,
        base: Arc<dyn ObjectStore>,
        temp: Option<tempfile::TempDir>,
        local: Option<std::path::PathBuf>,
    ) -> Fs {
        let ctx = FsCtx::with_volumes(vec![Volume::new(mount)]);
        let root = Dir::root(ctx.volumes()[0].clone());
        Fs {
            backend,
            ctx,
            root,
            base,
            local,
            _temp: temp,
        }
    }

    /// Stores an object directly (below the mount's prefix), as another tool would.
    pub async fn put(&self, key: &str, data: &[u8]) {
        let store = self.volume().store();
        store
            .put(&Key::from(key), PutPayload::from(data.to_vec()))
            .await
            .unwrap();
    }

    /// What another reader of the store sees at `key` (below the mount's prefix): the
    /// published object, not the run's staged content.
    pub async fn stored(&self, key: &str) -> Option<Vec<u8>> {
        match self.volume().store().get(&Key::from(key)).await {
            Ok(got) => Some(got.bytes().await.unwrap().to_vec()),
            Err(object_store::Error::NotFound { .. }) => None,
            Err(error) => panic!("reading `{key}` from the store: {error}"),
        }
    }

    pub fn volume(&self) -> &Arc<Volume> {
        self.root.volume()
    }

    pub async fn open(&mut self, path: &str, options: OpenOptions) -> FsResult<Handle> {
        let root = self.root.clone();
        root.open_at(&mut self.ctx, path, options).await
    }

    /// Creates (or replaces) `path` with `data`, and closes it.
    pub async fn write_file(&mut self, path: &str, data: &[u8]) -> FsResult<()> {
        let handle = self.open(path, create_write()).await?;
        let file = file_of(handle);
        file.write(data, 0).await?;
        self.ctx.close(file).await.map_err(FsError::Trap)
    }

    /// The whole content of `path`.
    pub async fn read_file(&mut self, path: &str) -> FsResult<Vec<u8>> {
        let handle = self.open(path, read_only()).await?;
        let file = handle.as_file()?.clone();
        let mut content = Vec::new();
        loop {
            let (bytes, at_end) = file.read(1 << 20, content.len() as u64).await?;
            content.extend_from_slice(&bytes);
            if at_end || bytes.is_empty() {
                break;
            }
        }
        Ok(content)
    }

    pub async fn mkdir(&self, path: &str) -> FsResult<()> {
        self.root.create_directory_at(path).await
    }

    /// The kind of what `path` names, or the error `stat` gives.
    pub async fn kind(&self, path: &str) -> Result<Kind, ErrorCode> {
        self.root.stat_at(path).await.map(|s| s.kind).map_err(code)
    }

    /// The names in a directory.
    pub async fn names(&self, path: &str) -> Vec<String> {
        let entries = open_dir(&self.root, path)
            .await
            .read_directory()
            .await
            .unwrap();
        entries.into_iter().map(|entry| entry.name).collect()
    }

    /// Every key in the underlying store.
    pub async fn base_keys(&self) -> Vec<String> {
        let listed: Vec<_> = self.base.list(None).try_collect().await.unwrap();
        let mut keys: Vec<String> = listed.into_iter().map(|m| m.location.to_string()).collect();
        keys.sort();
        keys
    }

    /// Every key the mount shows (below its prefix, if any).
    pub async fn keys(&self) -> Vec<String> {
        let store = self.volume().store();
        let listed: Vec<_> = store.list(None).try_collect().await.unwrap();
        let mut keys: Vec<String> = listed.into_iter().map(|m| m.location.to_string()).collect();
        keys.sort();
        keys
    }
}

/// Opens the directory `path` below `dir` (without a run context: no file is opened).
pub async fn open_dir(dir: &Dir, path: &str) -> Dir {
    let mut ctx = FsCtx::default();
    match dir.open_at(&mut ctx, path, read_only()).await {
        Ok(Handle::Dir(dir)) => dir,
        Ok(Handle::File(_)) => panic!("`{path}` is a file"),
        Err(error) => panic!("`{path}` cannot be opened: {error}"),
    }
}

/// The code of a failure (a trap is a test failure).
#[track_caller]
pub fn code(error: FsError) -> ErrorCode {
    match error {
        FsError::Code(code) => code,
        FsError::Trap(error) => panic!("unexpected trap: {error}"),
    }
}

/// The code an operation failed with.
#[track_caller]
pub fn err<T: std::fmt::Debug>(result: FsResult<T>) -> ErrorCode {
    match result {
        Ok(value) => panic!("expected an error, got {value:?}"),
        Err(error) => code(error),
    }
}

pub fn file_of(handle: Handle) -> worldhost_world_cloud::fs::File {
    match handle {
        Handle::File(file) => file,
        Handle::Dir(dir) => panic!("expected a file, got the directory {}", dir.path()),
    }
}

pub fn read_only() -> OpenOptions {
    OpenOptions {
        read: true,
        ..OpenOptions::default()
    }
}

/// Opens an existing file for writing only (no create, no truncate).
pub fn write_only() -> OpenOptions {
    OpenOptions {
        write: true,
        ..OpenOptions::default()
    }
}

/// Opens an existing file for reading and writing (no create, no truncate).
pub fn read_write() -> OpenOptions {
    OpenOptions {
        read: true,
        ..write_only()
    }
}

pub fn create_write() -> OpenOptions {
    OpenOptions {
        create: true,
        truncate: true,
        read: true,
        write: true,
        ..OpenOptions::default()
    }
}

/// A current-thread runtime, for property tests (which are not async).
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// A memory store seen as a cloud store: reads go by ranged GETs and streamed bodies, as on S3,
/// with each body in 16 KiB chunks (as an HTTP response arrives) and the GETs (not HEADs)
/// counted.
pub struct CloudLike {
    pub fs: Fs,
    pub gets: Arc<std::sync::atomic::AtomicUsize>,
    /// How many of the next GETs fail (as a dropped connection would).
    pub failing: Arc<std::sync::atomic::AtomicUsize>,
}

impl CloudLike {
    pub fn new() -> CloudLike {
        let whole = open_mount("memory:", false);
        let mut mount = whole.staged(PREFIX);
        let gets = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let failing = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        mount.store = Arc::new(Chunked {
            inner: mount.store.clone(),
            gets: gets.clone(),
            failing: failing.clone(),
        });
        mount.in_memory = false;
        let base = whole.store.clone();
        let fs = Fs::over(Backend::PrefixedMemory, Arc::new(mount), base, None, None);
        CloudLike { fs, gets, failing }
    }

    pub fn gets(&self) -> usize {
        self.gets.load(std::sync::atomic::Ordering::SeqCst)
    }
}

/// [`CloudLike`]'s store: `inner`, with GETs counted (and failed on demand) and their bodies cut
/// in 16 KiB chunks.
#[derive(Debug)]
struct Chunked {
    inner: Arc<dyn ObjectStore>,
    gets: Arc<std::sync::atomic::AtomicUsize>,
    failing: Arc<std::sync::atomic::AtomicUsize>,
}

impl std::fmt::Display for Chunked {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Chunked({})", self.inner)
    }
}

#[async_trait::async_trait]
impl ObjectStore for Chunked {
    async fn put_opts(
        &self,
        location: &Key,
        payload: PutPayload,
        opts: object_store::PutOptions,
    ) -> object_store::Result<object_store::PutResult> {
        self.inner.put_opts(location, payload, opts).await
    }

    async fn put_multipart_opts(
        &self,
        location: &Key,
        opts: object_store::PutMultipartOptions,
    ) -> object_store::Result<Box<dyn object_store::MultipartUpload>> {
        self.inner.put_multipart_opts(location, opts).await
    }

    async fn get_opts(
        &self,
        location: &Key,
        options: object_store::GetOptions,
    ) -> object_store::Result<object_store::GetResult> {
        use futures::StreamExt;
        if !options.head {
            self.gets.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let fail = self.failing.fetch_update(
                std::sync::atomic::Ordering::SeqCst,
                std::sync::atomic::Ordering::SeqCst,
                |left| left.checked_sub(1),
            );
            if fail.is_ok() {
                return Err(object_store::Error::Generic {
                    store: "chunked",
                    source: "the connection dropped".into(),
                });
            }
        }
        let mut got = self.inner.get_opts(location, options).await?;
        let object_store::GetResultPayload::Stream(body) = got.payload else {
            unreachable!("a memory store streams");
        };
        let chunked = body.flat_map(|chunk| {
            let pieces: Vec<object_store::Result<bytes::Bytes>> = match chunk {
                Ok(chunk) => (0..chunk.len())
                    .step_by(16 << 10)
                    .map(|at| Ok(chunk.slice(at..chunk.len().min(at + (16 << 10)))))
                    .collect(),
                Err(error) => vec![Err(error)],
            };
            futures::stream::iter(pieces)
        });
        got.payload = object_store::GetResultPayload::Stream(chunked.boxed());
        Ok(got)
    }

    fn delete_stream(
        &self,
        locations: futures::stream::BoxStream<'static, object_store::Result<Key>>,
    ) -> futures::stream::BoxStream<'static, object_store::Result<Key>> {
        self.inner.delete_stream(locations)
    }

    fn list(
        &self,
        prefix: Option<&Key>,
    ) -> futures::stream::BoxStream<'static, object_store::Result<object_store::ObjectMeta>> {
        self.inner.list(prefix)
    }

    async fn list_with_delimiter(
        &self,
        prefix: Option<&Key>,
    ) -> object_store::Result<object_store::ListResult> {
        self.inner.list_with_delimiter(prefix).await
    }

    async fn copy_opts(
        &self,
        from: &Key,
        to: &Key,
        options: object_store::CopyOptions,
    ) -> object_store::Result<()> {
        self.inner.copy_opts(from, to, options).await
    }
}
