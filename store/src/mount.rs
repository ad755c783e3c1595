//! Mounts: a store opened for a guest path.
//!
//! Credentials, regions and endpoints come from the environment, read the way object_store's
//! builders read them (`AWS_*`, `GOOGLE_*`, `AZURE_*`), so any S3-compatible server works with
//! `AWS_ENDPOINT` (and `AWS_ALLOW_HTTP=true` for plain http).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use futures::StreamExt;
use object_store::aws::AmazonS3Builder;
use object_store::azure::MicrosoftAzureBuilder;
use object_store::gcp::GoogleCloudStorageBuilder;
use object_store::http::HttpBuilder;
use object_store::list::{PaginatedListOptions, PaginatedListStore};
use object_store::path::Path as Key;
use object_store::prefix::PrefixStore;
use object_store::{ClientOptions, ListResult, ObjectStore, RetryConfig};

use crate::beneath::{BeneathStore, LocalRoot};
use crate::memory::{MEMORY_STORE_CAPACITY, MemoryStore};
use crate::url::{StoreKind, StoreUrl};

/// Where the guest sees a store, and how.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MountSpec {
    pub url: StoreUrl,
    /// Where the guest sees it (`.` for the guest's working directory).
    pub guest: String,
    /// Whether every write under it is refused.
    pub read_only: bool,
}

/// A mounted store, shared by everything opened under it.
pub struct Mount {
    pub url: StoreUrl,
    pub guest: String,
    pub read_only: bool,
    pub store: Arc<dyn ObjectStore>,
    /// Whether the store keeps objects in host memory, so staging writes in memory costs
    /// nothing extra (and a spill to disk would only slow it down).
    pub in_memory: bool,
    /// For a local-directory store, the directory its keys live in: reads can then go
    /// through an open file, and large writes are staged beside their target and committed
    /// by a rename (one copy of the data, as a local filesystem would make). Every key is
    /// reached beneath it with no link followed (see [`LocalRoot`]).
    pub local_root: Option<LocalRoot>,
    /// What the guest has moved through this mount, for run reports.
    pub stats: MountStats,
    /// For cloud stores, the store beneath `store` that lists one page at a time, and the
    /// prefix `store` adds to keys: a directory listing then holds one page, not the whole
    /// directory (see [`Mount::list_dir_page`]).
    pub(crate) pager: Option<Pager>,
}

/// A cloud store's paginated listing, below the mount's prefix.
#[derive(Clone)]
pub(crate) struct Pager {
    store: Arc<dyn PaginatedListStore>,
    /// The mount's prefix in the bucket (empty for none), without a trailing `/`.
    prefix: Key,
}

impl Pager {
    /// The bucket's key for the mount's `key` (the mount's root for `None`).
    fn full_key(&self, key: Option<&Key>) -> Key {
        let parts = self
            .prefix
            .parts()
            .chain(key.into_iter().flat_map(|key| key.parts()));
        Key::from_iter(parts)
    }
}

/// One page of a directory listing ([`Mount::list_dir_page`]).
#[derive(Debug)]
pub struct ListPage {
    /// The page's objects and subdirectories, keys relative to the mount.
    pub listed: ListResult,
    /// Where the next page starts: `None` on the last page.
    pub next: Option<String>,
}

