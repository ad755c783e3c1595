//! wasip1 core modules as `wasmtime run` runs them (issue 14). Both worlds run them with
//! wasmtime-wasi's own p1; the cloud world serves the filesystem calls from its own p1 layer
//! over its filesystem core (worlds/cloud/README.md, "wasip1 modules"). Each behaviour is checked against
//! wasmtime's documented result, and against the `wasmtime` CLI itself when the benchmarks
//! have installed it into `target/test-tools`.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::compile_cache::compiled_entries;
use crate::support::conformance::{assert_wasip1_same_as_wasip2, cli_run, conformance};
use crate::support::harness::{
    Ran, RunExt, TEST_GUESTS, Target, guest, host, repo_root, run_host, wat_guest,
};

/// The cloud world with an in-memory store as its working directory.
const CLOUD: &[&str] = &["--world", "cloud", "--mount", "memory:"];

/// The wasmtime CLI the file-system benchmark installs (`tests/bench/fs.rs`), if it has.
fn wasmtime_cli() -> Option<PathBuf> {
    let lib = repo_root().join("target/test-tools/wasmtime/venv/lib");
    std::fs::read_dir(lib)
        .ok()?
        .flatten()
        .map(|python| python.path().join("site-packages/wasmtime_cli/wasmtime"))
        .find(|path| path.is_file())
}

/// `host run` in the world `flags` chooses, with `--env` pairs and the guest's arguments, run
/// in the module's directory and given its file name (argv[0] is then the same for both hosts).
fn run(flags: &[&str], wasm: &Path, env: &[&str], args: &[&str]) -> Ran {
    let mut command = host();
    command.arg("run").args(flags);
    in_directory_of(&mut command, wasm, env, args).ran()
}

/// Adds `--env` pairs, `wasm` by its file name (run in its directory) and `args`.
fn in_directory_of<'c>(
    command: &'c mut Command,
    wasm: &Path,
    env: &[&str],
    args: &[&str],
) -> &'c mut Command {
    for pair in env {
        command.args(["--env", pair]);
    }
    command
        .current_dir(wasm.parent().unwrap())
        .arg(wasm.file_name().unwrap())
        .args(args)
}

/// Asserts `wasm` exits with `code` and prints `stdout` in the cli world and in the cloud
/// world, and that `wasmtime run` does the same where it is installed.
#[track_caller]
fn assert_as_wasmtime(wasm: &Path, env: &[&str], args: &[&str], code: i32, stdout: &str) {
    for (world, flags) in [("cli", &[][..]), ("cloud", CLOUD)] {
        let ran = run(flags, wasm, env, args);
        assert_eq!(
            (ran.code, ran.stdout.as_str()),
            (code, stdout),
            "{} in the {world} world: {ran:#?}",
            wasm.display()
        );
    }
    if let Some(wasmtime) = wasmtime_cli() {
        let mut command = Command::new(wasmtime);
        command.arg("run");
        let ran = in_directory_of(&mut command, wasm, env, args).ran();
        assert_eq!(
            (ran.code, ran.stdout.as_str()),
            (code, stdout),
            "`wasmtime run` no longer does what this test expects: {ran:#?}"
        );
    }
}

#[test]
fn proc_exit_codes_below_126_come_through_in_both_worlds() {
    assert_as_wasmtime(&wat_guest("p1-exit"), &[], &[], 33, "");
}

#[test]
fn an_assemblyscript_module_prints_its_arguments_and_environment() {
    let wasm = wat_guest("p1-assemblyscript-args");
    let expected = "p1-assemblyscript-args.wasm\nx\ny z\nA=1\nB=two\n";
    assert_as_wasmtime(&wasm, &["A=1", "B=two"], &["x", "y z"], 0, expected);
}

#[test]
fn fd_write_to_a_descriptor_never_opened_returns_ebadf() {
    // The module exits with the errno it got: EBADF is 8.
    assert_as_wasmtime(&wat_guest("p1-bad-fd"), &[], &[], 8, "");
}

