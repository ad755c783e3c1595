//! `wasi:filesystem` calls answered on the spot when they need no store request: `read`,
//! `stat`, `stat-at`, `metadata-hash-at`, `open-at` (one that changes nothing),
//! `unlink-file-at`, `read-directory-entry` and dropping a descriptor.
//!
//! The generated binding makes every call a future: the call's state (about 800 bytes for a
//! read, the core's futures inside) is built and moved several times before the first poll,
//! about 3 KB of copies a call, and a profile of many small calls shows those copies as a
//! tenth of the host's time. A call that needs no store request (a local file's `pread` or
//! `stat`, the staged copy, an object or a listing page already at hand, a file the run
//! stored or listed, the removal of a local file) is made here without a future; any other
//! goes the binding's way, through the same core code (each core `*_now` function, such as
//! [`crate::fs::Dir::stat_at_now`], answers `None` when the call would wait).

use anyhow::Result;
use tracing::Instrument;
use wasmtime::component::{Linker, Resource, ResourceType};

use super::bindings::wasi::filesystem::types::{
    DescriptorFlags, ErrorCode, Host, HostDescriptor, HostDirectoryEntryStream, OpenFlags,
    PathFlags,
};
use super::descriptor::{Descriptor, DirectoryEntryStream};
use crate::fs::FsError;
use crate::{CloudFsState, CloudFsView};
use worldhost_world_api::traced::{self, Answer};

/// The version our `wasi:filesystem` 0.2 bindings define (semver matching serves it to guests
/// importing older 0.2 versions, so shadowing it covers them all).
const TYPES: &str = "wasi:filesystem/types@0.2.12";

/// Defines the function `$name` over the binding's: `$now` gives the answer if it has it
/// (`Some`) with no future built; otherwise the binding's `$later` runs, as a future. Either
/// way traced as the binding traces it, the answer by `$trace`.
macro_rules! ready_or_later {
    ($types:ident, $name:literal, |$fs:ident, $($arg:ident: $ty:ty),*| $now:expr, $later:path, $trace:path) => {
        $types.func_wrap_async($name, |mut store, ($($arg,)*): ($($ty,)*)| {
            let span = traced::span("types", $name);
            let entered = span.enter();
            tracing::trace!($($arg = ?$arg,)* "call");
            let mut $fs = store.data_mut().cloud_fs();
            if let Some(answered) = $now {
                let answer = $trace(answer(&mut $fs, answered));
                return Box::new(std::future::ready(answer));
            }
            drop(entered);
            Box::new(
                async move {
                    let mut fs = store.data_mut().cloud_fs();
                    let answered = $later(&mut fs, $($arg),*).await;
                    $trace(answer(&mut fs, answered))
                }
                .instrument(span),
            )
        })?;
    };
}

/// Redefines the calls above over the binding's (linked first).
pub fn shadow_ready_calls<T: CloudFsState + 'static>(linker: &mut Linker<T>) -> Result<()> {
    linker.allow_shadowing(true);
    let mut types = linker.instance(TYPES)?;
    ready_or_later!(
        types,
        "[method]descriptor.read",
        |fs, fd: Resource<Descriptor>, len: u64, offset: u64| fs.read_now(&fd, len, offset),
        HostDescriptor::read,
        returned_read
    );
    ready_or_later!(
        types,
        "[method]descriptor.unlink-file-at",
        |fs, fd: Resource<Descriptor>, path: String| fs.unlink_file_now(&fd, &path),
        HostDescriptor::unlink_file_at,
        traced::returned
    );
    ready_or_later!(
        types,
        "[method]descriptor.stat",
        |fs, fd: Resource<Descriptor>| fs.stat_now(&fd),
        HostDescriptor::stat,
        traced::returned
    );
    ready_or_later!(
        types,
        "[method]descriptor.stat-at",
        |fs, fd: Resource<Descriptor>, flags: PathFlags, path: String| fs
            .stat_at_now(&fd, flags, &path),
        HostDescriptor::stat_at,
        traced::returned
    );
    ready_or_later!(
        types,
        "[method]descriptor.metadata-hash-at",
        |fs, fd: Resource<Descriptor>, flags: PathFlags, path: String| fs
            .metadata_hash_at_now(&fd, &path),
        HostDescriptor::metadata_hash_at,
        traced::returned
    );
    ready_or_later!(
        types,
        "[method]descriptor.open-at",
        |fs,
         fd: Resource<Descriptor>,
         path_flags: PathFlags,
         path: String,
         oflags: OpenFlags,
         flags: DescriptorFlags| fs.open_at_now(&fd, &path, oflags, flags),
        HostDescriptor::open_at,
        traced::returned
    );
    ready_or_later!(
        types,
        "[method]directory-entry-stream.read-directory-entry",
        |fs, stream: Resource<DirectoryEntryStream>| fs.read_directory_entry_now(&stream),
        HostDirectoryEntryStream::read_directory_entry,
        traced::returned
    );
    // Dropping a descriptor closes its file: a wait only if the close stores something.
    types.resource_async(
        "descriptor",
        ResourceType::host::<Descriptor>(),
        |mut store, rep| {
            let closing = store.data_mut().cloud_fs().drop_now(Resource::new_own(rep));
            match closing {
                Ok(Some(file)) => Box::new(async move {
                    // Closing commits; a commit that fails stops the run.
                    store.data_mut().cloud_fs().ctx.close(file).await
                }),
                Ok(None) => Box::new(std::future::ready(Ok(()))),
                Err(error) => Box::new(std::future::ready(Err(error))),
            }
        },
    )?;
    linker.allow_shadowing(false);
    Ok(())
}

/// A call's outcome as the guest gets it: the error's code, or a trap as the call's failure.
fn answer<R>(
    fs: &mut CloudFsView<'_>,
    outcome: Result<R, FsError>,
) -> wasmtime::Result<(Result<R, ErrorCode>,)> {
    match outcome {
        Ok(value) => Ok((Ok(value),)),
        Err(error) => Ok((Err(fs.convert_error_code(error)?),)),
    }
}

/// The `return` event of a `read`: the bytes by their length.
fn returned_read(answer: Answer<(Vec<u8>, bool), ErrorCode>) -> Answer<(Vec<u8>, bool), ErrorCode> {
    traced::returned_as(answer, |(bytes, end)| (bytes.len(), *end))
}