/// Entries per page of a directory listing: S3's own default and maximum.
pub const LIST_PAGE: usize = 1000;

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

    /// `count` objects stored by server-side copies (no bytes sent).
    pub fn copied(&self, count: u64) {
        self.objects_written.fetch_add(count, Ordering::Relaxed);
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
/// with the rest of the configuration): transient failures (throttling, 5xx, dropped
/// connections) get a few tries with backoff, but a dead store fails within seconds instead
/// of object_store's default of minutes.
fn retry_config() -> RetryConfig {
    RetryConfig {
        max_retries: 3,
        retry_timeout: Duration::from_secs(20),
        ..RetryConfig::default()
    }
}

impl Mount {
    /// Opens the store that `spec.url` names (no request is made yet: see [`Mount::check`]).
    pub fn open(spec: &MountSpec) -> Result<Mount> {
        let url = spec.url.as_str();
        let context = || format!("cannot mount `{url}`");
        let with_prefix = |store: Arc<dyn ObjectStore>, prefix: &str| -> Arc<dyn ObjectStore> {
            if prefix.is_empty() {
                store
            } else {
                Arc::new(PrefixStore::new(store, prefix))
            }
        };
        let mut local_root = None;
        let mut pager = None;
        // A cloud store serves the mount through its prefix, and pages listings itself.
        let mut cloud = |store: Arc<dyn ObjectStore>,
                         paged: Arc<dyn PaginatedListStore>,
                         prefix: &str|
         -> Arc<dyn ObjectStore> {
            pager = Some(Pager {
                store: paged,
                prefix: Key::from(prefix),
            });
            with_prefix(store, prefix)
        };
        let store: Arc<dyn ObjectStore> = match spec.url.kind() {
            StoreKind::Memory => Arc::new(MemoryStore::new(MEMORY_STORE_CAPACITY)),
            StoreKind::Local(dir) => {
                let root = LocalRoot::open(dir)
                    .with_context(|| format!("cannot open directory `{}`", dir.display()))
                    .with_context(context)?;
                let store = BeneathStore::new(root.clone()).with_context(context)?;
                local_root = Some(root);
                Arc::new(store)
            }
            StoreKind::S3 { bucket, prefix } => {
                let store = Arc::new(
                    AmazonS3Builder::from_env()
                        .with_bucket_name(bucket)
                        .with_retry(retry_config())
                        .build()
                        .with_context(context)?,
                );
                cloud(store.clone(), store, prefix)
            }
            StoreKind::Gcs { bucket, prefix } => {
                let store = Arc::new(
                    GoogleCloudStorageBuilder::from_env()
                        .with_bucket_name(bucket)
                        .with_retry(retry_config())
                        .build()
                        .with_context(context)?,
                );
                cloud(store.clone(), store, prefix)
            }
            StoreKind::Azure { container, prefix } => {
                let store = Arc::new(
                    MicrosoftAzureBuilder::from_env()
                        .with_container_name(container)
                        .with_retry(retry_config())
                        .build()
                        .with_context(context)?,
                );
                cloud(store.clone(), store, prefix)
            }
            StoreKind::Http => {
                if !spec.read_only {
                    bail!(
                        "cannot mount `{url}` read-write: http(s) stores are read-only (add `:ro`)"
                    );
                }
                // The URL's path is already the store's root. An `http://` URL asks for plain
                // HTTP: without `allow_http`, object_store refuses to send it a request.
                let options = ClientOptions::new().with_allow_http(url.starts_with("http://"));
                Arc::new(
                    HttpBuilder::new()
                        .with_url(url)
                        .with_client_options(options)
                        .with_retry(retry_config())
                        .build()
                        .with_context(context)?,
                )
            }
        };
        Ok(Mount {
            url: spec.url.clone(),
            guest: spec.guest.clone(),
            read_only: spec.read_only,
            in_memory: matches!(spec.url.kind(), StoreKind::Memory),
            store,
            local_root,
            stats: MountStats::default(),
            pager,
        })
    }

    /// Whether any object lies below the directory `dir`: one listing request for one key on
    /// a cloud store, however many objects are there.
    pub async fn holds_any(&self, dir: &Key) -> object_store::Result<bool> {
        let Some(pager) = &self.pager else {
            return match self.store.list(Some(dir)).next().await {
                Some(Ok(_)) => Ok(true),
                Some(Err(error)) => Err(error),
                None => Ok(false),
            };
        };
        let options = PaginatedListOptions {
            max_keys: Some(1),
            ..Default::default()
        };
        let prefix = format!("{}/", pager.full_key(Some(dir)));
        let page = pager.store.list_paginated(Some(&prefix), options).await?;
        Ok(!page.result.objects.is_empty() || !page.result.common_prefixes.is_empty())
    }

    /// One page of the directory `dir`'s listing (the mount's root for `None`): at most
    /// [`LIST_PAGE`] objects and subdirectories, from where `token` (the last page's `next`)
    /// says. A cloud store lists one page per request; other stores list the directory whole,
    /// in one page (a local store's listings go through [`LocalRoot`] instead).
    pub async fn list_dir_page(
        &self,
        dir: Option<&Key>,
        token: Option<String>,
    ) -> object_store::Result<ListPage> {
        let Some(pager) = &self.pager else {
            let listed = self.store.list_with_delimiter(dir).await?;
            return Ok(ListPage { listed, next: None });
        };
        // The store lists keys of the bucket: the mount's prefix and the directory, each
        // ending in `/` (a paginated listing adds none).
        let full = pager.full_key(dir);
        let prefix = (!full.as_ref().is_empty()).then(|| format!("{full}/"));
        let options = PaginatedListOptions {
            delimiter: Some("/".into()),
            max_keys: Some(LIST_PAGE),
            page_token: token,
            ..Default::default()
        };
        let page = pager
            .store
            .list_paginated(prefix.as_deref(), options)
            .await?;
        // Keys come back whole: the mount's prefix goes, as the prefix store's listings do.
        let strip = |key: Key| {
            let relative = key.prefix_match(&pager.prefix).map(Key::from_iter);
            relative.unwrap_or(key)
        };
        let mut listed = page.result;
        listed.common_prefixes = listed.common_prefixes.into_iter().map(strip).collect();
        for meta in &mut listed.objects {
            meta.location = strip(std::mem::take(&mut meta.location));
        }
        Ok(ListPage {
            listed,
            next: page.page_token,
        })
    }

    /// Checks that the store answers, with one listing request (plain HTTP servers need not
    /// list, so they are not asked), so an unreachable store or bad credentials stop a run
    /// before the guest starts, with a message naming the mount.
    pub async fn check(&self) -> Result<()> {
        if matches!(self.url.kind(), StoreKind::Http) {
            return Ok(());
        }
        // The first page of a listing: one request, however many objects there are.
        if let Some(Err(error)) = self.store.list(None).next().await {
            bail!(
                "the store `{}` (mounted at `{}`) does not answer: {error}",
                self.url,
                self.guest
            );
        }
        Ok(())
    }

    /// A mount at the same guest path whose objects live under `prefix` of this mount's store:
    /// a job's output staging area. The guest sees only what the run itself writes there.
    pub fn staged(&self, prefix: &str) -> Mount {
        Mount {
            url: self.url.clone(),
            guest: self.guest.clone(),
            read_only: false,
            store: Arc::new(PrefixStore::new(self.store.clone(), prefix)),
            in_memory: self.in_memory,
            local_root: self.local_root.as_ref().map(|root| root.below(prefix)),
            stats: MountStats::default(),
            pager: self.pager.as_ref().map(|pager| Pager {
                store: pager.store.clone(),
                prefix: pager.full_key(Some(&Key::from(prefix))),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(url: &str, read_only: bool) -> MountSpec {
        MountSpec {
            url: StoreUrl::parse(url).unwrap(),
            guest: ".".into(),
            read_only,
        }
    }

    #[test]
    fn http_mounts_must_be_read_only() {
        let error = format!(
            "{:#}",
            Mount::open(&spec("https://127.0.0.1:1/x", false)).unwrap_err()
        );
        assert!(
            error.contains("read-only") && error.contains(":ro"),
            "{error}"
        );
        assert!(Mount::open(&spec("https://127.0.0.1:1/x", true)).is_ok());
    }

    #[tokio::test]
    async fn local_and_memory_mounts_open_and_answer() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("new");
        let local = Mount::open(&spec(&format!("file://{}", root.display()), false)).unwrap();
        assert!(root.is_dir(), "a local store's directory is created");
        let opened = local.local_root.as_ref().map(|root| root.path());
        assert_eq!(opened, Some(root.canonicalize().unwrap()));
        local.check().await.unwrap();
        let memory = Mount::open(&spec("memory:", false)).unwrap();
        assert!(memory.in_memory && memory.local_root.is_none());
        memory.check().await.unwrap();
    }
}
