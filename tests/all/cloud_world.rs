//! The `cloud` world: the same guests, their files served from object stores.
//!
//! The conformance guest's transcript must be the cli world's on every backend, apart from the
//! documented differences below (worlds/cloud/README.md explains each).

use std::fs;
use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use object_store::ObjectStoreExt;
use object_store::path::Path as Key;

use crate::harness::{EXAMPLES, Ran, TEST_GUESTS, Target, guest, host, png_size, probe, repo_root};
use crate::proxy::Proxy;
use crate::servers::{AzureServer, S3Server, runtime, s3_store};

/// Transcript lines where the cloud world differs from the cli world, with the cloud world's
/// value. Every other line must be identical.
const CLOUD_DIFFERENCES: &[(&str, &str)] = &[
    // New content appears when the writer closes or syncs.
    ("visibility-before-close", "\"old content\""),
    ("visibility-new-file-before-close", "error NotFound (os 44)"),
    // No symbolic links, hard links or settable times in object stores.
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
    ("set-times-modified", "error Unsupported (os 58)"),
    ("set-times-modified-read-back", "false"),
    (
        "set-times-accessed-and-modified",
        "error Unsupported (os 58)",
    ),
];

fn conformance_wasm() -> std::path::PathBuf {
    guest(TEST_GUESTS, "fs-conformance", Target::P2)
}

