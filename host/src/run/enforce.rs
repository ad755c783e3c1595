//! How a run's limits are enforced while the guest runs: the store's resource limiter
//! (memory, tables, counts), the epoch ticker behind the wall clock, and capped stdout and
//! stderr. What the limits are, their defaults and exit codes: [`crate::limits`].

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use wasmtime::Engine;
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi_io::poll::Pollable;
use wasmtime_wasi_io::streams::{OutputStream, StreamError, StreamResult};

use crate::limits::{Limit, Limits};

/// The store's resource limiter: refuses linear memory past the limit on all memories
/// together and tables past the limit on elements, naming the limit (a plain refusal would
/// let the guest's allocator abort with an unhelpful trap), and gives wasmtime the counts.
pub struct GuestLimiter {
    limits: Limits,
    /// Bytes granted to all the guest's memories so far, creation included.
    memory_used: u64,
}

impl GuestLimiter {
    pub fn new(limits: Limits) -> GuestLimiter {
        GuestLimiter {
            limits,
            memory_used: 0,
        }
    }

    fn stop(&self, limit: Limit) -> wasmtime::Error {
        wasmtime::Error::new(self.limits.exceeded(limit))
    }
}

/// A count limit as wasmtime takes it.
fn count(limit: u64) -> usize {
    usize::try_from(limit).unwrap_or(usize::MAX)
}

impl wasmtime::ResourceLimiter for GuestLimiter {
    /// Called when a memory is created (`current` 0, `desired` its initial size) and when it
    /// grows; a memory never shrinks and lives as long as the store, so the sum of what was
    /// granted is what the guest holds.
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let growth = (desired as u64).checked_sub(current as u64);
        let total = growth.and_then(|growth| self.memory_used.checked_add(growth));
        let Some(total) = total.filter(|total| *total <= self.limits.memory) else {
            return Err(self.stop(Limit::Memory));
        };
        // Past the memory's own declared maximum, wasmtime refuses the growth after asking:
        // it will not happen, so it is not counted (the guest sees `memory.grow` fail, as the
        // spec says). Other failures after a yes (the OS out of memory) stay counted.
        if maximum.is_some_and(|maximum| desired > maximum) {
            return Ok(false);
        }
        self.memory_used = total;
        Ok(true)
    }

    /// Called when a table is created (`current` 0) and when it grows.
    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired as u64 > self.limits.table_elements {
            return Err(self.stop(Limit::TableElements));
        }
        // The limit comes first: a plugin pool's tables have the pool's size as their maximum.
        Ok(maximum.is_none_or(|maximum| desired <= maximum))
    }

    fn instances(&self) -> usize {
        count(self.limits.instances)
    }

    fn tables(&self) -> usize {
        count(self.limits.tables)
    }

    fn memories(&self) -> usize {
        count(self.limits.memories)
    }
}

/// Advances the engine's epoch every few milliseconds while a run lasts, so guest code yields
/// to the host regularly and the wall-clock limit can stop even a tight loop.
pub struct EpochTicker {
    stop: Arc<AtomicBool>,
}

/// How often guest code checks in.
pub const EPOCH_TICK: Duration = Duration::from_millis(10);

impl EpochTicker {
    pub fn start(engine: &Engine) -> EpochTicker {
        let stop = Arc::new(AtomicBool::new(false));
        let (engine, flag) = (engine.clone(), stop.clone());
        std::thread::spawn(move || {
            while !flag.load(Ordering::Relaxed) {
                std::thread::sleep(EPOCH_TICK);
                engine.increment_epoch();
            }
        });
        EpochTicker { stop }
    }
}

impl Drop for EpochTicker {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// How a run's wall-clock limit stops guest code that runs without calling the host.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Deadline {
    /// Epoch interruption: checks compiled into guest code (at loop heads and function
    /// entries), ticked every [`EPOCH_TICK`]; the run stops and the host goes on (a job writes
    /// its report, a plugin takes the next call). The checks cost compute-bound guest code up
    /// to 30% of its CPU (image-resize: 0.33 s against 0.25 s without, issue 13).
    #[default]
    Epochs,
    /// A watchdog thread ends the whole process at the deadline, with the limit's message and
    /// exit code, and guest code runs without checks, as under `wasmtime run`. Only for a
    /// process that runs one guest and has nothing to do after it stops at a limit but what
    /// the watchdog does itself (removing the staged files of local stores,
    /// `worldhost_store::staged_files`): `host run` in the cli world, and in the cloud world
    /// when every store it writes is local (`WorldFile::writes_stay_local`).
    ExitProcess,
}

