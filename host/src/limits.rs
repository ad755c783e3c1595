//! Per-run limits that keep an untrusted guest in bounds.
//!
//! | limit | default | how it is enforced | exit code |
//! | --- | --- | --- | --- |
//! | linear memory | 512 MiB, all the guest's memories together | the resource limiter adds up every memory's creation and growth, refuses the one that would pass it and stops the run | 206 |
//! | table elements | 10,000 per table | the resource limiter refuses a table created or grown past it and stops the run | 204 |
//! | core instances | 100 | wasmtime refuses the instantiation past it (the limiter's `instances()`) | 203 |
//! | tables | 64 | wasmtime refuses the instantiation past it (the limiter's `tables()`) | 202 |
//! | linear memories | 16 | wasmtime refuses the instantiation past it (the limiter's `memories()`) | 201 |
//! | CPU (fuel) | none: off unless set (`--max-fuel`, key `fuel`); the wall clock bounds CPU meanwhile | wasmtime fuel, compiled in only when set | 207 |
//! | stdout | 64 MiB | a counting stream | 208 |
//! | wall clock | 10 minutes (a guest is single-threaded: also its CPU limit by default) | `host run` in the cli world, and in the cloud world when every store it writes is local: a watchdog thread removes the run's staged files and ends the process; elsewhere (cloud stores written, jobs, plugins) epoch interruption every 10 ms stops the run in-process; plus a timer on host calls | 209 |
//! | stderr | 16 MiB | a counting stream; the guest's log lines the host prints count too | 210 |
//! | handles | 10,000 open at once | the run's resource table refuses the one past it (files, directories, streams, pollables, sockets, directory listings: everything a guest holds a handle to, each host memory) and stops the run. Handles the guest makes without the host (its own resources; each WASI 0.3 call, stream and future in flight) are capped at twice the limit by wasmtime's store (past it the run traps, exit 1) | 200 |
//! | host memory for file buffers | 64 MiB per run (`--max-buffer-memory`, key `buffer-memory`) | the cloud filesystem's staged writes, read-ahead windows and directory listings' pages (1,000 entries each) take their memory from it: past it a staged write moves to a temporary file (its disk is the store-write limit's), a read window stops growing, and a listing page fails with the WASI error `insufficient-memory` | none: the run is not stopped |
//! | a `memory:` store's size | 1 GiB per store, fixed (shared by every run and plugin call on the mount; staged copies on it have another 1 GiB in memory, then spill to disk) | the store refuses a write (a close, a sync, a blob put or copy) past it: the WASI error `insufficient-space`, as a full disk (blob calls: `io` saying so); use a `file://` store for more | none: the call fails |
//! | path length | 4,096 bytes a path, 255 a segment, fixed (as Linux's `PATH_MAX` and `NAME_MAX`) | the cloud filesystem resolves a path in one linear pass and refuses a longer one with `name-too-long` before any work | none: the call fails |
//! | one result | the guest's memory limit | a blob `get`, `get-range` or `list`, or a `wasi:keyvalue` `get`/`get-many`, larger than the guest could take is refused with `io` before (or while) it is gathered | none: the call fails |
//! | objects created in stores | 100,000 | the cloud filesystem's budget counts new files, directory markers, blob puts and copies, new `wasi:keyvalue` keys; past it that creation fails with the WASI error `quota` (blob calls: `io` saying so) and the guest goes on | none: the run is not stopped |
//! | HTTP response buffer | 64 KiB per connection, fixed (`wasi:http`) | hyper's read buffer holds a response's head and the body bytes read ahead of the guest; the body streams a frame at a time as the guest reads it. A larger head fails the request (`HTTP-protocol-error`); a header set the guest builds is capped at 128 KiB (wasmtime-wasi-http's field limit, `HTTP-request-header-section-size`) | none: the request fails |
//! | HTTP request body buffer | 16 KiB a write, two writes held per body, fixed (`wasi:http`, 0.2 and 0.3) | a request body the guest writes takes at most 16 KiB per write and holds at most one write in flight and one queued, sent or not (wasmtime-wasi-http holds 2 MiB per body otherwise) | none: the guest's write waits |
//! | listings in progress | 16 per run for `wasi:keyvalue` (over all bucket handles) and 16 open for `wasi:blobstore`; 1,000 names a call | a kept listing may hold a directory open: past 16 the run's oldest `wasi:keyvalue` cursor ends (`error::other` if used), and a 17th `list-objects` fails with `error` until one is dropped; `read`/`skip-stream-object-names` take at most 1,000 names a call | none: the call fails |
//! | batch size | 1,000 keys a call (`wasi:keyvalue` `get-many`/`set-many`/`delete-many`), fixed (S3's multi-delete limit) | each key is a store request; a larger batch is refused before any key is touched (`error::other`) | none: the call fails |
//! | blob values staged before `write-data` | the guest's memory limit, for all the run's values together | a `wasi:blobstore` value written before it is given an object is staged on disk; past the limit the write fails (write the body after `write-data` to stream any size) | none: the write fails |
//! | open HTTP connections | `buffer-memory` / 192 KiB (341 by default; at least 1) | each open connection counts its buffer, a body frame waiting for the guest and TLS's buffers; past it a request fails with `connection-limit-reached` | none: the request fails |
//! | HTTP time-outs | connect 30 s, first byte 60 s, between bytes 60 s, fixed; none longer than the run's wall clock; a guest's `request-options` may only shorten them | tokio timers around connect (TCP, TLS, handshake), the response head, and each body read: `connection-timeout` / `connection-read-timeout` | none: the request fails |
//! | bytes written to stores | 16 GiB | the cloud filesystem's write budget: file writes and growth, the rest of a file an upload sends again after a write in place (counted before the upload), blob puts, `wasi:keyvalue` `set`/`set-many`/`increment`, and the bytes a blob copy or a rename copies (counted before the copy) | 205 |
//!
//! A run that hits a limit stops at once with one line naming the limit and its value, and
//! the exit code above: a block of its own, 200–210, outside what a guest's own exit gives
//! (0–125, passed through as `wasmtime run` does), a trap's 134 (`wasmtime run`'s), the
//! shell's 126 and 127 and the 128+signal statuses (129–192).
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
//! Fuel is opt-in because it costs every run: metered code burns about 6% more CPU on a
//! compute-bound guest (image-resize, `host run` with and without fuel, issue 13), and an
//! engine with fuel compiles different code. Without it the wall clock still stops a guest
//! that never returns; fuel is for a bound that is the same on every machine and does not
//! count the time the guest waits on the host. Epoch interruption has a price too (a check
//! at every loop head and function entry: 30% of image-resize's CPU), so `host run` compiles
//! guests without it and ends the process at the deadline wherever that leaves nothing
//! behind ([`crate::run::Deadline`]): in the cli world, and in the cloud world when every
//! store it writes is `memory:` or a local directory (the watchdog removes the staged files
//! first). A run that writes to S3, GCS or Azure keeps the checks: an unfinished multipart
//! upload's parts are aborted in-process.
//!
//! Memory is counted as it is granted: a memory never shrinks, and a growth past a memory's
//! own declared maximum is refused without counting (it would fail anyway). Plugins run on
//! a pooling allocator whose own ceilings are at least these limits' defaults
//! ([`crate::plugin::plugin_engine_for`]).

