//! Per-run limits that keep an untrusted guest in bounds.
//!
//! | limit | default | how it is enforced | exit code |
//! | --- | --- | --- | --- |
//! | linear memory | 512 MiB, all the guest's memories together | the resource limiter adds up every memory's creation and growth, refuses the one that would pass it and stops the run | 121 |
//! | table elements | 10,000 per table | the resource limiter refuses a table created or grown past it and stops the run | 119 |
//! | core instances | 100 | wasmtime refuses the instantiation past it (the limiter's `instances()`) | 118 |
//! | tables | 64 | wasmtime refuses the instantiation past it (the limiter's `tables()`) | 117 |
//! | linear memories | 16 | wasmtime refuses the instantiation past it (the limiter's `memories()`) | 116 |
//! | CPU | 100 billion fuel units (about a minute of guest code) | wasmtime fuel | 122 |
//! | stdout | 64 MiB | a counting stream | 123 |
//! | wall clock | 10 minutes | epoch interruption every 10 ms, plus a timer on host calls | 124 |
//! | stderr | 16 MiB | a counting stream; the guest's log lines the host prints count too | 125 |
//! | bytes written to stores | 16 GiB | the cloud filesystem's write budget | 120 |
//!
//! A run that hits a limit stops at once with one line naming the limit and its value, and
//! the exit code above (distinct from the guest's own codes 0 and 1, a trap's 134, and the
//! shell's 126 and 127).
//!
//! Every limit has a world and job file key under `[limits]` ([`Limit::key`]); all but the
//! three counts have a flag too ([`Limit::flag`]). The counts are fixed by the guest's
//! structure (a component instantiates the same core modules every time, and nothing can
//! instantiate more later), so a guest either fits or is stopped while it is instantiated,
//! before its entry point is called; the
//! defaults leave room for many times the largest real guests (the Python plugin built by
//! componentize-py: 14 core instances, 2 tables, 1 memory; a job composing two Rust
//! components: 8 instances, 4 tables, 2 memories). The largest initial table seen is 5,818
//! elements (the Python plugin); Rust and C guests have a few hundred.
//!
//! Memory is counted as it is granted: a memory never shrinks, and a growth past a memory's
//! own declared maximum is refused without counting (it would fail anyway). Plugins run on
//! a pooling allocator whose own ceilings are at least these limits' defaults
//! ([`crate::plugin::plugin_engine_for`]).

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
    /// Bytes all the guest's linear memories together may grow to.
    pub memory: u64,
    /// Elements each table may have (a `funcref` costs the host a pointer: 8 bytes).
    pub table_elements: u64,
    /// Core module instances the guest may create (all its components' together).
    pub instances: u64,
    /// Tables the guest's instances may define, together.
    pub tables: u64,
    /// Linear memories the guest's instances may define, together.
    pub memories: u64,
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
            table_elements: 10_000,
            instances: 100,
            tables: 64,
            memories: 16,
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
    pub table_elements: Option<u64>,
    pub instances: Option<u64>,
    pub tables: Option<u64>,
    pub memories: Option<u64>,
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
            table_elements: self.table_elements.or(base.table_elements),
            instances: self.instances.or(base.instances),
            tables: self.tables.or(base.tables),
            memories: self.memories.or(base.memories),
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
            table_elements: section.table_elements.unwrap_or(self.table_elements),
            instances: section.instances.unwrap_or(self.instances),
            tables: section.tables.unwrap_or(self.tables),
            memories: section.memories.unwrap_or(self.memories),
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
    TableElements,
    Instances,
    Tables,
    Memories,
}

impl Limit {
    /// The documented exit status of a run stopped by this limit.
    pub fn exit_code(self) -> i32 {
        match self {
            Limit::Memories => 116,
            Limit::Tables => 117,
            Limit::Instances => 118,
            Limit::TableElements => 119,
            Limit::StoreWrites => 120,
            Limit::Memory => 121,
            Limit::Cpu => 122,
            Limit::Stdout => 123,
            Limit::Timeout => 124,
            Limit::Stderr => 125,
        }
    }

