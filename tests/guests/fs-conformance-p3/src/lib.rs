//! `fs-conformance-p3 ROOT`: the conformance guest (`fs-conformance`) built for WASI 0.3 (p3).
//! It prints the same transcript as the wasm32-wasip2 build, line for line and in the same
//! order, so the tests compare the two directly:
//! - the std checks are the same source files (`fs-conformance/src/*.rs`, included below),
//!   built over [`fs`], a std-like API over `wasi:filesystem@0.3` that gives what Rust std and
//!   wasi-libc give over 0.2 (Rust std has no p3);
//! - the wasi:filesystem checks (`fs-conformance/src/p2.rs`) are redone here through the 0.3
//!   bindings: the same operations in the same order, printing the same `p2-*` lines. p3
//!   streams end with a future that carries the error code, where 0.2's streams fail with one,
//!   and both print as `stream error <code>`.
//!
//! ROOT must be an empty preopened directory (`root-empty-at-start`); the checks remove what
//! they create. Output goes through `wasi:cli/stdout@0.3`, one line at a time, then `done`.

#[path = "../../fs-conformance/src/checks.rs"]
mod checks;
#[path = "../../fs-conformance/src/consistency.rs"]
mod consistency;
#[path = "../../fs-conformance/src/dirs.rs"]
mod dirs;
#[path = "../../fs-conformance/src/files.rs"]
mod files;
mod fs;
#[path = "../../fs-conformance/src/large.rs"]
mod large;
#[path = "../../fs-conformance/src/links.rs"]
mod links;
#[path = "../../fs-conformance/src/meta.rs"]
mod meta;
#[path = "../../fs-conformance/src/paths.rs"]
mod paths;
#[path = "../../fs-conformance/src/posix.rs"]
mod posix;
#[path = "../../fs-conformance/src/report.rs"]
mod report;
#[path = "../../fs-conformance/src/root.rs"]
mod root;
mod sys;

use std::future::IntoFuture;

use wasip3::cli::{environment, exit, stderr, stdout};
use wasip3::clocks::system_clock::Instant;
use wasip3::filesystem::preopens::get_directories;
use wasip3::filesystem::types::{
    Descriptor, DescriptorFlags, DescriptorType, ErrorCode, MetadataHashValue, NewTimestamp,
    OpenFlags, PathFlags,
};
use wasip3::wit_stream;

use report::check;
use root::Root;

wasip3::cli::command::export!(Conformance);

struct Conformance;

/// Writes one transcript line to stdout; a refused write exits 3.
fn print_line(line: &str) {
    if write_line(line, stdout::write_via_stream).is_err() {
        exit::exit_with_code(3);
    }
}

/// Says why the program cannot run on stderr and exits 2, as the wasip2 build does.
fn fail(message: &str) -> ! {
    let _ = write_line(message, stderr::write_via_stream);
    exit::exit_with_code(2);
    unreachable!("exit returns only if the host ignores it")
}

/// `line` and a newline, through a 0.3 output stream (`write` is stdout's or stderr's
/// `write-via-stream`).
fn write_line<F: IntoFuture<Output = Result<(), E>>, E>(
    line: &str,
    write: impl FnOnce(wasip3::wit_bindgen::StreamReader<u8>) -> F,
) -> Result<(), E> {
    let text = format!("{line}\n");
    fs::wait(async {
        let (mut tx, rx) = wit_stream::new();
        let (result, ()) = futures::join!(write(rx).into_future(), async {
            tx.write_all(text.into_bytes()).await;
            drop(tx);
        });
        result
    })
}

impl wasip3::exports::cli::run::Guest for Conformance {
    async fn run() -> Result<(), ()> {
        let Some(root) = environment::get_arguments().into_iter().nth(1) else {
            fail("usage: fs-conformance-p3 ROOT")
        };
        let root = Root::new(root);
        if !checks::root_is_empty(&root) {
            fail("fs-conformance-p3: ROOT must be an empty preopened directory")
        }
        checks::std_sections(&root);
        bindings_section(root.dir()).await;
        checks::clean_up(&root);
        print_line("done");
        Ok(())
    }
}

