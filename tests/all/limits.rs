//! Limits: a guest that breaks each one is stopped with a one-line message and the limit's own
//! exit code; a guest within the limits is not affected.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use crate::support::harness::{
    Ran, RunExt, TEST_GUESTS, Target, assert_stopped, call_command, file_url, guest, host, probe,
    probe_command, run_measured, run_probe, run_with_stdin, wat_command, wat_guest, world_file,
};
use crate::support::jobs::{Workspace, entry_job, job_guest};

/// Fuel is off by default: the wall clock alone stops a tight loop. In both worlds on local
/// stores a watchdog ends the process (guest code has no epoch checks); in the cloud world
/// writing to a cloud store epoch interruption stops the run in-process (`s3::`, `jobs::`).
#[test]
fn an_infinite_loop_is_stopped_by_the_time_limit() {
    let cloud = ["--world", "cloud", "--mount", "memory:"];
    for world in [&[][..], &cloud[..]] {
        let started = Instant::now();
        let flags: Vec<&str> = world.iter().copied().chain(["--timeout", "1s"]).collect();
        let ran = run_probe(&flags, &["spin"]);
        assert_stopped(
            &ran,
            209,
            "the guest hit its time limit of 1s (raise it with --timeout)",
        );
        assert_eq!(
            ran.stderr.matches("time limit").count(),
            1,
            "reported once: {ran:#?}"
        );
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "{world:?} took {:?}",
            started.elapsed()
        );
    }
}

