//! The compiled-code cache: a second run loads native code instead of compiling, and nothing
//! but the host's own, authenticated entries in a private directory is ever loaded.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::cli_world::without_argv0;
use crate::support::harness::{
    Ran, RunExt, TEST_GUESTS, Target, guest, host, probe, probe_command,
};

/// `host run` with no host flags: the cache is chosen by the environment alone.
const NO_FLAGS: [&str; 0] = [];
use crate::support::jobs::{Workspace, job_guest};

/// Compiled guests are cached by content: the second run loads native code instead of
/// compiling, and a damaged cache file is compiled again, never trusted.
#[test]
fn compiled_guests_are_cached_and_a_damaged_cache_is_recompiled() {
    let cache = tempfile::tempdir().unwrap();
    let run = || -> Ran {
        probe_command(&NO_FLAGS, &["args"])
            .env("WORLDHOST_CACHE", cache.path())
            .env("WORLDHOST_LOG", "worldhost::guest::compile_cache=debug")
            .ran()
    };
    let first = run();
    first.success();
    assert!(
        !first.stderr.contains("loaded from the cache"),
        "{first:#?}"
    );
    let cached = compiled_entries(cache.path());
    assert_eq!(cached.len(), 1, "{cached:?}");
    let second = run();
    second.success();
    assert!(
        second.stderr.contains("loaded from the cache"),
        "{second:#?}"
    );

    fs::write(&cached[0], b"not native code").unwrap();
    let third = run();
    assert_eq!(third.stdout, first.stdout, "{third:#?}");
    assert!(
        third
            .stderr
            .contains("cached guest unusable; compiling again"),
        "{third:#?}"
    );
    assert!(
        run().stderr.contains("loaded from the cache"),
        "the damaged file was replaced"
    );
}

/// The compiled guests in a cache directory (its `.cwasm` files), sorted.
pub fn compiled_entries(cache: &Path) -> Vec<PathBuf> {
    let mut entries: Vec<_> = fs::read_dir(cache)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "cwasm"))
        .collect();
    entries.sort();
    entries
}

/// Every file and directory under `dir`, relative, sorted.
fn everything_under(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut todo = vec![dir.to_owned()];
    while let Some(next) = todo.pop() {
        for entry in fs::read_dir(&next).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                todo.push(path.clone());
            }
            found.push(path.strip_prefix(dir).unwrap().to_owned());
        }
    }
    found.sort();
    found
}

/// The permission bits of `path`, in octal.
fn mode(path: &Path) -> String {
    format!(
        "{:o}",
        fs::metadata(path).unwrap().permissions().mode() & 0o7777
    )
}

/// Runs the job-core guest as a job with local mounts, `configure` setting its cache.
fn run_job(configure: impl FnOnce(&mut Command)) -> Ran {
    let work = Workspace::new();
    work.write_job(&format!(
        "[module]\nsource = \"{}\"\n\n{}",
        job_guest("job-core", Target::P1).display(),
        work.local_mounts()
    ));
    work.run(configure).0
}

#[test]
fn a_cache_entry_planted_under_another_guests_name_is_not_run() {
    let cache = tempfile::tempdir().unwrap();
    let run = |wasm: &Path, args: &[&str]| -> Ran {
        host()
            .env("WORLDHOST_CACHE", cache.path())
            .env("WORLDHOST_LOG", "worldhost::guest::compile_cache=debug")
            .arg("run")
            .arg(wasm)
            .args(args)
            .ran()
    };
    let a = probe(Target::P2);
    let b = guest(TEST_GUESTS, "job-core", Target::P2);
    let a_stdout = run(&a, &["args", "this is A"]).success().to_owned();
    let a_entries = compiled_entries(cache.path());
    assert_eq!(a_entries.len(), 1, "{a_entries:?}");
    assert_eq!(run(&b, &[]).success(), "main entry\n");
    let b_entries: Vec<_> = compiled_entries(cache.path())
        .into_iter()
        .filter(|entry| !a_entries.contains(entry))
        .collect();
    assert_eq!(b_entries.len(), 1, "{b_entries:?}");

    // B's entry, valid and made by this same host, put where A's is looked for: every file
    // named after B's guest digest (the entry, and anything kept beside it) is copied over A's.
    let digest = |entry: &Path| entry.file_name().unwrap().to_str().unwrap()[..64].to_owned();
    let (a_digest, b_digest) = (digest(&a_entries[0]), digest(&b_entries[0]));
    for file in fs::read_dir(cache.path()).unwrap() {
        let name = file.unwrap().file_name().into_string().unwrap();
        if name.starts_with(&b_digest) {
            fs::copy(
                cache.path().join(&name),
                cache.path().join(name.replacen(&b_digest, &a_digest, 1)),
            )
            .unwrap();
        }
    }

    let planted = run(&a, &["args", "this is A"]);
    assert_eq!(planted.stdout, a_stdout, "A ran, not B: {planted:#?}");
    assert_eq!(planted.code, 0, "{planted:#?}");
    assert!(
        planted
            .stderr
            .contains("cached guest unusable; compiling again")
            && !planted.stderr.contains("loaded from the cache"),
        "{planted:#?}"
    );
    let again = run(&a, &["args", "this is A"]);
    assert_eq!(again.stdout, a_stdout, "{again:#?}");
    assert!(
        again.stderr.contains("loaded from the cache"),
        "the planted entry was replaced: {again:#?}"
    );
}

