//! Jobs: a described run (`host run --job job.toml`). The job file names the entry module (a
//! path or a store URL, with an optional digest), its entry point and parameters, import
//! modules linked into it, the world with its environment, limits and config, and the stores
//! it reads (inputs, read-only) and writes (outputs, staged and published only when the job
//! exits 0). Every key is documented in `examples/jobs/README.md`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};
use wasmtime::Engine;
use worldhost_world_cloud::outputs::StagedOutput;
use worldhost_world_cloud::{CloudFsCtx, Mount, MountSpec};

use crate::compose::{ImportModule, compose};
use crate::guest::{CoreRole, Guest};
use crate::modules::{Module, ModuleCache, parse_sha256};
use crate::run::{Outcome, RunOptions, run_command_in};
use crate::world::World;
use crate::world_file::{EnvSection, LimitsSection, NetworkSection, WorldFile, parse_toml};

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
    #[serde(deserialize_with = "store")]
    pub store: String,
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

fn store<'de, D: serde::Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    crate::world_file::store_url(d).map(Option::unwrap_or_default)
}

/// A job ready to run: its file, the world definition it runs in and the run's options.
pub struct Job {
    /// The job file, for messages.
    pub path: PathBuf,
    pub file: JobFile,
    /// The world with the job's env, network, limits and config on top.
    pub definition: WorldFile,
    pub options: RunOptions,
}

/// What a run report says (`--report FILE`, JSON).
#[derive(Debug, Default, Serialize)]
pub struct Report {
    pub job: String,
    /// The process exit status `host run` returned.
    pub exit_code: i32,
    /// `exited`, `trapped`, `limit` (a limit stopped it) or `error` (the host could not run it).
    pub outcome: &'static str,
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
    /// `published`, `discarded`, `quarantined`, or `none` (no outputs, or never staged).
    pub outputs: &'static str,
    pub objects_published: u64,
    /// Where quarantined outputs are (`URL/.worldhost-quarantine/RUN`).
    pub quarantine: Vec<String>,
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
    /// `input` or `output`.
    pub role: &'static str,
    pub bytes_read: u64,
    pub bytes_written: u64,
    pub objects_written: u64,
}

impl Job {
    /// Reads and checks the job file at `path` and the world it names.
    pub fn load(path: &Path) -> Result<Job> {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read job file `{shown}`"))?;
        let file: JobFile = parse_toml(&text, &shown)?;
        let folder = folder_of(path);
        // A name, or a world file relative to the job file.
        let world_name = if file.world.ends_with(".toml") || file.world.contains('/') {
            folder.join(&file.world).display().to_string()
        } else {
            file.world.clone()
        };
        let world = WorldFile::load(&world_name).with_context(|| format!("{shown}: `world`"))?;
        if world.base != "cloud" {
            bail!(
                "{shown}: jobs run in the `cloud` world (or a world file extending it), whose output \
                 stores can be staged; `{}` is a `{}` world (mount local directories as file:///PATH stores)",
                file.world,
                world.base
            );
        }
        check_mounts(&file).map_err(|e| anyhow::anyhow!("{shown}: {e}"))?;
        if let Some(wiring) = &file.compose
            && !(wiring.dependencies.is_empty()
                && wiring.definitions.is_empty()
                && wiring.search_paths.is_empty())
        {
            // They would link files the job does not list, unchecked by any digest.
            bail!(
                "{shown}: `[compose]` takes `instantiations` here; list every module as an \
                 `[[import]]` (with its `sha256`) instead of `dependencies`, `definitions` or `search-paths`"
            );
        }
        let mut names = std::collections::HashSet::new();
        for import in &file.imports {
            if !names.insert(import_name(import)) {
                bail!(
                    "{shown}: two import modules are called `{}`; give one a different `name`",
                    import_name(import)
                );
            }
        }
        // The job's settings go over the world's; its mounts are only its inputs and outputs.
        let definition = WorldFile {
            mounts: Vec::new(),
            ..world.extended_by(WorldFile {
                env: file.env.clone(),
                network: file.network.clone(),
                limits: file.limits.clone(),
                config: file.config.clone(),
                ..WorldFile::default()
            })
        };
        let options = RunOptions {
            args: file.args.clone(),
            env: definition.environment(&[])?,
            limits: definition.limits(),
            network_allow: definition.network.allow.clone(),
            config: definition.config.clone(),
        };
        Ok(Job {
            path: path.to_owned(),
            file,
            definition,
            options,
        })
    }

    /// The entry module and the import modules, read or fetched and checked.
    async fn modules(&self, cache: &ModuleCache) -> Result<(Module, Vec<Module>)> {
        let folder = folder_of(&self.path);
        let module = &self.file.module;
        let entry = cache
            .load(&module.source, module.sha256.as_deref(), folder)
            .await?;
        let mut imports = Vec::new();
        for import in &self.file.imports {
            imports.push(
                cache
                    .load(&import.source, import.sha256.as_deref(), folder)
                    .await
                    .with_context(|| format!("import module `{}`", import_name(import)))?,
            );
        }
        Ok((entry, imports))
    }