/// `host run` in the cloud world over local stores runs guest code without epoch checks, so
/// the time limit ends the process: before it does, the watchdog removes the staged file of a
/// write the guest never closed (spilled beside its target past the buffer memory), and the
/// store keeps what it held, as when a run is stopped in-process.
#[test]
fn a_run_ended_at_its_time_limit_leaves_no_staged_file_in_a_local_store() {
    let store = tempfile::tempdir().unwrap();
    std::fs::write(store.path().join("out"), "before").unwrap();
    let mount = format!("{}::/data", file_url(store.path()));
    let ran = host()
        .env("WORLDHOST_LOG", "worldhost::run=debug")
        .args(["run", "--world", "cloud", "--mount", &mount])
        .args(["--timeout", "2s", "--max-buffer-memory", "1MiB"])
        .arg(probe(Target::P2))
        .args(["write-spin", "/data/out", "8"])
        .ran();
    assert_stopped(
        &ran,
        209,
        "the guest hit its time limit of 2s (raise it with --timeout)",
    );
    assert_eq!(ran.stdout, "written\n", "the write was staged: {ran:#?}");
    assert!(
        ran.stderr.contains("deadline=ExitProcess"),
        "stopped by the watchdog: {ran:#?}"
    );
    let left: Vec<_> = std::fs::read_dir(store.path())
        .unwrap()
        .map(|entry| entry.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(left, ["out"], "nothing staged is left");
    assert_eq!(
        std::fs::read_to_string(store.path().join("out")).unwrap(),
        "before"
    );
}

#[test]
fn an_infinite_loop_is_stopped_by_the_cpu_limit() {
    let ran = run_probe(&["--max-fuel", "100000000"], &["spin"]);
    assert_stopped(
        &ran,
        207,
        "CPU limit of 100000000 fuel units (raise it with --max-fuel)",
    );
}

#[test]
fn a_memory_bomb_is_stopped_by_the_memory_limit() {
    let ran = run_probe(&["--max-memory", "64MiB"], &["alloc", "100"]);
    assert_stopped(
        &ran,
        206,
        "memory limit of 64.0 MiB (raise it with --max-memory)",
    );
    assert_eq!(ran.stdout, "", "the guest did not finish");
}

#[test]
fn output_floods_are_stopped_by_the_output_limits() {
    let ran = run_probe(&["--max-stdout", "1MiB"], &["flood"]);
    assert_stopped(
        &ran,
        208,
        "stdout limit of 1.0 MiB (raise it with --max-stdout)",
    );
    assert!(
        ran.stdout.len() <= 1 << 20,
        "{} bytes got out",
        ran.stdout.len()
    );
    assert!(
        ran.stdout.len() >= 1 << 19,
        "the guest was stopped early: {} bytes",
        ran.stdout.len()
    );

    let ran = run_probe(&["--max-stderr", "100KiB"], &["flood", "stderr"]);
    assert_eq!(ran.code, 210, "exit code");
    assert!(
        ran.stderr
            .ends_with("stderr limit of 100.0 KiB (raise it with --max-stderr)\n")
    );
}

#[test]
fn a_disk_filler_is_stopped_by_the_store_write_limit() {
    let store = tempfile::tempdir().unwrap();
    let mount = file_url(store.path());
    let ran = run_probe(
        &[
            "--world",
            "cloud",
            "--mount",
            &mount,
            "--max-store-writes",
            "10MiB",
        ],
        &["fill", "big.bin"],
    );
    assert_stopped(
        &ran,
        205,
        "limit on bytes written to stores of 10.0 MiB (raise it with --max-store-writes)",
    );
    assert!(
        !store.path().join("big.bin").exists(),
        "the stopped guest's file was stored"
    );
}

#[test]
fn a_guest_within_its_limits_is_not_affected() {
    let tight = [
        "--max-memory",
        "64MiB",
        "--max-fuel",
        "1000000000",
        "--timeout",
        "30s",
        "--max-stdout",
        "1KiB",
        "--max-stderr",
        "1KiB",
    ];
    let ran = run_probe(&tight, &["alloc", "10"]);
    assert_eq!(ran.success(), "allocated 10 MiB\n");
    let ran = run_probe(&tight, &["stdout", &"x".repeat(1024)]);
    assert_eq!(ran.success().len(), 1024, "exactly the cap gets through");
}

#[test]
fn limit_flags_refuse_bad_values() {
    let ran = run_probe(&["--max-memory", "lots"], &["args"]);
    assert_eq!(ran.code, 2, "clap's usage error: {ran:#?}");
    assert!(ran.stderr.contains("`lots` is not a size"), "{ran:#?}");
    let ran = run_probe(&["--timeout", "soon"], &["args"]);
    assert!(ran.stderr.contains("`soon` is not a duration"), "{ran:#?}");
}

#[test]
fn growing_a_file_counts_against_the_store_write_limit() {
    let ran = run_probe(
        &[
            "--world",
            "cloud",
            "--mount",
            "memory:",
            "--max-store-writes",
            "10MiB",
        ],
        &["grow", "huge.bin", "1073741824"],
    );
    assert_stopped(
        &ran,
        205,
        "limit on bytes written to stores of 10.0 MiB (raise it with --max-store-writes)",
    );
}

/// Runs `command` to its end (a minute at most): its output, wall time and own peak resident
/// set (KiB, from `wait4`).
fn measured(command: Command) -> (Ran, Duration, u64) {
    let measured = run_measured(command, Duration::from_secs(60));
    (measured.ran, measured.wall, measured.peak_rss_kib)
}

#[test]
fn a_table_larger_than_the_limit_from_the_start_is_stopped_before_the_guest_runs() {
    // The wasip2 probe's largest table has 160 elements to begin with.
    let ran = run_probe(&["--max-table-elements", "100"], &["stdout", "ran"]);
    assert_stopped(
        &ran,
        204,
        "table size limit of 100 elements (raise it with --max-table-elements)",
    );
    assert_eq!(ran.stdout, "", "the guest ran");
    let ran = run_probe(&["--max-table-elements", "1000"], &["stdout", "ran"]);
    assert_eq!(ran.success(), "ran");
}

/// A `cli` world file with these `[limits]`.
fn limits_world(limits: &str) -> (tempfile::TempDir, String) {
    world_file(&format!("base = \"cli\"\n[limits]\n{limits}\n"))
}

#[test]
fn counts_of_instances_tables_and_memories_stop_a_guest_past_them() {
    let dir = tempfile::tempdir().unwrap();
    let memories = wat_guest("memories");
    let tables = wat_command(
        dir.path(),
        "tables",
        r#"(module (memory (export "memory") 1) (table 1 funcref) (table 1 funcref)
             (table 1 funcref) (table 1 funcref) (func (export "_start")))"#,
    );
    // The table module has four tables (the cli world runs a wasip1 module with wasmtime's
    // own p1, no adapter); the wasip2 probe is three core instances (its code, and two the
    // bindings need).
    let probe = probe(Target::P2);
    let cases: [(&str, &Path, i32, &str); 3] = [
        (
            "memories = 3",
            &memories,
            201,
            "memory count limit of 3 memories (raise it with `memories` under [limits] in a world or job file)",
        ),
        (
            "tables = 3",
            &tables,
            202,
            "table count limit of 3 tables (raise it with `tables` under [limits] in a world or job file)",
        ),
        (
            "instances = 2",
            &probe,
            203,
            "instance count limit of 2 core instances (raise it with `instances` under [limits] in a world or job file)",
        ),
    ];
    for (limits, wasm, code, message) in cases {
        let (_dir, world) = limits_world(limits);
        let ran = host()
            .args(["run", "--world", &world])
            .arg(wasm)
            .args(["stdout", "ran"])
            .output()
            .unwrap();
        let ran = Ran::from(ran);
        assert_stopped(&ran, code, message);
        assert_eq!(ran.stdout, "", "the guest ran");
    }
    // At the count exactly, the guests run.
    for (limits, wasm) in [
        ("memories = 4", &memories),
        ("tables = 4", &tables),
        ("instances = 3", &probe),
    ] {
        let (_dir, world) = limits_world(limits);
        let ran = host()
            .args(["run", "--max-memory", "256MiB", "--world", &world])
            .arg(wasm)
            .args(["stdout", "ran"])
            .output()
            .unwrap();
        assert_eq!(Ran::from(ran).code, 0, "{limits}");
    }
}