use std::time::Duration;

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
    /// Fuel units (roughly, wasm instructions) the guest may execute; `None`: fuel is off
    /// (the engine does not meter), and the wall clock is the only bound on CPU.
    pub fuel: Option<u64>,
    /// How long the run may take, host calls included.
    pub timeout: Duration,
    /// Bytes the guest may write to stdout.
    pub stdout: u64,
    /// Bytes the guest may write to stderr.
    pub stderr: u64,
    /// Bytes the guest may write to files in stores (the cloud world).
    pub store_writes: u64,
    /// Handles (resources: files, streams, pollables, ...) the guest may hold at once.
    pub handles: u64,
    /// Objects the guest may create in stores (the cloud world), over the run.
    pub store_objects: u64,
    /// Host memory the guest's file buffers (staged writes, read-ahead windows, directory
    /// listings' pages) may hold together (the cloud world).
    pub buffer_memory: u64,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            memory: 512 << 20,
            table_elements: 10_000,
            instances: 100,
            tables: 64,
            memories: 16,
            fuel: None,
            timeout: Duration::from_secs(600),
            stdout: 64 << 20,
            stderr: 16 << 20,
            store_writes: 16 << 30,
            handles: 10_000,
            store_objects: 100_000,
            buffer_memory: 64 << 20,
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
    pub handles: Option<u64>,
    pub store_objects: Option<u64>,
    #[serde(default, deserialize_with = "size_field")]
    pub buffer_memory: Option<u64>,
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
            handles: self.handles.or(base.handles),
            store_objects: self.store_objects.or(base.store_objects),
            buffer_memory: self.buffer_memory.or(base.buffer_memory),
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
            fuel: section.fuel.or(self.fuel),
            timeout: section.timeout.unwrap_or(self.timeout),
            stdout: section.stdout.unwrap_or(self.stdout),
            stderr: section.stderr.unwrap_or(self.stderr),
            store_writes: section.store_writes.unwrap_or(self.store_writes),
            handles: section.handles.unwrap_or(self.handles),
            store_objects: section.store_objects.unwrap_or(self.store_objects),
            buffer_memory: section.buffer_memory.unwrap_or(self.buffer_memory),
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
    Handles,
}

