//! The attacks, through the raw wasi:filesystem 0.2 bindings.

use std::io::Write;
use std::process::exit;

use wasip2::filesystem::preopens::get_directories;
use wasip2::filesystem::types::{Descriptor, DescriptorFlags, ErrorCode, OpenFlags, PathFlags};
use wasip2::io::streams::{InputStream, OutputStream, StreamError};

const MIB: usize = 1 << 20;
const READ: DescriptorFlags = DescriptorFlags::READ;
const READ_WRITE: DescriptorFlags = DescriptorFlags::READ.union(DescriptorFlags::WRITE);

pub fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mode = args.first().map(String::as_str).unwrap_or("");
    let rest = &args[args.len().min(1)..];
    match mode {
        "dotdot" => dotdot(number(rest, 0)),
        "segment" => segment(number(rest, 0)),
        "at-top" => at_top(
            arg(rest, 0),
            number(rest, 1),
            rest.get(2).is_some_and(|then| then == "fill"),
        ),
        "fill" => fill(&preopen(), "fill.bin", 0),
        "objects" => objects(number(rest, 0)),
        "handles" => handles(number(rest, 0)),
        "write-streams" => write_streams(number(rest, 0), number(rest, 1)),
        "read-streams" => read_streams(number(rest, 0), number(rest, 1)),
        "huge-read" => huge_read(number(rest, 0)),
        "listings" => listings(
            arg(rest, 0),
            number(rest, 1),
            rest.get(2).is_some_and(|then| then == "drop"),
        ),
        "greedy-streams" => greedy_streams(number(rest, 0), number(rest, 1)),
        "readdir" => readdir(arg(rest, 0), rest.get(1).map(|_| number(rest, 1))),
        "stdout-flood" => {
            let line = [b'y'; 1023];
            let mut out = std::io::stdout();
            loop {
                out.write_all(&line).unwrap_or_else(|e| fail(&e));
            }
        }
        "symlink-escape" => symlink_escape(),
        "grow-memory" => {
            let mut blocks = Vec::new();
            loop {
                blocks.push(std::hint::black_box(vec![1u8; MIB]));
            }
        }
        other => {
            eprintln!("hostile: unknown mode `{other}`");
            exit(2)
        }
    }
}

/// The path `x/` × n then `../` × n: resolves to `.` (after n directories that do not exist),
/// in 5n bytes.
fn dotdot(n: usize) {
    let path = "x/".repeat(n) + &"../".repeat(n);
    let dir = preopen();
    report(
        &format!("open {} bytes", path.len()),
        dir.open_at(PathFlags::SYMLINK_FOLLOW, &path, OpenFlags::empty(), READ)
            .map(drop),
    );
    report(
        &format!("stat {} bytes", path.len()),
        dir.stat_at(PathFlags::empty(), &path).map(drop),
    );
}

/// A file and a directory whose name is one segment of `n` bytes.
fn segment(n: usize) {
    let name = "a".repeat(n);
    let dir = preopen();
    report(
        &format!("create file {n}"),
        dir.open_at(PathFlags::empty(), &name, OpenFlags::CREATE, READ_WRITE)
            .map(drop),
    );
    report(
        &format!("create directory {n}"),
        dir.create_directory_at(&name),
    );
}

/// One step at the top of u64 on a file of `written` bytes: `set-size` to 2^64 − W, a write
/// of a byte at 2^64 − 1 (`write-end`), a write of 1 MiB at 2^64 − 1024 (its end past 2^64:
/// `write-over`), or reads there (`read`). The host's arithmetic must neither panic nor wrap:
/// an error code, or (growth counts against the store-write budget) a stop at that limit.
/// With `fill`, a fill follows: the budget must still hold afterwards.
fn at_top(step: &str, written: usize, then_fill: bool) {
    let dir = preopen();
    let file = create(&dir, "top.bin");
    report(
        &format!("write {written}"),
        file.write(&vec![b'w'; written], 0),
    );
    match step {
        "set-size" => report(
            "set-size 2^64-W",
            file.set_size(u64::MAX - written as u64 + 1),
        ),
        "write-end" => report("write 1 byte at 2^64-1", file.write(b"x", u64::MAX)),
        "write-over" => report(
            "write 1 MiB at 2^64-1024",
            file.write(&vec![b'g'; MIB], u64::MAX - 1023),
        ),
        "read" => {
            report(
                "read 1 byte at 2^64-1",
                file.read(1, u64::MAX).map(|(bytes, _)| bytes.len()),
            );
            report(
                "read 2^64-1 bytes at 1",
                file.read(u64::MAX, 1).map(|(bytes, _)| bytes.len()),
            );
        }
        "streams" => {
            let stream = file.write_via_stream(u64::MAX);
            let wrote = stream.map(|out| stream_outcome(out.blocking_write_and_flush(b"x")));
            report("stream write 1 byte at 2^64-1", wrote);
            let stream = file.read_via_stream(u64::MAX);
            let read = stream.map(|input| stream_outcome(input.blocking_read(1).map(|b| b.len())));
            report("stream read 1 byte at 2^64-1", read);
        }
        other => fail(&format!("unknown step `{other}`")),
    }
    report("size", file.stat().map(|stat| stat.size));
    drop(file);
    if then_fill {
        fill(&dir, "top-fill.bin", 0)
    }
}

