//! wasip1 commands run by wasmtime-wasi's own p1 (`wasmtime_wasi::p1`) on a core linker, as
//! `wasmtime run` runs them: no preview1 adapter in between, so every p1 call gives
//! wasmtime's result (`proc_exit` codes below 126, `EBADF` for a descriptor that does not
//! exist, AssemblyScript's `args_get`). In the cloud world the calls on filesystem
//! descriptors are served by the cloud world's p1 layer over its filesystem core, with
//! wasmtime's rules. Everything else is the component path's: the same context (args, env,
//! capped stdio, network policy, host-directory preopens), store limits, fuel and deadline,
//! and the same classification of how the run ended.
//!
//! Which modules run this way, in which world, is [`super::run_command`]'s choice.

use anyhow::Result;
use wasmtime::{Engine, Linker, Module};
use worldhost_world_api::World;

use worldhost_world_cloud::CloudFsCtx;
use worldhost_world_cloud::p1::P1Files;

use super::state::{P1State, limited_store, new_p1_state};
use super::{Outcome, RunOptions, classify_failure, limit_hit};
use crate::guest::Guest;

/// How a world links p1 for its state `P1State<S, F>`, and makes its `F`.
pub(super) struct P1Linking<S, F> {
    pub link: fn(&mut Linker<P1State<S, F>>) -> Result<()>,
    pub files: fn(&S, &RunOptions) -> Result<F>,
}

/// wasmtime's p1 alone, over host directories (the cli world).
pub(super) fn wasmtime_only<S: Send + 'static>() -> P1Linking<S, ()> {
    P1Linking {
        link: |linker| {
            wasmtime_wasi::p1::add_to_linker_async(linker, |state| &mut state.wasi)?;
            Ok(())
        },
        files: |_, _| Ok(()),
    }
}

/// wasmtime's p1 with the cloud filesystem's descriptors served by the cloud world's p1
/// layer (`worlds/cloud/src/p1`).
pub(super) fn cloud() -> P1Linking<CloudFsCtx, P1Files> {
    P1Linking {
        link: worldhost_world_cloud::p1::add_to_linker,
        files: |fs, options| Ok(P1Files::new(fs, options.limits.handles)?),
    }
}

/// Runs `module` (the compiled form of `guest`) in `world`, linked as `linking` says.
pub(super) async fn run<W: World, F: Send + 'static>(
    engine: &Engine,
    guest: &Guest,
    module: &Module,
    world: &W,
    options: &RunOptions,
    linking: P1Linking<W::State, F>,
) -> Result<Outcome> {
    let limits = &options.limits;
    let mut linker = Linker::new(engine);
    (linking.link)(&mut linker)?;
    let files = |state: &W::State| (linking.files)(state, options);
    let state = new_p1_state(&guest.path, world, options, files).await?;
    let mut store = limited_store(engine, state, limits, |state| &mut state.limiter)?;
    let instance = match linker.instantiate_async(&mut store, module).await {
        Ok(instance) => instance,
        // A start function may already hit a limit.
        Err(error) if limit_hit(&error, limits).is_some() => {
            return classify_failure(error, limits);
        }
        Err(e) => {
            return Err(anyhow::Error::from(e).context(format!(
                "`{}` cannot be instantiated in the `{}` world",
                guest.path.display(),
                W::NAME
            )));
        }
    };
    let start = instance
        .get_typed_func::<(), ()>(&mut store, "_start")
        .map_err(|e| {
            anyhow::Error::from(e)
                .context("a wasip1 command's `_start` must take and return nothing")
        })?;
    let called = start.call_async(&mut store, ()).await;
    let outcome = match called {
        // An output cap stopped the run, however the guest ended after that.
        _ if store.data().stopped.get().is_some() => {
            Outcome::LimitHit(store.data().stopped.get().cloned().expect("checked"))
        }
        Ok(()) => Outcome::Exited(0),
        Err(error) => classify_failure(error, limits)?,
    };
    if let Outcome::Exited(_) = outcome {
        W::finish(&mut store.data_mut().world).await?;
    }
    Ok(outcome)
}
