//! Limits: a guest that breaks each one is stopped with a one-line message and the limit's own
//! exit code; a guest within the limits is not affected.

use std::time::{Duration, Instant};

use crate::support::harness::{Ran, file_url, run_probe};

#[track_caller]
fn assert_stopped(ran: &Ran, code: i32, message: &str) {
    assert_eq!(ran.code, code, "{ran:#?}");
    let last = ran.stderr.lines().last().unwrap_or_default();
    assert!(
        last.ends_with(message),
        "last stderr line {last:?} lacks {message:?}"
    );
    assert!(
        !ran.stderr.contains("panicked") && !ran.stderr.contains("Stack backtrace"),
        "{ran:#?}"
    );
}

#[test]
fn an_infinite_loop_is_stopped_by_the_time_limit() {
    let started = Instant::now();
    let ran = run_probe(
        &["--timeout", "1s", "--max-fuel", "10000000000000"],
        &["spin"],
    );
    assert_stopped(
        &ran,
        124,
        "the guest hit its time limit of 1s (raise it with --timeout)",
    );
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "took {:?}",
        started.elapsed()
    );
}

#[test]
fn an_infinite_loop_is_stopped_by_the_cpu_limit() {
    let ran = run_probe(&["--max-fuel", "100000000"], &["spin"]);
    assert_stopped(
        &ran,
        122,
        "CPU limit of 100000000 fuel units (raise it with --max-fuel)",
    );
}

#[test]
fn a_memory_bomb_is_stopped_by_the_memory_limit() {
    let ran = run_probe(&["--max-memory", "64MiB"], &["alloc", "100"]);
    assert_stopped(
        &ran,
        121,
        "memory limit of 64.0 MiB (raise it with --max-memory)",
    );
    assert_eq!(ran.stdout, "", "the guest did not finish");
}

#[test]
fn output_floods_are_stopped_by_the_output_limits() {
    let ran = run_probe(&["--max-stdout", "1MiB"], &["flood"]);
    assert_stopped(
        &ran,
        123,
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
    assert_eq!(ran.code, 125, "exit code");
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
        120,
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
        120,
        "limit on bytes written to stores of 10.0 MiB (raise it with --max-store-writes)",
    );
}
