//! What the tests share and is not a test: guests built and the `host` binary run (`harness`),
//! the object-store servers (`stores`, each a `server` process), a proxy that can cut a server
//! off (`proxy`), a small HTTP server for `wasi:http` (`http_server`), the conformance transcript and its comparison (`conformance`), the image
//! example's files (`images`) and a folder to run jobs in (`jobs`).
//!
//! The benchmarks in `tests/bench` include this module by path, so its files name one another
//! through `super::`, never `crate::`.

pub mod conformance;
pub mod harness;
pub mod http_server;
pub mod images;
pub mod jobs;
pub mod proxy;
pub mod server;
pub mod stores;

/// Writes a test once and runs it on every backend with a test server:
/// `per_backend! { fn name(backend: Backend) { ... } }` makes a module `name` holding one
/// `#[test]` per backend, `name::s3`, `name::gcs` and `name::azure`, so that a failure names its
/// backend and `cargo test name` runs them all. The body sees what the enclosing file imports.
///
/// A test whose body writes objects through object_store (the host's writes, not
/// `Objects::put`) cannot pass on the GCS emulator (`Backend::takes_writes`): its `gcs` test is
/// `#[ignore]`d, with the reason, so that it shows as ignored rather than missing. A test that
/// only reads says so with `reads` before `fn`, and runs on every backend.
// The benchmarks include this module too, and generate no tests: hence the two `allow`s.
#[allow(unused_macros)]
macro_rules! per_backend {
    ($(#[$attr:meta])* fn $name:ident($backend:ident: Backend) $body:block) => {
        per_backend!(@tests [$(#[$attr])*] [#[ignore = "fake-gcs-server takes no XML API writes \
            (fsouza/fake-gcs-server#331), and object_store's GCS client writes only through it"]]
            $name $backend $body);
    };
    ($(#[$attr:meta])* reads fn $name:ident($backend:ident: Backend) $body:block) => {
        per_backend!(@tests [$(#[$attr])*] [] $name $backend $body);
    };
    (@tests [$($attr:tt)*] [$($gcs:tt)*] $name:ident $backend:ident $body:block) => {
        $($attr)*
        mod $name {
            use super::*;

            fn run($backend: Backend) $body

            #[test]
            fn s3() {
                run(Backend::S3)
            }

            #[test]
            $($gcs)*
            fn gcs() {
                run(Backend::Gcs)
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
