//! What std cannot reach, through the wasi:filesystem 0.2 bindings (`wasip2`): is-same-object,
//! metadata-hash and metadata-hash-at, descriptor type and flags, open-at flags, and the
//! read/write/append-via-stream calls. Errors print as the WIT error-code name
//! (`error no-entry`). Hash values are never printed, only whether two of them are equal.

use wasip2::filesystem::preopens::get_directories;
use wasip2::filesystem::types::{
    Descriptor, DescriptorFlags, DescriptorType, ErrorCode, MetadataHashValue, OpenFlags, PathFlags,
};
use wasip2::io::streams::StreamError;

use crate::report::{check, text};
use crate::root::Root;

pub fn run(root: &Root) {
    let Some(dir) = root_descriptor(root.dir()) else {
        check("p2-root-descriptor", "error no preopen holds ROOT");
        return;
    };
    check("p2-root-type", show(dir.get_type(), kind));
    check("p2-root-flags", show(dir.get_flags(), flags));
    open_flags(&dir);
    streams(&dir);
    same_object(&dir);
    metadata_hash(&dir);
    read_directory(&dir);
    odd_paths(&dir);
    for file in ["p2-a.txt", "p2-b.txt", "p2-stream.txt"] {
        check(
            &format!("p2-unlink-{file}"),
            show(dir.unlink_file_at(file), |()| "ok".into()),
        );
    }
    check(
        "p2-remove-directory",
        show(dir.remove_directory_at("p2-dir"), |()| "ok".into()),
    );
}

/// ROOT as a descriptor: the preopen named ROOT, or a directory opened below the preopen
/// whose name is a prefix of ROOT.
fn root_descriptor(root: &str) -> Option<Descriptor> {
    let mut preopens = get_directories();
    if let Some(at) = preopens.iter().position(|(_, name)| name == root) {
        return Some(preopens.swap_remove(at).0);
    }
    preopens.into_iter().find_map(|(dir, name)| {
        let rest = root.strip_prefix(&name)?.strip_prefix('/')?;
        dir.open_at(
            PathFlags::empty(),
            rest,
            OpenFlags::DIRECTORY,
            DescriptorFlags::READ | DescriptorFlags::MUTATE_DIRECTORY,
        )
        .ok()
    })
}

const READ: DescriptorFlags = DescriptorFlags::READ;
const READ_WRITE: DescriptorFlags = DescriptorFlags::READ.union(DescriptorFlags::WRITE);

fn open(
    dir: &Descriptor,
    path: &str,
    open: OpenFlags,
    flags: DescriptorFlags,
) -> Result<Descriptor, ErrorCode> {
    dir.open_at(PathFlags::SYMLINK_FOLLOW, path, open, flags)
}

fn open_flags(dir: &Descriptor) {
    let created = open(
        dir,
        "p2-a.txt",
        OpenFlags::CREATE | OpenFlags::EXCLUSIVE,
        READ_WRITE,
    );
    let created = created.and_then(|file| {
        write_stream(&file, 0, b"file a");
        file.get_type()
    });
    check("p2-open-create-exclusive", show(created, kind));
    let again = open(
        dir,
        "p2-a.txt",
        OpenFlags::CREATE | OpenFlags::EXCLUSIVE,
        READ_WRITE,
    );
    check(
        "p2-open-create-exclusive-existing",
        show(again, |_| "ok".into()),
    );
    check(
        "p2-open-missing",
        show(
            open(dir, "p2-missing.txt", OpenFlags::empty(), READ),
            |_| "ok".into(),
        ),
    );
    check(
        "p2-open-directory-flag-on-file",
        show(open(dir, "p2-a.txt", OpenFlags::DIRECTORY, READ), |_| {
            "ok".into()
        }),
    );
    check(
        "p2-create-directory",
        show(dir.create_directory_at("p2-dir"), |()| "ok".into()),
    );
    check(
        "p2-create-directory-existing",
        show(dir.create_directory_at("p2-dir"), |()| "ok".into()),
    );
    let as_dir = open(dir, "p2-dir", OpenFlags::DIRECTORY, READ);
    check(
        "p2-open-directory-flag-on-directory",
        show(as_dir.and_then(|d| d.get_type()), kind),
    );
    let read_only = open(dir, "p2-a.txt", OpenFlags::empty(), READ);
    check(
        "p2-flags-read-only",
        show(read_only.and_then(|f| f.get_flags()), flags),
    );
    let read_write = open(dir, "p2-a.txt", OpenFlags::empty(), READ_WRITE);
    check(
        "p2-flags-read-write",
        show(read_write.and_then(|f| f.get_flags()), flags),
    );
    let truncated = open(dir, "p2-a.txt", OpenFlags::TRUNCATE, READ_WRITE);
    check(
        "p2-open-truncate",
        show(truncated.and_then(|f| f.stat()), |stat| {
            stat.size.to_string()
        }),
    );
    let write_dir = open(dir, "p2-dir", OpenFlags::empty(), READ_WRITE);
    check(
        "p2-open-directory-for-write",
        show(write_dir, |_| "ok".into()),
    );
    check(
        "p2-stat-at-missing",
        show(dir.stat_at(PathFlags::empty(), "p2-missing.txt"), |_| {
            "ok".into()
        }),
    );
}

