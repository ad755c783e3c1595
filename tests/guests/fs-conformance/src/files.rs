//! Opening files and moving bytes: open flags, stream and positional reads and writes,
//! append mode, seeking and set-size.

use crate::fs::{self, File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};

use crate::report::Setup;
use crate::report::{check, show, text, unit};
use crate::root::Root;
use crate::sys;

pub fn run(root: &Root) {
    open_flags(root);
    directories_as_files(root);
    stream_reads_and_writes(root);
    positional_reads(root);
    positional_writes(root);
    append_mode(root);
    seeking(root);
    set_size(root);
}

/// create, create_new (exclusive), truncate, and opening without create.
fn open_flags(root: &Root) {
    let path = root.path("open.txt");
    let create_new = || OpenOptions::new().write(true).create_new(true).open(&path);
    check("open-create-new", unit(create_new()));
    check("open-create-new-existing", unit(create_new()));
    check(
        "open-missing-without-create",
        unit(File::open(root.path("missing.txt"))),
    );
    check(
        "open-missing-for-write-without-create",
        unit(
            OpenOptions::new()
                .write(true)
                .open(root.path("missing.txt")),
        ),
    );
    check("open-created-file-is-empty", root.content("open.txt"));

    root.write("open.txt", b"hello").setup("write open.txt");
    let create = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path);
    check("open-create-existing", unit(create));
    check(
        "open-create-existing-keeps-content",
        root.content("open.txt"),
    );

    let truncate = OpenOptions::new().write(true).truncate(true).open(&path);
    check("open-truncate", show(truncate, |file| length(&file)));
    check("open-truncate-content", root.content("open.txt"));

    let missing_parent = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .open(root.path("nodir/x.txt"));
    check("open-create-in-missing-directory", unit(missing_parent));
    check(
        "open-file-with-trailing-slash",
        unit(File::open(root.path("open.txt/"))),
    );
    check(
        "open-file-as-parent-directory",
        unit(File::open(root.path("open.txt/x"))),
    );
    check("read-dir-on-file", unit(fs::read_dir(&path)));

    let read_only = File::open(&path).and_then(|mut file| file.write_all(b"x"));
    check("write-on-read-only-handle", unit(read_only));
    let write_only = OpenOptions::new().write(true).open(&path);
    let read = write_only.and_then(|mut file| file.read(&mut [0; 4]));
    check("read-on-write-only-handle", unit(read));
}

/// A directory opened with the file API.
fn directories_as_files(root: &Root) {
    fs::create_dir(root.path("opendir")).setup("create opendir");
    let path = root.path("opendir");
    check("open-directory-read-only", unit(File::open(&path)));
    let read = File::open(&path).and_then(|mut dir| dir.read(&mut [0; 4]));
    check("read-on-directory-handle", unit(read));
    check(
        "open-directory-for-write",
        unit(OpenOptions::new().write(true).open(&path)),
    );
    let create_new = OpenOptions::new().write(true).create_new(true).open(&path);
    check("open-create-new-over-directory", unit(create_new));
}

/// `write_all` and `read_to_end` through the stream position, and partial reads.
fn stream_reads_and_writes(root: &Root) {
    let path = root.path("rw.bin");
    let written = File::create(&path).and_then(|mut file| file.write_all(b"0123456789"));
    check("write-stream", unit(written));
    check("read-to-end", root.content("rw.bin"));
    check(
        "read-partial",
        show(File::open(&path), |mut file| read_in_chunks(&mut file, 4)),
    );

    let Some(mut file) = File::options()
        .read(true)
        .write(true)
        .open(&path)
        .setup("open rw.bin")
    else {
        return;
    };
    file.write_all(b"ab").setup("write ab");
    let mut rest = Vec::new();
    let read = file.read_to_end(&mut rest);
    check("read-after-write-same-handle", show(read, |_| text(&rest)));
    check("write-stream-overwrites-start", own_content(&file));
    drop(file);
    check("write-stream-content-after-close", root.content("rw.bin"));
    root.write("rw.bin", b"0123456789").setup("restore rw.bin");
}

/// Reads of `chunk` bytes until end of file, as `count "bytes"` for each read.
fn read_in_chunks(file: &mut File, chunk: usize) -> String {
    let mut reads = Vec::new();
    loop {
        let mut buffer = vec![0; chunk];
        match file.read(&mut buffer) {
            Ok(0) => break reads.push("0".to_owned()),
            Ok(n) => reads.push(format!("{n} {}", text(&buffer[..n]))),
            Err(e) => break reads.push(crate::report::error(&e)),
        }
    }
    reads.join(", ")
}

/// `read_at` inside, across and past the end of the file.
fn positional_reads(root: &Root) {
    let Some(mut file) = File::open(root.path("rw.bin")).setup("open rw.bin") else {
        return;
    };
    file.read_exact(&mut [0; 1])
        .setup("read the first byte of rw.bin");
    let read_at = |len: usize, offset: u64| {
        let mut buffer = vec![0; len];
        show(sys::read_at(&file, &mut buffer, offset), |n| {
            format!("{n} {}", text(&buffer[..n]))
        })
    };
    check("read-at-middle", read_at(3, 5));
    check("read-at-start", read_at(2, 0));
    check("read-at-straddling-eof", read_at(4, 8));
    check("read-at-eof", read_at(4, 10));
    check("read-at-past-eof", read_at(4, 100));
    check(
        "read-at-keeps-position",
        show(file.stream_position(), |p| p.to_string()),
    );
}

