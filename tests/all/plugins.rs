//! Plugins: `host call`, the host's own interfaces (blob, config, logging), and the embedding
//! API with a fresh instance per call.

use std::fs;
use std::io::Write;

use crate::support::harness::{
    Ran, RunExt, TEST_GUESTS, Target, call_command, file_url, guest, host, probe, run_probe,
    run_with_stdin, world_file,
};

fn echo() -> std::path::PathBuf {
    guest(TEST_GUESTS, "echo_plugin", Target::P2)
}

/// `host call` of the echo plugin with `args`, `input` on stdin.
fn call(args: &[&str], input: &[u8]) -> Ran {
    run_with_stdin(call_command(args, &echo()), input)
}

#[test]
fn host_call_passes_text_and_bytes_through() {
    assert_eq!(
        call(&["--text", "--mount", "memory:"], b"hello plugin").success(),
        "hello plugin\n"
    );
    let bytes: Vec<u8> = (0..=255).collect();
    let ran = host()
        .args(["call", "--mount", "memory:", "--input"])
        .arg(write_temp(&bytes).path())
        .arg(echo())
        .output()
        .unwrap();
    assert!(ran.status.success());
    assert_eq!(ran.stdout, bytes, "bytes come back as they went in");
}

fn write_temp(bytes: &[u8]) -> tempfile::NamedTempFile {
    let mut file = tempfile::NamedTempFile::new().unwrap();
    file.write_all(bytes).unwrap();
    file
}

#[test]
fn a_plugin_error_is_a_message_and_exit_1_and_a_trap_is_134() {
    let ran = call(&["--text", "--mount", "memory:"], b"fail");
    assert_eq!(ran.code, 1, "{ran:#?}");
    assert_eq!(
        ran.stderr,
        "error: the plugin failed: asked-to-fail: the input said fail\n"
    );
    let ran = call(&["--text", "--mount", "memory:"], b"trap");
    assert_eq!(ran.code, 134, "{ran:#?}");
    assert!(
        ran.stderr.contains("the input said trap") && ran.stderr.contains("wasm backtrace"),
        "{ran:#?}"
    );
}

#[test]
fn config_values_come_from_the_world_file() {
    let (_dir, world) = world_file(
        "base = \"cloud\"\n[[mount]]\nguest = \".\"\nstore = \"memory:\"\n[config]\ngreeting = \"hi there\"\n",
    );
    let world = world.as_str();
    assert_eq!(
        call(&["--text", "--world", world], b"config greeting").success(),
        "hi there\n"
    );
    let ran = call(&["--text", "--world", world], b"config missing");
    assert!(ran.stderr.contains("no-config"), "{ran:#?}");
}

#[test]
fn log_lines_reach_the_hosts_output_with_the_plugins_name() {
    let mut command = call_command(&["--text", "--mount", "memory:"], &echo());
    command.env("WORLDHOST_LOG", "info");
    let ran = run_with_stdin(command, b"log");
    assert_eq!(ran.success(), "logged\n");
    let line = ran
        .stderr
        .lines()
        .find(|line| line.contains("echo says hello"))
        .unwrap_or_default();
    assert!(
        line.contains("INFO")
            && line.contains("guest=\"echo_plugin\"")
            && line.contains("answer=42"),
        "{ran:#?}"
    );
    assert_eq!(ran.stdout, "logged\n", "log lines never go to stdout");
}

/// A guest's log lines go to the host's stderr, so they count against its stderr limit: a
/// plugin logging without end is stopped there (exit 210), as one printing to stderr is.
#[test]
fn log_lines_count_against_the_stderr_limit() {
    let mut command = call_command(
        &["--text", "--mount", "memory:", "--max-stderr", "16KiB"],
        &echo(),
    );
    command.env("WORLDHOST_LOG", "info");
    let ran = run_with_stdin(command, b"log 100000");
    assert_eq!(ran.code, 210, "{ran:#?}");
    assert!(ran.stderr.contains("stderr limit"), "{ran:#?}");
    let logged = ran.stderr.matches("echo logs a lot").count();
    assert!((100..2000).contains(&logged), "{logged} lines got out");
    // Lines the host's filter drops are not written, so not counted.
    let mut command = call_command(
        &["--text", "--mount", "memory:", "--max-stderr", "16KiB"],
        &echo(),
    );
    command.env("WORLDHOST_LOG", "warn");
    assert_eq!(run_with_stdin(command, b"log 2000").success(), "logged\n");
}

#[test]
fn blobs_and_files_are_the_same_objects() {
    let store = tempfile::tempdir().unwrap();
    let mount = file_url(store.path());
    // A blob put by the plugin is a file for a command guest, at once.
    assert_eq!(
        call(&["--text", "--mount", &mount], b"put notes/a.txt from-blob").success(),
        "stored\n"
    );
    assert_eq!(
        fs::read_to_string(store.path().join("notes/a.txt")).unwrap(),
        "from-blob"
    );
    let read = run_probe(
        &["--world", "cloud", "--mount", &mount],
        &["read", "notes/a.txt"],
    );
    assert_eq!(read.success(), "from-blob");
    // A file written by a command guest is a blob for the plugin.
    let wrote = run_probe(
        &["--world", "cloud", "--mount", &mount],
        &["write", "notes/b.txt", "from-file"],
    );
    wrote.success();
    assert_eq!(
        call(&["--text", "--mount", &mount], b"get notes/b.txt").success(),
        "from-file"
    );
    let ran = call(&["--text", "--mount", &mount], b"get notes/missing.txt");
    assert!(ran.stderr.contains("NotFound"), "{ran:#?}");
    let ran = call(
        &["--text", "--mount", &format!("{mount}:ro")],
        b"put x.txt y",
    );
    assert!(ran.stderr.contains("NotPermitted"), "{ran:#?}");
}

