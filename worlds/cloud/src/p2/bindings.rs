//! Host bindings for `wasi:filesystem` 0.2, generated from the vendored WIT in `wit/deps`.
//!
//! Only the filesystem is generated here: `wasi:io` and `wasi:clocks` map onto wasmtime-wasi's
//! own bindings, so the streams we hand out are the same resources its `wasi:io` serves.
//!
//! Calls that never wait on the store are plain functions; every other call is a future
//! (`read` and `unlink-file-at` are answered without one when they need no store request:
//! see [`super::ready_calls`]).

wasmtime::component::bindgen!({
    path: "../../wit",
    world: "wasi:filesystem/imports@0.2.12",
    imports: {
        "wasi:filesystem/types.[method]descriptor.read-via-stream": trappable | tracing,
        "wasi:filesystem/types.[method]descriptor.metadata-hash": trappable | tracing,
        "wasi:filesystem/types.[method]descriptor.get-flags": trappable | tracing,
        "wasi:filesystem/types.[method]descriptor.get-type": trappable | tracing,
        "wasi:filesystem/types.[method]descriptor.is-same-object": trappable | tracing,
        "wasi:filesystem/types.[drop]directory-entry-stream": trappable | tracing,
        default: async | trappable | tracing,
    },
    trappable_error_type: {
        "wasi:filesystem/types.error-code" => crate::FsError,
    },
    with: {
        "wasi:io": wasmtime_wasi_io::bindings::wasi::io,
        "wasi:clocks": wasmtime_wasi::p2::bindings::clocks,
        "wasi:filesystem/types.descriptor": crate::p2::descriptor::Descriptor,
        "wasi:filesystem/types.directory-entry-stream": crate::p2::descriptor::DirectoryEntryStream,
    },
});
