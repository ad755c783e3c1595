//! The filesystem conformance guest (`tests/guests/fs-conformance`) prints one line per check,
//! `id: value`. Its transcript in the cli world, on a host directory, is the reference: the
//! cloud world must give the same on every backend, for the wasm32-wasip1 build (through the
//! preview1 adapter) and the wasm32-wasip2 build alike, each compared with the cli world's run
//! of the same build, apart from the documented differences below (worlds/cloud/README.md
//! explains each).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use super::harness::{Ran, TEST_GUESTS, Target, guest, host};

/// Transcript lines where the cloud world differs from the cli world, with the cloud world's
/// value: object stores have no symbolic or hard links, and one wasmtime-wasi quirk is not
/// copied. Every other line must be identical.
const CLOUD_DIFFERENCES: &[(&str, &str)] = &[
    // A path over PATH_MAX: Linux (and the cloud world) say `name-too-long` before anything
    // else; wasmtime-wasi's `create-directory-at` walks the parent directories first and says
    // `no-entry` at the first missing one (its stat and open say `name-too-long`); so do its
    // unlink, rename and set-times.
    ("path-4096-create-dir", "error InvalidFilename (os 37)"),
    ("p2-path-path-4096-unlink", "error name-too-long"),
    ("p2-path-path-4096-create-directory", "error name-too-long"),
    ("p2-path-path-4096-rename-target", "error name-too-long"),
    ("p2-path-path-4096-set-times-at", "error name-too-long"),
    ("symlink-create", "error Unsupported (os 58)"),
    ("symlink-readlink", "error NotFound (os 44)"),
    ("symlink-read-through", "error NotFound (os 44)"),
    ("symlink-metadata-is-symlink", "error NotFound (os 44)"),
    ("symlink-remove", "error NotFound (os 44)"),
    ("symlink-absolute-target", "error Unsupported (os 58)"),
    ("symlink-escaping-target", "error Unsupported (os 58)"),
    ("symlink-escaping-read-through", "error NotFound (os 44)"),
    ("hard-link-create", "error Unsupported (os 58)"),
    ("hard-link-read", "error NotFound (os 44)"),
    (
        "hard-link-survives-original-removal",
        "error NotFound (os 44)",
    ),
    ("hard-link-remove", "error NotFound (os 44)"),
];

/// Runs the conformance guest built for `target` with `world_args`, which must mount its
/// directory at `data` and an empty directory at `.` (the guest's working directory, where
/// wasi-libc resolves the empty path), and returns what the run did.
pub fn conformance(
    target: Target,
    world_args: &[String],
    configure: impl FnOnce(&mut Command),
) -> Ran {
    let guest = guest(TEST_GUESTS, "fs-conformance", target);
    run_on_data(&guest, world_args, configure)
}

/// Runs the p3 build of the conformance guest (`tests/guests/fs-conformance-p3`: the same
/// std checks over WASI 0.3, then the wasi:filesystem checks through the 0.3 bindings) as
/// [`conformance`] runs the others.
pub fn conformance_p3(world_args: &[String], configure: impl FnOnce(&mut Command)) -> Ran {
    run_on_data(&conformance_p3_guest(), world_args, configure)
}

/// The p3 build of the conformance guest (a library crate, hence the underscore).
pub fn conformance_p3_guest() -> PathBuf {
    guest(TEST_GUESTS, "fs_conformance_p3", Target::P2)
}

fn run_on_data(guest: &Path, world_args: &[String], configure: impl FnOnce(&mut Command)) -> Ran {
    let mut command = host();
    command.arg("run").args(world_args).arg(guest).arg("data");
    configure(&mut command);
    command.output().unwrap().into()
}

