//! Host bindings for our own interfaces (`wit/interfaces.wit`): blob, config and logging; and
//! for the standard `wasi:config` and `wasi:logging` proposals we serve beside them.
//! (`wasi:filesystem` has its own, in [`crate::p2::bindings`].)

pub mod host_imports {
    wasmtime::component::bindgen!({
        path: "../../wit",
        world: "worldhost:host/host-imports",
        imports: { default: async | trappable },
    });
}

/// Host bindings for the standard WASI proposals we serve (`wit/deps/config*.wit`,
/// `wit/deps/logging.wit`, `wit/deps/keyvalue.wit`): world `standard-imports`.
pub mod standard_imports {
    wasmtime::component::bindgen!({
        path: "../../wit",
        world: "worldhost:host/standard-imports",
        imports: { default: async | trappable },
        with: { "wasi:keyvalue/store.bucket": crate::keyvalue::Bucket },
    });
}

/// Host bindings for wasmCloud's `wasi:blobstore@0.2.0-draft` (`wit/deps/blobstore.wit`):
/// world `blobstore-imports`. Its streams are wasmtime-wasi-io's, so a value's body is read
/// and written with the guest's ordinary `wasi:io` calls.
pub mod blobstore_imports {
    wasmtime::component::bindgen!({
        path: "../../wit",
        world: "worldhost:host/blobstore-imports",
        imports: { default: async | trappable },
        with: {
            "wasi:io": wasmtime_wasi_io::bindings::wasi::io,
            "wasi:blobstore/container.container": crate::blobstore::Container,
            "wasi:blobstore/container.stream-object-names": crate::blobstore::ObjectNames,
            "wasi:blobstore/types.outgoing-value": crate::blobstore::OutgoingValue,
            "wasi:blobstore/types.incoming-value": crate::blobstore::IncomingValue,
        },
    });
}