#[test]
fn a_composed_job_counts_all_its_components() {
    // job-entry composed with job_greeter: two components, each with its own memory.
    let work = Workspace::new();
    let entry = job_guest("job-entry", Target::P2);
    let greeter = job_guest("job_greeter", Target::P2);
    work.write_job(&entry_job(
        "",
        &entry,
        "",
        &[&greeter],
        &format!("[limits]\nmemories = 1\n\n{}", work.local_mounts()),
    ));
    let (ran, report) = work.run(|_| {});
    assert_eq!(ran.code, 201, "{ran:#?}");
    assert_eq!(report["outcome"], "limit");
    assert_eq!(report["limit_hit"]["limit"], "memories");
    assert!(
        ran.stderr
            .contains("error: stopped: the guest hit its memory count limit of 1 memories"),
        "{ran:#?}"
    );
}

#[test]
fn plugins_are_held_to_the_same_limits() {
    let echo = guest(TEST_GUESTS, "echo_plugin", Target::P2);
    let call = |flags: &[&str]| {
        let mut all = vec!["--text", "--mount", "memory:"];
        all.extend_from_slice(flags);
        run_with_stdin(call_command(&all, &echo), b"hello")
    };
    assert_eq!(call(&[]).success(), "hello\n");
    // Its largest table starts with 74 elements, its memory with 17 pages (1.06 MiB).
    assert_stopped(
        &call(&["--max-table-elements", "50"]),
        204,
        "table size limit of 50 elements (raise it with --max-table-elements)",
    );
    assert_stopped(
        &call(&["--max-memory", "1MiB"]),
        206,
        "memory limit of 1.0 MiB (raise it with --max-memory)",
    );
    let (_dir, world) = world_file(
        "base = \"cloud\"\n[[mount]]\nguest = \".\"\nstore = \"memory:\"\n[limits]\ninstances = 2\n",
    );
    let ran = run_with_stdin(
        call_command(&["--text", "--world", &world], &echo),
        b"hello",
    );
    assert_stopped(
        &ran,
        203,
        "instance count limit of 2 core instances (raise it with `instances` under [limits] in a world or job file)",
    );
    // Past the pool's usual 20,000 elements per table when the limit says so.
    assert_eq!(
        call(&["--max-table-elements", "50000"]).success(),
        "hello\n"
    );
}

