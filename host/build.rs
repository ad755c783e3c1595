//! Resolves the embedded WIT (`wit/`) once, at build time, into the list of imports each world
//! offers (`$OUT_DIR/world_imports.rs`): `host run` checks a guest's imports against it before
//! every run, and parsing the WIT then took 2.5 ms, a quarter of a warm start-up.
//! `world::wit`'s tests check the list against the WIT the host embeds and parses at run time.

use std::fmt::Write;
use std::path::Path;

fn main() {
    let wit = Path::new(env!("CARGO_MANIFEST_DIR")).join("../wit");
    println!("cargo:rerun-if-changed={}", wit.display());
    let mut resolve = wit_parser::Resolve::default();
    let (package, _) = resolve
        .push_dir(&wit)
        .unwrap_or_else(|e| panic!("cannot resolve {}: {e:?}", wit.display()));
    let mut out = String::from(
        "/// Each world of our WIT package and the imports it offers (fully qualified).\n\
         pub const WORLD_IMPORTS: &[(&str, &[&str])] = &[\n",
    );
    for (_, world) in resolve.worlds.iter() {
        if world.package != Some(package) {
            continue;
        }
        writeln!(out, "    ({:?}, &[", world.name).unwrap();
        for key in world.imports.keys() {
            writeln!(out, "        {:?},", resolve.name_world_key(key)).unwrap();
        }
        out.push_str("    ]),\n");
    }
    out.push_str("];\n");
    let path = Path::new(&std::env::var("OUT_DIR").unwrap()).join("world_imports.rs");
    std::fs::write(path, out).unwrap();
}
