//! `wasi:io` streams over an open file: what guests' `read()` and `write()` go through.
//! Reads and writes are the core's ([`OpenFile`]); this is their `wasi:io` shape.

use std::sync::Arc;

use bytes::Bytes;
use wasmtime_wasi_io::poll::Pollable;
use wasmtime_wasi_io::streams::{InputStream, OutputStream, StreamError, StreamResult};

use crate::fs::{ErrorCode, FsError, OpenFile, StoredBody};

/// The first ranged read of a stream fetches this much, so a short read fetches little; a
/// reader that goes on past it gets the rest of the object by one GET, read as the guest reads
/// ([`OpenFile::stored_body`]). Should that GET not fit the run's buffer memory, fail, end
/// early or the file change under it, ranged reads take over, each doubling the window up to
/// [`MAX_READ_WINDOW`]. A local file, or a staged copy the run kept of what it stored, is
/// read as asked (the page cache is its window): one `pread` into a buffer that goes to the
/// guest whole, as wasmtime's own file streams do. So is an in-memory object once fetched.
const FIRST_READ_WINDOW: u64 = 64 << 10;
const MAX_READ_WINDOW: u64 = 8 << 20;
/// What an open GET of the rest of an object counts against the run's buffer memory: about
/// what its connection may hold ahead of the guest. It bounds how many a run keeps open at once
/// (64 with the default 64 MiB, however many files the guest reads); past it, streams read by
/// windows.
const STREAMED_BODY_HOLD: u64 = 1 << 20;
/// How much a write may hand over at once.
pub(crate) const WRITE_BUDGET: usize = 1 << 20;

/// What a read of content at hand asks for (a local file, whose window is the page cache, or
/// a copy the host holds): what the guest asks for, within bounds.
fn local_len(want: u64) -> u64 {
    match want {
        0 => FIRST_READ_WINDOW,
        want => want.min(MAX_READ_WINDOW),
    }
}

fn failed(error: impl std::fmt::Display) -> StreamError {
    StreamError::LastOperationFailed(wasmtime::format_err!("{error}"))
}

/// A filesystem error as a stream error: its code reaches `filesystem-error-code`, and a
/// host fault (a limit) still stops the run.
fn stream_error(error: FsError) -> StreamError {
    match error {
        FsError::Trap(error) => StreamError::Trap(error),
        FsError::Code(code) => {
            StreamError::LastOperationFailed(wasmtime::Error::new(StreamCode(code)))
        }
    }
}

/// Reads a file sequentially from an offset.
pub struct FileInputStream {
    file: Arc<OpenFile>,
    position: u64,
    /// Where the stream started.
    start: u64,
    /// Fetched but not yet handed to the guest.
    buffer: Bytes,
    window: u64,
    /// What the window holds of the run's buffer memory beyond the first window's size.
    holding: u64,
    at_end: bool,
    /// A failed fetch from `ready`, for the next `read` to report.
    failure: Option<StreamError>,
    /// The rest of a cloud store's object, streamed by one GET, once the first window is read.
    body: Option<StoredBody>,
    /// Whether the stream has tried a GET of the rest (once: after it, windows go on).
    streamed: bool,
}

impl FileInputStream {
    pub fn new(file: Arc<OpenFile>, position: u64) -> FileInputStream {
        FileInputStream {
            file,
            position,
            start: position,
            buffer: Bytes::new(),
            window: FIRST_READ_WINDOW,
            holding: 0,
            at_end: false,
            failure: None,
            body: None,
            streamed: false,
        }
    }

    /// Fetches the next window into the buffer (at least `want` bytes if the file has them).
    async fn fill(&mut self, want: u64) -> StreamResult<()> {
        if self.fill_now(want)? {
            return Ok(());
        }
        let len = if self.file.volume().is_local() {
            local_len(want)
        } else {
            if self.position > self.start && !self.streamed {
                // Read on past the first window: the rest in one request.
                self.open_body().await;
            }
            if let Some(body) = &mut self.body {
                match self.file.next_stored_chunk(body).await {
                    Some(chunk) => {
                        self.position += chunk.len() as u64;
                        self.buffer = chunk;
                        return Ok(());
                    }
                    // Ended, failed, or out of date: ranged reads from here say which.
                    None => self.close_body(),
                }
            }
            self.window_len(want)
        };
        let bytes = self.file.read(self.position, len).await;
        self.hold(bytes)
    }

    /// [`FileInputStream::fill`] when that needs no wait: bytes at hand, or content the file
    /// reads without a store request (a local file's `pread`, a kept copy, an in-memory
    /// object already fetched), read as asked, the file not busy with another call. `false` if
    /// it would wait.
    fn fill_now(&mut self, want: u64) -> StreamResult<bool> {
        if !self.buffer.is_empty() || self.at_end {
            return Ok(true);
        }
        match self.file.read_now(self.position, local_len(want)) {
            Some(bytes) => self.hold(bytes).map(|()| true),
            None => Ok(false),
        }
    }

    /// Keeps what a read of the file at the stream's position gave, for the guest to take.
    fn hold(&mut self, bytes: Result<Bytes, FsError>) -> StreamResult<()> {
        let bytes = bytes.map_err(stream_error)?;
        self.position += bytes.len() as u64;
        self.at_end = bytes.is_empty();
        self.buffer = bytes;
        Ok(())
    }

