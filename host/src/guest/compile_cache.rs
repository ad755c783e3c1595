//! Compiled guests cached on disk, so running the same guest again skips Cranelift.
//!
//! Where: `$WORLDHOST_CACHE`, else `$XDG_CACHE_HOME/worldhost/compiled`, else
//! `~/.cache/worldhost/compiled`. An entry is named by the SHA-256 of the guest's bytes and a
//! hash of the engine's settings (wasmtime's own compatibility hash, which covers its version)
//! and of how the host converts a guest first ([`CONVERSION`]), so a changed guest or host
//! never loads stale code. Files are written whole (temp file, then
//! rename); one that cannot be loaded is compiled again and replaced. Set `WORLDHOST_CACHE=off`
//! to disable: nothing is then read or written. Entries of hosts from before the tags below
//! (`*.cwasm` without `.tagged`) are never read; they can be deleted.
//!
//! # What is trusted
//!
//! An entry is native code the host runs, so it is loaded only when the current user's own
//! host wrote it:
//!
//! - The directory must be the user's alone to write: it is created `0700` (missing parents
//!   with the default umask), and one that already exists is refused when it is not owned by
//!   the user the host runs as, or is writable by its group or by others. The job module cache
//!   (`modules/` inside it, see [`crate::job::modules`]) shares that check.
//! - Entries are authenticated. `key` in the directory holds 32 random bytes, made (`0600`) on
//!   first use and refused unless it is mode `0600` and the user's. Each entry is a header, an
//!   HMAC-SHA256 tag under that key over the entry's name (guest digest and engine settings)
//!   and the serialized code, then the code. The tag is checked on the bytes that are then
//!   deserialized, before anything is deserialized: a file planted in the directory, or
//!   another guest's valid entry copied under this one's name, fails it, is reported, and
//!   the guest is compiled again and the entry replaced.
//!
//! A refused directory or key is reported once (a warning naming it and why) and the run goes
//! on: with a refused directory guests are compiled and job modules fetched every time, with a
//! refused key only compiled guests go uncached. Not checked: the directories above the cache
//! directory (whoever can rename those can swap it). Anyone who can read the key (the user,
//! root) can make entries the host will load.

use std::hash::{Hash, Hasher};
use std::io::{Read, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use anyhow::Result;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use wasmtime::Engine;
use wasmtime::component::Component;

/// The first bytes of every entry: says what follows (a tag, then the code) and its version.
const HEADER: &[u8] = b"worldhost cwasm, hmac-sha256 tag, v1\n";
/// The length of an HMAC-SHA256 tag.
const TAG_LEN: usize = 32;
/// The length of the key: as long as the hash, as RFC 2104 advises.
const KEY_LEN: usize = 32;
/// How entries' file names end. Entries of older hosts (no tag) end in just `.cwasm`; they
/// are never looked at, so hosts from before and after the tag can share one directory.
const ENTRY_SUFFIX: &str = "tagged.cwasm";

type Key = [u8; KEY_LEN];

/// Where the cache is, or `None` when caching is off. Nothing is checked: see [`trusted_dir`].
fn cache_dir() -> Option<PathBuf> {
    match std::env::var_os("WORLDHOST_CACHE") {
        Some(dir) if dir == "off" => None,
        Some(dir) => Some(PathBuf::from(dir)),
        None => {
            let cache = std::env::var_os("XDG_CACHE_HOME")
                .map(PathBuf::from)
                .or_else(|| {
                    std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cache"))
                })?;
            Some(cache.join("worldhost").join("compiled"))
        }
    }
}

/// The cache directory, created if missing, when only the current user can write it; `None`
/// when caching is off or the directory is refused (then a warning says why). Checked once
/// per process.
pub fn trusted_dir() -> Option<&'static Path> {
    static DIR: OnceLock<Option<PathBuf>> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = cache_dir()?;
        match open_private_dir(&dir) {
            Ok(()) => Some(dir),
            Err(why) => {
                tracing::warn!(
                    "not using the cache directory `{}`: {why}; guests are compiled (and job \
                     modules fetched) on every run",
                    dir.display()
                );
                None
            }
        }
    })
    .as_deref()
}

