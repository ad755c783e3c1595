//! The `host` command line.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand};
use worldhost::guest::Guest;
use worldhost::job::report::HowItEnded;
use worldhost::job::shard::{self, ShardId, Split, shard_count};
use worldhost::limits::{self, LimitsSection};
use worldhost::run::{AsyncAbi, Deadline, Outcome, RunOptions, engine, run_command};
use worldhost::world::{AnyWorld, BUILT_IN, WorldFile, add_mount_flags};
use worldhost_world_api::World;
use worldhost_world_cli::CliWorld;

/// The environment variable that filters the host's own log lines (tracing's EnvFilter syntax).
const LOG_ENV: &str = "WORLDHOST_LOG";

#[derive(Parser)]
#[command(
    name = "host",
    version,
    about = "Runs WebAssembly guests against a world chosen at run time.",
    after_help = "The host's own log lines go to stderr, filtered by WORLDHOST_LOG \
                  (for example WORLDHOST_LOG=debug); stdout belongs to the guest."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run a command guest (a component exporting `wasi:cli/run`, or a wasip1 module).
    #[command(after_help = RUN_EXAMPLES)]
    Run(RunArgs),
    /// Link import modules into a component (as `wasm-tools compose` does) and write the result.
    #[command(after_help = COMPOSE_EXAMPLES)]
    Compose(ComposeArgs),
    /// Call a plugin (a component exporting `worldhost:host/handler`) once and print its output.
    #[command(after_help = CALL_EXAMPLES)]
    Call(CallArgs),
    /// Print a guest's imports and exports, and for every world whether it can run there.
    Inspect {
        /// The wasm file (a component or a wasip1 core module).
        wasm: PathBuf,
    },
    /// List the worlds, or show one's definition and the WIT it offers.
    Worlds {
        #[command(subcommand)]
        show: Option<WorldsCommand>,
    },
    /// Sharded jobs: show how a job's input splits, and check that every shard succeeded.
    #[command(after_help = JOB_EXAMPLES)]
    Job {
        #[command(subcommand)]
        command: JobCommand,
    },
    /// Print the directory of the cloud world's default store (created on first use):
    /// $WORLDHOST_STORE, else $XDG_DATA_HOME/worldhost/store, else ~/.local/share/worldhost/store.
    DefaultStore,
}

const RUN_EXAMPLES: &str = "\
Host options come before the wasm file; everything after it goes to the guest.

Exit status: the guest's exit code; 134 when the guest traps (the trap and its wasm
backtrace are printed); 1 when the host cannot run it (the reason is printed); when a limit
stops the run: 205 store writes, 206 memory, 207 CPU (fuel), 208 stdout, 209 time, 210 stderr,
204 table elements, 203 instances, 202 tables, 201 memories (the last three: world or job
file keys under [limits]).

Examples:
  host run app.wasm --verbose input.txt     # `--verbose input.txt` are the guest's arguments
  host run --dir ./data::/data app.wasm     # ./data on the host is /data in the guest
  host run --dir ./in::in:ro --dir ./out::out app.wasm
  host run --env HOME --env MODE=fast app.wasm
  host run --world cloud app.wasm            # `.` is the default store (~/.local/share/worldhost/store)
  host run --world cloud --mount s3://bucket/jobs/42::. --mount memory:::/tmp app.wasm
  host run --job job.toml --report report.json   # a described job (examples/jobs/README.md)";

const CALL_EXAMPLES: &str = "\
The plugin runs on a fresh instance in the world given (default `cloud`: the default store at
`.`). Its input is the bytes of --input (a file, or - for stdin; none: empty), passed as text
with --text. Output text is printed; output bytes are written to stdout as they are. A plugin's
own error prints `error: the plugin failed: CODE: MESSAGE` and exits 1; traps and limits exit
as with `host run`.

Examples:
  echo docs/ | host call --text --input - word_count.wasm
  host call --world ./my-world.toml --mount s3://bucket/jobs::. --input photo.png thumbnail.wasm";

const COMPOSE_EXAMPLES: &str = "\
Without --config every import module is a definition: an instance it exports satisfies every
import of the same name, one instance shared by all importers. With --config (wasm-compose's
YAML, or TOML with the same keys) import modules are dependencies named NAME, wired by its
`instantiations`. What no module satisfies stays an import of the result.

