//! `wasi:blobstore@0.2.0-draft` in the cloud world, used by a wasmCloud-style copier built from
//! the upstream WIT alone (`tests/guests/blobstore-copier`), run unchanged on every backend:
//! containers are mounts named by guest path, objects are their files, values are streamed.

use std::path::PathBuf;
use std::process::Command;

use crate::support::harness::{Ran, RunExt, TEST_GUESTS, Target, file_url, guest, host, run_host};
use crate::support::per_backend;
use crate::support::stores::{Backend, StoreServer};

fn copier() -> PathBuf {
    guest(TEST_GUESTS, "blobstore-copier", Target::P2)
}

/// The guest's memory limit in these runs; the large object is larger, so only streaming can
/// copy it (and `incoming-value-consume-sync` must refuse it).
const MEMORY: &str = "24MiB";
const LARGE: usize = 40 << 20;

/// A large object's content: not one repeated byte, so a misplaced chunk shows.
fn large() -> Vec<u8> {
    (0..LARGE).map(|i| (i % 251) as u8).collect()
}

/// `host run --world cloud --mount A::/a --mount B::/b copier STEPS...`.
fn copier_run(a: &str, b: &str, steps: &[&str], configure: impl FnOnce(&mut Command)) -> Ran {
    let mut command = host();
    command
        .args(["run", "--world", "cloud", "--max-memory", MEMORY])
        .args([
            "--mount",
            &format!("{a}::/a"),
            "--mount",
            &format!("{b}::/b"),
        ])
        .arg(copier())
        .args(steps);
    configure(&mut command);
    command.ran()
}

/// The copier's transcript over containers `/a` (holding `one.txt`, `dir/two.txt` and
/// `big.bin`) and an empty `/b`: every object copied streamed, listed, one deleted.
const COPY_STEPS: &[&str] = &[
    "copy:/a:/b",
    "list:/b",
    "delete:/b:one.txt",
    "list:/b",
    "cat:/b:dir/two.txt",
    "range:/b:dir/two.txt:1:3",
    "cat:/b:big.bin",
];

fn assert_copied(ran: &Ran) {
    let text = ran.success();
    let mut copied: Vec<_> = text.lines().filter(|l| l.starts_with("copied ")).collect();
    copied.sort();
    assert_eq!(
        copied,
        [
            format!("copied big.bin ({LARGE} bytes)").as_str(),
            "copied dir/two.txt (5 bytes)",
            "copied one.txt (5 bytes)"
        ],
        "{ran:#?}"
    );
    let rest: Vec<_> = text.lines().filter(|l| !l.starts_with("copied ")).collect();
    assert_eq!(
        rest[..rest.len().saturating_sub(1)],
        [
            format!("big.bin {LARGE}").as_str(),
            "dir/two.txt 5",
            "one.txt 5",
            format!("big.bin {LARGE}").as_str(),
            "dir/two.txt 5",
            "world",
            "orl",
        ],
        "{ran:#?}"
    );
    // A value larger than the guest's memory is refused whole, with why and what to use.
    let refusal = text.lines().last().unwrap_or_default();
    assert!(
        refusal.starts_with("cat:/b:big.bin failed:")
            && refusal.contains("the guest's memory limit")
            && refusal.contains("incoming-value-consume-async"),
        "{text}"
    );
}

#[test]
fn the_copier_copies_a_local_container_streamed() {
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    std::fs::create_dir(a.path().join("dir")).unwrap();
    std::fs::write(a.path().join("one.txt"), "hello").unwrap();
    std::fs::write(a.path().join("dir/two.txt"), "world").unwrap();
    std::fs::write(a.path().join("big.bin"), large()).unwrap();
    let ran = copier_run(&file_url(a.path()), &file_url(b.path()), COPY_STEPS, |_| {});
    assert_copied(&ran);
    // The objects are the files the other world sees, byte for byte.
    assert!(std::fs::read(b.path().join("big.bin")).unwrap() == large());
    assert_eq!(
        std::fs::read(b.path().join("dir/two.txt")).unwrap(),
        b"world"
    );
    assert!(!b.path().join("one.txt").exists(), "deleted");
    assert_eq!(std::fs::read(a.path().join("one.txt")).unwrap(), b"hello");
}

/// On in-memory stores the objects are written by the guest first, in the same run (the
/// body written before `write-data`, as small values often are).
#[test]
fn the_copier_runs_on_memory_stores() {
    let steps = [
        "put:/a:one.txt:hello",
        "put:/a:dir/two.txt:world",
        "copy:/a:/b",
        "list:/b",
        "delete:/b:one.txt",
        "list:/b",
        "cat:/b:dir/two.txt",
        "move:/b:dir/two.txt:/a:moved.txt",
        "list:/a",
        "list:/b",
    ];
    let ran = copier_run("memory:", "memory:", &steps, |_| {});
    let mut lines: Vec<_> = ran.success().lines().collect();
    lines[..2].sort();
    assert_eq!(
        lines,
        [
            "copied dir/two.txt (5 bytes)",
            "copied one.txt (5 bytes)",
            "dir/two.txt 5",
            "one.txt 5",
            "dir/two.txt 5",
            "world",
            "dir/two.txt 5",
            "moved.txt 5",
            "one.txt 5",
        ],
        "{ran:#?}"
    );
}