/// Ends the process at the time limit unless dropped first ([`Deadline::ExitProcess`]).
pub struct Watchdog {
    claimed: Arc<AtomicBool>,
}

impl Watchdog {
    pub fn start(limits: &Limits) -> Watchdog {
        let claimed = Arc::new(AtomicBool::new(false));
        let (deadline, flag) = (Instant::now() + limits.timeout, claimed.clone());
        let exceeded = limits.exceeded(Limit::Timeout);
        std::thread::spawn(move || {
            while !past(deadline) {
                std::thread::park_timeout(deadline.saturating_duration_since(Instant::now()));
            }
            // Whoever claims first reports: this thread, or the run ending (then it is silent).
            if !flag.swap(true, Ordering::SeqCst) {
                // What an in-process stop would have discarded: the staged files of the
                // cloud world's local stores (none in the cli world).
                worldhost_store::staged_files::remove_all();
                // The same line and code as a run stopped in-process (`host run`'s report).
                eprintln!("error: stopped: {exceeded}");
                std::process::exit(Limit::Timeout.exit_code());
            }
        });
        Watchdog { claimed }
    }
}

impl Drop for Watchdog {
    fn drop(&mut self) {
        self.claimed.store(true, Ordering::SeqCst);
    }
}

/// Whether the deadline passed, for the epoch callback.
pub fn past(deadline: Instant) -> bool {
    Instant::now() >= deadline
}

/// Stdout or stderr with a cap: writing past it stops the run.
pub struct CappedOutput<S> {
    inner: S,
    cap: Cap,
}

/// A cap on bytes written, shared by a stream's handles. The limit's message is made only
/// when the cap is hit: formatting sizes for every instance took 2% of a plugin call.
#[derive(Clone)]
struct Cap {
    written: Arc<AtomicU64>,
    bytes: u64,
    limit: Limit,
    limits: Arc<Limits>,
    stopped: StoppedAt,
}

/// The limit a run was stopped at by a host stream that could not trap the guest itself
/// (WASIp3 stdout and stderr end in an `AsyncWrite`, whose errors reach the guest as an error
/// code): the run checks it when the guest returns or traps, and reports the limit instead.
#[derive(Clone, Default)]
pub struct StoppedAt(Arc<std::sync::OnceLock<crate::limits::LimitExceeded>>);

impl StoppedAt {
    pub fn get(&self) -> Option<&crate::limits::LimitExceeded> {
        self.0.get()
    }
}

impl<S> CappedOutput<S> {
    /// `inner` stopped after `cap` bytes, at `limit` of `limits` (which names the value);
    /// `stopped` records the limit where a stream cannot trap ([`StoppedAt`]).
    pub fn new(
        inner: S,
        cap: u64,
        limit: Limit,
        limits: Arc<Limits>,
        stopped: StoppedAt,
    ) -> CappedOutput<S> {
        let written = Arc::new(AtomicU64::new(0));
        let cap = Cap {
            written,
            bytes: cap,
            limit,
            limits,
            stopped,
        };
        CappedOutput { inner, cap }
    }

    /// A charge against the same cap, for bytes that reach the stream another way (the
    /// guest's log lines, which the host writes to its own stderr).
    pub fn shared_charge(&self) -> impl Fn(u64) -> wasmtime::Result<()> + Send + Sync + 'static {
        let cap = self.cap.clone();
        move |bytes| cap.charge(bytes)
    }
}

impl Cap {
    /// Counts `bytes` more, failing with the limit once past the cap (never wrapping).
    fn charge(&self, bytes: u64) -> wasmtime::Result<()> {
        let total = self
            .written
            .fetch_add(bytes, Ordering::Relaxed)
            .saturating_add(bytes);
        if total > self.bytes {
            return Err(wasmtime::Error::new(self.limits.exceeded(self.limit)));
        }
        Ok(())
    }
}

impl<S: IsTerminal> IsTerminal for CappedOutput<S> {
    fn is_terminal(&self) -> bool {
        self.inner.is_terminal()
    }
}

impl<S: StdoutStream> StdoutStream for CappedOutput<S> {
    fn p2_stream(&self) -> Box<dyn OutputStream> {
        Box::new(CappedStream {
            inner: self.inner.p2_stream(),
            cap: self.cap.clone(),
        })
    }

    /// WASIp3 guests write through this.
    fn async_stream(&self) -> Box<dyn tokio::io::AsyncWrite + Send + Sync> {
        Box::new(CappedAsyncWrite {
            inner: Box::into_pin(self.inner.async_stream()),
            cap: self.cap.clone(),
        })
    }
}