Examples:
  host compose app.wasm --import greeter.wasm -o composed.wasm
  host compose app.wasm --import shout=shouter.wasm --config wiring.yml -o composed.wasm
  host compose --job job.toml -o composed.wasm      # the job's modules, fetched and checked";

#[derive(clap::Args)]
struct ComposeArgs {
    /// Compose the entry module and import modules of this job file.
    #[arg(long, value_name = "JOB.toml", conflicts_with_all = ["root", "imports", "config"])]
    job: Option<PathBuf>,
    /// An import module: PATH, or NAME=PATH to give it the name a --config uses.
    #[arg(long = "import", value_name = "[NAME=]PATH")]
    imports: Vec<String>,
    /// A wasm-compose configuration (YAML, or TOML with the same keys).
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Where to write the composed component.
    #[arg(short, long, value_name = "OUT.wasm")]
    output: PathBuf,
    /// The entry component (a core module is converted first).
    #[arg(required_unless_present = "job")]
    root: Option<PathBuf>,
}

#[derive(clap::Args)]
struct CallArgs {
    /// The world: `cloud` (default), `cli`, or a world file extending one.
    #[arg(long, default_value = "cloud", value_name = "NAME|FILE")]
    world: String,
    /// Mount a store (cloud world): URL[::GUEST][:ro].
    #[arg(long = "mount", value_name = "URL[::GUEST][:ro]")]
    mounts: Vec<String>,
    /// Preopen a host directory (cli world): HOST[::GUEST][:ro].
    #[arg(long = "dir", value_name = "HOST[::GUEST][:ro]")]
    dirs: Vec<String>,
    /// Set an environment variable for the plugin; NAME alone passes the host's value on.
    #[arg(long = "env", value_name = "NAME[=VALUE]")]
    env: Vec<String>,
    /// The input: a file, or - for stdin.
    #[arg(long, value_name = "FILE|-")]
    input: Option<PathBuf>,
    /// Pass the input as text (it must be UTF-8) rather than bytes.
    #[arg(long)]
    text: bool,
    #[command(flatten)]
    limits: LimitArgs,
    /// The plugin.
    plugin: PathBuf,
}

const JOB_EXAMPLES: &str = "\
A sharded job runs as N processes, anywhere, each with `host run --job job.toml --shard I/N`
(or --shard-from-env VAR --shards N); its `[shard]` section says how the input is split
(examples/jobs/README.md). Then `host job finish` checks every shard's report.

Examples:
  host job plan job.toml --shards 8      # SHARD<TAB>KEY, one line per input object
  host job finish job.toml --shards 8    # writes _SUCCESS, or exits 1 naming the shards missing or failed";

#[derive(Subcommand)]
enum JobCommand {
    /// Print which shard each input object goes to (SHARD<TAB>KEY), and each shard's count on stderr.
    Plan {
        job: PathBuf,
        /// How many shards the job is split into.
        #[arg(long, value_name = "N")]
        shards: String,
    },
    /// Check that every shard's report (`_reports/I.json` in the first output store) says
    /// it succeeded; then write `_reports/merged.json` and `_SUCCESS`. Exits 1 naming every
    /// shard missing or failed otherwise.
    Finish {
        job: PathBuf,
        #[arg(long, value_name = "N")]
        shards: String,
    },
}

#[derive(Subcommand)]
enum WorldsCommand {
    /// Print a world's definition (TOML) and the WIT interfaces it offers.
    Show {
        /// A built-in world's name, or a world file.
        name: String,
    },
}

#[derive(clap::Args)]
struct RunArgs {
    /// Preopen a host directory: HOST[::GUEST], read-write, or with `:ro` at the end read-only.
    /// Without ::GUEST the guest sees it at the same path as the host.
    #[arg(long = "dir", value_name = "HOST[::GUEST][:ro]")]
    dirs: Vec<String>,

    /// Set an environment variable for the guest; NAME alone passes the host's value on.
    #[arg(long = "env", value_name = "NAME[=VALUE]")]
    env: Vec<String>,

    /// Mount a store in the cloud world: URL[::GUEST][:ro] with URL one of memory:,
    /// file:///PATH, s3://BUCKET/PREFIX, gs://BUCKET/PREFIX, az://CONTAINER/PREFIX,
    /// http(s)://HOST/PATH (read-only). GUEST defaults to `.`, where the default store is
    /// mounted otherwise.
    #[arg(long = "mount", value_name = "URL[::GUEST][:ro]")]
    mounts: Vec<String>,

