//! Store URLs, parsed once into the store they name.
//!
//! | URL | store |
//! | --- | --- |
//! | `default`, `default/PREFIX` | the embedded default store (a local directory), or a folder in it |
//! | `memory:` (also `memory://`, `memory:///`) | an in-memory store, empty at start, gone when the run ends, holding at most 1 GiB ([`crate::MemoryStore`]) |
//! | `file:///srv/data` | a local directory (created if missing) |
//! | `s3://bucket/prefix` | Amazon S3 or any S3-compatible server |
//! | `gs://bucket/prefix` | Google Cloud Storage |
//! | `az://container/prefix` (or `azure://`) | Azure Blob Storage |
//! | `http(s)://host/path` | a read-only HTTP/WebDAV server |

use std::path::{Path, PathBuf};

use crate::copy::CopyLimits;
use crate::default_store_dir;

/// Every form a store URL takes, for messages.
pub const STORE_URL_FORMS: &str = "`default` (or `default/PREFIX`), memory:, file:///ABSOLUTE/PATH, \
     s3://BUCKET/PREFIX, gs://BUCKET/PREFIX, az://CONTAINER/PREFIX or http(s)://HOST/PATH";

/// A store URL: the store it names, and its text (with `default` resolved to the default
/// store's `file://` URL), which names it in messages and reports.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct StoreUrl {
    text: String,
    kind: StoreKind,
}

/// Which store a URL names.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum StoreKind {
    /// In host memory: empty at start, gone at the end of the run.
    Memory,
    /// A local directory.
    Local(PathBuf),
    S3 {
        bucket: String,
        prefix: String,
    },
    Gcs {
        bucket: String,
        prefix: String,
    },
    Azure {
        container: String,
        prefix: String,
    },
    /// A plain HTTP(S)/WebDAV server, read-only; the URL's path is the store's root.
    Http,
}

impl StoreUrl {
    /// Parses `text`, failing with a message that names it and lists the valid forms.
    pub fn parse(text: &str) -> Result<StoreUrl, String> {
        let not_a_store =
            |why: &str| format!("`{text}` is not a store URL{why}: use {STORE_URL_FORMS}");
        if text == "default" || text.starts_with("default/") {
            let root = default_store_dir();
            let rest = text["default".len()..].trim_matches('/');
            let dir = if rest.is_empty() {
                root
            } else {
                root.join(rest)
            };
            return Ok(StoreUrl::local(dir));
        }
        if matches!(text, "memory:" | "memory://" | "memory:///") {
            return Ok(StoreUrl {
                text: text.to_owned(),
                kind: StoreKind::Memory,
            });
        }
        if let Some(path) = text.strip_prefix("file://") {
            if !path.starts_with('/') {
                return Err(not_a_store(" (a file:// URL takes an absolute path)"));
            }
            return Ok(StoreUrl {
                text: text.to_owned(),
                kind: StoreKind::Local(PathBuf::from(path)),
            });
        }
        let parsed = ::url::Url::parse(text).map_err(|_| not_a_store(""))?;
        let bucket = parsed.host_str().unwrap_or_default().to_owned();
        let prefix = parsed.path().trim_matches('/').to_owned();
        let kind = match parsed.scheme() {
            "s3" => StoreKind::S3 { bucket, prefix },
            "gs" => StoreKind::Gcs { bucket, prefix },
            "az" | "azure" => StoreKind::Azure {
                container: bucket,
                prefix,
            },
            "http" | "https" => StoreKind::Http,
            other => return Err(not_a_store(&format!(" (unknown scheme `{other}`)"))),
        };
        if parsed.host_str().is_none_or(str::is_empty) {
            return Err(format!(
                "`{text}` names no bucket or host (like s3://BUCKET/PREFIX)"
            ));
        }
        Ok(StoreUrl {
            text: text.to_owned(),
            kind,
        })
    }

    /// The URL of the local directory `dir`.
    pub fn local(dir: PathBuf) -> StoreUrl {
        StoreUrl {
            text: format!("file://{}", dir.display()),
            kind: StoreKind::Local(dir),
        }
    }

    /// The default store.
    pub fn default_store() -> StoreUrl {
        StoreUrl::local(default_store_dir())
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }

    pub fn kind(&self) -> &StoreKind {
        &self.kind
    }

    /// The directory of a local store.
    pub fn local_dir(&self) -> Option<&Path> {
        match &self.kind {
            StoreKind::Local(dir) => Some(dir),
            _ => None,
        }
    }

    /// Whether the store can only be read (http(s)).
    pub fn is_read_only(&self) -> bool {
        self.kind == StoreKind::Http
    }

    /// Whether what is stored outlives the run (all but `memory:`).
    pub fn outlives_run(&self) -> bool {
        self.kind != StoreKind::Memory
    }

    /// How objects are copied in the store: memory and local copies (a clone, a hard link)
    /// take any size; a cloud store's server-side copy takes up to 5 GiB, and larger objects
    /// are streamed through the host (see [`crate::copy_object`]).
    pub fn copy_limits(&self) -> CopyLimits {
        match self.kind {
            StoreKind::Memory | StoreKind::Local(_) => CopyLimits {
                single_copy: u64::MAX,
                ..CopyLimits::default()
            },
            _ => CopyLimits::default(),
        }
    }

