//! File handles: access checks, reads and writes on the handle's view, commits, the run's
//! write budget, and files left open.

use worldhost_world_cloud::WriteLimitExceeded;
use worldhost_world_cloud::fs::ErrorCode::*;
use worldhost_world_cloud::fs::{FsError, Kind, MAX_READ};

use crate::support::*;

#[tokio::test]
async fn handles_check_the_access_they_were_opened_with() {
    for backend in BACKENDS {
        let mut fs = Fs::new(backend);
        fs.write_file("f", b"content").await.unwrap();
        let reader = file_of(fs.open("f", read_only()).await.unwrap());
        assert_eq!(err(reader.write(b"x", 0).await), BadDescriptor);
        assert_eq!(err(reader.set_size(0).await), Invalid);
        assert!(reader.writer().await.unwrap().is_none());
        assert!(reader.reader().is_some());
        let writer = file_of(fs.open("f", write_only()).await.unwrap());
        assert_eq!(err(writer.read(10, 0).await), BadDescriptor);
        assert!(writer.reader().is_none());
        assert!(writer.writer().await.unwrap().is_some());
        // A directory handle is not a file.
        let dir = fs.open(".", read_only()).await.unwrap();
        assert_eq!(err(dir.as_file()), IsDirectory);
        assert_eq!(dir.stat().await.kind, Kind::Dir);
    }
}

#[tokio::test]
async fn reads_are_ranged_short_at_most_max_read_and_say_where_the_end_is() {
    for backend in BACKENDS {
        let mut fs = Fs::new(backend);
        let big = vec![7u8; (MAX_READ + 10) as usize];
        fs.write_file("big", &big).await.unwrap();
        let file = file_of(fs.open("big", read_only()).await.unwrap());
        let (bytes, at_end) = file.read(u64::MAX, 0).await.unwrap();
        assert_eq!((bytes.len() as u64, at_end), (MAX_READ, false));
        let (bytes, at_end) = file.read(100, MAX_READ).await.unwrap();
        assert_eq!((bytes.len(), at_end), (10, true));
        let (bytes, at_end) = file.read(100, u64::MAX).await.unwrap();
        assert_eq!((bytes.len(), at_end), (0, true));
        let (bytes, _) = file.read(3, 5).await.unwrap();
        assert_eq!(&bytes[..], &[7, 7, 7]);
    }
}

/// `read_now` answers without waiting whenever no store request is needed, with what `read`
/// gives: a local file at once; a `memory:` file once its object is at hand (after a read);
/// a file with writes from its staged copy. It refuses as `read` does.
#[tokio::test]
async fn reads_that_need_no_store_request_are_answered_at_once() {
    for backend in BACKENDS {
        let mut fs = Fs::new(backend);
        fs.write_file("f", b"0123456789").await.unwrap();
        let file = file_of(fs.open("f", read_only()).await.unwrap());
        let now = |len, offset| {
            file.read_now(len, offset)
                .map(|read| read.map(|(bytes, at_end)| (bytes.to_vec(), at_end)))
        };
        if backend == Backend::Local {
            assert_eq!(now(4, 2).unwrap().unwrap(), (b"2345".to_vec(), false));
        }
        let (bytes, at_end) = file.read(4, 6).await.unwrap();
        assert_eq!((&bytes[..], at_end), (&b"6789"[..], true));
        let ready = now(4, 6).expect("at hand after a read").unwrap();
        assert_eq!(ready, (b"6789".to_vec(), true));
        assert_eq!(now(4, 100).unwrap().unwrap(), (Vec::new(), true));
        // A hostile length and offset: clamped, and the end never wraps.
        assert_eq!(
            now(u64::MAX, u64::MAX).unwrap().unwrap(),
            (Vec::new(), true)
        );
        let (bytes, at_end) = now(u64::MAX, 9).unwrap().unwrap();
        assert_eq!((&bytes[..], at_end), (&b"9"[..], true));

        let writer = file_of(fs.open("f", read_write()).await.unwrap());
        writer.write(b"AB", 0).await.unwrap();
        let staged = writer.read_now(3, 0).expect("the staged copy").unwrap();
        assert_eq!(&staged.0[..], b"AB2");
        let write_only = file_of(fs.open("f", write_only()).await.unwrap());
        assert_eq!(err(write_only.read_now(1, 0).unwrap()), BadDescriptor);
    }
}