/// Runs the conformance guest with `world_args` (which must mount its directory at `data`).
fn conformance(world_args: &[String], configure: impl FnOnce(&mut Command)) -> String {
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
fn assert_conforms(backend: &str, transcript: &str) {
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

fn cloud_args(mounts: &[String]) -> Vec<String> {
    let mut args = vec!["--world".to_owned(), "cloud".to_owned()];
    for mount in mounts {
        args.extend(["--mount".to_owned(), mount.clone()]);
    }
    args
}

#[test]
fn conformance_on_the_memory_store() {
    let transcript = conformance(&cloud_args(&["memory:::data".into()]), |_| {});
    assert_conforms("memory:", &transcript);
}

#[test]
fn conformance_on_a_local_directory_store() {
    let store = tempfile::tempdir().unwrap();
    let mount = format!("file://{}::data", store.path().display());
    let transcript = conformance(&cloud_args(&[mount]), |_| {});
    assert_conforms("file://", &transcript);
    assert_eq!(
        fs::read_dir(store.path()).unwrap().count(),
        0,
        "the guest cleaned up after itself"
    );
}

#[test]
fn conformance_on_s3() {
    let server = S3Server::start();
    let transcript = conformance(
        &cloud_args(&[format!("{}::data", server.url("conformance"))]),
        |command| {
            server.set_env(command);
        },
    );
    assert_conforms("s3://", &transcript);
}

#[test]
fn conformance_on_azure() {
    let server = AzureServer::start();
    let transcript = conformance(
        &cloud_args(&[format!("{}::data", server.url("conformance"))]),
        |command| {
            server.set_env(command);
        },
    );
    assert_conforms("az://", &transcript);
}

/// Runs the probe in the cloud world with `mounts` and `probe_args`.
fn cloud_probe(
    mounts: &[String],
    probe_args: &[&str],
    configure: impl FnOnce(&mut Command),
) -> Ran {
    let mut command = host();
    command
        .arg("run")
        .args(cloud_args(mounts))
        .arg(probe(Target::P2))
        .args(probe_args);
    configure(&mut command);
    command.output().unwrap().into()
}

#[test]
fn the_default_store_needs_no_configuration() {
    let store = tempfile::tempdir().unwrap();
    let default_store = store.path().join("created-on-first-use");
    let with_store = |command: &mut Command| {
        command.env("WORLDHOST_STORE", &default_store);
    };
    let ran = cloud_probe(&[], &["write", "hello.txt", "hi"], with_store);
    assert_eq!(ran.success(), "wrote 2 bytes to hello.txt\n");
    assert_eq!(
        fs::read_to_string(default_store.join("hello.txt")).unwrap(),
        "hi"
    );
    let ran = cloud_probe(&[], &["read", "hello.txt"], with_store);
    assert_eq!(ran.success(), "hi");
}

#[test]
fn a_read_only_mount_refuses_writes() {
    let store = tempfile::tempdir().unwrap();
    fs::write(store.path().join("kept.txt"), "original").unwrap();
    let mount = format!("file://{}::in:ro", store.path().display());
    let read = cloud_probe(
        std::slice::from_ref(&mount),
        &["read", "in/kept.txt"],
        |_| {},
    );
    assert_eq!(read.success(), "original");
    for path in ["in/new.txt", "in/kept.txt"] {
        let ran = cloud_probe(
            std::slice::from_ref(&mount),
            &["write", path, "changed"],
            |_| {},
        );
        assert_ne!(ran.code, 0, "a write to {path} succeeded: {ran:#?}");
        assert!(ran.stderr.contains("Operation not permitted"), "{ran:#?}");
    }
    assert!(!store.path().join("new.txt").exists());
    assert_eq!(
        fs::read_to_string(store.path().join("kept.txt")).unwrap(),
        "original"
    );
}

#[test]
fn files_left_open_are_stored_when_the_guest_exits() {
    let store = tempfile::tempdir().unwrap();
    let mount = format!("file://{}", store.path().display());
    let ran = cloud_probe(&[mount], &["leak", "left-open.txt", "still stored"], |_| {});
    assert_eq!(ran.code, 0, "{ran:#?}");
    assert_eq!(
        fs::read_to_string(store.path().join("left-open.txt")).unwrap(),
        "still stored"
    );
}

#[test]
fn bad_mounts_are_refused_before_the_guest_runs() {
    let wasm = probe(Target::P2);
    let run = |args: &[&str]| -> Ran {
        let mut command = host();
        command
            .arg("run")
            .args(args)
            .arg(&wasm)
            .args(["write", "x.txt", "x"]);
        command.env_remove("AWS_ENDPOINT");
        command.output().unwrap().into()
    };
    run(&["--world", "cloud", "--mount", "ftp://host/x"])
        .refused_with(&["ftp://host/x", "unknown scheme"]);
    run(&["--world", "cloud", "--mount", "s3:///x"]).refused_with(&["names no bucket"]);
    run(&["--world", "cloud", "--mount", "https://127.0.0.1:1/x"])
        .refused_with(&["read-only", ":ro"]);
    run(&["--world", "cloud", "--dir", "/tmp"]).refused_with(&["--dir", "--mount file://"]);
    run(&["--mount", "memory:"]).refused_with(&["`--mount` serves the `cloud` world"]);

    // A store that does not answer: a closed port on 127.0.0.1.
    let closed_port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let started = Instant::now();
    let ran: Ran = host()
        .args(["run", "--world", "cloud", "--mount", "s3://bucket/p"])
        .arg(&wasm)
        .args(["write", "x.txt", "x"])
        .env("AWS_ENDPOINT", format!("http://127.0.0.1:{closed_port}"))
        .env("AWS_ALLOW_HTTP", "true")
        .env("AWS_ACCESS_KEY_ID", "k")
        .env("AWS_SECRET_ACCESS_KEY", "s")
        .env("AWS_REGION", "us-east-1")
        .output()
        .unwrap()
        .into();
    ran.refused_with(&["s3://bucket/p", "does not answer"]);
    assert!(!ran.stdout.contains("wrote"), "the guest ran");
    assert!(
        started.elapsed() < Duration::from_secs(60),
        "gave up only after {:?}",
        started.elapsed()
    );
}

#[test]
fn an_s3_mount_never_leaves_its_prefix() {
    let server = S3Server::start();
    let store = s3_store(&server, false);
    let rt = runtime();
    for key in ["outside.txt", "inner-sibling/x.txt", "inner/inside.txt"] {
        rt.block_on(store.put(&Key::from(key), key.as_bytes().to_vec().into()))
            .unwrap();
    }
    let mount = server.url("inner");
    let with_env = |command: &mut Command| {
        server.set_env(command);
    };
    let listed = cloud_probe(std::slice::from_ref(&mount), &["ls", "."], with_env);
    assert_eq!(listed.success(), "inside.txt\n");
    for escape in [
        "../outside.txt",
        "../inner-sibling/x.txt",
        "sub/../../outside.txt",
    ] {
        let ran = cloud_probe(std::slice::from_ref(&mount), &["read", escape], with_env);
        assert_ne!(ran.code, 0, "{escape} was read: {ran:#?}");
        let ran = cloud_probe(
            std::slice::from_ref(&mount),
            &["write", escape, "overwritten"],
            with_env,
        );
        assert_ne!(ran.code, 0, "{escape} was written: {ran:#?}");
    }
    // wasi-libc resolves an absolute path against the preopen at `.`: it lands inside.
    let ran = cloud_probe(
        std::slice::from_ref(&mount),
        &["write", "/outside.txt", "inside"],
        with_env,
    );
    assert_eq!(ran.code, 0, "{ran:#?}");
    let inside = rt.block_on(async {
        store
            .get(&Key::from("inner/outside.txt"))
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap()
    });
    assert_eq!(&inside[..], b"inside");
    for key in ["outside.txt", "inner-sibling/x.txt"] {
        let bytes = rt.block_on(async {
            store
                .get(&Key::from(key))
                .await
                .unwrap()
                .bytes()
                .await
                .unwrap()
        });
        assert_eq!(&bytes[..], key.as_bytes(), "{key} was changed");
    }
}

/// The image example's outputs in `dir` (a host directory): the five PNGs, with their sizes.
fn check_image_outputs(read: impl Fn(&str) -> Vec<u8>) {
    for (name, size) in [
        ("original.png", (360, 200)),
        ("shrunk.png", (300, 200)),
        ("annotated.png", (360, 200)),
        ("gradients.png", (360, 200)),
        ("annotated_gradients.png", (360, 200)),
    ] {
        assert_eq!(png_size(&read(name)), size, "{name}");
    }
}

#[test]
fn the_image_example_runs_unchanged_on_a_local_store() {
    let store = tempfile::tempdir().unwrap();
    fs::create_dir(store.path().join("inputs")).unwrap();
    fs::copy(
        repo_root().join("examples/image-resize/inputs/landscape.png"),
        store.path().join("inputs/landscape.png"),
    )
    .unwrap();
    let mut command = host();
    command
        .args(["run", "--world", "cloud", "--mount"])
        .arg(format!("file://{}", store.path().display()))
        .arg(guest(EXAMPLES, "image-resize", Target::P2));
    let ran: Ran = command.output().unwrap().into();
    assert!(ran.success().contains("360x200 -> 300x200"), "{ran:#?}");
    check_image_outputs(|name| fs::read(store.path().join("outputs").join(name)).unwrap());
}

#[test]
fn the_image_example_reads_and_writes_a_bucket() {
    let server = S3Server::start();
    let store = s3_store(&server, false);
    let rt = runtime();
    let input = fs::read(repo_root().join("examples/image-resize/inputs/landscape.png")).unwrap();
    rt.block_on(store.put(&Key::from("job-1/inputs/landscape.png"), input.into()))
        .unwrap();
    for target in Target::BOTH {
        let mut command = host();
        command
            .args(["run", "--world", "cloud", "--mount", &server.url("job-1")])
            .arg(guest(EXAMPLES, "image-resize", target));
        server.set_env(&mut command);
        let ran: Ran = command.output().unwrap().into();
        assert!(
            ran.success().contains("360x200 -> 300x200"),
            "{target:?}: {ran:#?}"
        );
        check_image_outputs(|name| {
            let key = Key::from(format!("job-1/outputs/{name}"));
            rt.block_on(async {
                store
                    .get(&key)
                    .await
                    .unwrap()
                    .bytes()
                    .await
                    .unwrap()
                    .to_vec()
            })
        });
    }
}

/// The store goes away while the guest has a file staged: the guest's close fails, the host
/// exits non-zero naming the file, and no object, partial or whole, appears.
#[test]
fn a_store_lost_mid_write_fails_the_run_and_stores_nothing() {
    let server = S3Server::start();
    let proxy = Proxy::start(server.endpoint.trim_start_matches("http://"));
    let mut command = host();
    command
        .args(["run", "--world", "cloud", "--mount", &server.url("job")])
        .arg(probe(Target::P2))
        .args(["write-wait", "result.bin", "20000000"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    server.set_env(&mut command);
    command.env("AWS_ENDPOINT", &proxy.endpoint);
    let mut child = command.spawn().unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    stdout.read_line(&mut line).unwrap();
    assert_eq!(line, "written\n");

    let store = s3_store(&server, false);
    let rt = runtime();
    let listed = |store: &dyn object_store::ObjectStore| {
        rt.block_on(async {
            use futures::TryStreamExt;
            store.list(None).try_collect::<Vec<_>>().await.unwrap()
        })
    };
    assert!(
        listed(&store).is_empty(),
        "staged content was visible before close"
    );

    proxy.cut();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"close now\n")
        .unwrap();
    let started = Instant::now();
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_ne!(output.status.code(), Some(0), "the run succeeded: {stderr}");
    assert!(stderr.contains("closing `result.bin` failed"), "{stderr}");
    assert!(stderr.contains(&server.url("job")), "{stderr}");
    assert!(
        started.elapsed() < Duration::from_secs(90),
        "took {:?}",
        started.elapsed()
    );
    assert!(
        listed(&store).is_empty(),
        "a partial object is visible after the failure"
    );
}

/// On a local store a large write is staged beside its target, out of every listing, and
/// committed by a rename: while open nobody sees it, after close it is there whole, and
/// nothing else is left.
#[test]
fn a_large_local_write_is_invisible_until_closed_then_whole() {
    let store = tempfile::tempdir().unwrap();
    let mount = format!("file://{}", store.path().display());
    let mut child = host()
        .args(["run", "--world", "cloud", "--mount", &mount])
        .arg(probe(Target::P2))
        .args(["write-wait", "big.bin", "20000000"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    stdout.read_line(&mut line).unwrap();
    assert_eq!(line, "written\n");
    let listed = cloud_probe(std::slice::from_ref(&mount), &["ls", "."], |_| {});
    assert_eq!(listed.success(), "", "a staged file was listed");
    assert!(!store.path().join("big.bin").exists());

    child.stdin.take().unwrap().write_all(b"close\n").unwrap();
    assert!(child.wait().unwrap().success());
    assert_eq!(
        fs::metadata(store.path().join("big.bin")).unwrap().len(),
        20_000_000
    );
    let names: Vec<_> = fs::read_dir(store.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, ["big.bin"], "staging files left behind");
}

/// A handle that syncs a large staged file on a local store goes on writing, and the object
/// ends whole; readers meanwhile saw the synced content.
#[test]
fn a_synced_large_local_file_goes_on_being_written() {
    let store = tempfile::tempdir().unwrap();
    let mount = format!("file://{}", store.path().display());
    let ran = cloud_probe(&[mount], &["write-sync", "big.bin", "10"], |_| {});
    assert_eq!(ran.success(), "wrote 20 MiB\n");
    let bytes = fs::read(store.path().join("big.bin")).unwrap();
    assert_eq!(bytes.len(), 20 << 20);
    assert!(
        bytes[..10 << 20].iter().all(|b| *b == b'a')
            && bytes[10 << 20..].iter().all(|b| *b == b'b')
    );
    let names: Vec<_> = fs::read_dir(store.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, ["big.bin"], "staging files left behind");
}
