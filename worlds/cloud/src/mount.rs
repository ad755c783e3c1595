//! Mounts: a guest directory served from an object store named by a URL.
//!
//! | URL | store |
//! | --- | --- |
//! | `memory:` | an in-memory store, empty at start, gone when the run ends |
//! | `file:///srv/data` | a local directory (created if missing) |
//! | `s3://bucket/prefix` | Amazon S3 or any S3-compatible server |
//! | `gs://bucket/prefix` | Google Cloud Storage |
//! | `az://container/prefix` | Azure Blob Storage |
//! | `http(s)://host/path` | a read-only HTTP/WebDAV server |
//!
//! Credentials, regions and endpoints come from the environment, read the way object_store's
//! builders read them (`AWS_*`, `GOOGLE_*`, `AZURE_*`), so any S3-compatible server works with
//! `AWS_ENDPOINT` (and `AWS_ALLOW_HTTP=true` for plain http).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use object_store::aws::AmazonS3Builder;
use object_store::azure::MicrosoftAzureBuilder;
use object_store::gcp::GoogleCloudStorageBuilder;
use object_store::http::HttpBuilder;
use object_store::local::LocalFileSystem;
use object_store::memory::InMemory;
use object_store::prefix::PrefixStore;
use object_store::{ObjectStore, RetryConfig};

/// Where the guest sees a store, and how.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MountSpec {
    /// The store's URL, as given.
    pub url: String,
    /// Where the guest sees it (`.` for the guest's working directory).
    pub guest: String,
    /// Whether every write under it is refused.
    pub read_only: bool,
}

/// A mounted store, shared by every descriptor opened under it.
pub struct Mount {
    pub url: String,
    pub guest: String,
    pub read_only: bool,
    pub store: Arc<dyn ObjectStore>,
    /// Whether the store keeps objects in host memory, so staging writes in memory costs
    /// nothing extra (and a spill to disk would only slow it down).
    pub in_memory: bool,
    /// For a local-directory store, its root: reads then go through an open file, and large
    /// writes are staged beside their target and committed by a rename (one copy of the data,
    /// as a local filesystem would make).
    pub local_root: Option<PathBuf>,
    /// Directories known to exist, so creating many files in one directory does not list it
    /// each time. Kept up to date by this run's own directory removals and renames.
    pub known_dirs: std::sync::Mutex<std::collections::HashSet<crate::path::RelPath>>,
    /// What the guest has moved through this mount, for run reports.
    pub stats: MountStats,
}

/// Bytes and objects the guest moved through one mount: reads of stored objects (not of its
/// own unclosed writes), and objects stored by closing or syncing a file, a blob `put` or
/// `copy`, or a rename. Server-side copies and renames count as objects, not bytes.
#[derive(Debug, Default)]
pub struct MountStats {
    pub bytes_read: AtomicU64,
    pub bytes_written: AtomicU64,
    pub objects_written: AtomicU64,
}

impl MountStats {
    pub fn read(&self, bytes: u64) {
        self.bytes_read.fetch_add(bytes, Ordering::Relaxed);
    }

    /// One object of `bytes` stored.
    pub fn wrote(&self, bytes: u64) {
        self.bytes_written.fetch_add(bytes, Ordering::Relaxed);
        self.objects_written.fetch_add(1, Ordering::Relaxed);
    }
}

impl std::fmt::Debug for Mount {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mount")
            .field("url", &self.url)
            .field("guest", &self.guest)
            .field("read_only", &self.read_only)
            .finish()
    }
}

/// How hard a store request is retried before the guest sees an I/O error (client options,
/// such as object_store's 5 s connect and 30 s request timeouts, come from the environment
/// with the rest of the configuration): transient
/// failures (throttling, 5xx, dropped connections) get a few tries with backoff, but a dead
/// store fails within seconds instead of object_store's default of minutes.
fn retry_config() -> RetryConfig {
    RetryConfig {
        max_retries: 3,
        retry_timeout: Duration::from_secs(20),
        ..RetryConfig::default()
    }
}