#[tokio::test]
async fn writes_are_staged_until_sync_or_close() {
    for backend in BACKENDS {
        let mut fs = Fs::new(backend);
        fs.write_file("f", b"old content").await.unwrap();
        let writer = file_of(fs.open("f", read_write()).await.unwrap());
        // Writing into an existing file keeps the rest of it.
        assert_eq!(writer.write(b"NEW", 0).await.unwrap(), 3);
        assert_eq!(&writer.read(100, 0).await.unwrap().0[..], b"NEW content");
        // The run's other handles see it at once; other readers of the store once it syncs.
        assert_eq!(fs.read_file("f").await.unwrap(), b"NEW content");
        assert_eq!(fs.stored("f").await.unwrap(), b"old content");
        writer.sync().await.unwrap();
        assert_eq!(fs.stored("f").await.unwrap(), b"NEW content");
        // Past the end: a gap of zeros.
        writer.write(b"!", 13).await.unwrap();
        assert_eq!(writer.stat().await.size, 14);
        fs.ctx.close(writer).await.unwrap();
        assert_eq!(fs.read_file("f").await.unwrap(), b"NEW content\0\0!");
    }
}

#[tokio::test]
async fn set_size_shrinks_and_extends_with_zeros() {
    for backend in BACKENDS {
        let mut fs = Fs::new(backend);
        fs.write_file("f", b"0123456789").await.unwrap();
        let file = file_of(fs.open("f", create_write()).await.unwrap());
        // `truncate` already emptied it; extend, write, shrink.
        file.set_size(4).await.unwrap();
        file.write(b"ab", 1).await.unwrap();
        file.set_size(3).await.unwrap();
        fs.ctx.close(file).await.unwrap();
        assert_eq!(fs.read_file("f").await.unwrap(), b"\0ab");
        let file = file_of(fs.open("f", write_only()).await.unwrap());
        file.set_size(5).await.unwrap();
        fs.ctx.close(file).await.unwrap();
        assert_eq!(fs.read_file("f").await.unwrap(), b"\0ab\0\0");
    }
}

#[tokio::test]
async fn large_files_spill_to_disk_and_arrive_whole() {
    for backend in BACKENDS {
        let mut fs = Fs::new(backend);
        let data: Vec<u8> = (0..(9u32 << 20)).map(|i| (i % 251) as u8).collect();
        let file = file_of(fs.open("big", create_write()).await.unwrap());
        for (i, chunk) in data.chunks(1 << 20).enumerate() {
            file.write(chunk, (i << 20) as u64).await.unwrap();
        }
        assert_eq!(
            fs.root.stat_at("big").await.unwrap().size,
            data.len() as u64
        );
        assert_eq!(fs.stored("big").await, None);
        fs.ctx.close(file).await.unwrap();
        assert!(fs.read_file("big").await.unwrap() == data, "{backend:?}");
        if let Some(local) = &fs.local {
            // Committed by a rename: nothing staged is left beside it.
            let names: Vec<_> = std::fs::read_dir(local)
                .unwrap()
                .map(|entry| entry.unwrap().file_name())
                .collect();
            assert_eq!(names, ["big"]);
        }
    }
}

#[tokio::test]
async fn the_write_limit_stops_the_run() {
    for backend in BACKENDS {
        let mut fs = Fs::new(backend);
        fs.ctx.set_write_limit(10);
        let file = file_of(fs.open("f", create_write()).await.unwrap());
        file.write(b"0123456789", 0).await.unwrap();
        let trap = match file.write(b"x", 10).await {
            Err(FsError::Trap(error)) => error,
            other => panic!("expected a trap, got {other:?}"),
        };
        assert!(
            trap.downcast_ref::<WriteLimitExceeded>().is_some(),
            "{trap}"
        );
        // Growing a file counts too.
        let grown = file_of(fs.open("g", create_write()).await.unwrap());
        assert!(matches!(grown.set_size(1).await, Err(FsError::Trap(_))));
    }
}

#[tokio::test]
async fn a_small_write_to_a_large_file_counts_the_whole_upload() {
    for backend in BACKENDS {
        let mut fs = Fs::new(backend);
        fs.put("big", &[1u8; 80]).await;
        fs.ctx.set_write_limit(100);
        let patch = write_only();
        // One byte written, but the commit uploads all 80: 80 are counted.
        let file = file_of(fs.open("big", patch).await.unwrap());
        file.write(b"x", 0).await.unwrap();
        fs.ctx.close(file).await.unwrap();
        // The next such patch would upload 80 more: past the limit, the run stops, and the
        // stored object is unchanged.
        let file = file_of(fs.open("big", patch).await.unwrap());
        file.write(b"y", 1).await.unwrap();
        let stopped = fs.ctx.close(file).await.unwrap_err();
        assert!(
            stopped.downcast_ref::<WriteLimitExceeded>().is_some(),
            "{backend:?}: {stopped}"
        );
        assert_eq!(&fs.stored("big").await.unwrap()[..2], b"x\x01");
    }
}

