//! Guests written with the Rust guest SDK (`guest-sdk/`): the word-count plugin, called with
//! `host call`, and the blob-copy command, run with `host run`, both in the cloud world on a
//! local directory.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::support::harness::{
    EXAMPLES, Ran, Target, call_command, file_url, guest, host, run_host, run_with_stdin,
    world_file,
};

fn word_count() -> PathBuf {
    guest(EXAMPLES, "word_count", Target::P2)
}

fn blob_copy() -> PathBuf {
    guest(EXAMPLES, "blob-copy", Target::P2)
}

/// Runs a `host` command with `stdin` as its standard input and `WORLDHOST_LOG=info`.
fn run_logged(mut command: Command, stdin: &str) -> Ran {
    command.env("WORLDHOST_LOG", "info");
    run_with_stdin(command, stdin.as_bytes())
}

/// A store directory with three text files under `docs/` (3 + 2 + 4 words), one binary blob
/// there, and a text file elsewhere.
fn store_with_docs() -> tempfile::TempDir {
    let store = tempfile::tempdir().unwrap();
    let write = |path: &str, content: &[u8]| {
        let path = store.path().join(path);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, content).unwrap();
    };
    write("docs/b.txt", b"four  five\n");
    write("docs/a.txt", b"one two three");
    write("docs/sub/c.txt", b"six\nseven\teight nine\n");
    write("docs/logo.bin", &[0xff, 0xfe, 0x00, 0x80]);
    write("other/x.txt", b"not counted at all");
    store
}

/// A world file extending `cloud`: `.` is `store`, and the config sets `output = "out"`.
fn word_count_world(store: &Path) -> (tempfile::TempDir, String) {
    world_file(&format!(
        "base = \"cloud\"\n\n[[mount]]\nguest = \".\"\nstore = \"{}\"\n\n[config]\noutput = \"out\"\n",
        file_url(store)
    ))
}

/// Calls word-count with `--text`, in the world file's world, with `prefix` on stdin.
fn call_word_count(world: &str, prefix: &str) -> Ran {
    run_logged(
        call_command(&["--world", world, "--text"], &word_count()),
        prefix,
    )
}

/// The stderr line that contains every one of `words`, if any.
fn log_line<'a>(ran: &'a Ran, words: &[&str]) -> Option<&'a str> {
    ran.stderr
        .lines()
        .find(|line| words.iter().all(|word| line.contains(word)))
}

#[test]
fn word_count_counts_the_words_under_a_prefix_into_the_configured_output() {
    let store = store_with_docs();
    let (_world_dir, world) = word_count_world(store.path());
    let ran = call_word_count(&world, "docs/\n");
    assert_eq!(ran.success().trim_end(), "3 files, 9 words", "{ran:#?}");

    // Sorted by key, the binary blob skipped, then the total; in `[config] output`.
    let counts = fs::read_to_string(store.path().join("out/counts.txt")).unwrap();
    assert_eq!(
        counts,
        "docs/a.txt 3\ndocs/b.txt 2\ndocs/sub/c.txt 4\ntotal 9\n"
    );
    assert!(!store.path().join("results").exists(), "{ran:#?}");

    // The plugin's log lines reach the host's log with their fields.
    let counted = log_line(&ran, &["counted", "docs/a.txt", "words=3"]);
    assert!(counted.is_some(), "no log line for docs/a.txt: {ran:#?}");
    assert!(counted.unwrap().contains("INFO"), "{ran:#?}");
    let skipped = log_line(&ran, &["skipped, not text", "docs/logo.bin"]);
    assert!(skipped.unwrap_or("").contains("WARN"), "{ran:#?}");
    assert!(
        log_line(
            &ran,
            &["wrote counts", "out/counts.txt", "files=3", "words=9"]
        )
        .is_some(),
        "{ran:#?}"
    );
}

#[test]
fn word_count_takes_bytes_and_writes_to_the_default_output() {
    // The README's command: `--world cloud --mount`, no `--text`, so the prefix arrives as
    // bytes; no config, so the counts go to `results/`.
    let store = store_with_docs();
    let mount = file_url(store.path());
    let ran = run_logged(
        call_command(&["--world", "cloud", "--mount", &mount], &word_count()),
        "docs/sub/",
    );
    assert_eq!(ran.success().trim_end(), "1 file, 4 words", "{ran:#?}");
    assert_eq!(
        fs::read_to_string(store.path().join("results/counts.txt")).unwrap(),
        "docs/sub/c.txt 4\ntotal 4\n"
    );
}