/// Checks a run of the p3 build against the cli world's run of the wasm32-wasip2 build: the
/// whole transcript, line for line, apart from [`P3_DIFFERENCES`] and, in the cloud world
/// (`in_cloud`), the lines where the 0.2 build differs there too ([`CLOUD_DIFFERENCES`]).
#[track_caller]
pub fn assert_p3_conforms(what: &str, ran: &Ran, in_cloud: bool) {
    let mut differences = P3_DIFFERENCES.to_vec();
    if in_cloud {
        differences.extend_from_slice(CLOUD_DIFFERENCES);
    }
    assert_same_run(
        &format!("{what} (WASI 0.3)"),
        cli_run(Target::P2),
        ran,
        &differences,
    );
}

/// Where WASI 0.3 itself answers differently from 0.2, in either world (wasmtime-wasi's p3 in
/// the cli world and the cloud world's p3 agree on each):
/// - a read or write the handle was not opened for: through 0.2 the stream fails and the 0.2
///   build's std reports it as `EIO`; 0.3's stream future carries `bad-descriptor`, which
///   wasi-libc's table makes `EBADF` (what the wasip1 build says too);
/// - 0.3's `read-via-stream` has no result, so a directory's `is-directory` arrives in the
///   stream's future after no bytes;
/// - 0.3's timestamps have signed seconds, so the farthest one it can ask for (`i64::MAX`
///   seconds) is a time the host holds, where 0.2's `u64::MAX` is not.
const P3_DIFFERENCES: &[(&str, &str)] = &[
    ("write-on-read-only-handle", "error Uncategorized (os 8)"),
    ("read-on-write-only-handle", "error Uncategorized (os 8)"),
    (
        "p2-read-via-stream-on-directory",
        "\"\" then stream error is-directory",
    ),
    ("p2-set-times-max-seconds", "ok"),
];

/// The cli world's mounts for a conformance guest: `data` and its working directory `cwd`.
pub fn cli_mounts(data: &std::path::Path, cwd: &std::path::Path) -> [String; 4] {
    let dir = |path: &std::path::Path, guest: &str| format!("{}::{guest}", path.display());
    [
        "--dir".into(),
        dir(data, "data"),
        "--dir".into(),
        dir(cwd, "."),
    ]
}

/// The run on host directories in the cli world, the reference (made once per process and
/// target).
pub fn cli_run(target: Target) -> &'static Ran {
    static CLI: [OnceLock<Ran>; 2] = [OnceLock::new(), OnceLock::new()];
    CLI[target as usize].get_or_init(|| {
        let (data, cwd) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let ran = conformance(target, &cli_mounts(data.path(), cwd.path()), |_| {});
        assert_eq!(
            ran.code, 0,
            "the conformance guest failed in the cli world: {ran:#?}"
        );
        assert!(
            ran.stdout.ends_with("done\n"),
            "cli transcript incomplete: {ran:#?}"
        );
        ran
    })
}

/// Checks a run of the `target` build against the cli world's run of the same build.
#[track_caller]
pub fn assert_conforms(backend: &str, target: Target, ran: &Ran) {
    let what = format!("{backend} ({})", target.triple());
    assert_same_run(&what, cli_run(target), ran, CLOUD_DIFFERENCES);
}