/// A WASIp3 output stream with a cap: past it, the write fails (the guest sees an error
/// code) and the run is marked as stopped at the limit.
struct CappedAsyncWrite {
    inner: std::pin::Pin<Box<dyn tokio::io::AsyncWrite + Send + Sync>>,
    cap: Cap,
}

impl tokio::io::AsyncWrite for CappedAsyncWrite {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        if let Err(error) = self.cap.charge(buf.len() as u64) {
            let exceeded = self.cap.limits.exceeded(self.cap.limit);
            let _ = self.cap.stopped.0.set(exceeded);
            return std::task::Poll::Ready(Err(std::io::Error::other(error.to_string())));
        }
        // The inner writer may take only part of `buf`: what it did not take is not counted.
        let polled = self.inner.as_mut().poll_write(cx, buf);
        let taken = match &polled {
            std::task::Poll::Ready(Ok(n)) => *n,
            _ => 0,
        };
        self.cap
            .written
            .fetch_sub((buf.len() - taken) as u64, Ordering::Relaxed);
        polled
    }

    fn poll_flush(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        self.inner.as_mut().poll_flush(cx)
    }

    fn poll_shutdown(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        self.inner.as_mut().poll_shutdown(cx)
    }
}

struct CappedStream {
    inner: Box<dyn OutputStream>,
    cap: Cap,
}

#[async_trait::async_trait]
impl OutputStream for CappedStream {
    fn write(&mut self, bytes: Bytes) -> StreamResult<()> {
        self.cap
            .charge(bytes.len() as u64)
            .map_err(StreamError::Trap)?;
        self.inner.write(bytes)
    }

    fn flush(&mut self) -> StreamResult<()> {
        self.inner.flush()
    }

    fn check_write(&mut self) -> StreamResult<usize> {
        self.inner.check_write()
    }

    async fn cancel(&mut self) {
        self.inner.cancel().await
    }
}

#[async_trait::async_trait]
impl Pollable for CappedStream {
    async fn ready(&mut self) {
        self.inner.ready().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::limits::LimitExceeded;

    fn limiter(limits: Limits) -> GuestLimiter {
        GuestLimiter::new(limits)
    }

    const MIB: usize = 1 << 20;

    #[test]
    fn the_memory_limit_is_on_all_memories_together() {
        use wasmtime::ResourceLimiter;
        let mut limiter = limiter(Limits {
            memory: 64 << 20,
            ..Limits::default()
        });
        // Two memories created, then grown: each alone fits, together they do not.
        assert!(limiter.memory_growing(0, MIB, None).unwrap());
        assert!(limiter.memory_growing(0, MIB, None).unwrap());
        assert!(limiter.memory_growing(MIB, 40 * MIB, None).unwrap());
        let error = limiter.memory_growing(MIB, 40 * MIB, None).unwrap_err();
        assert_eq!(
            error.downcast_ref::<LimitExceeded>().map(|e| e.limit),
            Some(Limit::Memory)
        );
        // What is left (64 - 41 = 23 MiB) still fits.
        assert!(limiter.memory_growing(MIB, 24 * MIB, None).unwrap());
        assert!(limiter.memory_growing(24 * MIB, 25 * MIB, None).is_err());
    }

    #[test]
    fn a_growth_past_a_memorys_own_maximum_is_refused_and_not_counted() {
        use wasmtime::ResourceLimiter;
        let mut limiter = limiter(Limits {
            memory: 64 << 20,
            ..Limits::default()
        });
        assert!(limiter.memory_growing(0, MIB, Some(2 * MIB)).unwrap());
        for _ in 0..100 {
            assert!(!limiter.memory_growing(MIB, 3 * MIB, Some(2 * MIB)).unwrap());
        }
        assert!(limiter.memory_growing(0, 63 * MIB, None).unwrap());
        // Sizes near the top of the address space do not wrap around.
        assert!(limiter.memory_growing(0, usize::MAX, None).is_err());
    }

    #[test]
    fn the_table_limit_is_on_each_tables_elements() {
        use wasmtime::ResourceLimiter;
        let mut limiter = limiter(Limits {
            table_elements: 100,
            ..Limits::default()
        });
        assert!(limiter.table_growing(0, 100, None).unwrap());
        assert!(limiter.table_growing(0, 100, None).unwrap());
        // Past the table's own maximum: refused, not a limit.
        assert!(!limiter.table_growing(10, 50, Some(20)).unwrap());
        for (current, desired, maximum) in [(100, 101, None), (0, 1 << 30, Some(20_000))] {
            let error = limiter
                .table_growing(current, desired, maximum)
                .unwrap_err();
            assert_eq!(
                error.downcast_ref::<LimitExceeded>().map(|e| e.limit),
                Some(Limit::TableElements)
            );
        }
    }
}
