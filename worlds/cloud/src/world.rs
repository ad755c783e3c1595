//! The `cloud` world behind the host's seam ([`worldhost_world_api::World`]).

use std::sync::Arc;

use anyhow::{Context, Result, bail};
use wasmtime::component::Linker;
use wasmtime_wasi::WasiCtxBuilder;
use worldhost_store::{Mount, MountSpec, StoreUrl};
use worldhost_world_api::{InstanceLimits, MountEntry, MountSource, World, WorldHost};

use crate::fs::Volume;
use crate::keyvalue::Buckets;
use crate::{CloudFsCtx, CloudFsState, CloudFsView};

/// The cloud world: its stores, opened and checked once, and the volumes over them, shared
/// by every instance (so a plugin host's calls share what they know of directories).
pub struct CloudWorld {
    volumes: Vec<Arc<Volume>>,
    /// The `wasi:keyvalue` buckets the definition names.
    buckets: Arc<Buckets>,
}

impl CloudWorld {
    fn over(mounts: Vec<Arc<Mount>>) -> CloudWorld {
        CloudWorld {
            volumes: mounts.into_iter().map(Volume::new).collect(),
            buckets: Arc::default(),
        }
    }

    /// Serves the definition's `[keyvalue.buckets]` (name to store URL), each opened and
    /// checked now, so a bad one stops the run before the guest starts.
    pub async fn with_buckets(
        mut self,
        buckets: &std::collections::BTreeMap<String, StoreUrl>,
    ) -> Result<CloudWorld> {
        self.buckets = Arc::new(Buckets::open(buckets).await?);
        Ok(self)
    }
}

impl<T: WorldHost<CloudFsCtx>> CloudFsState for T {
    fn cloud_fs(&mut self) -> CloudFsView<'_> {
        let (ctx, table) = self.world();
        CloudFsView { ctx, table }
    }
}

impl World for CloudWorld {
    const NAME: &'static str = "cloud";
    const DEFINITION: &'static str = include_str!("../world.toml");
    const MOUNT_FLAG: (&'static str, &'static str) = (
        "--mount",
        "file:///ABSOLUTE/PATH[::GUEST][:ro] (or any store URL)",
    );
    type State = CloudFsCtx;

    fn mount_flag(value: &str) -> Result<(MountSource, Option<String>)> {
        let url = StoreUrl::parse(value).map_err(anyhow::Error::msg)?;
        Ok((MountSource::Store(url), Some(".".to_owned())))
    }

    async fn open(mounts: &[MountEntry], origin: &str) -> Result<CloudWorld> {
        let mut specs = Vec::new();
        for entry in mounts {
            let MountSource::Store(url) = &entry.source else {
                bail!(
                    "{origin}: the mount at `{}` names a host directory, which the `cloud` world serves as a store: \
                     use `store = \"file:///ABSOLUTE/PATH\"`",
                    entry.guest
                );
            };
            specs.push(MountSpec {
                url: url.clone(),
                guest: entry.guest.clone(),
                read_only: entry.read_only,
            });
        }
        // Every store is opened, then asked once, so an unreachable store or bad credentials
        // stop the run before the guest starts, with a message naming the mount.
        let start = "the cloud world cannot start";
        let mut mounts = Vec::new();
        for spec in &specs {
            mounts.push(Arc::new(Mount::open(spec).context(start)?));
        }
        for mount in &mounts {
            mount.check().await.context(start)?;
        }
        Ok(CloudWorld::over(mounts))
    }

    fn over_stores(mounts: Vec<Arc<Mount>>) -> Result<CloudWorld> {
        Ok(CloudWorld::over(mounts))
    }

    fn add_to_linker<T: WorldHost<CloudFsCtx>>(linker: &mut Linker<T>) -> Result<()> {
        crate::add_to_linker(linker)?;
        // WASI 0.3 guests: wasmtime-wasi's cli, clocks, random and sockets, and our
        // filesystem over the same stores as 0.2's.
        if worldhost_world_api::links_wasi_p3(linker) {
            crate::add_p3_filesystem_to_linker(linker)?;
            wasmtime_wasi::p3::cli::add_to_linker(linker)?;
            wasmtime_wasi::p3::clocks::add_to_linker(linker)?;
            wasmtime_wasi::p3::random::add_to_linker(linker)?;
            wasmtime_wasi::p3::sockets::add_to_linker(linker)?;
        }
        worldhost_world_api::http::add_to_linker(linker)?;
        crate::add_blob_to_linker(linker)?;
        crate::add_keyvalue_to_linker(linker)?;
        crate::add_blobstore_to_linker(linker)?;
        crate::guest_interfaces::add_to_linker(linker)
    }

    fn instance(&self, _: &mut WasiCtxBuilder, limits: InstanceLimits) -> Result<CloudFsCtx> {
        let mut ctx = CloudFsCtx::with_volumes(self.volumes.clone());
        ctx.set_store_limits(limits.store_writes, limits.store_objects);
        ctx.set_largest_read(limits.memory);
        ctx.set_buffer_memory(limits.buffer_memory);
        ctx.set_buckets(self.buckets.clone());
        Ok(ctx)
    }

    async fn finish(state: &mut CloudFsCtx) -> Result<()> {
        state.commit_open_files().await
    }
}
