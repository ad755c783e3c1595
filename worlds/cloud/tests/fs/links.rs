//! Local stores never follow a link (issue 12, item 3): a link planted in the mounted
//! directory is neither a file nor a directory to the core, whatever it points to, and nothing
//! outside the mount is read, written, listed or deleted through one.

use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use worldhost_world_cloud::fs::ErrorCode::*;
use worldhost_world_cloud::fs::{Handle, Kind};

use crate::support::*;

/// A local filesystem with `real/x` and links `esc -> outside/`, `file -> outside/secret`,
/// `real/esc -> outside/`; returns it and the outside directory (a sibling of the mount).
fn planted() -> (Fs, PathBuf) {
    let fs = Fs::new(Backend::Local);
    let local = fs.local.clone().unwrap();
    let outside = local.parent().unwrap().join("outside");
    std::fs::create_dir_all(outside.join("deep")).unwrap();
    std::fs::write(outside.join("secret"), "secret").unwrap();
    std::fs::write(outside.join("deep/secret"), "secret").unwrap();
    std::fs::create_dir_all(local.join("real")).unwrap();
    std::fs::write(local.join("real/x"), "x").unwrap();
    symlink(&outside, local.join("esc")).unwrap();
    symlink(outside.join("secret"), local.join("file")).unwrap();
    symlink(&outside, local.join("real/esc")).unwrap();
    (fs, outside)
}

/// The outside holds what was planted, unchanged (times included: nothing wrote there).
fn assert_untouched(outside: &Path) {
    let mut names: Vec<_> = std::fs::read_dir(outside)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert_eq!(names, ["deep", "secret"]);
    assert_eq!(std::fs::read_dir(outside.join("deep")).unwrap().count(), 1);
    for file in ["secret", "deep/secret"] {
        let path = outside.join(file);
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "secret");
        let modified = std::fs::metadata(&path).unwrap().modified().unwrap();
        assert!(modified > SystemTime::UNIX_EPOCH + Duration::from_secs(1));
    }
}

#[tokio::test]
async fn a_link_is_no_entry_and_never_listed() {
    let (mut fs, outside) = planted();
    for path in [
        "esc",
        "file",
        "esc/secret",
        "esc/deep/secret",
        "real/esc/secret",
        "esc/../real",
    ] {
        assert_eq!(fs.kind(path).await, Err(NoEntry), "{path}");
    }
    assert_eq!(err(fs.read_file("file").await), NoEntry);
    assert_eq!(err(fs.read_file("esc/secret").await), NoEntry);
    assert_eq!(fs.names(".").await, ["real"]);
    assert_eq!(fs.names("real").await, ["x"]);
    assert_eq!(fs.kind("real/x").await, Ok(Kind::File));
    assert_eq!(err(fs.root.metadata_hash_at("file").await), NoEntry);
    let epoch = Some(SystemTime::UNIX_EPOCH);
    assert_eq!(err(fs.root.set_times_at("file", epoch).await), NoEntry);
    assert_untouched(&outside);
}

#[tokio::test]
async fn writes_deletes_and_renames_stay_inside() {
    let (mut fs, outside) = planted();
    let local = fs.local.clone().unwrap();
    for path in ["esc/new", "esc/deep/secret", "real/esc/new", "esc/made/new"] {
        assert_eq!(
            err(fs.write_file(path, b"planted").await),
            NoEntry,
            "{path}"
        );
    }
    assert_eq!(err(fs.mkdir("esc/dir").await), NoEntry);
    assert_eq!(err(fs.root.unlink_file_at("file").await), NoEntry);
    assert_eq!(err(fs.root.unlink_file_at("esc/secret").await), NoEntry);
    assert_eq!(err(fs.root.remove_directory_at("esc").await), NoEntry);
    let root = Handle::Dir(fs.root.clone());
    assert_eq!(err(fs.root.rename_at("esc", &root, "moved").await), NoEntry);
    assert_eq!(
        err(fs.root.rename_at("real/x", &root, "esc/x").await),
        NoEntry
    );
    // A directory holding a link moves without it; the link keeps the old directory.
    fs.root.rename_at("real", &root, "moved").await.unwrap();
    assert_eq!(fs.names("moved").await, ["x"]);
    assert!(
        std::fs::symlink_metadata(local.join("real/esc"))
            .unwrap()
            .is_symlink()
    );
    assert!(!local.join("moved/esc").exists());
    assert_eq!(err(fs.root.remove_directory_at("real").await), NotEmpty);
    // A large file (staged on disk beside its target) and a small one, next to the links.
    fs.write_file("moved/big", &vec![7u8; 9 << 20])
        .await
        .unwrap();
    assert_eq!(
        std::fs::metadata(local.join("moved/big")).unwrap().len(),
        9 << 20
    );
    // Writing at a link's name makes a file there: the link is replaced, never written through.
    fs.write_file("file", b"mine").await.unwrap();
    assert!(
        std::fs::symlink_metadata(local.join("file"))
            .unwrap()
            .is_file()
    );
    assert_untouched(&outside);
}

/// A file the run wrote is removed with no check of what it is (one `unlinkat`): whatever
/// another process put at its name since is removed itself, never a link's target; a
/// directory there is left alone. A name the run did not write is checked first, so a link
/// there is no entry and stays.
#[tokio::test]
async fn removing_a_file_the_run_wrote_never_reaches_through_a_link() {
    let (mut fs, outside) = planted();
    let local = fs.local.clone().unwrap();
    for name in ["mine", "made-dir"] {
        fs.write_file(&format!("real/{name}"), b"mine")
            .await
            .unwrap();
        std::fs::remove_file(local.join("real").join(name)).unwrap();
    }
    symlink(outside.join("secret"), local.join("real/mine")).unwrap();
    std::fs::create_dir(local.join("real/made-dir")).unwrap();
    symlink(outside.join("secret"), local.join("real/theirs")).unwrap();

    // Answered at once (no store request), the link itself removed.
    assert!(matches!(fs.root.unlink_file_now("real/mine"), Some(Ok(()))));
    assert!(std::fs::symlink_metadata(local.join("real/mine")).is_err());
    // A directory now at a written name, and a link at a name the run did not write: left to
    // the lookup, which says what they are.
    for (name, code) in [("made-dir", IsDirectory), ("theirs", NoEntry)] {
        let path = format!("real/{name}");
        assert!(fs.root.unlink_file_now(&path).is_none(), "{name}");
        assert_eq!(err(fs.root.unlink_file_at(&path).await), code, "{name}");
        assert!(
            std::fs::symlink_metadata(local.join(&path)).is_ok(),
            "{name}"
        );
    }
    assert_untouched(&outside);
}