/// `write_at` inside and past the end of the file (the gap reads as zeros).
fn positional_writes(root: &Root) {
    let path = root.path("rw.bin");
    let Some(mut file) = OpenOptions::new()
        .read(true)
        .write(true)
        .open(&path)
        .setup("open rw.bin")
    else {
        return;
    };
    file.seek(SeekFrom::Start(1)).setup("seek rw.bin");
    check(
        "write-at-middle",
        show(sys::write_at(&file, b"AB", 2), |n| n.to_string()),
    );
    check("write-at-middle-content", own_content(&file));
    check(
        "write-at-past-eof",
        show(sys::write_at(&file, b"Z", 14), |n| n.to_string()),
    );
    check("write-at-past-eof-length", length(&file));
    check("write-at-past-eof-content", own_content(&file));
    check(
        "write-at-keeps-position",
        show(file.stream_position(), |p| p.to_string()),
    );
    drop(file);
    check("write-at-content-after-close", root.content("rw.bin"));
}

/// Writes in append mode land at the end, wherever the handle was positioned.
fn append_mode(root: &Root) {
    let path = root.path("append.txt");
    root.write("append.txt", b"one\n").setup("write append.txt");
    let append = || OpenOptions::new().append(true).open(&path);
    check(
        "append-write",
        unit(append().and_then(|mut file| file.write_all(b"two\n"))),
    );
    check("append-content", root.content("append.txt"));
    let after_seek = append().and_then(|mut file| {
        file.seek(SeekFrom::Start(0))?;
        file.write_all(b"three\n")
    });
    check("append-write-after-seek-to-start", unit(after_seek));
    check("append-content-after-seek", root.content("append.txt"));
    let created = OpenOptions::new()
        .append(true)
        .create(true)
        .open(root.path("append-new.txt"));
    check(
        "append-create",
        unit(created.and_then(|mut file| file.write_all(b"fresh"))),
    );
    check("append-create-content", root.content("append-new.txt"));
}

/// Seeking from the start, the current position and the end, then reading or writing.
fn seeking(root: &Root) {
    root.write("seek.txt", b"abcdefghij")
        .setup("write seek.txt");
    let Some(mut file) = File::options()
        .read(true)
        .write(true)
        .open(root.path("seek.txt"))
        .setup("open seek.txt")
    else {
        return;
    };
    let mut seek_and_read = |id: &str, to: SeekFrom, len: usize| {
        let mut buffer = vec![0; len];
        let result = file.seek(to).and_then(|position| {
            let n = file.read(&mut buffer)?;
            Ok(format!("at {position} read {n} {}", text(&buffer[..n])))
        });
        check(id, show(result, |line| line));
    };
    seek_and_read("seek-start-read", SeekFrom::Start(3), 2);
    seek_and_read("seek-current-read", SeekFrom::Current(2), 2);
    seek_and_read("seek-current-negative-read", SeekFrom::Current(-4), 2);
    seek_and_read("seek-end-read", SeekFrom::End(-3), 8);
    seek_and_read("seek-end-read-nothing", SeekFrom::End(0), 4);
    seek_and_read("seek-past-end-read-nothing", SeekFrom::End(5), 4);
    check(
        "seek-before-start",
        unit(file.seek(SeekFrom::Current(-100))),
    );
    check(
        "seek-position-after-failed-seek",
        show(file.stream_position(), |p| p.to_string()),
    );

    let overwrite = file
        .seek(SeekFrom::Start(1))
        .and_then(|_| file.write_all(b"B"));
    check("seek-start-write", unit(overwrite));
    check("seek-start-write-content", own_content(&file));
    let past_end = file
        .seek(SeekFrom::End(2))
        .and_then(|_| file.write_all(b"XY"));
    check("seek-past-end-write", unit(past_end));
    check("seek-past-end-write-length", length(&file));
    check("seek-past-end-write-content", own_content(&file));
    drop(file);
    check("seek-write-content-after-close", root.content("seek.txt"));
}

/// `set_len` shrinking and extending (the new tail reads as zeros).
fn set_size(root: &Root) {
    root.write("size.txt", b"abcdefgh").setup("write size.txt");
    let path = root.path("size.txt");
    let Some(file) = OpenOptions::new()
        .read(true)
        .write(true)
        .open(&path)
        .setup("open size.txt")
    else {
        return;
    };
    check("set-len-shrink", unit(file.set_len(3)));
    check("set-len-shrink-content", own_content(&file));
    check("set-len-extend", unit(file.set_len(6)));
    check("set-len-extend-length", length(&file));
    check("set-len-extend-content", own_content(&file));
    check(
        "set-len-extend-content-after-close",
        closed_content(file, root, "size.txt"),
    );
    let Some(file) = OpenOptions::new()
        .write(true)
        .open(&path)
        .setup("open size.txt again")
    else {
        return;
    };
    check("set-len-zero", unit(file.set_len(0)));
    check(
        "set-len-zero-content-after-close",
        closed_content(file, root, "size.txt"),
    );
    let read_only = File::open(&path).and_then(|file| file.set_len(10));
    check("set-len-on-read-only-handle", unit(read_only));
}

/// The whole content as the handle itself reads it (with `read_at`, so its position stays).
/// What other handles see of it is for the `visibility-*` and `two-handles-*` checks.
pub fn own_content(file: &File) -> String {
    let mut bytes = Vec::new();
    let mut buffer = [0; 64];
    loop {
        match sys::read_at(file, &mut buffer, bytes.len() as u64) {
            Ok(0) => return text(&bytes),
            Ok(n) => bytes.extend_from_slice(&buffer[..n]),
            Err(e) => return crate::report::error(&e),
        }
    }
}

/// Closes `file`, then reads `relative` through a fresh handle.
fn closed_content(file: File, root: &Root, relative: &str) -> String {
    drop(file);
    root.content(relative)
}

/// The length a handle reports for its file.
pub fn length(file: &File) -> String {
    show(file.metadata(), |meta| meta.len().to_string())
}