/// read-via-stream, write-via-stream and append-via-stream, on read-write and read-only
/// descriptors.
fn streams(dir: &Descriptor) {
    let file = match open(dir, "p2-stream.txt", OpenFlags::CREATE, READ_WRITE) {
        Ok(file) => file,
        Err(code) => return check("p2-stream-open", error(code)),
    };
    check("p2-write-via-stream", write_stream(&file, 0, b"streamed"));
    check(
        "p2-write-via-stream-at-offset",
        write_stream(&file, 4, b"STREAM"),
    );
    check("p2-append-via-stream", append_stream(&file, b"+tail"));
    check("p2-read-via-stream", read_stream(&file, 0));
    check("p2-read-via-stream-at-offset", read_stream(&file, 8));
    check("p2-read-via-stream-past-eof", read_stream(&file, 100));
    check(
        "p2-set-size",
        show(file.set_size(4).and_then(|()| file.stat()), |stat| {
            stat.size.to_string()
        }),
    );
    check("p2-sync", show(file.sync(), |()| "ok".into()));
    check("p2-sync-data", show(file.sync_data(), |()| "ok".into()));
    drop(file);
    let read_only = match open(dir, "p2-stream.txt", OpenFlags::empty(), READ) {
        Ok(file) => file,
        Err(code) => return check("p2-stream-reopen", error(code)),
    };
    check(
        "p2-write-via-stream-read-only",
        write_stream(&read_only, 0, b"nope"),
    );
    check(
        "p2-append-via-stream-read-only",
        append_stream(&read_only, b"nope"),
    );
    check(
        "p2-read-via-stream-after-reopen",
        read_stream(&read_only, 0),
    );
    if let Ok(subdir) = open(dir, "p2-dir", OpenFlags::DIRECTORY, READ) {
        check("p2-read-via-stream-on-directory", read_stream(&subdir, 0));
    }
}

fn write_stream(file: &Descriptor, offset: u64, bytes: &[u8]) -> String {
    match file.write_via_stream(offset) {
        Ok(stream) => stream_result(stream.blocking_write_and_flush(bytes)),
        Err(code) => error(code),
    }
}

fn append_stream(file: &Descriptor, bytes: &[u8]) -> String {
    match file.append_via_stream() {
        Ok(stream) => stream_result(stream.blocking_write_and_flush(bytes)),
        Err(code) => error(code),
    }
}

/// Everything from `offset` to the end, then how the stream ended.
fn read_stream(file: &Descriptor, offset: u64) -> String {
    let stream = match file.read_via_stream(offset) {
        Ok(stream) => stream,
        Err(code) => return error(code),
    };
    let mut bytes = Vec::new();
    loop {
        match stream.blocking_read(4096) {
            Ok(chunk) => bytes.extend(chunk),
            Err(end) => return format!("{} then {}", text(&bytes), stream_result(Err(end))),
        }
    }
}

