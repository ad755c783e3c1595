//! `fs-bench COMMAND ROOT [ARGS]`: filesystem workloads under the preopened directory ROOT,
//! timed from inside the guest so that host start-up and compilation are not counted.
//! Driven by `tests/bench/fs.rs`.
//!
//! - `all ROOT`: every workload in sequence (a memory store does not outlive the run), one
//!   `WORKLOAD MICROSECONDS` line each.
//! - `write-big ROOT MIB`: writes `big.bin` of MIB MiB in 1 MiB chunks and closes it.
//! - `read-one ROOT NAME OFFSET LEN`: preads LEN bytes of NAME at OFFSET, prints the count.
//! - `make ROOT NAME MIB`: writes NAME, MIB MiB of `fill`'s content.
//! - `rand-read ROOT COUNT`: COUNT of `all`'s random reads of a 64 MiB `big.bin` (made by
//!   `make ROOT big.bin 64`), timed: for profiling one workload.
//! - `remove ROOT ROUNDS`: ROUNDS times, 1,000 small files written (untimed) and removed.
//! - `seq-read ROOT ROUNDS`: a 64 MiB `big.bin` written (untimed), then read ROUNDS times
//!   as `all` reads it, with the checksum and without; each total printed.
//! - `small-read ROOT ROUNDS`: 1,000 small files written (untimed), then read back whole
//!   ROUNDS times.
//! - `list ROOT ROUNDS`: 1,000 small files written (untimed), then their directory read
//!   ROUNDS times.

use std::ffi::c_int;
use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::os::fd::AsRawFd;
use std::time::Instant;

const MIB: usize = 1 << 20;
const BIG_SIZE: usize = 64 * MIB;
const CHUNK: usize = 64 << 10;
const RANDOM_READS: usize = 2_000;
const RANDOM_LEN: usize = 4 << 10;
const SMALL_FILES: usize = 1_000;
const SMALL_SIZE: usize = 1 << 10;
const LISTS: usize = 10;

unsafe extern "C" {
    // std's `FileExt::read_at` is unstable (`wasi_ext`) on wasi with the pinned toolchain;
    // this is the wasi-libc function it is built on.
    fn pread(fd: c_int, buf: *mut std::ffi::c_void, len: usize, offset: i64) -> isize;
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let arg = |i: usize| args.get(i).map(String::as_str).unwrap_or_else(|| usage());
    let num = |i: usize| arg(i).parse::<u64>().unwrap_or_else(|_| usage());
    let root = arg(1);
    let result = match arg(0) {
        "all" => all(root),
        "write-big" => write_file(&format!("{root}/big.bin"), num(2) as usize * MIB, MIB),
        "make" => write_file(&format!("{root}/{}", arg(2)), num(3) as usize * MIB, CHUNK),
        "read-one" => read_one(&format!("{root}/{}", arg(2)), num(3), num(4) as usize),
        "rand-read" => timed("rand-read", || {
            random_reads(&format!("{root}/big.bin"), num(2) as usize)
        }),
        "remove" => removals(root, num(2) as usize),
        "seq-read" => seq_reads(root, num(2) as usize),
        "small-read" => small_reads(root, num(2) as usize),
        "list" => lists(root, num(2) as usize),
        _ => usage(),
    };
    if let Err(e) = result {
        eprintln!("fs-bench: {e}");
        std::process::exit(2);
    }
}

fn usage() -> ! {
    eprintln!(
        "usage: fs-bench all ROOT | write-big ROOT MIB | read-one ROOT NAME OFFSET LEN | make ROOT NAME MIB | rand-read ROOT COUNT | remove ROOT ROUNDS | seq-read ROOT ROUNDS | small-read ROOT ROUNDS | list ROOT ROUNDS"
    );
    std::process::exit(2);
}