    /// The world to run the guest against: `cli`, `cloud`, or a world file (./my-world.toml)
    /// extending one; these flags override the file's settings.
    #[arg(long, default_value = "cli", value_name = "NAME|FILE")]
    world: String,

    /// Run the job this file describes (module, imports, world, inputs, outputs, limits); ARGS
    /// given replace its `args`, and --env and limit flags override it.
    #[arg(long, value_name = "JOB.toml", conflicts_with_all = ["dirs", "mounts", "world"])]
    job: Option<PathBuf>,

    /// With --job: write a JSON report of the run to FILE (exit code, duration, module digest,
    /// bytes and objects per mount, any limit hit, what happened to the outputs).
    #[arg(long, value_name = "FILE", requires = "job")]
    report: Option<PathBuf>,

    /// With --job: run shard I of N (I from 0 to N-1) of the job: its share of the split
    /// input, outputs published as that shard, its report written as `_reports/I.json`.
    #[arg(
        long,
        value_name = "I/N",
        requires = "job",
        conflicts_with = "shard_from_env"
    )]
    shard: Option<String>,

    /// With --job and --shards N: run the shard whose index the environment variable VAR
    /// holds (a Kubernetes Indexed Job sets JOB_COMPLETION_INDEX).
    #[arg(long, value_name = "VAR", requires_all = ["job", "shards"])]
    shard_from_env: Option<String>,

    /// With --shard-from-env: how many shards the job is split into.
    #[arg(long, value_name = "N", requires = "shard_from_env")]
    shards: Option<String>,

    #[command(flatten)]
    limits: LimitArgs,

    /// The wasm file, then the guest's arguments (with --job: only arguments).
    #[arg(
        value_name = "WASM [ARGS]...",
        required_unless_present = "job",
        trailing_var_arg = true,
        allow_hyphen_values = true
    )]
    wasm_and_args: Vec<String>,
}

/// Limits of a run; each defaults to a value safe for untrusted guests.
#[derive(clap::Args)]
struct LimitArgs {
    /// Most linear memory the guest may use, all its memories together, e.g. 256MiB
    /// [default: 512MiB].
    #[arg(long, value_name = "SIZE", value_parser = limits::parse_size)]
    max_memory: Option<u64>,
    /// Most elements a table may have [default: 10000].
    #[arg(long, value_name = "COUNT")]
    max_table_elements: Option<u64>,
    /// Most fuel (about one unit per wasm instruction) the guest may burn [default: none, fuel
    /// is off: metering slows guest code; --timeout bounds the CPU a guest can use].
    #[arg(long, value_name = "UNITS")]
    max_fuel: Option<u64>,
    /// Longest the run may take, e.g. 30s or 5m [default: 10m].
    #[arg(long, value_name = "DURATION", value_parser = limits::parse_duration)]
    timeout: Option<std::time::Duration>,
    /// Most bytes the guest may write to stdout [default: 64MiB].
    #[arg(long, value_name = "SIZE", value_parser = limits::parse_size)]
    max_stdout: Option<u64>,
    /// Most bytes the guest may write to stderr [default: 16MiB].
    #[arg(long, value_name = "SIZE", value_parser = limits::parse_size)]
    max_stderr: Option<u64>,
    /// Most bytes the guest may write to files in stores (cloud world) [default: 16GiB].
    #[arg(long, value_name = "SIZE", value_parser = limits::parse_size)]
    max_store_writes: Option<u64>,
    /// Most handles (open files, streams, sockets, ...) the guest may hold at once
    /// [default: 10000].
    #[arg(long, value_name = "COUNT")]
    max_handles: Option<u64>,
    /// Most objects the guest may create in stores (cloud world: new files, directories, blob
    /// puts); past it creating one fails with `quota` [default: 100000].
    #[arg(long, value_name = "COUNT")]
    max_store_objects: Option<u64>,
    /// Most host memory the guest's file buffers (staged writes, read-ahead, directory
    /// listings) may hold together (cloud world) [default: 64MiB].
    #[arg(long, value_name = "SIZE", value_parser = limits::parse_size)]
    max_buffer_memory: Option<u64>,
}

