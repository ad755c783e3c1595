//! The run's own namespace behaves as a real directory's (issue 11): files exist from their
//! creation, handles on one file share its content, unlinked and renamed open files neither
//! come back nor clobber anything, times can be set, and trailing slashes on files fail.
//! Other readers of the store see each object appear whole, when it is published.

use std::time::{Duration, SystemTime};

use worldhost_world_cloud::fs::ErrorCode::*;
use worldhost_world_cloud::fs::{Handle, Kind, OpenOptions};

use crate::support::*;

#[tokio::test]
async fn a_created_file_can_be_stated_listed_and_reopened_before_it_is_closed() {
    for backend in BACKENDS {
        let mut fs = Fs::new(backend);
        fs.mkdir("d").await.unwrap();
        let first = file_of(fs.open("d/new", create_write()).await.unwrap());
        first.write(b"hello", 0).await.unwrap();
        let stat = fs.root.stat_at("d/new").await.unwrap();
        assert_eq!((stat.kind, stat.size), (Kind::File, 5), "{backend:?}");
        assert_eq!(fs.names("d").await, ["new"]);
        // A second handle for writing shares the file: what one writes the other reads.
        let second = file_of(fs.open("d/new", read_write()).await.unwrap());
        assert_eq!(&second.read(100, 0).await.unwrap().0[..], b"hello");
        second.write(b"J", 0).await.unwrap();
        assert_eq!(first.stat().await.size, 5);
        assert_eq!(fs.read_file("d/new").await.unwrap(), b"Jello");
        assert_eq!(fs.stored("d/new").await, None, "published only on close");
        fs.ctx.close(second).await.unwrap();
        assert_eq!(fs.stored("d/new").await.unwrap(), b"Jello");
        first.write(b"!", 5).await.unwrap();
        fs.ctx.close(first).await.unwrap();
        assert_eq!(fs.stored("d/new").await.unwrap(), b"Jello!");
        // A directory holding an open file is not empty, even before anything is stored.
        let open = file_of(fs.open("d/other", create_write()).await.unwrap());
        fs.root.unlink_file_at("d/new").await.unwrap();
        assert_eq!(err(fs.root.remove_directory_at("d").await), NotEmpty);
        fs.ctx.close(open).await.unwrap();
    }
}

#[tokio::test]
async fn exclusive_creation_holds_against_the_runs_own_new_files() {
    for backend in BACKENDS {
        let mut fs = Fs::new(backend);
        let exclusive = OpenOptions {
            exclusive: true,
            ..create_write()
        };
        let file = fs.open("lock", exclusive).await.unwrap();
        assert_eq!(err(fs.open("lock", exclusive).await), Exist);
        // Opening with truncate empties the shared file for every handle.
        let file = file_of(file);
        file.write(b"1234", 0).await.unwrap();
        let truncating = file_of(fs.open("lock", create_write()).await.unwrap());
        assert_eq!(file.stat().await.size, 0);
        fs.ctx.close(truncating).await.unwrap();
        fs.ctx.close(file).await.unwrap();
        assert_eq!(fs.stored("lock").await.unwrap(), b"");
    }
}

#[tokio::test]
async fn an_unlinked_open_file_keeps_its_content_and_never_comes_back() {
    for backend in BACKENDS {
        let mut fs = Fs::new(backend);
        fs.write_file("stored", b"old").await.unwrap();
        for name in ["stored", "new"] {
            let file = file_of(fs.open(name, create_write()).await.unwrap());
            file.write(b"scratch", 0).await.unwrap();
            fs.root.unlink_file_at(name).await.unwrap();
            assert_eq!(fs.kind(name).await, Err(NoEntry), "{backend:?} {name}");
            assert!(fs.names(".").await.is_empty());
            // The handle still reads and writes its content, as an unlinked inode's.
            file.write(b"!", 7).await.unwrap();
            assert_eq!(&file.read(100, 0).await.unwrap().0[..], b"scratch!");
            assert_eq!(err(fs.root.unlink_file_at(name).await), NoEntry);
            fs.ctx.close(file).await.unwrap();
            assert_eq!(fs.stored(name).await, None, "{backend:?} {name}");
        }
        // A file left open and unlinked is not committed at exit either.
        let file = file_of(fs.open("left", create_write()).await.unwrap());
        file.write(b"x", 0).await.unwrap();
        fs.root.unlink_file_at("left").await.unwrap();
        fs.ctx.commit_open_files().await.unwrap();
        assert_eq!(fs.stored("left").await, None);
        assert!(fs.keys().await.is_empty(), "{:?}", fs.keys().await);
    }
}

