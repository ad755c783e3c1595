//! Object names the host keeps for itself. They are never listed to a guest (filesystem
//! listings and blob listings alike), and a guest cannot open or create them.

/// The object that keeps an empty directory in existence (the cloud filesystem's marker).
pub const DIR_MARKER: &str = ".worldhost-dir";

/// Where a job's output mount stages its writes (see [`crate::StagedOutput`]).
pub const STAGING_DIR: &str = ".worldhost-staging";

/// Where the outputs of a failed job are kept when asked.
pub const QUARANTINE_DIR: &str = ".worldhost-quarantine";

/// Whether `name` is one of the host's own names (marker, staging, quarantine), in any case:
/// on a case-insensitive volume (a local store on macOS or Windows) `.WORLDHOST-STAGING` is
/// the same directory as `.worldhost-staging`, and must be as unreachable.
pub fn is_host_name(name: &str) -> bool {
    [DIR_MARKER, STAGING_DIR, QUARANTINE_DIR]
        .iter()
        .any(|reserved| name.eq_ignore_ascii_case(reserved))
}

/// Whether `name` is a staged upload's name on a local store (`NAME#DIGITS`, as object_store
/// stages its own writes): on local stores such files are never listed, and the guest cannot
/// open them; other stores have no such names of their own.
pub fn is_staging_name(name: &str) -> bool {
    name.rsplit_once('#')
        .is_some_and(|(_, suffix)| !suffix.is_empty() && suffix.bytes().all(|b| b.is_ascii_digit()))
}

/// Names never listed: the host's own, and local stores' staged uploads.
pub fn is_reserved(name: &str) -> bool {
    is_host_name(name) || is_staging_name(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reserved_names() {
        for name in [
            DIR_MARKER,
            STAGING_DIR,
            QUARANTINE_DIR,
            "big.bin#123",
            ".WORLDHOST-STAGING",
            ".WorldHost-Dir",
        ] {
            assert!(is_reserved(name), "{name}");
        }
        for name in ["a", "big.bin#", "x#1a", ".worldhost-dirs", "#"] {
            assert!(!is_reserved(name), "{name}");
        }
        assert!(!is_host_name("big.bin#123"));
    }
}
