//! Calls answered with no wait (the `*_now` functions the WASI 0.2 adapter tries first) give
//! what their async forms give, are taken where no store request is needed, and decline
//! (`None`) where one is, or where working out the error needs one.

use worldhost_world_cloud::fs::ErrorCode::*;
use worldhost_world_cloud::fs::{BufferMemory, ErrorCode, FsResult, Handle, Kind, Stat};

use crate::support::*;

/// Paths of every kind around a directory `d` holding the file `d/f`, and a file `g`.
const PATHS: [&str; 12] = [
    "d/f",
    "d",
    "g",
    "d/f/",
    "d/./f",
    "d/f/.",
    "d/../g",
    "missing",
    "d/missing",
    "g/x",
    "/g",
    "",
];

async fn fs_with_files(backend: Backend) -> Fs {
    let mut fs = Fs::new(backend);
    fs.mkdir("d").await.unwrap();
    fs.write_file("d/f", b"abc").await.unwrap();
    fs.write_file("g", b"x").await.unwrap();
    fs
}

fn codes<T>(result: FsResult<T>) -> Result<T, ErrorCode> {
    result.map_err(code)
}

#[tokio::test]
async fn stat_and_metadata_hash_now_agree_with_their_async_forms() {
    for backend in BACKENDS {
        let fs = fs_with_files(backend).await;
        for path in PATHS {
            for follow in [true, false] {
                let later = match follow {
                    true => fs.root.stat_at(path).await,
                    false => fs.root.lstat_at(path).await,
                };
                match fs.root.stat_at_now(path, follow) {
                    Some(now) => assert_eq!(codes(now), codes(later), "{backend:?} `{path}`"),
                    // Only a path naming nothing waits: its error takes a look above it.
                    None => assert!(matches!(codes(later), Err(NoEntry | NotDirectory))),
                }
            }
            let later = fs.root.metadata_hash_at(path).await;
            match fs.root.metadata_hash_at_now(path) {
                Some(now) => assert_eq!(codes(now), codes(later), "{backend:?} `{path}`"),
                None => assert!(matches!(codes(later), Err(NoEntry | NotDirectory))),
            }
        }
        // What the run wrote is known on every store: no wait.
        for path in ["d/f", "d", "g", "."] {
            assert!(
                fs.root.stat_at_now(path, true).is_some(),
                "{backend:?} `{path}`"
            );
            assert!(fs.root.metadata_hash_at_now(path).is_some());
        }
    }
}

#[tokio::test]
async fn only_opens_that_change_nothing_are_answered_now() {
    for backend in BACKENDS {
        let mut fs = fs_with_files(backend).await;
        let (budget, memory) = (
            fs.ctx.write_budget().clone(),
            fs.ctx.buffer_memory().clone(),
        );
        let open_now = |path, options| fs.root.open_now(&budget, &memory, path, options);
        let file = file_of(open_now("d/f", read_only()).unwrap().unwrap());
        assert_eq!(file.read(10, 0).await.unwrap().0.to_vec(), b"abc");
        assert_eq!(file.stat_now(), Some(file.stat().await));
        assert!(matches!(
            open_now("d", read_only()),
            Some(Ok(Handle::Dir(_)))
        ));
        assert_eq!(
            codes(open_now("g/", read_only()).unwrap()).err(),
            Some(NotDirectory)
        );
        // Writes, creations and truncations go the async way, as does a missing path's error.
        assert!(open_now("g", read_write()).is_none());
        assert!(open_now("new", create_write()).is_none());
        assert!(open_now("missing", read_only()).is_none());
        assert_eq!(err(fs.open("missing", read_only()).await), NoEntry);
        // A file the run has open is shared, as with the async open.
        let writer = file_of(fs.open("g", read_write()).await.unwrap());
        writer.write(b"yz", 1).await.unwrap();
        let (budget, memory) = (
            fs.ctx.write_budget().clone(),
            fs.ctx.buffer_memory().clone(),
        );
        let reader = fs.root.open_now(&budget, &memory, "g", read_only());
        let reader = file_of(reader.unwrap().unwrap());
        assert_eq!(reader.read(10, 0).await.unwrap().0.to_vec(), b"xyz");
        let stat = Stat {
            kind: Kind::File,
            size: 3,
            modified: reader.stat().await.modified,
        };
        assert_eq!(reader.stat_now(), Some(stat));
        // Closing what stores nothing is done now; a close that stores (the shared file's
        // write, whichever handle closes) hands the handle back.
        assert!(fs.ctx.close_now(file).is_ok());
        let reader = fs
            .ctx
            .close_now(reader)
            .expect_err("the write is not stored yet");
        assert_eq!(fs.stored("g").await.as_deref(), Some(&b"x"[..]));
        fs.ctx.close(reader).await.unwrap();
        assert_eq!(fs.stored("g").await.as_deref(), Some(&b"xyz"[..]));
        assert!(fs.ctx.close_now(writer).is_ok());
    }
}

#[tokio::test]
async fn listings_give_every_entry_now_once_a_page_is_at_hand() {
    for backend in BACKENDS {
        let mut fs = fs_with_files(backend).await;
        for i in 0..5 {
            fs.write_file(&format!("d/{i}"), b"n").await.unwrap();
        }
        let d = open_dir(&fs.root, "d").await;
        let mut listing = d
            .list(std::sync::Arc::new(BufferMemory::new(1 << 20)))
            .await
            .unwrap();
        let mut names = Vec::new();
        while let Some(entry) = listing.next_now().expect("one page, at hand").unwrap() {
            names.push(entry.name);
        }
        assert_eq!(names, ["0", "1", "2", "3", "4", "f"], "{backend:?}");
        assert!(listing.next_now().unwrap().unwrap().is_none());
    }
}
