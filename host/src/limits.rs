//! Per-run limits that keep an untrusted guest in bounds.
//!
//! | limit | default | how it is enforced | exit code |
//! | --- | --- | --- | --- |
//! | linear memory | 512 MiB per memory | a resource limiter refuses the growth and stops the run | 121 |
//! | CPU | 100 billion fuel units (about a minute of guest code) | wasmtime fuel | 122 |
//! | stdout | 64 MiB | a counting stream | 123 |
//! | wall clock | 10 minutes | epoch interruption every 10 ms, plus a timer on host calls | 124 |
//! | stderr | 16 MiB | a counting stream | 125 |
//! | bytes written to stores | 16 GiB | the cloud filesystem's write budget | 120 |
//!
//! A run that hits a limit stops at once with one line naming the limit and its value, and
//! the exit code above (distinct from the guest's own codes 0 and 1 and a trap's 134).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use wasmtime::Engine;
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi_io::poll::Pollable;
use wasmtime_wasi_io::streams::{OutputStream, StreamError, StreamResult};

/// The limits of one run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Bytes each linear memory may grow to.
    pub memory: u64,
    /// Fuel units (roughly, wasm instructions) the guest may execute.
    pub fuel: u64,
    /// How long the run may take, host calls included.
    pub timeout: Duration,
    /// Bytes the guest may write to stdout.
    pub stdout: u64,
    /// Bytes the guest may write to stderr.
    pub stderr: u64,
    /// Bytes the guest may write to files in stores (the cloud world).
    pub store_writes: u64,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            memory: 512 << 20,
            fuel: 100_000_000_000,
            timeout: Duration::from_secs(600),
            stdout: 64 << 20,
            stderr: 16 << 20,
            store_writes: 16 << 30,
        }
    }
}

/// Limits as a world file, a job file or the command line sets them: each may be left out.
/// [`LimitsSection::over`] and [`Limits::with`] are the one place they are merged.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct LimitsSection {
    #[serde(default, deserialize_with = "size_field")]
    pub memory: Option<u64>,
    pub fuel: Option<u64>,
    #[serde(default, deserialize_with = "duration_field")]
    pub timeout: Option<Duration>,
    #[serde(default, deserialize_with = "size_field")]
    pub stdout: Option<u64>,
    #[serde(default, deserialize_with = "size_field")]
    pub stderr: Option<u64>,
    #[serde(default, deserialize_with = "size_field")]
    pub store_writes: Option<u64>,
}

impl LimitsSection {
    /// These settings, with `base`'s where these leave one out.
    pub fn over(self, base: LimitsSection) -> LimitsSection {
        LimitsSection {
            memory: self.memory.or(base.memory),
            fuel: self.fuel.or(base.fuel),
            timeout: self.timeout.or(base.timeout),
            stdout: self.stdout.or(base.stdout),
            stderr: self.stderr.or(base.stderr),
            store_writes: self.store_writes.or(base.store_writes),
        }
    }
}

impl Limits {
    /// These limits, with what `section` sets over them.
    pub fn with(&self, section: &LimitsSection) -> Limits {
        Limits {
            memory: section.memory.unwrap_or(self.memory),
            fuel: section.fuel.unwrap_or(self.fuel),
            timeout: section.timeout.unwrap_or(self.timeout),
            stdout: section.stdout.unwrap_or(self.stdout),
            stderr: section.stderr.unwrap_or(self.stderr),
            store_writes: section.store_writes.unwrap_or(self.store_writes),
        }
    }
}

fn size_field<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    #[derive(serde::Deserialize)]
    #[serde(untagged)]
    enum Size {
        Bytes(u64),
        Text(String),
    }
    match <Size as serde::Deserialize>::deserialize(d)? {
        Size::Bytes(bytes) => Ok(Some(bytes)),
        Size::Text(text) => parse_size(&text)
            .map(Some)
            .map_err(serde::de::Error::custom),
    }
}

fn duration_field<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
    let text = <String as serde::Deserialize>::deserialize(d)?;
    parse_duration(&text)
        .map(Some)
        .map_err(serde::de::Error::custom)
}

/// Which limit a run hit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit {
    Memory,
    Cpu,
    Stdout,
    Timeout,
    Stderr,
    StoreWrites,
}

impl Limit {
    /// The documented exit status of a run stopped by this limit.
    pub fn exit_code(self) -> i32 {
        match self {
            Limit::StoreWrites => 120,
            Limit::Memory => 121,
            Limit::Cpu => 122,
            Limit::Stdout => 123,
            Limit::Timeout => 124,
            Limit::Stderr => 125,
        }
    }

    /// The limit's name, as the command-line flag that sets it.
    pub fn flag(self) -> &'static str {
        match self {
            Limit::Memory => "--max-memory",
            Limit::Cpu => "--max-fuel",
            Limit::Stdout => "--max-stdout",
            Limit::Timeout => "--timeout",
            Limit::Stderr => "--max-stderr",
            Limit::StoreWrites => "--max-store-writes",
        }
    }

    /// The limit's key in a world or job file's `[limits]`.
    pub fn key(self) -> &'static str {
        match self {
            Limit::Memory => "memory",
            Limit::Cpu => "fuel",
            Limit::Stdout => "stdout",
            Limit::Timeout => "timeout",
            Limit::Stderr => "stderr",
            Limit::StoreWrites => "store-writes",
        }
    }

    fn describe(self) -> &'static str {
        match self {
            Limit::Memory => "memory limit",
            Limit::Cpu => "CPU limit",
            Limit::Stdout => "stdout limit",
            Limit::Timeout => "time limit",
            Limit::Stderr => "stderr limit",
            Limit::StoreWrites => "limit on bytes written to stores",
        }
    }
}

