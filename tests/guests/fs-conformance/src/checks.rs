//! The checks made through the std filesystem API, in transcript order: the p2/p1 binary
//! (`main.rs`) and the p3 build (`fs-conformance-p3`, which includes these files) run the same
//! code, each over its own `crate::fs` (std's here, a std-like layer over WASI 0.3 there).

use crate::fs;
use crate::report::{self, check, show};
use crate::root::Root;
use crate::{consistency, dirs, files, large, links, meta, paths, posix};

/// `root-empty-at-start`: whether ROOT holds nothing. Cleaning up removes everything in ROOT,
/// so the caller refuses to go on anywhere that holds anything.
pub fn root_is_empty(root: &Root) -> bool {
    let empty = show(names(root.dir()), |names| names.is_empty().to_string());
    check("root-empty-at-start", &empty);
    empty == "true"
}

/// Every section that goes through the std API, in order.
pub fn std_sections(root: &Root) {
    files::run(root);
    meta::run(root);
    dirs::run(root);
    consistency::run(root);
    links::run(root);
    paths::run(root);
    posix::run(root);
    large::run(root);
}

/// Lists what is left in ROOT, removes all of it, and checks ROOT is empty.
pub fn clean_up(root: &Root) {
    check("root-listing-before-cleanup", dirs::listing(root.dir()));
    let removed = names(root.dir()).and_then(|names| {
        names.iter().try_for_each(|name| {
            let path = root.path(name);
            if fs::symlink_metadata(&path)?.is_dir() {
                fs::remove_dir_all(&path)
            } else {
                fs::remove_file(&path)
            }
        })
    });
    check("cleanup", report::unit(removed));
    check(
        "root-empty-after-cleanup",
        show(names(root.dir()), |names| names.is_empty().to_string()),
    );
}

/// The names in a directory, sorted.
fn names(dir: &str) -> std::io::Result<Vec<String>> {
    let mut names = fs::read_dir(dir)?
        .map(|entry| entry.map(|entry| entry.file_name().to_string_lossy().into_owned()))
        .collect::<std::io::Result<Vec<_>>>()?;
    names.sort();
    Ok(names)
}
