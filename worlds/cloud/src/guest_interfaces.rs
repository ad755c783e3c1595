//! `worldhost:host/config` and `worldhost:host/logging`, served from the guest's info.
//! (`worldhost:host/blob` lives with the filesystem it shares mounts with.)

use wasmtime::component::{HasData, Linker};
use worldhost_world_api::{GuestInfo, WorldHost};

use crate::CloudFsCtx;
use crate::bindings::host_imports::worldhost::host::{config, logging};

struct Info;

impl HasData for Info {
    type Data<'a> = &'a mut GuestInfo;
}

/// Links config and logging.
pub fn add_to_linker<T: WorldHost<CloudFsCtx>>(linker: &mut Linker<T>) -> anyhow::Result<()> {
    config::add_to_linker::<T, Info>(linker, T::guest)?;
    logging::add_to_linker::<T, Info>(linker, T::guest)?;
    Ok(())
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
        let enabled = match level {
            logging::Level::Trace => tracing::enabled!(target: "guest", tracing::Level::TRACE),
            logging::Level::Debug => tracing::enabled!(target: "guest", tracing::Level::DEBUG),
            logging::Level::Info => tracing::enabled!(target: "guest", tracing::Level::INFO),
            logging::Level::Warn => tracing::enabled!(target: "guest", tracing::Level::WARN),
            logging::Level::Error => tracing::enabled!(target: "guest", tracing::Level::ERROR),
        };
        if !enabled {
            return Ok(()); // filtered out: nothing written, nothing counted
        }
        // What reaches the host's stderr counts against the guest's stderr limit.
        let size = fields.iter().fold(message.len(), |size, (key, value)| {
            size.saturating_add(key.len() + value.len() + 2)
        });
        self.log_budget.charge(size as u64)?;
        let fields = fields
            .iter()
            .map(|(key, value)| format!("{key}={value}"))
            .collect::<Vec<_>>()
            .join(" ");
        let guest = self.name.as_str();
        // tracing needs a level known at compile time: one arm each.
        match level {
            logging::Level::Trace => tracing::trace!(target: "guest", guest, %fields, "{message}"),
            logging::Level::Debug => tracing::debug!(target: "guest", guest, %fields, "{message}"),
            logging::Level::Info => tracing::info!(target: "guest", guest, %fields, "{message}"),
            logging::Level::Warn => tracing::warn!(target: "guest", guest, %fields, "{message}"),
            logging::Level::Error => tracing::error!(target: "guest", guest, %fields, "{message}"),
        }
        Ok(())
    }
}