/// What the host makes of a guest's bytes before compiling them, beyond wasmtime's settings
/// (a core module's conversion): changed whenever that changes, so no entry made the old way
/// is loaded. 2: a wasip1 command's `proc_exit` carries its code (`guest::p1_exit`).
const CONVERSION: u32 = 2;

/// Compiled code the cache holds: a component, or a wasip1 core module run by wasmtime's own
/// p1 (the cli world). The kind is part of an entry's name, so the two compiled forms of one
/// core module's bytes never load as each other.
pub trait Compiled: Sized {
    /// Names the kind in entry names.
    const KIND: &'static str;
    fn serialize(&self) -> Result<Vec<u8>>;
    /// # Safety
    /// As [`Component::deserialize`]: `code` must come from `serialize` of this kind.
    unsafe fn deserialize(engine: &Engine, code: &[u8]) -> Result<Self>;
}

impl Compiled for Component {
    const KIND: &'static str = "component";
    fn serialize(&self) -> Result<Vec<u8>> {
        Component::serialize(self).map_err(anyhow::Error::from)
    }
    unsafe fn deserialize(engine: &Engine, code: &[u8]) -> Result<Self> {
        // SAFETY: passed on from the caller.
        unsafe { Component::deserialize(engine, code) }.map_err(anyhow::Error::from)
    }
}

impl Compiled for wasmtime::Module {
    const KIND: &'static str = "module";
    fn serialize(&self) -> Result<Vec<u8>> {
        wasmtime::Module::serialize(self).map_err(anyhow::Error::from)
    }
    unsafe fn deserialize(engine: &Engine, code: &[u8]) -> Result<Self> {
        // SAFETY: passed on from the caller.
        unsafe { wasmtime::Module::deserialize(engine, code) }.map_err(anyhow::Error::from)
    }
}

/// What `compile` makes of `bytes` (a component or a core module), from the cache when it
/// holds it; says whether it came from the cache.
pub fn load_or_compile<C: Compiled>(
    engine: &Engine,
    bytes: &[u8],
    compile: impl FnOnce() -> Result<C>,
) -> Result<(C, bool)> {
    let Some((dir, key)) = trusted_dir().and_then(|dir| Some((dir, cache_key(dir)?))) else {
        return Ok((compile()?, false));
    };
    let (name, path) = entry::<C>(dir, engine, bytes);
    match std::fs::read(&path) {
        Ok(entry) => match authenticated(key, &name, &entry) {
            Ok(code) => {
                // SAFETY: `code` carries a valid tag under the user's key, which only the user
                // (and root) can read, over this entry's name and these very bytes (read once,
                // so the file cannot change between check and use). Only `store` makes such
                // tags, on the output of `C::serialize` from an engine with the compatibility
                // hash the name holds (with the kind `C`), for the guest whose digest the name
                // holds.
                match unsafe { C::deserialize(engine, code) } {
                    Ok(component) => {
                        tracing::debug!(path = %path.display(), "compiled guest loaded from the cache");
                        return Ok((component, true));
                    }
                    Err(error) => {
                        tracing::warn!(path = %path.display(), %error, "cached guest unusable; compiling again")
                    }
                }
            }
            Err(why) => {
                tracing::warn!(path = %path.display(), why, "cached guest unusable; compiling again")
            }
        },
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
        Err(error) => {
            tracing::warn!(path = %path.display(), %error, "cached guest unusable; compiling again")
        }
    }
    let component = compile()?;
    if let Err(error) = store(key, &component, dir, &name, &path) {
        tracing::warn!(dir = %dir.display(), %error, "cannot cache the compiled guest");
    }
    Ok((component, false))
}