fn stream_result(result: Result<(), StreamError>) -> String {
    match result {
        Ok(()) => "ok".into(),
        Err(StreamError::Closed) => "closed".into(),
        Err(StreamError::LastOperationFailed(e)) => {
            match wasip2::filesystem::types::filesystem_error_code(&e) {
                Some(code) => format!("stream {}", error(code)),
                None => "stream error (no filesystem code)".into(),
            }
        }
    }
}

fn same_object(dir: &Descriptor) {
    let _ = open(dir, "p2-b.txt", OpenFlags::CREATE, READ_WRITE)
        .map(|file| write_stream(&file, 0, b"file b"));
    let (Ok(a1), Ok(a2), Ok(b)) = (
        open(dir, "p2-a.txt", OpenFlags::empty(), READ),
        open(dir, "p2-a.txt", OpenFlags::empty(), READ_WRITE),
        open(dir, "p2-b.txt", OpenFlags::empty(), READ),
    ) else {
        return check("p2-is-same-object", "error opening the files");
    };
    check("p2-is-same-object-same-file", a1.is_same_object(&a2));
    check("p2-is-same-object-different-files", a1.is_same_object(&b));
    check(
        "p2-is-same-object-file-and-directory",
        a1.is_same_object(dir),
    );
    let again = open(dir, ".", OpenFlags::DIRECTORY, READ);
    check(
        "p2-is-same-object-directory-reopened",
        show(again, |d| d.is_same_object(dir).to_string()),
    );
}

fn metadata_hash(dir: &Descriptor) {
    let (Ok(a), Ok(b)) = (
        open(dir, "p2-a.txt", OpenFlags::empty(), READ),
        open(dir, "p2-b.txt", OpenFlags::empty(), READ),
    ) else {
        return check("p2-metadata-hash", "error opening the files");
    };
    let equal = |x: Result<MetadataHashValue, ErrorCode>,
                 y: Result<MetadataHashValue, ErrorCode>| match (x, y) {
        (Ok(x), Ok(y)) => (x.lower == y.lower && x.upper == y.upper).to_string(),
        (Err(code), _) | (_, Err(code)) => error(code),
    };
    let at = |path: &str| dir.metadata_hash_at(PathFlags::empty(), path);
    check(
        "metadata-hash-stable-for-same-descriptor",
        equal(a.metadata_hash(), a.metadata_hash()),
    );
    check(
        "metadata-hash-at-stable-for-same-path",
        equal(at("p2-a.txt"), at("p2-a.txt")),
    );
    check(
        "metadata-hash-at-equals-descriptor-hash",
        equal(at("p2-a.txt"), a.metadata_hash()),
    );
    check(
        "metadata-hash-equal-for-different-files",
        equal(a.metadata_hash(), b.metadata_hash()),
    );
    check(
        "metadata-hash-at-equal-for-different-files",
        equal(at("p2-a.txt"), at("p2-b.txt")),
    );
    check(
        "metadata-hash-at-equal-for-file-and-directory",
        equal(at("p2-a.txt"), at("p2-dir")),
    );
    check(
        "metadata-hash-at-missing",
        show(at("p2-missing.txt"), |_| "ok".into()),
    );
}

fn read_directory(dir: &Descriptor) {
    let listing = dir.read_directory().and_then(|stream| {
        let mut entries = Vec::new();
        while let Some(entry) = stream.read_directory_entry()? {
            if entry.name.starts_with("p2-") {
                entries.push(format!("{}:{}", entry.name, kind(entry.type_)));
            }
        }
        entries.sort();
        Ok(entries.join(" "))
    });
    check("p2-read-directory", show(listing, |names| names));
    let on_file = open(dir, "p2-a.txt", OpenFlags::empty(), READ)
        .and_then(|file| file.read_directory().map(|_| ()));
    check("p2-read-directory-on-file", show(on_file, |()| "ok".into()));
}

