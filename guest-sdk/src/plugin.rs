//! Plugins: a type implementing [`Plugin`], exported with [`export_plugin!`](crate::export_plugin).

use std::fmt;

use crate::__private::plugin::exports::worldhost::host::handler as wit;

/// A plugin: the host calls [`handle`](Plugin::handle) once per `host call`, on a fresh
/// instance, with the input and gets back the output or a typed error.
///
/// Export the implementing type with [`export_plugin!`](crate::export_plugin), in a crate
/// built as a `cdylib`.
pub trait Plugin {
    /// Handles one input.
    fn handle(input: Payload) -> Result<Payload, PluginError>;
}

/// Data passed to or returned from a plugin: bytes or text.
///
/// `host call` passes bytes unless given `--text`, so read input with [`text`](Payload::text)
/// (which accepts bytes that are UTF-8) or [`bytes`](Payload::bytes) (which accepts text)
/// rather than matching on the case. Output text is printed; output bytes are written as they
/// are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Payload {
    /// Raw bytes.
    Bytes(Vec<u8>),
    /// UTF-8 text.
    Text(String),
}

impl Payload {
    /// The payload as text: the text, or the bytes if they are UTF-8.
    pub fn text(&self) -> Option<&str> {
        match self {
            Payload::Text(text) => Some(text),
            Payload::Bytes(bytes) => std::str::from_utf8(bytes).ok(),
        }
    }

    /// The payload as bytes: the bytes, or the text's UTF-8 bytes.
    pub fn bytes(&self) -> &[u8] {
        match self {
            Payload::Text(text) => text.as_bytes(),
            Payload::Bytes(bytes) => bytes,
        }
    }

    /// Whether the payload was passed as text (not as bytes, even bytes that are UTF-8).
    pub fn is_text(&self) -> bool {
        matches!(self, Payload::Text(_))
    }

    /// The payload as an owned string, or a `bad-input` error if it is bytes that are not
    /// UTF-8.
    pub fn into_text(self) -> Result<String, PluginError> {
        match self {
            Payload::Text(text) => Ok(text),
            Payload::Bytes(bytes) => String::from_utf8(bytes)
                .map_err(|_| PluginError::new("bad-input", "the input is not UTF-8 text")),
        }
    }

    /// The payload as owned bytes.
    pub fn into_bytes(self) -> Vec<u8> {
        match self {
            Payload::Text(text) => text.into_bytes(),
            Payload::Bytes(bytes) => bytes,
        }
    }
}

impl From<String> for Payload {
    fn from(text: String) -> Payload {
        Payload::Text(text)
    }
}

impl From<&str> for Payload {
    fn from(text: &str) -> Payload {
        Payload::Text(text.to_owned())
    }
}

impl From<Vec<u8>> for Payload {
    fn from(bytes: Vec<u8>) -> Payload {
        Payload::Bytes(bytes)
    }
}

impl From<&[u8]> for Payload {
    fn from(bytes: &[u8]) -> Payload {
        Payload::Bytes(bytes.to_owned())
    }
}

/// Why a plugin call failed, in the plugin's own terms: a short machine-readable `code` (like
/// `bad-input` or `not-found`) and a `message` for a person. `host call` prints it as
/// `error: the plugin failed: CODE: MESSAGE` and exits 1.
///
/// `?` converts [`blob::Error`](crate::blob::Error) (keeping its code, like `not-found`) and
/// [`std::io::Error`] (code `io`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PluginError {
    code: String,
    message: String,
}

impl PluginError {
    /// An error with `code` (short, machine-readable, like `no-input`) and `message`.
    pub fn new(code: impl Into<String>, message: impl Into<String>) -> PluginError {
        PluginError {
            code: code.into(),
            message: message.into(),
        }
    }

    /// The machine-readable code.
    pub fn code(&self) -> &str {
        &self.code
    }

    /// The message for a person.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for PluginError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

impl std::error::Error for PluginError {}

impl From<crate::blob::Error> for PluginError {
    fn from(error: crate::blob::Error) -> PluginError {
        PluginError::new(error.code(), error.to_string())
    }
}

impl From<std::io::Error> for PluginError {
    fn from(error: std::io::Error) -> PluginError {
        PluginError::new("io", error.to_string())
    }
}

/// Calls `P::handle` with the generated types converted: what the export macro's glue calls.
#[doc(hidden)]
pub fn handle<P: Plugin>(input: wit::Payload) -> Result<wit::Payload, wit::Error> {
    let input = match input {
        wit::Payload::Bytes(bytes) => Payload::Bytes(bytes),
        wit::Payload::Text(text) => Payload::Text(text),
    };
    match P::handle(input) {
        Ok(Payload::Bytes(bytes)) => Ok(wit::Payload::Bytes(bytes)),
        Ok(Payload::Text(text)) => Ok(wit::Payload::Text(text)),
        Err(PluginError { code, message }) => Err(wit::Error { code, message }),
    }
}

/// Exports a type implementing [`Plugin`] as the component's `worldhost:host/handler`, which
/// `host call` calls. Use it once, in a crate built as a `cdylib`:
///
/// ```no_run
/// use worldhost::{Payload, Plugin, PluginError};
///
/// struct Echo;
///
/// impl Plugin for Echo {
///     fn handle(input: Payload) -> Result<Payload, PluginError> {
///         Ok(input)
///     }
/// }
///
/// worldhost::export_plugin!(Echo);
/// ```
///
/// Only a crate that invokes this macro exports the handler: a command guest (with `fn main`)
/// that uses [`blob`](crate::blob), [`config`](crate::config) or the logging macros imports
/// them and exports nothing more than `wasi:cli/run`.
#[macro_export]
macro_rules! export_plugin {
    ($plugin:ty $(,)?) => {
        const _: () = {
            struct __WorldhostPluginExport;

            impl $crate::__private::plugin::exports::worldhost::host::handler::Guest
                for __WorldhostPluginExport
            {
                fn handle(
                    input: $crate::__private::plugin::exports::worldhost::host::handler::Payload,
                ) -> ::core::result::Result<
                    $crate::__private::plugin::exports::worldhost::host::handler::Payload,
                    $crate::__private::plugin::exports::worldhost::host::handler::Error,
                > {
                    $crate::__private::handle::<$plugin>(input)
                }
            }

            $crate::__private::plugin::export!(
                __WorldhostPluginExport with_types_in $crate::__private::plugin
            );
        };
    };
}
