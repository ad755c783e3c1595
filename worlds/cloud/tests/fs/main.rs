//! The cloud filesystem's core (`worldhost_world_cloud::fs`), tested without a guest: every
//! namespace operation and the errors it gives, file handles, and properties over random
//! paths and operation sequences, on `InMemory`, a local directory and a prefixed store.

mod files;
mod kept;
mod links;
mod names;
mod ops;
mod posix;
mod props;
mod ready;
mod streams;
mod support;
