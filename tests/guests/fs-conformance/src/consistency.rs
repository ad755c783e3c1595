//! When written bytes become visible to other handles: sync and sync-data, and a second
//! reader opened while the writer is still open.

use crate::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};

use crate::report::Setup;
use crate::report::{check, show, text, unit};
use crate::root::Root;

pub fn run(root: &Root) {
    sync(root);
    visibility_of_existing_file(root);
    visibility_of_new_file(root);
}

fn sync(root: &Root) {
    let path = root.path("sync.txt");
    let Some(mut file) = File::create(&path).setup("create sync.txt") else {
        return;
    };
    file.write_all(b"synced").setup("write sync.txt");
    check("sync-all", unit(file.sync_all()));
    check(
        "sync-all-visible-to-second-handle",
        root.content("sync.txt"),
    );
    file.write_all(b" twice").setup("write sync.txt again");
    check("sync-data", unit(file.sync_data()));
    check(
        "sync-data-visible-to-second-handle",
        root.content("sync.txt"),
    );
    let Some(reader) = File::open(&path).setup("open sync.txt") else {
        return;
    };
    check("sync-all-read-only-handle", unit(reader.sync_all()));
    let dir = File::open(root.dir());
    check(
        "sync-all-directory",
        unit(dir.and_then(|dir| dir.sync_all())),
    );
}

/// A file that exists before the writer opens it: a second reader sees the writer's bytes at
/// once, as on a real directory.
fn visibility_of_existing_file(root: &Root) {
    let path = root.path("visible.txt");
    root.write("visible.txt", b"old content")
        .setup("write visible.txt");
    let Some(mut writer) = OpenOptions::new()
        .read(true)
        .write(true)
        .open(&path)
        .setup("open visible.txt")
    else {
        return;
    };
    writer.write_all(b"NEW").setup("write visible.txt");
    check("visibility-before-close", root.content("visible.txt"));
    check(
        "visibility-writer-reads-own-write",
        own_content(&mut writer),
    );
    drop(writer);
    check("visibility-after-close", root.content("visible.txt"));
}

/// A file the writer creates exists, with what was written, before the writer closes.
fn visibility_of_new_file(root: &Root) {
    let path = root.path("visible-new.txt");
    let Some(mut writer) = File::create_new(&path).setup("create visible-new.txt") else {
        return;
    };
    writer
        .write_all(b"brand new")
        .setup("write visible-new.txt");
    check(
        "visibility-new-file-before-close",
        root.content("visible-new.txt"),
    );
    drop(writer);
    check(
        "visibility-new-file-after-close",
        root.content("visible-new.txt"),
    );
}

/// What a read-write handle reads back from the start: its own writes, in every world.
fn own_content(writer: &mut File) -> String {
    let mut bytes = Vec::new();
    let read = writer
        .seek(SeekFrom::Start(0))
        .and_then(|_| writer.read_to_end(&mut bytes));
    show(read, |_| text(&bytes))
}
