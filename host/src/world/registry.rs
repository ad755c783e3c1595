//! The worlds a guest can be run against, chosen by name at run time.
//!
//! What a world offers comes from its definition (see [`crate::world_file`]); each world's code
//! lives in its own crate under `worlds/`, and this enum is the one place that dispatches
//! between them (a plain `match`: the linker is typed by the host state, so a
//! trait object would buy nothing).

use anyhow::{Result, bail};
use wasmtime::component::Linker;
use wasmtime_wasi::WasiCtxBuilder;
use worldhost_world_cli::DirMount;
use worldhost_world_cloud::{CloudFsCtx, MountSpec};

use crate::world_file::{MountEntry, WorldFile};

use crate::run::HostState;

/// Splits a `--dir` or `--mount` value, `SOURCE[::GUEST][:ro|:rw]` (the syntax of
/// `wasmtime run --dir` plus a read-only suffix), into source, guest path and read-only.
/// Without `::GUEST` the guest path is `default_guest`, or the source itself.
pub fn split_mount_flag(
    flag: &str,
    spec: &str,
    default_guest: Option<&str>,
) -> Result<(String, String, bool)> {
    let (rest, read_only) = match (spec.strip_suffix(":ro"), spec.strip_suffix(":rw")) {
        (Some(rest), _) => (rest, true),
        (None, Some(rest)) => (rest, false),
        (None, None) => (spec, false),
    };
    let (source, guest) = rest
        .rsplit_once("::")
        .unwrap_or((rest, default_guest.unwrap_or(rest)));
    if source.is_empty() || guest.is_empty() {
        bail!("`{flag} {spec}`: expected SOURCE[::GUEST][:ro], with neither part empty");
    }
    Ok((source.to_owned(), guest.to_owned(), read_only))
}

/// A `--dir HOST[::GUEST][:ro]` flag.
pub fn dir_flag(spec: &str) -> Result<DirMount> {
    let (host, guest, read_only) = split_mount_flag("--dir", spec, None)?;
    Ok(DirMount {
        host: host.into(),
        guest,
        read_only,
    })
}

/// A `--mount URL[::GUEST][:ro]` flag; the guest path defaults to `.`.
pub fn mount_flag(spec: &str) -> Result<MountSpec> {
    let (url, guest, read_only) = split_mount_flag("--mount", spec, Some("."))?;
    Ok(MountSpec {
        url,
        guest,
        read_only,
    })
}

/// Adds the command line's `--dir` and `--mount` values to `definition`, each replacing the
/// definition's mount at the same guest path. Each world takes only its own kind of flag.
pub fn add_mount_flags(
    definition: &mut WorldFile,
    dirs: &[String],
    mounts: &[String],
) -> Result<()> {
    if definition.base == "cli" && !mounts.is_empty() {
        bail!("`--mount` serves the `cloud` world; in the `cli` world use `--dir HOST[::GUEST]`");
    }
    if definition.base == "cloud" && !dirs.is_empty() {
        bail!(
            "`--dir` serves the `cli` world; in the `cloud` world mount a local directory \
             as a store with `--mount file:///ABSOLUTE/PATH::GUEST`"
        );
    }
    for spec in dirs {
        let dir = dir_flag(spec)?;
        definition.mount(MountEntry {
            guest: dir.guest,
            host: Some(dir.host),
            store: None,
            read_only: dir.read_only,
        });
    }
    for spec in mounts {
        let mount = mount_flag(spec)?;
        definition.mount(MountEntry {
            guest: mount.guest,
            host: None,
            store: Some(mount.url),
            read_only: mount.read_only,
        });
    }
    Ok(())
}

/// A world, with everything it needs to serve one run.
#[derive(Debug, Clone)]
pub enum World {
    /// Standard `wasi:cli` with host directories preopened.
    Cli { dirs: Vec<DirMount> },
    /// `wasi:cli` with every filesystem call served from object stores.
    Cloud { mounts: Vec<MountSpec> },
}

