//! `read-via-stream` and `write-via-stream` for WASI 0.2 guests, reading and writing on the
//! guest's own thread.
//!
//! wasmtime-wasi 48's file output stream hands every `write` to tokio's blocking pool and the
//! guest's next `blocking-flush` waits for it there, even when its context allows filesystem
//! calls on the current thread (`allow_blocking_current_thread`, which its reads honour).
//! That is the path every `write()` of a wasi-libc guest takes: check-write, write,
//! blocking-flush. So a 64 KiB write cost a thread hop and back. Its input stream reads in
//! place, but into a buffer it zeroes first: 64 KiB of `memset` before every 64 KiB `pread`.
//!
//! Where filesystem calls are made in place (a command run: [`FsCalls::InPlace`]), the streams
//! made here read and write in `read` and `write` themselves; elsewhere (plugins)
//! wasmtime-wasi's own streams are made. The system calls are wasmtime-wasi's: `pread` of at
//! most 64 KiB (end of file closes the stream), `pwrite` at the stream's position until every
//! byte is written, `EINTR` retried; an error is the stream's last operation failing with the
//! `io::Error`, so `filesystem-error-code` reports its code, and the stream is closed after
//! it. Appending streams (`append-via-stream`) stay wasmtime-wasi's.

use std::os::unix::fs::FileExt;
use std::sync::Arc;

use anyhow::Result;
use bytes::Bytes;
use rustix::buffer::spare_capacity;
use wasmtime::component::{LinkerInstance, Resource};
use wasmtime_wasi::filesystem::{File, WasiFilesystemCtxView, WasiFilesystemView};
use wasmtime_wasi::p2::FsResult;
use wasmtime_wasi::p2::bindings::filesystem::types::{Descriptor, ErrorCode, HostDescriptor};
use wasmtime_wasi::p2::{
    DynInputStream, DynOutputStream, InputStream, OutputStream, Pollable, StreamError, StreamResult,
};
use worldhost_world_api::{FsCalls, WorldHost, traced};

use crate::answer;

/// What `check-write` permits at once, and the most one read returns: wasmtime-wasi's own
/// figures for file streams.
const WRITE_CAPACITY: usize = 64 << 10;
const MAX_READ: usize = 64 << 10;

/// Redefines `[method]descriptor.read-via-stream` and `write-via-stream` (shadowing allowed).
pub fn shadow<T: WorldHost<()>>(types: &mut LinkerInstance<'_, T>) -> Result<()> {
    types.func_wrap(
        "[method]descriptor.read-via-stream",
        |mut store, (fd, offset): (Resource<Descriptor>, u64)| {
            let _span = traced::span("types", "[method]descriptor.read-via-stream").entered();
            tracing::trace!(self_ = ?fd, offset, "call");
            let in_place = store.data_mut().guest().fs_calls == FsCalls::InPlace;
            let mut view = store.data_mut().filesystem();
            if !in_place {
                return traced::returned(answer(HostDescriptor::read_via_stream(
                    &mut view, fd, offset,
                )));
            }
            // As wasmtime-wasi: a directory is `is-directory` (POSIX `EISDIR` on read); no
            // permission is checked here.
            traced::returned(answer(push_stream(
                &mut view,
                &fd,
                ErrorCode::IsDirectory,
                |file| {
                    let stream: DynInputStream = Box::new(InPlaceReads {
                        file: Arc::clone(&file.file),
                        position: offset,
                        closed: false,
                    });
                    Ok(stream)
                },
            )))
        },
    )?;
    types.func_wrap(
        "[method]descriptor.write-via-stream",
        |mut store, (fd, offset): (Resource<Descriptor>, u64)| {
            let _span = traced::span("types", "[method]descriptor.write-via-stream").entered();
            tracing::trace!(self_ = ?fd, offset, "call");
            let in_place = store.data_mut().guest().fs_calls == FsCalls::InPlace;
            let mut view = store.data_mut().filesystem();
            if !in_place {
                return traced::returned(answer(HostDescriptor::write_via_stream(
                    &mut view, fd, offset,
                )));
            }
            // As wasmtime-wasi: a directory is a bad descriptor here, a file not writable
            // under its preopen's permissions is refused.
            traced::returned(answer(push_stream(
                &mut view,
                &fd,
                ErrorCode::BadDescriptor,
                |file| {
                    if file.perms.write_not_permitted() {
                        return Err(ErrorCode::NotPermitted.into());
                    }
                    let stream: DynOutputStream = Box::new(InPlaceWrites {
                        file: Arc::clone(&file.file),
                        position: offset,
                        closed: false,
                    });
                    Ok(stream)
                },
            )))
        },
    )?;
    Ok(())
}

/// Pushes to the table the stream `make` makes over the file `fd` names: a descriptor not in the
/// table traps (as in wasmtime-wasi), a directory is `on_dir`.
fn push_stream<S: Send + 'static>(
    view: &mut WasiFilesystemCtxView<'_>,
    fd: &Resource<Descriptor>,
    on_dir: ErrorCode,
    make: impl FnOnce(&File) -> FsResult<S>,
) -> FsResult<Resource<S>> {
    let stream = match view.table.get(fd)? {
        wasmtime_wasi::filesystem::Descriptor::File(file) => make(file)?,
        wasmtime_wasi::filesystem::Descriptor::Dir(_) => return Err(on_dir.into()),
    };
    Ok(view.table.push(stream)?)
}

/// A file's input stream that reads on the calling thread, from a position.
struct InPlaceReads {
    file: Arc<std::fs::File>,
    position: u64,
    /// At the end of the file, or after a failed read: every further read is `closed`.
    closed: bool,
}

#[async_trait::async_trait]
impl InputStream for InPlaceReads {
    fn read(&mut self, size: usize) -> StreamResult<Bytes> {
        if self.closed {
            return Err(StreamError::Closed);
        }
        if size == 0 {
            return Ok(Bytes::new());
        }
        // Read into the buffer's spare capacity: nothing to zero first.
        let limit = size.min(MAX_READ);
        let mut buffer = Vec::with_capacity(limit);
        loop {
            match rustix::io::pread(&*self.file, spare_capacity(&mut buffer), self.position) {
                Ok(_) if buffer.is_empty() => {
                    self.closed = true;
                    return Err(StreamError::Closed);
                }
                Ok(_) => {
                    // The allocation may hold more than asked; never return more.
                    buffer.truncate(limit);
                    self.position += buffer.len() as u64;
                    return Ok(Bytes::from(buffer));
                }
                Err(rustix::io::Errno::INTR) => {}
                Err(error) => {
                    self.closed = true;
                    return Err(StreamError::LastOperationFailed(
                        std::io::Error::from(error).into(),
                    ));
                }
            }
        }
    }
}

#[async_trait::async_trait]
impl Pollable for InPlaceReads {
    async fn ready(&mut self) {}
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