    /// Opens one GET of the rest of the object (once a stream), if the run's buffer memory has
    /// room for one more ([`STREAMED_BODY_HOLD`]). Any failure leaves the stream to ranged
    /// reads, which report errors.
    async fn open_body(&mut self) {
        self.streamed = true;
        let memory = self.file.run_memory().cloned();
        if memory
            .as_ref()
            .is_some_and(|memory| !memory.try_hold(STREAMED_BODY_HOLD))
        {
            return;
        }
        match self.file.stored_body(self.position).await {
            Ok(Some(body)) => self.body = Some(body),
            _ => {
                if let Some(memory) = memory {
                    memory.release(STREAMED_BODY_HOLD);
                }
            }
        }
    }

    /// Drops the GET of the rest, giving back what it held of the run's buffer memory.
    fn close_body(&mut self) {
        if self.body.take().is_some()
            && let Some(memory) = self.file.run_memory()
        {
            memory.release(STREAMED_BODY_HOLD);
        }
    }

    /// The next window of a ranged read (at least `want` bytes), which then doubles. Windows
    /// beyond the first size draw on the run's buffer memory; when it is spent, the stream goes
    /// on with first-size windows (more requests, never more memory).
    fn window_len(&mut self, want: u64) -> u64 {
        let len = self.window.max(want.min(MAX_READ_WINDOW));
        self.window = (self.window * 2).min(MAX_READ_WINDOW);
        match self.file.run_memory() {
            Some(memory) if len > FIRST_READ_WINDOW + self.holding => {
                if memory.try_hold(len - FIRST_READ_WINDOW - self.holding) {
                    self.holding = len - FIRST_READ_WINDOW;
                    len
                } else {
                    FIRST_READ_WINDOW + self.holding
                }
            }
            _ => len,
        }
    }

    fn take(&mut self, size: usize) -> StreamResult<Bytes> {
        if let Some(failure) = self.failure.take() {
            return Err(failure);
        }
        if self.buffer.is_empty() && self.at_end {
            return Err(StreamError::Closed);
        }
        if size >= self.buffer.len() {
            // All of it: the buffer alone owns its memory, which then becomes the guest's
            // `list<u8>` without a copy.
            return Ok(std::mem::take(&mut self.buffer));
        }
        Ok(self.buffer.split_to(size))
    }
}

impl Drop for FileInputStream {
    fn drop(&mut self) {
        self.close_body();
        if let Some(memory) = self.file.run_memory() {
            memory.release(self.holding);
        }
    }
}

#[async_trait::async_trait]
impl InputStream for FileInputStream {
    fn read(&mut self, size: usize) -> StreamResult<Bytes> {
        // Non-blocking: hand over what `ready` fetched, or a local file's bytes, read now
        // (nothing yet means "not ready").
        if self.failure.is_none() {
            self.fill_now(size as u64)?;
        }
        self.take(size)
    }

    async fn blocking_read(&mut self, size: usize) -> StreamResult<Bytes> {
        self.fill(size as u64).await?;
        self.take(size)
    }
}

#[async_trait::async_trait]
impl Pollable for FileInputStream {
    async fn ready(&mut self) {
        // An error is kept for the next `read` to report.
        if let Err(failure) = self.fill(0).await {
            self.failure = Some(failure);
        }
    }
}

/// Writes into a file's spool at a position, or at its end when appending.
pub struct FileOutputStream {
    file: Arc<OpenFile>,
    /// `None` appends.
    position: Option<u64>,
}

impl FileOutputStream {
    /// The file must be ready for writes (see [`OpenFile::prepare_write`]).
    pub fn new(file: Arc<OpenFile>, position: Option<u64>) -> FileOutputStream {
        FileOutputStream { file, position }
    }
}

#[async_trait::async_trait]
impl OutputStream for FileOutputStream {
    fn write(&mut self, bytes: Bytes) -> StreamResult<()> {
        self.file
            .write_now(self.position, &bytes)
            .map_err(stream_error)?;
        if let Some(position) = &mut self.position {
            *position += bytes.len() as u64;
        }
        Ok(())
    }

    fn flush(&mut self) -> StreamResult<()> {
        // Content is staged; it reaches the store on sync or close. A commit that already
        // failed is reported here too, so the guest cannot miss it.
        match self.file.failure_now().map_err(stream_error)? {
            Some(error) => Err(failed(format!("an earlier upload failed: {error}"))),
            None => Ok(()),
        }
    }

    fn check_write(&mut self) -> StreamResult<usize> {
        Ok(WRITE_BUDGET)
    }
}

#[async_trait::async_trait]
impl Pollable for FileOutputStream {
    async fn ready(&mut self) {}
}

/// A stream error that carries a WASI error code, for `filesystem-error-code` to report.
#[derive(Debug)]
pub struct StreamCode(pub ErrorCode);

impl std::fmt::Display for StreamCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}", self.0)
    }
}

impl std::error::Error for StreamCode {}

/// A stream on a handle opened without the access it needs: made like any other (as
/// wasmtime-wasi does), but every read or write fails with `bad-descriptor`.
pub struct DeniedStream;

impl DeniedStream {
    fn error() -> StreamError {
        StreamError::LastOperationFailed(wasmtime::Error::new(StreamCode(ErrorCode::BadDescriptor)))
    }
}

#[async_trait::async_trait]
impl InputStream for DeniedStream {
    fn read(&mut self, _: usize) -> StreamResult<Bytes> {
        Err(Self::error())
    }
}

#[async_trait::async_trait]
impl OutputStream for DeniedStream {
    fn write(&mut self, _: Bytes) -> StreamResult<()> {
        Err(Self::error())
    }

    fn flush(&mut self) -> StreamResult<()> {
        Ok(())
    }

    fn check_write(&mut self) -> StreamResult<usize> {
        Err(Self::error())
    }
}

#[async_trait::async_trait]
impl Pollable for DeniedStream {
    async fn ready(&mut self) {}
}
