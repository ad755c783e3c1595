//! The `cloud` world: the same guests, their files served from object stores.
//!
//! The conformance guest's transcript (its wasm32-wasip1 and wasm32-wasip2 builds alike) must be
//! the cli world's on every backend, apart from the documented differences
//! (`support/conformance.rs`).

use std::fs;
use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::conformance::{assert_conforms, cli_run, conformance};
use crate::support::harness::{
    EXAMPLES, Ran, RunExt, Target, file_url, guest, host, probe, probe_command, repo_root,
};
use crate::support::images;
use crate::support::per_backend;
use crate::support::proxy::Proxy;
use crate::support::stores::{Backend, StoreServer};

/// `--world cloud` and a `--mount` for each of `mounts`.
fn cloud_args(mounts: &[String]) -> Vec<String> {
    let mut args = vec!["--world".to_owned(), "cloud".to_owned()];
    for mount in mounts {
        args.extend(["--mount".to_owned(), mount.clone()]);
    }
    args
}

/// The cloud world's mounts for the conformance guest: `data` on `store` (a URL), and an empty
/// in-memory store at `.`, as the cli world's reference run has an empty directory there.
pub(crate) fn conformance_args(store: &str) -> Vec<String> {
    cloud_args(&[format!("{store}::data"), "memory:::.".into()])
}

fn conformance_on_memory(target: Target) {
    let ran = conformance(target, &conformance_args("memory:"), |_| {});
    assert_conforms("memory:", target, &ran);
}

fn conformance_on_a_local_directory(target: Target) {
    let store = tempfile::tempdir().unwrap();
    let ran = conformance(target, &conformance_args(&file_url(store.path())), |_| {});
    assert_conforms("file://", target, &ran);
    assert_eq!(
        fs::read_dir(store.path()).unwrap().count(),
        0,
        "the guest cleaned up after itself"
    );
}

fn conformance_on_a_server(backend: Backend, target: Target) {
    let server = StoreServer::start(backend);
    let ran = conformance(
        target,
        &conformance_args(&server.url("conformance")),
        |command| {
            server.set_env(command);
        },
    );
    assert_conforms(&format!("{}://", backend.scheme()), target, &ran);
}

#[test]
fn conformance_on_the_memory_store() {
    conformance_on_memory(Target::P2);
}

#[test]
fn conformance_on_the_memory_store_wasip1() {
    conformance_on_memory(Target::P1);
}

#[test]
fn conformance_on_a_local_directory_store() {
    conformance_on_a_local_directory(Target::P2);
}

#[test]
fn conformance_on_a_local_directory_store_wasip1() {
    conformance_on_a_local_directory(Target::P1);
}

per_backend! {
    fn conformance_on(backend: Backend) {
        conformance_on_a_server(backend, Target::P2);
    }
}

per_backend! {
    fn conformance_wasip1_on(backend: Backend) {
        conformance_on_a_server(backend, Target::P1);
    }
}

