//! `wasi:filesystem@0.2` over the core filesystem ([`crate::fs`]): bindings, descriptors and
//! streams. No filesystem rule lives here, only the translation of types and errors.

pub mod bindings;
pub mod descriptor;
pub mod ready_calls;
pub mod stream_reads;
pub mod streams;

use wasmtime::component::Resource;

use crate::CloudFsView;
use descriptor::Descriptor;

impl bindings::wasi::filesystem::preopens::Host for CloudFsView<'_> {
    async fn get_directories(&mut self) -> wasmtime::Result<Vec<(Resource<Descriptor>, String)>> {
        let mut preopens = Vec::new();
        for (root, guest) in self.ctx.preopens() {
            preopens.push((self.table.push(Descriptor::dir(root))?, guest.to_owned()));
        }
        Ok(preopens)
    }
}
