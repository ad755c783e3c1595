//! Host bindings for our own interfaces (`wit/interfaces.wit`): blob, config and logging.
//! (`wasi:filesystem` has its own, in [`crate::p2::bindings`].)

pub mod host_imports {
    wasmtime::component::bindgen!({
        path: "../../wit",
        world: "worldhost:host/host-imports",
        imports: { default: async | trappable },
    });
}
