//! Wasm modules a job names: a local path, or a URL of an object in a store; checked against
//! the SHA-256 digest the job gives, and cached by digest so a job run again fetches nothing.
//!
//! The cache is `modules/` in the compiled-code cache directory ([`crate::guest::compile_cache`]):
//! `SHA256.wasm` holds a module's bytes. A module named by digest is served from there without
//! asking the store; one named without a digest is looked up by a HEAD request (its ETag and
//! size, recorded in `by-source/`) and fetched only when it changed. Files are written whole
//! (temp file, then rename) and checked against their digest when read, so a damaged entry is
//! fetched again. With `WORLDHOST_CACHE=off`, or when the cache directory is refused (another
//! user owns it or can write it), every module is fetched.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use object_store::ObjectStoreExt;
use sha2::{Digest, Sha256};
use worldhost_store::{Mount, MountSpec, StoreUrl};

/// A module's bytes and where they came from.
pub struct Module {
    /// The source as the job wrote it.
    pub source: String,
    pub bytes: Vec<u8>,
    /// Lowercase hex SHA-256 of `bytes`.
    pub sha256: String,
    /// Whether the bytes were fetched from a store in this run (not a local file or the cache).
    pub fetched: bool,
}

/// Where fetched modules are kept (`None`: caching is off).
pub struct ModuleCache {
    dir: Option<PathBuf>,
}

/// Lowercase hex SHA-256.
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

/// A digest as a job writes it (`HEX` or `sha256:HEX`), checked and lowercased.
pub fn parse_sha256(text: &str) -> Result<String, String> {
    let hex = text.strip_prefix("sha256:").unwrap_or(text);
    if hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        Ok(hex.to_ascii_lowercase())
    } else {
        Err(format!(
            "`{text}` is not a SHA-256 digest (64 hex digits, optionally after `sha256:`; \
             `sha256sum FILE` prints one)"
        ))
    }
}

impl ModuleCache {
    pub fn open() -> Result<ModuleCache> {
        // Only in a cache directory the user alone can write (checked there, once).
        let dir = crate::guest::compile_cache::trusted_dir().map(|dir| dir.join("modules"));
        if let Some(dir) = &dir {
            std::fs::create_dir_all(dir.join("by-source"))
                .with_context(|| format!("cannot create the module cache `{}`", dir.display()))?;
        }
        Ok(ModuleCache { dir })
    }

    /// Reads the module `source` (a path relative to `folder`, or a store URL), checking it
    /// against `expected` (a digest from [`parse_sha256`]).
    pub async fn load(
        &self,
        source: &str,
        expected: Option<&str>,
        folder: &Path,
    ) -> Result<Module> {
        let module = if let Some(path) = local_path(source, folder) {
            let bytes = std::fs::read(&path)
                .with_context(|| format!("cannot read the module `{}`", path.display()))?;
            Module {
                source: source.to_owned(),
                sha256: sha256_hex(&bytes),
                bytes,
                fetched: false,
            }
        } else {
            self.fetch(source, expected).await?
        };
        if let Some(expected) = expected
            && module.sha256 != expected
        {
            bail!(
                "the module `{source}` has SHA-256 {} but the job requires {expected}; \
                 refusing to run it (update `sha256` if the module changed on purpose)",
                module.sha256
            );
        }
        Ok(module)
    }

    /// A module from a store: from the cache when its digest (or its unchanged ETag) is there.
    async fn fetch(&self, source: &str, expected: Option<&str>) -> Result<Module> {
        if let Some(digest) = expected
            && let Some(module) = self.cached(source, digest)
        {
            return Ok(module);
        }
        let (mount, key) = open_store_object(source)?;
        // Without a digest, the object's version (ETag and size, recorded per source) says
        // whether the cached copy is current. Without an ETag a same-size change would go
        // unseen: such objects are always fetched.
        let record = self
            .dir
            .as_ref()
            .filter(|_| expected.is_none())
            .map(|dir| dir.join("by-source").join(sha256_hex(source.as_bytes())));
        let mut version = None;
        if let Some(record) = &record {
            let meta = mount
                .store
                .head(&key)
                .await
                .with_context(|| format!("cannot fetch the module `{source}`"))?;
            version = meta.e_tag.map(|tag| format!("{tag} {}", meta.size));
            if let Some(version) = &version
                && let Ok(recorded) = std::fs::read_to_string(record)
                && let Some((recorded_version, digest)) = recorded.rsplit_once(' ')
                && recorded_version == version
                && let Some(module) = self.cached(source, digest)
            {
                return Ok(module);
            }
        }
        let bytes = async { mount.store.get(&key).await?.bytes().await }
            .await
            .with_context(|| format!("cannot fetch the module `{source}`"))?
            .to_vec();
        let sha256 = sha256_hex(&bytes);
        if let Some(dir) = &self.dir {
            write_whole(&dir.join(format!("{sha256}.wasm")), &bytes)?;
            if let (Some(record), Some(version)) = (&record, &version) {
                // A failed record only costs a fetch next time.
                let _ = write_whole(record, format!("{version} {sha256}").as_bytes());
            }
        }
        tracing::debug!(source, sha256, bytes = bytes.len(), "module fetched");
        Ok(Module {
            source: source.to_owned(),
            bytes,
            sha256,
            fetched: true,
        })
    }