/// Deterministic content: chunk `index` of a file is a cheap pattern that differs per chunk,
/// so a checksum notices misplaced chunks.
fn fill(buf: &mut [u8], index: usize) {
    for (i, word) in buf.chunks_exact_mut(8).enumerate() {
        let v = (index as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ (i as u64);
        word.copy_from_slice(&v.to_le_bytes());
    }
}

/// A checksum over 8-byte words (position-sensitive through the rotation).
fn checksum(sum: u64, buf: &[u8]) -> u64 {
    buf.chunks_exact(8).fold(sum, |s, w| {
        s.rotate_left(5) ^ u64::from_le_bytes(w.try_into().unwrap())
    })
}

fn write_file(path: &str, size: usize, chunk: usize) -> io::Result<()> {
    let mut file = File::create(path)?;
    let mut buf = vec![0u8; chunk];
    for index in 0..size / chunk {
        fill(&mut buf, index);
        file.write_all(&buf)?;
    }
    // Dropping closes, which is when a cloud store uploads: counted in the caller's time.
    drop(file);
    Ok(())
}

fn read_at(file: &File, buf: &mut [u8], offset: u64) -> io::Result<usize> {
    // SAFETY: `buf` is valid for writes of `buf.len()` bytes and the descriptor is open.
    let n = unsafe {
        pread(
            file.as_raw_fd(),
            buf.as_mut_ptr().cast(),
            buf.len(),
            offset as i64,
        )
    };
    usize::try_from(n).map_err(|_| io::Error::last_os_error())
}

fn read_one(path: &str, offset: u64, len: usize) -> io::Result<()> {
    let file = File::open(path)?;
    let mut buf = vec![0u8; len];
    println!("{}", read_at(&file, &mut buf, offset)?);
    Ok(())
}

/// `count` preads of 4 KiB at pseudo-random offsets of `path`, a 64 MiB file.
fn random_reads(path: &str, count: usize) -> io::Result<()> {
    let file = File::open(path)?;
    let mut buf = vec![0u8; RANDOM_LEN];
    let mut state: u64 = 0x2545_F491_4F6C_DD1D;
    for _ in 0..count {
        // xorshift64: the same offsets in every run and world.
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let offset = state % (BIG_SIZE - RANDOM_LEN) as u64;
        let n = read_at(&file, &mut buf, offset)?;
        if n != RANDOM_LEN {
            return Err(fail(format!("rand-read: {n} bytes at {offset}")));
        }
    }
    Ok(())
}

/// The checksum of a `BIG_SIZE` file of `fill`'s content, made in `buf` (a chunk long).
fn expected_checksum(buf: &mut [u8]) -> u64 {
    let mut expected = 0;
    for index in 0..BIG_SIZE / CHUNK {
        fill(buf, index);
        expected = checksum(expected, buf);
    }
    expected
}

/// Reads `path` (`BIG_SIZE` bytes) from start to end in `buf`-sized reads; with `expected`,
/// checksums each chunk as it comes (filling it whole first: a short read is legal) and
/// compares.
fn seq_read(path: &str, buf: &mut [u8], expected: Option<u64>) -> io::Result<()> {
    let mut file = File::open(path)?;
    let (mut sum, mut total) = (0, 0);
    loop {
        let filled = match expected {
            Some(_) => {
                let mut filled = 0;
                while filled < buf.len() {
                    match file.read(&mut buf[filled..])? {
                        0 => break,
                        n => filled += n,
                    }
                }
                if filled > 0 {
                    sum = checksum(sum, &buf[..filled]);
                }
                filled
            }
            None => file.read(buf)?,
        };
        if filled == 0 {
            break;
        }
        total += filled;
    }
    if total != BIG_SIZE || expected.is_some_and(|expected| sum != expected) {
        return Err(fail(format!(
            "{path}: {total} bytes, checksum {sum:x} != {expected:x?}"
        )));
    }
    Ok(())
}

/// `rounds` times each: the sequential read of `all` (writing `big.bin` first, untimed), with
/// the guest's checksum and without; the two totals printed.
fn seq_reads(root: &str, rounds: usize) -> io::Result<()> {
    let big = format!("{root}/big.bin");
    write_file(&big, BIG_SIZE, CHUNK)?;
    let mut buf = vec![0u8; CHUNK];
    let expected = expected_checksum(&mut buf);
    let (mut summed, mut raw) = (std::time::Duration::ZERO, std::time::Duration::ZERO);
    for _ in 0..rounds {
        let started = Instant::now();
        seq_read(&big, &mut buf, Some(expected))?;
        summed += started.elapsed();
        let started = Instant::now();
        seq_read(&big, &mut buf, None)?;
        raw += started.elapsed();
    }
    println!("seq-read {}", summed.as_micros());
    println!("seq-read-raw {}", raw.as_micros());
    Ok(())
}

/// Reads back the small files in `dir`, whole, checking each one's length.
fn read_small_files(dir: &str) -> io::Result<()> {
    for i in 0..SMALL_FILES {
        let path = format!("{dir}/f{i:04}");
        let len = fs::read(&path)?.len();
        if len != SMALL_SIZE {
            return Err(fail(format!("small-read: {len} bytes in {path}")));
        }
    }
    Ok(())
}

/// Reads the directory of the 1,000 small files `rounds` times.
fn list_small_files(dir: &str, rounds: usize) -> io::Result<()> {
    for _ in 0..rounds {
        let count = fs::read_dir(dir)?.collect::<io::Result<Vec<_>>>()?.len();
        if count != SMALL_FILES {
            return Err(fail(format!("list: {count} entries in {dir}")));
        }
    }
    Ok(())
}

/// The 1,000 small files written (untimed), then read back `rounds` times (timed, the
/// total printed).
fn small_reads(root: &str, rounds: usize) -> io::Result<()> {
    timed_on_small_files(root, "small-read", |dir| {
        (0..rounds).try_for_each(|_| read_small_files(dir))
    })
}

/// The 1,000 small files written (untimed), then their directory read `rounds` times (timed,
/// the total printed).
fn lists(root: &str, rounds: usize) -> io::Result<()> {
    timed_on_small_files(root, "list", |dir| list_small_files(dir, rounds))
}

/// Writes the 1,000 small files under `ROOT/small`, then times `work` on that directory.
fn timed_on_small_files(
    root: &str,
    name: &str,
    work: impl FnOnce(&str) -> io::Result<()>,
) -> io::Result<()> {
    let dir = format!("{root}/small");
    fs::create_dir(&dir)?;
    for i in 0..SMALL_FILES {
        fs::write(format!("{dir}/f{i:04}"), [7u8; SMALL_SIZE])?;
    }
    let started = Instant::now();
    work(&dir)?;
    println!("{name} {}", started.elapsed().as_micros());
    Ok(())
}

/// `rounds` times: writes the 1,000 small files (untimed), then removes them (timed, the
/// total printed).
fn removals(root: &str, rounds: usize) -> io::Result<()> {
    let dir = format!("{root}/small");
    let mut removing = std::time::Duration::ZERO;
    for _ in 0..rounds {
        fs::create_dir(&dir)?;
        for i in 0..SMALL_FILES {
            fs::write(format!("{dir}/f{i:04}"), [7u8; SMALL_SIZE])?;
        }
        let started = Instant::now();
        for i in 0..SMALL_FILES {
            fs::remove_file(format!("{dir}/f{i:04}"))?;
        }
        fs::remove_dir(&dir)?;
        removing += started.elapsed();
    }
    println!("remove {}", removing.as_micros());
    Ok(())
}

/// Runs `work` and prints its time.
fn timed(name: &str, work: impl FnOnce() -> io::Result<()>) -> io::Result<()> {
    let started = Instant::now();
    work()?;
    println!("{name} {}", started.elapsed().as_micros());
    Ok(())
}

fn fail(what: String) -> io::Error {
    io::Error::other(what)
}

fn all(root: &str) -> io::Result<()> {
    let big = format!("{root}/big.bin");
    let dir = format!("{root}/small");
    let small = |i: usize| format!("{dir}/f{i:04}");

    // The expected checksum, computed outside every timed section.
    let mut buf = vec![0u8; CHUNK];
    let expected = expected_checksum(&mut buf);

    timed("seq-write", || write_file(&big, BIG_SIZE, CHUNK))?;
    timed("seq-read", || seq_read(&big, &mut buf, Some(expected)))?;
    // The same reads with no checksum: what a native `read(2)` loop is compared with (the
    // checksum is guest code, the same in every world).
    timed("seq-read-raw", || seq_read(&big, &mut buf, None))?;
    timed("rand-read", || random_reads(&big, RANDOM_READS))?;
    timed("small-write", || {
        fs::create_dir(&dir)?;
        let mut content = [0u8; SMALL_SIZE];
        for i in 0..SMALL_FILES {
            fill(&mut content, i);
            fs::write(small(i), content)?;
        }
        Ok(())
    })?;
    timed("small-read", || read_small_files(&dir))?;
    timed("small-stat", || {
        for i in 0..SMALL_FILES {
            let len = fs::metadata(small(i))?.len();
            if len != SMALL_SIZE as u64 {
                return Err(fail(format!("small-stat: size {len} of {}", small(i))));
            }
        }
        Ok(())
    })?;
    timed("list", || list_small_files(&dir, LISTS))?;
    timed("remove", || {
        for i in 0..SMALL_FILES {
            fs::remove_file(small(i))?;
        }
        fs::remove_dir(&dir)?;
        fs::remove_file(&big)
    })
}
