//! The run report (`host run --job --report FILE`, JSON).

use std::sync::atomic::Ordering;

use serde::Serialize;
use worldhost_store::Mount;

use super::modules::Module;

/// What a run report says (`--report FILE`, JSON).
#[derive(Debug, Serialize)]
pub struct Report {
    pub job: String,
    /// The process exit status `host run` returned.
    pub exit_code: i32,
    pub outcome: HowItEnded,
    pub limit_hit: Option<LimitHit>,
    /// The host's error, the trap, or the limit hit (as `host run` words it).
    pub error: Option<String>,
    pub duration_seconds: f64,
    pub run_id: String,
    pub module: Option<ModuleReport>,
    pub imports: Vec<ModuleReport>,
    /// Whether the (composed) guest had to be compiled: false when the compiled-code cache
    /// held it.
    pub compiled: bool,
    pub mounts: Vec<MountReport>,
    pub outputs: OutputsFate,
    pub objects_published: u64,
    /// Where quarantined outputs are (`URL/.worldhost-quarantine/RUN`).
    pub quarantine: Vec<String>,
    /// For a shard of a sharded job: which, and what it was given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shard: Option<super::shard::ShardReport>,
}

#[derive(Debug, Serialize)]
pub struct LimitHit {
    /// The `[limits]` key: memory, fuel, timeout, stdout, stderr or store-writes.
    pub limit: &'static str,
    pub value: String,
}

#[derive(Debug, Serialize)]
pub struct ModuleReport {
    pub source: String,
    pub sha256: String,
    /// Whether it was fetched from its store in this run (not a local file or the cache).
    pub fetched: bool,
}

#[derive(Debug, Serialize)]
pub struct MountReport {
    pub guest: String,
    pub store: String,
    pub role: MountRole,
    pub bytes_read: u64,
    pub bytes_written: u64,
    pub objects_written: u64,
}

/// How a job's run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum HowItEnded {
    /// The guest returned or exited (with any code).
    Exited,
    Trapped,
    /// A limit stopped it.
    Limit,
    /// The host could not run it, or could not finish its outputs.
    Error,
}

/// Whether a mount is one of a job's inputs (read-only) or outputs (staged).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum MountRole {
    Input,
    Output,
}

/// What became of a job's staged outputs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum OutputsFate {
    Published,
    Discarded,
    Quarantined,
    /// No outputs, or never staged.
    None,
}

pub(crate) fn module_report(module: &Module) -> ModuleReport {
    ModuleReport {
        source: module.source.clone(),
        sha256: module.sha256.clone(),
        fetched: module.fetched,
    }
}

pub(crate) fn mount_report(mount: &Mount, role: MountRole) -> MountReport {
    let stats = &mount.stats;
    MountReport {
        guest: mount.guest.clone(),
        store: mount.url.to_string(),
        role,
        bytes_read: stats.bytes_read.load(Ordering::Relaxed),
        bytes_written: stats.bytes_written.load(Ordering::Relaxed),
        objects_written: stats.objects_written.load(Ordering::Relaxed),
    }
}

/// A name for one run, unique across processes: its staging prefix.
pub(crate) fn run_id() -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    format!(
        "{}-{:09}-{}",
        now.as_secs(),
        now.subsec_nanos(),
        std::process::id()
    )
}