/// The error that stops a run at a limit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LimitExceeded {
    pub limit: Limit,
    /// The limit's value, for the message (`512 MiB`, `10s`).
    pub value: String,
}

impl std::fmt::Display for LimitExceeded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "the guest hit its {} of {} (raise it with {})",
            self.limit.describe(),
            self.value,
            self.limit.flag()
        )
    }
}

impl std::error::Error for LimitExceeded {}

impl Limits {
    pub fn exceeded(&self, limit: Limit) -> LimitExceeded {
        let value = match limit {
            Limit::Memory => size(self.memory),
            Limit::Cpu => format!("{} fuel units", self.fuel),
            Limit::Stdout => size(self.stdout),
            Limit::Timeout => humantime::format_duration(self.timeout).to_string(),
            Limit::Stderr => size(self.stderr),
            Limit::StoreWrites => size(self.store_writes),
        };
        LimitExceeded { limit, value }
    }
}

fn size(bytes: u64) -> String {
    bytesize::ByteSize(bytes).display().iec().to_string()
}

/// Parses a size such as `512MiB`, `1 GiB`, `64KB` or `1000` (bytes).
pub fn parse_size(text: &str) -> Result<u64, String> {
    text.trim()
        .parse::<bytesize::ByteSize>()
        .map(|size| size.as_u64())
        .map_err(|e| format!("`{text}` is not a size (like 512MiB or 1GiB): {e}"))
}

/// Parses a duration such as `30s`, `10m` or `1h 30m`.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    humantime::parse_duration(text.trim())
        .map_err(|e| format!("`{text}` is not a duration (like 30s or 10m): {e}"))
}

/// Refuses linear-memory growth past the limit, naming the limit (a plain refusal would let
/// the guest's allocator abort with an unhelpful trap).
pub struct MemoryLimiter {
    pub limits: Limits,
}

impl wasmtime::ResourceLimiter for MemoryLimiter {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired as u64 > self.limits.memory {
            return Err(wasmtime::Error::new(self.limits.exceeded(Limit::Memory)));
        }
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        _desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(true)
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

/// Whether the deadline passed, for the epoch callback.
pub fn past(deadline: Instant) -> bool {
    Instant::now() >= deadline
}

/// Stdout or stderr with a cap: writing past it stops the run.
pub struct CappedOutput<S> {
    inner: S,
    written: Arc<AtomicU64>,
    cap: u64,
    error: LimitExceeded,
}

impl<S> CappedOutput<S> {
    pub fn new(inner: S, cap: u64, error: LimitExceeded) -> CappedOutput<S> {
        CappedOutput {
            inner,
            written: Arc::new(AtomicU64::new(0)),
            cap,
            error,
        }
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
            written: self.written.clone(),
            cap: self.cap,
            error: self.error.clone(),
        })
    }

    fn async_stream(&self) -> Box<dyn tokio::io::AsyncWrite + Send + Sync> {
        // Only WASIp3 guests use this; this host links WASIp2, whose streams are capped above.
        self.inner.async_stream()
    }
}

struct CappedStream {
    inner: Box<dyn OutputStream>,
    written: Arc<AtomicU64>,
    cap: u64,
    error: LimitExceeded,
}

#[async_trait::async_trait]
impl OutputStream for CappedStream {
    fn write(&mut self, bytes: Bytes) -> StreamResult<()> {
        let total = self
            .written
            .fetch_add(bytes.len() as u64, Ordering::Relaxed)
            + bytes.len() as u64;
        if total > self.cap {
            return Err(StreamError::Trap(wasmtime::Error::new(self.error.clone())));
        }
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

    #[test]
    fn sizes_and_durations_parse() {
        assert_eq!(parse_size("512MiB"), Ok(512 << 20));
        assert_eq!(parse_size("1 GiB"), Ok(1 << 30));
        assert_eq!(parse_size("1000"), Ok(1000));
        assert!(parse_size("lots").is_err());
        assert_eq!(parse_duration("1m 30s"), Ok(Duration::from_secs(90)));
        assert!(parse_duration("soon").is_err());
    }

    #[test]
    fn every_limit_has_its_own_exit_code() {
        let all = [
            Limit::Memory,
            Limit::Cpu,
            Limit::Stdout,
            Limit::Timeout,
            Limit::Stderr,
            Limit::StoreWrites,
        ];
        let mut codes: Vec<i32> = all.iter().map(|limit| limit.exit_code()).collect();
        codes.sort();
        codes.dedup();
        assert_eq!(codes.len(), all.len());
        assert!(codes.iter().all(|code| ![0, 1, 134].contains(code)));
    }

    #[test]
    fn the_message_names_the_limit_and_its_value() {
        let limits = Limits {
            memory: 64 << 20,
            ..Limits::default()
        };
        assert_eq!(
            limits.exceeded(Limit::Memory).to_string(),
            "the guest hit its memory limit of 64.0 MiB (raise it with --max-memory)"
        );
    }
}