#[test]
fn sock_shutdown_on_a_bad_descriptor_returns_ebadf() {
    assert_as_wasmtime(&wat_guest("p1-bad-fd"), &[], &["sock_shutdown"], 8, "");
}

#[test]
fn the_wasip1_conformance_transcript_equals_the_wasip2_one_in_the_cli_world() {
    assert_wasip1_same_as_wasip2("wasip1 build, cli world", cli_run(Target::P1), false);
}

#[test]
fn the_wasip1_conformance_transcript_equals_the_wasip2_one_in_the_cloud_world() {
    let mounts = [
        "--world",
        "cloud",
        "--mount",
        "memory:::data",
        "--mount",
        "memory:::.",
    ]
    .map(String::from);
    let ran = conformance(Target::P1, &mounts, |_| {});
    assert_wasip1_same_as_wasip2("wasip1 build, cloud world on memory:", &ran, true);
}

#[test]
fn an_assemblyscript_module_importing_the_filesystem_prints_its_arguments_and_makes_its_file() {
    // Its allocator claims all memory up to `memory.size` on first use: the preview1 adapter
    // kept its state there and trapped (exit 134); wasmtime's p1, with the cloud world's p1
    // layer serving the filesystem, keeps nothing in guest memory.
    let wasm = wat_guest("p1-assemblyscript-fs");
    let made = "made-by-assemblyscript.txt";
    let args = ["x", "y z"];
    for host in ["the cli world", "the cloud world", "`wasmtime run`"] {
        let dir = tempfile::tempdir().unwrap();
        let preopen = format!("{}::.", dir.path().display());
        let ran = match host {
            "the cli world" => run(&["--dir", &preopen], &wasm, &[], &args),
            "the cloud world" => {
                let mount = format!("file://{}", dir.path().display());
                run(&["--world", "cloud", "--mount", &mount], &wasm, &[], &args)
            }
            _ => {
                let Some(wasmtime) = wasmtime_cli() else {
                    continue;
                };
                let mut command = Command::new(wasmtime);
                command.args(["run", "--dir", &preopen]);
                in_directory_of(&mut command, &wasm, &[], &args).ran()
            }
        };
        assert_eq!(
            (ran.code, ran.stdout.as_str()),
            (0, "p1-assemblyscript-fs.wasm\nx\ny z\n"),
            "{host}: {ran:#?}"
        );
        let content = std::fs::read_to_string(dir.path().join(made));
        assert_eq!(
            content.ok().as_deref(),
            Some("written by AssemblyScript\n"),
            "{host} did not make {made}: {ran:#?}"
        );
    }
}

#[test]
fn a_module_and_its_component_are_cached_apart() {
    let cache = tempfile::tempdir().unwrap();
    let wasm = wat_guest("p1-exit");
    let run = || -> Ran {
        host()
            .env("WORLDHOST_CACHE", cache.path())
            .env("WORLDHOST_LOG", "worldhost::guest::compile_cache=debug")
            .arg("run")
            .arg(&wasm)
            .ran()
    };
    // The cli world compiles the module for wasmtime's p1, and its component (what the
    // import checks and the other worlds use): two entries for one file's bytes.
    let first = run();
    assert_eq!(first.code, 33, "{first:#?}");
    assert_eq!(compiled_entries(cache.path()).len(), 2);
    let second = run();
    assert_eq!(second.code, 33, "{second:#?}");
    assert_eq!(
        second.stderr.matches("loaded from the cache").count(),
        2,
        "{second:#?}"
    );
}

#[test]
fn inspect_says_how_a_wasip1_module_runs() {
    let ran = run_host(["inspect".as_ref(), wat_guest("p1-exit").as_os_str()]);
    let report = ran.success();
    assert!(
        report.contains("run by wasmtime's own wasip1 in the cli world"),
        "{report}"
    );
    assert!(
        report.contains("wasi_snapshot_preview1::proc_exit"),
        "{report}"
    );
}