impl LimitArgs {
    /// The limits these flags set (over a definition's, with `Limits::with`).
    fn section(&self) -> LimitsSection {
        LimitsSection {
            memory: self.max_memory,
            table_elements: self.max_table_elements,
            fuel: self.max_fuel,
            timeout: self.timeout,
            stdout: self.max_stdout,
            stderr: self.max_stderr,
            store_writes: self.max_store_writes,
            handles: self.max_handles,
            store_objects: self.max_store_objects,
            buffer_memory: self.max_buffer_memory,
            // Fixed by the guest's structure: a world or job file raises them (`limits.rs` says
            // why there is no flag).
            instances: None,
            tables: None,
            memories: None,
        }
    }
}

/// The command line's mount flags, for `add_mount_flags`.
fn mount_flags<'a>(dirs: &'a [String], mounts: &'a [String]) -> [(&'static str, &'a [String]); 2] {
    [("--dir", dirs), ("--mount", mounts)]
}

fn main() -> ExitCode {
    init_logging();
    let cli = Cli::parse();
    match cli.command {
        Command::Run(args) => exit_with(run(args)),
        Command::Call(args) => exit_with(call(args)),
        Command::Compose(args) => exit_with(compose(args)),
        Command::Inspect { wasm } => exit_with(
            engine(&Default::default(), Deadline::Epochs, AsyncAbi::On).and_then(|engine| {
                print!("{}", worldhost::inspect::inspect(&engine, &wasm)?);
                Ok(0)
            }),
        ),
        Command::Worlds { show: None } => {
            for (name, _) in BUILT_IN {
                let description = WorldFile::built_in(name)
                    .and_then(|w| w.description)
                    .unwrap_or_default();
                println!("{name:8} {description}");
            }
            ExitCode::SUCCESS
        }
        Command::Worlds {
            show: Some(WorldsCommand::Show { name }),
        } => exit_with(show_world(&name)),
        Command::Job { command } => exit_with(job_command(command)),
        Command::DefaultStore => {
            println!("{}", worldhost_store::default_store_dir().display());
            ExitCode::SUCCESS
        }
    }
}

fn call(args: CallArgs) -> Result<i32> {
    use std::io::Read;
    use worldhost::plugin::{CallResult, Payload, PluginHost};

    let mut input = Vec::new();
    match args.input.as_deref() {
        Some(path) if path == std::path::Path::new("-") => {
            std::io::stdin()
                .read_to_end(&mut input)
                .context("cannot read stdin")?;
        }
        Some(path) => {
            input = std::fs::read(path)
                .with_context(|| format!("cannot read input `{}`", path.display()))?;
        }
        None => {}
    }
    let input = if args.text {
        Payload::Text(String::from_utf8(input).context("--text: the input is not UTF-8")?)
    } else {
        Payload::Bytes(input)
    };
    let mut definition = WorldFile::load(&args.world)?;
    add_mount_flags(&mut definition, &mount_flags(&args.dirs, &args.mounts))?;
    let options = RunOptions {
        env: definition.environment(&args.env)?,
        limits: definition.limits().with(&args.limits.section()),
        ..RunOptions::default()
    };
    block_on(async {
        let host = PluginHost::new(&args.plugin, &definition, options).await?;
        match host.call(input).await? {
            CallResult::Returned(Ok(Payload::Text(text))) => {
                println!("{text}");
                Ok(0)
            }
            CallResult::Returned(Ok(Payload::Bytes(bytes))) => {
                std::io::stdout()
                    .write_all(&bytes)
                    .context("cannot write the output")?;
                Ok(0)
            }
            CallResult::Returned(Err(error)) => {
                eprintln!(
                    "error: the plugin failed: {}: {}",
                    error.code, error.message
                );
                Ok(1)
            }
            CallResult::Stopped(outcome) => {
                report(&args.plugin, &outcome);
                Ok(outcome.exit_code())
            }
        }
    })?
}

/// Prints why a guest stopped (nothing for a plain exit).
fn report(wasm: &std::path::Path, outcome: &Outcome) {
    match outcome {
        Outcome::Trapped(trap) => {
            eprintln!("error: the guest `{}` trapped: {trap}", wasm.display())
        }
        Outcome::LimitHit(exceeded) => eprintln!("error: stopped: {exceeded}"),
        Outcome::Exited(_) => {}
    }
}

