//! `wasi:keyvalue@0.2.0-draft` in the cloud world: a key-value counter written as a Spin
//! plugin author writes one (`tests/guests/kv-counter`, bindings from the upstream WIT alone),
//! run unchanged on buckets of every kind the world file can name: `memory:`, `file://`, and
//! S3 (moto) and Azure (Azurite) prefixes. Two runs counting one key at once lose no update.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::support::harness::{
    Ran, RunExt, TEST_GUESTS, Target, assert_stopped, file_url, guest, host, run_host, world_file,
};
use crate::support::per_backend;
use crate::support::stores::{Backend, StoreServer};

fn kv_counter() -> PathBuf {
    guest(TEST_GUESTS, "kv-counter", Target::P2)
}

/// A cloud world whose buckets are `buckets` (`NAME = "URL"` lines).
fn world(buckets: &[(&str, &str)]) -> String {
    let mut text = "base = \"cloud\"\n[[mount]]\nguest = \".\"\nstore = \"memory:\"\n\
                    [keyvalue.buckets]\n"
        .to_owned();
    for (name, url) in buckets {
        text.push_str(&format!("{name} = \"{url}\"\n"));
    }
    text
}

/// `host run --world WORLD [FLAGS...] kv-counter.wasm STEPS...`.
fn counter(world: &str, flags: &[&str], steps: &[&str]) -> Command {
    let mut command = host();
    command
        .args(["run", "--world", world])
        .args(flags)
        .arg(kv_counter())
        .args(steps);
    command
}

/// What every bucket must do, whatever store it is on: the store interface, batches, listing
/// in pages, keys refused with the reason, and a bucket the world does not name.
/// `persistent`: whether what one run stores outlives it (not on `memory:`).
fn the_counter_works(world: &str, persistent: bool, env: impl Fn(&mut Command)) {
    let run = |steps: &[&str]| {
        let mut command = counter(world, &[], steps);
        env(&mut command);
        command.ran()
    };
    let ran = run(&[
        "count:kv:visits:3",
        "get:kv:visits",
        "get:kv:nothing",
        "set:kv:greeting:hello",
        "exists:kv:greeting",
        "exists:kv:nothing",
        "many:kv:greeting,visits,nothing",
        "exists:kv:greeting",
        "delete:kv:nothing",
        "get:nope:x",
        "get:kv:a/b",
        "set:kv:..:x",
    ]);
    assert_eq!(
        ran.success(),
        "visits=3\nvisits=3\nnothing is not set\ngreeting exists\nnothing does not exist\n\
         greeting=hello\nvisits=3\nnothing is not set\ngreeting does not exist\n\
         error: Error::NoSuchStore\n\
         error: Error::Other(\"`a/b` is not a valid key: a key cannot contain `/`: a key is one \
         object name below the bucket's prefix\")\n\
         error: Error::Other(\"`..` is not a valid key: a key cannot be `.` or `..` or contain \
         control characters\")\n"
    );
    // What one run stored, the next reads (a memory bucket lives as long as its run).
    let ran = run(&["set:kv:kept:yes"]);
    ran.success();
    let ran = run(&["get:kv:kept", "count:kv:visits:2"]);
    let kept = if persistent {
        "kept=yes"
    } else {
        "kept is not set"
    };
    assert_eq!(ran.success(), format!("{kept}\nvisits=2\n"));
    // Listing goes a page at a time (1,000 keys each), through the cursor.
    let ran = run(&[
        "fill:kv:1100:4",
        "delete:kv:kept",
        "delete:kv:visits",
        "list:kv",
    ]);
    assert_eq!(
        ran.success(),
        "1100 keys in 2 pages\nfirst k00000, last k01099\n"
    );
}

