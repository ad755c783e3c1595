//! What the tests share and is not a test: guests built and the `host` binary run (`harness`),
//! the object-store servers (`stores`, each a `server` process), a proxy that can cut a server
//! off (`proxy`), the conformance transcript and its comparison (`conformance`), the image
//! example's files (`images`) and a folder to run jobs in (`jobs`).
//!
//! The benchmarks in `tests/bench` include this module by path, so its files name one another
//! through `super::`, never `crate::`.

pub mod conformance;
pub mod harness;
pub mod images;
pub mod jobs;
pub mod proxy;
pub mod server;
pub mod stores;

/// Writes a test once and runs it on every backend with a test server:
/// `per_backend! { fn name(backend: Backend) { ... } }` makes a module `name` holding one
/// `#[test]` per backend, `name::s3` and `name::azure`, so that a failure names its backend and
/// `cargo test name` runs both. The body sees what the enclosing file imports.
// The benchmarks include this module too, and generate no tests: hence the two `allow`s.
#[allow(unused_macros)]
macro_rules! per_backend {
    ($(#[$attr:meta])* fn $name:ident($backend:ident: Backend) $body:block) => {
        $(#[$attr])*
        mod $name {
            use super::*;

            fn run($backend: Backend) $body

            #[test]
            fn s3() {
                run(Backend::S3)
            }

            #[test]
            fn azure() {
                run(Backend::Azure)
            }
        }
    };
}
#[allow(unused_imports)]
pub(crate) use per_backend;
