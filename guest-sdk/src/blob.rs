//! Blobs in the stores the host mounts, read and written whole (or by range) without going
//! through the filesystem.
//!
//! A key is a path as the guest's filesystem sees it — `docs/a.txt`, `outputs/report.txt`,
//! `/data/x.bin` — resolved against the same mounts as `std::fs`: a blob [`put`] here is a file
//! there, and a file closed there is a blob here, at once. Keys are relative to the guest's
//! working directory (`.`) unless they start with `/`.
//!
//! Only the `cloud` world (and plugins, which get the cloud world's imports) offers this
//! interface; a guest that calls it cannot run in the `cli` world (`host inspect` says so).
//!
//! ```no_run
//! use worldhost::blob;
//!
//! fn archive(key: &str) -> Result<u64, blob::Error> {
//!     let data = blob::get(key)?;
//!     blob::put(&format!("archive/{key}"), &data)?;
//!     blob::delete(key)?;
//!     Ok(data.len() as u64)
//! }
//! ```

use std::fmt;
use std::time::{Duration, SystemTime};

use crate::__private::imports::worldhost::host::blob as wit;

/// Why a blob operation failed.
///
/// It implements [`std::error::Error`], so `?` turns it into a `Box<dyn Error>`, an
/// `anyhow::Error` or (in a plugin) a [`PluginError`](crate::PluginError).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    /// No object at that key.
    NotFound,
    /// The key is in a read-only mount, or in no mount at all.
    NotPermitted,
    /// The key is not a valid path (`..` above its mount, control characters); says why.
    InvalidKey(String),
    /// The store failed (network, server, permissions); the message says how.
    Io(String),
}

impl Error {
    /// A short machine-readable code: `not-found`, `not-permitted`, `invalid-key` or `io`
    /// (the WIT case names).
    pub fn code(&self) -> &'static str {
        match self {
            Error::NotFound => "not-found",
            Error::NotPermitted => "not-permitted",
            Error::InvalidKey(_) => "invalid-key",
            Error::Io(_) => "io",
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::NotFound => f.write_str("no blob at that key"),
            Error::NotPermitted => {
                f.write_str("not permitted: the key is in a read-only mount or in no mount")
            }
            Error::InvalidKey(why) => write!(f, "invalid key: {why}"),
            Error::Io(message) => write!(f, "store error: {message}"),
        }
    }
}

impl std::error::Error for Error {}

impl From<wit::Error> for Error {
    fn from(error: wit::Error) -> Error {
        match error {
            wit::Error::NotFound => Error::NotFound,
            wit::Error::NotPermitted => Error::NotPermitted,
            wit::Error::InvalidKey(why) => Error::InvalidKey(why),
            wit::Error::Io(message) => Error::Io(message),
        }
    }
}

/// One object found by [`list`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Its key, in the form [`list`]'s prefix was given (a guest path).
    pub key: String,
    /// Size in bytes.
    pub size: u64,
}

/// What a store knows of an object, from [`metadata`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Metadata {
    /// Size in bytes.
    pub size: u64,
    /// Last modification, in milliseconds since the Unix epoch.
    pub modified_unix_ms: u64,
    /// The store's entity tag, when it has one.
    pub etag: Option<String>,
}

impl Metadata {
    /// The last modification as a [`SystemTime`].
    pub fn modified(&self) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_millis(self.modified_unix_ms)
    }
}

/// Every object whose key starts with `prefix`, sorted by key. A directory path (`docs/`)
/// lists everything below it, recursively; directory markers are not listed.
pub fn list(prefix: &str) -> Result<Vec<Entry>, Error> {
    Ok(wit::list(prefix)?
        .into_iter()
        .map(|entry| Entry {
            key: entry.key,
            size: entry.size,
        })
        .collect())
}

/// The whole object at `key`; one larger than the guest's memory limit is refused (read it
/// with [`get_range`] in parts, or as a file with `std::fs`).
pub fn get(key: &str) -> Result<Vec<u8>, Error> {
    Ok(wit::get(key)?)
}

/// `len` bytes from `offset` (fewer at the end of the object, none past it); only that range
/// is fetched from the store.
pub fn get_range(key: &str, offset: u64, len: u64) -> Result<Vec<u8>, Error> {
    Ok(wit::get_range(key, offset, len)?)
}

/// Stores `data` at `key`, replacing what was there, atomically: readers see the old object or
/// the new one, never part of it.
pub fn put(key: &str, data: &[u8]) -> Result<(), Error> {
    Ok(wit::put(key, data)?)
}

/// Removes the object at `key`; [`Error::NotFound`] if there was none.
pub fn delete(key: &str) -> Result<(), Error> {
    Ok(wit::delete(key)?)
}

/// Whether an object is at `key`.
pub fn exists(key: &str) -> Result<bool, Error> {
    Ok(wit::exists(key)?)
}

/// Copies the object at `source` to `destination` within its store (server-side where the
/// store can).
pub fn copy(source: &str, destination: &str) -> Result<(), Error> {
    Ok(wit::copy(source, destination)?)
}

/// What the store knows of the object at `key`.
pub fn metadata(key: &str) -> Result<Metadata, Error> {
    let metadata = wit::metadata(key)?;
    Ok(Metadata {
        size: metadata.size,
        modified_unix_ms: metadata.modified_unix_ms,
        etag: metadata.etag,
    })
}
