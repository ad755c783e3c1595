//! The WIT of our worlds, embedded: what each world offers, and whether a component's imports
//! fit it.

use anyhow::{Context, Result};
use wit_parser::{PackageId, Resolve, WorldId};

/// The vendored WASI packages, in dependency order, then our own package.
const SOURCES: &[(&str, &str)] = &[
    ("wit/deps/io.wit", include_str!("../../../wit/deps/io.wit")),
    (
        "wit/deps/clocks.wit",
        include_str!("../../../wit/deps/clocks.wit"),
    ),
    (
        "wit/deps/random.wit",
        include_str!("../../../wit/deps/random.wit"),
    ),
    (
        "wit/deps/filesystem.wit",
        include_str!("../../../wit/deps/filesystem.wit"),
    ),
    (
        "wit/deps/sockets.wit",
        include_str!("../../../wit/deps/sockets.wit"),
    ),
    (
        "wit/deps/cli.wit",
        include_str!("../../../wit/deps/cli.wit"),
    ),
    (
        "wit/deps/http.wit",
        include_str!("../../../wit/deps/http.wit"),
    ),
    // The standard proposals the cloud and plugin worlds serve (`wit/deps/README.md`).
    (
        "wit/deps/config.wit",
        include_str!("../../../wit/deps/config.wit"),
    ),
    (
        "wit/deps/config-draft-2024-09-27.wit",
        include_str!("../../../wit/deps/config-draft-2024-09-27.wit"),
    ),
    (
        "wit/deps/logging.wit",
        include_str!("../../../wit/deps/logging.wit"),
    ),
    (
        "wit/deps/keyvalue.wit",
        include_str!("../../../wit/deps/keyvalue.wit"),
    ),
    (
        "wit/deps/blobstore.wit",
        include_str!("../../../wit/deps/blobstore.wit"),
    ),
];

/// Our own package, in its files.
const OWN: &[(&str, &str)] = &[
    (
        "wit/interfaces.wit",
        include_str!("../../../wit/interfaces.wit"),
    ),
    ("wit/worlds.wit", include_str!("../../../wit/worlds.wit")),
];

/// The WASI 0.3 packages, in dependency order, then the package that adds them to our worlds
/// (`wit/p3/`, apart so that bindings generated from `wit/` see one version of each package).
const P3_SOURCES: &[(&str, &str)] = &[
    (
        "wit/p3/deps/clocks.wit",
        include_str!("../../../wit/p3/deps/clocks.wit"),
    ),
    (
        "wit/p3/deps/random.wit",
        include_str!("../../../wit/p3/deps/random.wit"),
    ),
    (
        "wit/p3/deps/filesystem.wit",
        include_str!("../../../wit/p3/deps/filesystem.wit"),
    ),
    (
        "wit/p3/deps/sockets.wit",
        include_str!("../../../wit/p3/deps/sockets.wit"),
    ),
    (
        "wit/p3/deps/cli.wit",
        include_str!("../../../wit/p3/deps/cli.wit"),
    ),
    (
        "wit/p3/deps/http.wit",
        include_str!("../../../wit/p3/deps/http.wit"),
    ),
];
const P3_OWN: &[(&str, &str)] = &[(
    "wit/p3/worlds.wit",
    include_str!("../../../wit/p3/worlds.wit"),
)];

/// Our WIT package, resolved with its dependencies, and the package of the WASI 0.3 part of
/// its worlds.
pub struct Worlds {
    resolve: Resolve,
    package: PackageId,
    p3: Resolve,
    p3_package: PackageId,
}

/// The vendored WASI 0.2 packages alone, resolved (for WIT metadata a guest is given).
pub fn wasi_resolve() -> Result<Resolve> {
    let mut resolve = Resolve::default();
    for (path, text) in SOURCES {
        resolve
            .push_source(path, text)
            .with_context(|| format!("embedded {path}"))?;
    }
    Ok(resolve)
}