/// Two runs count one key at once, `times` each: the key ends at twice that, and each run
/// saw its own last value no higher.
fn two_runs_lose_no_update(world: &str, times: u32, env: impl Fn(&mut Command)) {
    let step = format!("count:kv:both:{times}");
    let children: Vec<_> = (0..2)
        .map(|_| {
            let mut command = counter(world, &[], &[&step]);
            env(&mut command);
            command
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .expect("start host")
        })
        .collect();
    let mut last = Vec::new();
    for child in children {
        let ran = Ran::from(child.wait_with_output().unwrap());
        let value: u32 = ran
            .success()
            .trim()
            .strip_prefix("both=")
            .and_then(|value| value.parse().ok())
            .unwrap_or_else(|| panic!("{ran:#?}"));
        last.push(value);
    }
    let total = times * 2;
    assert_eq!(last.iter().max(), Some(&total), "{last:?}");
    assert!(last.iter().all(|value| *value >= times), "{last:?}");
    let mut command = counter(world, &[], &["get:kv:both"]);
    env(&mut command);
    assert_eq!(command.ran().success(), format!("both={total}\n"));
}

#[test]
fn a_spin_style_counter_runs_on_memory_and_file_buckets() {
    let dir = tempfile::tempdir().unwrap();
    let (_memory_dir, memory) = world_file(&world(&[("kv", "memory:")]));
    the_counter_works(&memory, false, |_| {});
    let (_file_dir, local) = world_file(&world(&[("kv", &file_url(dir.path()))]));
    the_counter_works(&local, true, |_| {});
    // A local bucket is a folder: each key one file, holding the value.
    std::fs::write(dir.path().join("c"), "41").unwrap();
    let ran = counter(&local, &[], &["count:kv:c:1"]).ran();
    assert_eq!(ran.success(), "c=42\n");
    assert_eq!(std::fs::read_to_string(dir.path().join("c")).unwrap(), "42");
    let ran = counter(&local, &[], &["set:kv:c:many", "count:kv:c:1"]).ran();
    assert_eq!(
        ran.success(),
        "error: Error::Other(\"bucket `kv`, key `c`: the value is not a counter (decimal text \
         of a u64): `many` is not a u64\")\n"
    );
}

#[test]
fn two_runs_counting_one_key_on_a_local_store_lose_no_update() {
    let dir = tempfile::tempdir().unwrap();
    let (_world_dir, local) = world_file(&world(&[("kv", &file_url(dir.path()))]));
    two_runs_lose_no_update(&local, 200, |_| {});
    assert_eq!(read(&dir.path().join("both")), "400");
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap()
}

per_backend! {
    fn a_counter_runs_on_a_cloud_bucket_and_two_runs_lose_no_update(backend: Backend) {
        let server = StoreServer::start(backend);
        let (_dir, cloud) = world_file(&world(&[("kv", &server.url("app/kv"))]));
        let env = |command: &mut Command| {
            server.set_env(command);
        };
        the_counter_works(&cloud, true, env);
        two_runs_lose_no_update(&cloud, 25, env);
        // The keys are objects under the bucket's prefix, and nothing else is written.
        let objects = server.objects();
        assert_eq!(objects.text("app/kv/both"), "50");
        let keys = objects.keys(None);
        assert!(keys.iter().all(|key| key.starts_with("app/kv/k")
            || key == "app/kv/both"
            || key == "app/kv/greeting"), "{keys:?}");
    }
}

