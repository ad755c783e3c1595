//! A file larger than the memory a handle stages in (8 MiB: a staged copy on disk) that the run
//! stored on a cloud store keeps its staged copy: reading it back, whole, by ranges or
//! through a stream, and writing into it again, need no GET, until a listing shows that
//! another writer replaced the object.

use wasmtime_wasi_io::streams::{InputStream, StreamError};
use worldhost_world_cloud::fs::MEMORY_SPOOL_LIMIT;
use worldhost_world_cloud::p2::streams::FileInputStream;

use crate::support::*;

/// Past the memory a handle stages in, so staged on disk.
const SIZE: usize = MEMORY_SPOOL_LIMIT as usize + (1 << 20) + 123;

fn content(seed: u8) -> Vec<u8> {
    (0..SIZE).map(|i| (i / 5) as u8 ^ seed).collect()
}

/// The whole content of `path`, through a stream read in 64 KiB reads.
async fn streamed(cloud: &mut CloudLike, path: &str) -> Vec<u8> {
    let handle = cloud.fs.open(path, read_only()).await.unwrap();
    let file = handle.as_file().unwrap().reader().unwrap();
    let mut stream = FileInputStream::new(file, 0);
    let mut read = Vec::new();
    loop {
        match stream.blocking_read(64 << 10).await {
            Ok(bytes) => read.extend_from_slice(&bytes),
            Err(StreamError::Closed) => return read,
            Err(error) => panic!("the stream failed: {error:?}"),
        }
    }
}

#[tokio::test]
async fn a_large_file_the_run_stored_is_read_back_without_a_get() {
    let mut cloud = CloudLike::new();
    cloud.fs.write_file("big", &content(0)).await.unwrap();
    assert!(streamed(&mut cloud, "big").await == content(0));
    assert!(cloud.fs.read_file("big").await.unwrap() == content(0));
    let handle = cloud.fs.open("big", read_only()).await.unwrap();
    let (bytes, _) = handle.as_file().unwrap().read(4096, 5 << 20).await.unwrap();
    assert!(bytes.as_ref() == &content(0)[5 << 20..(5 << 20) + 4096]);
    assert_eq!(cloud.gets(), 0, "read back from the staged copy");
    // What the store holds is what was written (this GET is the test's own).
    assert!(cloud.fs.stored("big").await.unwrap() == content(0));
}

#[tokio::test]
async fn writing_into_a_kept_file_starts_from_its_staged_copy() {
    let mut cloud = CloudLike::new();
    cloud.fs.write_file("big", &content(0)).await.unwrap();
    let handle = cloud.fs.open("big", read_write()).await.unwrap();
    let file = file_of(handle);
    file.write(b"patched", 1000).await.unwrap();
    cloud.fs.ctx.close(file).await.unwrap();
    assert_eq!(
        cloud.gets(),
        0,
        "the staged copy, not a download, is patched"
    );
    let mut expected = content(0);
    expected[1000..1007].copy_from_slice(b"patched");
    assert!(cloud.fs.read_file("big").await.unwrap() == expected);
    assert!(cloud.fs.stored("big").await.unwrap() == expected);
}

#[tokio::test]
async fn a_listing_that_shows_another_object_drops_the_staged_copy() {
    let mut cloud = CloudLike::new();
    cloud.fs.write_file("big", &content(0)).await.unwrap();
    // Another writer replaces it, the same size: only a listing can tell the run.
    cloud.fs.put("big", &content(0xff)).await;
    assert!(
        streamed(&mut cloud, "big").await == content(0),
        "not seen yet"
    );
    assert!(cloud.fs.names(".").await.contains(&"big".to_owned()));
    assert!(streamed(&mut cloud, "big").await == content(0xff));
    assert!(cloud.fs.read_file("big").await.unwrap() == content(0xff));
    assert!(cloud.gets() > 0);
}

#[tokio::test]
async fn a_listing_that_shows_the_stored_object_keeps_the_staged_copy() {
    let mut cloud = CloudLike::new();
    cloud.fs.write_file("big", &content(0)).await.unwrap();
    assert!(cloud.fs.names(".").await.contains(&"big".to_owned()));
    assert!(streamed(&mut cloud, "big").await == content(0));
    assert_eq!(cloud.gets(), 0);
}

/// A staged copy is kept only past the memory staging size, so that the room for kept copies
/// bounds the descriptors they hold: a file staged on disk, then cut short, is read from the
/// store.
#[tokio::test]
async fn a_file_cut_short_after_it_was_staged_on_disk_keeps_no_copy() {
    let mut cloud = CloudLike::new();
    let handle = cloud.fs.open("cut", create_write()).await.unwrap();
    let file = file_of(handle);
    file.write(&content(0), 0).await.unwrap();
    file.set_size(10).await.unwrap();
    cloud.fs.ctx.close(file).await.unwrap();
    assert!(cloud.fs.read_file("cut").await.unwrap() == content(0)[..10]);
    assert_eq!(cloud.gets(), 1);
}
