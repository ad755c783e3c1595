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
