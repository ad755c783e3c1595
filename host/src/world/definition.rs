//! World definitions in TOML: which world, mounts, environment, network, limits and config.
//!
//! The built-in worlds' definitions live in `worlds/<name>/world.toml` and are embedded in the
//! binary; a user's own file (`--world ./my-world.toml`) names a built-in world as its `base`
//! and extends it. Every key is documented in `worlds/README.md`. Parsing is strict: an
//! unknown key, a wrong type or a bad URL is an error naming the file, the line and column,
//! and the keys that are valid there.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use serde::Deserialize;

use crate::limits::{Limits, parse_duration, parse_size};

/// The built-in worlds: name, embedded definition.
pub const BUILT_IN: &[(&str, &str)] = &[
    ("cli", include_str!("../../worlds/cli/world.toml")),
    ("cloud", include_str!("../../worlds/cloud/world.toml")),
];

/// One world definition file, as written.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct WorldFile {
    /// One line saying what the world is for.
    pub description: Option<String>,
    /// In a built-in definition, the implementation (`cli` or `cloud`); in a user's file, the
    /// built-in world it extends.
    pub base: String,
    #[serde(default, rename = "mount")]
    pub mounts: Vec<MountEntry>,
    #[serde(default)]
    pub env: EnvSection,
    #[serde(default)]
    pub network: NetworkSection,
    #[serde(default)]
    pub limits: LimitsSection,
    /// Values for guests, read through the config interface.
    #[serde(default)]
    pub config: BTreeMap<String, String>,
    /// Where the definition came from (a file path, or `built-in world NAME`), for messages.
    #[serde(skip)]
    pub origin: String,
}