    /// The entry module with its import modules linked in, as component bytes, and the entry
    /// point to call in it. Composed from the checked bytes, never from the sources again.
    fn composed(&self, entry: &Module, imports: &[Module]) -> Result<(Vec<u8>, Option<String>)> {
        let requested = self.file.module.entry.as_deref();
        let (root, entry_point) =
            crate::guest::command_component(Path::new(&entry.source), &entry.bytes, requested)?;
        let mut linked = Vec::new();
        for (import, module) in self.file.imports.iter().zip(imports) {
            let name = import_name(import);
            let shown = Path::new(&module.source);
            let bytes = crate::guest::component_bytes(shown, &module.bytes, CoreRole::Library)
                .with_context(|| format!("import module `{name}`"))?;
            linked.push(ImportModule { name, bytes });
        }
        let composed = compose(&root, &linked, self.file.compose.as_ref())?;
        Ok((composed, entry_point.map(str::to_owned)))
    }

    /// `host compose --job`: the composed component's bytes.
    pub async fn compose_only(&self) -> Result<Vec<u8>> {
        if self.file.imports.is_empty() {
            bail!(
                "{}: the job has no import modules, so there is nothing to compose",
                self.path.display()
            );
        }
        let (entry, imports) = self.modules(&ModuleCache::open()?).await?;
        Ok(self.composed(&entry, &imports)?.0)
    }

    /// Runs the job; the report says how it went, including a failure of the host (with
    /// exit code 1 and the error).
    pub async fn run(&self, engine: &Engine) -> Report {
        let started = Instant::now();
        let mut report = Report {
            job: self.path.display().to_string(),
            run_id: run_id(),
            outcome: "error",
            outputs: "none",
            exit_code: 1,
            ..Report::default()
        };
        let mut staged = Vec::new();
        let result = self.run_staged(engine, &mut report, &mut staged).await;
        let outcome = match result {
            Ok(outcome) => Some(outcome),
            Err(error) => {
                report.error = Some(format!("{error:#}"));
                None
            }
        };
        if let Some(outcome) = &outcome {
            report.exit_code = outcome.exit_code();
            match outcome {
                Outcome::Exited(_) => report.outcome = "exited",
                Outcome::Trapped(trap) => {
                    report.outcome = "trapped";
                    report.error = Some(trap.clone());
                }
                Outcome::LimitHit(exceeded) => {
                    report.outcome = "limit";
                    report.error = Some(exceeded.to_string());
                    report.limit_hit = Some(LimitHit {
                        limit: exceeded.limit.key(),
                        value: exceeded.value.clone(),
                    });
                }
            }
        }
        if !staged.is_empty() {
            let succeeded = matches!(outcome, Some(Outcome::Exited(0)));
            if let Err(error) = self.finish_outputs(&staged, succeeded, &mut report).await {
                report.exit_code = 1;
                report.outcome = "error";
                let earlier = report.error.take().map(|e| format!("; before that: {e}"));
                report.error = Some(format!("{error:#}{}", earlier.unwrap_or_default()));
            }
        }
        report.duration_seconds = started.elapsed().as_secs_f64();
        report
    }

    /// Loads the modules, opens the stores (outputs staged) and runs the guest.
    async fn run_staged(
        &self,
        engine: &Engine,
        report: &mut Report,
        staged: &mut Vec<StagedOutput>,
    ) -> Result<Outcome> {
        let cache = ModuleCache::open()?;
        let (entry, imports) = self.modules(&cache).await?;
        report.module = Some(module_report(&entry));
        report.imports = imports.iter().map(module_report).collect();
        let shown = PathBuf::from(&entry.source);
        let guest = if imports.is_empty() {
            Guest::from_bytes(
                engine,
                &shown,
                &entry.bytes,
                self.file.module.entry.as_deref(),
            )?
        } else {
            let (composed, entry_point) = self.composed(&entry, &imports)?;
            Guest::from_bytes(engine, &shown, &composed, entry_point.as_deref())?
        };
        report.compiled = !guest.from_cache;
        let mut mounts = Vec::new();
        for input in &self.file.inputs {
            mounts.push(Arc::new(open_mount(input, true)?));
        }
        for output in &self.file.outputs {
            let target = Arc::new(open_mount(output, false)?);
            let output = StagedOutput::new(target, &report.run_id);
            mounts.push(output.staged.clone());
            staged.push(output);
        }
        for mount in &mounts {
            worldhost_world_cloud::check_mount(mount).await?;
        }
        let world = World::Cloud { mounts: Vec::new() };
        let cloud_fs = CloudFsCtx::with_mounts(mounts.clone());
        let outcome = run_command_in(engine, &guest, &world, Some(cloud_fs), &self.options).await;
        for (mount, role) in mounts.iter().zip(
            std::iter::repeat_n("input", self.file.inputs.len()).chain(std::iter::repeat("output")),
        ) {
            report.mounts.push(mount_report(mount, role));
        }
        outcome
    }

