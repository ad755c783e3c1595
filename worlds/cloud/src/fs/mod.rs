//! The cloud filesystem: POSIX-style files and directories over an object store, as plain
//! Rust, independent of any WIT version. `wasi:filesystem` adapters (see [`crate::p2`]) fetch
//! handles from their resource tables, call this, and map [`ErrorCode`] to their own.
//!
//! - A [`Volume`] is one mount as the filesystem sees it: the store, the directories known
//!   to exist, and for a local-directory store the host path of each key.
//! - A [`Dir`] is a directory handle (a volume and a path in it); its methods are the
//!   namespace operations (`stat_at`, `open_at`, `rename_at`, ...), each resolving a guest
//!   path with [`path::RelPath`] (never above the volume's root).
//! - A [`File`] is an open file handle over an [`OpenFile`]: ranged reads of the stored
//!   object, writes staged in a private copy (a *spool*) until sync or close.
//! - [`FsCtx`] is the filesystem of one run: its volumes, its write budget, and the files
//!   its guest has open, committed when it exits.
//!
//! Directories are key prefixes; a directory the guest creates is kept by a marker object
//! ([`path::DIR_MARKER`]) so it survives empty, and markers never show up in listings. See
//! `worlds/cloud/README.md` for every operation's semantics.

/// In a `*_now` function (which answers `None` when the call would wait), the value of another
/// such call's `Option<FsResult<T>>`: its `None` or its error is returned at once.
macro_rules! now {
    ($call:expr) => {
        match $call? {
            Ok(value) => value,
            Err(error) => return Some(Err(error)),
        }
    };
}
pub(crate) use now;

mod ctx;
mod dir;
mod error;
mod file;
mod handle;
mod held;
mod listing;
mod local;
pub mod path;
mod spool;
mod volume;

use std::time::SystemTime;

pub use ctx::{FsCtx, WriteBudget, WriteLimitExceeded};
pub use dir::Dir;
pub use error::{ErrorCode, FsError, FsResult, is_not_found, spool_error, store_error};
pub use file::{MEMORY_SPOOL_LIMIT, OpenFile, ReadBytes, StoredBody, UPLOAD_PART_SIZE};
pub use handle::{File, Handle, MAX_READ};
pub use held::{BufferMemory, RUN_BUFFER_MEMORY};
pub use listing::Listing;
pub use volume::{Entry, Volume};

/// What a path names, when it names something.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    File,
    Dir,
}

/// What `stat` tells: the kind, the size (0 for directories), and the modification time
/// (the last write's or the one the guest set in this run, else the object's; for directories
/// only one the guest set).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stat {
    pub kind: Kind,
    pub size: u64,
    pub modified: Option<SystemTime>,
}

impl Stat {
    fn file(size: u64, modified: Option<SystemTime>) -> Stat {
        Stat {
            kind: Kind::File,
            size,
            modified,
        }
    }

    /// A directory: size 0, and the time the guest set on it in this run, if any.
    fn dir(modified: Option<SystemTime>) -> Stat {
        Stat {
            kind: Kind::Dir,
            size: 0,
            modified,
        }
    }
}

/// One entry of a directory listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirEntry {
    pub name: String,
    pub kind: Kind,
}

/// A hash naming a path in a mount: the same for every handle and every run, different for
/// different paths (what guests use as inode numbers).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct MetadataHash {
    pub lower: u64,
    pub upper: u64,
}

/// How to open a path ([`Dir::open_at`]): POSIX's `O_CREAT`, `O_EXCL`, `O_TRUNC` and
/// `O_DIRECTORY`, the access wanted, and whether the handle may change the directory.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OpenOptions {
    pub create: bool,
    pub exclusive: bool,
    pub truncate: bool,
    pub directory: bool,
    pub read: bool,
    pub write: bool,
    pub mutate_directory: bool,
}