#[tokio::test]
async fn a_renamed_open_file_lands_at_its_new_name_and_replaces_nothing_else() {
    for backend in BACKENDS {
        let mut fs = Fs::new(backend);
        let root = Handle::Dir(fs.root.clone());
        // A new file, written, renamed while open, written again, closed.
        let file = file_of(fs.open("draft", create_write()).await.unwrap());
        file.write(b"part one", 0).await.unwrap();
        fs.root.rename_at("draft", &root, "final").await.unwrap();
        assert_eq!(fs.kind("draft").await, Err(NoEntry));
        assert_eq!(fs.read_file("final").await.unwrap(), b"part one");
        file.write(b", two", 8).await.unwrap();
        fs.ctx.close(file).await.unwrap();
        assert_eq!(fs.stored("draft").await, None, "{backend:?}");
        assert_eq!(fs.stored("final").await.unwrap(), b"part one, two");

        // A stored file opened for reading, renamed: its handle still reads it.
        let reader = file_of(fs.open("final", read_only()).await.unwrap());
        fs.root.rename_at("final", &root, "moved").await.unwrap();
        assert_eq!(&reader.read(4, 0).await.unwrap().0[..], b"part");
        fs.ctx.close(reader).await.unwrap();
        assert_eq!(fs.stored("final").await, None);

        // Renaming onto an open file's name: the replaced file's handle does not clobber
        // the new content when it closes.
        fs.write_file("incoming", b"new").await.unwrap();
        let replaced = file_of(fs.open("moved", read_write()).await.unwrap());
        replaced.write(b"stale", 0).await.unwrap();
        fs.root.rename_at("incoming", &root, "moved").await.unwrap();
        fs.ctx.close(replaced).await.unwrap();
        assert_eq!(fs.stored("moved").await.unwrap(), b"new", "{backend:?}");
        assert_eq!(fs.read_file("moved").await.unwrap(), b"new");
        assert_eq!(fs.keys().await, ["moved"]);
    }
}

#[tokio::test]
async fn open_files_move_with_a_renamed_directory() {
    for backend in BACKENDS {
        let mut fs = Fs::new(backend);
        let root = Handle::Dir(fs.root.clone());
        fs.mkdir("a").await.unwrap();
        fs.write_file("a/kept", b"k").await.unwrap();
        let file = file_of(fs.open("a/open", create_write()).await.unwrap());
        file.write(b"o", 0).await.unwrap();
        fs.root.rename_at("a", &root, "b").await.unwrap();
        assert_eq!(fs.names("b").await, ["kept", "open"]);
        assert_eq!(fs.kind("a/open").await, Err(NoEntry));
        fs.ctx.close(file).await.unwrap();
        assert_eq!(fs.stored("b/open").await.unwrap(), b"o", "{backend:?}");
        assert_eq!(fs.stored("a/open").await, None);
    }
}

#[tokio::test]
async fn set_times_round_trips_through_stat() {
    for backend in BACKENDS {
        let mut fs = Fs::new(backend);
        fs.mkdir("d").await.unwrap();
        fs.write_file("d/f", b"x").await.unwrap();
        let past = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000_000);
        fs.root.set_times_at("d/f", Some(past)).await.unwrap();
        assert_eq!(fs.root.stat_at("d/f").await.unwrap().modified, Some(past));
        fs.root.set_times_at("d", Some(past)).await.unwrap();
        assert_eq!(fs.root.stat_at("d").await.unwrap().modified, Some(past));
        // `None` leaves the time alone.
        fs.root.set_times_at("d/f", None).await.unwrap();
        assert_eq!(fs.root.stat_at("d/f").await.unwrap().modified, Some(past));
        if let Some(local) = &fs.local {
            // A local store keeps it on the file, for later runs and other programs.
            let on_disk = std::fs::metadata(local.join("d/f"))
                .unwrap()
                .modified()
                .unwrap();
            assert_eq!(on_disk, past);
        }
        // Through a handle, on an open file; a later write moves the time on, as POSIX says.
        let file = file_of(fs.open("d/f", read_write()).await.unwrap());
        Handle::File(file.clone())
            .set_modified(Some(past + Duration::from_secs(1)))
            .await
            .unwrap();
        assert_eq!(
            fs.root.stat_at("d/f").await.unwrap().modified,
            Some(past + Duration::from_secs(1))
        );
        file.write(b"y", 0).await.unwrap();
        let written = fs.root.stat_at("d/f").await.unwrap().modified.unwrap();
        assert!(written > past + Duration::from_secs(3600));
        fs.ctx.close(file).await.unwrap();
        let after_close = fs.root.stat_at("d/f").await.unwrap().modified.unwrap();
        assert!(
            after_close > past + Duration::from_secs(3600),
            "{backend:?}"
        );
    }
}

#[tokio::test]
async fn a_trailing_slash_on_a_file_fails_as_on_linux() {
    for backend in BACKENDS {
        let mut fs = Fs::new(backend);
        let root = Handle::Dir(fs.root.clone());
        fs.write_file("f", b"x").await.unwrap();
        fs.mkdir("d").await.unwrap();
        assert_eq!(err(fs.root.unlink_file_at("f/").await), NotDirectory);
        assert_eq!(err(fs.root.rename_at("f/", &root, "g").await), NotDirectory);
        assert_eq!(err(fs.root.rename_at("f", &root, "g/").await), NotDirectory);
        assert_eq!(err(fs.open("f/", read_only()).await), NotDirectory);
        assert_eq!(err(fs.open("new/", create_write()).await), IsDirectory);
        assert_eq!(err(fs.root.unlink_file_at("d/").await), IsDirectory);
        // Nothing was changed by the refused calls.
        assert_eq!(fs.read_file("f").await.unwrap(), b"x");
        assert_eq!(fs.names(".").await, ["d", "f"]);
    }
}
