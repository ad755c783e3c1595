//! `cargo bench --bench plugin`: instantiate-and-call throughput of a trivial plugin through
//! the embedding API, and the memory each live instance takes. Prints figures; asserts nothing.

#![allow(dead_code)]

#[path = "../all/support/mod.rs"]
mod support;

use support::harness;

use std::time::Instant;

use worldhost::plugin::{CallResult, Payload, PluginHost, plugin_engine};
use worldhost::run::{FsCalls, RunOptions, linker, new_state, new_store};
use worldhost::world::{WorldFile, add_mount_flags};
use worldhost_world_api::World;
use worldhost_world_cloud::CloudWorld;

/// Calls per second issue 13 asks for, on one core; two cores must do more than one.
const TARGET: f64 = 40_000.0;

fn main() {
    let wasm = harness::guest(harness::TEST_GUESTS, "echo_plugin", harness::Target::P2);
    let mut world = WorldFile::load("cloud").unwrap();
    add_mount_flags(&mut world, &[("--mount", &["memory:".to_owned()])]).unwrap();
    println!("worldhost plugin benchmark ({})\n", wasm.display());

    // One core: a current-thread runtime, calls one after another.
    let one_core = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let host = one_core
        .block_on(PluginHost::new(&wasm, &world, RunOptions::default()))
        .unwrap();
    let calls = 20_000;
    let (cpu_before, started) = (cpu_seconds(), Instant::now());
    let one_core_rate = one_core.block_on(async {
        for _ in 0..500 {
            host.call(Payload::Text("warm".into())).await.unwrap();
        }
        let started = Instant::now();
        for i in 0..calls {
            match host.call(Payload::Text(format!("call {i}"))).await.unwrap() {
                CallResult::Returned(Ok(_)) => {}
                other => panic!("call {i}: {other:?}"),
            }
        }
        calls as f64 / started.elapsed().as_secs_f64()
    });
    let one_core_busy = (cpu_seconds() - cpu_before) / started.elapsed().as_secs_f64();
    let verdict = if one_core_rate >= TARGET {
        "PASS"
    } else {
        "MISS"
    };
    println!(
        "one core, sequential: {calls} instantiate-and-call in a row: {one_core_rate:.0} calls/s ({:.1} us each; target >= {TARGET:.0}: {verdict}); \
         {one_core_busy:.2} cores busy, {:.1} us of CPU a call",
        1e6 / one_core_rate,
        one_core_busy * 1e6 / one_core_rate
    );

    // Both cores: 64 calls in flight on a two-thread runtime.
    let two_cores = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let host = std::sync::Arc::new(
        two_cores
            .block_on(PluginHost::new(&wasm, &world, RunOptions::default()))
            .unwrap(),
    );
    let cpu_before = cpu_seconds();
    let started = Instant::now();
    let rate = two_cores.block_on(async {
        let tasks: Vec<_> = (0..64)
            .map(|_| {
                let host = host.clone();
                tokio::spawn(async move {
                    for _ in 0..calls / 64 {
                        host.call(Payload::Text("x".into())).await.unwrap();
                    }
                })
            })
            .collect();
        for task in tasks {
            task.await.unwrap();
        }
        (calls / 64 * 64) as f64 / started.elapsed().as_secs_f64()
    });
    let busy = (cpu_seconds() - cpu_before) / started.elapsed().as_secs_f64();
    let verdict = if rate > one_core_rate { "PASS" } else { "MISS" };
    println!(
        "two cores, 64 in flight: {rate:.0} calls/s ({:.2}x one core; target > 1: {verdict}); \
         {busy:.2} cores busy (below 2: the machine's other load), {:.1} us of CPU a call",
        rate / one_core_rate,
        busy * 1e6 / rate
    );

    // Memory: hold many instances alive at once and see what the process grows by.
    let live = 500;
    let per_instance = one_core.block_on(async {
        let engine = plugin_engine().unwrap();
        let bytes = std::fs::read(&wasm).unwrap();
        let (_, component, _) = worldhost::guest::compile(&engine, &wasm, &bytes).unwrap();
        let cloud = CloudWorld::open(&world.mounts, &world.origin)
            .await
            .unwrap();
        let linker = linker::<CloudWorld>(&engine).unwrap();
        let pre = linker.instantiate_pre(&component).unwrap();
        let options = RunOptions::default();
        let before = rss_kib();
        let mut kept = Vec::with_capacity(live);
        for _ in 0..live {
            let state = new_state(&wasm, &cloud, &options, FsCalls::BlockingPool)
                .await
                .unwrap();
            let mut store = new_store(&engine, state, &options.limits).unwrap();
            let instance = pre.instantiate_async(&mut store).await.unwrap();
            kept.push((store, instance));
        }
        let grown = rss_kib().saturating_sub(before);
        drop(kept);
        grown as f64 / live as f64
    });
    println!(
        "memory: {live} live instances grow the process by {per_instance:.1} KiB each (resident)"
    );
}

/// CPU time (user and system) the process has used so far, in seconds.
fn cpu_seconds() -> f64 {
    // SAFETY: `usage` is valid for writes; RUSAGE_SELF is always accepted.
    let mut usage = unsafe { std::mem::zeroed::<libc::rusage>() };
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) };
    let seconds = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    seconds(usage.ru_utime) + seconds(usage.ru_stime)
}

/// The process's resident set, from /proc.
fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}
