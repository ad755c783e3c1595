//! `descriptor.read` and `descriptor.unlink-file-at` answered on the spot when they need no
//! store request.
//!
//! The generated binding makes every call a future: the call's state (about 800 bytes for a
//! read, the core's future inside) is built and moved several times before the first poll,
//! about 3 KB of copies a call against a 4 KiB read's one copy into the guest. A call that
//! needs no store request (a local file's `pread`, the staged copy, an object already at hand;
//! the removal of a local file) is made here without a future; any other goes the binding's
//! way, through the same core code ([`crate::fs::File::read_now`], then `read`;
//! [`crate::fs::Dir::unlink_file_now`], then `unlink_file_at`).

use anyhow::Result;
use wasmtime::component::{Linker, Resource};

use super::bindings::wasi::filesystem::types::{ErrorCode, Host, HostDescriptor};
use super::descriptor::Descriptor;
use crate::fs::FsError;
use crate::{CloudFsState, CloudFsView};

/// The version our `wasi:filesystem` 0.2 bindings define (semver matching serves it to guests
/// importing older 0.2 versions, so shadowing it covers them all).
const TYPES: &str = "wasi:filesystem/types@0.2.12";

/// Redefines `descriptor.read` and `descriptor.unlink-file-at` over the binding's (linked
/// first).
pub fn shadow_ready_calls<T: CloudFsState + 'static>(linker: &mut Linker<T>) -> Result<()> {
    linker.allow_shadowing(true);
    let mut types = linker.instance(TYPES)?;
    types.func_wrap_async(
        "[method]descriptor.read",
        |mut store, (fd, len, offset): (Resource<Descriptor>, u64, u64)| {
            let mut fs = store.data_mut().cloud_fs();
            if let Some(read) = fs.read_now(&fd, len, offset) {
                let answer = answer(&mut fs, read);
                return Box::new(std::future::ready(answer));
            }
            Box::new(async move {
                let mut fs = store.data_mut().cloud_fs();
                let read = HostDescriptor::read(&mut fs, fd, len, offset).await;
                answer(&mut fs, read)
            })
        },
    )?;
    types.func_wrap_async(
        "[method]descriptor.unlink-file-at",
        |mut store, (fd, path): (Resource<Descriptor>, String)| {
            let mut fs = store.data_mut().cloud_fs();
            if let Some(unlinked) = fs.unlink_file_now(&fd, &path) {
                let answer = answer(&mut fs, unlinked);
                return Box::new(std::future::ready(answer));
            }
            Box::new(async move {
                let mut fs = store.data_mut().cloud_fs();
                let unlinked = HostDescriptor::unlink_file_at(&mut fs, fd, path).await;
                answer(&mut fs, unlinked)
            })
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