#[tokio::test]
async fn files_left_open_are_committed_at_exit() {
    for backend in BACKENDS {
        let mut fs = Fs::new(backend);
        let file = file_of(fs.open("left-open", create_write()).await.unwrap());
        file.write(b"kept", 0).await.unwrap();
        // A stream outlives its handle: its later writes are committed at exit too.
        let stream = file_of(fs.open("streamed", create_write()).await.unwrap());
        let open = stream.writer().await.unwrap().unwrap();
        open.write_now(None, b"before").unwrap();
        fs.ctx.close(stream).await.unwrap();
        assert_eq!(fs.stored("streamed").await.unwrap(), b"before");
        open.write_now(None, b" after").unwrap();
        assert_eq!(fs.stored("left-open").await, None);
        fs.ctx.commit_open_files().await.unwrap();
        assert_eq!(fs.stored("left-open").await.unwrap(), b"kept");
        assert_eq!(fs.stored("streamed").await.unwrap(), b"before after");
        drop(file);
    }
}

#[tokio::test]
async fn a_handle_sees_its_own_writes_in_stat() {
    for backend in BACKENDS {
        let mut fs = Fs::new(backend);
        let file = file_of(fs.open("f", create_write()).await.unwrap());
        file.write(b"12345", 0).await.unwrap();
        let stat = file.stat().await;
        assert_eq!((stat.kind, stat.size), (Kind::File, 5));
        assert!(stat.modified.is_some());
        fs.ctx.close(file).await.unwrap();
    }
}

/// Hostile sizes and offsets (the default write limit is large, as a run's is) are refused
/// with the write limit, never wrapped into small numbers, never a host panic: `set-size` to
/// 2^64 - W used to reset the budget and then panic the host on `memory:` (capacity overflow).
#[tokio::test]
async fn hostile_sizes_and_offsets_hit_the_write_limit() {
    for backend in BACKENDS {
        let mut fs = Fs::new(backend);
        fs.ctx.set_write_limit(16 << 30);
        let file = file_of(fs.open("f", create_write()).await.unwrap());
        file.write(b"0123456789", 0).await.unwrap();
        for attempt in [
            file.set_size(u64::MAX - 5).await,
            file.set_size(u64::MAX).await,
            // The gap plus the bytes overflow u64: the charge must not wrap to a few bytes.
            file.write(&[7; 20], u64::MAX - 3).await.map(drop),
            file.write(b"x", 1 << 62).await.map(drop),
        ] {
            match attempt {
                Err(FsError::Trap(error)) => assert!(
                    error.downcast_ref::<WriteLimitExceeded>().is_some(),
                    "{backend:?}: {error}"
                ),
                other => panic!("{backend:?}: expected the write limit, got {other:?}"),
            }
        }
    }
}

/// A rename on an object store is a copy, so it counts against the write limit like the
/// bytes written anew: before anything is copied, for a file and for a whole directory.
#[tokio::test]
async fn renames_count_what_they_copy_against_the_write_limit() {
    use worldhost_world_cloud::WriteBudget;
    use worldhost_world_cloud::fs::Handle;
    for backend in BACKENDS {
        let mut fs = Fs::new(backend);
        fs.write_file("big", &[1; 100]).await.unwrap();
        fs.mkdir("d").await.unwrap();
        fs.write_file("d/x", &[2; 60]).await.unwrap();
        fs.write_file("d/y", &[3; 60]).await.unwrap();
        let root = Handle::Dir(fs.root.clone());
        let budget = WriteBudget::new(110);
        for (from, to) in [("d", "e"), ("big", "moved")] {
            let refused = if from == "d" {
                // 120 bytes under `d`: more than the 110 left.
                fs.root.rename_within(from, &root, to, Some(&budget)).await
            } else {
                budget.spend(20).unwrap(); // 90 left: less than `big`'s 100
                fs.root.rename_within(from, &root, to, Some(&budget)).await
            };
            match refused {
                Err(FsError::Trap(error)) => assert!(
                    error.downcast_ref::<WriteLimitExceeded>().is_some(),
                    "{backend:?}: {error}"
                ),
                other => panic!("{backend:?}: expected the write limit, got {other:?}"),
            }
            // Nothing was copied or removed.
            assert_eq!(fs.kind(to).await, Err(NoEntry), "{backend:?}");
            assert!(fs.kind(from).await.is_ok(), "{backend:?}");
        }
        // Within the budget a rename goes through and is counted.
        let budget = WriteBudget::new(100);
        fs.root
            .rename_within("big", &root, "moved", Some(&budget))
            .await
            .unwrap();
        assert_eq!(fs.read_file("moved").await.unwrap(), vec![1; 100]);
        assert!(
            budget.spend(1).is_err(),
            "{backend:?}: the rename was not counted"
        );
    }
}
