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

/// Calls per second the issue asks for, on one core.
const TARGET: f64 = 10_000.0;

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
    let rate = one_core.block_on(async {
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
    let verdict = if rate >= TARGET { "PASS" } else { "MISS" };
    println!(
        "one core, sequential: {calls} instantiate-and-call in a row: {rate:.0} calls/s ({:.1} us each; target >= {TARGET:.0}: {verdict})",
        1e6 / rate
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
    let rate = two_cores.block_on(async {
        let started = Instant::now();
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
    println!("two cores, 64 in flight: {rate:.0} calls/s");

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

/// The process's resident set, from /proc.
fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}
