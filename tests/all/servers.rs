//! The test servers themselves (`support/stores.rs`): each backend's serves object_store
//! configured as the host configures it (the GCS emulator its reads only), fails fast once
//! stopped, and dies with a panicking test.

use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use futures::TryStreamExt;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt, PutMode, PutOptions, PutPayload};

use crate::support::per_backend;
use crate::support::server::{Server, http};
use crate::support::stores::{Backend, StoreServer, runtime};

/// The objects `reads` expects, put with `put`.
fn seed(put: impl Fn(&str, Vec<u8>)) {
    put("dir/hello.txt", b"hello, world".to_vec());
    put("dir/sub/big.bin", big_bytes());
}

fn big_bytes() -> Vec<u8> {
    (0..3_000_000u32).map(|i| (i % 251) as u8).collect()
}

/// Gets, ranged gets and lists the objects `seed` put in `store`.
async fn reads(store: &dyn ObjectStore) {
    let path = ObjectPath::from("dir/hello.txt");
    let big = ObjectPath::from("dir/sub/big.bin");
    let big_bytes = big_bytes();

    let got = store.get(&path).await.unwrap().bytes().await.unwrap();
    assert_eq!(&got[..], b"hello, world");
    let got = store.get(&big).await.unwrap().bytes().await.unwrap();
    assert!(got[..] == big_bytes[..], "big object differs");
    let range = store.get_range(&big, 1000..1010).await.unwrap();
    assert_eq!(&range[..], &big_bytes[1000..1010]);

    let mut listed: Vec<_> = store
        .list(Some(&ObjectPath::from("dir")))
        .map_ok(|meta| (meta.location.to_string(), meta.size))
        .try_collect()
        .await
        .unwrap();
    listed.sort();
    assert_eq!(
        listed,
        [
            ("dir/hello.txt".to_owned(), 12),
            ("dir/sub/big.bin".to_owned(), big_bytes.len() as u64)
        ]
    );
    let shallow = store
        .list_with_delimiter(Some(&ObjectPath::from("dir")))
        .await
        .unwrap();
    assert_eq!(shallow.common_prefixes, [ObjectPath::from("dir/sub")]);
    assert_eq!(shallow.objects.len(), 1);
    assert_eq!(shallow.objects[0].location, path);
    let missing = store.get(&ObjectPath::from("dir/missing")).await;
    assert!(
        matches!(missing, Err(object_store::Error::NotFound { .. })),
        "missing object: {missing:?}"
    );
}

/// Conditionally creates and deletes objects in `store`, after `reads`.
async fn writes(store: &dyn ObjectStore) {
    let path = ObjectPath::from("dir/hello.txt");
    // Create-if-absent, which the host relies on to not overwrite.
    let create = || PutOptions {
        mode: PutMode::Create,
        ..Default::default()
    };
    let fresh = ObjectPath::from("dir/created-once");
    store
        .put_opts(&fresh, PutPayload::from_static(b"1"), create())
        .await
        .unwrap();
    let again = store
        .put_opts(&fresh, PutPayload::from_static(b"2"), create())
        .await;
    assert!(
        matches!(again, Err(object_store::Error::AlreadyExists { .. })),
        "second create: {again:?}"
    );

    store.delete(&path).await.unwrap();
    let gone = store.get(&path).await;
    assert!(
        matches!(gone, Err(object_store::Error::NotFound { .. })),
        "deleted object: {gone:?}"
    );
}

/// After the server is stopped, a request for the object `before-stop` (there before) fails,
/// within seconds.
async fn fails_when_stopped(store: &dyn ObjectStore, stop: impl FnOnce()) {
    let path = ObjectPath::from("before-stop");
    store.get(&path).await.unwrap();
    stop();
    let started = Instant::now();
    let result = tokio::time::timeout(Duration::from_secs(30), store.get(&path))
        .await
        .expect("a request to a stopped server still had no answer after 30 s");
    let elapsed = started.elapsed();
    eprintln!("a request to the stopped server failed in {elapsed:?}: {result:?}");
    assert!(result.is_err(), "a stopped server answered");
    assert!(
        elapsed < Duration::from_secs(10),
        "failing took {elapsed:?}: {:?}",
        result.err()
    );
}

