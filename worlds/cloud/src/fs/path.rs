//! Guest paths to object keys, and the rule that a path never leaves its mount.
//!
//! A path is resolved against a directory descriptor's key (a list of segments below the
//! mount root). `.` and empty segments are skipped and `..` pops a segment; popping above the
//! mount root, an absolute path, or a segment with control characters is refused. The result
//! is a relative key inside the mount, which the mount's `PrefixStore` then places under its
//! prefix: keys outside the prefix are never formed.

use object_store::path::{Path as Key, PathPart};

use super::ErrorCode;

/// The host's own names (the directory marker, jobs' staging and quarantine folders) and local
/// stores' staged uploads: never listed, and the guest cannot open or create them.
pub use worldhost_store::names::{DIR_MARKER, is_host_name, is_reserved, is_staging_name};

/// The longest path a guest may give, in bytes (Linux's `PATH_MAX` less its NUL): longer is
/// `name-too-long`. It also bounds the work one resolution does.
pub const MAX_PATH: usize = 4095;
/// The longest name of one file or directory, in bytes (Linux's `NAME_MAX`).
pub const MAX_NAME: usize = 255;

/// A key below a mount's root (empty for the root). Keys hold the guest's names unencoded, so
/// listings give back exactly what was written. The key is the only state: segments are its
/// parts between `/`, found when asked, so resolving a path allocates one string.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct RelPath {
    key: Key,
}

/// Maps of paths are searched by key too (a listed object's key needs no copy to be found).
impl std::borrow::Borrow<Key> for RelPath {
    fn borrow(&self) -> &Key {
        &self.key
    }
}

impl RelPath {
    /// The mount root.
    pub fn root() -> RelPath {
        RelPath::default()
    }

    pub fn is_root(&self) -> bool {
        self.key.as_ref().is_empty()
    }

    /// The path's segments, from the root (none for the root).
    fn segments(&self) -> impl Iterator<Item = &str> {
        let key = self.key.as_ref();
        key.split('/').filter(move |_| !key.is_empty())
    }

    /// How many segments deep the path lies (0 for the root).
    pub fn depth(&self) -> usize {
        self.key.parts_count()
    }

    /// The segment at `index` (from the root).
    pub fn segment(&self, index: usize) -> &str {
        self.segments().nth(index).unwrap_or_default()
    }

    /// Whether any segment is a local store's staging name.
    pub fn has_staging_name(&self) -> bool {
        self.segments().any(is_staging_name)
    }

    /// Resolves the guest's `path` relative to `self`, refusing escapes and odd encodings.
    pub fn join(&self, path: &str) -> Result<RelPath, ErrorCode> {
        self.join_checked(path).map(|resolved| resolved.path)
    }

    /// Like [`RelPath::join`], also saying what POSIX resolution would require: every
    /// directory that a `..` steps out of must exist, and a trailing `/` names a directory.
    pub fn join_checked(&self, path: &str) -> Result<Resolved, ErrorCode> {
        // Bounded before any work, as Linux bounds them: the whole path and each name.
        if path.len() > MAX_PATH {
            return Err(ErrorCode::NameTooLong);
        }
        if path.starts_with('/') {
            // WASI paths are relative to a descriptor; cap-std answers the same way.
            return Err(ErrorCode::NotPermitted);
        }
        // The key only grows by checked parts and shrinks to a parent, so it stays valid.
        let mut key = self.key.clone();
        let mut must_be_dirs = Vec::new();
        for segment in path.split('/') {
            match segment {
                "" | "." => {}
                ".." => {
                    // `self` and the directories above it exist; any other must be checked.
                    if !self.key.prefix_matches(&key) {
                        must_be_dirs.push(RelPath { key: key.clone() });
                    }
                    key = key.parent().ok_or(ErrorCode::NotPermitted)?;
                }
                name => {
                    if name.len() > MAX_NAME {
                        return Err(ErrorCode::NameTooLong);
                    }
                    let part = PathPart::parse(name).map_err(|_| ErrorCode::IllegalByteSequence)?;
                    if is_host_name(name) {
                        return Err(ErrorCode::Access);
                    }
                    // `extend` appends the checked part as it is (`join` formats it).
                    key.extend([part]);
                }
            }
        }
        Ok(Resolved {
            path: RelPath { key },
            must_be_dirs,
            names_dir: path.ends_with('/') || path.ends_with("/."),
        })
    }

    /// The object key of a file at this path.
    pub fn key(&self) -> Key {
        self.key.clone()
    }

    /// The object key, borrowed.
    pub fn key_ref(&self) -> &Key {
        &self.key
    }

    /// The prefix listing this directory's contents (`None` for the root: list everything).
    pub fn dir_prefix(&self) -> Option<Key> {
        (!self.is_root()).then(|| self.key())
    }

    /// The key of this directory's marker object.
    pub fn marker_key(&self) -> Key {
        self.key.clone().join(DIR_MARKER)
    }

    /// The parent directory, or `None` for the root.
    pub fn parent(&self) -> Option<RelPath> {
        self.key.parent().map(|key| RelPath { key })
    }

    /// The last segment (the file or directory's own name); empty for the root.
    pub fn name(&self) -> &str {
        key_name(&self.key)
    }

    /// Whether `self` is `other` or lies below it.
    pub fn starts_with(&self, other: &RelPath) -> bool {
        self.key.prefix_matches(&other.key)
    }

    /// `self` with the leading `from` replaced by `to` (for directory renames).
    pub fn rebase(&self, from: &RelPath, to: &RelPath) -> RelPath {
        let mut key = to.key.clone();
        if let Some(below) = self.key.prefix_match(&from.key) {
            key.extend(below);
        }
        RelPath { key }
    }