/// `deps` then the package in `own`, resolved.
fn load_package(
    deps: &[(&str, &str)],
    own: &[(&'static str, &str)],
) -> Result<(Resolve, PackageId)> {
    let mut resolve = Resolve::default();
    for (path, text) in deps {
        resolve
            .push_source(path, text)
            .with_context(|| format!("embedded {path}"))?;
    }
    let mut map = wit_parser::SourceMap::default();
    for (path, text) in own {
        map.push_str(path, *text);
    }
    let group = map
        .parse()
        .map_err(|(_, error)| anyhow::anyhow!("embedded {}: {error}", own[0].0))?;
    let package = resolve.push_group(group).context(own[0].0)?;
    Ok((resolve, package))
}

impl Worlds {
    pub fn load() -> Result<Worlds> {
        let (resolve, package) = load_package(SOURCES, OWN)?;
        let (p3, p3_package) = load_package(P3_SOURCES, P3_OWN)?;
        Ok(Worlds {
            resolve,
            package,
            p3,
            p3_package,
        })
    }

    fn world(&self, name: &str) -> Result<WorldId> {
        self.resolve
            .select_world(&[self.package], Some(name))
            .with_context(|| format!("the WIT package has no world `{name}`"))
    }

    /// The fully qualified names of what world `name` imports (`wasi:cli/stdout@0.2.12`, ...):
    /// its WASI 0.2 and own imports, then its WASI 0.3 ones.
    pub fn imports(&self, name: &str) -> Result<Vec<String>> {
        let world = self.world(name)?;
        let mut imports: Vec<String> = self.resolve.worlds[world]
            .imports
            .keys()
            .map(|key| self.resolve.name_world_key(key))
            .collect();
        imports.extend(self.p3_imports(name));
        Ok(imports)
    }

    /// The WASI 0.3 imports world `name` offers (none if `wit/p3` does not name it).
    pub fn p3_imports(&self, name: &str) -> Vec<String> {
        let Ok(world) = self.p3.select_world(&[self.p3_package], Some(name)) else {
            return Vec::new();
        };
        let keys = self.p3.worlds[world].imports.keys();
        keys.map(|key| self.p3.name_world_key(key)).collect()
    }

    /// Whether a WASI 0.3 (p3) command can run in world `name`, in a line.
    pub fn p3_support(&self, name: &str) -> String {
        let p3 = self.p3_imports(name);
        let docs = self
            .p3
            .select_world(&[self.p3_package], Some(name))
            .ok()
            .and_then(|world| self.p3.worlds[world].docs.contents.clone());
        match (p3.is_empty(), docs) {
            (true, _) => "WASI 0.3 (p3) guests: cannot run here (no WASI 0.3 imports)".to_owned(),
            (false, Some(docs)) => format!("WASI 0.3 (p3) guests: {}", docs.replace('\n', " ")),
            (false, None) => "WASI 0.3 (p3) guests: can run here".to_owned(),
        }
    }

    /// What world `name` expects a command to export.
    pub fn exports(&self, name: &str) -> Result<Vec<String>> {
        let world = self.world(name)?;
        Ok(self.resolve.worlds[world]
            .exports
            .keys()
            .map(|key| self.resolve.name_world_key(key))
            .collect())
    }

    /// The world's documentation comment, and a last line saying whether WASI 0.3 (p3)
    /// guests run there.
    pub fn docs(&self, name: &str) -> Result<String> {
        let world = self.world(name)?;
        let docs = self.resolve.worlds[world].docs.contents.as_deref();
        Ok(format!(
            "{}\n{}",
            docs.unwrap_or_default().trim_end(),
            self.p3_support(name)
        ))
    }
}

// `WORLD_IMPORTS`, made by `host/build.rs` from the same WIT.
include!(concat!(env!("OUT_DIR"), "/world_imports.rs"));

/// Which of `imports` the world `world` does not provide (empty: it can run there). Reads the
/// imports the build resolved ([`WORLD_IMPORTS`]), so no WIT is parsed.
pub fn missing_in_world(world: &str, imports: &[String]) -> Result<Vec<String>> {
    let (_, offered) = WORLD_IMPORTS
        .iter()
        .find(|(name, _)| *name == world)
        .with_context(|| format!("the WIT package has no world `{world}`"))?;
    Ok(missing_imports(imports.iter().map(String::as_str), offered))
}

/// The component imports (fully qualified names) that world imports `offered` do not satisfy.
/// An import is satisfied by an offer of the same interface at a semver-compatible version, as
/// wasmtime's linker matches them: newer or older (0.2.6 imports link to 0.2.12 definitions,
/// and 0.3.2 imports to 0.3.0 ones). A prerelease (`0.2.0-rc.1`, `0.1.0-draft`) or a 0.0.x
/// version is compatible only with itself, as in wasmtime (`alternate_lookup_key`).
pub fn missing_imports<'a>(
    imports: impl IntoIterator<Item = &'a str>,
    offered: &[impl AsRef<str>],
) -> Vec<String> {
    imports
        .into_iter()
        .filter(|import| {
            !offered
                .iter()
                .any(|offer| satisfies(offer.as_ref(), import))
        })
        .map(str::to_owned)
        .collect()
}

fn satisfies(offer: &str, import: &str) -> bool {
    let split = |name: &str| -> (String, Option<semver::Version>) {
        match name.split_once('@') {
            Some((base, version)) => (base.to_owned(), semver::Version::parse(version).ok()),
            None => (name.to_owned(), None),
        }
    };
    let ((offer_name, offer_version), (import_name, import_version)) =
        (split(offer), split(import));
    if offer_name != import_name {
        return false;
    }
    match (offer_version, import_version) {
        (Some(offer), Some(import)) => {
            if !import.pre.is_empty()
                || !offer.pre.is_empty()
                || (import.major, import.minor) == (0, 0)
            {
                offer == import
            } else if import.major == 0 {
                offer.major == 0 && offer.minor == import.minor
            } else {
                offer.major == import.major
            }
        }
        (None, None) => true,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_embedded_worlds_resolve_and_cloud_includes_cli() {
        let worlds = Worlds::load().unwrap();
        let cli = worlds.imports("cli").unwrap();
        assert!(
            cli.contains(&"wasi:filesystem/types@0.2.12".to_owned()),
            "{cli:?}"
        );
        let cloud = worlds.imports("cloud").unwrap();
        assert!(
            cli.iter().all(|import| cloud.contains(import)),
            "cli (its WASI 0.3 filesystem too) is a subset of cloud"
        );
        assert!(worlds.p3_imports("plugin").is_empty());
        assert!(cli.contains(&"wasi:filesystem/types@0.3.0".to_owned()));
        assert!(cloud.contains(&"wasi:cli/stdout@0.3.0".to_owned()));
        assert!(cloud.contains(&"wasi:filesystem/types@0.3.0".to_owned()));
        assert!(cloud.contains(&"wasi:filesystem/preopens@0.3.0".to_owned()));
        assert_eq!(worlds.exports("cloud").unwrap(), ["wasi:cli/run@0.2.12"]);
        for world in ["cloud", "plugin"] {
            let imports = worlds.imports(world).unwrap();
            for standard in [
                "wasi:config/store@0.2.0-rc.1",
                "wasi:config/store@0.2.0-draft-2024-09-27",
                "wasi:logging/logging@0.1.0-draft",
                "wasi:blobstore/blobstore@0.2.0-draft",
            ] {
                assert!(
                    imports.contains(&standard.to_owned()),
                    "{world}: {imports:?}"
                );
            }
        }
        assert!(!cli.iter().any(|import| import.starts_with("wasi:config/")));
        // wasi:http's outgoing handler (and the types it uses) in every world.
        for world in ["cli", "cloud", "plugin"] {
            let imports = worlds.imports(world).unwrap();
            for http in [
                "wasi:http/types@0.2.12",
                "wasi:http/outgoing-handler@0.2.12",
            ] {
                assert!(imports.contains(&http.to_owned()), "{world}: {imports:?}");
            }
        }
    }

    /// The lists `host/build.rs` resolved are the WIT's as embedded and parsed here.
    #[test]
    fn the_build_time_imports_are_the_embedded_wits() {
        let worlds = Worlds::load().unwrap();
        assert_eq!(WORLD_IMPORTS.len(), 6, "{WORLD_IMPORTS:?}");
        for (name, offered) in WORLD_IMPORTS {
            assert_eq!(&worlds.imports(name).unwrap(), offered, "world {name}");
        }
    }

    #[test]
    fn semver_compatible_offers_satisfy_imports() {
        let offered = vec![
            "wasi:cli/stdout@0.2.12".to_owned(),
            "wasi:io/error@0.2.12".to_owned(),
            "wasi:config/store@0.2.0-rc.1".to_owned(),
            "x:y/z@0.0.1".to_owned(),
        ];
        let imports = [
            "wasi:cli/stdout@0.2.6",
            "wasi:config/store@0.2.0-rc.1",
            "wasi:config/store@0.2.0-rc.2",
            "wasi:config/store@0.2.0",
            "x:y/z@0.0.2",
            "wasi:io/error@0.2.12",
            "wasi:cli/stdout@0.3.0",
            "wasi:io/error@0.2.13",
            "wasi:io/error@0.1.0",
            "my:app/thing@1.0.0",
            "plain",
        ];
        assert_eq!(
            missing_imports(imports, &offered),
            [
                "wasi:config/store@0.2.0-rc.2",
                "wasi:config/store@0.2.0",
                "x:y/z@0.0.2",
                "wasi:cli/stdout@0.3.0",
                "wasi:io/error@0.1.0",
                "my:app/thing@1.0.0",
                "plain"
            ]
        );
    }
}
