//! Resolves the embedded WIT (`wit/`, and the WASI 0.3 part of each world in `wit/p3/`) once,
//! at build time, into the list of imports each world offers (`$OUT_DIR/world_imports.rs`): `host run` checks a guest's imports against it before
//! every run, and parsing the WIT then took 2.5 ms, a quarter of a warm start-up.
//! `world::wit`'s tests check the list against the WIT the host embeds and parses at run time.

use std::fmt::Write;
use std::path::Path;

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../wit");
    println!("cargo:rerun-if-changed={}", root.display());
    let mut out = String::from(
        "/// Each world of our WIT package and the imports it offers (fully qualified): its WASI\n\
         /// 0.2 and own imports, then its WASI 0.3 ones (`wit/p3`).\n\
         pub const WORLD_IMPORTS: &[(&str, &[&str])] = &[\n",
    );
    let (own, p3) = (resolve(&root), resolve(&root.join("p3")));
    for (name, imports) in &own {
        writeln!(out, "    ({name:?}, &[").unwrap();
        let more = p3.iter().filter(|(p3_name, _)| p3_name == name);
        for import in imports.iter().chain(more.flat_map(|(_, imports)| imports)) {
            writeln!(out, "        {import:?},").unwrap();
        }
        out.push_str("    ]),\n");
    }
    out.push_str("];\n");
    let path = Path::new(&std::env::var("OUT_DIR").unwrap()).join("world_imports.rs");
    std::fs::write(path, out).unwrap();
}

/// The worlds of the WIT package in `dir` and their imports, fully qualified.
fn resolve(dir: &Path) -> Vec<(String, Vec<String>)> {
    let mut resolve = wit_parser::Resolve::default();
    let (package, _) = resolve
        .push_dir(dir)
        .unwrap_or_else(|e| panic!("cannot resolve {}: {e:?}", dir.display()));
    resolve
        .worlds
        .iter()
        .filter(|(_, world)| world.package == Some(package))
        .map(|(_, world)| {
            let imports = world.imports.keys();
            let names = imports.map(|key| resolve.name_world_key(key)).collect();
            (world.name.clone(), names)
        })
        .collect()
}