    /// The cached module with `digest`, if the cache holds it undamaged.
    fn cached(&self, source: &str, digest: &str) -> Option<Module> {
        let path = self.dir.as_ref()?.join(format!("{digest}.wasm"));
        let bytes = std::fs::read(&path).ok()?;
        if sha256_hex(&bytes) != digest {
            tracing::warn!(path = %path.display(), "cached module damaged; fetching it again");
            return None;
        }
        tracing::debug!(source, digest, "module from the cache");
        Some(Module {
            source: source.to_owned(),
            bytes,
            sha256: digest.to_owned(),
            fetched: false,
        })
    }
}

/// The local file a source names: a path (relative to `folder`) or a `file://` URL.
fn local_path(source: &str, folder: &Path) -> Option<PathBuf> {
    if let Some(path) = source.strip_prefix("file://") {
        return Some(PathBuf::from(path));
    }
    if source.contains("://") || source.starts_with("memory:") {
        return None;
    }
    Some(folder.join(source))
}

/// The store holding the object a URL names, and the object's key in it.
fn open_store_object(source: &str) -> Result<(Mount, object_store::path::Path)> {
    let (folder, name) = source
        .rsplit_once('/')
        .filter(|(folder, name)| !name.is_empty() && !folder.ends_with('/'))
        .with_context(|| {
            format!(
                "`{source}` names no object: a module URL is a store URL and the object's key, \
                 like s3://BUCKET/PATH/app.wasm"
            )
        })?;
    let url = StoreUrl::parse(folder).map_err(|e| anyhow::anyhow!("the module `{source}`: {e}"))?;
    if !url.outlives_run() {
        bail!("`{source}`: a module cannot come from `memory:`, which is empty at start");
    }
    let mount = Mount::open(&MountSpec {
        url,
        guest: ".".to_owned(),
        read_only: true,
    })?;
    Ok((mount, object_store::path::Path::from(name)))
}

fn write_whole(path: &Path, bytes: &[u8]) -> Result<()> {
    let folder = path.parent().unwrap_or(Path::new("."));
    let temp = tempfile::NamedTempFile::new_in(folder)
        .with_context(|| format!("cannot write to `{}`", folder.display()))?;
    std::fs::write(temp.path(), bytes)?;
    temp.persist(path)
        .with_context(|| format!("cannot write `{}`", path.display()))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digests_parse_with_or_without_prefix() {
        let hex = "AB".repeat(32);
        assert_eq!(parse_sha256(&hex).unwrap(), "ab".repeat(32));
        assert_eq!(
            parse_sha256(&format!("sha256:{hex}")).unwrap(),
            "ab".repeat(32)
        );
        assert!(parse_sha256("abc").unwrap_err().contains("64 hex digits"));
        assert!(parse_sha256(&"zz".repeat(32)).is_err());
    }

    #[test]
    fn sources_are_paths_or_urls() {
        let folder = Path::new("/jobs");
        assert_eq!(
            local_path("m.wasm", folder).unwrap(),
            Path::new("/jobs/m.wasm")
        );
        assert_eq!(
            local_path("file:///x/m.wasm", folder).unwrap(),
            Path::new("/x/m.wasm")
        );
        assert!(local_path("s3://b/m.wasm", folder).is_none());
        assert!(open_store_object("s3://bucket/").is_err());
        let (_, key) = open_store_object("s3://bucket/dir/m.wasm").unwrap();
        assert_eq!(key.as_ref(), "m.wasm");
    }
}
