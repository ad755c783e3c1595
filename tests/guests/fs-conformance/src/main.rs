//! `fs-conformance ROOT`: exercises wasi:filesystem under ROOT, a preopened guest directory
//! that starts empty, and prints a transcript. The integration tests run it in the `cli` world
//! (a real directory) and in the `cloud` world (blob storage) and compare the transcripts,
//! which must be identical apart from a few documented differences.
//!
//! # Transcript
//!
//! One line per check, `<check-id>: <result>`, then `done`. Check ids are unique, kebab-case
//! and stable. A result is `ok`, a value, or `error <ErrorKind>` with ` (os N)` when std gives
//! the wasi-libc errno (`error NotFound (os 44)`); checks made through the wasi:filesystem
//! bindings print the WIT error code instead (`error no-entry`). Failures are part of the
//! transcript: the program exits 0 whatever the checks show (a broken precondition, such as
//! being unable to write a setup file, panics instead).
//!
//! The transcript is deterministic and leaves out what differs between a real filesystem and an
//! object store: no times, inode numbers, directory sizes, link counts or hash values, only
//! comparisons of them (`mtime-after-write-not-before: true`). Directory listings are sorted.
//! ROOT itself never appears, so `data` and `.` give the same transcript.
//!
//! Checks expected to differ in a blob-store world: the checks in [`links`] that make or follow
//! symbolic and hard links (object stores have neither). Everything else, including what a
//! second handle sees before the writer closes ([`consistency`], [`posix`]), set-times
//! ([`meta`]) and the error for every odd path ([`paths`], [`posix`]), must be the same.
//!
//! The program ends by removing everything it created, so ROOT is empty again. It refuses
//! to run (failing exit status) in a ROOT that is not empty at the start.
//!
//! The wasi:filesystem checks ([`p2`]) need a component, so they are only built for
//! wasm32-wasip2; the wasm32-wasip1 build prints `p2-checks: skipped` in their place. The
//! wasip1 build also gets some other os codes (its wasi-libc maps errors its own way, through
//! the preview1 adapter), so compare each build's transcripts across worlds, never a wasip1
//! transcript with a wasip2 one.

mod consistency;
mod dirs;
mod files;
mod large;
mod links;
mod meta;
#[cfg(target_env = "p2")]
mod p2;
mod paths;
mod posix;
mod report;
mod root;
mod sys;

use std::fs;

use report::{check, show};
use root::Root;

fn main() {
    let Some(root) = std::env::args().nth(1) else {
        eprintln!("usage: fs-conformance ROOT");
        std::process::exit(2)
    };
    let root = Root::new(root);
    // Cleaning up removes everything in ROOT, so refuse to start anywhere that holds anything.
    let empty = show(names(root.dir()), |names| names.is_empty().to_string());
    check("root-empty-at-start", &empty);
    if empty != "true" {
        eprintln!("fs-conformance: ROOT must be an empty preopened directory");
        std::process::exit(2)
    }
    files::run(&root);
    meta::run(&root);
    dirs::run(&root);
    consistency::run(&root);
    links::run(&root);
    paths::run(&root);
    posix::run(&root);
    large::run(&root);
    #[cfg(target_env = "p2")]
    p2::run(&root);
    #[cfg(not(target_env = "p2"))]
    check("p2-checks", "skipped (wasm32-wasip1 build)");
    clean_up(&root);
    println!("done");
}

/// Lists what is left in ROOT, removes all of it, and checks ROOT is empty.
fn clean_up(root: &Root) {
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