/// The flags of both worlds with an empty directory as the first preopen (`.`).
fn both_worlds(dir: &Path) -> [Vec<String>; 2] {
    [
        vec!["--dir".into(), format!("{}::.", dir.display())],
        ["--world", "cloud", "--mount"]
            .map(String::from)
            .into_iter()
            .chain([format!("file://{}", dir.display())])
            .collect(),
    ]
}

#[test]
fn p1_descriptors_past_the_handle_limit_stop_the_run_in_both_worlds() {
    let wasm = wat_guest("p1-open-many");
    let dir = tempfile::tempdir().unwrap();
    for world in both_worlds(dir.path()) {
        let flags: Vec<&str> = world.iter().map(String::as_str).collect();
        let limited = [flags.as_slice(), &["--max-handles", "100"]].concat();
        let ran = run(&limited, &wasm, &[], &[]);
        assert_eq!(ran.code, 200, "{world:?}: {ran:#?}");
        assert!(
            ran.stderr
                .contains("limit on open handles of 100 handles (raise it with --max-handles)"),
            "{world:?}: {ran:#?}"
        );
        // Within the default, the same module runs.
        let ran = run(&flags, &wasm, &[], &[]);
        assert_eq!(ran.code, 0, "{world:?}: {ran:#?}");
    }
}

#[test]
fn a_p1_path_past_the_end_of_memory_fails_the_run_in_both_worlds() {
    // wasmtime's p1 fails the call on an out-of-bounds pointer (the witx rules), with an
    // error that is not a trap: the run fails (exit 1, as `wasmtime run` exits). The cloud
    // world's layer goes through the same wiggle glue, and the host does not panic.
    let wasm = wat_guest("p1-bad-path");
    let dir = tempfile::tempdir().unwrap();
    for world in both_worlds(dir.path()) {
        let flags: Vec<&str> = world.iter().map(String::as_str).collect();
        let ran = run(&flags, &wasm, &[], &[]);
        assert_eq!(ran.code, 1, "{world:?}: {ran:#?}");
        assert!(
            ran.stderr.contains("Pointer out of bounds"),
            "{world:?}: {ran:#?}"
        );
        assert!(!ran.stderr.contains("panicked"), "{world:?}: {ran:#?}");
    }
    if let Some(wasmtime) = wasmtime_cli() {
        let mut command = Command::new(wasmtime);
        command.args(["run", "--dir", &format!("{}::.", dir.path().display())]);
        let ran = in_directory_of(&mut command, &wasm, &[], &[]).ran();
        assert_eq!(ran.code, 1, "`wasmtime run`: {ran:#?}");
    }
}

#[test]
fn a_directory_of_many_buffers_lists_the_same_in_both_worlds() {
    // wasi-libc reads a directory a buffer at a time by cookie: 2,500 entries take many
    // `fd_readdir` calls, each going on from where the last stopped (an entry cut at the end
    // of a buffer comes again whole in the next).
    let dir = tempfile::tempdir().unwrap();
    let mut expected: Vec<String> = (0..2500)
        .map(|i| format!("a-file-with-a-longer-name-{i}.txt"))
        .collect();
    for name in &expected {
        std::fs::write(dir.path().join(name), "").unwrap();
    }
    std::fs::create_dir(dir.path().join("sub")).unwrap();
    expected.push("sub".into());
    expected.sort();
    let expected: String = expected.iter().map(|name| format!("{name}\n")).collect();
    let probe = guest(TEST_GUESTS, "cli-probe", Target::P1);
    for world in both_worlds(dir.path()) {
        let flags: Vec<&str> = world.iter().map(String::as_str).collect();
        let ran = run(&flags, &probe, &[], &["ls", "."]);
        assert_eq!(ran.success(), expected, "{world:?}");
    }
}
