//! Objects past a store's single-copy limit, on S3 (moto): `copy_object` streams them into a
//! multipart upload, and a multipart upload that is dropped is aborted, leaving no upload for
//! the bucket to bill. The limit is lowered to 1 MiB; moto, as S3, takes parts of 5 MiB and up.

use std::time::Duration;

use object_store::ObjectStoreExt;
use object_store::path::Path as Key;
use worldhost_store::{CopyLimits, Upload, copy_object, finish_aborts};

use crate::support::server::http;
use crate::support::stores::{Backend, StoreServer, runtime};

const LIMITS: CopyLimits = CopyLimits {
    single_copy: 1 << 20,
    part_size: 5 << 20,
};

/// The bucket's multipart uploads not yet completed nor aborted (S3 ListMultipartUploads).
fn open_uploads(server: &StoreServer) -> usize {
    let target = format!("/{}?uploads", server.bucket);
    match http(server.process().port(), "GET", &target, "") {
        Ok((200, response)) => response.matches("<UploadId>").count(),
        other => panic!("cannot list the multipart uploads: {other:?}"),
    }
}

fn content(size: usize) -> Vec<u8> {
    (0..size).map(|i| (i * 31 + i / 4099) as u8).collect()
}

#[test]
fn an_object_past_the_copy_limit_is_copied_in_parts_on_s3() {
    let server = StoreServer::start(Backend::S3);
    let store = server.store(false);
    let runtime = runtime();
    // Three parts, the last one short.
    let data = content((11 << 20) + 7);
    let (from, to) = (Key::from("big/source"), Key::from("big/copy"));
    runtime.block_on(async {
        store.put(&from, data.clone().into()).await.unwrap();
        let size = data.len() as u64;
        copy_object(store.as_ref(), &from, &to, size, LIMITS)
            .await
            .unwrap();
        let copied = store.get(&to).await.unwrap().bytes().await.unwrap();
        assert!(copied == data, "the copy differs");
        // Under the limit: the server-side copy.
        let small = Key::from("small");
        store.put(&small, "tiny".into()).await.unwrap();
        copy_object(store.as_ref(), &small, &Key::from("small2"), 4, LIMITS)
            .await
            .unwrap();
    });
    assert_eq!(server.objects().text("small2"), "tiny");
    assert_eq!(open_uploads(&server), 0);
}

/// A run stopped by a limit drops its futures: an upload dropped half-way is aborted.
#[test]
fn a_dropped_multipart_upload_is_aborted_on_s3() {
    let server = StoreServer::start(Backend::S3);
    let store = server.store(false);
    runtime().block_on(async {
        let key = Key::from("half");
        let mut upload = Upload::new(store.put_multipart(&key).await.unwrap(), 5 << 20);
        upload.put(content(6 << 20).into());
        // One part is stored; the rest is buffered.
        upload.wait_for_capacity(1).await.unwrap();
        assert_eq!(open_uploads(&server), 1, "the upload is not open");
        drop(upload);
        assert_eq!(finish_aborts(Duration::from_secs(20)).await, 0);
        assert!(store.head(&key).await.is_err(), "the object exists");
    });
    assert_eq!(open_uploads(&server), 0, "the dropped upload is still open");
}