/// Runs the probe in the cloud world with `mounts` and `probe_args`.
fn cloud_probe(
    mounts: &[String],
    probe_args: &[&str],
    configure: impl FnOnce(&mut Command),
) -> Ran {
    let mut command = probe_command(&cloud_args(mounts), probe_args);
    configure(&mut command);
    command.ran()
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
    let mount = format!("{}::in:ro", file_url(store.path()));
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

/// An `http://` mount serves what a web server has, and a file it does not have is "no such
/// file", as on a directory (issue 11, item 5). The web server: fake-gcs-server, whose objects
/// are plain unsigned GETs at `/BUCKET/KEY`, with ranges (Python's `http.server` has none, and
/// the cloud world reads by range).
#[test]
fn an_http_mount_reads_files_and_misses_are_no_entry() {
    let server = StoreServer::start(Backend::Gcs);
    server.objects().put("sub/page.txt", "served");
    let mount = [format!(
        "http://{}/{}/sub::web:ro",
        server.address(),
        server.bucket
    )];
    let read = cloud_probe(&mount, &["read", "web/page.txt"], |_| {});
    assert_eq!(read.success(), "served");
    for missing in ["web/missing.txt", "web/no/such/file.txt"] {
        let ran = cloud_probe(&mount, &["read", missing], |_| {});
        assert_ne!(ran.code, 0, "{ran:#?}");
        assert!(
            ran.stderr.contains("No such file or directory"),
            "{missing}: {ran:#?}"
        );
    }
}

#[test]
fn files_left_open_are_stored_when_the_guest_exits() {
    let store = tempfile::tempdir().unwrap();
    let mount = file_url(store.path());
    let ran = cloud_probe(&[mount], &["leak", "left-open.txt", "still stored"], |_| {});
    assert_eq!(ran.code, 0, "{ran:#?}");
    assert_eq!(
        fs::read_to_string(store.path().join("left-open.txt")).unwrap(),
        "still stored"
    );
}

#[test]
fn bad_mounts_are_refused_before_the_guest_runs() {
    let run = |args: &[&str]| -> Ran {
        probe_command(args, &["write", "x.txt", "x"])
            .env_remove("AWS_ENDPOINT")
            .ran()
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
    let ran = probe_command(
        &["--world", "cloud", "--mount", "s3://bucket/p"],
        &["write", "x.txt", "x"],
    )
    .env("AWS_ENDPOINT", format!("http://127.0.0.1:{closed_port}"))
    .env("AWS_ALLOW_HTTP", "true")
    .env("AWS_ACCESS_KEY_ID", "k")
    .env("AWS_SECRET_ACCESS_KEY", "s")
    .env("AWS_REGION", "us-east-1")
    .ran();
    ran.refused_with(&["s3://bucket/p", "does not answer"]);
    assert!(!ran.stdout.contains("wrote"), "the guest ran");
    assert!(
        started.elapsed() < Duration::from_secs(60),
        "gave up only after {:?}",
        started.elapsed()
    );
}

per_backend! {
    fn a_mount_never_leaves_its_prefix(backend: Backend) {
        let server = StoreServer::start(backend);
        let objects = server.objects();
        for key in ["outside.txt", "inner-sibling/x.txt", "inner/inside.txt"] {
            objects.put(key, key);
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
        assert_eq!(objects.get("inner/outside.txt"), b"inside");
        for key in ["outside.txt", "inner-sibling/x.txt"] {
            assert_eq!(objects.get(key), key.as_bytes(), "{key} was changed");
        }
    }
}

/// On S3 the run asks the store only what it does not know: in a directory it made, a new
/// file needs no lookup, and a file it stored needs none to be checked or opened. Writing,
/// checking, reading and removing 20 small files takes one request a file for each step
/// that moves or removes data (a PUT, a GET, a delete), as a plain S3 client would, and no
/// HEAD (before: 102 HEADs and 24 listings for 20 files; now at most 1 and 3).
#[test]
fn s3_small_files_take_one_request_each_and_no_head() {
    // Written, listed, stat'ed, read back and removed in one run: a PUT and a delete each;
    // the reads need no GET (the run keeps what it stored of small files, and the listing's
    // entity tags say the objects are still the ones it stored).
    const FILES: usize = 20;
    let server = StoreServer::start(Backend::S3);
    let before = server.requests().len();
    let mount = [format!("{}::data", server.url("p"))];
    let files = FILES.to_string();
    let ran = cloud_probe(&mount, &["small-files", "data/d", &files], |command| {
        server.set_env(command);
    });
    assert_eq!(
        ran.success(),
        format!("{FILES} files written, listed, checked, read and removed\n")
    );
    let requests = server.requests().split_off(before);
    let count = |method: &str, listing: bool| {
        let method = format!("\"{method} ");
        let is_listing = |line: &String| line.contains("list-type=2") || line.contains("?prefix");
        requests
            .iter()
            .filter(|line| line.starts_with(&method) && is_listing(line) == listing)
            .count()
    };
    let summary = format!("{requests:#?}");
    // The files, and the directory's marker.
    assert_eq!(count("PUT", false), FILES + 1, "{summary}");
    assert_eq!(count("GET", false), 0, "{summary}");
    // object_store deletes with S3's DeleteObjects (`POST ?delete`), one key each.
    let deletes = requests
        .iter()
        .filter(|line| line.starts_with("\"POST ") && line.contains("?delete"));
    assert_eq!(deletes.count(), FILES + 1, "{summary}");
    // Only `mkdir` asks whether `d` exists (one HEAD); the mount's check and the emptiness
    // checks of `mkdir` and `rmdir` list one key each, and the guest lists `d` once.
    assert!(count("HEAD", false) <= 1, "{summary}");
    assert!(count("GET", true) <= 4, "{summary}");
}

per_backend! {
    /// A directory of more objects than one listing request returns (1,000) is listed a page
    /// at a time, each page's keys below the mount's prefix: every entry once, nothing from
    /// beside the directory.
    reads fn a_directory_larger_than_a_page_lists_whole(backend: Backend) {
        const FILES: usize = 1_010;
        let server = StoreServer::start(backend);
        let objects = server.objects();
        for i in 0..FILES {
            objects.put(&format!("in/many/f{i:04}"), "x");
        }
        for key in ["in/many/sub/inner", "in/manyx", "in/many.txt"] {
            objects.put(key, "x");
        }
        let mount = [format!("{}::data:ro", server.url("in"))];
        let listed = cloud_probe(&mount, &["ls", "data/many"], |command| {
            server.set_env(command);
        });
        let mut expected: Vec<String> = (0..FILES).map(|i| format!("f{i:04}\n")).collect();
        expected.push("sub\n".to_owned());
        assert_eq!(listed.success(), expected.concat());
    }
}

per_backend! {
    /// A bucket mounted read-only: the guest lists and reads what another tool stored there,
    /// nothing outside the mount's prefix shows, a missing file is "no such file", and a
    /// write is refused. (The one cloud world test GCS runs whole: see `Backend::takes_writes`.)
    reads fn a_read_only_mount_serves_a_bucket(backend: Backend) {
        let server = StoreServer::start(backend);
        let objects = server.objects();
        for key in ["outside.txt", "in/a.txt", "in/sub/b.txt"] {
            objects.put(key, key);
        }
        let mount = [format!("{}::data:ro", server.url("in"))];
        let probe = |args: &[&str]| {
            cloud_probe(&mount, args, |command| {
                server.set_env(command);
            })
        };
        assert_eq!(probe(&["ls", "data"]).success(), "a.txt\nsub\n");
        assert_eq!(probe(&["ls", "data/sub"]).success(), "b.txt\n");
        assert_eq!(probe(&["read", "data/sub/b.txt"]).success(), "in/sub/b.txt");
        let missing = probe(&["read", "data/missing.txt"]);
        assert_ne!(missing.code, 0, "{missing:#?}");
        assert!(
            missing.stderr.contains("No such file or directory"),
            "{missing:#?}"
        );
        let write = probe(&["write", "data/new.txt", "x"]);
        assert!(
            write.stderr.contains("Operation not permitted"),
            "{write:#?}"
        );
        assert_eq!(objects.keys(None), ["in/a.txt", "in/sub/b.txt", "outside.txt"]);
    }
}

#[test]
fn the_image_example_runs_unchanged_on_a_local_store() {
    let store = images::store_with_input();
    let ran = host()
        .args(["run", "--world", "cloud", "--mount"])
        .arg(file_url(store.path()))
        .arg(guest(EXAMPLES, "image-resize", Target::P2))
        .ran();
    assert!(ran.success().contains("360x200 -> 300x200"), "{ran:#?}");
    images::check_outputs(|name| fs::read(store.path().join("outputs").join(name)).unwrap());
}

per_backend! {
    fn the_image_example_reads_and_writes_a_bucket(backend: Backend) {
        let server = StoreServer::start(backend);
        let objects = server.objects();
        objects.put(
            "job-1/inputs/landscape.png",
            fs::read(images::landscape()).unwrap(),
        );
        for target in Target::BOTH {
            let mut command = host();
            command
                .args(["run", "--world", "cloud", "--mount", &server.url("job-1")])
                .arg(guest(EXAMPLES, "image-resize", target));
            let ran = server.set_env(&mut command).ran();
            assert!(
                ran.success().contains("360x200 -> 300x200"),
                "{target:?}: {ran:#?}"
            );
            images::check_outputs(|name| objects.get(&format!("job-1/outputs/{name}")));
        }
    }
}

per_backend! {
    /// The store goes away while the guest has a file staged: the guest's close fails, the
    /// host exits non-zero naming the file, and no object, partial or whole, appears.
    fn a_store_lost_mid_write_fails_the_run_and_stores_nothing(backend: Backend) {
        let server = StoreServer::start(backend);
        let proxy = Proxy::start(&server.address());
        let mut command = host();
        command
            .args(["run", "--world", "cloud", "--mount", &server.url("job")])
            .arg(probe(Target::P2))
            .args(["write-wait", "result.bin", "20000000"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        server.set_env_via(&mut command, &proxy.endpoint);
        let mut child = command.spawn().unwrap();
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        stdout.read_line(&mut line).unwrap();
        assert_eq!(line, "written\n");

        let objects = server.objects();
        assert_eq!(
            objects.keys(None),
            Vec::<String>::new(),
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
        assert_eq!(
            objects.keys(None),
            Vec::<String>::new(),
            "a partial object is visible after the failure"
        );
    }
}

/// On a local store a large write is staged beside its target, out of every listing, and
/// committed by a rename: while open nobody sees it, after close it is there whole, and
/// nothing else is left.
#[test]
fn a_large_local_write_is_invisible_until_closed_then_whole() {
    let store = tempfile::tempdir().unwrap();
    let mount = file_url(store.path());
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
    let mount = file_url(store.path());
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

/// `worlds/cloud/README.md`'s table of error codes for odd paths is what the conformance guest's
/// `p2-path-CASE-OPERATION` lines say in the cli world and in the cloud world (on memory): each
/// cell is one value for both, or `cli: A; cloud: B`.
#[test]
fn the_readme_error_table_is_the_transcripts() {
    let readme = fs::read_to_string(repo_root().join("worlds/cloud/README.md")).unwrap();
    let table = readme
        .split("<!-- error-table: begin -->")
        .nth(1)
        .and_then(|rest| rest.split("<!-- error-table: end -->").next())
        .expect("the README's error table has its markers");
    let values = |ran: &Ran| -> std::collections::HashMap<String, String> {
        ran.stdout
            .lines()
            .filter_map(|line| line.split_once(": "))
            .map(|(id, value)| (id.to_owned(), value.trim_start_matches("error ").to_owned()))
            .collect()
    };
    let cli = values(cli_run(Target::P2));
    let cloud = values(&conformance(
        Target::P2,
        &conformance_args("memory:"),
        |_| {},
    ));
    let mut rows = table.lines().filter(|line| line.starts_with('|'));
    let header: Vec<&str> = rows.next().unwrap().split('|').map(str::trim).collect();
    let operations = &header[3..header.len() - 1];
    let mut checked = 0;
    for row in rows.skip(1) {
        let cells: Vec<&str> = row.split('|').map(str::trim).collect();
        let case = cells[1];
        for (operation, cell) in operations.iter().zip(&cells[3..]) {
            let id = format!("p2-path-{case}-{operation}");
            let (cli_value, cloud_value) = match cell.split_once("; cloud: ") {
                Some((cli_part, cloud_part)) => (cli_part.trim_start_matches("cli: "), cloud_part),
                None => (*cell, *cell),
            };
            assert_eq!(
                cli.get(&id).map(String::as_str),
                Some(cli_value),
                "cli world, {id}"
            );
            assert_eq!(
                cloud.get(&id).map(String::as_str),
                Some(cloud_value),
                "cloud world, {id}"
            );
            checked += 1;
        }
    }
    assert_eq!(
        checked, 48,
        "every case and operation of the table was checked"
    );
}

/// S3 and GCS consoles make a "folder" as a zero-byte `dir/` key: a directory to the guest, never
/// a file inside itself, and a directory rename moves what lies below it.
#[test]
fn console_folder_placeholders_are_directories() {
    let server = StoreServer::start(Backend::S3);
    server.put_folder_placeholder("photos");
    server.put_folder_placeholder("empty");
    server.objects().put("photos/a.jpg", "jpeg");
    let mount = format!("{}::data", server.url(""));
    let run = |args: &[&str]| {
        let mut command = probe_command(&["--world", "cloud", "--mount", mount.as_str()], args);
        server.set_env(&mut command);
        command.ran()
    };
    assert_eq!(run(&["ls", "data"]).success(), "empty\nphotos\n");
    assert_eq!(run(&["ls", "data/photos"]).success(), "a.jpg\n");
    assert_eq!(run(&["ls", "data/empty"]).success(), "");
    assert_eq!(run(&["stat", "data/empty"]).success(), "dir\n");
    assert_eq!(
        run(&["mv", "data/photos", "data/pictures"]).success(),
        "moved data/photos to data/pictures\n"
    );
    assert_eq!(run(&["ls", "data/pictures"]).success(), "a.jpg\n");
    assert_eq!(server.objects().text("pictures/a.jpg"), "jpeg");
}

/// `WORLDHOST_LOG=trace` shows every filesystem call, those answered without a future too
/// (`worlds/cloud/src/p2/ready_calls.rs` and `stream_reads.rs` define them over the
/// bindings', which trace each call).
#[test]
fn trace_logging_shows_calls_answered_on_the_spot() {
    let store = tempfile::tempdir().unwrap();
    fs::write(store.path().join("hello.txt"), "hi").unwrap();
    let mount = file_url(store.path());
    let ran = cloud_probe(&[mount], &["read", "hello.txt"], |command| {
        command.env("WORLDHOST_LOG", "trace");
    });
    assert_eq!(ran.success(), "hi");
    ran.traced("[method]descriptor.open-at");
    ran.traced("[method]descriptor.stat");
    ran.traced("[method]input-stream.blocking-read");
    // A stream read's bytes are shown by their count.
    assert!(
        ran.stderr.contains("return result=Ok(Ok(2))"),
        "{}",
        ran.stderr
    );
}
