//! The `tracing` a generated binding gives each call, for the calls a world defines over the
//! bindings' (the cloud world's calls answered without a future, the cli world's in-place
//! streams and listings): a `wit-bindgen import` span naming the interface and function, a
//! `call` event with the arguments and a `return` event with the outcome, so
//! `WORLDHOST_LOG=trace` shows every call whichever way it went. Unless trace is on, each
//! costs a level check: no argument or result is formatted.

use std::fmt::Debug;

use tracing::Instrument;

/// The span of one call of `function` in the interface `module`.
pub fn span(module: &'static str, function: &'static str) -> tracing::Span {
    tracing::trace_span!("wit-bindgen import", module, function)
}

/// `call`, run within `span`, its outcome traced by a `return` event there.
pub fn later<R: Debug, E: Debug>(
    span: tracing::Span,
    call: impl Future<Output = Answer<R, E>>,
) -> impl Future<Output = Answer<R, E>> {
    async move { returned(call.await) }.instrument(span)
}

/// A call's outcome, `answer`, after its `return` event.
pub fn returned<R: Debug, E: Debug>(answer: Answer<R, E>) -> Answer<R, E> {
    tracing::trace!(result = ?answer.as_ref().map(|(outcome,)| outcome), "return");
    answer
}

/// A call's outcome, `answer`, after its `return` event, its value shown by `show` (bytes
/// read by their length, where the bindings show any list as `...`).
pub fn returned_as<R, E: Debug, S: Debug>(
    answer: Answer<R, E>,
    show: impl Fn(&R) -> S,
) -> Answer<R, E> {
    tracing::trace!(
        result = ?answer.as_ref().map(|(outcome,)| outcome.as_ref().map(&show)),
        "return"
    );
    answer
}

/// What a host function gives wasmtime: a trap, or the WIT result (as a one-tuple).
pub type Answer<R, E> = wasmtime::Result<(Result<R, E>,)>;