/// A guest path served by a host directory (`cli`) or a store (`cloud`).
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct MountEntry {
    /// Where the guest sees it.
    pub guest: String,
    /// A host directory (the `cli` world), relative to the world file's folder.
    pub host: Option<PathBuf>,
    /// A store URL (the `cloud` world): memory:, file:///..., s3://, gs://, az://, http(s)://,
    /// or `default` for the default store.
    #[serde(default, deserialize_with = "store_url")]
    pub store: Option<String>,
    #[serde(default)]
    pub read_only: bool,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct EnvSection {
    /// Variables set to these values.
    #[serde(default)]
    pub set: BTreeMap<String, String>,
    /// Host variables passed through when set.
    #[serde(default)]
    pub pass: Vec<String>,
    /// Pass every host variable through (not for untrusted guests).
    #[serde(default)]
    pub inherit_all: bool,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct NetworkSection {
    /// `host:port` pairs the guest may connect to; everything else is denied.
    #[serde(default, deserialize_with = "host_ports")]
    pub allow: Vec<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct LimitsSection {
    #[serde(default, deserialize_with = "size")]
    pub memory: Option<u64>,
    pub fuel: Option<u64>,
    #[serde(default, deserialize_with = "duration")]
    pub timeout: Option<std::time::Duration>,
    #[serde(default, deserialize_with = "size")]
    pub stdout: Option<u64>,
    #[serde(default, deserialize_with = "size")]
    pub stderr: Option<u64>,
    #[serde(default, deserialize_with = "size")]
    pub store_writes: Option<u64>,
}

pub(crate) fn size<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Size {
        Bytes(u64),
        Text(String),
    }
    match Size::deserialize(d)? {
        Size::Bytes(bytes) => Ok(Some(bytes)),
        Size::Text(text) => parse_size(&text)
            .map(Some)
            .map_err(serde::de::Error::custom),
    }
}

pub(crate) fn duration<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Option<std::time::Duration>, D::Error> {
    let text = String::deserialize(d)?;
    parse_duration(&text)
        .map(Some)
        .map_err(serde::de::Error::custom)
}

pub(crate) fn store_url<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Option<String>, D::Error> {
    let url = String::deserialize(d)?;
    check_store_url(&url).map_err(serde::de::Error::custom)?;
    Ok(Some(url))
}

fn host_ports<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    let entries = Vec::<String>::deserialize(d)?;
    for entry in &entries {
        let valid = entry
            .rsplit_once(':')
            .is_some_and(|(host, port)| !host.is_empty() && port.parse::<u16>().is_ok());
        if !valid {
            return Err(serde::de::Error::custom(format!(
                "`{entry}` is not HOST:PORT (like api.example.com:443 or 127.0.0.1:8080)"
            )));
        }
    }
    Ok(entries)
}

/// The URL a store URL in a definition stands for: `default` is the default store's directory,
/// `default/PREFIX` a folder in it; anything else is itself.
pub fn resolve_store_url(url: &str) -> String {
    let default = worldhost_world_cloud::default_mount().url;
    match url.strip_prefix("default") {
        Some("") => default,
        Some(rest) if rest.starts_with('/') => format!("{}{rest}", default.trim_end_matches('/')),
        _ => url.to_owned(),
    }
}

/// The store URL schemes the cloud world mounts, and `default`.
pub fn check_store_url(url: &str) -> Result<(), String> {
    const SCHEMES: [&str; 8] = [
        "memory:", "file:///", "s3://", "gs://", "az://", "azure://", "http://", "https://",
    ];
    if url == "default"
        || url.starts_with("default/")
        || SCHEMES.iter().any(|scheme| url.starts_with(scheme))
    {
        Ok(())
    } else {
        Err(format!(
            "`{url}` is not a store URL: use `default` (or `default/PREFIX`), memory:, file:///ABSOLUTE/PATH, s3://BUCKET/PREFIX, \
             gs://BUCKET/PREFIX, az://CONTAINER/PREFIX or http(s)://HOST/PATH"
        ))
    }
}

/// Parses TOML `text` into `T`, failing with one paragraph that names `origin` (a file path),
/// the line and column, and what is wrong there.
pub fn parse_toml<T: serde::de::DeserializeOwned>(text: &str, origin: &str) -> Result<T> {
    toml::from_str(text).map_err(|e| {
        // One paragraph: where, then what (toml's own rendering spans several lines).
        let message = e.message().trim().replace('\n', " ");
        match e.span() {
            Some(span) => {
                let before = &text[..span.start.min(text.len())];
                let line = before.matches('\n').count() + 1;
                let column = before.len() - before.rfind('\n').map_or(0, |at| at + 1) + 1;
                anyhow::anyhow!("{origin}: line {line}, column {column}: {message}")
            }
            None => anyhow::anyhow!("{origin}: {message}"),
        }
    })
}

impl WorldFile {
    /// Parses `text`, naming `origin` (a file path or `built-in world NAME`) in errors.
    pub fn parse(text: &str, origin: &str) -> Result<WorldFile> {
        let file: WorldFile = parse_toml(text, origin)?;
        Ok(WorldFile {
            origin: origin.to_owned(),
            ..file
        })
    }

    /// The built-in world called `name`.
    pub fn built_in(name: &str) -> Option<WorldFile> {
        let (_, text) = BUILT_IN.iter().find(|(built_in, _)| *built_in == name)?;
        // The built-in files are checked by the tests; a broken one is a build defect.
        Some(
            WorldFile::parse(text, &format!("built-in world `{name}`"))
                .expect("built-in world parses"),
        )
    }

    /// Loads `--world NAME_OR_PATH`: a built-in name, or a `.toml` file extending one.
    pub fn load(name_or_path: &str) -> Result<WorldFile> {
        if let Some(world) = WorldFile::built_in(name_or_path) {
            return Ok(world);
        }
        if !name_or_path.ends_with(".toml") && !name_or_path.contains('/') {
            let known: Vec<_> = BUILT_IN
                .iter()
                .map(|(name, _)| format!("`{name}`"))
                .collect();
            bail!(
                "there is no world called `{name_or_path}`; the worlds are: {} (or give a world file, like ./my-world.toml)",
                known.join(", ")
            );
        }
        let path = Path::new(name_or_path);
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read world file `{}`", path.display()))?;
        let file = WorldFile::parse(&text, &path.display().to_string())?;
        let base = WorldFile::built_in(&file.base).with_context(|| {
            format!(
                "{}: `base = \"{}\"` names no built-in world (the built-in worlds: {})",
                path.display(),
                file.base,
                BUILT_IN
                    .iter()
                    .map(|(name, _)| *name)
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        })?;
        let folder = path.parent().unwrap_or(Path::new("."));
        let origin = file.origin.clone();
        Ok(WorldFile {
            origin,
            ..base.extended_by(file.relative_to(folder))
        })
    }

    /// Host directories in a file are relative to the file's folder.
    fn relative_to(mut self, folder: &Path) -> WorldFile {
        for mount in &mut self.mounts {
            if let Some(host) = &mut mount.host
                && host.is_relative()
            {
                *host = folder.join(&*host);
            }
        }
        self
    }

    /// Adds `mount`, replacing one at the same guest path.
    pub fn mount(&mut self, mount: MountEntry) {
        self.mounts.retain(|existing| existing.guest != mount.guest);
        self.mounts.push(mount);
    }

    /// `self` with `other`'s settings on top: a mount at the same guest path replaces the
    /// base's, lists are joined, single values and config keys override.
    pub fn extended_by(mut self, other: WorldFile) -> WorldFile {
        if other.description.is_some() {
            self.description = other.description;
        }
        for mount in other.mounts {
            self.mount(mount);
        }
        self.env.set.extend(other.env.set);
        self.env.pass.extend(other.env.pass);
        self.env.inherit_all |= other.env.inherit_all;
        self.network.allow.extend(other.network.allow);
        let (mine, theirs) = (&mut self.limits, other.limits);
        mine.memory = theirs.memory.or(mine.memory);
        mine.fuel = theirs.fuel.or(mine.fuel);
        mine.timeout = theirs.timeout.or(mine.timeout);
        mine.stdout = theirs.stdout.or(mine.stdout);
        mine.stderr = theirs.stderr.or(mine.stderr);
        mine.store_writes = theirs.store_writes.or(mine.store_writes);
        self.config.extend(other.config);
        self
    }

    /// The guest's environment: the world definition's, then `--env` flags over it.
    pub fn environment(&self, flags: &[String]) -> Result<Vec<(String, String)>> {
        let mut env: Vec<(String, String)> = Vec::new();
        if self.env.inherit_all {
            env.extend(std::env::vars());
        }
        for name in &self.env.pass {
            if let Ok(value) = std::env::var(name) {
                env.push((name.clone(), value));
            }
        }
        env.extend(self.env.set.iter().map(|(k, v)| (k.clone(), v.clone())));
        for (name, value) in parse_env(flags)? {
            env.retain(|(existing, _)| *existing != name);
            env.push((name, value));
        }
        // A later setting of the same name wins.
        let mut seen = std::collections::HashSet::new();
        env.reverse();
        env.retain(|(name, _)| seen.insert(name.clone()));
        env.reverse();
        Ok(env)
    }

    /// The limits this file sets, over the host's defaults.
    pub fn limits(&self) -> Limits {
        let defaults = Limits::default();
        let set = &self.limits;
        Limits {
            memory: set.memory.unwrap_or(defaults.memory),
            fuel: set.fuel.unwrap_or(defaults.fuel),
            timeout: set.timeout.unwrap_or(defaults.timeout),
            stdout: set.stdout.unwrap_or(defaults.stdout),
            stderr: set.stderr.unwrap_or(defaults.stderr),
            store_writes: set.store_writes.unwrap_or(defaults.store_writes),
        }
    }
}

/// `NAME=VALUE` sets a value; `NAME` alone passes the host's value on (skipped if unset).
pub fn parse_env(specs: &[String]) -> Result<Vec<(String, String)>> {
    let mut env = Vec::new();
    for spec in specs {
        let (name, value) = match spec.split_once('=') {
            Some((name, value)) => (name, Some(value.to_owned())),
            None => (spec.as_str(), std::env::var(spec).ok()),
        };
        if name.is_empty() {
            bail!("`--env {spec}`: the variable name is empty");
        }
        match value {
            Some(value) => env.push((name.to_owned(), value)),
            None => tracing::debug!(name, "not set on the host, so not passed to the guest"),
        }
    }
    Ok(env)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn built_in_worlds_parse() {
        for (name, _) in BUILT_IN {
            let world = WorldFile::built_in(name).unwrap();
            assert_eq!(world.base, *name);
            assert!(world.description.is_some());
        }
    }

    #[test]
    fn unknown_keys_name_the_place_and_the_valid_keys() {
        let error = WorldFile::parse("base = \"cli\"\n[limits]\nmemroy = \"1GiB\"\n", "my.toml")
            .unwrap_err();
        let message = error.to_string();
        assert!(message.starts_with("my.toml: "), "{message}");
        assert!(message.contains("line 3, column 1"), "{message}");
        assert!(message.contains("unknown field `memroy`"), "{message}");
        assert!(
            message.contains("`memory`") && message.contains("`store-writes`"),
            "{message}"
        );
    }

    #[test]
    fn bad_values_are_refused_where_they_stand() {
        for (text, expected) in [
            (
                "base = \"cloud\"\n[[mount]]\nguest = \".\"\nstore = \"ftp://x\"\n",
                "is not a store URL",
            ),
            (
                "base = \"cli\"\n[limits]\nmemory = \"lots\"\n",
                "is not a size",
            ),
            ("base = \"cli\"\n[limits]\ntimeout = 5\n", "invalid type"),
            (
                "base = \"cli\"\n[network]\nallow = [\"example.com\"]\n",
                "is not HOST:PORT",
            ),
            ("description = \"no base\"\n", "missing field `base`"),
        ] {
            let message = WorldFile::parse(text, "w.toml").unwrap_err().to_string();
            assert!(message.contains(expected), "{text:?}: {message}");
            assert!(message.contains("line "), "{message}");
        }
    }

    #[test]
    fn a_file_extends_its_base() {
        let base = WorldFile::parse(
            "base = \"cloud\"\n[[mount]]\nguest = \".\"\nstore = \"default\"\n[limits]\nmemory = \"1GiB\"\ntimeout = \"1m\"\n",
            "base",
        )
        .unwrap();
        let mine = WorldFile::parse(
            "base = \"cloud\"\n[[mount]]\nguest = \".\"\nstore = \"memory:\"\n[[mount]]\nguest = \"in\"\nstore = \"s3://b/p\"\nread-only = true\n[limits]\nmemory = \"64MiB\"\n[config]\nk = \"v\"\n",
            "mine",
        )
        .unwrap();
        let world = base.extended_by(mine);
        let mounts: Vec<_> = world
            .mounts
            .iter()
            .map(|m| (m.guest.as_str(), m.store.as_deref().unwrap()))
            .collect();
        assert_eq!(mounts, [(".", "memory:"), ("in", "s3://b/p")]);
        let limits = world.limits();
        assert_eq!((limits.memory, limits.timeout.as_secs()), (64 << 20, 60));
        assert_eq!(world.config["k"], "v");
    }
}
