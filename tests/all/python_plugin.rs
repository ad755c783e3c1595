//! A guest in another language: the Python plugin in `examples/python-plugin`, built against
//! our `plugin` world by componentize-py (installed by `tests/run`) and run with `host call`.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

use crate::support::harness::{
    EXAMPLES, Ran, call_command, file_url, repo_root, run_bounded, world_file,
};

/// How long building the plugin may take (componentize-py links a whole CPython: ~10-30 s).
const BUILD_TIMEOUT: Duration = Duration::from_secs(300);
/// How long one `host call` may take (compiling the ~18 MB component dominates).
const CALL_TIMEOUT: Duration = Duration::from_secs(180);

/// Builds (once per test process) the Python plugin with componentize-py, into
/// `target/guests/python-plugin.wasm`.
fn python_plugin() -> &'static Path {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT.get_or_init(|| {
        let root = repo_root();
        let tool = root.join("target/test-tools/venv/bin/componentize-py");
        assert!(
            tool.exists(),
            "{} is missing: run tests/run, which installs componentize-py",
            tool.display()
        );
        let out_dir = root.join("target/guests");
        fs::create_dir_all(&out_dir).unwrap();
        let out = out_dir.join("python-plugin.wasm");
        // Built under a name of this process's own and renamed, so that concurrent test
        // processes never see (or run) a half-written component.
        let partial = out_dir.join(format!("python-plugin.wasm.{}.partial", std::process::id()));
        // Built from a copy of the sources: componentize-py leaves a `__pycache__` beside them.
        let sources = tempfile::tempdir().unwrap();
        for entry in fs::read_dir(root.join(EXAMPLES).join("python-plugin")).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|ext| ext == "py") {
                fs::copy(&path, sources.path().join(path.file_name().unwrap())).unwrap();
            }
        }
        let mut build = Command::new(&tool);
        build
            .args([
                "-q",
                "-d",
                "wit",
                "-w",
                "plugin",
                "componentize",
                "app",
                "-p",
            ])
            .arg(sources.path())
            .arg("-o")
            .arg(&partial)
            .current_dir(&root);
        let ran = run_bounded(build, None, BUILD_TIMEOUT, "componentize-py");
        assert_eq!(ran.code, 0, "building the Python plugin failed: {ran:#?}");
        fs::rename(&partial, &out).unwrap();
        out
    })
}

/// A world file on the cloud world with a memory store at `.` and `greeting = "hi"`.
fn hi_world() -> (tempfile::TempDir, String) {
    world_file(
        "base = \"cloud\"\n\
         \n\
         [[mount]]\n\
         guest = \".\"\n\
         store = \"memory:\"\n\
         \n\
         [config]\n\
         greeting = \"hi\"\n",
    )
}

/// `host call FLAGS... python-plugin.wasm` with `input` on stdin and `WORLDHOST_LOG=log`.
fn call(flags: &[&str], input: &str, log: Option<&str>) -> Ran {
    let mut command = call_command(flags, python_plugin());
    if let Some(filter) = log {
        command.env("WORLDHOST_LOG", filter);
    }
    run_bounded(command, Some(input.as_bytes()), CALL_TIMEOUT, "host call")
}

#[test]
fn python_plugin_reverses_words_and_prefixes_the_configured_greeting() {
    let (_dir, world) = hi_world();
    let ran = call(
        &["--world", &world, "--text"],
        "one two three\n",
        Some("info"),
    );
    assert_eq!(ran.success().trim_end(), "hi: three two one", "{ran:#?}");
    // Its log line, with its fields, arrives in the host's log output.
    assert!(
        ran.stderr.contains("reversed the input") && ran.stderr.contains("words"),
        "no log line: {ran:#?}"
    );
}

#[test]
fn python_plugin_returns_its_typed_error() {
    let (_dir, world) = hi_world();
    let ran = call(&["--world", &world, "--text"], "fail", None);
    assert_eq!(ran.code, 1, "expected exit 1: {ran:#?}");
    assert!(ran.stdout.is_empty(), "output on failure: {ran:#?}");
    assert!(ran.stderr.contains("error: "), "no error line: {ran:#?}");
    assert!(
        ran.stderr.contains("asked-to-fail"),
        "no error code: {ran:#?}"
    );
    assert!(
        !ran.stderr.contains("panicked"),
        "the host panicked: {ran:#?}"
    );
}

#[test]
fn python_plugin_takes_bytes_defaults_its_greeting_and_puts_a_blob() {
    // The built-in cloud world (no config: the greeting defaults to "hello") with a local
    // directory store at `.`: the blob the plugin puts is a file there afterwards.
    let store = tempfile::tempdir().unwrap();
    let mount = file_url(store.path());
    let ran = call(
        &["--world", "cloud", "--mount", &mount],
        "one two three",
        None,
    );
    assert_eq!(ran.success(), "hello: three two one", "{ran:#?}");
    let blob = store.path().join("python-plugin/last.txt");
    assert_eq!(
        fs::read_to_string(&blob).unwrap_or_else(|e| panic!("{}: {e}", blob.display())),
        "hello: three two one"
    );
}
