//! Every namespace operation, and each error it gives.

use std::sync::Arc;
use worldhost_world_cloud::fs::ErrorCode::*;

use worldhost_world_cloud::fs::{Dir, FsCtx, Handle, Kind, OpenOptions, Volume};

use crate::support::*;

fn handle(dir: &Dir) -> Handle {
    Handle::Dir(dir.clone())
}

#[tokio::test]
async fn stat_at_names_files_directories_and_what_is_missing() {
    for backend in BACKENDS {
        let mut fs = Fs::new(backend);
        fs.mkdir("d").await.unwrap();
        fs.write_file("d/f", b"hello").await.unwrap();
        let stat = fs.root.stat_at("d/f").await.unwrap();
        assert_eq!((stat.kind, stat.size), (Kind::File, 5));
        assert!(stat.modified.is_some());
        let stat = fs.root.stat_at("d").await.unwrap();
        assert_eq!((stat.kind, stat.size, stat.modified), (Kind::Dir, 0, None));
        assert_eq!(fs.kind("missing").await, Err(NoEntry));
        assert_eq!(fs.kind("d/missing/x").await, Err(NoEntry));
        // Below a file: `not-directory`, as a real filesystem says.
        assert_eq!(fs.kind("d/f/x").await, Err(NotDirectory));
        assert_eq!(fs.kind("d/f/x/y").await, Err(NotDirectory));
    }
}

#[tokio::test]
async fn directories_made_by_other_tools_exist_while_objects_lie_below() {
    for backend in BACKENDS {
        let fs = Fs::new(backend);
        fs.put("implicit/deep/f", b"x").await;
        assert_eq!(fs.kind("implicit").await, Ok(Kind::Dir));
        assert_eq!(fs.kind("implicit/deep").await, Ok(Kind::Dir));
        assert_eq!(fs.names("implicit").await, ["deep"]);
        fs.root.unlink_file_at("implicit/deep/f").await.unwrap();
        // Gone with its last object (no marker kept it).
        assert_eq!(fs.kind("implicit").await, Err(NoEntry), "{backend:?}");
    }
}

#[tokio::test]
async fn open_at_follows_posix_flags() {
    for backend in BACKENDS {
        let mut fs = Fs::new(backend);
        fs.mkdir("d").await.unwrap();
        fs.write_file("f", b"content").await.unwrap();
        let create = OpenOptions {
            create: true,
            write: true,
            ..OpenOptions::default()
        };
        let exclusive = OpenOptions {
            exclusive: true,
            ..create
        };
        let cases = [
            ("missing", read_only(), NoEntry),
            ("f/x", read_only(), NotDirectory),
            ("missing/x", create, NoEntry),
            ("f/x", create, NotDirectory),
            ("f", exclusive, Exist),
            ("d", exclusive, Exist),
            ("d", create, IsDirectory),
            (
                "d",
                OpenOptions {
                    truncate: true,
                    ..read_only()
                },
                IsDirectory,
            ),
            (
                "f",
                OpenOptions {
                    directory: true,
                    ..read_only()
                },
                NotDirectory,
            ),
            (
                "new",
                OpenOptions {
                    directory: true,
                    ..create
                },
                Invalid,
            ),
            (".", exclusive, Exist),
        ];
        for (path, options, expected) in cases {
            assert_eq!(
                err(fs.open(path, options).await),
                expected,
                "{backend:?} {path} {options:?}"
            );
        }
        // A directory opens as a directory, with `create` too.
        let opened = fs
            .open(
                "d",
                OpenOptions {
                    create: true,
                    ..read_only()
                },
            )
            .await
            .unwrap();
        assert_eq!(opened.kind(), Kind::Dir);
        assert_eq!(fs.open(".", read_only()).await.unwrap().kind(), Kind::Dir);
    }
}

#[tokio::test]
async fn a_new_file_exists_for_the_run_at_once_and_is_stored_when_closed_even_empty() {
    for backend in BACKENDS {
        let mut fs = Fs::new(backend);
        let file = file_of(fs.open("new", create_write()).await.unwrap());
        assert_eq!(fs.kind("new").await, Ok(Kind::File));
        assert_eq!(fs.stored("new").await, None);
        fs.ctx.close(file).await.unwrap();
        assert_eq!(fs.root.stat_at("new").await.unwrap().size, 0);
        assert_eq!(fs.stored("new").await.unwrap(), b"");
    }
}