/// Listed keys are guest paths that `get` takes back, for a mount at `/` (no `//`), at `/out`
/// and at `.`.
#[test]
fn listed_blob_keys_are_clean_guest_paths() {
    let store = tempfile::tempdir().unwrap();
    fs::create_dir(store.path().join("sub")).unwrap();
    fs::write(store.path().join("a.txt"), "a").unwrap();
    fs::write(store.path().join("sub/b.txt"), "bb").unwrap();
    let url = file_url(store.path());
    for (guest, prefix, keys) in [
        ("/", "/", ["/a.txt", "/sub/b.txt"]),
        ("/out", "/out", ["/out/a.txt", "/out/sub/b.txt"]),
        (".", "", ["a.txt", "sub/b.txt"]),
    ] {
        let mount = format!("{url}::{guest}");
        let listed = call(
            &["--text", "--mount", &mount],
            format!("list {prefix}").as_bytes(),
        );
        let expected = format!("{} 1\n{} 2\n", keys[0], keys[1]);
        assert_eq!(listed.success(), expected, "mounted at {guest}");
        let got = call(
            &["--text", "--mount", &mount],
            format!("get {}", keys[1]).as_bytes(),
        );
        assert_eq!(got.success(), "bb", "mounted at {guest}");
    }
}

#[test]
fn host_call_refuses_what_is_not_a_plugin() {
    let ran = host()
        .args(["call", "--mount", "memory:"])
        .arg(probe(Target::P2))
        .ran();
    ran.refused_with(&["is not a plugin", "worldhost:host/handler", "wasi:cli/run"]);
}

#[test]
fn host_call_refuses_a_wasi_p3_component_naming_the_async_abi() {
    // Plugins run on an engine without the component model's async ABI (plugin.rs).
    let ran = host()
        .args(["call", "--mount", "memory:"])
        .arg(guest(TEST_GUESTS, "p3_probe", Target::P2))
        .ran();
    ran.refused_with(&["component-model-async", "plugins are WASI 0.2 components"]);
}

#[test]
fn inspect_says_a_plugin_can_be_called() {
    let ran = host().arg("inspect").arg(echo()).ran();
    let text = ran.success();
    assert!(text.contains("worldhost:host/handler@0.1.0"), "{text}");
    assert!(
        text.contains("cloud: can run as a plugin (`host call`)"),
        "{text}"
    );
    assert!(
        text.contains("cli: cannot run: missing worldhost:host/blob@0.1.0"),
        "{text}"
    );
}

/// The embedding API: one setup, many concurrent calls, each on a fresh instance.
#[test]
fn the_embedding_api_calls_concurrently_on_fresh_instances() {
    use worldhost::plugin::{CallResult, Payload, PluginHost};
    let world = worldhost::world::WorldFile::load("cloud").unwrap();
    let mut world = world;
    worldhost::world::add_mount_flags(&mut world, &[("--mount", &["memory:".to_owned()])]).unwrap();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let host = std::sync::Arc::new(
            PluginHost::new(&echo(), &world, Default::default())
                .await
                .unwrap(),
        );
        let calls = (0..64).map(|i| {
            let host = host.clone();
            tokio::spawn(async move {
                let input = if i % 2 == 0 {
                    "count".to_owned()
                } else {
                    format!("call {i}")
                };
                (i, host.call(Payload::Text(input)).await.unwrap())
            })
        });
        for call in calls {
            let (i, result) = call.await.unwrap();
            let expected = if i % 2 == 0 {
                "1".to_owned()
            } else {
                format!("call {i}")
            };
            match result {
                CallResult::Returned(Ok(Payload::Text(text))) => {
                    assert_eq!(text, expected, "call {i}")
                }
                other => panic!("call {i}: {other:?}"),
            }
        }
    });
}

/// A blob `get` larger than the guest's memory limit could never be handed over: it is
/// refused before the object is read, and a range within the limit is served.
#[test]
fn a_blob_read_larger_than_the_guests_memory_is_refused_before_it_is_read() {
    let store = tempfile::tempdir().unwrap();
    fs::write(store.path().join("big.bin"), vec![7u8; 20 << 20]).unwrap();
    let mount = file_url(store.path());
    let flags = ["--text", "--mount", mount.as_str(), "--max-memory", "16MiB"];
    let ran = call(&flags, b"get big.bin");
    assert_eq!(ran.code, 1, "{ran:#?}");
    assert!(
        ran.stderr
            .contains("20971520 bytes is more than one read may return (16777216 bytes"),
        "{ran:#?}"
    );
    fs::write(store.path().join("small.bin"), b"small").unwrap();
    assert_eq!(call(&flags, b"get small.bin").success(), "small");
}
