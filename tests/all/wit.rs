//! Our WIT package: it parses with its vendored WASI deps, and its worlds are what the host links.

use crate::support::harness::repo_root;

#[test]
fn the_wit_package_parses_and_names_its_worlds() {
    let mut resolve = wit_parser::Resolve::default();
    let (package, _) = resolve
        .push_dir(repo_root().join("wit"))
        .expect("wit/ does not parse");
    assert_eq!(
        resolve.packages[package].name.to_string(),
        "worldhost:host@0.1.0"
    );
    let cli = resolve
        .select_world(&[package], Some("cli"))
        .expect("no `cli` world");
    let imports: Vec<String> = resolve.worlds[cli]
        .imports
        .keys()
        .map(|key| resolve.name_world_key(key))
        .collect();
    for expected in [
        "wasi:cli/environment@0.2.12",
        "wasi:filesystem/preopens@0.2.12",
        "wasi:sockets/tcp@0.2.12",
    ] {
        assert!(
            imports.contains(&expected.to_owned()),
            "cli lacks {expected}: {imports:?}"
        );
    }
    let exports: Vec<String> = resolve.worlds[cli]
        .exports
        .keys()
        .map(|key| resolve.name_world_key(key))
        .collect();
    assert_eq!(exports, ["wasi:cli/run@0.2.12"]);
}