#[tokio::test]
async fn truncate_starts_from_nothing_only_with_write_access() {
    for backend in BACKENDS {
        let mut fs = Fs::new(backend);
        fs.write_file("f", b"content").await.unwrap();
        let truncate = OpenOptions {
            truncate: true,
            ..read_only()
        };
        let file = file_of(fs.open("f", truncate).await.unwrap());
        fs.ctx.close(file).await.unwrap();
        assert_eq!(fs.read_file("f").await.unwrap(), b"content");
        let file = file_of(
            fs.open(
                "f",
                OpenOptions {
                    write: true,
                    ..truncate
                },
            )
            .await
            .unwrap(),
        );
        assert_eq!(file.stat().await.size, 0);
        fs.ctx.close(file).await.unwrap();
        assert_eq!(fs.read_file("f").await.unwrap(), b"");
    }
}

#[tokio::test]
async fn create_directory_at_writes_a_marker_that_keeps_it() {
    for backend in BACKENDS {
        let mut fs = Fs::new(backend);
        fs.write_file("f", b"x").await.unwrap();
        fs.mkdir("d").await.unwrap();
        fs.mkdir("d/e").await.unwrap();
        assert_eq!(fs.kind("d/e").await, Ok(Kind::Dir));
        assert!(fs.keys().await.contains(&"d/e/.worldhost-dir".to_owned()));
        assert_eq!(fs.names("d").await, ["e"]);
        for (path, expected) in [
            ("d", Exist),
            ("f", Exist),
            (".", Exist),
            ("missing/x", NoEntry),
            ("f/x", NotDirectory),
        ] {
            assert_eq!(err(fs.mkdir(path).await), expected, "{backend:?} {path}");
        }
    }
}

#[tokio::test]
async fn remove_directory_at_removes_only_empty_directories() {
    for backend in BACKENDS {
        let mut fs = Fs::new(backend);
        fs.mkdir("d").await.unwrap();
        fs.mkdir("full").await.unwrap();
        fs.write_file("full/f", b"x").await.unwrap();
        fs.mkdir("nested").await.unwrap();
        fs.mkdir("nested/inner").await.unwrap();
        fs.write_file("f", b"x").await.unwrap();
        for (path, expected) in [
            ("missing", NoEntry),
            ("f", NotDirectory),
            ("full", NotEmpty),
            ("nested", NotEmpty),
            (".", Invalid),
            ("..", NotPermitted),
        ] {
            let removed = fs.root.remove_directory_at(path).await;
            assert_eq!(err(removed), expected, "{backend:?} {path}");
        }
        fs.root.remove_directory_at("d").await.unwrap();
        assert_eq!(fs.kind("d").await, Err(NoEntry));
        fs.root.remove_directory_at("nested/inner").await.unwrap();
        fs.root.remove_directory_at("nested").await.unwrap();
        // Creating a file where a removed directory was works (the cache forgot it).
        fs.write_file("d", b"now a file").await.unwrap();
        assert_eq!(fs.kind("d").await, Ok(Kind::File));
    }
}

#[tokio::test]
async fn a_staged_upload_keeps_a_local_directory() {
    let fs = Fs::new(Backend::Local);
    fs.mkdir("d").await.unwrap();
    let local = fs.local.clone().unwrap();
    std::fs::write(local.join("d/big.bin#42"), b"half").unwrap();
    assert_eq!(fs.names("d").await, Vec::<String>::new());
    assert_eq!(err(fs.root.remove_directory_at("d").await), NotEmpty);
}

#[tokio::test]
async fn unlink_file_at_deletes_files_only() {
    for backend in BACKENDS {
        let mut fs = Fs::new(backend);
        fs.mkdir("d").await.unwrap();
        fs.write_file("d/f", b"x").await.unwrap();
        assert_eq!(err(fs.root.unlink_file_at("missing").await), NoEntry);
        assert_eq!(err(fs.root.unlink_file_at("d").await), IsDirectory);
        assert_eq!(err(fs.root.unlink_file_at("d/f/x").await), NotDirectory);
        fs.root.unlink_file_at("d/f").await.unwrap();
        assert_eq!(fs.kind("d/f").await, Err(NoEntry));
        // The marker keeps the directory.
        assert_eq!(fs.kind("d").await, Ok(Kind::Dir));
    }
}

