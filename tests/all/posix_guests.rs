//! Ordinary POSIX programs in the cloud world: a C program calling what Rust's std never calls
//! (`tests/guests-c/posix-c.c`) and SQLite (`tests/guests-sqlite`). Each runs first in the cli
//! world on host directories, the reference; the cloud world must print the same transcript
//! and exit the same way, on the memory store, a local directory, S3 and Azure.

use std::path::{Path, PathBuf};

use crate::support::conformance::assert_same_run;
use crate::support::harness::{Ran, RunExt, Target, c_guest, file_url, host, sqlite_guest};
use crate::support::per_backend;
use crate::support::stores::{Backend, StoreServer};

/// Where a guest's files live: host directories in the cli world, or cloud-world mounts. Each
/// world has its `data` directory (the guest's) and an empty `.`, so relative and empty paths
/// resolve alike in both.
enum World<'a> {
    Cli(&'a Path),
    Cloud {
        store: String,
        server: Option<&'a StoreServer>,
    },
}

impl World<'_> {
    /// `host run WORLD-ARGS WASM data ARGS...`
    fn run(&self, wasm: &Path, args: &[&str]) -> Ran {
        let mut command = host();
        command.arg("run");
        // The empty `.` lives as long as the run.
        let cwd = tempfile::tempdir().unwrap();
        match self {
            World::Cli(data) => {
                command
                    .arg("--dir")
                    .arg(format!("{}::data", data.display()))
                    .arg("--dir")
                    .arg(format!("{}::.", cwd.path().display()));
            }
            World::Cloud { store, server } => {
                command
                    .args(["--world", "cloud", "--mount"])
                    .arg(format!("{store}::data"))
                    .args(["--mount", "memory:::."]);
                if let Some(server) = server {
                    server.set_env(&mut command);
                }
            }
        }
        command.arg(wasm).arg("data").args(args).ran()
    }
}

/// Runs `wasm` with each of `runs` (the guest's arguments after its directory) one after
/// another on one directory, in the cli world and then in `cloud`, and compares each pair.
fn assert_runs_match(what: &str, wasm: &Path, runs: &[&[&str]], cloud: World) {
    let data = tempfile::tempdir().unwrap();
    let cli = World::Cli(data.path());
    for args in runs {
        let reference = cli.run(wasm, args);
        assert!(
            reference.code == 0 || args.contains(&"crash"),
            "{what}: the cli world's run of {args:?} failed: {reference:#?}"
        );
        let ran = cloud.run(wasm, args);
        assert_same_run(&format!("{what}, run {args:?}"), &reference, &ran, &[]);
    }
}

fn posix_c() -> PathBuf {
    c_guest("posix-c")
}

#[test]
fn posix_c_on_the_memory_store() {
    let cloud = World::Cloud {
        store: "memory:".into(),
        server: None,
    };
    assert_runs_match("posix-c on memory:", &posix_c(), &[&[]], cloud);
}

#[test]
fn posix_c_on_a_local_directory_store() {
    let store = tempfile::tempdir().unwrap();
    let cloud = World::Cloud {
        store: file_url(store.path()),
        server: None,
    };
    assert_runs_match("posix-c on file://", &posix_c(), &[&[]], cloud);
    let left: Vec<_> = std::fs::read_dir(store.path()).unwrap().collect();
    assert!(left.is_empty(), "posix-c left {left:?} in the store");
}

per_backend! {
    fn posix_c_on(backend: Backend) {
        let server = StoreServer::start(backend);
        let cloud = World::Cloud { store: server.url("posix-c"), server: Some(&server) };
        assert_runs_match(&format!("posix-c on {backend:?}"), &posix_c(), &[&[]], cloud);
    }
}

