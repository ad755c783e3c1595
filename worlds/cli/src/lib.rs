//! The `cli` world: standard `wasi:cli` with real host directories preopened.
//!
//! This world is wasmtime-wasi's own implementation of WASI 0.2 and 0.3, but for four functions
//! of `wasi:filesystem/types`: `symlink-at` (0.2 and 0.3) refuses links out of their directory,
//! 0.2's `read-directory` reads a page at a time ([`listing`]), and 0.2's `read-via-stream` and
//! `write-via-stream` read and write on the guest's thread where a run allows it
//! ([`in_place`]). wasip1 core modules are run by
//! wasmtime-wasi's own p1 (`host/src/run/p1.rs`), which calls its filesystem directly: they
//! get neither function (their `fd_readdir` pages by cookie already, and their
//! `path_symlink` is wasmtime's). What it adds is the description of what
//! a guest may touch: which host directories are preopened, where, and whether they are writable. Everything else a run needs (args, env, stdio, the network
//! policy) is shared by every world and set up by the host.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use wasmtime::component::{Linker, LinkerInstance};
use wasmtime_wasi::{FsPerms, WasiCtxBuilder};
use worldhost_world_api::traced;
use worldhost_world_api::{InstanceLimits, MountEntry, MountSource, World, WorldHost};

mod in_place;
mod listing;

/// The one version of `wasi:filesystem/types` wasmtime-wasi 48 defines; semver matching serves
/// it to guests importing older 0.2 versions, so shadowing it covers them all.
const FILESYSTEM_TYPES: &str = "wasi:filesystem/types@0.2.12";

/// The same for WASI 0.3: the one version wasmtime-wasi 48 defines, matched to the guest's
/// 0.3.x by semver.
const FILESYSTEM_TYPES_P3: &str = "wasi:filesystem/types@0.3.0";

/// The cli world: the host directories it preopens for every instance.
pub struct CliWorld {
    dirs: Vec<DirMount>,
}

impl World for CliWorld {
    const NAME: &'static str = "cli";
    const DEFINITION: &'static str = include_str!("../world.toml");
    const MOUNT_FLAG: (&'static str, &'static str) = ("--dir", "HOST[::GUEST][:ro]");
    /// wasmtime-wasi's context holds everything, preopens included.
    type State = ();

    fn mount_flag(source: &str) -> Result<(MountSource, Option<String>)> {
        Ok((MountSource::HostDir(source.into()), None))
    }

    async fn open(mounts: &[MountEntry], origin: &str) -> Result<CliWorld> {
        let mut dirs = Vec::new();
        for entry in mounts {
            let MountSource::HostDir(host) = &entry.source else {
                bail!(
                    "{origin}: the mount at `{}` names a store, which the `cli` world cannot mount; give it `host = \"DIR\"`",
                    entry.guest
                );
            };
            dirs.push(DirMount {
                host: host.clone(),
                guest: entry.guest.clone(),
                read_only: entry.read_only,
            });
        }
        Ok(CliWorld { dirs })
    }

    /// WASI 0.2 and 0.3 side by side, both wasmtime-wasi's, over the same context (args,
    /// env, stdio, preopens): a guest may import either, or both.
    fn add_to_linker<T: WorldHost<()>>(linker: &mut Linker<T>) -> Result<()> {
        wasmtime_wasi::p2::add_to_linker_async(linker)?;
        if worldhost_world_api::links_wasi_p3(linker) {
            wasmtime_wasi::p3::add_to_linker(linker)?;
        }
        worldhost_world_api::http::add_to_linker(linker)?;
        linker.allow_shadowing(true);
        let shadowed = shadow_filesystem(linker);
        linker.allow_shadowing(false);
        shadowed
    }

    fn instance(&self, wasi: &mut WasiCtxBuilder, _: InstanceLimits) -> Result<()> {
        preopen_dirs(wasi, &self.dirs)
    }

    async fn finish(_: &mut ()) -> Result<()> {
        Ok(())
    }
}

/// A host directory made visible to the guest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirMount {
    /// The directory on the host.
    pub host: PathBuf,
    /// Where the guest sees it (`.` for the guest's working directory).
    pub guest: String,
    /// Whether the guest is refused every write under it.
    pub read_only: bool,
}

/// Preopens each mount in `builder`, after checking that its host directory exists.
fn preopen_dirs(builder: &mut WasiCtxBuilder, mounts: &[DirMount]) -> Result<()> {
    for mount in mounts {
        check_is_dir(&mount.host)?;
        let perms = if mount.read_only {
            FsPerms::ReadOnly
        } else {
            FsPerms::ReadWrite
        };
        builder
            .preopened_dir(&mount.host, &mount.guest, perms)
            .map_err(anyhow::Error::from)
            .with_context(|| format!("cannot open host directory `{}`", mount.host.display()))?;
        tracing::debug!(host = %mount.host.display(), guest = %mount.guest, read_only = mount.read_only, "preopened");
    }
    Ok(())
}

fn check_is_dir(path: &Path) -> Result<()> {
    match std::fs::metadata(path) {
        Ok(meta) if meta.is_dir() => Ok(()),
        Ok(_) => bail!(
            "`--dir {}`: that path is not a directory on the host",
            path.display()
        ),
        Err(e) => bail!(
            "`--dir {}`: the host directory cannot be opened: {e}",
            path.display()
        ),
    }
}