#[test]
fn files_held_open_do_not_pile_up_in_host_memory() {
    // 48 files of 8 MiB each staged at once (384 MiB): each within the per-file in-memory size,
    // together far past the run's buffer memory, so all but the first few move to disk.
    let dir = tempfile::tempdir().unwrap();
    let mount = format!("{}::data", file_url(dir.path()));
    let command = probe_command(
        &["--world", "cloud", "--mount", mount.as_str()],
        &["hoard", "data", "48", "8"],
    );
    let (ran, took, peak_kib) = measured(command);
    assert_eq!(ran.success(), "hoarded 48 files of 8 MiB\n");
    eprintln!("48 open files of 8 MiB: {took:?}, host peak RSS {peak_kib} KiB");
    assert!(peak_kib < 200 << 10, "the host peaked at {peak_kib} KiB");
    let stored = std::fs::metadata(dir.path().join("hoard-47")).unwrap();
    assert_eq!(stored.len(), 8 << 20);
}

#[test]
fn handles_past_the_limit_stop_the_run_in_both_worlds() {
    let dir = tempfile::tempdir().unwrap();
    let cli_dir = format!("{}::data", dir.path().display());
    let cloud_mount = format!("{}::data", file_url(dir.path()));
    for world in [
        vec!["--dir", cli_dir.as_str()],
        vec!["--world", "cloud", "--mount", cloud_mount.as_str()],
    ] {
        // 500 files held open at once, each one handle (and each a host file or object).
        let flags = [world.clone(), vec!["--max-handles", "100"]].concat();
        let ran = probe_command(&flags, &["hoard", "data", "500", "0"]).ran();
        assert_stopped(
            &ran,
            200,
            "limit on open handles of 100 handles (raise it with --max-handles)",
        );
        // Within the default, the same guest runs.
        let ran = probe_command(&world, &["hoard", "data", "500", "0"]).ran();
        assert_eq!(ran.success(), "hoarded 500 files of 0 MiB\n", "{world:?}");
    }
}

#[test]
fn objects_created_past_the_limit_fail_with_quota_and_the_guest_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let mount = format!("{}::data", file_url(dir.path()));
    let flags = ["--world", "cloud", "--mount", mount.as_str()];
    let limited = [flags.as_slice(), &["--max-store-objects", "5"]].concat();
    let ran = probe_command(&limited, &["hoard", "data", "10", "0"]).ran();
    // The sixth file is refused to the guest (which then exits on its own error), not by
    // stopping the run; the five it made are stored.
    assert_eq!(ran.code, 1, "{ran:#?}");
    assert!(ran.stderr.contains("Quota exceeded"), "{ran:#?}");
    assert!(
        ran.stderr
            .contains("limit on objects created in stores of 5 objects"),
        "{ran:#?}"
    );
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 5);
    // Within the default the same guest runs.
    let ran = probe_command(&flags, &["hoard", "data", "10", "0"]).ran();
    assert_eq!(ran.success(), "hoarded 10 files of 0 MiB\n");
}

#[test]
fn directory_listings_take_their_pages_from_the_buffer_memory_limit() {
    let dir = tempfile::tempdir().unwrap();
    for i in 0..200 {
        std::fs::write(dir.path().join(format!("file-{i:03}")), "x").unwrap();
    }
    let mount = format!("{}::data", file_url(dir.path()));
    let flags = ["--world", "cloud", "--mount", mount.as_str()];
    // A page of 200 names does not fit in 4 KiB: the listing fails, and the guest says so.
    let limited = [flags.as_slice(), &["--max-buffer-memory", "4KiB"]].concat();
    let ran = probe_command(&limited, &["ls", "data"]).ran();
    assert_eq!(ran.code, 1, "{ran:#?}");
    assert!(ran.stderr.contains("Out of memory"), "{ran:#?}");
    assert!(ran.stderr.contains("--max-buffer-memory"), "{ran:#?}");
    // Within the default the same listing runs.
    let ran = probe_command(&flags, &["ls", "data"]).ran();
    assert_eq!(ran.success().lines().count(), 200, "{ran:#?}");
}