/// The SQLite guest's runs on a store that outlives a run: fill and change a database, crash
/// in the middle of a transaction, find the database locked by the lock directory the crash
/// left (SQLite's `unix-dotfile` locking, its default on WASI), remove the stale lock, find the
/// state from before the crash intact, then a database larger than 8 MiB.
const SQLITE_RUNS: &[&[&str]] = &[
    &["env", "fill", "modify", "check"],
    &["crash"],
    &["check"],
    &["unlock", "check"],
    &["big"],
];

/// The memory store lives for one run: everything but the crash, in one.
const SQLITE_ONE_RUN: &[&[&str]] = &[&["env", "fill", "modify", "check", "big"]];

fn sqlite_on(target: Target, store: String, server: Option<&StoreServer>, runs: &[&[&str]]) {
    let what = format!("sqlite-guest ({}) on {store}", target.triple());
    let cloud = World::Cloud { store, server };
    assert_runs_match(&what, &sqlite_guest(target), runs, cloud);
}

#[test]
fn sqlite_cli_world_transcript() {
    // The reference itself, pinned: the crash leaves the database locked and the state from
    // before the crash intact once the stale lock is gone.
    let data = tempfile::tempdir().unwrap();
    let cli = World::Cli(data.path());
    let wasm = sqlite_guest(Target::P1);
    let first = cli.run(&wasm, &["env", "fill", "modify", "check"]);
    let first = first.success();
    for line in [
        "env-default-vfs: unix-dotfile",
        "env-journal-mode: delete",
        "env-second-writer-during-transaction: error database is locked (extended code 5)",
        "fill-count: 1000",
        "check-count: 858",
        "check-integrity-check: ok",
    ] {
        assert!(first.contains(line), "no {line:?} in:\n{first}");
    }
    let crashed = cli.run(&wasm, &["crash"]);
    // A wasip1 module's exit code comes through, as under `wasmtime run` (cli_world.rs).
    assert_eq!(crashed.code, 3, "{crashed:#?}");
    assert!(
        crashed.stdout.ends_with("crash-exiting: 3\n"),
        "{crashed:#?}"
    );
    let locked = cli.run(&wasm, &["check"]);
    assert!(
        locked
            .success()
            .starts_with("check-error: database is locked (extended code 5)\n"),
        "{locked:#?}"
    );
    let recovered = cli.run(&wasm, &["unlock", "check"]);
    let recovered = recovered.success();
    let summary = |text: &str| -> Vec<String> {
        text.lines()
            .filter(|line| line.starts_with("check-") && !line.starts_with("check-files"))
            .map(str::to_owned)
            .collect()
    };
    assert_eq!(
        summary(recovered),
        summary(first),
        "the crash changed the database"
    );
    assert!(
        recovered.contains("check-files: test.db=122880\n"),
        "{recovered}"
    );
    let big = cli.run(&wasm, &["big"]);
    let big = big.success();
    assert!(big.contains("big-larger-than-8-mib: true"), "{big}");
    assert!(big.contains("big-rows-read-back-intact: 2400"), "{big}");
    assert!(big.contains("big-integrity-check: ok"), "{big}");
}

#[test]
fn sqlite_on_the_memory_store() {
    sqlite_on(Target::P1, "memory:".into(), None, SQLITE_ONE_RUN);
}

#[test]
fn sqlite_on_the_memory_store_wasip2() {
    sqlite_on(Target::P2, "memory:".into(), None, SQLITE_ONE_RUN);
}

#[test]
fn sqlite_on_a_local_directory_store() {
    let store = tempfile::tempdir().unwrap();
    sqlite_on(Target::P1, file_url(store.path()), None, SQLITE_RUNS);
}

#[test]
fn sqlite_on_a_local_directory_store_wasip2() {
    let store = tempfile::tempdir().unwrap();
    sqlite_on(Target::P2, file_url(store.path()), None, SQLITE_RUNS);
}

per_backend! {
    fn sqlite_on_a_server(backend: Backend) {
        let server = StoreServer::start(backend);
        sqlite_on(Target::P1, server.url("sqlite"), Some(&server), SQLITE_RUNS);
    }
}
