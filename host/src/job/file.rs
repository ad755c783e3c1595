//! The job file: every key, parsed strictly, and the checks a job must pass before it runs.
//! Every key is documented in `examples/jobs/README.md`.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Result, bail};
use serde::Deserialize;
use worldhost_store::StoreUrl;

use super::modules::parse_sha256;
use crate::guest::compose::kebab;
use crate::limits::LimitsSection;
use crate::world::definition::{EnvSection, NetworkSection};

/// A job file, as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct JobFile {
    pub description: Option<String>,
    /// `cloud`, or a world file (relative to the job file) whose base is `cloud`.
    #[serde(default = "cloud")]
    pub world: String,
    pub module: ModuleEntry,
    /// The parameters: the guest's arguments after `argv[0]`.
    #[serde(default)]
    pub args: Vec<String>,
    #[serde(default)]
    pub env: EnvSection,
    #[serde(default)]
    pub network: NetworkSection,
    #[serde(default)]
    pub limits: LimitsSection,
    #[serde(default)]
    pub config: BTreeMap<String, String>,
    /// Stores the job reads: mounted read-only.
    #[serde(default, rename = "input")]
    pub inputs: Vec<StoreMount>,
    /// Stores the job writes: staged, and published only when it exits 0.
    #[serde(default, rename = "output")]
    pub outputs: Vec<StoreMount>,
    /// What happens to the staged outputs of a failed job.
    #[serde(default)]
    pub on_failure: OnFailure,
    /// Modules whose exports satisfy the entry module's imports.
    #[serde(default, rename = "import")]
    pub imports: Vec<ImportEntry>,
    /// How import modules are wired: wasm-compose's configuration keys.
    pub compose: Option<wasm_compose::config::Config>,
    /// How `host run --job --shard I/N` splits the input (see [`super::shard`]).
    pub shard: Option<super::shard::ShardSection>,
}

fn cloud() -> String {
    "cloud".to_owned()
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct ModuleEntry {
    /// A path (relative to the job file) or a store URL of the wasm file.
    pub source: String,
    /// The SHA-256 the module must have.
    #[serde(default, deserialize_with = "digest")]
    pub sha256: Option<String>,
    /// The function a run calls (default: `wasi:cli/run`, or `_start` in a core module).
    pub entry: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct ImportEntry {
    pub source: String,
    #[serde(default, deserialize_with = "digest")]
    pub sha256: Option<String>,
    /// The name `[compose]` wiring calls it by, kebab-case (default: the file name without
    /// `.wasm`, in kebab-case: `job_greeter.wasm` is `job-greeter`).
    #[serde(default, deserialize_with = "kebab_name")]
    pub name: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct StoreMount {
    /// Where the guest sees it.
    pub guest: String,
    /// The store URL (or `default`, or `default/PREFIX`).
    #[serde(deserialize_with = "crate::world::definition::store_url")]
    pub store: StoreUrl,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum OnFailure {
    /// Delete the staged outputs.
    #[default]
    Discard,
    /// Keep them under `.worldhost-quarantine/RUN/` in each output store.
    Quarantine,
}

fn digest<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    let text = String::deserialize(d)?;
    parse_sha256(&text)
        .map(Some)
        .map_err(serde::de::Error::custom)
}

/// Inputs and outputs must be stores that outlive the run, at distinct guest paths; outputs
/// must be writable and apart from one another (each is staged and published on its own).
pub(crate) fn check_mounts(file: &JobFile) -> Result<()> {
    let mut guests = std::collections::HashSet::new();
    for mount in file.inputs.iter().chain(&file.outputs) {
        let guest = mount.guest.trim_end_matches('/');
        if guest.is_empty() && mount.guest.is_empty() {
            bail!("a mount has an empty guest path");
        }
        if !guests.insert(guest) {
            bail!("two mounts at the guest path `{}`", mount.guest);
        }
        if !mount.store.outlives_run() {
            bail!(
                "the mount at `{}` is `memory:`, which is empty at start and gone at the end; \
                 a job's inputs and outputs are stores that outlive it",
                mount.guest
            );
        }
    }
    for input in &file.inputs {
        if let Some(dir) = input.store.local_dir()
            && !dir.is_dir()
        {
            bail!(
                "the input at `{}` is `{}`, which is not a directory",
                input.guest,
                input.store
            );
        }
    }
    for (index, output) in file.outputs.iter().enumerate() {
        if output.store.is_read_only() {
            bail!(
                "the output at `{}` is `{}`: http(s) stores are read-only (use it as an `[[input]]`)",
                output.guest,
                output.store
            );
        }
        for other in &file.outputs[index + 1..] {
            if output.store.overlaps(&other.store) {
                bail!(
                    "the outputs `{}` and `{}` are the same store or one is inside the other; \
                     give each output a store of its own",
                    output.store.as_str().trim_end_matches('/'),
                    other.store.as_str().trim_end_matches('/')
                );
            }
        }
    }
    Ok(())
}

pub(crate) fn folder_of(path: &Path) -> &Path {
    match path.parent() {
        Some(folder) if !folder.as_os_str().is_empty() => folder,
        _ => Path::new("."),
    }
}

pub(crate) fn import_name(import: &ImportEntry) -> String {
    import.name.clone().unwrap_or_else(|| {
        let file = import.source.rsplit('/').next().unwrap_or(&import.source);
        kebab(file.strip_suffix(".wasm").unwrap_or(file))
    })
}

/// An import module's name is a component name in the composition: kebab-case.
fn kebab_name<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    let name = String::deserialize(d)?;
    if name == kebab(&name) {
        Ok(Some(name))
    } else {
        Err(serde::de::Error::custom(format!(
            "`{name}` is not a kebab-case name (lowercase words joined by `-`, like `{}`)",
            kebab(&name)
        )))
    }
}