/// The wasip2 build's `p2` section, through the 0.3 bindings.
async fn bindings_section(root: &str) {
    let Some(dir) = root_descriptor(root).await else {
        return check("p2-root-descriptor", "error no preopen holds ROOT");
    };
    check("p2-root-type", show(dir.get_type().await, kind));
    check("p2-root-flags", show(dir.get_flags().await, flags));
    open_flags(&dir).await;
    streams(&dir).await;
    same_object(&dir).await;
    metadata_hash(&dir).await;
    read_directory(&dir).await;
    odd_paths(&dir).await;
    for file in ["p2-a.txt", "p2-b.txt", "p2-stream.txt"] {
        let removed = dir.unlink_file_at(file.to_owned()).await;
        check(&format!("p2-unlink-{file}"), ok(removed));
    }
    let removed = dir.remove_directory_at("p2-dir".to_owned()).await;
    check("p2-remove-directory", ok(removed));
}

/// ROOT as a descriptor: the preopen named ROOT, or a directory opened below the preopen
/// whose name is a prefix of ROOT.
async fn root_descriptor(root: &str) -> Option<Descriptor> {
    let mut preopens = get_directories();
    if let Some(at) = preopens.iter().position(|(_, name)| name == root) {
        return Some(preopens.swap_remove(at).0);
    }
    for (dir, name) in preopens {
        let Some(rest) = root.strip_prefix(&name).and_then(|r| r.strip_prefix('/')) else {
            continue;
        };
        let flags = DescriptorFlags::READ | DescriptorFlags::MUTATE_DIRECTORY;
        let opened = dir
            .open_at(
                PathFlags::empty(),
                rest.to_owned(),
                OpenFlags::DIRECTORY,
                flags,
            )
            .await;
        return opened.ok();
    }
    None
}

const READ: DescriptorFlags = DescriptorFlags::READ;
const READ_WRITE: DescriptorFlags = DescriptorFlags::READ.union(DescriptorFlags::WRITE);

async fn open(
    dir: &Descriptor,
    path: &str,
    open: OpenFlags,
    flags: DescriptorFlags,
) -> Result<Descriptor, ErrorCode> {
    dir.open_at(PathFlags::SYMLINK_FOLLOW, path.to_owned(), open, flags)
        .await
}

async fn open_flags(dir: &Descriptor) {
    let exclusive = OpenFlags::CREATE | OpenFlags::EXCLUSIVE;
    let created = match open(dir, "p2-a.txt", exclusive, READ_WRITE).await {
        Ok(file) => {
            write_stream(&file, 0, b"file a").await;
            file.get_type().await
        }
        Err(code) => Err(code),
    };
    check("p2-open-create-exclusive", show(created, kind));
    let again = open(dir, "p2-a.txt", exclusive, READ_WRITE).await;
    check("p2-open-create-exclusive-existing", opened(again));
    let missing = open(dir, "p2-missing.txt", OpenFlags::empty(), READ).await;
    check("p2-open-missing", opened(missing));
    let on_file = open(dir, "p2-a.txt", OpenFlags::DIRECTORY, READ).await;
    check("p2-open-directory-flag-on-file", opened(on_file));
    let made = dir.create_directory_at("p2-dir".to_owned()).await;
    check("p2-create-directory", ok(made));
    let made = dir.create_directory_at("p2-dir".to_owned()).await;
    check("p2-create-directory-existing", ok(made));
    let as_dir = match open(dir, "p2-dir", OpenFlags::DIRECTORY, READ).await {
        Ok(d) => d.get_type().await,
        Err(code) => Err(code),
    };
    check("p2-open-directory-flag-on-directory", show(as_dir, kind));
    let read_only = match open(dir, "p2-a.txt", OpenFlags::empty(), READ).await {
        Ok(f) => f.get_flags().await,
        Err(code) => Err(code),
    };
    check("p2-flags-read-only", show(read_only, flags));
    let read_write = match open(dir, "p2-a.txt", OpenFlags::empty(), READ_WRITE).await {
        Ok(f) => f.get_flags().await,
        Err(code) => Err(code),
    };
    check("p2-flags-read-write", show(read_write, flags));
    let truncated = match open(dir, "p2-a.txt", OpenFlags::TRUNCATE, READ_WRITE).await {
        Ok(f) => f.stat().await,
        Err(code) => Err(code),
    };
    check(
        "p2-open-truncate",
        show(truncated, |stat| stat.size.to_string()),
    );
    let write_dir = open(dir, "p2-dir", OpenFlags::empty(), READ_WRITE).await;
    check("p2-open-directory-for-write", opened(write_dir));
    let stat = dir
        .stat_at(PathFlags::empty(), "p2-missing.txt".to_owned())
        .await;
    check("p2-stat-at-missing", show(stat, |_| "ok".into()));
}