/// `host worlds show NAME`: the definition as written, then the WIT the world offers.
fn show_world(name: &str) -> Result<i32> {
    let definition = WorldFile::load(name)?;
    match BUILT_IN.iter().find(|(built_in, _)| *built_in == name) {
        Some((_, text)) => print!("{text}"),
        None => print!("{}", std::fs::read_to_string(name)?),
    }
    let worlds = worldhost::world::wit::Worlds::load()?;
    let base = definition.base.as_str();
    println!("\n# The WIT world `worldhost:host/{base}` (wit/worlds.wit):");
    for line in worlds.docs(base)?.lines() {
        println!("#   {line}");
    }
    for import in worlds.imports(base)? {
        println!("import {import};");
    }
    for export in worlds.exports(base)? {
        println!("export {export};");
    }
    Ok(0)
}

/// Prints a host failure as one paragraph and turns the result into the process status.
fn exit_with(result: Result<i32>) -> ExitCode {
    match result {
        Ok(code) => ExitCode::from(code.clamp(0, 255) as u8),
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::from(1)
        }
    }
}

fn run(args: RunArgs) -> Result<i32> {
    if let Some(job) = &args.job {
        return run_job(job, &args);
    }
    let mut wasm_and_args = args.wasm_and_args.into_iter();
    let wasm = PathBuf::from(wasm_and_args.next().context("no wasm file given")?);
    let mut definition = WorldFile::load(&args.world)?;
    add_mount_flags(&mut definition, &mount_flags(&args.dirs, &args.mounts))?;
    let options = RunOptions {
        args: wasm_and_args.collect(),
        env: definition.environment(&args.env)?,
        limits: definition.limits().with(&args.limits.section()),
        network_allow: definition.network.allow.clone(),
        config: definition.config.clone(),
        deadline: deadline_of(&definition),
    };

    let (engine, guest) = Guest::load_command(&wasm, |async_abi| {
        engine(&options.limits, options.deadline, async_abi)
    })?;
    let outcome = block_on(async {
        let world = AnyWorld::open(&definition).await?;
        run_command(&engine, &guest, &world, &options).await
    })??;
    report(&wasm, &outcome);
    Ok(outcome.exit_code())
}

/// How `host run` enforces the time limit in the world `definition` describes. Guest code
/// runs without epoch checks, as fast as under `wasmtime run`, and the limit ends the process,
/// wherever that leaves nothing behind: in the cli world, and in the cloud world when every
/// store it writes is local, whose staged files the watchdog removes before it ends the process
/// (tracked from here on). A cloud store's multipart uploads are aborted in-process.
fn deadline_of(definition: &WorldFile) -> Deadline {
    if definition.base == CliWorld::NAME {
        return Deadline::ExitProcess;
    }
    if definition.writes_stay_local() {
        worldhost_store::staged_files::track();
        return Deadline::ExitProcess;
    }
    Deadline::Epochs
}

/// `host run --job`: runs the job, prints why it stopped, writes the report if asked.
fn run_job(path: &std::path::Path, args: &RunArgs) -> Result<i32> {
    let mut job = worldhost::job::Job::load(path)?;
    job.shard = shard_of(args)?;
    if job.shard.is_some() {
        Split::new(&job.file).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    }
    job.options.env = job.definition.environment(&args.env)?;
    job.options.limits = job.options.limits.with(&args.limits.section());
    if !args.wasm_and_args.is_empty() {
        job.options.args = args.wasm_and_args.clone();
    }
    let (limits, deadline) = (&job.options.limits, job.options.deadline);
    let report = block_on(job.run(|async_abi| engine(limits, deadline, async_abi)))?;
    // The same lines as `host run` prints for a trap or a limit.
    match (report.outcome, &report.error) {
        (HowItEnded::Trapped, Some(trap)) => eprintln!(
            "error: the guest `{}` trapped: {trap}",
            job.file.module.source
        ),
        (HowItEnded::Limit, Some(limit)) => eprintln!("error: stopped: {limit}"),
        (_, Some(error)) => eprintln!("error: {error}"),
        _ => {}
    }
    if let Some(file) = &args.report {
        let json = serde_json::to_string_pretty(&report).context("cannot encode the report")?;
        std::fs::write(file, json + "\n")
            .with_context(|| format!("cannot write the report `{}`", file.display()))?;
    }
    Ok(report.exit_code)
}