/// The name of the entry for code of kind `C` compiled from `bytes` by `engine` (the guest's
/// digest and a hash of the settings), and its path in `dir`.
fn entry<C: Compiled>(dir: &Path, engine: &Engine, bytes: &[u8]) -> (String, PathBuf) {
    let mut settings = std::hash::DefaultHasher::new();
    engine.precompile_compatibility_hash().hash(&mut settings);
    CONVERSION.hash(&mut settings);
    C::KIND.hash(&mut settings);
    let digest = Sha256::digest(bytes);
    let digest: String = digest.iter().map(|byte| format!("{byte:02x}")).collect();
    let name = format!("{digest}-{:016x}", settings.finish());
    let path = dir.join(format!("{name}.{ENTRY_SUFFIX}"));
    (name, path)
}

/// The code in `entry` (the file named `name`), if its tag is right.
fn authenticated<'a>(key: &Key, name: &str, entry: &'a [u8]) -> Result<&'a [u8], &'static str> {
    let rest = entry
        .strip_prefix(HEADER)
        .ok_or("not a cache entry of this host (no header)")?;
    if rest.len() < TAG_LEN {
        return Err("truncated");
    }
    let (tag, code) = rest.split_at(TAG_LEN);
    entry_mac(key, name, code)
        .verify_slice(tag)
        .map_err(|_| "its tag does not match: damaged, planted, or another guest's entry")?;
    Ok(code)
}

/// The MAC of the entry named `name` holding `code`. The name is covered so that one guest's
/// valid entry is not valid under another guest's (or another engine's) name.
fn entry_mac(key: &Key, name: &str, code: &[u8]) -> Hmac<Sha256> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes keys of any length");
    mac.update(name.as_bytes());
    mac.update(b"\n");
    mac.update(code);
    mac
}

fn store<C: Compiled>(key: &Key, compiled: &C, dir: &Path, name: &str, path: &Path) -> Result<()> {
    let code = compiled.serialize()?;
    let tag = entry_mac(key, name, &code).finalize().into_bytes();
    // A new temp file is created 0600, and gets its name only once written whole.
    let mut temp = tempfile::NamedTempFile::new_in(dir)?;
    temp.write_all(HEADER)?;
    temp.write_all(&tag)?;
    temp.write_all(&code)?;
    temp.persist(path)?;
    Ok(())
}

/// Makes `dir` if it is missing (`0700`), then checks only the current user can write it.
fn open_private_dir(dir: &Path) -> Result<(), String> {
    match std::fs::metadata(dir) {
        Ok(_) => {}
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            create_private_dir(dir).map_err(|error| format!("cannot create it ({error})"))?
        }
        Err(error) => return Err(format!("cannot look at it ({error})")),
    }
    let meta = std::fs::metadata(dir).map_err(|error| format!("cannot look at it ({error})"))?;
    if !meta.is_dir() {
        return Err("it is not a directory".to_owned());
    }
    if let Some(why) = someone_elses(&meta) {
        return Err(format!("it {why}"));
    }
    if meta.mode() & 0o022 != 0 {
        return Err(format!(
            "it is writable by other users (mode {:04o}; `chmod go-w` on it fixes that)",
            meta.mode() & 0o7777
        ));
    }
    Ok(())
}

fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    if let Some(parent) = dir.parent() {
        std::fs::create_dir_all(parent)?;
    }
    match std::fs::DirBuilder::new().mode(0o700).create(dir) {
        // The mode asked for is masked by the umask; this one is not.
        Ok(()) => std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)),
        // Made meanwhile by another run; checked like any existing directory.
        Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(error) => Err(error),
    }
}

/// Why a file or directory is not the host's own: it belongs to another user than the one
/// the host runs as.
fn someone_elses(meta: &std::fs::Metadata) -> Option<String> {
    // SAFETY: `geteuid` has no preconditions and cannot fail.
    let me = unsafe { libc::geteuid() };
    (meta.uid() != me).then(|| {
        format!(
            "belongs to user {}, not to the user running the host ({me})",
            meta.uid()
        )
    })
}