#[test]
fn a_cache_directory_others_can_write_is_not_used() {
    for others in [0o777, 0o770, 0o1777] {
        let cache = tempfile::tempdir().unwrap();
        fs::set_permissions(cache.path(), fs::Permissions::from_mode(others)).unwrap();
        let ran = probe_command(&NO_FLAGS, &["args", "x"])
            .env("WORLDHOST_CACHE", cache.path())
            .ran();
        assert_eq!(without_argv0(ran.success()), ["args", "x"], "{others:o}");
        let warning = ran.stderr.trim_end();
        assert!(
            warning.lines().count() == 1
                && warning.contains("WARN")
                && warning.contains(&cache.path().display().to_string())
                && warning.contains("writable by other users"),
            "one warning naming the directory and why: {ran:#?}"
        );
        // A job's module cache lives in the same directory and is refused with it.
        let job = run_job(|command| {
            command.env("WORLDHOST_CACHE", cache.path());
        });
        assert_eq!(
            (job.code, job.stdout.as_str()),
            (0, "main entry\n"),
            "{job:#?}"
        );
        assert!(
            job.stderr.contains(&cache.path().display().to_string()),
            "{job:#?}"
        );
        assert_eq!(
            everything_under(cache.path()),
            Vec::<PathBuf>::new(),
            "nothing is written to a directory others can write ({others:o})"
        );
    }
}

#[test]
fn a_cache_key_others_can_read_is_not_used() {
    let cache = tempfile::tempdir().unwrap();
    let key = cache.path().join("key");
    fs::write(&key, [7; 32]).unwrap();
    fs::set_permissions(&key, fs::Permissions::from_mode(0o644)).unwrap();
    let ran = probe_command(&NO_FLAGS, &["args", "x"])
        .env("WORLDHOST_CACHE", cache.path())
        .ran();
    assert_eq!(without_argv0(ran.success()), ["args", "x"]);
    assert!(
        ran.stderr.contains("WARN") && ran.stderr.contains(&key.display().to_string()),
        "a warning naming the key: {ran:#?}"
    );
    assert_eq!(everything_under(cache.path()), [PathBuf::from("key")]);
}

#[test]
fn a_new_cache_directory_and_its_key_are_private() {
    let check = |dir: &Path| {
        assert_eq!(mode(dir), "700", "{}", dir.display());
        let key = dir.join("key");
        assert_eq!(mode(&key), "600");
        assert_eq!(fs::metadata(&key).unwrap().len(), 32);
        let entries = compiled_entries(dir);
        assert_eq!(entries.len(), 1, "{entries:?}");
        assert_eq!(mode(&entries[0]), "600");
    };

    // Named by WORLDHOST_CACHE, its parents missing.
    let parent = tempfile::tempdir().unwrap();
    let dir = parent.path().join("missing/compiled");
    let ran = probe_command(&NO_FLAGS, &["args"])
        .env("WORLDHOST_CACHE", &dir)
        .ran();
    ran.success();
    assert_eq!(ran.stderr, "");
    check(&dir);

    // The default place, under HOME.
    let home = tempfile::tempdir().unwrap();
    let ran = probe_command(&NO_FLAGS, &["args"])
        .env_remove("WORLDHOST_CACHE")
        .env_remove("XDG_CACHE_HOME")
        .env("HOME", home.path())
        .ran();
    ran.success();
    check(&home.path().join(".cache/worldhost/compiled"));
}

#[test]
fn cache_off_writes_nothing() {
    let home = tempfile::tempdir().unwrap();
    let ran = probe_command(&NO_FLAGS, &["args", "x"])
        .env("WORLDHOST_CACHE", "off")
        .env("HOME", home.path())
        .env("XDG_CACHE_HOME", home.path().join("xdg"))
        .ran();
    assert_eq!(without_argv0(ran.success()), ["args", "x"]);
    assert_eq!(ran.stderr, "");
    let job = run_job(|command| {
        command
            .env("WORLDHOST_CACHE", "off")
            .env("HOME", home.path())
            .env("XDG_CACHE_HOME", home.path().join("xdg"));
    });
    assert_eq!(
        (job.code, job.stdout.as_str()),
        (0, "main entry\n"),
        "{job:#?}"
    );
    assert_eq!(everything_under(home.path()), Vec::<PathBuf>::new());
}
