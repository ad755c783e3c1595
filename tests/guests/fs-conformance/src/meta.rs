//! stat (through a handle) and stat-at (through a path), and modification times. Only
//! comparisons of times are printed, never the times themselves.

use std::fs::{self, File, Metadata, OpenOptions};
use std::io::Write;
use std::time::SystemTime;

use crate::report::Setup;
use crate::report::{check, show};
use crate::root::Root;

pub fn run(root: &Root) {
    stat(root);
    modification_time(root);
}

/// What the transcript shows of metadata: nothing that differs between storage backends
/// (no directory sizes, inodes, link counts or times).
fn describe(meta: &Metadata) -> String {
    let kind = format!(
        "file={} dir={} symlink={}",
        meta.is_file(),
        meta.is_dir(),
        meta.is_symlink()
    );
    if meta.is_file() {
        format!("{kind} len={}", meta.len())
    } else {
        kind
    }
}

fn stat(root: &Root) {
    root.write("stat.txt", b"12345").setup("write stat.txt");
    fs::create_dir(root.path("statdir")).setup("create statdir");
    let handle = File::open(root.path("stat.txt")).and_then(|file| file.metadata());
    check("stat-file", show(handle, |meta| describe(&meta)));
    check(
        "stat-at-file",
        show(fs::metadata(root.path("stat.txt")), |meta| describe(&meta)),
    );
    check(
        "stat-at-directory",
        show(fs::metadata(root.path("statdir")), |meta| describe(&meta)),
    );
    let dir_handle = File::open(root.path("statdir")).and_then(|dir| dir.metadata());
    check(
        "stat-directory-handle",
        show(dir_handle, |meta| describe(&meta)),
    );
    check(
        "stat-at-root",
        show(fs::metadata(root.dir()), |meta| describe(&meta)),
    );
    check(
        "stat-at-missing",
        show(fs::metadata(root.path("missing")), |meta| describe(&meta)),
    );
    check(
        "stat-at-missing-parent",
        show(fs::metadata(root.path("missing/child")), |meta| {
            describe(&meta)
        }),
    );

    let Some(mut file) = OpenOptions::new()
        .append(true)
        .open(root.path("stat.txt"))
        .setup("open stat.txt")
    else {
        return;
    };
    file.write_all(b"678").setup("append to stat.txt");
    check(
        "stat-own-handle-after-write",
        show(file.metadata(), |meta| describe(&meta)),
    );
}

fn modification_time(root: &Root) {
    let path = root.path("mtime.txt");
    fs::write(&path, b"first").setup("write mtime.txt");
    let modified = || fs::metadata(&path).and_then(|meta| meta.modified());
    let before = modified();
    check(
        "mtime-is-set",
        show(modified(), |time| {
            (time > SystemTime::UNIX_EPOCH).to_string()
        }),
    );
    fs::write(&path, b"second, longer").setup("rewrite mtime.txt");
    let after = modified();
    let compared = before.and_then(|before| after.map(|after| after >= before));
    check(
        "mtime-after-write-not-before",
        show(compared, |ok| ok.to_string()),
    );
    let handle_time = File::open(&path).and_then(|file| file.metadata()?.modified());
    let same = handle_time.and_then(|by_handle| modified().map(|by_path| by_handle == by_path));
    check("mtime-handle-equals-path", show(same, |ok| ok.to_string()));
}