/// Paths as the host receives them, with no wasi-libc in between: empty, `..` out of the
/// preopen, absolute, a trailing slash on a file, through a file, and too long.
fn odd_paths(dir: &Descriptor) {
    let ok = |result: Result<(), ErrorCode>| show(result, |()| "ok".into());
    let opened = |result: Result<Descriptor, ErrorCode>| show(result, |_| "ok".into());
    let long_name = "n".repeat(256);
    let long_path = vec!["d".repeat(250); 17].join("/");
    for (case, path) in [
        ("empty", ""),
        ("dotdot", "../outside"),
        ("dotdot-deep", "p2-dir/../../outside"),
        ("absolute", "/etc/passwd"),
        ("file-trailing-slash", "p2-a.txt/"),
        ("through-file", "p2-a.txt/x"),
        ("name-256", long_name.as_str()),
        ("path-4096", long_path.as_str()),
    ] {
        let stat = dir.stat_at(PathFlags::empty(), path).map(|_| ());
        check(&format!("p2-path-{case}-stat-at"), ok(stat));
        let create = open(dir, path, OpenFlags::CREATE, READ_WRITE);
        check(&format!("p2-path-{case}-open-create"), opened(create));
        check(
            &format!("p2-path-{case}-unlink"),
            ok(dir.unlink_file_at(path)),
        );
        check(
            &format!("p2-path-{case}-create-directory"),
            ok(dir.create_directory_at(path)),
        );
        check(
            &format!("p2-path-{case}-rename-target"),
            ok(dir.rename_at("p2-b.txt", dir, path)),
        );
        let times = dir.set_times_at(
            PathFlags::empty(),
            path,
            wasip2::filesystem::types::NewTimestamp::NoChange,
            wasip2::filesystem::types::NewTimestamp::Now,
        );
        check(&format!("p2-path-{case}-set-times-at"), ok(times));
    }
    // A timestamp past what a host clock holds: refused (`overflow`), never a host panic.
    for (case, seconds, nanoseconds) in [
        ("max-seconds", u64::MAX, 0),
        ("max-seconds-and-nanoseconds", u64::MAX, u32::MAX),
    ] {
        let far = wasip2::filesystem::types::NewTimestamp::Timestamp(
            wasip2::clocks::wall_clock::Datetime {
                seconds,
                nanoseconds,
            },
        );
        let times = dir.set_times_at(
            PathFlags::empty(),
            "p2-b.txt",
            wasip2::filesystem::types::NewTimestamp::NoChange,
            far,
        );
        check(&format!("p2-set-times-{case}"), ok(times));
    }
    check(
        "p2-path-rename-kept",
        show(dir.stat_at(PathFlags::empty(), "p2-b.txt"), |stat| {
            kind(stat.type_)
        }),
    );
}

fn show<T>(result: Result<T, ErrorCode>, describe: impl FnOnce(T) -> String) -> String {
    result.map_or_else(error, describe)
}

fn error(code: ErrorCode) -> String {
    format!("error {}", code.name())
}

/// The WIT name of a descriptor type (`regular-file`, `directory`, ...).
fn kind(kind: DescriptorType) -> String {
    match kind {
        DescriptorType::Unknown => "unknown",
        DescriptorType::BlockDevice => "block-device",
        DescriptorType::CharacterDevice => "character-device",
        DescriptorType::Directory => "directory",
        DescriptorType::Fifo => "fifo",
        DescriptorType::SymbolicLink => "symbolic-link",
        DescriptorType::RegularFile => "regular-file",
        DescriptorType::Socket => "socket",
    }
    .into()
}

/// Descriptor flags as their WIT names joined by `|`.
fn flags(flags: DescriptorFlags) -> String {
    let names = [
        (DescriptorFlags::READ, "read"),
        (DescriptorFlags::WRITE, "write"),
        (DescriptorFlags::FILE_INTEGRITY_SYNC, "file-integrity-sync"),
        (DescriptorFlags::DATA_INTEGRITY_SYNC, "data-integrity-sync"),
        (
            DescriptorFlags::REQUESTED_WRITE_SYNC,
            "requested-write-sync",
        ),
        (DescriptorFlags::MUTATE_DIRECTORY, "mutate-directory"),
    ];
    let set: Vec<&str> = names
        .iter()
        .filter(|(flag, _)| flags.contains(*flag))
        .map(|(_, name)| *name)
        .collect();
    if set.is_empty() {
        "(none)".into()
    } else {
        set.join("|")
    }
}
