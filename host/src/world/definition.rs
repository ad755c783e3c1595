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

use worldhost_store::StoreUrl;
use worldhost_world_api::{MountEntry, MountSource};

use super::registry::{BUILT_IN, names};
use crate::limits::{Limits, LimitsSection};

/// One world definition file, as written.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct WorldFile {
    /// One line saying what the world is for.
    pub description: Option<String>,
    /// In a built-in definition, the implementation (`cli` or `cloud`); in a user's file, the
    /// built-in world it extends.
    pub base: String,
    #[serde(default, rename = "mount", deserialize_with = "mount_entries")]
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
    /// `wasi:keyvalue` buckets (the `cloud` world).
    #[serde(default)]
    pub keyvalue: KeyValueSection,
    /// Where the definition came from (a file path, or `built-in world NAME`), for messages.
    #[serde(skip)]
    pub origin: String,
}

/// A `[[mount]]` table as written: a guest path served by a host directory (`cli`) or a
/// store (`cloud`); each world takes only its own kind.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct MountTable {
    /// Where the guest sees it.
    guest: String,
    /// A host directory (the `cli` world), relative to the world file's folder.
    host: Option<PathBuf>,
    /// A store URL (the `cloud` world): `default`, memory:, file:///..., s3://, gs://, az://,
    /// http(s)://; parsed here, so an error names its line.
    #[serde(default, deserialize_with = "optional_store_url")]
    store: Option<StoreUrl>,
    #[serde(default)]
    read_only: bool,
}

/// The `[[mount]]` tables, each checked where it stands (its line in errors).
fn mount_entries<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<MountEntry>, D::Error> {
    #[derive(Deserialize)]
    #[serde(try_from = "MountTable")]
    struct Checked(MountEntry);

    impl TryFrom<MountTable> for Checked {
        type Error = String;

        fn try_from(table: MountTable) -> Result<Checked, String> {
            let source = match (table.host, table.store) {
                (Some(host), None) => MountSource::HostDir(host),
                (None, Some(url)) => MountSource::Store(url),
                _ => {
                    return Err(format!(
                        "the mount at `{}` needs one of `host` (a host directory, for the `cli` world) \
                         or `store` (a store URL, for the `cloud` world)",
                        table.guest
                    ));
                }
            };
            Ok(Checked(MountEntry {
                guest: table.guest,
                source,
                read_only: table.read_only,
            }))
        }
    }

    let checked = Vec::<Checked>::deserialize(d)?;
    Ok(checked.into_iter().map(|Checked(entry)| entry).collect())
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

/// `[keyvalue]`: the buckets `wasi:keyvalue/store.open` serves.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct KeyValueSection {
    /// `NAME = "STORE URL"`: the bucket `NAME` keeps its keys as objects under the URL's prefix.
    #[serde(default)]
    pub buckets: BTreeMap<String, BucketUrl>,
}

/// A bucket's store URL, parsed where it stands (its line in errors).
#[derive(Debug, Clone, Deserialize)]
#[serde(try_from = "String")]
pub struct BucketUrl(pub StoreUrl);

impl TryFrom<String> for BucketUrl {
    type Error = String;

    fn try_from(text: String) -> Result<BucketUrl, String> {
        let url = StoreUrl::parse(&text)?;
        if matches!(url.kind(), worldhost_store::StoreKind::Http) {
            return Err(format!(
                "`{text}`: a key-value bucket is written to, and http(s) stores are read-only"
            ));
        }
        Ok(BucketUrl(url))
    }
}

