//! `cargo bench --bench fs`: how the cloud world's filesystem compares with the cli world's,
//! from the guest's side (`tests/guests/fs-bench` times each workload itself, so host start-up
//! and compilation are not counted), and what an S3 mount costs in bytes and host memory.
//! Prints a report; asserts only that every run succeeds.

// The integration tests' helpers, shared as they are; the bench uses a part of them.
#![allow(dead_code)]

#[path = "../all/support/mod.rs"]
mod support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use support::harness::{self, Measured, TEST_GUESTS, Target, run_measured};
use support::proxy::Proxy;
use support::stores::{Backend, StoreServer};

/// Runs of each backend; the median is reported.
const ROUNDS: usize = 3;
/// The workloads `fs-bench all` prints, in its order.
const WORKLOADS: [&str; 8] = [
    "seq-write",
    "seq-read",
    "rand-read",
    "small-write",
    "small-read",
    "small-stat",
    "list",
    "remove",
];
/// Backend speed targets relative to the cli world (cli time / backend time).
const MEMORY_TARGET: f64 = 1.0;
const LOCAL_TARGET: f64 = 0.8;
/// The object the S3 ranged read reads from, and the read.
const RANGED_OBJECT_MIB: u64 = 64;
const RANGED_OFFSET: u64 = 32 << 20;
const RANGED_LEN: u64 = 4096;
/// The file written for the peak-memory figure, and the peak allowed.
const PEAK_WRITE_MIB: u64 = 1024;
const PEAK_TARGET_MIB: f64 = 64.0;
/// No run may take longer than this (the 1 GiB S3 upload is the slowest).
const RUN_TIMEOUT: Duration = Duration::from_secs(900);

fn main() {
    let wasm = harness::guest(TEST_GUESTS, "fs-bench", Target::P2);
    println!("worldhost filesystem benchmark (guest: {})", wasm.display());
    compare_worlds(&wasm);
    s3_ranged_read(&wasm);
    s3_peak_memory(&wasm);
}

/// Runs `command` to the end, at most `RUN_TIMEOUT`, measured from outside.
fn measure(command: Command) -> Measured {
    run_measured(command, RUN_TIMEOUT)
}

/// A `host run` of fs-bench with the host options `options` and the guest arguments `args`.
fn fs_bench(wasm: &Path, options: &[&str], args: &[&str]) -> Command {
    let mut command = harness::host();
    command.arg("run").args(options).arg(wasm).args(args);
    command
}

/// Runs `command` and returns what it measured, failing the bench with its output if it
/// failed.
#[track_caller]
fn measure_ok(command: Command, what: &str) -> Measured {
    let measured = measure(command);
    assert_eq!(measured.ran.code, 0, "{what} failed: {:#?}", measured.ran);
    measured
}

fn median(mut values: Vec<u64>) -> u64 {
    values.sort_unstable();
    values[values.len() / 2]
}