/// `unlink_file_now` answers at once only what needs no store request: a bad path on every
/// store, and the removal of a local file; anything else is left to `unlink_file_at`.
#[tokio::test]
async fn unlink_file_now_answers_only_what_needs_no_store_request() {
    for backend in BACKENDS {
        let mut fs = Fs::new(backend);
        fs.mkdir("d").await.unwrap();
        fs.write_file("d/f", b"x").await.unwrap();
        let now = |path: &str| fs.root.unlink_file_now(path).map(|r| r.map_err(code));
        assert_eq!(now(""), Some(Err(NoEntry)), "{backend:?}");
        assert_eq!(now("/d/f"), Some(Err(NotPermitted)), "{backend:?}");
        for path in ["missing", "d", "d/f/", "missing/../d/f"] {
            assert_eq!(now(path), None, "{backend:?} {path}");
        }
        let expected = match backend {
            Backend::Local => Some(Ok(())),
            _ => None,
        };
        assert_eq!(now("d/f"), expected, "{backend:?}");
        fs.root.unlink_file_at("d/f").await.unwrap_or(());
        assert_eq!(fs.kind("d/f").await, Err(NoEntry), "{backend:?}");
        assert_eq!(fs.kind("d").await, Ok(Kind::Dir), "{backend:?}");
    }
}

#[tokio::test]
async fn rename_at_moves_files() {
    for backend in BACKENDS {
        let mut fs = Fs::new(backend);
        fs.mkdir("d").await.unwrap();
        fs.write_file("a", b"first").await.unwrap();
        fs.write_file("b", b"second").await.unwrap();
        let root = handle(&fs.root);
        fs.root.rename_at("a", &root, "d/a").await.unwrap();
        assert_eq!(fs.kind("a").await, Err(NoEntry));
        assert_eq!(fs.read_file("d/a").await.unwrap(), b"first");
        // Onto a file: replaced.
        fs.root.rename_at("b", &root, "d/a").await.unwrap();
        assert_eq!(fs.read_file("d/a").await.unwrap(), b"second");
        // Onto itself: nothing happens.
        fs.root.rename_at("d/a", &root, "d/./a").await.unwrap();
        assert_eq!(fs.read_file("d/a").await.unwrap(), b"second");
        // Through a directory handle on both sides.
        let d = handle(&open_dir(&fs.root, "d").await);
        open_dir(&fs.root, "d")
            .await
            .rename_at("a", &d, "z")
            .await
            .unwrap();
        assert_eq!(fs.names("d").await, ["z"]);
    }
}

#[tokio::test]
async fn rename_at_moves_directories_with_everything_below() {
    for backend in BACKENDS {
        let mut fs = Fs::new(backend);
        fs.mkdir("src").await.unwrap();
        fs.mkdir("src/sub").await.unwrap();
        fs.write_file("src/sub/f", b"deep").await.unwrap();
        fs.write_file("src/g", b"shallow").await.unwrap();
        fs.write_file("srcx", b"a sibling with the same start")
            .await
            .unwrap();
        fs.mkdir("empty").await.unwrap();
        let root = handle(&fs.root);
        fs.root.rename_at("src", &root, "dst").await.unwrap();
        assert_eq!(fs.kind("src").await, Err(NoEntry));
        assert_eq!(fs.read_file("dst/sub/f").await.unwrap(), b"deep");
        assert_eq!(fs.read_file("dst/g").await.unwrap(), b"shallow");
        assert_eq!(
            fs.read_file("srcx").await.unwrap(),
            b"a sibling with the same start"
        );
        assert_eq!(fs.names("dst").await, ["g", "sub"]);
        // Onto an empty directory: replaced.
        fs.root.rename_at("dst", &root, "empty").await.unwrap();
        assert_eq!(fs.names("empty").await, ["g", "sub"]);
        assert_eq!(fs.kind("dst").await, Err(NoEntry));
        // The new name can hold new entries (the directory cache follows the move).
        fs.write_file("empty/sub/new", b"n").await.unwrap();
        assert_eq!(fs.names("empty/sub").await, ["f", "new"]);
    }
}