/// The most [`fill`] writes before it gives up on being stopped: far past the limits the
/// tests set, and small enough that a world without a store-write limit (the cli world's own
/// directory) is not filled up.
const FILL_MAX: u64 = 64 << 20;

/// 1 MiB blocks written to `name` from `offset` on, until the host stops the run; a refused
/// write, or [`FILL_MAX`] written unstopped, exits 2 (a test then sees the wrong outcome).
fn fill(dir: &Descriptor, name: &str, mut offset: u64) -> ! {
    let file = create(dir, name);
    let block = vec![0u8; MIB];
    while offset < FILL_MAX {
        match file.write(&block, offset) {
            Ok(n) => offset += n,
            Err(code) => fail(&format!("fill at {offset}: error {}", code.name())),
        }
    }
    fail(&format!("fill: {offset} bytes written and not stopped"))
}

/// `n` new empty files; a refusal is reported once with its code, and the guest goes on
/// creating (each further one must be refused the same way), then writes and reads back the
/// first file, which was made.
fn objects(n: usize) {
    let dir = preopen();
    let (mut made, mut refused) = (0, 0);
    for i in 0..n {
        let name = format!("obj-{i}");
        match dir.open_at(
            PathFlags::empty(),
            &name,
            OpenFlags::CREATE | OpenFlags::EXCLUSIVE,
            READ_WRITE,
        ) {
            Ok(_) => made += 1,
            Err(code) => {
                if refused == 0 || code != ErrorCode::Quota {
                    println!("create {name}: error {}", code.name());
                }
                refused += 1;
            }
        }
    }
    println!("objects: ok {made} made, {refused} refused");
    let file = dir
        .open_at(PathFlags::empty(), "obj-0", OpenFlags::empty(), READ_WRITE)
        .unwrap_or_else(|code| fail(&format!("reopen obj-0: error {}", code.name())));
    report("went on: write obj-0", file.write(b"still here", 0));
    report(
        "went on: read obj-0",
        file.read(100, 0)
            .map(|(bytes, _)| String::from_utf8_lossy(&bytes).into_owned()),
    );
}

/// One file opened `n` times, every handle held to the end.
fn handles(n: usize) {
    let dir = preopen();
    drop(create(&dir, "h.bin"));
    let mut held = Vec::with_capacity(n);
    for i in 0..n {
        match dir.open_at(PathFlags::empty(), "h.bin", OpenFlags::empty(), READ) {
            Ok(file) => held.push(file),
            Err(code) => fail(&format!("open {i}: error {}", code.name())),
        }
    }
    println!("handles: ok {} held", held.len());
}

/// `n` files, each with a write stream; `mib` MiB pushed into each, 1 MiB at a time, round
/// robin, as fast as the streams take them (`check-write`), all streams open until every byte
/// is pushed; then each is flushed and closed.
fn write_streams(n: usize, mib: usize) {
    let dir = preopen();
    let files: Vec<Descriptor> = (0..n).map(|i| create(&dir, &format!("ws-{i}"))).collect();
    let streams: Vec<OutputStream> = files
        .iter()
        .map(|file| {
            file.write_via_stream(0)
                .unwrap_or_else(|code| fail(&format!("write-via-stream: error {}", code.name())))
        })
        .collect();
    let block = vec![b's'; MIB];
    for _ in 0..mib {
        for stream in &streams {
            push(stream, &block);
        }
    }
    for stream in &streams {
        stream
            .blocking_flush()
            .unwrap_or_else(|e| fail(&stream_error("flush", e)));
    }
    drop(streams);
    let sizes: Vec<u64> = files
        .iter()
        .map(|file| file.stat().map(|stat| stat.size).unwrap_or(0))
        .collect();
    let whole = sizes.iter().all(|&size| size == (mib * MIB) as u64);
    println!("write-streams: ok {n} files of {mib} MiB, every one whole: {whole}");
}

