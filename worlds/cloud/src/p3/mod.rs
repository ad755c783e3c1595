//! `wasi:filesystem@0.3` over the core filesystem ([`crate::fs`]): bindings, descriptors and
//! the p3 streams. Like [`crate::p2`], no filesystem rule lives here, only the translation of
//! types and errors, so a p3 guest sees what a p2 guest sees: the same files, limits and
//! error codes.

pub mod bindings;
pub mod descriptor;
mod streams;

use wasmtime::component::Resource;

use crate::CloudFsView;
use descriptor::Descriptor;

impl bindings::wasi::filesystem::preopens::Host for CloudFsView<'_> {
    fn get_directories(&mut self) -> wasmtime::Result<Vec<(Resource<Descriptor>, String)>> {
        let mut preopens = Vec::new();
        for (root, guest) in self.ctx.preopens() {
            preopens.push((self.table.push(Descriptor::dir(root))?, guest.to_owned()));
        }
        Ok(preopens)
    }
}
