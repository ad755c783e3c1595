//! The standard WASI proposals served beside our own interfaces, so that guests written for
//! Spin or wasmCloud run unchanged: `wasi:config/store` (wasmCloud's `0.2.0-rc.1`, Spin's
//! `0.2.0-draft-2024-09-27`: the same interface, two package versions that wasmtime will not
//! link to each other, since they are prereleases) and `wasi:logging/logging@0.1.0-draft`.
//!
//! Both versions of `wasi:config` serve the world file's `[config]`, the values our own
//! `worldhost:host/config` serves; `wasi:logging` goes through the same log path as our own
//! logging ([`log_line`]). We do not use the `wasmtime-wasi-config` crate: it links only
//! `0.2.0-rc.1`, and serves a `HashMap` the store state would have to own, where the guest's
//! config already lives in its [`GuestInfo`] (sorted, so `get-all` answers in key order).

use wasmtime::component::Linker;
use worldhost_world_api::{GuestInfo, WorldHost};

use crate::CloudFsCtx;

use crate::bindings::standard_imports::wasi::config0_2_0_draft_2024_09_27::store as config_draft;
use crate::bindings::standard_imports::wasi::config0_2_0_rc_1::store as config_rc1;
use crate::bindings::standard_imports::wasi::logging::logging;
use crate::guest_interfaces::{Info, log_line};

/// Links both versions of `wasi:config/store` and `wasi:logging/logging`.
pub(crate) fn add_to_linker<T: WorldHost<CloudFsCtx>>(
    linker: &mut Linker<T>,
) -> anyhow::Result<()> {
    config_rc1::add_to_linker::<T, Info>(linker, T::guest)?;
    config_draft::add_to_linker::<T, Info>(linker, T::guest)?;
    logging::add_to_linker::<T, Info>(linker, T::guest)?;
    Ok(())
}

/// A key the world file does not set reads as none, as upstream specifies; the values are in
/// memory, so neither version's `error` is ever returned.
fn get(guest: &GuestInfo, key: &str) -> Option<String> {
    guest.config.get(key).cloned()
}

fn get_all(guest: &GuestInfo) -> Vec<(String, String)> {
    let pairs = guest.config.iter();
    pairs.map(|(k, v)| (k.clone(), v.clone())).collect()
}

impl config_rc1::Host for &mut GuestInfo {
    async fn get(
        &mut self,
        key: String,
    ) -> wasmtime::Result<Result<Option<String>, config_rc1::Error>> {
        Ok(Ok(get(self, &key)))
    }

    async fn get_all(
        &mut self,
    ) -> wasmtime::Result<Result<Vec<(String, String)>, config_rc1::Error>> {
        Ok(Ok(get_all(self)))
    }
}

impl config_draft::Host for &mut GuestInfo {
    async fn get(
        &mut self,
        key: String,
    ) -> wasmtime::Result<Result<Option<String>, config_draft::Error>> {
        Ok(Ok(get(self, &key)))
    }

    async fn get_all(
        &mut self,
    ) -> wasmtime::Result<Result<Vec<(String, String)>, config_draft::Error>> {
        Ok(Ok(get_all(self)))
    }
}

impl logging::Host for &mut GuestInfo {
    /// The line goes to the host's log at the matching level (`critical` at ERROR, with
    /// `critical=true`, since tracing has no level above error), the guest's `context` as a
    /// field, and counts against the guest's stderr limit like our own logging.
    async fn log(
        &mut self,
        level: logging::Level,
        context: String,
        message: String,
    ) -> wasmtime::Result<()> {
        let (level, critical) = match level {
            logging::Level::Trace => (tracing::Level::TRACE, false),
            logging::Level::Debug => (tracing::Level::DEBUG, false),
            logging::Level::Info => (tracing::Level::INFO, false),
            logging::Level::Warn => (tracing::Level::WARN, false),
            logging::Level::Error => (tracing::Level::ERROR, false),
            logging::Level::Critical => (tracing::Level::ERROR, true),
        };
        let context = (!context.is_empty()).then_some(("context", context.as_str()));
        let critical = critical.then_some(("critical", "true"));
        log_line(self, level, &message, context.into_iter().chain(critical))
    }
}
