//! The p3 shape of a file's reads and writes and of a directory listing: a host-side
//! `StreamProducer` or `StreamConsumer` over the same core calls the 0.2 streams make, each
//! with a `future` that tells how the stream ended.
//!
//! Reads reuse the 0.2 [`FileInputStream`] (its growing ranged-read windows, charged to the
//! run's buffer memory); writes stage through [`OpenFile::write_now`], at most
//! [`WRITE_BUDGET`] bytes a call; listings read a [`Listing`] a page at a time.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use tokio::sync::oneshot;
use wasmtime::StoreContextMut;
use wasmtime::component::{Destination, Source, StreamConsumer, StreamProducer, StreamResult};
use wasmtime_wasi_io::streams::{InputStream, StreamError};

use super::bindings::wasi::filesystem::types::{DirectoryEntry, ErrorCode};
use super::descriptor::{descriptor_type, wit_error_code};
use crate::fs::{self, BufferMemory, Dir, FsError, Listing, OpenFile};
use crate::p2::streams::{FileInputStream, StreamCode, WRITE_BUDGET};

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

/// Where a stream's outcome goes: the `future<result<_, error-code>>` handed out beside it.
/// Sent once; a stream dropped before its end (the guest stopped reading) ended well.
pub struct Outcome(Option<oneshot::Sender<Result<(), ErrorCode>>>);

impl Outcome {
    pub fn new() -> (Outcome, oneshot::Receiver<Result<(), ErrorCode>>) {
        let (tx, rx) = oneshot::channel();
        (Outcome(Some(tx)), rx)
    }

    pub fn send(&mut self, result: Result<(), ErrorCode>) {
        if let Some(tx) = self.0.take() {
            // The guest may have dropped the future: nobody to tell.
            let _ = tx.send(result);
        }
    }

    /// Ends the stream with a core error: its code goes to the future, a trap stops the run.
    fn fail(&mut self, error: FsError) -> Poll<wasmtime::Result<StreamResult>> {
        match error {
            FsError::Code(code) => {
                self.send(Err(wit_error_code(code)));
                Poll::Ready(Ok(StreamResult::Dropped))
            }
            FsError::Trap(error) => Poll::Ready(Err(error)),
        }
    }
}

impl Drop for Outcome {
    fn drop(&mut self) {
        self.send(Ok(()));
    }
}

/// How much a host reader (not a guest) is handed at once.
const HOST_READ: usize = 64 << 10;

/// `read-via-stream`: a file's bytes from an offset.
pub struct FileReader {
    /// `None` while a fetch holds it, and once the file ended.
    input: Option<FileInputStream>,
    fetch: Option<BoxFuture<(FileInputStream, Result<Bytes, StreamError>)>>,
    outcome: Outcome,
}

impl FileReader {
    pub fn new(file: Arc<OpenFile>, offset: u64, outcome: Outcome) -> FileReader {
        FileReader {
            input: Some(FileInputStream::new(file, offset)),
            fetch: None,
            outcome,
        }
    }
}

impl<D> StreamProducer<D> for FileReader {
    type Item = u8;
    type Buffer = Bytes;

    fn poll_produce<'a>(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        mut store: StoreContextMut<'a, D>,
        mut dst: Destination<'a, u8, Bytes>,
        _finish: bool,
    ) -> Poll<wasmtime::Result<StreamResult>> {
        let me = self.get_mut();
        if me.fetch.is_none() {
            let Some(mut input) = me.input.take() else {
                return Poll::Ready(Ok(StreamResult::Dropped));
            };
            let want = match dst.remaining(&mut store) {
                // Readiness asked: a read may well wait on the store, so say ready.
                Some(0) => {
                    me.input = Some(input);
                    return Poll::Ready(Ok(StreamResult::Completed));
                }
                Some(want) => want,
                None => HOST_READ,
            };
            me.fetch = Some(Box::pin(async move {
                let read = input.blocking_read(want).await;
                (input, read)
            }));
        }
        // A fetch in flight is not cancelled (`finish`): its window is already asked for,
        // and what it brings is handed over as a short read.
        let Some(fetch) = me.fetch.as_mut() else {
            return Poll::Ready(Ok(StreamResult::Dropped));
        };
        let (input, read) = std::task::ready!(fetch.as_mut().poll(cx));
        me.fetch = None;
        match read {
            Ok(bytes) => {
                me.input = Some(input);
                dst.set_buffer(bytes);
                Poll::Ready(Ok(StreamResult::Completed))
            }
            Err(StreamError::Closed) => {
                me.outcome.send(Ok(()));
                Poll::Ready(Ok(StreamResult::Dropped))
            }
            Err(StreamError::LastOperationFailed(error)) => {
                let code = error.downcast_ref::<StreamCode>().map(|code| code.0);
                me.outcome
                    .fail(FsError::Code(code.unwrap_or(fs::ErrorCode::Io)))
            }
            Err(StreamError::Trap(error)) => Poll::Ready(Err(error)),
        }
    }
}

/// `write-via-stream` and `append-via-stream`: the guest's bytes staged into a file.
pub struct FileWriter {
    /// Readies the file for writes (fetching what a write into the middle keeps) before the
    /// first bytes are taken.
    preparing: Option<BoxFuture<fs::FsResult<Option<Arc<OpenFile>>>>>,
    file: Option<Arc<OpenFile>>,
    /// Waits for another call on the file (running at once with this stream) to let go.
    waiting: Option<BoxFuture<()>>,
    /// `None` appends.
    position: Option<u64>,
    outcome: Outcome,
}

