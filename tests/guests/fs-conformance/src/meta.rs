//! stat (through a handle) and stat-at (through a path), modification times, and setting them
//! (set-times, set-times-at). Only comparisons of times are printed, never the times themselves.

use crate::fs::{self, File, FileTimes, Metadata, OpenOptions};
use std::io::Write;
use std::time::{Duration, SystemTime};

use crate::report::Setup;
use crate::report::{check, show, unit};
use crate::root::Root;

pub fn run(root: &Root) {
    stat(root);
    modification_time(root);
    set_times(root);
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

/// Setting the modification time to a fixed past time through a handle (`futimens`; the C
/// guest covers `utimensat` on a path), and reading it back through a path, the handle and
/// after close.
fn set_times(root: &Root) {
    root.write("times.txt", b"timed").setup("write times.txt");
    let path = root.path("times.txt");
    let when = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000_000);
    let Some(file) = File::options()
        .write(true)
        .open(&path)
        .setup("open times.txt")
    else {
        return;
    };
    let by_path = || fs::metadata(&path).and_then(|meta| meta.modified());
    let equals = |time: std::io::Result<SystemTime>, expected: SystemTime| {
        show(time, |time| (time == expected).to_string())
    };
    check("set-times-modified", unit(file.set_modified(when)));
    check("set-times-modified-read-back", equals(by_path(), when));
    check(
        "set-times-read-back-handle",
        equals(file.metadata().and_then(|meta| meta.modified()), when),
    );
    let both = FileTimes::new()
        .set_accessed(when)
        .set_modified(when + Duration::from_secs(1));
    check(
        "set-times-accessed-and-modified",
        unit(file.set_times(both)),
    );
    check(
        "set-times-accessed-and-modified-read-back",
        equals(by_path(), when + Duration::from_secs(1)),
    );
    drop(file);
    check(
        "set-times-read-back-after-close",
        equals(by_path(), when + Duration::from_secs(1)),
    );
    // A write after set-times moves the time on again, as any write does.
    let written = OpenOptions::new()
        .append(true)
        .open(&path)
        .and_then(|mut file| file.write_all(b"!"));
    written.setup("append to times.txt");
    check(
        "set-times-then-write-moves-time",
        show(by_path(), |time| {
            (time > when + Duration::from_secs(1)).to_string()
        }),
    );
    fs::remove_file(&path).setup("remove times.txt");
}
