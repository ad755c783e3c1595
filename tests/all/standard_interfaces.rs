//! The standard WASI proposals the cloud world serves beside our own interfaces:
//! `wasi:config/store` (wasmCloud's `0.2.0-rc.1` and Spin's `0.2.0-draft-2024-09-27`) and
//! `wasi:logging/logging@0.1.0-draft`, used by a guest written from the upstream WIT alone.

use std::path::PathBuf;
use std::process::Command;

use crate::support::harness::{
    RunExt, TEST_GUESTS, Target, assert_stopped, guest, host, run_host, world_file,
};

fn std_interfaces() -> PathBuf {
    guest(TEST_GUESTS, "std-interfaces", Target::P2)
}

/// A world file with two config values, on a memory store.
const WORLD: &str = "base = \"cloud\"\n[[mount]]\nguest = \".\"\nstore = \"memory:\"\n\
                     [config]\ngreeting = \"hi there\"\ncolour = \"blue\"\n";

/// `host run --world WORLD [FLAGS...] std-interfaces.wasm STEPS...`, guest log lines shown.
fn run(world: &str, flags: &[&str], steps: &[&str]) -> Command {
    let mut command = host();
    command
        .env("WORLDHOST_LOG", "info")
        .args(["run", "--world", world])
        .args(flags)
        .arg(std_interfaces())
        .args(steps);
    command
}

#[test]
fn wasi_config_serves_the_world_files_config_in_both_versions() {
    let (_dir, world) = world_file(WORLD);
    let steps = [
        "get:rc1:greeting",
        "get:draft:colour",
        "get:rc1:missing",
        "get:draft:missing",
        "all:rc1",
        "all:draft",
    ];
    let ran = run(&world, &[], &steps).ran();
    // A key the world does not set reads as none; `get-all` answers in key order.
    assert_eq!(
        ran.success(),
        "greeting=hi there\ncolour=blue\nmissing is not set\nmissing is not set\n\
         colour=blue\ngreeting=hi there\ncolour=blue\ngreeting=hi there\n"
    );
    // No `[config]`: every key is unset, and `get-all` is empty.
    let (_dir, bare) = world_file("base = \"cloud\"\n");
    let ran = run(&bare, &[], &["get:draft:greeting", "all:rc1"]).ran();
    assert_eq!(ran.success(), "greeting is not set\n");
}

#[test]
fn wasi_logging_reaches_the_hosts_log_tagged_with_the_guest() {
    let (_dir, world) = world_file(WORLD);
    let ran = run(&world, &[], &["log:1"]).ran();
    assert_eq!(ran.success(), "logged 1\n", "log lines never go to stdout");
    let line = ran
        .stderr
        .lines()
        .find(|line| line.contains("hello from wasi:logging 0"))
        .unwrap_or_default();
    assert!(
        line.contains("INFO")
            && line.contains("guest=\"std-interfaces\"")
            && line.contains("context=std-interfaces"),
        "{ran:#?}"
    );
}

/// wasi:logging lines go to the host's stderr, so a flood of them is stopped by the guest's
/// stderr limit (exit 210), as our own logging and printing to stderr are; lines the host's
/// filter drops are neither written nor counted.
#[test]
fn a_wasi_logging_flood_is_stopped_by_the_stderr_limit() {
    let (_dir, world) = world_file(WORLD);
    let ran = run(&world, &["--max-stderr", "16KiB"], &["log:100000"]).ran();
    assert_stopped(
        &ran,
        210,
        "stderr limit of 16.0 KiB (raise it with --max-stderr)",
    );
    let logged = ran.stderr.matches("hello from wasi:logging").count();
    assert!((100..2000).contains(&logged), "{logged} lines got out");
    assert_eq!(ran.stdout, "", "stopped before it finished");

    let mut filtered = run(&world, &["--max-stderr", "16KiB"], &["log:2000"]);
    filtered.env("WORLDHOST_LOG", "warn");
    assert_eq!(filtered.ran().success(), "logged 2000\n");
}

#[test]
fn inspect_and_worlds_show_name_the_standard_interfaces() {
    let standard = [
        "wasi:config/store@0.2.0-rc.1",
        "wasi:config/store@0.2.0-draft-2024-09-27",
        "wasi:logging/logging@0.1.0-draft",
    ];
    let report = run_host(["inspect".as_ref(), std_interfaces().as_os_str()]);
    let text = report.success();
    assert!(text.contains("cloud: can run"), "{text}");
    assert!(
        text.contains(&format!("cli: cannot run: missing {}", standard.join(", "))),
        "{text}"
    );
    let shown = run_host(["worlds", "show", "cloud"]);
    let text = shown.success();
    for import in standard {
        assert!(text.contains(&format!("import {import};")), "{text}");
    }
}