impl FileWriter {
    pub fn new(file: fs::File, position: Option<u64>, outcome: Outcome) -> FileWriter {
        FileWriter {
            preparing: Some(Box::pin(async move { file.writer().await })),
            file: None,
            waiting: None,
            position,
            outcome,
        }
    }
}

impl<D> StreamConsumer<D> for FileWriter {
    type Item = u8;

    fn poll_consume(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        store: StoreContextMut<D>,
        src: Source<u8>,
        _finish: bool,
    ) -> Poll<wasmtime::Result<StreamResult>> {
        let me = self.get_mut();
        if let Some(preparing) = me.preparing.as_mut() {
            let prepared = std::task::ready!(preparing.as_mut().poll(cx));
            me.preparing = None;
            match prepared {
                Ok(Some(file)) => me.file = Some(file),
                // A handle opened without write access, as 0.2's denied stream says.
                Ok(None) => return me.outcome.fail(fs::ErrorCode::BadDescriptor.into()),
                Err(error) => return me.outcome.fail(error),
            }
        }
        if let Some(waiting) = me.waiting.as_mut() {
            std::task::ready!(waiting.as_mut().poll(cx));
            me.waiting = None;
        }
        let Some(file) = &me.file else {
            return Poll::Ready(Ok(StreamResult::Dropped));
        };
        let mut src = src.as_direct(store);
        let bytes = src.remaining();
        let len = bytes.len().min(WRITE_BUDGET);
        if len == 0 {
            return Poll::Ready(Ok(StreamResult::Completed));
        }
        match file.try_write_now(me.position, &bytes[..len]) {
            Some(Ok(())) => {}
            Some(Err(error)) => return me.outcome.fail(error),
            None => {
                // Busy: poll again once the other call is done (this poll's waker is woken
                // at once, so the wait is polled and registers itself).
                let file = file.clone();
                me.waiting = Some(Box::pin(async move { file.idle().await }));
                cx.waker().wake_by_ref();
                return Poll::Pending;
            }
        }
        src.mark_read(len);
        if let Some(position) = &mut me.position {
            match position.checked_add(len as u64) {
                Some(next) => *position = next,
                None => return me.outcome.fail(fs::ErrorCode::Overflow.into()),
            }
        }
        Poll::Ready(Ok(StreamResult::Completed))
    }
}

impl Drop for FileWriter {
    fn drop(&mut self) {
        // The stream ended: a commit of this file that already failed is reported, so the
        // guest cannot miss it (0.2 reports it on flush).
        if let Some(file) = &self.file {
            match file.failure_now() {
                Ok(Some(_)) => self.outcome.send(Err(ErrorCode::Io)),
                Err(FsError::Code(code)) => self.outcome.send(Err(wit_error_code(code))),
                _ => {}
            }
        }
    }
}

type Next = (Option<Listing>, fs::FsResult<Option<fs::DirEntry>>);

/// `read-directory`: a directory's entries, a page of the listing at a time (never the whole
/// directory in host memory, as in 0.2).
pub struct EntryReader {
    dir: Dir,
    memory: Arc<BufferMemory>,
    /// `None` before the first entry is asked for (the listing opens then), and while a
    /// fetch holds it.
    listing: Option<Listing>,
    fetch: Option<BoxFuture<Next>>,
    done: bool,
    outcome: Outcome,
}

impl EntryReader {
    pub fn new(dir: Dir, memory: Arc<BufferMemory>, outcome: Outcome) -> EntryReader {
        EntryReader {
            dir,
            memory,
            listing: None,
            fetch: None,
            done: false,
            outcome,
        }
    }
}

impl<D> StreamProducer<D> for EntryReader {
    type Item = DirectoryEntry;
    type Buffer = Option<DirectoryEntry>;

    fn poll_produce<'a>(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        mut store: StoreContextMut<'a, D>,
        mut dst: Destination<'a, DirectoryEntry, Option<DirectoryEntry>>,
        _finish: bool,
    ) -> Poll<wasmtime::Result<StreamResult>> {
        let me = self.get_mut();
        if me.done {
            return Poll::Ready(Ok(StreamResult::Dropped));
        }
        if me.fetch.is_none() {
            if dst.remaining(&mut store) == Some(0) {
                return Poll::Ready(Ok(StreamResult::Completed));
            }
            let (listing, dir, memory) = (me.listing.take(), me.dir.clone(), me.memory.clone());
            me.fetch = Some(Box::pin(async move {
                let mut listing = match listing {
                    Some(listing) => listing,
                    None => match dir.list(memory).await {
                        Ok(listing) => listing,
                        Err(error) => return (None, Err(error)),
                    },
                };
                let next = listing.next().await;
                (Some(listing), next)
            }));
        }
        let Some(fetch) = me.fetch.as_mut() else {
            return Poll::Ready(Ok(StreamResult::Dropped));
        };
        let (listing, next) = std::task::ready!(fetch.as_mut().poll(cx));
        me.fetch = None;
        me.listing = listing;
        match next {
            Ok(Some(entry)) => {
                dst.set_buffer(Some(DirectoryEntry {
                    type_: descriptor_type(entry.kind),
                    name: entry.name,
                }));
                Poll::Ready(Ok(StreamResult::Completed))
            }
            Ok(None) => {
                me.done = true;
                me.listing = None;
                me.outcome.send(Ok(()));
                Poll::Ready(Ok(StreamResult::Dropped))
            }
            Err(error) => {
                me.done = true;
                me.listing = None;
                me.outcome.fail(error)
            }
        }
    }
}
