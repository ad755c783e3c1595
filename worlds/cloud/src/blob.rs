//! `worldhost:host/blob`: objects addressed by guest path, over the cloud world's mounts.
//!
//! A key resolves exactly as a filesystem path does: against the mount whose guest path is its
//! longest prefix (relative keys against relative mounts, `.` included; absolute keys against
//! absolute mounts), with the same escape rules. So a blob put here is a file there, and a file
//! closed there is a blob here.

use std::sync::Arc;

use futures::TryStreamExt;
use object_store::{ObjectStoreExt, PutPayload};

use crate::CloudFsView;
use crate::bindings::host_imports::worldhost::host::blob::{Entry, Error, Host, ObjectMetadata};
use crate::fs::path::{RelPath, is_reserved};
use crate::fs::{Kind, Volume, WriteBudget, is_not_found};

type BlobResult<T> = wasmtime::Result<Result<T, Error>>;

/// A mount's guest path as a key prefix: `.` and `./x` are relative (`""`, `x`); `/` is `/`.
pub(crate) fn guest_prefix(guest: &str) -> &str {
    if guest.chars().all(|c| c == '/') && !guest.is_empty() {
        return "/";
    }
    let trimmed = guest.trim_start_matches("./").trim_end_matches('/');
    if trimmed == "." { "" } else { trimmed }
}

impl CloudFsView<'_> {
    /// The mount serving `key` and the path below it.
    fn blob_path(&self, key: &str) -> Result<(Arc<Volume>, RelPath), Error> {
        // Resolve `.`, `..` and doubled slashes first, so the key picks the mount its
        // resolved path lies in (`x/../out/f` is in `out`), refusing `..` above the top.
        let absolute = key.starts_with('/');
        let resolved = RelPath::root()
            .join(key.trim_start_matches('/'))
            .map_err(|code| Error::InvalidKey(format!("`{key}`: {code:?}")))?;
        let normalized = match (absolute, resolved.is_root()) {
            (true, _) => format!("/{}", resolved.key()),
            (false, true) => String::new(),
            (false, false) => resolved.key().to_string(),
        };
        let key = normalized.as_str();
        let best = self
            .ctx
            .volumes()
            .iter()
            .filter_map(|volume| {
                let prefix = guest_prefix(&volume.mount().guest);
                if prefix.starts_with('/') != absolute {
                    return None;
                }
                let rest = if prefix.is_empty() {
                    key
                } else if prefix == "/" {
                    key.strip_prefix('/')?
                } else if key == prefix {
                    ""
                } else {
                    key.strip_prefix(prefix)?.strip_prefix('/')?
                };
                Some((prefix.len(), volume, rest))
            })
            .max_by_key(|(length, _, _)| *length);
        let Some((_, volume, rest)) = best else {
            return Err(Error::NotPermitted);
        };
        let path = RelPath::root()
            .join(rest)
            .map_err(|code| Error::InvalidKey(format!("`{key}`: {code:?}")))?;
        Ok((volume.clone(), path))
    }

    /// Fails unless `size` bytes of `key` may be read whole into one result: no more than the
    /// guest's memory limit, which a larger result could never fit in.
    fn readable(&self, key: &str, size: u64) -> Result<(), Error> {
        let limit = self.ctx.largest_read();
        if size > limit {
            return Err(Error::Io(format!(
                "`{key}`: {size} bytes is more than one read may return ({limit} bytes, the \
                 guest's memory limit); read it in ranges with get-range, or as a file"
            )));
        }
        Ok(())
    }

    fn writable_blob_path(&self, key: &str) -> Result<(Arc<Volume>, RelPath), Error> {
        let (volume, path) = self.blob_path(key)?;
        if volume.read_only() || path.is_root() {
            return Err(Error::NotPermitted);
        }
        Ok((volume, path))
    }
}