/// The shard `--shard I/N` or `--shard-from-env VAR --shards N` names.
fn shard_of(args: &RunArgs) -> Result<Option<ShardId>> {
    if let Some(shard) = &args.shard {
        return ShardId::parse(shard).map(Some);
    }
    let (Some(var), Some(count)) = (&args.shard_from_env, &args.shards) else {
        return Ok(None);
    };
    let count = shard_count(count).context("--shards")?;
    let index = std::env::var(var).map_err(|_| {
        anyhow::anyhow!("--shard-from-env {var}: the environment variable `{var}` is not set")
    })?;
    ShardId::new(&index, count)
        .with_context(|| format!("--shard-from-env {var}"))
        .map(Some)
}

/// `host job plan` and `host job finish`.
fn job_command(command: JobCommand) -> Result<i32> {
    let (path, shards) = match &command {
        JobCommand::Plan { job, shards } | JobCommand::Finish { job, shards } => (job, shards),
    };
    let count = shard_count(shards).context("--shards")?;
    let job = worldhost::job::Job::load(path)?;
    let shown = path.display();
    let split = Split::new(&job.file).map_err(|e| anyhow::anyhow!("{shown}: {e}"))?;
    match command {
        JobCommand::Plan { .. } => {
            let plan = block_on(split.plan(&job.file, count))?
                .map_err(|e| anyhow::anyhow!("{shown}: {e:#}"))?;
            let mut out = std::io::stdout().lock();
            for (index, keys) in plan.shards.iter().enumerate() {
                for key in keys {
                    writeln!(out, "{index}\t{key}")?;
                }
            }
            let given: usize = plan.shards.iter().map(Vec::len).sum();
            for (index, keys) in plan.shards.iter().enumerate() {
                eprintln!("shard {index}: {} objects", keys.len());
            }
            eprintln!(
                "{given} of the input's {} objects in {count} shards",
                plan.objects.len()
            );
            Ok(0)
        }
        JobCommand::Finish { .. } => {
            let merged = block_on(shard::finish(path, &job.file, count))??;
            eprintln!(
                "all {count} shards succeeded: {} inputs, {} objects published; wrote {} and {}",
                merged["inputs"],
                merged["objects_published"],
                shard::MERGED_REPORT,
                shard::SUCCESS
            );
            Ok(0)
        }
    }
}

/// `host compose`: the composed component, written whole to the output file.
fn compose(args: ComposeArgs) -> Result<i32> {
    let composed = match (&args.job, &args.root) {
        (Some(job), _) => {
            let job = worldhost::job::Job::load(job)?;
            block_on(job.compose_only())??
        }
        (None, Some(root)) => {
            worldhost::guest::compose::compose_files(root, &args.imports, args.config.as_deref())?
        }
        (None, None) => bail!("give the entry component, or --job"),
    };
    let folder = args.output.parent().filter(|p| !p.as_os_str().is_empty());
    let temp = tempfile::NamedTempFile::new_in(folder.unwrap_or(std::path::Path::new(".")))
        .context("cannot write the output")?;
    std::fs::write(temp.path(), &composed)?;
    temp.persist(&args.output)
        .with_context(|| format!("cannot write `{}`", args.output.display()))?;
    eprintln!(
        "composed {} bytes into `{}`",
        composed.len(),
        args.output.display()
    );
    Ok(0)
}

/// Runs `work` on a fresh async runtime, then waits (5 s at most) for the aborts of multipart
/// uploads that a stopped run dropped: dropping the runtime first would cancel them and leave
/// their parts in the store.
fn block_on<T>(work: impl std::future::Future<Output = T>) -> Result<T> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    Ok(runtime.block_on(async {
        let done = work.await;
        let unfinished = worldhost_store::finish_aborts(std::time::Duration::from_secs(5)).await;
        if unfinished > 0 {
            tracing::warn!(
                unfinished,
                "multipart uploads of the stopped run could not be aborted in time: \
                 the store keeps their parts until its lifecycle rules remove them"
            );
        }
        done
    }))
}

fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_env(LOG_ENV).unwrap_or_else(|_| {
        tracing_subscriber::EnvFilter::new("warn,wasm_compose=error,wasmtime_wasi::p1=error")
    });
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
}
