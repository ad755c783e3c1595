//! Symbolic links, hard links and readlink. A real filesystem supports them; a blob store does
//! not, so the lines that make or follow a link differ between worlds. Each section removes what it
//! created, so the later listing of ROOT does not depend on which of these succeeded.

use crate::fs::{self, File};

use crate::report::Setup;
use crate::report::{check, show, unit};
use crate::root::Root;
use crate::sys;

pub fn run(root: &Root) {
    symlinks(root);
    hard_links(root);
}

fn symlinks(root: &Root) {
    root.write("link-target.txt", b"through the link")
        .setup("write link-target.txt");
    let link = root.path("link");
    check(
        "symlink-create",
        unit(sys::symlink_path("link-target.txt", &link)),
    );
    check(
        "symlink-readlink",
        show(fs::read_link(&link), |target| format!("{target:?}")),
    );
    check("symlink-read-through", root.content("link"));
    check(
        "symlink-metadata-is-symlink",
        show(fs::symlink_metadata(&link), |meta| {
            meta.is_symlink().to_string()
        }),
    );
    check("symlink-remove", unit(fs::remove_file(&link)));
    check(
        "readlink-on-regular-file",
        unit(fs::read_link(root.path("link-target.txt"))),
    );
    check(
        "readlink-on-missing",
        unit(fs::read_link(root.path("missing-link"))),
    );

    let absolute = root.path("absolute-link");
    check(
        "symlink-absolute-target",
        unit(sys::symlink_path("/etc/passwd", &absolute)),
    );
    let _ = fs::remove_file(&absolute);
    let escaping = root.path("escaping-link");
    check(
        "symlink-escaping-target",
        unit(sys::symlink_path("../../outside", &escaping)),
    );
    check("symlink-escaping-read-through", unit(File::open(&escaping)));
    let _ = fs::remove_file(&escaping);
    fs::remove_file(root.path("link-target.txt")).setup("remove link-target.txt");
}

fn hard_links(root: &Root) {
    root.write("original.txt", b"shared bytes")
        .setup("write original.txt");
    let (original, linked) = (root.path("original.txt"), root.path("hard-link.txt"));
    check("hard-link-create", unit(fs::hard_link(&original, &linked)));
    check("hard-link-read", root.content("hard-link.txt"));
    fs::remove_file(&original).setup("remove original.txt");
    check(
        "hard-link-survives-original-removal",
        root.content("hard-link.txt"),
    );
    check("hard-link-remove", unit(fs::remove_file(&linked)));
    check(
        "hard-link-to-missing",
        unit(fs::hard_link(&original, &linked)),
    );
}