fn ms(micros: u64) -> String {
    format!("{:.1}", micros as f64 / 1000.0)
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

/// `fs-bench all` in the cli world and on the cloud world's memory and local-directory
/// stores, rounds alternating between them so that drift in the machine hits all three alike.
fn compare_worlds(wasm: &Path) {
    const BACKENDS: [&str; 3] = ["cli", "cloud memory:", "cloud file://"];
    // times[backend][workload] = the microseconds of each round.
    let mut times = vec![BTreeMap::<String, Vec<u64>>::new(); BACKENDS.len()];
    let mut peaks = vec![Vec::new(); BACKENDS.len()];
    for _ in 0..ROUNDS {
        for (b, backend) in BACKENDS.iter().enumerate() {
            // A fresh directory each run, gone when the run is measured.
            let dir = tempfile::tempdir().expect("cannot create a temporary directory");
            let options: Vec<String> = match b {
                0 => vec!["--dir".into(), format!("{}::data", dir.path().display())],
                1 => ["--world", "cloud", "--mount", "memory:::data"]
                    .map(String::from)
                    .into(),
                _ => vec![
                    "--world".into(),
                    "cloud".into(),
                    "--mount".into(),
                    format!("file://{}::data", dir.path().display()),
                ],
            };
            let options: Vec<&str> = options.iter().map(String::as_str).collect();
            let measured = measure_ok(
                fs_bench(wasm, &options, &["all", "data"]),
                &format!("{backend} all"),
            );
            for line in measured.ran.stdout.lines() {
                let (name, micros) = line.split_once(' ').expect("a `WORKLOAD MICROS` line");
                times[b]
                    .entry(name.to_owned())
                    .or_default()
                    .push(micros.parse().unwrap());
            }
            peaks[b].push(measured.peak_rss_kib);
        }
    }

    println!();
    println!("== Workloads: cli world vs cloud world (median of {ROUNDS} runs, guest-side times)");
    println!("   64 MiB file in 64 KiB chunks; 2,000 random 4 KiB preads; 1,000 files of 1 KiB;");
    println!("   list = 10 read_dirs of those 1,000; speed = cli time / backend time");
    println!("   (targets: memory >= {MEMORY_TARGET:.1}x, local >= {LOCAL_TARGET:.1}x)");
    println!();
    println!(
        "{:<12} {:>10} {:>12} {:>12}   {:<16} local speed",
        "workload", "cli ms", "memory ms", "local ms", "memory speed"
    );
    let mut misses = Vec::new();
    let mut totals = [0u64; 3];
    for workload in WORKLOADS {
        let m: Vec<u64> = (0..3)
            .map(|b| {
                median(
                    times[b]
                        .get(workload)
                        .cloned()
                        .unwrap_or_else(|| panic!("{} printed no {workload}", BACKENDS[b])),
                )
            })
            .collect();
        for b in 0..3 {
            totals[b] += m[b];
        }
        let mut verdict = |b: usize, target: f64| {
            let speed = m[0] as f64 / m[b].max(1) as f64;
            let pass = speed >= target;
            if !pass {
                misses.push(format!(
                    "{workload} on {}: {speed:.2}x < {target:.1}x",
                    BACKENDS[b]
                ));
            }
            format!("{speed:>5.2}x {}", if pass { "PASS" } else { "MISS" })
        };
        let (memory, local) = (verdict(1, MEMORY_TARGET), verdict(2, LOCAL_TARGET));
        println!(
            "{workload:<12} {:>10} {:>12} {:>12}   {memory:<16} {local}",
            ms(m[0]),
            ms(m[1]),
            ms(m[2])
        );
    }
    println!(
        "{:<12} {:>10} {:>12} {:>12}   {:>5.2}x            {:>5.2}x",
        "total",
        ms(totals[0]),
        ms(totals[1]),
        ms(totals[2]),
        totals[0] as f64 / totals[1] as f64,
        totals[0] as f64 / totals[2] as f64,
    );
    println!();
    println!(
        "host peak RSS during `all` (median): cli {:.1} MiB, memory {:.1} MiB, local {:.1} MiB",
        mib(median(peaks[0].clone())),
        mib(median(peaks[1].clone())),
        mib(median(peaks[2].clone())),
    );
    println!(
        "workload targets missed: {}",
        if misses.is_empty() {
            "none".into()
        } else {
            misses.len().to_string()
        }
    );
    for miss in misses {
        println!("  - {miss}");
    }
}

/// A `host run --world cloud` of fs-bench on `s3://BUCKET/bench` at `data`, reaching moto
/// through `proxy`.
fn on_s3(server: &StoreServer, proxy: &Proxy, wasm: &Path, args: &[&str]) -> Command {
    let mount = format!("{}::data", server.url("bench"));
    let mut command = fs_bench(wasm, &["--world", "cloud", "--mount", &mount], args);
    server.set_env_via(&mut command, &proxy.endpoint);
    command
}

/// moto's request log (one line per request it answered). The server's log file is private
/// to the test helpers, so it is found as `server.log` in the working directory of the
/// moto_server process listening on the server's port.
fn moto_requests(server: &StoreServer) -> Vec<String> {
    let port = server.endpoint.rsplit(':').next().unwrap();
    let wanted = format!("\0-p\0{port}\0");
    let log: Option<PathBuf> = std::fs::read_dir("/proc").ok().and_then(|procs| {
        procs.flatten().find_map(|entry| {
            let cmdline = std::fs::read(entry.path().join("cmdline")).ok()?;
            let cmdline = String::from_utf8_lossy(&cmdline);
            (cmdline.contains("moto_server") && cmdline.contains(&wanted))
                .then(|| entry.path().join("cwd/server.log"))
        })
    });
    let text = log
        .and_then(|log| std::fs::read_to_string(log).ok())
        .unwrap_or_default();
    text.lines()
        .filter(|line| line.contains(" HTTP/1.1"))
        // Without the client and date prefix.
        .map(|line| strip_colours(line.split_once("] ").map_or(line, |(_, rest)| rest)))
        .collect()
}

/// `text` without the terminal colour codes (`ESC[...m`) werkzeug puts around request lines.
fn strip_colours(text: &str) -> String {
    let mut out = String::new();
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\x1b' {
            chars.by_ref().find(|&c| c == 'm');
        } else {
            out.push(c);
        }
    }
    out
}

