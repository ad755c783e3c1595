//! Host bindings for `wasi:filesystem` 0.3, generated from the vendored WIT in `wit/p3/deps`
//! with the options wasmtime-wasi 48 uses for its own (`src/p3/bindings.rs`): the functions
//! that hand out streams and futures get the store; the rest are the WIT's `async func`s.
//!
//! Unlike wasmtime-wasi's, dropping a descriptor is `async`: closing a file commits what it
//! wrote to its store, as in 0.2. `wasi:clocks` maps onto wasmtime-wasi's own bindings.

wasmtime::component::bindgen!({
    path: "../../wit/p3",
    world: "wasi:filesystem/imports@0.3.0",
    imports: {
        "wasi:filesystem/types.[method]descriptor.read-via-stream": store | tracing | trappable,
        "wasi:filesystem/types.[method]descriptor.write-via-stream": store | tracing | trappable,
        "wasi:filesystem/types.[method]descriptor.append-via-stream": store | tracing | trappable,
        "wasi:filesystem/types.[method]descriptor.read-directory": store | tracing | trappable,
        "wasi:filesystem/types.[drop]descriptor": async | tracing | trappable,
        default: tracing | trappable,
    },
    trappable_error_type: {
        "wasi:filesystem/types.error-code" => crate::FsError,
    },
    with: {
        "wasi:clocks": wasmtime_wasi::p3::bindings::clocks,
        "wasi:filesystem/types.descriptor": crate::p3::descriptor::Descriptor,
    },
    require_store_data_send: true,
});
