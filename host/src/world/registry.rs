//! The worlds this host offers: the one place in the host that names them.
//!
//! Each world is a crate under `worlds/` implementing [`World`]; adding one is a line in the
//! `registry!` call below. Everything else reaches a world through [`AnyWorld`] and the
//! [`with_world!`] macro, which binds the concrete world in a plain `match`: each world's
//! per-instance state types the linker and the store, so code that runs a guest is
//! instantiated once per world rather than hidden behind a trait object.

use std::sync::Arc;

use anyhow::{Result, bail};
use worldhost_store::Mount;
use worldhost_world_api::{MountEntry, MountSource, World};
use worldhost_world_cli::CliWorld;
use worldhost_world_cloud::CloudWorld;

use super::definition::WorldFile;

macro_rules! registry {
    ($d:tt $($variant:ident: $world:ty),* $(,)?) => {
        /// A world, built from its definition and ready to serve runs.
        pub enum AnyWorld {
            $($variant($world),)*
        }

        /// The built-in worlds: name, and definition (TOML) embedded in the binary.
        pub const BUILT_IN: &[(&str, &str)] =
            &[$((<$world as World>::NAME, <$world as World>::DEFINITION),)*];

        /// Each world's mount flag: world name, flag and value syntax.
        const MOUNT_FLAGS: &[(&str, (&str, &str))] =
            &[$((<$world as World>::NAME, <$world as World>::MOUNT_FLAG),)*];

        /// `with_world!(any_world, w => body)`: evaluates `body` with `w` bound to the
        /// concrete world inside `any_world` (a `&AnyWorld`).
        macro_rules! with_world {
            ($d any:expr, $d w:ident => $d body:expr) => {
                match $d any {
                    $(crate::world::AnyWorld::$variant($d w) => $d body,)*
                }
            };
        }
        pub(crate) use with_world;

        impl AnyWorld {
            /// Builds the world `definition` describes, opening and checking what its mounts
            /// name.
            pub async fn open(definition: &WorldFile) -> Result<AnyWorld> {
                let (base, mounts, origin) =
                    (definition.base.as_str(), &definition.mounts, &definition.origin);
                $(if base == <$world as World>::NAME {
                    let world = AnyWorld::$variant(<$world as World>::open(mounts, origin).await?);
                    return with_buckets(world, definition).await;
                })*
                bail!("unknown world implementation `{base}` ({})", names())
            }

            /// The world `base` over stores already opened (a job's mounts).
            pub fn over_stores(base: &str, mounts: Vec<Arc<Mount>>) -> Result<AnyWorld> {
                $(if base == <$world as World>::NAME {
                    return Ok(AnyWorld::$variant(<$world as World>::over_stores(mounts)?));
                })*
                bail!("unknown world implementation `{base}` ({})", names())
            }

            pub fn name(&self) -> &'static str {
                match self {
                    $(AnyWorld::$variant(_) => <$world as World>::NAME,)*
                }
            }
        }

        /// What world `base` makes of a mount flag's source: the source, and the guest path
        /// it gets without `::GUEST`.
        fn mount_flag_source(base: &str, source: &str) -> Result<(MountSource, Option<String>)> {
            $(if base == <$world as World>::NAME {
                return <$world as World>::mount_flag(source);
            })*
            bail!("unknown world implementation `{base}` ({})", names())
        }
    };
}

registry!($
    Cli: CliWorld,
    Cloud: CloudWorld,
);

/// `world` serving the definition's `wasi:keyvalue` buckets: the `cloud` world's alone.
async fn with_buckets(world: AnyWorld, definition: &WorldFile) -> Result<AnyWorld> {
    let buckets = definition.keyvalue.urls();
    match world {
        AnyWorld::Cloud(cloud) => Ok(AnyWorld::Cloud(cloud.with_buckets(&buckets).await?)),
        _ if buckets.is_empty() => Ok(world),
        _ => bail!(
            "{}: `[keyvalue.buckets]` needs the `cloud` world (`base = \"cloud\"`): the `{}` world \
             serves no wasi:keyvalue",
            definition.origin,
            world.name()
        ),
    }
}

/// The built-in worlds' names, for messages.
pub fn names() -> String {
    BUILT_IN
        .iter()
        .map(|(name, _)| *name)
        .collect::<Vec<_>>()
        .join(", ")
}

/// Adds the command line's mount flags (`(flag, values)`, e.g. `--dir` and its values) to
/// `definition`, each replacing the definition's mount at the same guest path. Each world
/// takes only its own flag.
pub fn add_mount_flags(definition: &mut WorldFile, flags: &[(&str, &[String])]) -> Result<()> {
    let base = definition.base.clone();
    let (own_flag, syntax) = MOUNT_FLAGS
        .iter()
        .find(|(name, _)| *name == base)
        .map(|(_, flag)| *flag)
        .unwrap_or(("", ""));
    for (flag, values) in flags {
        if values.is_empty() {
            continue;
        }
        if *flag != own_flag {
            let owner = MOUNT_FLAGS
                .iter()
                .find(|(_, (other, _))| other == flag)
                .map_or("another", |(name, _)| *name);
            bail!(
                "`{flag}` serves the `{owner}` world; in the `{base}` world use {own_flag} {syntax}"
            );
        }
        for value in *values {
            let (text, guest, read_only) = super::definition::split_mount_flag(flag, value)?;
            let (source, default_guest) = mount_flag_source(&base, &text)
                .map_err(|e| anyhow::anyhow!("`{flag} {value}`: {e:#}"))?;
            let guest = guest.or(default_guest).unwrap_or(text);
            definition.mount(MountEntry {
                guest,
                source,
                read_only,
            });
        }
    }
    Ok(())
}