/// Stores `data` at `path` in `volume`: counted against the run's write `budget` first, and
/// in the mount's stats once stored.
async fn put_counted(
    budget: &WriteBudget,
    volume: &Volume,
    path: &RelPath,
    data: Vec<u8>,
) -> BlobResult<()> {
    budget.spend(data.len() as u64)?;
    if let Err(error) = create_object(budget) {
        return Ok(Err(error));
    }
    put_charged(volume, path, data).await
}

/// Counts an object the guest creates (a put or copy, new key or not): past the run's limit,
/// the blob call fails with `io` saying so, and the guest may go on.
fn create_object(budget: &WriteBudget) -> Result<(), Error> {
    budget
        .create_object()
        .map_err(|exceeded| Error::Io(format!("quota: {exceeded}")))
}

/// Stores `data` at `path` in `volume`, already counted against the write budget.
async fn put_charged(volume: &Volume, path: &RelPath, data: Vec<u8>) -> BlobResult<()> {
    let size = data.len() as u64;
    // A key may bring directories with it that the filesystem's view of the run never made.
    volume.stored_unknown(path, Kind::File);
    let put = volume
        .store()
        .put(path.key_ref(), PutPayload::from(data))
        .await;
    if put.is_ok() {
        volume.mount().stats.wrote(size);
    }
    Ok(put.map(|_| ()).map_err(blob_error))
}

fn blob_error(error: object_store::Error) -> Error {
    if is_not_found(&error) {
        Error::NotFound
    } else {
        tracing::warn!(%error, "blob request failed");
        Error::Io(error.to_string())
    }
}

/// `?` for the inner result of a host function.
macro_rules! attempt {
    ($result:expr) => {
        match $result {
            Ok(value) => value,
            Err(error) => return Ok(Err(error)),
        }
    };
}

