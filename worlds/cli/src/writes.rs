//! `write-via-stream` for WASI 0.2 guests, writing on the guest's own thread.
//!
//! wasmtime-wasi 48's file output stream hands every `write` to tokio's blocking pool and the
//! guest's next `blocking-flush` waits for it there, even when its context allows filesystem
//! calls on the current thread (`allow_blocking_current_thread`, which its reads honour).
//! That is the path every `write()` of a wasi-libc guest takes: check-write, write,
//! blocking-flush. So a 64 KiB write cost a thread hop and back.
//!
//! Where filesystem calls are made in place (a command run: [`FsCalls::InPlace`]), the stream
//! made here writes in `write` itself, as wasmtime-wasi's reads do; elsewhere (plugins)
//! wasmtime-wasi's own stream is made. The write is wasmtime-wasi's: `pwrite` at the stream's
//! position until every byte is written; an error is the stream's last operation failing
//! with the `io::Error`, so `filesystem-error-code` reports its code. Appending streams
//! (`append-via-stream`) stay wasmtime-wasi's.

use std::os::unix::fs::FileExt;
use std::sync::Arc;

use anyhow::Result;
use bytes::Bytes;
use wasmtime::component::{LinkerInstance, Resource};
use wasmtime_wasi::filesystem::WasiFilesystemView;
use wasmtime_wasi::p2::bindings::filesystem::types::{Descriptor, ErrorCode, HostDescriptor};
use wasmtime_wasi::p2::{DynOutputStream, OutputStream, Pollable, StreamError, StreamResult};
use worldhost_world_api::{FsCalls, WorldHost};

/// What `check-write` permits at once: wasmtime-wasi's own figure for file streams.
const WRITE_CAPACITY: usize = 64 << 10;

/// Redefines `[method]descriptor.write-via-stream` (shadowing allowed).
pub fn shadow<T: WorldHost<()>>(types: &mut LinkerInstance<'_, T>) -> Result<()> {
    types.func_wrap(
        "[method]descriptor.write-via-stream",
        |mut store, (fd, offset): (Resource<Descriptor>, u64)| {
            let in_place = store.data_mut().guest().fs_calls == FsCalls::InPlace;
            let mut view = store.data_mut().filesystem();
            if !in_place {
                return match HostDescriptor::write_via_stream(&mut view, fd, offset) {
                    Ok(stream) => Ok((Ok(stream),)),
                    Err(error) => Ok((Err(error.downcast()?),)),
                };
            }
            // As wasmtime-wasi: a descriptor not in the table traps; one that is not a
            // file, or not writable, is refused.
            let file = match view.table.get(&fd)? {
                wasmtime_wasi::filesystem::Descriptor::File(file) => file,
                wasmtime_wasi::filesystem::Descriptor::Dir(_) => {
                    return Ok((Err(ErrorCode::BadDescriptor),));
                }
            };
            if file.perms.write_not_permitted() {
                return Ok((Err(ErrorCode::NotPermitted),));
            }
            let stream: DynOutputStream = Box::new(InPlaceWrites {
                file: Arc::clone(&file.file),
                position: offset,
                closed: false,
            });
            Ok((Ok(view.table.push(stream)?),))
        },
    )?;
    Ok(())
}

/// A file's output stream that writes on the calling thread, at a position.
struct InPlaceWrites {
    file: Arc<std::fs::File>,
    position: u64,
    /// After a failed write, as wasmtime-wasi's stream: every further call is `closed`.
    closed: bool,
}

impl InPlaceWrites {
    fn open(&self) -> StreamResult<()> {
        if self.closed {
            return Err(StreamError::Closed);
        }
        Ok(())
    }
}

#[async_trait::async_trait]
impl OutputStream for InPlaceWrites {
    fn write(&mut self, bytes: Bytes) -> StreamResult<()> {
        // A write past what `check-write` permitted is taken whole, as wasmtime-wasi takes
        // it (its bytes are already in host memory, bounded by the guest's).
        self.open()?;
        match self.file.write_all_at(&bytes, self.position) {
            Ok(()) => {
                self.position += bytes.len() as u64;
                Ok(())
            }
            Err(error) => {
                self.closed = true;
                Err(StreamError::LastOperationFailed(error.into()))
            }
        }
    }

    fn flush(&mut self) -> StreamResult<()> {
        // Nothing is buffered: each write reached the file before it returned.
        self.open()
    }

    fn check_write(&mut self) -> StreamResult<usize> {
        self.open()?;
        Ok(WRITE_CAPACITY)
    }
}

#[async_trait::async_trait]
impl Pollable for InPlaceWrites {
    async fn ready(&mut self) {}
}