/// read-via-stream, write-via-stream and append-via-stream, on read-write and read-only
/// descriptors.
async fn streams(dir: &Descriptor) {
    let file = match open(dir, "p2-stream.txt", OpenFlags::CREATE, READ_WRITE).await {
        Ok(file) => file,
        Err(code) => return check("p2-stream-open", error(code)),
    };
    check(
        "p2-write-via-stream",
        write_stream(&file, 0, b"streamed").await,
    );
    check(
        "p2-write-via-stream-at-offset",
        write_stream(&file, 4, b"STREAM").await,
    );
    check("p2-append-via-stream", append_stream(&file, b"+tail").await);
    check("p2-read-via-stream", read_stream(&file, 0).await);
    check("p2-read-via-stream-at-offset", read_stream(&file, 8).await);
    check("p2-read-via-stream-past-eof", read_stream(&file, 100).await);
    let size = match file.set_size(4).await {
        Ok(()) => file.stat().await,
        Err(code) => Err(code),
    };
    check("p2-set-size", show(size, |stat| stat.size.to_string()));
    check("p2-sync", ok(file.sync().await));
    check("p2-sync-data", ok(file.sync_data().await));
    drop(file);
    let read_only = match open(dir, "p2-stream.txt", OpenFlags::empty(), READ).await {
        Ok(file) => file,
        Err(code) => return check("p2-stream-reopen", error(code)),
    };
    check(
        "p2-write-via-stream-read-only",
        write_stream(&read_only, 0, b"nope").await,
    );
    check(
        "p2-append-via-stream-read-only",
        append_stream(&read_only, b"nope").await,
    );
    check(
        "p2-read-via-stream-after-reopen",
        read_stream(&read_only, 0).await,
    );
    if let Ok(subdir) = open(dir, "p2-dir", OpenFlags::DIRECTORY, READ).await {
        check(
            "p2-read-via-stream-on-directory",
            read_stream(&subdir, 0).await,
        );
    }
}

/// Writes `bytes` through a stream; `ok`, or how the host ended it (as 0.2's
/// `blocking-write-and-flush` reports it).
async fn write_stream(file: &Descriptor, offset: u64, bytes: &[u8]) -> String {
    let (mut tx, rx) = wit_stream::new();
    let (written, left) = futures::join!(file.write_via_stream(rx, offset).into_future(), async {
        let left = tx.write_all(bytes.to_vec()).await;
        drop(tx);
        left
    });
    stream_end(written, left.is_empty())
}

async fn append_stream(file: &Descriptor, bytes: &[u8]) -> String {
    let (mut tx, rx) = wit_stream::new();
    let (written, left) = futures::join!(file.append_via_stream(rx).into_future(), async {
        let left = tx.write_all(bytes.to_vec()).await;
        drop(tx);
        left
    });
    stream_end(written, left.is_empty())
}

fn stream_end(result: Result<(), ErrorCode>, all_taken: bool) -> String {
    match result {
        Err(code) => format!("stream {}", error(code)),
        Ok(()) if all_taken => "ok".into(),
        Ok(()) => "closed".into(),
    }
}