#[test]
fn word_count_without_blobs_under_the_prefix_fails_with_no_input() {
    let store = store_with_docs();
    let (_world_dir, world) = word_count_world(store.path());
    for prefix in ["empty/\n", "\n"] {
        let ran = call_word_count(&world, prefix);
        assert_eq!(ran.code, 1, "{prefix:?}: {ran:#?}");
        assert_eq!(ran.stdout, "", "{prefix:?}: {ran:#?}");
        let error = log_line(&ran, &["error: ", "no-input"]);
        assert!(error.is_some(), "{prefix:?}: no error line: {ran:#?}");
        assert!(!ran.stderr.contains("panicked"), "{ran:#?}");
    }
    assert!(!store.path().join("out").exists());
}

#[test]
fn blob_copy_command_runs_in_the_cloud_world() {
    let store = tempfile::tempdir().unwrap();
    fs::write(store.path().join("a.txt"), "copied by the blob interface\n").unwrap();
    let run = |source: &str| {
        let mut command = host();
        command
            .args(["run", "--world", "cloud", "--mount"])
            .arg(file_url(store.path()))
            .arg(blob_copy())
            .args([source, "copies/a.txt"]);
        run_logged(command, "")
    };

    let ran = run("a.txt");
    assert_eq!(
        ran.success(),
        "copied a.txt to copies/a.txt (29 bytes)\n",
        "{ran:#?}"
    );
    assert_eq!(
        fs::read_to_string(store.path().join("copies/a.txt")).unwrap(),
        "copied by the blob interface\n"
    );
    assert!(
        log_line(
            &ran,
            &["copied", "from=a.txt", "to=copies/a.txt", "bytes=29"]
        )
        .is_some(),
        "{ran:#?}"
    );

    // A missing source: `main` returns the error, so the guest exits 1 and says why.
    let ran = run("missing.txt");
    assert_eq!(ran.code, 1, "{ran:#?}");
    assert!(ran.stderr.contains("no blob at missing.txt"), "{ran:#?}");
}

/// A copy between two mounts streams through the host a part at a time: an object larger than
/// the guest's memory limit (which a whole read could never return) is copied whole.
#[test]
fn a_blob_copy_across_mounts_streams_objects_past_the_memory_limit() {
    let (inputs, outputs) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let data: Vec<u8> = (0..(20u32 << 20) + 5).map(|i| (i % 251) as u8).collect();
    fs::write(inputs.path().join("big.bin"), &data).unwrap();
    let mut command = host();
    command
        .args([
            "run",
            "--world",
            "cloud",
            "--max-memory",
            "16MiB",
            "--mount",
        ])
        .arg(file_url(inputs.path()))
        .arg("--mount")
        .arg(format!("{}::out", file_url(outputs.path())))
        .arg(blob_copy())
        .args(["big.bin", "out/copied.bin"]);
    let ran = run_logged(command, "");
    assert_eq!(
        ran.success(),
        format!("copied big.bin to out/copied.bin ({} bytes)\n", data.len()),
        "{ran:#?}"
    );
    let copied = fs::read(outputs.path().join("copied.bin")).unwrap();
    assert!(copied == data, "the copy differs ({} bytes)", copied.len());
}

#[test]
fn sdk_commands_export_no_handler_and_plugins_no_run() {
    // Using the SDK's imports does not make a command export the plugin handler, and a
    // plugin exports the handler only.
    let inspect = |wasm: PathBuf| {
        let ran = run_host(["inspect".to_owned(), wasm.display().to_string()]);
        let stdout = ran.success();
        let exports = stdout
            .split("exports:")
            .nth(1)
            .unwrap_or_else(|| panic!("no exports: {ran:#?}"))
            .split("\n\n")
            .next()
            .unwrap()
            .to_owned();
        (stdout.to_owned(), exports)
    };

    let (stdout, exports) = inspect(blob_copy());
    assert!(exports.contains("wasi:cli/run@"), "{stdout}");
    assert!(!exports.contains("worldhost:host/handler"), "{stdout}");
    assert!(stdout.contains("worldhost:host/blob@0.1.0"), "{stdout}");
    assert!(stdout.contains("worldhost:host/logging@0.1.0"), "{stdout}");
    // It never reads config, so it does not import it.
    assert!(!stdout.contains("worldhost:host/config"), "{stdout}");

    let (stdout, exports) = inspect(word_count());
    assert!(exports.contains("worldhost:host/handler@0.1.0"), "{stdout}");
    assert!(!exports.contains("wasi:cli/run"), "{stdout}");
    assert!(stdout.contains("worldhost:host/config@0.1.0"), "{stdout}");
}
