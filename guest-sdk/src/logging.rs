//! Log lines delivered into the host's log (stderr, filtered by `WORLDHOST_LOG`), tagged with
//! the guest's name.
//!
//! Usually through the macros [`trace!`](crate::trace), [`debug!`](crate::debug),
//! [`info!`](crate::info), [`warn!`](crate::warn) and [`error!`](crate::error): a message, then
//! `key = value` fields, each value anything that implements [`Display`](std::fmt::Display).
//! A message that is a string literal is formatted with the names in scope, like `format!`:
//!
//! ```no_run
//! let key = "docs/a.txt";
//! let words = 42;
//! worldhost::info!("counted", key = key, words = words);
//! worldhost::debug!("counted {words} words in {key}");
//! worldhost::warn!(format!("{key} is not text"), "file.size" = 7);
//! ```

use crate::__private::imports::worldhost::host::logging as wit;

/// How important a line is; the host's `WORLDHOST_LOG` filter decides what is shown (`warn`
/// and above by default).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Level {
    /// Very detailed tracing.
    Trace,
    /// Details for debugging.
    Debug,
    /// Progress worth knowing.
    Info,
    /// Something unexpected that the guest got past.
    Warn,
    /// Something failed.
    Error,
}

/// Logs `message` at `level` with key-value `fields`. The macros call this.
pub fn log(level: Level, message: &str, fields: &[(String, String)]) {
    let level = match level {
        Level::Trace => wit::Level::Trace,
        Level::Debug => wit::Level::Debug,
        Level::Info => wit::Level::Info,
        Level::Warn => wit::Level::Warn,
        Level::Error => wit::Level::Error,
    };
    wit::log(level, message, fields);
}

/// Logs a line at a [`Level`] given as an expression: `log!(level, "message", key = value, ...)`.
///
/// The message is a string literal, formatted like `format!("...")` (so `{name}` takes `name`
/// from the scope), or any expression that implements `Display`. Each field is `key = value`,
/// with `key` an identifier or a string literal and `value` anything that implements `Display`.
#[macro_export]
macro_rules! log {
    ($level:expr, $message:literal $(, $key:tt = $value:expr)* $(,)?) => {
        $crate::logging::log(
            $level,
            &::std::format!($message),
            &[$(($crate::__private::field_key(::std::stringify!($key)), ::std::string::ToString::to_string(&$value))),*],
        )
    };
    ($level:expr, $message:expr $(, $key:tt = $value:expr)* $(,)?) => {
        $crate::logging::log(
            $level,
            &::std::string::ToString::to_string(&$message),
            &[$(($crate::__private::field_key(::std::stringify!($key)), ::std::string::ToString::to_string(&$value))),*],
        )
    };
}

/// Logs at [`Level::Trace`]: `trace!("message", key = value, ...)`; see [`log!`](crate::log).
#[macro_export]
macro_rules! trace {
    ($($arguments:tt)+) => { $crate::log!($crate::logging::Level::Trace, $($arguments)+) };
}

/// Logs at [`Level::Debug`]: `debug!("message", key = value, ...)`; see [`log!`](crate::log).
#[macro_export]
macro_rules! debug {
    ($($arguments:tt)+) => { $crate::log!($crate::logging::Level::Debug, $($arguments)+) };
}

/// Logs at [`Level::Info`]: `info!("message", key = value, ...)`; see [`log!`](crate::log).
#[macro_export]
macro_rules! info {
    ($($arguments:tt)+) => { $crate::log!($crate::logging::Level::Info, $($arguments)+) };
}

/// Logs at [`Level::Warn`]: `warn!("message", key = value, ...)`; see [`log!`](crate::log).
#[macro_export]
macro_rules! warn {
    ($($arguments:tt)+) => { $crate::log!($crate::logging::Level::Warn, $($arguments)+) };
}

/// Logs at [`Level::Error`]: `error!("message", key = value, ...)`; see [`log!`](crate::log).
#[macro_export]
macro_rules! error {
    ($($arguments:tt)+) => { $crate::log!($crate::logging::Level::Error, $($arguments)+) };
}
