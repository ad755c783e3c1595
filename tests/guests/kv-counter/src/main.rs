//! A key-value counter written as a plugin author on Spin writes one: bindings generated from
//! the upstream `wasi:keyvalue@0.2.0-draft` WIT (vendored in `wit/deps`), nothing of
//! worldhost's. Each argument is a step, run in order, on the bucket named by the step:
//!
//! - `count:BUCKET:KEY:N` increments KEY N times by one, then prints `KEY=VALUE` (the last
//!   value `increment` returned)
//! - `set:BUCKET:KEY:VALUE`, `get:BUCKET:KEY` (prints `KEY=VALUE` or `KEY is not set`),
//!   `delete:BUCKET:KEY`, `exists:BUCKET:KEY` (prints `KEY exists` or `KEY does not exist`)
//! - `fill:BUCKET:N:SIZE` sets keys `k00000`.. `kN` to SIZE bytes each with `set-many`, 1,000
//!   keys a call
//! - `batch:BUCKET:N` reads N keys in one `get-many` call and prints how many were set
//! - `cursors:BUCKET:H` opens H handles, starts a listing on each (its first page), then goes
//!   on with each and prints `continued C of H`, and the first error met
//! - `list:BUCKET` pages through `list-keys`, then prints `N keys in P pages`, and the first
//!   and last key in order
//! - `many:BUCKET:K1,K2,...` reads with `get-many` and prints `K=VALUE` or `K is not set`
//!   for each, then deletes them with `delete-many`
//! - `big:BUCKET:KEY:SIZE` sets SIZE bytes at KEY
//!
//! A step whose call fails prints `error: ...` (the error variant) and the program goes on.

wit_bindgen::generate!({
    inline: "
        package test:kv-counter;

        world app {
            include wasi:keyvalue/imports@0.2.0-draft;
        }
    ",
    path: ["../../../wit/deps/keyvalue.wit"],
    generate_all,
});

use wasi::keyvalue::store::{Bucket, Error};
use wasi::keyvalue::{atomics, batch, store};

fn open(name: &str) -> Result<Bucket, Error> {
    store::open(name)
}

fn show(value: Option<Vec<u8>>, key: &str) {
    match value {
        Some(value) => println!("{key}={}", String::from_utf8_lossy(&value)),
        None => println!("{key} is not set"),
    }
}

fn step(parts: &[&str]) -> Result<(), Error> {
    match parts {
        ["count", bucket, key, times] => {
            let bucket = open(bucket)?;
            let mut last = 0;
            for _ in 0..times.parse::<u64>().expect("a count") {
                last = atomics::increment(&bucket, key, 1)?;
            }
            println!("{key}={last}");
        }
        ["set", bucket, key, value] => open(bucket)?.set(key, value.as_bytes())?,
        ["get", bucket, key] => show(open(bucket)?.get(key)?, key),
        ["delete", bucket, key] => open(bucket)?.delete(key)?,
        ["exists", bucket, key] => match open(bucket)?.exists(key)? {
            true => println!("{key} exists"),
            false => println!("{key} does not exist"),
        },
        ["fill", bucket, count, size] => {
            let size: usize = size.parse().expect("a size");
            let pairs: Vec<(String, Vec<u8>)> = (0..count.parse::<usize>().expect("a count"))
                .map(|i| (format!("k{i:05}"), vec![b'v'; size]))
                .collect();
            let bucket = open(bucket)?;
            for chunk in pairs.chunks(1000) {
                batch::set_many(&bucket, chunk)?;
            }
        }
        ["batch", bucket, count] => {
            let keys: Vec<String> = (0..count.parse::<usize>().expect("a count"))
                .map(|i| format!("k{i:05}"))
                .collect();
            let values = batch::get_many(&open(bucket)?, &keys)?;
            println!("{} set", values.iter().flatten().count());
        }
        ["cursors", bucket, handles] => {
            let mut started = Vec::new();
            for _ in 0..handles.parse::<usize>().expect("a count") {
                let handle = open(bucket)?;
                let cursor = handle.list_keys(None)?.cursor.expect("more than a page");
                started.push((handle, cursor));
            }
            let (mut continued, mut first_error) = (0, None);
            for (handle, cursor) in &started {
                match handle.list_keys(Some(*cursor)) {
                    Ok(_) => continued += 1,
                    Err(error) => {
                        first_error.get_or_insert(error);
                    }
                }
            }
            println!("continued {continued} of {}", started.len());
            if let Some(error) = first_error {
                println!("error: {error:?}");
            }
        }
        ["list", bucket] => {
            let bucket = open(bucket)?;
            let (mut keys, mut pages, mut cursor) = (Vec::new(), 0, None);
            loop {
                let page = bucket.list_keys(cursor)?;
                pages += 1;
                keys.extend(page.keys);
                cursor = page.cursor;
                if cursor.is_none() {
                    break;
                }
            }
            keys.sort();
            println!("{} keys in {pages} pages", keys.len());
            if let (Some(first), Some(last)) = (keys.first(), keys.last()) {
                println!("first {first}, last {last}");
            }
        }
        ["many", bucket, keys] => {
            let bucket = open(bucket)?;
            let keys: Vec<String> = keys.split(',').map(str::to_owned).collect();
            for (key, value) in keys.iter().zip(batch::get_many(&bucket, &keys)?) {
                show(value.map(|(_, value)| value), key);
            }
            batch::delete_many(&bucket, &keys)?;
        }
        ["big", bucket, key, size] => {
            open(bucket)?.set(key, &vec![b'x'; size.parse().expect("a size")])?;
        }
        other => panic!("no step {other:?}"),
    }
    Ok(())
}

fn main() {
    for arg in std::env::args().skip(1) {
        let parts: Vec<&str> = arg.split(':').collect();
        if let Err(error) = step(&parts) {
            println!("error: {error:?}");
        }
    }
}