    /// Whether the two URLs name the same store, or one lies inside the other.
    pub fn overlaps(&self, other: &StoreUrl) -> bool {
        let folder = |url: &StoreUrl| url.text.trim_end_matches('/').to_owned() + "/";
        let (a, b) = (folder(self), folder(other));
        a.starts_with(&b) || b.starts_with(&a)
    }
}

impl std::fmt::Display for StoreUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text)
    }
}

impl std::str::FromStr for StoreUrl {
    type Err = String;

    fn from_str(text: &str) -> Result<StoreUrl, String> {
        StoreUrl::parse(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind(text: &str) -> StoreKind {
        StoreUrl::parse(text).unwrap().kind
    }

    #[test]
    fn every_scheme_parses_to_its_store() {
        assert_eq!(kind("memory:"), StoreKind::Memory);
        assert_eq!(kind("memory:///"), StoreKind::Memory);
        assert_eq!(
            kind("file:///srv/data"),
            StoreKind::Local("/srv/data".into())
        );
        assert_eq!(
            kind("s3://bucket/a/b/"),
            StoreKind::S3 {
                bucket: "bucket".into(),
                prefix: "a/b".into()
            }
        );
        assert_eq!(
            kind("gs://b"),
            StoreKind::Gcs {
                bucket: "b".into(),
                prefix: "".into()
            }
        );
        assert_eq!(
            kind("azure://c/p"),
            StoreKind::Azure {
                container: "c".into(),
                prefix: "p".into()
            }
        );
        assert_eq!(kind("https://example.com/files"), StoreKind::Http);
        assert!(
            StoreUrl::parse("http://example.com/x")
                .unwrap()
                .is_read_only()
        );
        assert!(!StoreUrl::parse("memory:").unwrap().outlives_run());
    }

    /// Issue 11, item 5: a `%` in a prefix is taken literally, once (never decoded: `%20` is
    /// three characters of the key, as the AWS and gcloud tools read `s3://` and `gs://`
    /// URLs), and `memory:` takes every spelling object_store gives it.
    #[test]
    fn percent_signs_are_literal_and_memory_has_three_spellings() {
        assert_eq!(
            kind("s3://b/a%20b/c%zz"),
            StoreKind::S3 {
                bucket: "b".into(),
                prefix: "a%20b/c%zz".into()
            }
        );
        assert_eq!(
            kind("gs://b/100%25"),
            StoreKind::Gcs {
                bucket: "b".into(),
                prefix: "100%25".into()
            }
        );
        assert_eq!(kind("file:///tmp/x%y"), StoreKind::Local("/tmp/x%y".into()));
        assert_eq!(
            kind("file:///tmp/a%20b"),
            StoreKind::Local("/tmp/a%20b".into())
        );
        for memory in ["memory:", "memory://", "memory:///"] {
            assert_eq!(kind(memory), StoreKind::Memory, "{memory}");
        }
    }

    #[test]
    fn default_is_the_default_store_or_a_folder_in_it() {
        let root = default_store_dir();
        assert_eq!(
            StoreUrl::parse("default").unwrap().local_dir(),
            Some(root.as_path())
        );
        let folder = StoreUrl::parse("default/jobs/1").unwrap();
        assert_eq!(folder.local_dir(), Some(root.join("jobs/1").as_path()));
        assert_eq!(folder.as_str(), format!("file://{}/jobs/1", root.display()));
    }

    #[test]
    fn bad_urls_name_themselves_and_the_reason() {
        for (text, reason) in [
            ("ftp://host/x", "unknown scheme `ftp`"),
            ("not a url", "is not a store URL"),
            ("s3:///no-bucket", "names no bucket"),
            ("file://relative/dir", "absolute path"),
            ("memory:x", "is not a store URL"),
        ] {
            let error = StoreUrl::parse(text).unwrap_err();
            assert!(error.contains(text) && error.contains(reason), "{error}");
        }
    }

    #[test]
    fn overlapping_stores() {
        let url = |text| StoreUrl::parse(text).unwrap();
        assert!(url("s3://b/out").overlaps(&url("s3://b/out/")));
        assert!(url("s3://b/out/x").overlaps(&url("s3://b/out")));
        assert!(!url("s3://b/out").overlaps(&url("s3://b/output")));
        assert!(!url("s3://b/out").overlaps(&url("gs://b/out")));
    }

    /// Text that looks like a store URL, or partly: a scheme, a separator, then anything.
    fn url_like() -> impl proptest::strategy::Strategy<Value = String> {
        "(default|memory|file|s3|gs|az|azure|http|https|ftp|)(:|://|:///|/|)[a-zA-Z0-9./:@%?#\\[\\] \n-]{0,24}"
    }

    proptest::proptest! {
        #![proptest_config(proptest::test_runner::Config {
            failure_persistence: None,
            ..proptest::test_runner::Config::default()
        })]

        /// Issue 12, item 7: `StoreUrl::parse` never panics; a refusal names the text, and a
        /// URL it accepts parses again from its own text to the same store.
        #[test]
        fn store_urls_never_panic_and_round_trip(text in proptest::prop_oneof![
            proptest::arbitrary::any::<String>(),
            url_like(),
        ]) {
            match StoreUrl::parse(&text) {
                Ok(url) => {
                    let again = StoreUrl::parse(url.as_str());
                    proptest::prop_assert_eq!(again.map(|again| again.kind), Ok(url.kind));
                }
                Err(message) => {
                    proptest::prop_assert!(message.contains(&format!("`{text}`")), "{}", message);
                }
            }
        }
    }
}