impl Host for CloudFsView<'_> {
    async fn list(&mut self, prefix: String) -> BlobResult<Vec<Entry>> {
        let (volume, path) = attempt!(self.blob_path(&prefix));
        let key_prefix = path.dir_prefix();
        let shown = guest_prefix(&volume.mount().guest);
        // What the listing will take in the guest's memory (each entry's key, plus its
        // pointer, length and size), checked as it grows: a listing the guest could never
        // take must not be gathered in the host's memory either.
        let (mut entries, mut bytes, limit) = (Vec::new(), 0u64, self.ctx.largest_read());
        let mut listing = volume.store().list(key_prefix.as_ref());
        while let Some(meta) = attempt!(listing.try_next().await.map_err(blob_error)) {
            if meta.location.parts().any(|part| is_reserved(part.as_ref())) {
                continue;
            }
            let entry = Entry {
                // A guest path, as `blob_path` resolves it: `/` already ends in a slash.
                key: match shown {
                    "" => meta.location.to_string(),
                    "/" => format!("/{}", meta.location),
                    _ => format!("{shown}/{}", meta.location),
                },
                size: meta.size,
            };
            bytes = bytes.saturating_add(entry.key.len() as u64 + 16);
            if bytes > limit {
                return Ok(Err(Error::Io(format!(
                    "the listing of `{prefix}` is larger than one call may return ({limit} \
                     bytes, the guest's memory limit); list narrower prefixes"
                ))));
            }
            entries.push(entry);
        }
        entries.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(Ok(entries))
    }

    async fn get(&mut self, key: String) -> BlobResult<Vec<u8>> {
        let (volume, path) = attempt!(self.blob_path(&key));
        let got = attempt!(volume.store().get(&path.key()).await.map_err(blob_error));
        // Checked before the body is read: an object larger than the guest's memory could
        // never be handed over, and must not be gathered in the host's.
        attempt!(self.readable(&key, got.meta.size));
        let bytes = attempt!(got.bytes().await.map_err(blob_error));
        volume.mount().stats.read(bytes.len() as u64);
        Ok(Ok(Vec::from(bytes)))
    }

    async fn get_range(&mut self, key: String, offset: u64, length: u64) -> BlobResult<Vec<u8>> {
        let (volume, path) = attempt!(self.blob_path(&key));
        let meta = attempt!(volume.store().head(&path.key()).await.map_err(blob_error));
        let end = meta.size.min(offset.saturating_add(length));
        if offset >= end {
            return Ok(Ok(Vec::new()));
        }
        attempt!(self.readable(&key, end - offset));
        let range = volume.store().get_range(&path.key(), offset..end).await;
        if let Ok(bytes) = &range {
            volume.mount().stats.read(bytes.len() as u64);
        }
        Ok(range.map(Vec::from).map_err(blob_error))
    }

    async fn put(&mut self, key: String, data: Vec<u8>) -> BlobResult<()> {
        let (volume, path) = attempt!(self.writable_blob_path(&key));
        put_counted(&self.ctx.write_budget().clone(), &volume, &path, data).await
    }

    async fn delete(&mut self, key: String) -> BlobResult<()> {
        let (volume, path) = attempt!(self.writable_blob_path(&key));
        // Stores delete missing objects silently; the interface says `not-found`.
        attempt!(volume.store().head(&path.key()).await.map_err(blob_error));
        volume.stored_gone(&path, Kind::File);
        Ok(volume.store().delete(&path.key()).await.map_err(blob_error))
    }

    async fn exists(&mut self, key: String) -> BlobResult<bool> {
        let (volume, path) = attempt!(self.blob_path(&key));
        match volume.store().head(&path.key()).await {
            Ok(_) => Ok(Ok(true)),
            Err(error) if is_not_found(&error) => Ok(Ok(false)),
            Err(error) => Ok(Err(blob_error(error))),
        }
    }

    async fn copy(&mut self, source: String, destination: String) -> BlobResult<()> {
        let (from_volume, from) = attempt!(self.blob_path(&source));
        let (to_volume, to) = attempt!(self.writable_blob_path(&destination));
        // A copy writes the source's size: counted first, before anything is read or copied.
        let budget = self.ctx.write_budget().clone();
        let meta = attempt!(
            from_volume
                .store()
                .head(from.key_ref())
                .await
                .map_err(blob_error)
        );
        to_volume.stored_unknown(&to, Kind::File);
        budget.spend(meta.size)?;
        attempt!(create_object(&budget));
        if from_volume.same_mount(&to_volume) {
            let limits = to_volume.mount().url.copy_limits();
            let store = from_volume.store().as_ref();
            let copied = worldhost_store::copy_object(
                store,
                from.key_ref(),
                to.key_ref(),
                meta.size,
                limits,
            )
            .await;
            if copied.is_ok() {
                to_volume.mount().stats.wrote(0);
            }
            return Ok(copied.map_err(blob_error));
        }
        // Across mounts the bytes stream through the host, a part at a time (already counted).
        let copied = worldhost_store::copy_across(
            from_volume.store().as_ref(),
            from.key_ref(),
            to_volume.store().as_ref(),
            to.key_ref(),
            meta.size,
            to_volume.mount().url.copy_limits(),
        )
        .await;
        if copied.is_ok() {
            from_volume.mount().stats.read(meta.size);
            to_volume.mount().stats.wrote(meta.size);
        }
        Ok(copied.map_err(blob_error))
    }

    async fn metadata(&mut self, key: String) -> BlobResult<ObjectMetadata> {
        let (volume, path) = attempt!(self.blob_path(&key));
        let meta = attempt!(volume.store().head(&path.key()).await.map_err(blob_error));
        Ok(Ok(ObjectMetadata {
            size: meta.size,
            modified_unix_ms: meta.last_modified.timestamp_millis().max(0) as u64,
            etag: meta.e_tag,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guest_prefixes() {
        assert_eq!(guest_prefix("."), "");
        assert_eq!(guest_prefix("./out/"), "out");
        assert_eq!(guest_prefix("/data"), "/data");
        assert_eq!(guest_prefix("/"), "/");
    }
}
