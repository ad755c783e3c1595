//! Path resolution as the operations see it: escapes, odd bytes, reserved names, `..`.

use worldhost_world_cloud::fs::ErrorCode::{self, *};
use worldhost_world_cloud::fs::Kind;

use crate::support::*;

#[tokio::test]
async fn paths_never_leave_the_mount() {
    for backend in BACKENDS {
        let fs = Fs::new(backend);
        for path in ["/", "/etc/passwd", "..", "../x", "a/../../x", "./.."] {
            assert_eq!(
                fs.kind(path).await,
                Err(NotPermitted),
                "{backend:?} {path:?}"
            );
            assert_eq!(
                err(fs.mkdir(path).await),
                NotPermitted,
                "{backend:?} {path:?}"
            );
        }
    }
}

#[tokio::test]
async fn control_characters_are_illegal() {
    for backend in BACKENDS {
        let fs = Fs::new(backend);
        for path in ["a\nb", "a\0", "x/\u{7f}"] {
            assert_eq!(
                fs.kind(path).await,
                Err(IllegalByteSequence),
                "{backend:?} {path:?}"
            );
        }
    }
}

#[tokio::test]
async fn reserved_names_are_refused_with_access() {
    for backend in BACKENDS {
        let mut fs = Fs::new(backend);
        fs.mkdir("d").await.unwrap();
        for path in [
            ".worldhost-dir",
            "d/.worldhost-dir",
            ".worldhost-staging",
            ".worldhost-quarantine/x",
        ] {
            assert_eq!(err(fs.open(path, create_write()).await), Access, "{path}");
            assert_eq!(fs.kind(path).await, Err(Access), "{path}");
        }
        // The marker exists, but never shows.
        assert_eq!(fs.names("d").await, Vec::<String>::new());
    }
}

#[tokio::test]
async fn staging_names_are_refused_on_local_stores_only() {
    for backend in BACKENDS {
        let mut fs = Fs::new(backend);
        let created = fs.write_file("big.bin#123", b"x").await;
        if backend == Backend::Local {
            assert_eq!(err(created), Access);
            assert_eq!(fs.kind("big.bin#123/x").await, Err(Access));
        } else {
            created.unwrap();
            assert_eq!(fs.kind("big.bin#123").await, Ok(Kind::File));
        }
        // Only `#` and digits make a staging name.
        fs.write_file("a#b", b"x").await.unwrap();
        fs.write_file("a#", b"x").await.unwrap();
    }
}

#[tokio::test]
async fn dotdot_needs_the_directories_it_steps_out_of() {
    for backend in BACKENDS {
        let mut fs = Fs::new(backend);
        fs.mkdir("d").await.unwrap();
        fs.write_file("f", b"file").await.unwrap();
        let cases: [(&str, Result<Kind, ErrorCode>); 7] = [
            ("d/../f", Ok(Kind::File)),
            ("d/./../d/", Ok(Kind::Dir)),
            ("f/../d", Err(NotDirectory)),
            ("missing/../f", Err(NoEntry)),
            ("f/x/../../d", Err(NotDirectory)),
            ("d/missing/../../f", Err(NoEntry)),
            (".", Ok(Kind::Dir)),
        ];
        for (path, expected) in cases {
            assert_eq!(fs.kind(path).await, expected, "{backend:?} {path:?}");
        }
    }
}

#[tokio::test]
async fn a_trailing_slash_names_a_directory() {
    for backend in BACKENDS {
        let mut fs = Fs::new(backend);
        fs.write_file("f", b"file").await.unwrap();
        fs.mkdir("d").await.unwrap();
        assert_eq!(fs.kind("f/").await, Err(NotDirectory));
        assert_eq!(fs.kind("f/.").await, Err(NotDirectory));
        // Without following links, wasmtime-wasi answers `f/` with the file; so does this.
        assert_eq!(fs.root.lstat_at("f/").await.unwrap().kind, Kind::File);
        assert_eq!(err(fs.root.lstat_at("f/.").await), NotDirectory);
        assert_eq!(err(fs.open("f/", read_only()).await), NotDirectory);
        assert_eq!(fs.kind("d/").await, Ok(Kind::Dir));
    }
}

#[tokio::test]
async fn names_are_stored_unencoded() {
    for backend in BACKENDS {
        let mut fs = Fs::new(backend);
        fs.mkdir("dir with space").await.unwrap();
        fs.write_file("dir with space/report 100%.txt", b"x")
            .await
            .unwrap();
        fs.write_file("héllo wörld", b"x").await.unwrap();
        assert_eq!(
            fs.keys().await,
            [
                "dir with space/.worldhost-dir",
                "dir with space/report 100%.txt",
                "héllo wörld"
            ]
        );
        assert_eq!(fs.names(".").await, ["dir with space", "héllo wörld"]);
        assert_eq!(fs.names("dir with space").await, ["report 100%.txt"]);
    }
}

#[tokio::test]
async fn a_prefixed_store_keeps_every_key_under_its_prefix() {
    let mut fs = Fs::new(Backend::PrefixedMemory);
    fs.mkdir("d").await.unwrap();
    fs.write_file("d/f", b"x").await.unwrap();
    fs.root
        .rename_at("d", &fs.root.clone().into(), "e")
        .await
        .unwrap();
    assert_eq!(fs.base_keys().await, ["pfx/e/.worldhost-dir", "pfx/e/f"]);
    // Objects beside the prefix are invisible.
    fs.base
        .put(&"elsewhere".into(), b"x".to_vec().into())
        .await
        .unwrap();
    assert_eq!(fs.names(".").await, ["e"]);
    assert_eq!(fs.kind("../elsewhere").await, Err(NotPermitted));
}

use object_store::ObjectStoreExt;