    /// Builds the path of a listed key (its parts below the mount root).
    pub fn from_key(key: &Key) -> RelPath {
        RelPath { key: key.clone() }
    }
}

/// The last part of `key` (its own name); empty for the root. Split at the `/` character,
/// which is quicker than object_store's `filename` (it searches for a one-byte string).
pub fn key_name(key: &Key) -> &str {
    let key = key.as_ref();
    key.rsplit_once('/').map_or(key, |(_, name)| name)
}

/// A resolved path, with the checks that make its resolution match a real filesystem's.
#[derive(Debug)]
pub struct Resolved {
    pub path: RelPath,
    /// Directories that a `..` stepped out of: each must exist as a directory.
    pub must_be_dirs: Vec<RelPath>,
    /// The path ended in `/`, so it must name a directory.
    pub names_dir: bool,
}

impl std::fmt::Display for RelPath {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.is_root() {
            f.write_str(".")
        } else {
            f.write_str(self.key.as_ref())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn join(base: &[&str], path: &str) -> Result<String, ErrorCode> {
        let base = RelPath::from_key(&base.iter().map(|s| PathPart::parse(s).unwrap()).collect());
        base.join(path).map(|p| p.to_string())
    }

    #[test]
    fn normal_paths_resolve_inside_the_mount() {
        assert_eq!(join(&[], "a/b.txt"), Ok("a/b.txt".into()));
        assert_eq!(join(&["a"], "./b//c.txt"), Ok("a/b/c.txt".into()));
        assert_eq!(join(&["a"], "../b.txt"), Ok("b.txt".into()));
        assert_eq!(join(&["a", "b"], "../../x"), Ok("x".into()));
        assert_eq!(join(&[], "."), Ok(".".into()));
        assert_eq!(join(&[], ""), Ok(".".into()));
    }

    #[test]
    fn escapes_and_odd_names_are_refused() {
        assert_eq!(join(&[], ".."), Err(ErrorCode::NotPermitted));
        assert_eq!(
            join(&["a"], "../../etc/passwd"),
            Err(ErrorCode::NotPermitted)
        );
        assert_eq!(join(&["a"], "b/../../../x"), Err(ErrorCode::NotPermitted));
        assert_eq!(join(&[], "/etc/passwd"), Err(ErrorCode::NotPermitted));
        assert_eq!(join(&[], "a\u{0}b"), Err(ErrorCode::IllegalByteSequence));
        assert_eq!(join(&[], "a\nb"), Err(ErrorCode::IllegalByteSequence));
        assert_eq!(join(&[], DIR_MARKER), Err(ErrorCode::Access));
        assert_eq!(join(&[], "d/.worldhost-dir"), Err(ErrorCode::Access));
        // Staging names are refused only on local stores (see `Volume::resolve`).
        assert_eq!(join(&[], "big.bin#123"), Ok("big.bin#123".into()));
    }

    #[test]
    fn paths_and_names_past_linux_limits_are_too_long() {
        let name = "n".repeat(MAX_NAME);
        assert!(join(&[], &name).is_ok());
        assert_eq!(join(&[], &format!("{name}n")), Err(ErrorCode::NameTooLong));
        assert_eq!(
            join(&[], &format!("d/{name}n/x")),
            Err(ErrorCode::NameTooLong)
        );
        let deep = "d/".repeat(MAX_PATH / 2);
        assert_eq!(deep.len(), MAX_PATH - 1);
        assert!(join(&[], &deep).is_ok());
        assert_eq!(join(&[], &format!("{deep}dd")), Err(ErrorCode::NameTooLong));
        // The attack: `x/` x 16000 then `../` x 16000 is refused at once.
        let attack = "x/".repeat(16_000) + &"../".repeat(16_000);
        let started = std::time::Instant::now();
        assert_eq!(join(&[], &attack), Err(ErrorCode::NameTooLong));
        assert!(started.elapsed() < std::time::Duration::from_millis(50));
        // The longest allowed path of `..` climbs resolves in linear-ish time.
        let climb = "x/".repeat(1000) + &"../".repeat(698);
        assert!(climb.len() <= MAX_PATH);
        let started = std::time::Instant::now();
        let resolved = RelPath::root().join_checked(&climb).unwrap();
        assert_eq!(resolved.must_be_dirs.len(), 698);
        assert!(started.elapsed() < std::time::Duration::from_millis(500));
    }

    #[test]
    fn dotdot_requires_the_directories_it_leaves() {
        let resolved = RelPath::root().join_checked("a/b/../../c/").unwrap();
        assert_eq!(resolved.path.to_string(), "c");
        let checks: Vec<String> = resolved
            .must_be_dirs
            .iter()
            .map(|p| p.to_string())
            .collect();
        assert_eq!(checks, ["a/b", "a"]);
        assert!(resolved.names_dir);
        // Stepping out of the descriptor's own directory needs no check: it exists.
        let base = RelPath::root().join("x/y").unwrap();
        assert!(base.join_checked("../z").unwrap().must_be_dirs.is_empty());
        // A sibling entered and left again is checked, however long its name.
        let checks = |path: &str| base.join_checked(path).unwrap().must_be_dirs;
        assert_eq!(checks("../w/..").len(), 1);
        assert_eq!(checks("../long-name/..").len(), 1);
        assert_eq!(checks("../../q/y/../..").len(), 2);
        assert!(checks("../../x/y/..").is_empty());
    }

    #[test]
    fn keys_are_the_segments_unencoded() {
        let path = RelPath::root().join("dir/report 100%.txt").unwrap();
        assert_eq!(path.key().as_ref(), "dir/report 100%.txt");
        assert_eq!(RelPath::from_key(&path.key()), path);
        assert_eq!(
            path.marker_key().as_ref(),
            "dir/report 100%.txt/.worldhost-dir"
        );
    }
}
