//! `file://` mounts never follow a link (issue 12, item 3): links planted in a mounted
//! directory, by another program or a cli-world guest, point out of it; whatever the
//! cloud-world guest does (files or blobs), nothing outside is read, written, listed or
//! deleted, and a link is neither a file nor a directory to it (`no-entry`, not listed).

use std::fs;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::support::harness::{
    Ran, RunExt, TEST_GUESTS, Target, call_command, file_url, guest, probe_command, run_with_stdin,
};

/// A mounted directory full of links out of it, and the outside they point to.
struct Planted {
    _base: tempfile::TempDir,
    store: PathBuf,
    outside: PathBuf,
}

const SECRET: &str = "outside secret";

impl Planted {
    /// `store/`: `real.txt`, `sub/ok.txt` and links `esc -> /etc`, `root -> /`,
    /// `esc-dir -> outside/`, `esc-file -> outside/secret.txt`, `sub/esc -> outside/`.
    fn new() -> Planted {
        let base = tempfile::tempdir().unwrap();
        let (store, outside) = (base.path().join("store"), base.path().join("outside"));
        fs::create_dir_all(store.join("sub")).unwrap();
        fs::create_dir_all(outside.join("deeper")).unwrap();
        fs::write(outside.join("secret.txt"), SECRET).unwrap();
        fs::write(outside.join("deeper/secret.txt"), SECRET).unwrap();
        fs::write(store.join("real.txt"), "real").unwrap();
        fs::write(store.join("sub/ok.txt"), "ok").unwrap();
        symlink("/etc", store.join("esc")).unwrap();
        symlink("/", store.join("root")).unwrap();
        symlink(&outside, store.join("esc-dir")).unwrap();
        symlink(outside.join("secret.txt"), store.join("esc-file")).unwrap();
        symlink(&outside, store.join("sub/esc")).unwrap();
        Planted {
            _base: base,
            store,
            outside,
        }
    }

    fn mount(&self) -> String {
        file_url(&self.store)
    }

    /// The probe in the cloud world with the store mounted at `.`.
    fn probe(&self, args: &[&str]) -> Ran {
        probe_command(&["--world", "cloud", "--mount", &self.mount()], args).ran()
    }

    /// The echo plugin's blob command `input` with the store mounted at `.`.
    fn blob(&self, input: &str) -> Ran {
        let plugin = guest(TEST_GUESTS, "echo_plugin", Target::P2);
        run_with_stdin(
            call_command(&["--text", "--mount", &self.mount()], &plugin),
            input.as_bytes(),
        )
    }

    /// The outside is exactly as planted: nothing written, removed or added.
    fn assert_outside_untouched(&self) {
        let mut names: Vec<String> = walk(&self.outside);
        names.sort();
        assert_eq!(names, ["deeper", "deeper/secret.txt", "secret.txt"]);
        for file in ["secret.txt", "deeper/secret.txt"] {
            assert_eq!(fs::read_to_string(self.outside.join(file)).unwrap(), SECRET);
        }
    }

    /// Every link is still the link planted.
    fn assert_links_kept(&self, links: &[&str]) {
        for link in links {
            let meta = fs::symlink_metadata(self.store.join(link)).unwrap();
            assert!(meta.is_symlink(), "{link} is still a link");
        }
    }
}

/// Every path below `dir`, relative to it, not following links.
fn walk(dir: &Path) -> Vec<String> {
    let mut found = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(next) = pending.pop() {
        for entry in fs::read_dir(&next).unwrap() {
            let path = entry.unwrap().path();
            found.push(path.strip_prefix(dir).unwrap().display().to_string());
            if fs::symlink_metadata(&path).unwrap().is_dir() {
                pending.push(path);
            }
        }
    }
    found
}

#[track_caller]
fn assert_no_entry(ran: &Ran) {
    assert_ne!(ran.code, 0, "{ran:#?}");
    assert!(ran.stderr.contains("No such file or directory"), "{ran:#?}");
    assert!(!ran.stdout.contains(SECRET), "{ran:#?}");
}

#[track_caller]
fn assert_blob_not_found(ran: &Ran) {
    assert_eq!(ran.code, 1, "{ran:#?}");
    assert!(ran.stderr.contains("NotFound"), "{ran:#?}");
    assert!(!ran.stdout.contains(SECRET), "{ran:#?}");
}

#[test]
fn reads_through_links_find_nothing() {
    let planted = Planted::new();
    for path in [
        "esc-file",
        "esc-dir/secret.txt",
        "esc-dir/deeper/secret.txt",
        "sub/esc/secret.txt",
        "esc/passwd",
        "root/etc/passwd",
    ] {
        assert_no_entry(&planted.probe(&["read", path]));
        assert_no_entry(&planted.probe(&["stat", path]));
    }
    for link in ["esc-file", "esc-dir", "sub/esc", "root"] {
        assert_no_entry(&planted.probe(&["stat", link]));
    }
    // What is really there still reads.
    assert_eq!(planted.probe(&["read", "sub/ok.txt"]).success(), "ok");
    planted.assert_outside_untouched();
}