/// Writes all of `bytes` into `stream`, in the pieces `check-write` permits, waiting when it
/// permits none.
fn push(stream: &OutputStream, mut bytes: &[u8]) {
    while !bytes.is_empty() {
        let permitted = stream
            .check_write()
            .unwrap_or_else(|e| fail(&stream_error("check-write", e)));
        if permitted == 0 {
            stream.subscribe().block();
            continue;
        }
        let now = bytes.len().min(permitted as usize);
        stream
            .write(&bytes[..now])
            .unwrap_or_else(|e| fail(&stream_error("write", e)));
        bytes = &bytes[now..];
    }
}

/// A file of `mib` MiB read whole through `n` read streams open at once: first a byte from
/// each (so every stream has started), then round robin with reads of 2^64 − 1 bytes until
/// each ends.
fn read_streams(n: usize, mib: usize) {
    let dir = preopen();
    let file = create(&dir, "rs.bin");
    write_mib(&file, mib);
    let streams: Vec<InputStream> = (0..n)
        .map(|_| {
            file.read_via_stream(0)
                .unwrap_or_else(|code| fail(&format!("read-via-stream: error {}", code.name())))
        })
        .collect();
    let mut total: u64 = 0;
    for stream in &streams {
        total += read_some(stream, 1).unwrap_or(0);
    }
    let mut open: Vec<&InputStream> = streams.iter().collect();
    while !open.is_empty() {
        open.retain(|stream| match read_some(stream, u64::MAX) {
            Some(read) => {
                total += read;
                true
            }
            None => false,
        });
    }
    let whole = total == n as u64 * mib as u64 * MIB as u64;
    println!("read-streams: ok {n} streams, {total} bytes, every one whole: {whole}");
}

/// Bytes one blocking read of at most `len` got, or `None` at the end of the stream.
fn read_some(stream: &InputStream, len: u64) -> Option<u64> {
    match stream.blocking_read(len) {
        Ok(bytes) => Some(bytes.len() as u64),
        Err(StreamError::Closed) => None,
        Err(e) => fail(&stream_error("read", e)),
    }
}

/// One `read` of 2^64 − 1 bytes from a file of `mib` MiB, and one at offset 2^64 − 1.
fn huge_read(mib: usize) {
    let dir = preopen();
    let file = create(&dir, "huge.bin");
    write_mib(&file, mib);
    report(
        "read 2^64-1 at 0",
        file.read(u64::MAX, 0).map(|(bytes, end)| {
            let all = bytes.iter().all(|&b| b == b'r');
            format!("{} bytes, at end: {end}, content right: {all}", bytes.len())
        }),
    );
    report(
        "read 2^64-1 at 2^64-1",
        file.read(u64::MAX, u64::MAX)
            .map(|(bytes, end)| format!("{} bytes, at end: {end}", bytes.len())),
    );
}

/// The number of entries one `read-directory` of `path` lists; with `make`, the directory is
/// first made with that many empty files in it.
fn readdir(path: &str, make: Option<usize>) {
    let root = preopen();
    if let Some(files) = make {
        root.create_directory_at(path)
            .unwrap_or_else(|code| fail(&format!("mkdir {path}: error {}", code.name())));
        for i in 0..files {
            drop(create(
                &root,
                &format!("{path}/an-entry-with-a-longish-name-{i:06}"),
            ));
        }
    }
    let dir = root
        .open_at(PathFlags::empty(), path, OpenFlags::DIRECTORY, READ)
        .unwrap_or_else(|code| fail(&format!("open {path}: error {}", code.name())));
    let entries = dir
        .read_directory()
        .unwrap_or_else(|code| fail(&format!("read-directory: error {}", code.name())));
    let mut count: u64 = 0;
    loop {
        match entries.read_directory_entry() {
            Ok(Some(_)) => count += 1,
            Ok(None) => break,
            Err(code) => fail(&format!("entry {count}: error {}", code.name())),
        }
    }
    println!("readdir: ok {count} entries");
}