    /// Publishes the staged outputs after a success; discards or quarantines them otherwise.
    async fn finish_outputs(
        &self,
        staged: &[StagedOutput],
        succeeded: bool,
        report: &mut Report,
    ) -> Result<()> {
        // Every output is finished even if one fails, and every failure is named.
        let mut failures = Vec::new();
        for output in staged {
            let finished = match (succeeded, self.file.on_failure) {
                (true, _) => output.publish().await.map(|published| {
                    report.objects_published += published;
                }),
                (false, OnFailure::Discard) => output.discard().await,
                (false, OnFailure::Quarantine) => output.quarantine().await.map(|prefix| {
                    let url = output.target.url.trim_end_matches('/');
                    report.quarantine.push(format!("{url}/{prefix}"));
                }),
            };
            if let Err(error) = finished {
                failures.push(format!("{error:#}"));
            }
        }
        report.outputs = match (succeeded, self.file.on_failure) {
            (true, _) => "published",
            (false, OnFailure::Discard) => "discarded",
            (false, OnFailure::Quarantine) => "quarantined",
        };
        if failures.is_empty() {
            Ok(())
        } else {
            bail!("{}", failures.join("; "))
        }
    }
}

/// Inputs and outputs must be stores that outlive the run, at distinct guest paths; outputs
/// must be writable and apart from one another (each is staged and published on its own).
fn check_mounts(file: &JobFile) -> Result<()> {
    let mut guests = std::collections::HashSet::new();
    for mount in file.inputs.iter().chain(&file.outputs) {
        let guest = mount.guest.trim_end_matches('/');
        if guest.is_empty() && mount.guest.is_empty() {
            bail!("a mount has an empty guest path");
        }
        if !guests.insert(guest) {
            bail!("two mounts at the guest path `{}`", mount.guest);
        }
        if mount.store.starts_with("memory:") {
            bail!(
                "the mount at `{}` is `memory:`, which is empty at start and gone at the end; \
                 a job's inputs and outputs are stores that outlive it",
                mount.guest
            );
        }
    }
    for input in &file.inputs {
        let url = crate::world_file::resolve_store_url(&input.store);
        if let Some(dir) = url.strip_prefix("file://")
            && !Path::new(dir).is_dir()
        {
            bail!(
                "the input at `{}` is `{url}`, which is not a directory",
                input.guest
            );
        }
    }
    let outputs: Vec<String> = file
        .outputs
        .iter()
        .map(|o| {
            crate::world_file::resolve_store_url(&o.store)
                .trim_end_matches('/')
                .to_owned()
                + "/"
        })
        .collect();
    for (index, url) in outputs.iter().enumerate() {
        if url.starts_with("http") {
            bail!(
                "the output at `{}` is `{url}`: http(s) stores are read-only (use it as an `[[input]]`)",
                file.outputs[index].guest
            );
        }
        for other in &outputs[index + 1..] {
            if url.starts_with(other.as_str()) || other.starts_with(url.as_str()) {
                bail!(
                    "the outputs `{}` and `{}` are the same store or one is inside the other; \
                     give each output a store of its own",
                    url.trim_end_matches('/'),
                    other.trim_end_matches('/')
                );
            }
        }
    }
    Ok(())
}

fn folder_of(path: &Path) -> &Path {
    match path.parent() {
        Some(folder) if !folder.as_os_str().is_empty() => folder,
        _ => Path::new("."),
    }
}

fn import_name(import: &ImportEntry) -> String {
    import.name.clone().unwrap_or_else(|| {
        let file = import.source.rsplit('/').next().unwrap_or(&import.source);
        crate::compose::kebab(file.strip_suffix(".wasm").unwrap_or(file))
    })
}

/// An import module's name is a component name in the composition: kebab-case.
fn kebab_name<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    let name = String::deserialize(d)?;
    if name == crate::compose::kebab(&name) {
        Ok(Some(name))
    } else {
        Err(serde::de::Error::custom(format!(
            "`{name}` is not a kebab-case name (lowercase words joined by `-`, like `{}`)",
            crate::compose::kebab(&name)
        )))
    }
}

fn open_mount(mount: &StoreMount, read_only: bool) -> Result<Mount> {
    Mount::open(&MountSpec {
        url: crate::world_file::resolve_store_url(&mount.store),
        guest: mount.guest.clone(),
        read_only,
    })
}

fn module_report(module: &Module) -> ModuleReport {
    ModuleReport {
        source: module.source.clone(),
        sha256: module.sha256.clone(),
        fetched: module.fetched,
    }
}

fn mount_report(mount: &Mount, role: &'static str) -> MountReport {
    let stats = &mount.stats;
    MountReport {
        guest: mount.guest.clone(),
        store: mount.url.clone(),
        role,
        bytes_read: stats.bytes_read.load(Ordering::Relaxed),
        bytes_written: stats.bytes_written.load(Ordering::Relaxed),
        objects_written: stats.objects_written.load(Ordering::Relaxed),
    }
}

/// A name for one run, unique across processes: its staging prefix.
fn run_id() -> String {
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
