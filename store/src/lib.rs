//! Blob storage for worldhost: everything about stores that is not a filesystem.
//!
//! - [`StoreUrl`]: a store URL parsed once into the store it names (`memory:`, `file:///`,
//!   `s3://`, `gs://`, `az://`, `http(s)://`, and `default` for the embedded default store).
//! - [`LocalRoot`], [`BeneathStore`]: local-directory stores, which never follow a link.
//! - [`Mount`]: a store opened for a guest path, with its byte and object counts.
//! - [`names`]: the object names the host keeps for itself.
//! - [`copy_object`]: copying one object whatever its size ([`copy_across`]: between two stores); [`Upload`]: a multipart upload
//!   aborted when dropped.
//! - [`move_prefix`]: the one way a group of objects moves (directory renames, publishing).
//! - [`WriteBudget`]: the bytes a run may write to stores, across its mounts.
//! - [`staged_files`]: the staged files of local stores, removed by a process ended at its
//!   time limit.
//! - [`StagedOutput`]: a job's output, staged and published only when the job succeeds.
//! - [`ShardStore`]: a sharded job's input, showing only the shard's objects.
//!
//! The cloud world serves its filesystem over these mounts; jobs use them for their modules,
//! inputs and outputs without depending on the cloud world.

mod beneath;
mod budget;
mod copy;
mod default_store;
mod memory;
mod mount;
pub mod names;
mod prefix;
mod shard;
pub mod staged_files;
mod staging;
mod url;

pub use beneath::{
    BeneathStore, EntryKind, LocalDir, LocalRoot, crosses_link, names_nothing, out_of_descriptors,
};
pub use budget::{ObjectLimitExceeded, WriteBudget, WriteLimitExceeded};
pub use copy::{
    COPY_PART_SIZE, CopyLimits, SINGLE_COPY_LIMIT, Upload, copy_across, copy_object, finish_aborts,
};
pub use default_store::default_store_dir;
pub use memory::{MEMORY_STORE_CAPACITY, MemoryStore, MemoryStoreFull, is_store_full};
pub use mount::{LIST_PAGE, ListPage, Mount, MountSpec, MountStats};
pub use prefix::{MoveError, is_placeholder, move_prefix};
pub use shard::ShardStore;
pub use staging::StagedOutput;
pub use url::{StoreKind, StoreUrl};
