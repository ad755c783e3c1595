//! `worldhost:host/config` and `worldhost:host/logging`, served from the guest's info (and,
//! through [`crate::standard`], the standard `wasi:config` and `wasi:logging`).
//! (`worldhost:host/blob` lives with the filesystem it shares mounts with.)

use wasmtime::component::{HasData, Linker};
use worldhost_world_api::{GuestInfo, WorldHost};

use crate::CloudFsCtx;
use crate::bindings::host_imports::worldhost::host::{config, logging};

pub(crate) struct Info;

impl HasData for Info {
    type Data<'a> = &'a mut GuestInfo;
}

/// Links config and logging: ours, and the standard `wasi:config` and `wasi:logging`.
pub fn add_to_linker<T: WorldHost<CloudFsCtx>>(linker: &mut Linker<T>) -> anyhow::Result<()> {
    config::add_to_linker::<T, Info>(linker, T::guest)?;
    logging::add_to_linker::<T, Info>(linker, T::guest)?;
    crate::standard::add_to_linker(linker)
}

impl config::Host for &mut GuestInfo {
    async fn get(&mut self, key: String) -> wasmtime::Result<Option<String>> {
        Ok(self.config.get(&key).cloned())
    }

    async fn get_all(&mut self) -> wasmtime::Result<Vec<(String, String)>> {
        Ok(self
            .config
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect())
    }
}

impl logging::Host for &mut GuestInfo {
    async fn log(
        &mut self,
        level: logging::Level,
        message: String,
        fields: Vec<(String, String)>,
    ) -> wasmtime::Result<()> {
        let level = match level {
            logging::Level::Trace => tracing::Level::TRACE,
            logging::Level::Debug => tracing::Level::DEBUG,
            logging::Level::Info => tracing::Level::INFO,
            logging::Level::Warn => tracing::Level::WARN,
            logging::Level::Error => tracing::Level::ERROR,
        };
        let fields = fields
            .iter()
            .map(|(key, value)| (key.as_str(), value.as_str()));
        log_line(self, level, &message, fields)
    }
}

/// Writes one of the guest's log lines to the host's log (target `guest`, tagged with the
/// guest's name), charging its bytes to the guest's stderr limit: the one path for our own
/// `logging` and the standard `wasi:logging`.
pub(crate) fn log_line<'a>(
    guest: &mut GuestInfo,
    level: tracing::Level,
    message: &str,
    fields: impl Iterator<Item = (&'a str, &'a str)> + Clone,
) -> wasmtime::Result<()> {
    let enabled = match level {
        tracing::Level::TRACE => tracing::enabled!(target: "guest", tracing::Level::TRACE),
        tracing::Level::DEBUG => tracing::enabled!(target: "guest", tracing::Level::DEBUG),
        tracing::Level::INFO => tracing::enabled!(target: "guest", tracing::Level::INFO),
        tracing::Level::WARN => tracing::enabled!(target: "guest", tracing::Level::WARN),
        _ => tracing::enabled!(target: "guest", tracing::Level::ERROR),
    };
    if !enabled {
        return Ok(()); // filtered out: nothing written, nothing counted
    }
    // What reaches the host's stderr counts against the guest's stderr limit.
    let size = fields.clone().fold(message.len(), |size, (key, value)| {
        size.saturating_add(key.len() + value.len() + 2)
    });
    guest.log_budget.charge(size as u64)?;
    let fields = fields
        .map(|(key, value)| format!("{key}={value}"))
        .collect::<Vec<_>>()
        .join(" ");
    let guest = guest.name.as_str();
    // tracing needs a level known at compile time: one arm each (ERROR last, as `_`).
    match level {
        tracing::Level::TRACE => tracing::trace!(target: "guest", guest, %fields, "{message}"),
        tracing::Level::DEBUG => tracing::debug!(target: "guest", guest, %fields, "{message}"),
        tracing::Level::INFO => tracing::info!(target: "guest", guest, %fields, "{message}"),
        tracing::Level::WARN => tracing::warn!(target: "guest", guest, %fields, "{message}"),
        _ => tracing::error!(target: "guest", guest, %fields, "{message}"),
    }
    Ok(())
}