#[tokio::test]
async fn rename_at_refuses_what_rename_refuses() {
    for backend in BACKENDS {
        let mut fs = Fs::new(backend);
        fs.mkdir("d").await.unwrap();
        fs.mkdir("d/inner").await.unwrap();
        fs.mkdir("full").await.unwrap();
        fs.write_file("full/f", b"x").await.unwrap();
        fs.write_file("f", b"x").await.unwrap();
        let root = handle(&fs.root);
        for (from, to, expected) in [
            ("missing", "x", NoEntry),
            ("f", "d", IsDirectory),
            ("d", "f", NotDirectory),
            ("d", "d/inner/d", Invalid),
            ("d", "d/new", Invalid),
            ("d", "full", NotEmpty),
            (".", "x", Busy),
            ("f", ".", Busy),
            ("f", "missing/f", NoEntry),
            ("f", "f/x", NotDirectory),
            ("../f", "x", NotPermitted),
        ] {
            let renamed = fs.root.rename_at(from, &root, to).await;
            assert_eq!(err(renamed), expected, "{backend:?} {from} -> {to}");
        }
        // The target directory must be a directory handle.
        let file = fs.open("f", read_only()).await.unwrap();
        assert_eq!(err(fs.root.rename_at("f", &file, "x").await), NotDirectory);
        // ... checked after the source path resolves.
        assert_eq!(err(fs.root.rename_at("/f", &file, "x").await), NotPermitted);
        // Nothing moved.
        assert_eq!(fs.read_file("full/f").await.unwrap(), b"x");
    }
}

#[tokio::test]
async fn rename_at_across_mounts_is_cross_device() {
    for backend in BACKENDS {
        let mut fs = Fs::new(backend);
        fs.write_file("f", b"x").await.unwrap();
        let other = Fs::new(backend);
        let renamed = fs.root.rename_at("f", &handle(&other.root), "f").await;
        assert_eq!(err(renamed), CrossDevice);
        // Two volumes over one mount are one device.
        let again = Dir::root(Volume::new(fs.ctx.mounts()[0].clone()));
        fs.root.rename_at("f", &handle(&again), "g").await.unwrap();
    }
}

#[tokio::test]
async fn a_read_only_mount_refuses_every_change_with_not_permitted() {
    for backend in BACKENDS {
        let mut fs = Fs::read_only(backend);
        fs.put("f", b"stored").await;
        fs.put("d/.worldhost-dir", b"").await;
        let root = handle(&fs.root);
        assert!(!fs.root.writable());
        for options in [
            create_write(),
            OpenOptions {
                write: true,
                ..read_only()
            },
            OpenOptions {
                truncate: true,
                ..read_only()
            },
            OpenOptions {
                mutate_directory: true,
                ..read_only()
            },
        ] {
            assert_eq!(
                err(fs.open("f", options).await),
                NotPermitted,
                "{options:?}"
            );
        }
        assert_eq!(err(fs.mkdir("new").await), NotPermitted);
        assert_eq!(err(fs.root.remove_directory_at("d").await), NotPermitted);
        assert_eq!(err(fs.root.unlink_file_at("f").await), NotPermitted);
        assert_eq!(err(fs.root.rename_at("f", &root, "g").await), NotPermitted);
        // Reading is allowed.
        assert_eq!(fs.read_file("f").await.unwrap(), b"stored");
        assert_eq!(fs.names(".").await, ["d", "f"]);
    }
}

#[tokio::test]
async fn links_and_symlinks_are_unsupported() {
    for backend in BACKENDS {
        let mut fs = Fs::new(backend);
        fs.write_file("f", b"x").await.unwrap();
        let root = handle(&fs.root);
        assert_eq!(err(fs.root.link_at("f", &root, "g").await), Unsupported);
        assert_eq!(err(fs.root.link_at("missing", &root, "g").await), NoEntry);
        assert_eq!(err(fs.root.link_at("f/x", &root, "g").await), NotDirectory);
        assert_eq!(err(fs.root.link_at("f", &root, "/g").await), NotPermitted);
        assert_eq!(err(fs.root.symlink_at("g").await), Unsupported);
        assert_eq!(err(fs.root.symlink_at("../g").await), NotPermitted);
        assert_eq!(err(fs.root.set_times_at("missing", None).await), NoEntry);
        assert_eq!(err(fs.root.set_times_at("f/", None).await), NotDirectory);
        assert_eq!(err(fs.root.set_times_at("/f", None).await), NotPermitted);
        assert_eq!(err(fs.root.readlink_at("f").await), Invalid);
        assert_eq!(err(fs.root.readlink_at("missing").await), NoEntry);
        assert_eq!(err(fs.root.readlink_at("/f").await), NotPermitted);
    }
}