impl Limit {
    /// The documented exit status of a run stopped by this limit.
    pub fn exit_code(self) -> i32 {
        match self {
            Limit::Handles => 200,
            Limit::Memories => 201,
            Limit::Tables => 202,
            Limit::Instances => 203,
            Limit::TableElements => 204,
            Limit::StoreWrites => 205,
            Limit::Memory => 206,
            Limit::Cpu => 207,
            Limit::Stdout => 208,
            Limit::Timeout => 209,
            Limit::Stderr => 210,
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
            Limit::Handles => "--max-handles",
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
            Limit::Handles => "handles",
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
            Limit::Handles => "limit on open handles",
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
            Limit::Cpu => match self.fuel {
                Some(fuel) => format!("{fuel} fuel units"),
                None => "no fuel units (fuel is off)".to_owned(),
            },
            Limit::Stdout => size(self.stdout),
            Limit::Timeout => humantime::format_duration(self.timeout).to_string(),
            Limit::Stderr => size(self.stderr),
            Limit::StoreWrites => size(self.store_writes),
            Limit::TableElements => format!("{} elements", self.table_elements),
            Limit::Instances => format!("{} core instances", self.instances),
            Limit::Tables => format!("{} tables", self.tables),
            Limit::Memories => format!("{} memories", self.memories),
            Limit::Handles => format!("{} handles", self.handles),
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
            Limit::Handles,
        ];
        let mut codes: Vec<i32> = all.iter().map(|limit| limit.exit_code()).collect();
        codes.sort();
        codes.dedup();
        assert_eq!(codes.len(), all.len());
        // 0-125 are the guest's own, 126 and 127 the shell's (not executable, not found),
        // 128+signal its signals (134: a trap, as `wasmtime run` gives it).
        assert!(
            codes.iter().all(|code| (200..=215).contains(code)),
            "{codes:?}"
        );
        let mut keys: Vec<&str> = all.iter().map(|limit| limit.key()).collect();
        keys.sort();
        keys.dedup();
        assert_eq!(keys.len(), all.len());
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
            let mut store = wasmtime::Store::new(
                &engine,
                crate::run::enforce::GuestLimiter::new(limits.clone()),
            );
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