impl KeyValueSection {
    /// The buckets' names and store URLs.
    pub fn urls(&self) -> BTreeMap<String, StoreUrl> {
        let buckets = self.buckets.iter();
        buckets
            .map(|(name, url)| (name.clone(), url.0.clone()))
            .collect()
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct NetworkSection {
    /// `host:port` pairs the guest may connect to; everything else is denied.
    #[serde(default, deserialize_with = "host_ports")]
    pub allow: Vec<String>,
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

/// Splits a mount flag's value, `SOURCE[::GUEST][:ro|:rw]` (the syntax of
/// `wasmtime run --dir` plus a read-only suffix), into source, guest path (if given) and
/// read-only.
pub fn split_mount_flag(flag: &str, value: &str) -> Result<(String, Option<String>, bool)> {
    let (rest, read_only) = match (value.strip_suffix(":ro"), value.strip_suffix(":rw")) {
        (Some(rest), _) => (rest, true),
        (None, Some(rest)) => (rest, false),
        (None, None) => (value, false),
    };
    let (source, guest) = match rest.rsplit_once("::") {
        Some((source, guest)) => (source, Some(guest)),
        None => (rest, None),
    };
    if source.is_empty() || guest.is_some_and(str::is_empty) {
        bail!("`{flag} {value}`: expected SOURCE[::GUEST][:ro], with neither part empty");
    }
    Ok((source.to_owned(), guest.map(str::to_owned), read_only))
}

fn optional_store_url<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Option<StoreUrl>, D::Error> {
    store_url(d).map(Some)
}

/// A store URL in a definition or job file, parsed where it stands.
pub(crate) fn store_url<'de, D: serde::Deserializer<'de>>(d: D) -> Result<StoreUrl, D::Error> {
    let text = String::deserialize(d)?;
    StoreUrl::parse(&text).map_err(serde::de::Error::custom)
}

/// `text` (a value read from a file, or a path or name it gives) fit to show inside a
/// one-paragraph message: control characters, line breaks first, written as escapes (`\n`).
pub(crate) fn one_line(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_control() {
                c.escape_default().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

/// Parses TOML `text` into `T`, failing with one paragraph that names `origin` (a file path),
/// the line and column, and what is wrong there.
pub fn parse_toml<T: serde::de::DeserializeOwned>(text: &str, origin: &str) -> Result<T> {
    toml::from_str(text).map_err(|e| {
        // One paragraph: where, then what (toml's own rendering spans several lines, and a
        // value it quotes may hold a line break of either kind).
        let message = e.message().trim().replace(['\n', '\r'], " ");
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
                "there is no world called `{}`; the worlds are: {} (or give a world file, like ./my-world.toml)",
                one_line(name_or_path),
                known.join(", ")
            );
        }
        let path = Path::new(name_or_path);
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read world file `{}`", one_line(name_or_path)))?;
        let file = WorldFile::parse(&text, &path.display().to_string())?;
        let base = WorldFile::built_in(&file.base).with_context(|| {
            format!(
                "{}: `base = \"{}\"` names no built-in world (the built-in worlds: {})",
                path.display(),
                one_line(&file.base),
                names()
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
            if let MountSource::HostDir(host) = &mut mount.source
                && host.is_relative()
            {
                *host = folder.join(&*host);
            }
        }
        self
    }

    /// Whether every store a run may write to keeps what it holds on this machine (`memory:`
    /// or a local directory; read-only mounts of any store count too). Then a process ended at
    /// its time limit leaves nothing behind that it cannot remove first (staged files, see
    /// `worldhost_store::staged_files`), where a cloud store would keep the parts of an
    /// unfinished multipart upload until they are aborted in-process.
    pub fn writes_stay_local(&self) -> bool {
        let local = |url: &StoreUrl| {
            matches!(
                url.kind(),
                worldhost_store::StoreKind::Memory | worldhost_store::StoreKind::Local(_)
            )
        };
        let mounts = self.mounts.iter().all(|mount| match &mount.source {
            MountSource::HostDir(_) => true,
            MountSource::Store(url) => mount.read_only || url.is_read_only() || local(url),
        });
        mounts
            && self
                .keyvalue
                .buckets
                .values()
                .all(|bucket| local(&bucket.0))
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
        self.limits = other.limits.over(self.limits);
        self.config.extend(other.config);
        self.keyvalue.buckets.extend(other.keyvalue.buckets);
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
        Limits::default().with(&self.limits)
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
    fn only_worlds_that_write_to_local_stores_keep_their_writes_local() {
        let world = |mounts: &str| {
            let text = format!("base = \"cloud\"\n{mounts}");
            WorldFile::built_in("cloud")
                .unwrap()
                .extended_by(WorldFile::parse(&text, "w.toml").unwrap())
                .writes_stay_local()
        };
        assert!(WorldFile::built_in("cloud").unwrap().writes_stay_local());
        assert!(WorldFile::built_in("cli").unwrap().writes_stay_local());
        let mount = |url: &str, extra: &str| {
            format!("[[mount]]\nguest = \"/d\"\nstore = \"{url}\"\n{extra}")
        };
        assert!(world(&mount("memory:", "")));
        assert!(world(&mount("file:///tmp/x", "")));
        assert!(world(&mount("https://example.com/data", "")));
        assert!(world(&mount("s3://bucket/p", "read-only = true")));
        assert!(!world(&mount("s3://bucket/p", "")));
        assert!(!world(&mount("gs://bucket", "")));
        assert!(!world(&mount("az://container", "")));
        assert!(world("[keyvalue.buckets]\nb = \"memory:\"\n"));
        assert!(!world("[keyvalue.buckets]\nb = \"s3://bucket/kv\"\n"));
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
            (
                "base = \"cli\"\n[[mount]]\nguest = \"x\"\n",
                "needs one of `host`",
            ),
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
            .map(|m| match &m.source {
                MountSource::Store(url) => (m.guest.as_str(), url.as_str()),
                MountSource::HostDir(_) => panic!("a store mount"),
            })
            .collect();
        assert_eq!(mounts, [(".", "memory:"), ("in", "s3://b/p")]);
        let limits = world.limits();
        assert_eq!((limits.memory, limits.timeout.as_secs()), (64 << 20, 60));
        assert_eq!(world.config["k"], "v");
    }

    #[test]
    fn a_files_buckets_add_to_and_replace_its_bases() {
        let base = WorldFile::parse(
            "base = \"cloud\"\n[keyvalue.buckets]\na = \"memory:\"\nb = \"memory:\"\n",
            "base",
        )
        .unwrap();
        let mine = WorldFile::parse(
            "base = \"cloud\"\n[keyvalue.buckets]\nb = \"s3://bkt/kv\"\nc = \"default/kv\"\n",
            "mine",
        )
        .unwrap();
        let urls = base.extended_by(mine).keyvalue.urls();
        let urls: Vec<_> = urls
            .iter()
            .map(|(name, url)| (name.as_str(), url.as_str()))
            .collect();
        assert_eq!(urls[..2], [("a", "memory:"), ("b", "s3://bkt/kv")]);
        assert_eq!(urls[2].0, "c");
    }
}

#[cfg(test)]
mod flag_tests {
    use super::split_mount_flag;

    #[test]
    fn mount_flags_split_into_source_guest_and_access() {
        let split = |value| split_mount_flag("--dir", value).unwrap();
        assert_eq!(split("data"), ("data".into(), None, false));
        assert_eq!(
            split("/tmp/x::/in:ro"),
            ("/tmp/x".into(), Some("/in".into()), true)
        );
        assert_eq!(split("a::.:rw"), ("a".into(), Some(".".into()), false));
        assert_eq!(
            split("s3://bucket/prefix::/data:ro"),
            ("s3://bucket/prefix".into(), Some("/data".into()), true)
        );
        assert_eq!(split("memory:"), ("memory:".into(), None, false));
        assert_eq!(
            split("http://[::1]:8080/files::web:ro"),
            ("http://[::1]:8080/files".into(), Some("web".into()), true)
        );
        for bad in ["::guest", "host::"] {
            assert!(split_mount_flag("--dir", bad).is_err(), "{bad}");
        }
    }
}