impl World {
    /// The world `definition` describes (command-line mounts already added to it with
    /// [`add_mount_flags`]). Each world takes only its own kind of mount.
    pub fn from_definition(definition: &WorldFile) -> Result<World> {
        match definition.base.as_str() {
            "cli" => {
                let mut all = Vec::new();
                for entry in &definition.mounts {
                    let Some(host) = &entry.host else {
                        bail!(
                            "{}: the mount at `{}` names a store, which the `cli` world cannot mount; give it `host = \"DIR\"`",
                            definition.origin,
                            entry.guest
                        );
                    };
                    all.push(DirMount {
                        host: host.clone(),
                        guest: entry.guest.clone(),
                        read_only: entry.read_only,
                    });
                }
                Ok(World::Cli { dirs: all })
            }
            "cloud" => {
                let mut all = Vec::new();
                for entry in &definition.mounts {
                    let url = match entry.store.as_deref() {
                        Some(url) => crate::world_file::resolve_store_url(url),
                        None => bail!(
                            "{}: the mount at `{}` names a host directory, which the `cloud` world serves as a store: \
                             use `store = \"file:///ABSOLUTE/PATH\"`",
                            definition.origin,
                            entry.guest
                        ),
                    };
                    all.push(MountSpec {
                        url,
                        guest: entry.guest.clone(),
                        read_only: entry.read_only,
                    });
                }
                Ok(World::Cloud { mounts: all })
            }
            other => bail!("unknown world implementation `{other}` (cli or cloud)"),
        }
    }

    pub fn name(&self) -> &'static str {
        match self {
            World::Cli { .. } => "cli",
            World::Cloud { .. } => "cloud",
        }
    }

    /// Links the imports this world offers.
    pub fn add_to_linker(&self, linker: &mut Linker<HostState>) -> Result<()> {
        match self {
            World::Cli { .. } => worldhost_world_cli::add_to_linker(linker),
            World::Cloud { .. } => {
                worldhost_world_cloud::add_to_linker(linker)?;
                worldhost_world_cloud::add_blob_to_linker(linker)?;
                crate::host_interfaces::add_to_linker(linker)
            }
        }
    }

    /// Sets up this world's filesystem for one run: preopens in the WASI context for `cli`,
    /// opened stores for `cloud`.
    pub async fn filesystem(&self, builder: &mut WasiCtxBuilder) -> Result<CloudFsCtx> {
        match self {
            World::Cli { dirs } => {
                worldhost_world_cli::preopen_dirs(builder, dirs)?;
                Ok(CloudFsCtx::default())
            }
            World::Cloud { mounts } => worldhost_world_cloud::open_mounts(mounts).await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dir_and_mount_flags_parse_alike() {
        let dir = dir_flag("data").unwrap();
        assert_eq!(
            (
                dir.host.to_str().unwrap(),
                dir.guest.as_str(),
                dir.read_only
            ),
            ("data", "data", false)
        );
        let dir = dir_flag("/tmp/x::/in:ro").unwrap();
        assert_eq!(
            (
                dir.host.to_str().unwrap(),
                dir.guest.as_str(),
                dir.read_only
            ),
            ("/tmp/x", "/in", true)
        );
        assert_eq!(dir_flag("a::.:rw").unwrap().guest, ".");
        let mount = mount_flag("s3://bucket/prefix::/data:ro").unwrap();
        assert_eq!(
            (mount.url.as_str(), mount.guest.as_str(), mount.read_only),
            ("s3://bucket/prefix", "/data", true)
        );
        let mount = mount_flag("memory:").unwrap();
        assert_eq!((mount.url.as_str(), mount.guest.as_str()), ("memory:", "."));
        let mount = mount_flag("http://[::1]:8080/files::web:ro").unwrap();
        assert_eq!(
            (mount.url.as_str(), mount.guest.as_str()),
            ("http://[::1]:8080/files", "web")
        );
        for bad in ["::guest", "host::"] {
            assert!(dir_flag(bad).is_err() && mount_flag(bad).is_err(), "{bad}");
        }
    }
}
