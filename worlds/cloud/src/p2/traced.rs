//! The `tracing` a generated binding gives each call, for the calls this crate defines over
//! the bindings' ([`super::ready_calls`], [`super::stream_reads`]): a `wit-bindgen import`
//! span naming the interface and function, a `call` event with the arguments and a `return`
//! event with the outcome, so `WORLDHOST_LOG=trace` shows every call whichever way it went.
//! Unless trace is on, each costs a level check: no argument or result is formatted.

use std::fmt::Debug;

/// The span of one call of `function` in the interface `module`.
pub fn span(module: &'static str, function: &'static str) -> tracing::Span {
    tracing::trace_span!("wit-bindgen import", module, function)
}

/// The `return` event of a call whose outcome is `answer`.
pub fn returned<R: Debug, E: Debug>(answer: &wasmtime::Result<(Result<R, E>,)>) {
    tracing::trace!(result = ?answer.as_ref().map(|(outcome,)| outcome), "return");
}

/// The `return` event of a call whose outcome is `answer`, its value shown by `show` (bytes
/// read by their length, where the bindings show any list as `...`).
pub fn returned_as<R, E: Debug, S: Debug>(
    answer: &wasmtime::Result<(Result<R, E>,)>,
    show: impl Fn(&R) -> S,
) {
    tracing::trace!(
        result = ?answer.as_ref().map(|(outcome,)| outcome.as_ref().map(&show)),
        "return"
    );
}
