//! `input-stream.read` and `blocking-read` handing the guest the stream's `Bytes` as they are,
//! and a `blocking-read` with bytes at hand answered without a future.
//!
//! wasmtime-wasi-io's own turn what a stream read into a `Vec<u8>` before it is copied into
//! the guest's memory: free when the stream made the bytes afresh (a local file's `pread`),
//! but a second copy of every byte when they are a slice of something shared, as a read of a
//! `memory:` file's stored object is. Lowered from the `Bytes` themselves (wasmtime's
//! `component-model-bytes`), each byte is copied once, into the guest. The rest is
//! wasmtime-wasi-io's: the same length clamp and readiness wait, the same errors.

use anyhow::Result;
use bytes::Bytes;
use tracing::Instrument;
use wasmtime::component::{Linker, Resource, ResourceTable};
use wasmtime_wasi::WasiView;
use wasmtime_wasi_io::bindings::wasi::io::streams::StreamError as WitStreamError;
use wasmtime_wasi_io::streams::{DynInputStream, StreamError};

use worldhost_world_api::traced;

/// The one version of `wasi:io/streams` wasmtime-wasi-io 48 defines (semver matching serves
/// it to guests importing older 0.2 versions, so shadowing it covers them all).
const STREAMS: &str = "wasi:io/streams@0.2.12";

/// Redefines both reads over wasmtime-wasi-io's (linked first).
pub fn shadow_reads<T: WasiView + 'static>(linker: &mut Linker<T>) -> Result<()> {
    linker.allow_shadowing(true);
    let mut streams = linker.instance(STREAMS)?;
    streams.func_wrap(
        "[method]input-stream.read",
        |mut store, (stream, len): (Resource<DynInputStream>, u64)| {
            let _span = traced::span("streams", "[method]input-stream.read").entered();
            tracing::trace!(self_ = ?stream, len, "call");
            let table = store.data_mut().ctx().table;
            let read = table.get_mut(&stream)?.read(clamp(len));
            traced::returned_as(answer(table, read).map(|read| (read,)), Bytes::len)
        },
    )?;
    streams.func_wrap_async(
        "[method]input-stream.blocking-read",
        |mut store, (stream, len): (Resource<DynInputStream>, u64)| {
            let span = traced::span("streams", "[method]input-stream.blocking-read");
            let entered = span.enter();
            tracing::trace!(self_ = ?stream, len, "call");
            // Bytes at hand (a stored object's body being read through) are what the blocking
            // read would give: answered without a future. Nothing yet: wait for some.
            let table = store.data_mut().ctx().table;
            let ready = match table.get_mut(&stream) {
                Ok(input) => input.read(clamp(len)),
                Err(error) => return Box::new(std::future::ready(Err(error.into()))),
            };
            if !matches!(&ready, Ok(bytes) if bytes.is_empty()) {
                let answer = answer(table, ready).map(|read| (read,));
                return Box::new(std::future::ready(traced::returned_as(answer, Bytes::len)));
            }
            drop(entered);
            Box::new(
                async move {
                    let table = store.data_mut().ctx().table;
                    let read = table.get_mut(&stream)?.blocking_read(clamp(len)).await;
                    let answer = answer(store.data_mut().ctx().table, read).map(|read| (read,));
                    traced::returned_as(answer, Bytes::len)
                }
                .instrument(span),
            )
        },
    )?;
    linker.allow_shadowing(false);
    Ok(())
}

fn clamp(len: u64) -> usize {
    usize::try_from(len).unwrap_or(usize::MAX)
}

/// A read's outcome as the guest gets it: an error's cause pushed as a `wasi:io/error`, a
/// trap as the call's failure.
fn answer(
    table: &mut ResourceTable,
    read: Result<Bytes, StreamError>,
) -> wasmtime::Result<Result<Bytes, WitStreamError>> {
    match read {
        Ok(bytes) => Ok(Ok(bytes)),
        Err(StreamError::Closed) => Ok(Err(WitStreamError::Closed)),
        Err(StreamError::LastOperationFailed(error)) => {
            Ok(Err(WitStreamError::LastOperationFailed(table.push(error)?)))
        }
        Err(StreamError::Trap(error)) => Err(error),
    }
}