/// Everything from `offset` to the end, then how the stream ended (as 0.2's reads report it).
async fn read_stream(file: &Descriptor, offset: u64) -> String {
    let (rx, result) = file.read_via_stream(offset);
    let bytes = rx.collect().await;
    let end = match result.await {
        Ok(()) => "closed".to_owned(),
        Err(code) => format!("stream {}", error(code)),
    };
    format!("{:?} then {end}", String::from_utf8_lossy(&bytes))
}

async fn same_object(dir: &Descriptor) {
    if let Ok(file) = open(dir, "p2-b.txt", OpenFlags::CREATE, READ_WRITE).await {
        write_stream(&file, 0, b"file b").await;
    }
    let (Ok(a1), Ok(a2), Ok(b)) = (
        open(dir, "p2-a.txt", OpenFlags::empty(), READ).await,
        open(dir, "p2-a.txt", OpenFlags::empty(), READ_WRITE).await,
        open(dir, "p2-b.txt", OpenFlags::empty(), READ).await,
    ) else {
        return check("p2-is-same-object", "error opening the files");
    };
    check("p2-is-same-object-same-file", a1.is_same_object(&a2).await);
    check(
        "p2-is-same-object-different-files",
        a1.is_same_object(&b).await,
    );
    check(
        "p2-is-same-object-file-and-directory",
        a1.is_same_object(dir).await,
    );
    let again = match open(dir, ".", OpenFlags::DIRECTORY, READ).await {
        Ok(d) => Ok(d.is_same_object(dir).await.to_string()),
        Err(code) => Err(code),
    };
    check(
        "p2-is-same-object-directory-reopened",
        show(again, |same| same),
    );
}

async fn metadata_hash(dir: &Descriptor) {
    let (Ok(a), Ok(b)) = (
        open(dir, "p2-a.txt", OpenFlags::empty(), READ).await,
        open(dir, "p2-b.txt", OpenFlags::empty(), READ).await,
    ) else {
        return check("p2-metadata-hash", "error opening the files");
    };
    let equal = |x: Result<MetadataHashValue, ErrorCode>,
                 y: Result<MetadataHashValue, ErrorCode>| match (x, y) {
        (Ok(x), Ok(y)) => (x.lower == y.lower && x.upper == y.upper).to_string(),
        (Err(code), _) | (_, Err(code)) => error(code),
    };
    let at = |path: &str| dir.metadata_hash_at(PathFlags::empty(), path.to_owned());
    check(
        "metadata-hash-stable-for-same-descriptor",
        equal(a.metadata_hash().await, a.metadata_hash().await),
    );
    check(
        "metadata-hash-at-stable-for-same-path",
        equal(at("p2-a.txt").await, at("p2-a.txt").await),
    );
    check(
        "metadata-hash-at-equals-descriptor-hash",
        equal(at("p2-a.txt").await, a.metadata_hash().await),
    );
    check(
        "metadata-hash-equal-for-different-files",
        equal(a.metadata_hash().await, b.metadata_hash().await),
    );
    check(
        "metadata-hash-at-equal-for-different-files",
        equal(at("p2-a.txt").await, at("p2-b.txt").await),
    );
    check(
        "metadata-hash-at-equal-for-file-and-directory",
        equal(at("p2-a.txt").await, at("p2-dir").await),
    );
    check(
        "metadata-hash-at-missing",
        show(at("p2-missing.txt").await, |_| "ok".into()),
    );
}

/// The names in a directory (read one entry at a time), or the listing's error.
async fn entries(dir: &Descriptor) -> Result<Vec<(String, DescriptorType)>, ErrorCode> {
    let (mut rx, result) = dir.read_directory();
    let mut entries = Vec::new();
    while let Some(entry) = rx.next().await {
        entries.push((entry.name, entry.type_));
    }
    result.await.map(|()| entries)
}