per_backend! {
    /// The same copier, unchanged, between two prefixes of one bucket.
    fn the_copier_runs_on(backend: Backend) {
        let server = StoreServer::start(backend);
        let objects = server.objects();
        objects.put("a/one.txt", "hello");
        objects.put("a/dir/two.txt", "world");
        objects.put("a/big.bin", large());
        objects.put("outside.txt", "not in a container");
        let ran = copier_run(&server.url("a"), &server.url("b"), COPY_STEPS, |command| {
            server.set_env(command);
        });
        assert_copied(&ran);
        assert!(objects.get("b/big.bin") == large());
        assert_eq!(objects.text("b/dir/two.txt"), "world");
        let mut keys = objects.keys(Some("b"));
        keys.retain(|key| !key.contains(".worldhost"));
        assert_eq!(keys, ["b/big.bin", "b/dir/two.txt"]);
    }
}

/// Containers are configured: unknown names, creation and deletion are errors the guest reads,
/// and a read-only mount or a reserved name refuses a write, as for files.
#[test]
fn containers_are_the_runs_mounts() {
    let data = tempfile::tempdir().unwrap();
    std::fs::write(data.path().join("kept.txt"), "kept").unwrap();
    let steps = [
        "exists:/a",
        "exists:/nope",
        "list:/nope",
        "create:/a",
        "create:/nope",
        "drop:/ro",
        "put:/ro:new.txt:x",
        "put:/a:.worldhost-dir:x",
        "put:/a:../x:x",
        "list:/ro",
    ];
    let mut command = host();
    command
        .args(["run", "--world", "cloud", "--mount", "memory:::/a"])
        .args(["--mount", &format!("{}::/ro:ro", file_url(data.path()))])
        .arg(copier())
        .args(steps);
    let ran = command.ran();
    let lines: Vec<_> = ran.success().lines().collect();
    let expect = [
        "true",
        "false",
        "list:/nope failed: no container `/nope`: a container is one of the run's mounts, named \
         by its guest path (this run has `.`, `/a`, `/ro`)",
        "create:/a failed: container `/a` already exists",
        "create:/nope failed: cannot create container `/nope`",
        "drop:/ro failed: cannot delete container `/ro`",
        "put:/ro:new.txt:x failed: object `new.txt` in container `/ro`: not permitted",
        "put:/a:.worldhost-dir:x failed: object name `.worldhost-dir` is reserved",
        "put:/a:../x:x failed: object name `../x` is not a key",
        "kept.txt 4",
    ];
    assert_eq!(lines.len(), expect.len(), "{ran:#?}");
    for (line, expected) in lines.iter().zip(expect) {
        assert!(line.starts_with(expected), "{line:?} is not {expected:?}");
    }
    assert_eq!(
        std::fs::read_dir(data.path()).unwrap().count(),
        1,
        "nothing written"
    );
}

#[test]
fn inspect_and_worlds_show_name_wasi_blobstore() {
    let report = run_host(["inspect".as_ref(), copier().as_os_str()]);
    let text = report.success();
    assert!(text.contains("cloud: can run"), "{text}");
    // The cli world lacks exactly the three blobstore interfaces.
    assert!(
        text.contains(
            "cli: cannot run: missing wasi:blobstore/types@0.2.0-draft, \
             wasi:blobstore/container@0.2.0-draft, wasi:blobstore/blobstore@0.2.0-draft\n"
        ),
        "{text}"
    );
    let shown = run_host(["worlds", "show", "cloud"]);
    assert!(
        shown
            .success()
            .contains("import wasi:blobstore/blobstore@0.2.0-draft;"),
        "{shown:#?}"
    );
}

/// A hostile guest's numbers are bounded per run: at most 16 listings open at once, and
/// what values stage before `write-data` is held to the guest's memory limit for all of
/// them together (not for each), so temporary disk stays bounded.
#[test]
fn open_listings_and_staged_values_are_bounded_per_run() {
    let ran = copier_run("memory:", "memory:", &["listings:/a:20"], |_| {});
    assert_eq!(
        ran.success(),
        "opened 16\nlistings:/a:20 failed: a run may have 16 object listings open at once: drop \
         one (its stream-object-names) before starting another\n"
    );
    // 24 MiB of memory: two values of 10 MiB stage, the third is refused.
    let ran = copier_run("memory:", "memory:", &["stage:3:10485760"], |_| {});
    let out = ran.success();
    assert!(
        out.starts_with("staged 2\nstage:3:10485760 failed: "),
        "{ran:#?}"
    );
    assert!(
        out.contains("for all values, the guest's memory limit"),
        "{ran:#?}"
    );
}
