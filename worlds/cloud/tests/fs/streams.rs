//! A file stream on a cloud store (`p2::streams::FileInputStream`, which WASI 0.3's reads use
//! too): a short read fetches one window; a reader that goes on gets the rest of the object by
//! one GET, read as it reads; a change to the file under the stream is seen once what the
//! stream has in hand is read.

use wasmtime_wasi_io::streams::{InputStream, StreamError};
use worldhost_world_cloud::p2::streams::FileInputStream;

use crate::support::*;

const SIZE: usize = 3 << 20;
const READ: usize = 64 << 10;

fn content(seed: u8) -> Vec<u8> {
    (0..SIZE).map(|i| (i / 7) as u8 ^ seed).collect()
}

/// A cloud-like store holding `f`, `content(0)`.
async fn holding_f() -> CloudLike {
    let cloud = CloudLike::new();
    cloud.fs.put("f", &content(0)).await;
    cloud
}

async fn stream(cloud: &mut CloudLike, path: &str) -> FileInputStream {
    let handle = cloud.fs.open(path, read_only()).await.unwrap();
    let file = handle
        .as_file()
        .unwrap()
        .reader()
        .expect("a readable handle");
    FileInputStream::new(file, 0)
}

/// Reads `stream` in `READ`-byte reads into `into` until it is closed, or `limit` is reached.
async fn read_on(stream: &mut FileInputStream, into: &mut Vec<u8>, limit: usize) {
    while into.len() < limit {
        match stream.blocking_read(READ).await {
            Ok(bytes) => into.extend_from_slice(&bytes),
            Err(StreamError::Closed) => break,
            Err(error) => panic!("the stream failed: {error:?}"),
        }
    }
}

#[tokio::test]
async fn a_whole_file_read_takes_a_window_and_one_get_for_the_rest() {
    let mut cloud = holding_f().await;
    let mut stream = stream(&mut cloud, "f").await;
    let mut read = Vec::new();
    read_on(&mut stream, &mut read, 1).await;
    assert_eq!(read.len(), READ);
    assert_eq!(cloud.gets(), 1, "a short read fetches its window only");
    read_on(&mut stream, &mut read, usize::MAX).await;
    assert!(read == content(0), "{} bytes read", read.len());
    assert_eq!(cloud.gets(), 2, "the rest in one GET");
}

#[tokio::test]
async fn a_file_replaced_under_a_stream_is_read_as_it_now_is() {
    let mut cloud = holding_f().await;
    let mut stream = stream(&mut cloud, "f").await;
    let mut read = Vec::new();
    read_on(&mut stream, &mut read, 4 * READ).await;
    // The same size, other bytes: committed by the run through another handle.
    cloud.fs.write_file("f", &content(0xff)).await.unwrap();
    // Nothing fetched is in hand (each read took a whole chunk): all that follows is new.
    let before = read.len();
    read_on(&mut stream, &mut read, usize::MAX).await;
    assert_eq!(read.len(), SIZE);
    assert!(read[..before] == content(0)[..before]);
    assert!(read[before..] == content(0xff)[before..]);
}

/// Each open GET of the rest counts 1 MiB against the run's buffer memory (64 MiB): a guest
/// reading on in 70 streams at once has 64 of them streamed and the rest read by windows; the
/// memory never goes past its limit, and is all given back when the streams go.
#[tokio::test]
async fn open_gets_of_the_rest_are_bounded_by_the_runs_buffer_memory() {
    const STREAMS: usize = 70;
    let mut cloud = holding_f().await;
    let mut streams = Vec::new();
    for _ in 0..STREAMS {
        streams.push(stream(&mut cloud, "f").await);
    }
    let handle = cloud.fs.open("f", read_only()).await.unwrap();
    let file = handle.as_file().unwrap().reader().unwrap();
    let memory = file.run_memory().expect("the run's buffer memory").clone();
    for stream in &mut streams {
        let mut read = Vec::new();
        read_on(stream, &mut read, 3 * READ).await;
        assert_eq!(read, content(0)[..read.len()]);
        assert!(memory.held() <= memory.limit());
    }
    // A first window each; then 64 GETs of the rest, and two more 64 KiB windows for each of
    // the other 6 (the memory is spent, so their windows do not grow).
    assert_eq!(cloud.gets(), STREAMS + 64 + 2 * (STREAMS - 64));
    assert_eq!(memory.held(), 64 << 20);
    drop(streams);
    assert_eq!(memory.held(), 0);
}

/// A GET of the rest that fails leaves the stream to ranged windows: the guest reads on, and
/// gets every byte.
#[tokio::test]
async fn a_failed_get_of_the_rest_leaves_the_stream_to_windows() {
    let mut cloud = holding_f().await;
    let mut stream = stream(&mut cloud, "f").await;
    let mut read = Vec::new();
    read_on(&mut stream, &mut read, 1).await;
    cloud.failing.store(1, std::sync::atomic::Ordering::SeqCst);
    read_on(&mut stream, &mut read, usize::MAX).await;
    assert!(read == content(0), "{} bytes read", read.len());
    // The first window, the failed GET, then windows of 128 KiB doubling (the last, of 2 MiB,
    // reaching the end of the 3 MiB).
    assert_eq!(cloud.gets(), 7);
}