/// `k` listings of the directory `path` held open at once, each read to its first entry; with
/// `drop`, each is read whole and dropped instead (a guest busy in host calls, holding
/// nothing).
fn listings(path: &str, k: usize, drop_each: bool) {
    let dir = preopen()
        .open_at(PathFlags::empty(), path, OpenFlags::DIRECTORY, READ)
        .unwrap_or_else(|code| fail(&format!("open {path}: error {}", code.name())));
    let mut held = Vec::with_capacity(if drop_each { 0 } else { k });
    for i in 0..k {
        let entries = dir
            .read_directory()
            .unwrap_or_else(|code| fail(&format!("read-directory {i}: error {}", code.name())));
        loop {
            match entries.read_directory_entry() {
                Ok(Some(_)) if drop_each => continue,
                Ok(_) => break,
                Err(code) => fail(&format!("listing {i}: error {}", code.name())),
            }
        }
        if !drop_each {
            held.push(entries);
        }
    }
    println!("listings: ok {k} read, {} held", held.len());
}

/// `n` files, each with a write stream into which one write of `mib` MiB is made at once,
/// ignoring `check-write` (WASI says such a write is an error).
fn greedy_streams(n: usize, mib: usize) {
    let dir = preopen();
    let block = vec![b'g'; mib * MIB];
    let mut held = Vec::new();
    for i in 0..n {
        let file = create(&dir, &format!("gs-{i}"));
        let stream = file
            .write_via_stream(0)
            .unwrap_or_else(|code| fail(&format!("write-via-stream: error {}", code.name())));
        if let Err(e) = stream.write(&block) {
            println!("{}", stream_error(&format!("write {i}"), e));
            return;
        }
        held.push((file, stream));
    }
    println!("greedy-streams: ok {n} writes of {mib} MiB taken");
}

/// Links whose targets leave the preopen (each must be refused), then one that stays inside.
fn symlink_escape() {
    let dir = preopen();
    let targets = [
        ("up", ".."),
        ("up3", "../../.."),
        ("absolute", "/etc"),
        ("down-then-up", "sub/../../outside"),
        ("inside", "inside.txt"),
    ];
    for (link, target) in targets {
        report(
            &format!("symlink-at {target} {link}"),
            dir.symlink_at(target, link),
        );
    }
}

/// The first preopened directory.
fn preopen() -> Descriptor {
    get_directories()
        .into_iter()
        .next()
        .map(|(dir, _)| dir)
        .unwrap_or_else(|| fail(&"no preopened directory"))
}

fn create(dir: &Descriptor, name: &str) -> Descriptor {
    dir.open_at(PathFlags::empty(), name, OpenFlags::CREATE, READ_WRITE)
        .unwrap_or_else(|code| fail(&format!("create {name}: error {}", code.name())))
}

/// `mib` MiB of `r` written to `file` from offset 0.
fn write_mib(file: &Descriptor, mib: usize) {
    let block = vec![b'r'; MIB];
    for i in 0..mib {
        let mut at = 0;
        while at < MIB {
            let offset = (i * MIB + at) as u64;
            at += file
                .write(&block[at..], offset)
                .unwrap_or_else(|code| fail(&format!("write: error {}", code.name())))
                as usize;
        }
    }
}

/// Prints `STEP: ok VALUE` or `STEP: error CODE`.
fn report<T: std::fmt::Debug>(step: &str, result: Result<T, ErrorCode>) {
    match result {
        Ok(value) => println!("{step}: ok {value:?}"),
        Err(code) => println!("{step}: error {}", code.name()),
    }
}

/// A stream call's outcome in a line: its value, `closed`, or the filesystem error code of the
/// failed operation.
fn stream_outcome<T: std::fmt::Debug>(result: Result<T, StreamError>) -> String {
    match result {
        Ok(value) => format!("{value:?}"),
        Err(StreamError::Closed) => "closed".to_owned(),
        Err(StreamError::LastOperationFailed(error)) => {
            match wasip2::filesystem::types::filesystem_error_code(&error) {
                Some(code) => format!("failed {}", code.name()),
                None => format!("failed: {}", error.to_debug_string()),
            }
        }
    }
}

fn stream_error(step: &str, error: StreamError) -> String {
    match error {
        StreamError::Closed => format!("{step}: stream closed"),
        StreamError::LastOperationFailed(e) => format!("{step}: {}", e.to_debug_string()),
    }
}

fn arg(rest: &[String], index: usize) -> &str {
    rest.get(index).map(String::as_str).unwrap_or_else(|| {
        eprintln!("hostile: missing argument {}", index + 1);
        exit(2)
    })
}

fn number(rest: &[String], index: usize) -> usize {
    arg(rest, index).parse().unwrap_or_else(|e| fail(&e))
}

fn fail(error: &dyn std::fmt::Display) -> ! {
    let _ = std::io::stdout().flush();
    eprintln!("hostile: {error}");
    exit(2)
}