impl Mount {
    /// Opens the store that `spec.url` names.
    pub fn open(spec: &MountSpec) -> Result<Mount> {
        let url = spec.url.as_str();
        let context = || format!("cannot mount `{url}`");
        let mut local_root = None;
        let (store, in_memory): (Arc<dyn ObjectStore>, bool) = if url == "memory:"
            || url == "memory://"
        {
            (Arc::new(InMemory::new()), true)
        } else if let Some(path) = url.strip_prefix("file://") {
            (
                {
                    local_root = Some(PathBuf::from(path));
                    Arc::new(local_store(Path::new(path)).with_context(context)?)
                },
                false,
            )
        } else {
            let parsed = url::Url::parse(url)
                .with_context(|| format!("`{url}` is not a store URL (memory:, file://, s3://, gs://, az://, http(s)://)"))
                .with_context(context)?;
            let (bucket, prefix) = (
                parsed.host_str().unwrap_or_default().to_owned(),
                parsed.path().trim_matches('/').to_owned(),
            );
            if bucket.is_empty() {
                bail!("cannot mount `{url}`: the URL names no bucket or host");
            }
            let store: Arc<dyn ObjectStore> = match parsed.scheme() {
                "s3" => Arc::new(
                    AmazonS3Builder::from_env()
                        .with_bucket_name(&bucket)
                        .with_retry(retry_config())
                        .build()
                        .with_context(context)?,
                ),
                "gs" => Arc::new(
                    GoogleCloudStorageBuilder::from_env()
                        .with_bucket_name(&bucket)
                        .with_retry(retry_config())
                        .build()
                        .with_context(context)?,
                ),
                "az" | "azure" => Arc::new(
                    MicrosoftAzureBuilder::from_env()
                        .with_container_name(&bucket)
                        .with_retry(retry_config())
                        .build()
                        .with_context(context)?,
                ),
                "http" | "https" => {
                    if !spec.read_only {
                        bail!(
                            "cannot mount `{url}` read-write: http(s) stores are read-only (add `:ro`)"
                        );
                    }
                    let store = HttpBuilder::new()
                        .with_url(url)
                        .with_retry(retry_config())
                        .build()
                        .with_context(context)?;
                    // The URL's path is already the store's root.
                    return Ok(Mount::new(spec, Arc::new(store), false));
                }
                other => bail!(
                    "cannot mount `{url}`: unknown scheme `{other}` (memory:, file://, s3://, gs://, az://, http(s)://)"
                ),
            };
            if prefix.is_empty() {
                (store, false)
            } else {
                (Arc::new(PrefixStore::new(store, prefix.as_str())), false)
            }
        };
        let mut mount = Mount::new(spec, store, in_memory);
        mount.local_root = local_root;
        Ok(mount)
    }

    fn new(spec: &MountSpec, store: Arc<dyn ObjectStore>, in_memory: bool) -> Mount {
        Mount {
            url: spec.url.clone(),
            guest: spec.guest.clone(),
            read_only: spec.read_only,
            store,
            in_memory,
            local_root: None,
            known_dirs: Default::default(),
            stats: MountStats::default(),
        }
    }

    /// A mount at the same guest path whose objects live under `prefix` of this mount's store:
    /// a job's output staging area. The guest sees only what the run itself writes there.
    pub fn staged(&self, prefix: &str) -> Mount {
        let store = Arc::new(PrefixStore::new(self.store.clone(), prefix));
        let mut staged = Mount::new(
            &MountSpec {
                url: self.url.clone(),
                guest: self.guest.clone(),
                read_only: false,
            },
            store,
            self.in_memory,
        );
        staged.local_root = self.local_root.as_ref().map(|root| root.join(prefix));
        staged
    }

    /// Whether `path` is known to be a directory.
    pub fn dir_known(&self, path: &crate::path::RelPath) -> bool {
        path.is_root()
            || self
                .known_dirs
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .contains(path)
    }

    /// Remembers that `path` is a directory.
    pub fn remember_dir(&self, path: &crate::path::RelPath) {
        self.known_dirs
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(path.clone());
    }

    /// Forgets `path` and every directory below it (after a removal or rename).
    pub fn forget_dirs_under(&self, path: &crate::path::RelPath) {
        self.known_dirs
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|known| !known.starts_with(path));
    }

    /// Forgets the directories above `path`: removing or moving its last object may take
    /// them away.
    pub fn forget_ancestors(&self, path: &crate::path::RelPath) {
        let mut known = self.known_dirs.lock().unwrap_or_else(|e| e.into_inner());
        let mut ancestor = path.parent();
        while let Some(dir) = ancestor {
            known.remove(&dir);
            ancestor = dir.parent();
        }
    }

    /// The host path of `path` in a local-directory store.
    pub fn local_path(&self, path: &crate::path::RelPath) -> Option<PathBuf> {
        let root = self.local_root.as_ref()?;
        Some(if path.is_root() {
            root.clone()
        } else {
            root.join(path.key().as_ref())
        })
    }
}

/// A local-directory store rooted at `root`, created if missing.
fn local_store(root: &Path) -> Result<LocalFileSystem> {
    std::fs::create_dir_all(root)
        .with_context(|| format!("cannot create directory `{}`", root.display()))?;
    // Keys are created as nested directories; removing the last object of a directory
    // removes the directory too, which keeps the tree as the guest left it.
    Ok(LocalFileSystem::new_with_prefix(root)?.with_automatic_cleanup(true))
}

/// The embedded default store: `$WORLDHOST_STORE` if set, else `$XDG_DATA_HOME/worldhost/store`,
/// else `~/.local/share/worldhost/store`. Created on first use.
pub fn default_store_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("WORLDHOST_STORE") {
        return PathBuf::from(dir);
    }
    let data = std::env::var_os("XDG_DATA_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".local/share")))
        .unwrap_or_else(|| PathBuf::from("."));
    data.join("worldhost").join("store")
}

/// The mount spec of the default store, at the guest's working directory.
pub fn default_mount() -> MountSpec {
    MountSpec {
        url: format!("file://{}", default_store_dir().display()),
        guest: ".".to_owned(),
        read_only: false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_urls_are_refused_with_the_url_named() {
        for url in ["ftp://host/x", "not a url", "s3:///no-bucket"] {
            let spec = MountSpec {
                url: url.into(),
                guest: ".".into(),
                read_only: false,
            };
            let error = format!("{:#}", Mount::open(&spec).unwrap_err());
            assert!(error.contains(url), "{error}");
        }
    }
}