    /// The command-line flag that sets the limit; the counts have none (only a key).
    pub fn flag(self) -> Option<&'static str> {
        Some(match self {
            Limit::Memory => "--max-memory",
            Limit::Cpu => "--max-fuel",
            Limit::Stdout => "--max-stdout",
            Limit::Timeout => "--timeout",
            Limit::Stderr => "--max-stderr",
            Limit::StoreWrites => "--max-store-writes",
            Limit::TableElements => "--max-table-elements",
            Limit::Instances | Limit::Tables | Limit::Memories => return None,
        })
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
            Limit::TableElements => "table-elements",
            Limit::Instances => "instances",
            Limit::Tables => "tables",
            Limit::Memories => "memories",
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
            Limit::TableElements => "table size limit",
            Limit::Instances => "instance count limit",
            Limit::Tables => "table count limit",
            Limit::Memories => "memory count limit",
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
            "the guest hit its {} of {} ",
            self.limit.describe(),
            self.value
        )?;
        match self.limit.flag() {
            Some(flag) => write!(f, "(raise it with {flag})"),
            None => write!(
                f,
                "(raise it with `{}` under [limits] in a world or job file)",
                self.limit.key()
            ),
        }
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
            Limit::TableElements => format!("{} elements", self.table_elements),
            Limit::Instances => format!("{} core instances", self.instances),
            Limit::Tables => format!("{} tables", self.tables),
            Limit::Memories => format!("{} memories", self.memories),
        };
        LimitExceeded { limit, value }
    }

    /// The count limit `error` says wasmtime stopped an instantiation at, if it does.
    ///
    /// wasmtime checks the counts itself (against [`GuestLimiter`]'s `instances()`, `tables()`
    /// and `memories()`) before it creates a core instance, and says so only in words:
    /// `resource limit exceeded: instance count too high at 101` (wasmtime 48,
    /// `StoreOpaque::bump_resource_counts`). The tests in `tests/all/limits.rs` and below
    /// fail if those words change.
    pub fn count_exceeded(&self, error: &wasmtime::Error) -> Option<LimitExceeded> {
        error.chain().find_map(|cause| {
            let text = cause.to_string();
            let what = text.strip_prefix("resource limit exceeded: ")?;
            let limit = if what.starts_with("instance count") {
                Limit::Instances
            } else if what.starts_with("table count") {
                Limit::Tables
            } else if what.starts_with("memory count") {
                Limit::Memories
            } else {
                return None;
            };
            Some(self.exceeded(limit))
        })
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

    /// A charge against the same cap, for bytes that reach the stream another way (the
    /// guest's log lines, which the host writes to its own stderr).
    pub fn shared_charge(&self) -> impl Fn(u64) -> wasmtime::Result<()> + Send + Sync + 'static {
        let (written, cap, error) = (self.written.clone(), self.cap, self.error.clone());
        move |bytes| charge(&written, cap, bytes, &error)
    }
}

/// Counts `bytes` more against `cap`, failing with `error` once past it (never wrapping).
fn charge(
    written: &AtomicU64,
    cap: u64,
    bytes: u64,
    error: &LimitExceeded,
) -> wasmtime::Result<()> {
    let total = written
        .fetch_add(bytes, Ordering::Relaxed)
        .saturating_add(bytes);
    if total > cap {
        return Err(wasmtime::Error::new(error.clone()));
    }
    Ok(())
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
        charge(&self.written, self.cap, bytes.len() as u64, &self.error)
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
            Limit::TableElements,
            Limit::Instances,
            Limit::Tables,
            Limit::Memories,
        ];
        let mut codes: Vec<i32> = all.iter().map(|limit| limit.exit_code()).collect();
        codes.sort();
        codes.dedup();
        assert_eq!(codes.len(), all.len());
        // 126 and 127 are the shell's (not executable, not found), 128 and up its signals.
        assert!(
            codes
                .iter()
                .all(|code| ![0, 1, 126, 127, 134].contains(code) && *code < 128)
        );
        let mut keys: Vec<&str> = all.iter().map(|limit| limit.key()).collect();
        keys.sort();
        keys.dedup();
        assert_eq!(keys.len(), all.len());
    }

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

    /// wasmtime refuses instantiations past the counts in words [`Limits::count_exceeded`]
    /// knows; this fails if wasmtime changes them.
    #[test]
    fn the_counts_are_recognised_in_wasmtimes_refusal() {
        let engine = wasmtime::Engine::default();
        let modules = [
            (Limit::Instances, "(module)"),
            (Limit::Memories, "(module (memory 0))"),
            (Limit::Tables, "(module (table 0 funcref))"),
        ];
        for (limit, text) in modules {
            let limits = Limits {
                instances: 2,
                tables: 1,
                memories: 1,
                ..Limits::default()
            };
            let mut store = wasmtime::Store::new(&engine, limiter(limits.clone()));
            store.limiter(|limiter| limiter);
            let module = wasmtime::Module::new(&engine, wat::parse_str(text).unwrap()).unwrap();
            wasmtime::Instance::new(&mut store, &module, &[]).unwrap();
            if limit == Limit::Instances {
                wasmtime::Instance::new(&mut store, &module, &[]).unwrap();
            }
            let error = wasmtime::Instance::new(&mut store, &module, &[]).unwrap_err();
            assert_eq!(
                limits.count_exceeded(&error).map(|e| e.limit),
                Some(limit),
                "{error:?}"
            );
            let other = wasmtime::Error::msg("resource limit exceeded: patience");
            assert_eq!(limits.count_exceeded(&other), None);
        }
    }

    #[test]
    fn a_count_names_its_key() {
        assert_eq!(
            Limits::default().exceeded(Limit::Instances).to_string(),
            "the guest hit its instance count limit of 100 core instances \
             (raise it with `instances` under [limits] in a world or job file)"
        );
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