/// The key of the entries in `dir` (a trusted directory), made on first use; `None` when it
/// is refused (then a warning says why). Read once per process.
fn cache_key(dir: &Path) -> Option<&'static Key> {
    static KEY: OnceLock<Option<Key>> = OnceLock::new();
    KEY.get_or_init(|| {
        let path = dir.join("key");
        match read_key(&path) {
            Ok(key) => Some(key),
            Err(why) => {
                tracing::warn!(
                    "not using the compiled-code cache: its key `{}` {why}; guests are compiled \
                     on every run",
                    path.display()
                );
                None
            }
        }
    })
    .as_ref()
}

fn read_key(path: &Path) -> Result<Key, String> {
    let mut file = match std::fs::File::open(path) {
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            make_key(path)?;
            std::fs::File::open(path)
        }
        opened => opened,
    }
    .map_err(|error| format!("cannot be read ({error})"))?;
    // The file opened is the one checked and read: nothing can be swapped in between.
    let meta = file
        .metadata()
        .map_err(|error| format!("cannot be read ({error})"))?;
    if !meta.is_file() {
        return Err("is not a file".to_owned());
    }
    if let Some(why) = someone_elses(&meta) {
        return Err(why);
    }
    if meta.mode() & 0o7777 != 0o600 {
        return Err(format!(
            "has mode {:04o}, not 0600 (delete it, a new one is made)",
            meta.mode() & 0o7777
        ));
    }
    let mut key = [0; KEY_LEN];
    if meta.len() != KEY_LEN as u64 || file.read_exact(&mut key).is_err() {
        return Err(format!(
            "is not {KEY_LEN} bytes long (delete it, a new one is made)"
        ));
    }
    Ok(key)
}

/// Writes a new random key at `path`, unless one is there already (made by a concurrent run).
fn make_key(path: &Path) -> Result<(), String> {
    let mut key = [0; KEY_LEN];
    getrandom::fill(&mut key).map_err(|error| format!("cannot be made ({error})"))?;
    // A new file (`create_new`, mode 0600) written whole, then linked to `path` only if no key
    // is there: a concurrent run never reads half a key, nor has its key replaced.
    let folder = path.parent().unwrap_or(Path::new("."));
    let written = tempfile::Builder::new()
        .permissions(std::fs::Permissions::from_mode(0o600))
        .tempfile_in(folder)
        .and_then(|mut temp| temp.write_all(&key).map(|()| temp));
    let temp = written.map_err(|error| format!("cannot be made ({error})"))?;
    match temp.persist_noclobber(path) {
        Ok(_) => Ok(()),
        Err(error) if error.error.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(error) => Err(format!("cannot be made ({})", error.error)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_entry_is_valid_only_under_its_own_name_and_key() {
        let key = [1; KEY_LEN];
        let code = b"serialized code";
        let mut entry = HEADER.to_vec();
        entry.extend(entry_mac(&key, "a-1", code).finalize().into_bytes());
        entry.extend(code);
        assert_eq!(authenticated(&key, "a-1", &entry), Ok(&code[..]));
        assert!(authenticated(&key, "b-1", &entry).is_err(), "another name");
        assert!(
            authenticated(&key, "a-2", &entry).is_err(),
            "other settings"
        );
        assert!(
            authenticated(&[2; KEY_LEN], "a-1", &entry).is_err(),
            "another key"
        );
        let mut damaged = entry.clone();
        *damaged.last_mut().unwrap() ^= 1;
        assert!(
            authenticated(&key, "a-1", &damaged).is_err(),
            "damaged code"
        );
        assert!(authenticated(&key, "a-1", &entry[..HEADER.len() + 5]).is_err());
        assert!(authenticated(&key, "a-1", code).is_err(), "no header");
    }
}
