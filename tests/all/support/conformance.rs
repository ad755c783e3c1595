//! The filesystem conformance guest (`tests/guests/fs-conformance`) prints one line per check,
//! `id: value`. Its transcript in the cli world, on a host directory, is the reference: the
//! cloud world must give the same on every backend, apart from the documented differences below
//! (worlds/cloud/README.md explains each).

use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;

use super::harness::{Ran, TEST_GUESTS, Target, guest, host};

/// Transcript lines where the cloud world differs from the cli world, with the cloud world's
/// value. Every other line must be identical.
const CLOUD_DIFFERENCES: &[(&str, &str)] = &[
    // No symbolic links or hard links in object stores.
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

fn conformance_wasm() -> PathBuf {
    guest(TEST_GUESTS, "fs-conformance", Target::P2)
}

/// Runs the conformance guest with `world_args` (which must mount its directory at `data`) and
/// returns its transcript.
pub fn conformance(world_args: &[String], configure: impl FnOnce(&mut Command)) -> String {
    let mut command = host();
    command
        .arg("run")
        .args(world_args)
        .arg(conformance_wasm())
        .arg("data");
    configure(&mut command);
    let ran: Ran = command.output().unwrap().into();
    assert_eq!(ran.code, 0, "the conformance guest failed: {ran:#?}");
    assert!(
        ran.stdout.ends_with("done\n"),
        "transcript incomplete: {}",
        ran.stdout
    );
    ran.stdout
}

/// The transcript on a host directory in the cli world, the reference (made once per process).
fn cli_transcript() -> &'static str {
    static CLI: OnceLock<String> = OnceLock::new();
    CLI.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let mount = format!("{}::data", dir.path().display());
        conformance(&["--dir".into(), mount], |_| {})
    })
}

/// Checks `transcript` against the cli world's, line by line.
#[track_caller]
pub fn assert_conforms(backend: &str, transcript: &str) {
    let cli: Vec<&str> = cli_transcript().lines().collect();
    let cloud: Vec<&str> = transcript.lines().collect();
    let ids = |lines: &[&str]| -> Vec<String> {
        lines
            .iter()
            .map(|line| line.split(": ").next().unwrap().to_owned())
            .collect()
    };
    assert_eq!(
        ids(&cli),
        ids(&cloud),
        "{backend}: the transcripts have different checks"
    );
    let mut mismatches = Vec::new();
    for (cli_line, cloud_line) in cli.iter().zip(&cloud) {
        let (id, cli_value) = cli_line.split_once(": ").unwrap_or((cli_line, ""));
        let cloud_value = cloud_line.split_once(": ").map_or("", |(_, value)| value);
        let expected = CLOUD_DIFFERENCES
            .iter()
            .find(|(documented, _)| *documented == id)
            .map_or(cli_value, |(_, value)| *value);
        if cloud_value != expected {
            mismatches.push(format!("{id}: expected {expected:?}, got {cloud_value:?}"));
        }
    }
    assert!(
        mismatches.is_empty(),
        "{backend} differs from the cli world:\n{}",
        mismatches.join("\n")
    );
}
