//! Directories: create-directory-at, read-directory (names sorted before printing),
//! remove-directory-at, unlink-file-at and rename-at.

use crate::fs;

use crate::report::Setup;
use crate::report::{check, show, unit};
use crate::root::Root;

pub fn run(root: &Root) {
    create(root);
    list(root);
    remove(root);
    unlink(root);
    rename_files(root);
    rename_directories(root);
}

fn create(root: &Root) {
    let create = |relative: &str| unit(fs::create_dir(root.path(relative)));
    check("create-dir", create("tree"));
    check("create-dir-existing", create("tree"));
    root.write("plain.txt", b"plain").setup("write plain.txt");
    check("create-dir-over-file", create("plain.txt"));
    check("create-dir-missing-parent", create("nope/child"));
    check("create-dir-under-file", create("plain.txt/child"));
    check("create-dir-nested", create("tree/sub"));
    check(
        "create-dir-all",
        unit(fs::create_dir_all(root.path("tree/sub/deep/deeper"))),
    );
    check("create-dir-empty", create("tree/empty"));
    for (file, content) in [
        ("tree/a.txt", "a"),
        ("tree/b.txt", "bb"),
        ("tree/sub/c.txt", "ccc"),
        ("tree/sub/deep/d.txt", "dddd"),
    ] {
        root.write(file, content.as_bytes())
            .setup("write a tree file");
    }
}

fn list(root: &Root) {
    check("read-dir-tree", listing(&root.path("tree")));
    check("read-dir-nested", listing(&root.path("tree/sub")));
    check("read-dir-empty", listing(&root.path("tree/empty")));
    check("read-dir-missing", listing(&root.path("missing")));
    check("read-dir-recursive", tree(&root.path("tree")));
    check(
        "stat-empty-dir",
        show(fs::metadata(root.path("tree/empty")), |meta| {
            format!("dir={}", meta.is_dir())
        }),
    );
    check("read-dir-trailing-slash", listing(&root.path("tree/sub/")));
}

fn remove(root: &Root) {
    let remove_dir = |relative: &str| unit(fs::remove_dir(root.path(relative)));
    check("remove-dir-non-empty", remove_dir("tree/sub"));
    check(
        "remove-dir-non-empty-still-listed",
        listing(&root.path("tree/sub")),
    );
    check("remove-dir-empty", remove_dir("tree/empty"));
    check("remove-dir-empty-gone", root.exists("tree/empty"));
    check("remove-dir-missing", remove_dir("tree/empty"));
    check("remove-dir-on-file", remove_dir("tree/a.txt"));
    check("remove-dir-root-listing", listing(&root.path("tree")));
}

fn unlink(root: &Root) {
    let remove_file = |relative: &str| unit(fs::remove_file(root.path(relative)));
    check("unlink-file", remove_file("tree/b.txt"));
    check("unlink-file-gone", root.exists("tree/b.txt"));
    check("unlink-missing", remove_file("tree/b.txt"));
    check("unlink-directory", remove_file("tree/sub"));
    check("unlink-directory-still-there", root.exists("tree/sub"));
    check("unlink-listing", listing(&root.path("tree")));
}

fn rename_files(root: &Root) {
    let rename = |from: &str, to: &str| unit(fs::rename(root.path(from), root.path(to)));
    root.write("r1.txt", b"payload").setup("write r1.txt");
    check("rename-file", rename("r1.txt", "r2.txt"));
    check("rename-file-old-gone", root.exists("r1.txt"));
    check("rename-file-new-content", root.content("r2.txt"));

    root.write("r3.txt", b"to be replaced")
        .setup("write r3.txt");
    check("rename-file-over-existing", rename("r2.txt", "r3.txt"));
    check("rename-file-over-existing-content", root.content("r3.txt"));
    check("rename-file-over-existing-old-gone", root.exists("r2.txt"));
    check("rename-missing", rename("r2.txt", "r4.txt"));
    check("rename-file-to-itself", rename("r3.txt", "r3.txt"));
    check("rename-file-to-itself-content", root.content("r3.txt"));
    check(
        "rename-file-into-directory",
        rename("r3.txt", "tree/r3.txt"),
    );
    check(
        "rename-file-into-directory-content",
        root.content("tree/r3.txt"),
    );
    check(
        "rename-file-into-missing-directory",
        rename("plain.txt", "nodir/plain.txt"),
    );
    check(
        "rename-file-over-directory",
        rename("plain.txt", "tree/sub"),
    );
}

fn rename_directories(root: &Root) {
    let rename = |from: &str, to: &str| unit(fs::rename(root.path(from), root.path(to)));
    check("rename-dir", rename("tree", "moved"));
    check("rename-dir-old-gone", root.exists("tree"));
    check("rename-dir-contents", tree(&root.path("moved")));
    check(
        "rename-dir-nested-content",
        root.content("moved/sub/deep/d.txt"),
    );
    check("rename-dir-nested", rename("moved/sub/deep", "moved/deep2"));
    check("rename-dir-nested-contents", tree(&root.path("moved")));

    fs::create_dir(root.path("emptydir")).setup("create emptydir");
    check("rename-dir-over-non-empty-dir", rename("emptydir", "moved"));
    check("rename-dir-over-file", rename("emptydir", "plain.txt"));
    check("rename-dir-into-itself", rename("moved", "moved/sub/inner"));
    fs::create_dir(root.path("target")).setup("create target");
    check("rename-dir-over-empty-dir", rename("emptydir", "target"));
    check(
        "rename-dir-over-empty-dir-old-gone",
        root.exists("emptydir"),
    );
    check(
        "rename-dir-over-empty-dir-is-dir",
        show(fs::metadata(root.path("target")), |m| {
            m.is_dir().to_string()
        }),
    );
}

/// The sorted entries of one directory as `name:kind`, or the error.
pub fn listing(path: &str) -> String {
    show(entries(path), |entries| {
        let names: Vec<String> = entries
            .iter()
            .map(|(name, kind)| format!("{name}:{kind}"))
            .collect();
        if names.is_empty() {
            "(empty)".to_owned()
        } else {
            names.join(" ")
        }
    })
}

/// Every path below `path`, sorted, directories with a trailing `/`.
pub fn tree(path: &str) -> String {
    let mut found = Vec::new();
    let walked = walk(path, "", &mut found);
    found.sort();
    show(walked, |_| found.join(" "))
}

fn walk(path: &str, prefix: &str, found: &mut Vec<String>) -> std::io::Result<()> {
    for (name, kind) in entries(path)? {
        if kind == "dir" {
            found.push(format!("{prefix}{name}/"));
            walk(
                &format!("{path}/{name}"),
                &format!("{prefix}{name}/"),
                found,
            )?;
        } else {
            found.push(format!("{prefix}{name}"));
        }
    }
    Ok(())
}

/// One directory's entries, sorted by name, with their kind (`file`, `dir`, `symlink`).
fn entries(path: &str) -> std::io::Result<Vec<(String, &'static str)>> {
    let mut entries = Vec::new();
    for entry in fs::read_dir(path)? {
        let entry = entry?;
        let kind = entry.file_type()?;
        let kind = if kind.is_dir() {
            "dir"
        } else if kind.is_file() {
            "file"
        } else if kind.is_symlink() {
            "symlink"
        } else {
            "other"
        };
        entries.push((entry.file_name().to_string_lossy().into_owned(), kind));
    }
    entries.sort();
    Ok(entries)
}