/// A 4 KiB read from the middle of a 64 MiB S3 object: how many bytes cross the wire.
fn s3_ranged_read(wasm: &Path) {
    let server = StoreServer::start(Backend::S3);
    let proxy = Proxy::start(&server.address());
    let made = measure_ok(
        on_s3(
            &server,
            &proxy,
            wasm,
            &["make", "data", "big.bin", &RANGED_OBJECT_MIB.to_string()],
        ),
        "make on S3",
    );
    let made_up = proxy.uploaded();
    let before = moto_requests(&server).len();
    proxy.reset_counters();
    let read = measure_ok(
        on_s3(
            &server,
            &proxy,
            wasm,
            &[
                "read-one",
                "data",
                "big.bin",
                &RANGED_OFFSET.to_string(),
                &RANGED_LEN.to_string(),
            ],
        ),
        "read-one on S3",
    );
    let (down, up) = (proxy.downloaded(), proxy.uploaded());
    let requests = moto_requests(&server);
    let requests = &requests[before.min(requests.len())..];

    println!();
    println!("== S3 ranged read (moto on 127.0.0.1, through a counting proxy)");
    println!(
        "made a {RANGED_OBJECT_MIB} MiB object with `make`: {:.2} s wall, {:.1} MiB uploaded",
        made.wall.as_secs_f64(),
        made_up as f64 / (1 << 20) as f64
    );
    println!(
        "`read-one data big.bin {RANGED_OFFSET} {RANGED_LEN}` read {} bytes in {:.2} s wall (whole host run)",
        read.ran.stdout.trim(),
        read.wall.as_secs_f64()
    );
    let pass = down <= 2 * RANGED_LEN;
    println!(
        "server -> host: {down} bytes = {:.2}x the {RANGED_LEN} asked for (target <= 2x: {}); host -> server: {up} bytes",
        down as f64 / RANGED_LEN as f64,
        if pass { "PASS" } else { "MISS" }
    );
    println!(
        "requests moto answered for the run (HTTP headers included in the bytes above): {}",
        requests.len()
    );
    for request in requests {
        println!("  {request}");
    }
    println!(
        "host peak RSS for this run (a baseline for the next figure): {:.1} MiB",
        mib(read.peak_rss_kib)
    );
}

/// A 1 GiB file written through an S3 mount: the host's peak memory must not grow with it.
fn s3_peak_memory(wasm: &Path) {
    let server = StoreServer::start(Backend::S3);
    let proxy = Proxy::start(&server.address());
    let size = PEAK_WRITE_MIB.to_string();
    // Only the run's requests: moto's log starts with the bucket's creation.
    let before = moto_requests(&server).len();
    let written = measure_ok(
        on_s3(&server, &proxy, wasm, &["write-big", "data", &size]),
        "write-big on S3",
    );
    let requests = moto_requests(&server).split_off(before);
    let parts = requests
        .iter()
        .filter(|r| r.contains("partNumber="))
        .count();
    let peak = mib(written.peak_rss_kib);

    println!();
    println!(
        "== S3 peak memory: `write-big data {PEAK_WRITE_MIB}` ({PEAK_WRITE_MIB} MiB in 1 MiB writes, then close)"
    );
    println!(
        "wall {:.2} s ({:.1} MiB/s), {:.1} MiB sent to the server, {} requests ({parts} upload parts)",
        written.wall.as_secs_f64(),
        PEAK_WRITE_MIB as f64 / written.wall.as_secs_f64(),
        proxy.uploaded() as f64 / (1 << 20) as f64,
        requests.len(),
    );
    println!(
        "host peak RSS: {peak:.1} MiB (target <= {PEAK_TARGET_MIB:.0} MiB: {})",
        if peak <= PEAK_TARGET_MIB {
            "PASS"
        } else {
            "MISS"
        }
    );
}