#[test]
fn values_are_held_to_the_runs_limits() {
    let dir = tempfile::tempdir().unwrap();
    let (_world_dir, local) = world_file(&world(&[("kv", &file_url(dir.path()))]));
    std::fs::write(dir.path().join("big"), vec![b'x'; 3 << 20]).unwrap();
    // A value larger than the guest's memory or the run's buffer memory is refused before it
    // is read, and the guest goes on.
    let ran = counter(
        &local,
        &["--max-memory", "2MiB"],
        &["get:kv:big", "exists:kv:big"],
    )
    .ran();
    assert_eq!(
        ran.success(),
        "error: Error::Other(\"bucket `kv`, key `big`: the value is 3145728 bytes, more than one \
         result may hold (2097152 bytes, the guest's memory limit)\")\nbig exists\n"
    );
    let ran = counter(&local, &["--max-buffer-memory", "1MiB"], &["get:kv:big"]).ran();
    assert!(
        ran.success()
            .contains("more than the run's buffer memory has left"),
        "{ran:#?}"
    );
    // Writes count against the store-write limit (the run stops) ...
    let ran = counter(
        &local,
        &["--max-store-writes", "1MiB"],
        &["big:kv:b:2000000"],
    )
    .ran();
    assert_stopped(&ran, 205, "(raise it with --max-store-writes)");
    // ... and objects against the object limit (the call fails with `quota`).
    let ran = counter(&local, &["--max-store-objects", "2"], &["fill:kv:3:1"]).ran();
    assert!(
        ran.success().starts_with("error: Error::Other(\"quota: "),
        "{ran:#?}"
    );
}

#[test]
fn buckets_in_a_world_file_are_checked_where_they_stand() {
    for (text, words) in [
        (
            "base = \"cloud\"\n[keyvalue.buckets]\nkv = \"ftp://x\"\n",
            &["w.toml", "line 3", "is not a store URL"][..],
        ),
        (
            "base = \"cloud\"\n[keyvalue.buckets]\nkv = \"https://example.com/x\"\n",
            &["line 3", "http(s) stores are read-only"][..],
        ),
        (
            "base = \"cloud\"\n[keyvalue]\nbucket = {}\n",
            &["line 3", "unknown field `bucket`", "`buckets`"][..],
        ),
        (
            "base = \"cli\"\n[keyvalue.buckets]\nkv = \"memory:\"\n",
            &["needs the `cloud` world", "serves no wasi:keyvalue"][..],
        ),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("w.toml");
        std::fs::write(&path, text).unwrap();
        let ran = counter(path.to_str().unwrap(), &[], &["get:kv:x"]).ran();
        ran.refused_with(words);
    }
}

#[test]
fn inspect_and_worlds_show_name_wasi_keyvalue() {
    let imports = [
        "wasi:keyvalue/store@0.2.0-draft",
        "wasi:keyvalue/atomics@0.2.0-draft",
        "wasi:keyvalue/batch@0.2.0-draft",
    ];
    let report = run_host(["inspect".as_ref(), kv_counter().as_os_str()]);
    let text = report.success();
    assert!(text.contains("cloud: can run"), "{text}");
    let missing = format!("cli: cannot run: missing {}", imports.join(", "));
    assert!(text.contains(&missing), "{text}");
    let shown = run_host(["worlds", "show", "cloud"]);
    let text = shown.success();
    for import in imports {
        assert!(text.contains(&format!("import {import};")), "{text}");
    }
}

/// A hostile guest's numbers are bounded: a batch of more than 1,000 keys is refused before
/// any is read, and however many bucket handles it opens, a run keeps only its 16 most
/// recent listings (each may hold a directory open), so older cursors end.
#[test]
fn batches_and_listings_in_progress_are_bounded_per_run() {
    let dir = tempfile::tempdir().unwrap();
    let url = file_url(dir.path());
    for bucket in ["memory:", &url[..]] {
        let world = world(&[("kv", bucket)]);
        let (_file, world) = world_file(&world);
        let ran = counter(
            &world,
            &[],
            &[
                "fill:kv:1001:1",
                "batch:kv:1000",
                "batch:kv:1001",
                "cursors:kv:20",
            ],
        )
        .ran();
        assert_eq!(
            ran.success(),
            "1000 set\nerror: Error::Other(\"bucket `kv`: a batch takes at most 1000 keys; this \
             one has 1001 (split it)\")\ncontinued 16 of 20\nerror: Error::Other(\"bucket `kv`: \
             cursor 0 is not a listing in progress on this handle (a listing's last page ends \
             it, and a run keeps only its 16 most recent listings)\")\n",
            "{bucket}"
        );
    }
}