async fn read_directory(dir: &Descriptor) {
    let listing = entries(dir).await.map(|entries| {
        let mut shown: Vec<String> = entries
            .into_iter()
            .filter(|(name, _)| name.starts_with("p2-"))
            .map(|(name, type_)| format!("{name}:{}", kind(type_)))
            .collect();
        shown.sort();
        shown.join(" ")
    });
    check("p2-read-directory", show(listing, |names| names));
    let on_file = match open(dir, "p2-a.txt", OpenFlags::empty(), READ).await {
        Ok(file) => entries(&file).await.map(|_| ()),
        Err(code) => Err(code),
    };
    check("p2-read-directory-on-file", ok(on_file));
}

/// Paths as the host receives them: empty, `..` out of the preopen, absolute, a trailing slash
/// on a file, through a file, and too long.
async fn odd_paths(dir: &Descriptor) {
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
        let stat = dir.stat_at(PathFlags::empty(), path.to_owned()).await;
        check(&format!("p2-path-{case}-stat-at"), ok(stat.map(|_| ())));
        let create = open(dir, path, OpenFlags::CREATE, READ_WRITE).await;
        check(&format!("p2-path-{case}-open-create"), opened(create));
        let unlinked = dir.unlink_file_at(path.to_owned()).await;
        check(&format!("p2-path-{case}-unlink"), ok(unlinked));
        let made = dir.create_directory_at(path.to_owned()).await;
        check(&format!("p2-path-{case}-create-directory"), ok(made));
        let renamed = dir
            .rename_at("p2-b.txt".to_owned(), dir, path.to_owned())
            .await;
        check(&format!("p2-path-{case}-rename-target"), ok(renamed));
        let times = dir
            .set_times_at(
                PathFlags::empty(),
                path.to_owned(),
                NewTimestamp::NoChange,
                NewTimestamp::Now,
            )
            .await;
        check(&format!("p2-path-{case}-set-times-at"), ok(times));
    }
    // A timestamp past what a host clock holds: refused (`overflow`), never a host panic.
    // (0.3's seconds are signed: `i64::MAX` is its farthest.)
    for (case, seconds, nanoseconds) in [
        ("max-seconds", i64::MAX, 0),
        ("max-seconds-and-nanoseconds", i64::MAX, u32::MAX),
    ] {
        let far = NewTimestamp::Timestamp(Instant {
            seconds,
            nanoseconds,
        });
        let times = dir
            .set_times_at(
                PathFlags::empty(),
                "p2-b.txt".to_owned(),
                NewTimestamp::NoChange,
                far,
            )
            .await;
        check(&format!("p2-set-times-{case}"), ok(times));
    }
    let kept = dir.stat_at(PathFlags::empty(), "p2-b.txt".to_owned()).await;
    check("p2-path-rename-kept", show(kept, |stat| kind(stat.type_)));
}

fn show<T>(result: Result<T, ErrorCode>, describe: impl FnOnce(T) -> String) -> String {
    result.map_or_else(error, describe)
}

fn ok(result: Result<(), ErrorCode>) -> String {
    show(result, |()| "ok".into())
}

fn opened(result: Result<Descriptor, ErrorCode>) -> String {
    show(result, |_| "ok".into())
}

/// `error <code>` with the code's WIT name (`no-entry`), as the 0.2 checks print it.
fn error(code: ErrorCode) -> String {
    let name = match code {
        ErrorCode::Other(Some(message)) => return format!("error other {message}"),
        ErrorCode::Other(None) => return "error other".into(),
        code => format!("{code:?}"),
    };
    let name = name.trim_start_matches("ErrorCode::");
    format!("error {}", kebab(name))
}

/// `NoEntry` as `no-entry`.
fn kebab(camel: &str) -> String {
    let mut out = String::new();
    for (i, c) in camel.chars().enumerate() {
        if c.is_ascii_uppercase() {
            if i > 0 {
                out.push('-');
            }
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

/// The WIT name of a descriptor type (`regular-file`, `directory`, ...); 0.3's `other` is
/// 0.2's `unknown`.
fn kind(kind: DescriptorType) -> String {
    match kind {
        DescriptorType::Other(_) => "unknown",
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
