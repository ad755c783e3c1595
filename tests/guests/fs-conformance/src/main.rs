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
//!
//! A third build, for WASI 0.3, is `tests/guests/fs-conformance-p3`: it compiles these same
//! check files (all but this entry point, `sys.rs` and `p2.rs`) over its own std-like `fs`
//! module, which is why the checks reach the filesystem through `crate::fs` (std's here), and
//! print through `crate::print_line`.

mod checks;
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

/// The filesystem API the checks use (`crate::fs`): std's. The p3 build gives the same names
/// over WASI 0.3.
mod fs {
    pub use std::fs::*;
}

use root::Root;

fn main() {
    let Some(root) = std::env::args().nth(1) else {
        eprintln!("usage: fs-conformance ROOT");
        std::process::exit(2)
    };
    let root = Root::new(root);
    if !checks::root_is_empty(&root) {
        eprintln!("fs-conformance: ROOT must be an empty preopened directory");
        std::process::exit(2)
    }
    checks::std_sections(&root);
    #[cfg(target_env = "p2")]
    p2::run(&root);
    #[cfg(not(target_env = "p2"))]
    report::check("p2-checks", "skipped (wasm32-wasip1 build)");
    checks::clean_up(&root);
    print_line("done");
}

/// Where transcript lines go: stdout.
fn print_line(line: &str) {
    println!("{line}");
}