#[test]
fn listings_hide_links_and_never_walk_into_them() {
    let planted = Planted::new();
    assert_eq!(planted.probe(&["ls", "."]).success(), "real.txt\nsub\n");
    assert_eq!(planted.probe(&["ls", "sub"]).success(), "ok.txt\n");
    for dir in ["esc-dir", "sub/esc", "esc", "root"] {
        assert_no_entry(&planted.probe(&["ls", dir]));
    }
    // A blob listing is recursive: with `root -> /` followed it would walk the whole host.
    let started = Instant::now();
    let listed = planted.blob("list");
    assert_eq!(listed.success(), "real.txt 4\nsub/ok.txt 2\n");
    assert!(started.elapsed() < Duration::from_secs(30));
    assert_eq!(planted.blob("list esc-dir").success(), "\n");
    planted.assert_outside_untouched();
}

#[test]
fn writes_never_land_outside() {
    let planted = Planted::new();
    // Below a link: its directory is not there.
    for path in [
        "esc-dir/new.txt",
        "esc-dir/deeper/secret.txt",
        "sub/esc/new.txt",
        "esc-dir/made/new.txt",
    ] {
        assert_no_entry(&planted.probe(&["write", path, "planted"]));
    }
    // At a link: the name holds no file, so the write makes one, replacing the link (never
    // writing through it).
    let wrote = planted.probe(&["write", "esc-file", "mine"]);
    assert_eq!(wrote.success(), "wrote 4 bytes to esc-file\n");
    let replaced = fs::symlink_metadata(planted.store.join("esc-file")).unwrap();
    assert!(replaced.is_file(), "the link was replaced by the file");
    assert_eq!(
        fs::read_to_string(planted.store.join("esc-file")).unwrap(),
        "mine"
    );
    // Blob puts and copies, below a link.
    assert_blob_not_found(&planted.blob("put esc-dir/planted.txt x"));
    assert_blob_not_found(&planted.blob("put sub/esc/planted.txt x"));
    assert_blob_not_found(&planted.blob("copy real.txt esc-dir/copied.txt"));
    assert_blob_not_found(&planted.blob("copy esc-dir/secret.txt stolen.txt"));
    assert!(!planted.store.join("stolen.txt").exists());
    planted.assert_outside_untouched();
    planted.assert_links_kept(&["esc-dir", "sub/esc", "esc", "root"]);
}

#[test]
fn deletes_and_renames_never_touch_the_outside() {
    let planted = Planted::new();
    for path in ["esc-file", "esc-dir/secret.txt", "sub/esc/secret.txt"] {
        assert_no_entry(&planted.probe(&["rm", path]));
        assert_blob_not_found(&planted.blob(&format!("delete {path}")));
    }
    assert_no_entry(&planted.probe(&["rmdir", "esc-dir"]));
    assert_no_entry(&planted.probe(&["mv", "esc-dir", "moved-link"]));
    assert_no_entry(&planted.probe(&["mv", "esc-file", "moved.txt"]));
    // A directory holding a link moves without it: the link stays behind (so does its
    // directory, which the guest then sees empty) and nothing outside is copied in.
    let moved = planted.probe(&["mv", "sub", "moved"]);
    assert_eq!(moved.success(), "moved sub to moved\n");
    assert_eq!(planted.probe(&["ls", "moved"]).success(), "ok.txt\n");
    assert_eq!(walk(&planted.store.join("moved")), ["ok.txt"]);
    assert_eq!(planted.probe(&["ls", "sub"]).success(), "");
    // Hidden, the link still keeps its directory, as a staged upload does.
    let removed = planted.probe(&["rmdir", "sub"]);
    assert!(removed.stderr.contains("not empty"), "{removed:#?}");
    planted.assert_outside_untouched();
    planted.assert_links_kept(&["esc-file", "esc-dir", "sub/esc", "esc", "root"]);
}

/// The mount's root may itself be a link: it is resolved once, when the mount is opened.
#[test]
fn a_root_given_as_a_link_is_followed_once() {
    let planted = Planted::new();
    let alias = planted.store.parent().unwrap().join("alias");
    symlink(&planted.store, &alias).unwrap();
    let mount = file_url(&alias);
    let run = |args: &[&str]| probe_command(&["--world", "cloud", "--mount", &mount], args).ran();
    assert_eq!(run(&["read", "real.txt"]).success(), "real");
    assert_eq!(run(&["write", "sub/new.txt", "new"]).code, 0);
    assert_eq!(
        fs::read_to_string(planted.store.join("sub/new.txt")).unwrap(),
        "new"
    );
    assert_no_entry(&run(&["read", "esc-dir/secret.txt"]));
    planted.assert_outside_untouched();
}
