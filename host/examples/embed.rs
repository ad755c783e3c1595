//! Embedding worldhost: set a plugin up once, then call it many times, concurrently, each call
//! on a fresh instance.
//!
//!     cargo run --release --example embed -- PLUGIN.wasm [INPUT...]
//!
//! For example, with the test suite's echo plugin (built by `cd tests/guests && cargo build --release`):
//!
//!     cargo run --release --example embed -- target/guests/wasm32-wasip2/release/echo_plugin.wasm one two count

use std::sync::Arc;

use worldhost::plugin::{CallResult, Payload, PluginHost};
use worldhost::run::RunOptions;
use worldhost::world::{WorldFile, add_mount_flags};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let plugin = args
        .next()
        .ok_or_else(|| anyhow::anyhow!("usage: embed PLUGIN.wasm [INPUT...]"))?;
    let inputs: Vec<String> = args.collect();

    // The cloud world, with an in-memory store at `.` instead of the default store.
    let mut world = WorldFile::load("cloud")?;
    add_mount_flags(&mut world, &[("--mount", &["memory:".to_owned()])])?;

    // Once: compile (or load from the cache), check, link, pre-instantiate, open the stores.
    let host = Arc::new(PluginHost::new(plugin.as_ref(), &world, RunOptions::default()).await?);

    // Then one call per input, all at once; each runs on its own fresh instance.
    let calls = inputs.into_iter().map(|input| {
        let host = host.clone();
        tokio::spawn(async move { (input.clone(), host.call(Payload::Text(input)).await) })
    });
    for call in calls {
        let (input, result) = call.await?;
        match result? {
            CallResult::Returned(Ok(Payload::Text(text))) => println!("{input} -> {text}"),
            CallResult::Returned(Ok(Payload::Bytes(bytes))) => {
                println!("{input} -> {} bytes", bytes.len())
            }
            CallResult::Returned(Err(error)) => {
                println!("{input} -> error {}: {}", error.code, error.message)
            }
            CallResult::Stopped(outcome) => println!("{input} -> stopped: {outcome:?}"),
        }
    }
    Ok(())
}
