//! Paths that try to leave ROOT (they must fail, with the error a real directory gives) and `..`
//! that stays inside (it must work).

use crate::fs::{self, File, OpenOptions};

use crate::report::Setup;
use crate::report::{check, unit};
use crate::root::Root;

pub fn run(root: &Root) {
    fs::create_dir(root.path("a")).setup("create a");
    root.write("b.txt", b"inside").setup("write b.txt");
    check("path-dotdot-inside", root.content("a/../b.txt"));
    check("path-dot-inside", root.content("./a/./../b.txt"));
    check(
        "path-dotdot-through-missing-dir",
        root.content("missing/../b.txt"),
    );
    check("path-dotdot-through-file", root.content("b.txt/../b.txt"));
    check("path-double-slash", root.content("a//../b.txt"));

    check(
        "path-escape-parent",
        unit(File::open(root.path("../outside"))),
    );
    let create = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .open(root.path("../outside"));
    check("path-escape-parent-create", unit(create));
    check(
        "path-escape-deep",
        unit(File::open(root.path("a/../../outside"))),
    );
    check(
        "path-escape-create-dir",
        unit(fs::create_dir(root.path("../outside-dir"))),
    );
    check("path-absolute", unit(File::open("/etc/passwd")));
    check(
        "path-absolute-create",
        unit(File::create("/tmp/fs-conformance-outside")),
    );
    check(
        "path-escape-stat",
        unit(fs::metadata(root.path("../outside"))),
    );
    check(
        "path-escape-unlink",
        unit(fs::remove_file(root.path("../outside"))),
    );
    check(
        "path-escape-remove-dir",
        unit(fs::remove_dir(root.path("a/../.."))),
    );
    check(
        "path-escape-rename-out",
        unit(fs::rename(root.path("b.txt"), root.path("../outside"))),
    );
    check(
        "path-escape-rename-in",
        unit(fs::rename(root.path("../outside"), root.path("in.txt"))),
    );
    check("path-escape-rename-kept", root.content("b.txt"));
    check("path-absolute-stat", unit(fs::metadata("/etc/passwd")));
    check("path-absolute-unlink", unit(fs::remove_file("/etc/passwd")));

    fs::remove_dir(root.path("a")).setup("remove a");
    fs::remove_file(root.path("b.txt")).setup("remove b.txt");
}