/// Checks `ran`, a run in the cloud world, against `reference`, the same guest run in the cli
/// world: transcript lines (`id: value`) equal one by one, apart from the `differences` (id and
/// the cloud world's value), and the same exit code. Every differing line is listed, and a
/// transcript that stops early is reported with where it stopped and what the host said.
#[track_caller]
pub fn assert_same_run(what: &str, reference: &Ran, ran: &Ran, differences: &[(&str, &str)]) {
    let cli: Vec<&str> = reference.stdout.lines().collect();
    let cloud: Vec<&str> = ran.stdout.lines().collect();
    let mut mismatches = Vec::new();
    for (cli_line, cloud_line) in cli.iter().zip(&cloud) {
        let (id, cli_value) = cli_line.split_once(": ").unwrap_or((cli_line, ""));
        let (cloud_id, cloud_value) = cloud_line.split_once(": ").unwrap_or((cloud_line, ""));
        if id != cloud_id {
            mismatches.push(format!(
                "the checks part ways: the cli world has {cli_line:?} where this run has \
                 {cloud_line:?}"
            ));
            break;
        }
        let expected = differences
            .iter()
            .find(|(documented, _)| *documented == id)
            .map_or(cli_value, |(_, value)| *value);
        if cloud_value != expected {
            mismatches.push(format!("{id}: expected {expected:?}, got {cloud_value:?}"));
        }
    }
    if cloud.len() != cli.len() || ran.code != reference.code {
        mismatches.push(format!(
            "the run stopped after {} of {} lines with exit code {} (the cli world's: {}); \
             stderr:\n{}",
            cloud.len(),
            cli.len(),
            ran.code,
            reference.code,
            ran.stderr
        ));
    }
    assert!(
        mismatches.is_empty(),
        "{what} differs from the cli world in {} places:\n{}",
        mismatches.len(),
        mismatches.join("\n")
    );
}

/// Transcript lines where the wasm32-wasip1 build differs from the wasm32-wasip2 build in the
/// cli world, with the wasip1 build's value (README.md, "wasip1 modules", explains each).
/// Measured with the wasip1 build run by wasmtime's own p1.
pub const WASIP1_DIFFERENCES: &[(&str, &str)] = &[
    // wasmtime's p1 checks a descriptor's rights first: a read or write it does not allow,
    // any read of a directory and a directory's sync are `EBADF` (the adapter agrees).
    ("write-on-read-only-handle", "error Uncategorized (os 8)"),
    ("read-on-write-only-handle", "error Uncategorized (os 8)"),
    ("read-on-directory-handle", "error Uncategorized (os 8)"),
    ("sync-all-directory", "error Uncategorized (os 8)"),
    // The cli world's refusal of escaping links is WASI 0.2/0.3's `symlink-at`; wasmtime's p1
    // makes the link, and refuses to follow it out of the directory.
    ("symlink-escaping-target", "ok"),
    (
        "symlink-escaping-read-through",
        "error PermissionDenied (os 63)",
    ),
];

/// `ran`'s transcript with only the checks `ids` names (the wasm32-wasip1 build's), without
/// `p2-checks: skipped`, which the wasip1 build prints where the wasip2 build checks what
/// only a component can reach.
fn only_checks(ran: &Ran, ids: &std::collections::HashSet<&str>) -> Ran {
    let stdout: String = ran
        .stdout
        .lines()
        .filter(|line| {
            let id = line.split_once(": ").map_or(*line, |(id, _)| id);
            id != "p2-checks" && ids.contains(id)
        })
        .map(|line| format!("{line}\n"))
        .collect();
    Ran {
        code: ran.code,
        stdout,
        stderr: ran.stderr.clone(),
    }
}

/// Checks `ran`, a run of the wasm32-wasip1 build (in the cloud world when `cloud`), against
/// the cli world's run of the wasm32-wasip2 build: the same transcript apart from the checks
/// only the wasip2 build makes, [`WASIP1_DIFFERENCES`] and, in the cloud world,
/// [`CLOUD_DIFFERENCES`] (where both name a line, the cloud world's value counts).
#[track_caller]
pub fn assert_wasip1_same_as_wasip2(what: &str, ran: &Ran, cloud: bool) {
    let mut differences = WASIP1_DIFFERENCES.to_vec();
    if cloud {
        differences.retain(|(id, _)| !CLOUD_DIFFERENCES.iter().any(|(other, _)| other == id));
        differences.extend_from_slice(CLOUD_DIFFERENCES);
    }
    let ids = ran
        .stdout
        .lines()
        .map(|line| line.split_once(": ").map_or(line, |(id, _)| id))
        .collect();
    assert_same_run(
        what,
        &only_checks(cli_run(Target::P2), &ids),
        &only_checks(ran, &ids),
        &differences,
    );
}