/// Our own `symlink-at` (0.2 and 0.3), 0.2 `read-directory`, `read-via-stream` and
/// `write-via-stream` over wasmtime-wasi's (shadowing allowed).
fn shadow_filesystem<T: WorldHost<()>>(linker: &mut Linker<T>) -> Result<()> {
    let mut types = linker.instance(FILESYSTEM_TYPES)?;
    refuse_escaping_symlinks(&mut types)?;
    listing::shadow(&mut types)?;
    in_place::shadow(&mut types)?;
    if !worldhost_world_api::links_wasi_p3(linker) {
        return Ok(());
    }
    let mut types = linker.instance(FILESYSTEM_TYPES_P3)?;
    refuse_escaping_symlinks_p3(&mut types)
}

/// wasmtime-wasi refuses absolute symlink targets but creates `link -> ../../..`, a link out of
/// the preopened directory: harmless to this guest (resolution stays beneath the preopen), but
/// a trap for any other program, or a later cloud-world run over the same directory as a
/// `file://` store, that follows it. So `symlink-at` is redefined: a target that would leave the
/// directory of the descriptor it is created under is `not-permitted`; everything else goes on
/// to wasmtime-wasi's own `symlink-at`.
fn refuse_escaping_symlinks<T: WorldHost<()>>(types: &mut LinkerInstance<'_, T>) -> Result<()> {
    use wasmtime::component::Resource;
    use wasmtime_wasi::filesystem::WasiFilesystemView;
    use wasmtime_wasi::p2::bindings::filesystem::types::{Descriptor, ErrorCode, HostDescriptor};

    types.func_wrap_async(
        "[method]descriptor.symlink-at",
        |mut store, (fd, target, link): (Resource<Descriptor>, String, String)| {
            let span = traced::span("types", "[method]descriptor.symlink-at");
            span.in_scope(
                || tracing::trace!(self_ = ?fd, old_path = ?target, new_path = ?link, "call"),
            );
            Box::new(traced::later(span, async move {
                if symlink_escapes(&link, &target) {
                    tracing::debug!(%link, %target, "refused a symlink out of its directory");
                    return Ok((Err(ErrorCode::NotPermitted),));
                }
                let mut view = store.data_mut().filesystem();
                answer(HostDescriptor::symlink_at(&mut view, fd, target, link).await)
            }))
        },
    )?;
    Ok(())
}

/// [`refuse_escaping_symlinks`] for WASI 0.3 guests, whose `symlink-at` is an async func
/// wasmtime-wasi serves with an [`Accessor`](wasmtime::component::Accessor): the same rule,
/// then wasmtime-wasi's own p3 `symlink-at`.
fn refuse_escaping_symlinks_p3<T: WorldHost<()>>(types: &mut LinkerInstance<'_, T>) -> Result<()> {
    use wasmtime::component::{Accessor, Resource};
    use wasmtime_wasi::filesystem::{Descriptor, WasiFilesystem, WasiFilesystemView};
    use wasmtime_wasi::p3::bindings::filesystem::types::{ErrorCode, HostDescriptorWithStore};

    types.func_wrap_concurrent(
        "[method]descriptor.symlink-at",
        |store: &Accessor<T>, (fd, target, link): (Resource<Descriptor>, String, String)| {
            let span = traced::span("types", "[method]descriptor.symlink-at");
            span.in_scope(
                || tracing::trace!(self_ = ?fd, old_path = ?target, new_path = ?link, "call"),
            );
            Box::pin(traced::later(span, async move {
                if symlink_escapes(&link, &target) {
                    tracing::debug!(%link, %target, "refused a p3 symlink out of its directory");
                    return Ok((Err(ErrorCode::NotPermitted),));
                }
                let store = &store.with_getter::<WasiFilesystem>(T::filesystem);
                match WasiFilesystem::symlink_at(store, fd, target, link).await {
                    Ok(()) => Ok((Ok(()),)),
                    Err(error) => Ok((Err(error.downcast()?),)),
                }
            }))
        },
    )?;
    Ok(())
}

/// A WASI 0.2 filesystem call's result as the guest gets it: the value or an error code; a
/// trap fails the call.
fn answer<R>(
    result: wasmtime_wasi::p2::FsResult<R>,
) -> wasmtime::Result<(Result<R, wasmtime_wasi::p2::bindings::filesystem::types::ErrorCode>,)> {
    match result {
        Ok(value) => Ok((Ok(value),)),
        Err(error) => Ok((Err(error.downcast()?),)),
    }
}

/// Whether a symlink at `link` (relative to a directory D) with content `target` points
/// outside D: resolved lexically, from the link's own directory, counting depth below D.
/// Absolute targets are refused by wasmtime-wasi itself.
fn symlink_escapes(link: &str, target: &str) -> bool {
    let mut depth: i64 = 0;
    let link_dirs = link.rsplit_once('/').map_or("", |(dirs, _)| dirs);
    for part in link_dirs.split('/').chain(target.split('/')) {
        match part {
            "" | "." => {}
            ".." => {
                depth -= 1;
                if depth < 0 {
                    return true;
                }
            }
            _ => depth += 1,
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::symlink_escapes;

    #[test]
    fn links_that_leave_their_directory_are_recognised() {
        for (link, target) in [
            ("esc", ".."),
            ("esc", "../../.."),
            ("a/esc", "../../x"),
            ("a/b/esc", "../x/../../../y"),
            ("esc", "a/../../x"),
        ] {
            assert!(symlink_escapes(link, target), "{link} -> {target}");
        }
        for (link, target) in [
            ("ok", "target.txt"),
            ("ok", "."),
            ("a/ok", "../x"),
            ("a/b/ok", "../../x"),
            ("ok", "a/b/../c"),
            ("a/../ok", "x"),
        ] {
            assert!(!symlink_escapes(link, target), "{link} -> {target}");
        }
    }
}