#[tokio::test]
async fn metadata_hashes_name_paths_stably() {
    for backend in BACKENDS {
        let mut fs = Fs::new(backend);
        fs.mkdir("d").await.unwrap();
        fs.write_file("d/f", b"x").await.unwrap();
        fs.write_file("g", b"x").await.unwrap();
        let f = fs.root.metadata_hash_at("d/f").await.unwrap();
        assert_eq!(fs.root.metadata_hash_at("d/../d/f").await.unwrap(), f);
        assert_ne!(fs.root.metadata_hash_at("g").await.unwrap(), f);
        assert_ne!(fs.root.metadata_hash_at("d").await.unwrap(), f);
        assert_eq!(err(fs.root.metadata_hash_at("missing").await), NoEntry);
        let opened = fs.open("d/f", read_only()).await.unwrap();
        assert_eq!(opened.metadata_hash(), f);
        let d = open_dir(&fs.root, "d").await;
        assert_eq!(d.metadata_hash_at("f").await.unwrap(), f);
        assert_eq!(
            Handle::Dir(d).metadata_hash(),
            fs.root.metadata_hash_at("d").await.unwrap()
        );
        // The same in another context over the same mount.
        let again = FsCtx::with_mounts(fs.ctx.mounts().to_vec());
        let again = Dir::root(again.volumes()[0].clone());
        assert_eq!(again.metadata_hash_at("d/f").await.unwrap(), f);
    }
}

#[tokio::test]
async fn is_same_object_means_same_mount_and_path() {
    for backend in BACKENDS {
        let mut fs = Fs::new(backend);
        fs.write_file("f", b"x").await.unwrap();
        let a = fs.open("f", read_only()).await.unwrap();
        let b = fs.open("./f", read_only()).await.unwrap();
        assert!(a.is_same_object(&b));
        assert!(!a.is_same_object(&handle(&fs.root)));
        assert!(handle(&fs.root).is_same_object(&fs.open(".", read_only()).await.unwrap()));
        let other = Fs::new(backend);
        assert!(!handle(&fs.root).is_same_object(&handle(&other.root)));
    }
}

#[tokio::test]
async fn read_directory_lists_sorted_with_kinds_and_hides_reserved_names() {
    for backend in BACKENDS {
        let mut fs = Fs::new(backend);
        fs.mkdir("d").await.unwrap();
        fs.write_file("b", b"x").await.unwrap();
        fs.write_file("a", b"x").await.unwrap();
        fs.mkdir("c").await.unwrap();
        fs.write_file("c/inner", b"x").await.unwrap();
        fs.put(".worldhost-staging/run/out", b"x").await;
        fs.put(".worldhost-quarantine/run/out", b"x").await;
        let entries = fs.root.read_directory().await.unwrap();
        let listed: Vec<(&str, Kind)> = entries.iter().map(|e| (e.name.as_str(), e.kind)).collect();
        assert_eq!(
            listed,
            [
                ("a", Kind::File),
                ("b", Kind::File),
                ("c", Kind::Dir),
                ("d", Kind::Dir)
            ],
            "{backend:?}"
        );
        // A directory removed after it was opened lists as empty.
        let d = open_dir(&fs.root, "d").await;
        fs.root.remove_directory_at("d").await.unwrap();
        assert!(d.read_directory().await.unwrap().is_empty());
        // A file handle is not a directory.
        let file = fs.open("a", read_only()).await.unwrap();
        assert_eq!(err(file.as_dir()), NotDirectory);
    }
}

