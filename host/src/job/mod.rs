//! Jobs: a described run (`host run --job job.toml`). The job file ([`file`](mod@file)) names the entry
//! module (a path or a store URL, with an optional digest), its entry point and parameters,
//! import modules linked into it, the world with its environment, limits and config, and the
//! stores it reads (inputs, read-only) and writes (outputs, staged and published only when the
//! job exits 0). The run writes a [`report`].

pub mod file;
pub mod modules;
pub mod report;
pub mod shard;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use wasmtime::Engine;
use worldhost_store::{Mount, StagedOutput};

use crate::guest::compose::{ImportModule, compose};
use crate::guest::{CoreRole, Guest};
use crate::run::{AsyncAbi, Deadline, Outcome, RunOptions, run_command};
use crate::world::definition::one_line;
use crate::world::{AnyWorld, WorldFile, parse_toml};
use file::{JobFile, OnFailure, StoreMount, check_mounts, folder_of, import_name};
use modules::{Module, ModuleCache};
use report::{
    HowItEnded, LimitHit, MountRole, OutputsFate, Report, module_report, mount_report, run_id,
};
use shard::{ShardId, ShardReport, Split};

/// A job ready to run: its file, the world definition it runs in and the run's options.
pub struct Job {
    /// The job file, for messages.
    pub path: PathBuf,
    pub file: JobFile,
    /// The world with the job's env, network, limits and config on top.
    pub definition: WorldFile,
    pub options: RunOptions,
    /// Which shard this run is (`--shard I/N`): it is given its share of the split input,
    /// and publishes and reports as that shard.
    pub shard: Option<ShardId>,
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
        // A job's world serves its stores (the `cloud` world, or one extending it).
        if AnyWorld::over_stores(&world.base, Vec::new()).is_err() {
            bail!(
                "{shown}: jobs run in the `cloud` world (or a world file extending it), whose output \
                 stores can be staged; `{}` is a `{}` world (mount local directories as file:///PATH stores)",
                one_line(&file.world),
                world.base
            );
        }
        // The messages show guest paths and store URLs as written: one line each.
        check_mounts(&file)
            .map_err(|e| anyhow::anyhow!("{shown}: {}", one_line(&e.to_string())))?;
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
                limits: file.limits,
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
            // A job reports and stages its outputs after the guest, even one stopped at its
            // time limit: the run is stopped in-process.
            deadline: Deadline::Epochs,
        };
        if file.shard.is_some() {
            // A mistake in `[shard]` shows before any shard runs.
            Split::new(&file).map_err(|e| anyhow::anyhow!("{shown}: {e}"))?;
        }
        Ok(Job {
            path: path.to_owned(),
            file,
            definition,
            options,
            shard: None,
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
    /// Runs the job on an engine `engine_for` makes, with or without the component model's
    /// async ABI as its module needs ([`Guest::for_run`]).
    pub async fn run(&self, engine_for: impl Fn(AsyncAbi) -> Result<Engine>) -> Report {
        let started = Instant::now();
        let mut report = Report {
            job: self.path.display().to_string(),
            run_id: run_id(),
            outcome: HowItEnded::Error,
            outputs: OutputsFate::None,
            exit_code: 1,
            limit_hit: None,
            error: None,
            duration_seconds: 0.0,
            module: None,
            imports: Vec::new(),
            compiled: false,
            mounts: Vec::new(),
            objects_published: 0,
            quarantine: Vec::new(),
            shard: None,
        };
        let mut staged = Vec::new();
        let result = self.run_staged(&engine_for, &mut report, &mut staged).await;
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
                Outcome::Exited(_) => report.outcome = HowItEnded::Exited,
                Outcome::Trapped(trap) => {
                    report.outcome = HowItEnded::Trapped;
                    report.error = Some(trap.clone());
                }
                Outcome::LimitHit(exceeded) => {
                    report.outcome = HowItEnded::Limit;
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
                report.outcome = HowItEnded::Error;
                let earlier = report.error.take().map(|e| format!("; before that: {e}"));
                report.error = Some(format!("{error:#}{}", earlier.unwrap_or_default()));
            }
        }
        report.duration_seconds = started.elapsed().as_secs_f64();
        if let Some(shard) = self.shard
            && let Err(error) = self.write_shard_report(shard, &mut report).await
        {
            report.exit_code = 1;
            report.outcome = HowItEnded::Error;
            report.error = Some(format!("{error:#}"));
        }
        report
    }

    /// Writes the report as `_reports/I.json` in the first output store. A report saying the
    /// shard failed is written too: `finish` names the shard and its error.
    async fn write_shard_report(&self, shard: ShardId, report: &mut Report) -> Result<()> {
        if report.shard.is_none() {
            // Stopped before its inputs were listed.
            report.shard = Some(ShardReport {
                index: shard.index,
                count: shard.count,
                inputs: 0,
                input_bytes: 0,
            });
        }
        let json = serde_json::to_vec_pretty(report).context("cannot encode the report")?;
        shard::write_report(&self.file, shard, json).await
    }

    /// Loads the modules, opens the stores (outputs staged) and runs the guest.
    async fn run_staged(
        &self,
        engine_for: impl Fn(AsyncAbi) -> Result<Engine>,
        report: &mut Report,
        staged: &mut Vec<StagedOutput>,
    ) -> Result<Outcome> {
        let cache = ModuleCache::open()?;
        let (entry, imports) = self.modules(&cache).await?;
        report.module = Some(module_report(&entry));
        report.imports = imports.iter().map(module_report).collect();
        let shown = PathBuf::from(&entry.source);
        let (engine, guest) = if imports.is_empty() {
            let entry_point = self.file.module.entry.as_deref();
            Guest::for_run(&shown, &entry.bytes, entry_point, engine_for)?
        } else {
            let (composed, entry_point) = self.composed(&entry, &imports)?;
            Guest::for_run(&shown, &composed, entry_point.as_deref(), engine_for)?
        };
        let engine = &engine;
        report.compiled = !guest.from_cache;
        let mut mounts = Vec::new();
        // A shard's split input shows only its share (the others are mounted whole).
        let mut share = None;
        if let Some(id) = self.shard {
            shard::forget_previous(&self.file, id).await?;
            let split = Split::new(&self.file)?;
            let (view, given) = split.plan(&self.file, id.count).await?.share(id);
            report.shard = Some(given);
            share = Some((split.input, view));
        }
        for (index, input) in self.file.inputs.iter().enumerate() {
            match share.take_if(|(at, _)| *at == index) {
                Some((_, view)) => mounts.push(Arc::new(view)),
                None => mounts.push(Arc::new(open_mount(input, true)?)),
            }
        }
        let layout = self
            .file
            .shard
            .as_ref()
            .map(|s| s.outputs)
            .unwrap_or_default();
        for output in &self.file.outputs {
            let output = match self.shard {
                Some(id) => &StoreMount {
                    guest: output.guest.clone(),
                    store: shard::output_url(&output.store, layout, id)?,
                },
                None => output,
            };
            let target = Arc::new(open_mount(output, false)?);
            let output = StagedOutput::new(target, &report.run_id);
            mounts.push(output.staged.clone());
            staged.push(output);
        }
        for mount in &mounts {
            mount.check().await?;
        }
        let world = AnyWorld::over_stores(&self.definition.base, mounts.clone())?;
        let outcome = run_command(engine, &guest, &world, &self.options).await;
        let roles = std::iter::repeat_n(MountRole::Input, self.file.inputs.len())
            .chain(std::iter::repeat(MountRole::Output));
        for (mount, role) in mounts.iter().zip(roles) {
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
        let succeeded = succeeded && self.no_reserved_names_written(staged, &mut failures).await;
        for output in staged {
            let finished = match (succeeded, self.file.on_failure) {
                (true, _) => output.publish().await.map(|published| {
                    report.objects_published += published;
                }),
                (false, OnFailure::Discard) => output.discard().await,
                (false, OnFailure::Quarantine) => output.quarantine().await.map(|prefix| {
                    let url = output.target.url.as_str().trim_end_matches('/');
                    report.quarantine.push(format!("{url}/{prefix}"));
                }),
            };
            if let Err(error) = finished {
                failures.push(format!("{error:#}"));
            }
        }
        report.outputs = match (succeeded, self.file.on_failure) {
            (true, _) => OutputsFate::Published,
            (false, OnFailure::Discard) => OutputsFate::Discarded,
            (false, OnFailure::Quarantine) => OutputsFate::Quarantined,
        };
        if failures.is_empty() {
            Ok(())
        } else {
            bail!("{}", failures.join("; "))
        }
    }
}

impl Job {
    /// In a shard writing a merged output, whether the guest kept off the names `host job
    /// finish` keeps in the first output's root; if not, the failure is named and nothing
    /// will be published.
    async fn no_reserved_names_written(
        &self,
        staged: &[StagedOutput],
        failures: &mut Vec<String>,
    ) -> bool {
        let merged =
            self.file.shard.as_ref().map(|s| s.outputs) == Some(shard::OutputLayout::Merged);
        let Some(first) = staged.first().filter(|_| merged && self.shard.is_some()) else {
            return true;
        };
        match shard::reserved_written(&first.staged).await {
            Ok(None) => true,
            Ok(Some(name)) => {
                failures.push(format!(
                    "the guest wrote `{name}` to the first output, `{}`: in a sharded job with \
                     merged outputs that name is kept for `host job finish` (shard reports and \
                     `_SUCCESS`), so no output of this shard was published",
                    first.target.url
                ));
                false
            }
            Err(error) => {
                failures.push(format!("{error:#}"));
                false
            }
        }
    }
}

fn open_mount(mount: &StoreMount, read_only: bool) -> Result<Mount> {
    shard::open(mount, read_only)
}