per_backend! {
    reads fn serves_object_store(backend: Backend) {
        let server = StoreServer::start(backend);
        assert!(
            server
                .url("a/b")
                .ends_with(&format!("{}/a/b", server.bucket))
        );
        let objects = server.objects();
        seed(|key, bytes| objects.put(key, bytes));
        let store = server.store(false);
        runtime().block_on(reads(&*store));
        if backend.takes_writes() {
            runtime().block_on(writes(&*store));
        } else {
            // The emulator's gap `takes_writes` describes; should a release close it, this
            // fails, and GCS can run every test.
            let put = runtime().block_on(
                store.put(&ObjectPath::from("dir/new"), PutPayload::from_static(b"x")),
            );
            assert!(put.is_err(), "the GCS emulator took an XML API write: enable GCS writes");
        }
        if backend == Backend::S3 {
            // The objects are in the bucket created, as moto itself tells. moto does not check
            // signatures, but refuses anonymous reads of private objects: any credential does.
            // (Azurite takes signed requests only.)
            let (status, response) = http(
                server.process().port(),
                "GET",
                &format!("/{}/dir/sub/big.bin", server.bucket),
                "Authorization: AWS4-HMAC-SHA256 Credential=worldhost-test/20260101/us-east-1/s3/\
                 aws4_request, SignedHeaders=host, Signature=0\r\n",
            )
            .unwrap();
            assert_eq!(status, 200, "{response:.500}");
            assert!(
                response.contains("Content-Length: 3000000"),
                "{response:.500}"
            );
        }

        // set_env gives a command env() and no other variable of the backend.
        let mut command = Command::new("env");
        server.set_env(&mut command);
        let output = String::from_utf8(command.output().unwrap().stdout).unwrap();
        let given: Vec<&str> = output
            .lines()
            .filter(|line| backend.prefixes().iter().any(|p| line.starts_with(p)))
            .collect();
        assert_eq!(given.len(), server.env().len(), "{given:?}");
        for (key, value) in server.env() {
            let line = format!("{key}={value}");
            assert!(given.contains(&line.as_str()), "{line} not in {given:?}");
        }
    }
}

per_backend! {
    reads fn requests_fail_once_the_server_is_stopped(backend: Backend) {
        let mut server = StoreServer::start(backend);
        server.objects().put("before-stop", "x");
        let store = server.store(true);
        runtime().block_on(fails_when_stopped(&*store, || server.stop()));
        server.stop(); // twice is fine
    }
}

#[test]
fn servers_die_with_a_panicking_test() {
    let ports = std::thread::spawn(|| {
        let servers = Backend::ALL.map(StoreServer::start);
        let ports = servers.each_ref().map(|server| server.process().port());
        let pids = servers
            .each_ref()
            .map(|server| server.process().pid().unwrap());
        // Unwinding drops the servers, as when a test's assertion fails.
        std::panic::panic_any((ports, pids));
    })
    .join()
    .expect_err("the thread panicked");
    const N: usize = Backend::ALL.len();
    let (ports, pids) = *ports.downcast::<([u16; N], [u32; N])>().unwrap();
    for port in ports {
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
        assert!(
            TcpStream::connect_timeout(&addr, Duration::from_secs(1)).is_err(),
            "a server still listens on {port}"
        );
    }
    for pid in pids {
        assert!(
            !Path::new(&format!("/proc/{pid}")).exists(),
            "server process {pid} is still there"
        );
    }
}

#[test]
#[should_panic(expected = "exited with exit status: 3 while starting; its output:\nno such luck")]
fn a_server_that_does_not_start_fails_with_its_output() {
    Server::start(
        "a failing server",
        Path::new("/bin/sh"),
        |_| {
            ["-c", "echo no such luck >&2; exit 3"]
                .map(String::from)
                .into()
        },
        |_| {},
    );
}