/// A listing holds one page at a time, charged to the run's buffer memory, and gives every
/// entry once: the run's open files first (also one whose name is stored already), then the
/// stored ones, page after page.
#[tokio::test]
async fn a_listing_holds_a_page_at_a_time_and_gives_each_entry_once() {
    use worldhost_world_cloud::fs::BufferMemory;
    const STORED: usize = 2_500;
    for backend in BACKENDS {
        let mut fs = Fs::new(backend);
        let fs_ref = &fs;
        let puts =
            (0..STORED).map(|i| async move { fs_ref.put(&format!("many/f{i:05}"), b"x").await });
        futures::future::join_all(puts).await;
        fs.put("many/sub/inner", b"x").await;
        // Open, unpublished: a new file, and a stored name rewritten.
        let _new = fs.open("many/new", create_write()).await.unwrap();
        let _rewritten = fs.open("many/f00007", create_write()).await.unwrap();
        let dir = open_dir(&fs.root, "many").await;

        let memory = Arc::new(BufferMemory::new(u64::MAX));
        let mut listing = dir.list(memory.clone()).await.unwrap();
        let (mut names, mut most_held) = (Vec::new(), 0);
        while let Some(entry) = listing.next().await.unwrap() {
            most_held = most_held.max(memory.held());
            names.push(entry.name);
        }
        let mut expected: Vec<String> = (0..STORED).map(|i| format!("f{i:05}")).collect();
        expected.extend(["new".to_owned(), "sub".to_owned()]);
        expected.sort();
        let mut sorted = names.clone();
        sorted.sort();
        assert_eq!(sorted, expected, "{backend:?}: each entry once");
        assert_eq!(
            names[..2],
            ["f00007", "new"],
            "{backend:?}: the run's files first"
        );
        if backend == Backend::Local {
            // One page of 1,000 short names, not the directory's 2,500.
            assert!(most_held < 100_000, "{backend:?}: held {most_held} bytes");
        }
        drop(listing);
        assert_eq!(
            memory.held(),
            0,
            "{backend:?}: a dropped listing gives its memory back"
        );

        // Past the run's allowance the guest gets insufficient-memory, and nothing stays held.
        let scarce = Arc::new(BufferMemory::new(1_000));
        let read_all = async {
            let mut listing = dir.list(scarce.clone()).await?;
            while listing.next().await?.is_some() {}
            Ok(())
        };
        assert_eq!(err(read_all.await), InsufficientMemory);
        assert_eq!(scarce.held(), 0);
    }
}

#[tokio::test]
async fn contexts_over_one_volume_share_what_they_know_of_directories() {
    let fs = Fs::new(Backend::Memory);
    fs.mkdir("d").await.unwrap();
    let mounts = fs.ctx.mounts().to_vec();
    let path = open_dir(&fs.root, "d").await.path().clone();
    let volumes = vec![Volume::new(mounts[0].clone())];
    let first = FsCtx::with_volumes(volumes.clone());
    first.volumes()[0].remember_dir(&path);
    let second = FsCtx::with_volumes(volumes);
    assert!(second.volumes()[0].dir_known(&path));
    // A volume made apart starts knowing only the root.
    let apart = Volume::new(mounts[0].clone());
    assert!(!apart.dir_known(&path));
    assert!(apart.dir_known(&worldhost_world_cloud::fs::path::RelPath::root()));
}

/// A directory that holds the host's own folders (a job's staged or quarantined outputs, put
/// there by another run) is not moved: the guest's rename would carry another run's state
/// away. Its directory markers move as usual.
#[tokio::test]
async fn a_directory_holding_the_hosts_folders_is_not_renamed() {
    for backend in BACKENDS {
        let fs = Fs::new(backend);
        fs.mkdir("out").await.unwrap();
        fs.put("out/.worldhost-staging/123/result.txt", b"staged")
            .await;
        let root = handle(&fs.root);
        assert_eq!(
            err(fs.root.rename_at("out", &root, "moved").await),
            Busy,
            "{backend:?}"
        );
        assert_eq!(fs.kind("moved").await, Err(NoEntry), "{backend:?}");
        // Without them (markers only), the same rename goes through.
        fs.mkdir("plain").await.unwrap();
        fs.mkdir("plain/sub").await.unwrap();
        fs.root.rename_at("plain", &root, "moved").await.unwrap();
        assert_eq!(fs.kind("moved/sub").await, Ok(Kind::Dir), "{backend:?}");
    }
}

/// The run remembers at most 10,000 files, then starts again: a directory it made is then no
/// longer one whose every name it knows, so the files it stored there before still exist.
#[tokio::test]
async fn files_stored_before_the_run_forgets_them_still_exist() {
    for backend in [Backend::Memory, Backend::PrefixedMemory] {
        let mut fs = Fs::new(backend);
        fs.mkdir("d").await.unwrap();
        for i in 0..10_001 {
            fs.write_file(&format!("d/f{i}"), b"x").await.unwrap();
        }
        for i in [0, 5_000, 10_000] {
            assert_eq!(
                fs.kind(&format!("d/f{i}")).await,
                Ok(Kind::File),
                "{backend:?} {i}"
            );
        }
        assert_eq!(fs.kind("d/none").await, Err(NoEntry));
    }
}
