//! wasip1 commands run by wasmtime-wasi's own p1 (`wasmtime_wasi::p1`) on a core linker, as
//! `wasmtime run` runs them: no preview1 adapter in between, so every p1 call gives
//! wasmtime's result (`proc_exit` codes below 126, `EBADF` for a descriptor that does not
//! exist, AssemblyScript's `args_get`). Everything else is the component path's: the same
//! context (args, env, capped stdio, network policy, host-directory preopens), store limits,
//! fuel and deadline, and the same classification of how the run ended.
//!
//! Which modules run this way, in which world, is [`super::run_command`]'s choice.

use anyhow::Result;
use wasmtime::{Engine, Linker, Module};
use worldhost_world_api::World;

use super::state::{P1State, limited_store, new_p1_state};
use super::{Outcome, RunOptions, classify_failure, limit_hit};
use crate::guest::Guest;

/// Runs `module` (the compiled form of `guest`) in `world`.
pub(super) async fn run<W: World>(
    engine: &Engine,
    guest: &Guest,
    module: &Module,
    world: &W,
    options: &RunOptions,
) -> Result<Outcome> {
    let limits = &options.limits;
    let mut linker = Linker::new(engine);
    wasmtime_wasi::p1::add_to_linker_async(&mut linker, |state: &mut P1State<W::State>| {
        &mut state.wasi
    })?;
    let state = new_p1_state(&guest.path, world, options).await?;
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
