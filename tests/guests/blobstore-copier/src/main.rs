//! A command written as a wasmCloud component author writes one: bindings generated from the
//! upstream `wasi:blobstore@0.2.0-draft` WIT (vendored in `wit/deps`), nothing of worldhost's.
//! Each argument is a step, run in order; a failed step prints `STEP failed: ERROR` and the
//! command goes on:
//!
//! - `copy:FROM:TO` copies every object of container FROM to container TO, each streamed
//!   (`incoming-value-consume-async` into `write-data`'s body, 64 KiB at a time), and prints
//!   `copied NAME (SIZE bytes)` per object in listing order
//! - `list:C` prints `NAME SIZE` for every object of C, sorted, read in pages of 2 names
//! - `delete:C:NAME` deletes one object
//! - `put:C:NAME:TEXT` writes TEXT, the body written before `write-data` (as small values often are)
//! - `cat:C:NAME` prints the object with `incoming-value-consume-sync`
//! - `range:C:NAME:START:END` prints bytes START to END (inclusive)
//! - `exists:C` prints whether container C exists; `create:C` and `drop:C` try to create and
//!   delete it
//! - `move:C:NAME:D:NAME2` moves an object
//! - `listings:C:N` opens N listings of C at once and prints `opened K`, then the error that
//!   stopped it, if any
//! - `stage:N:SIZE` writes SIZE bytes to each of N values before `write-data` (all held at
//!   once) and prints `staged K`, then the error that stopped it, if any

wit_bindgen::generate!({
    inline: "
        package test:blobstore-copier;

        world app {
            import wasi:blobstore/blobstore@0.2.0-draft;
        }
    ",
    path: ["../../../wit/deps/io.wit", "../../../wit/deps/blobstore.wit"],
    generate_all,
});

use wasi::blobstore::blobstore;
use wasi::blobstore::container::Container;
use wasi::blobstore::types::{IncomingValue, ObjectId, OutgoingValue};
use wasi::io::streams::StreamError;

const CHUNK: u64 = 64 << 10;

fn main() {
    for step in std::env::args().skip(1) {
        let parts: Vec<&str> = step.split(':').collect();
        if let Err(error) = run(&parts) {
            println!("{step} failed: {error}");
        }
    }
}

fn run(parts: &[&str]) -> Result<(), String> {
    match parts {
        ["copy", from, to] => {
            let (from, to) = (
                blobstore::get_container(from)?,
                blobstore::get_container(to)?,
            );
            for name in names(&from)? {
                let size = copy(&from, &to, &name)?;
                println!("copied {name} ({size} bytes)");
            }
        }
        ["listings", container, count] => {
            let container = blobstore::get_container(container)?;
            let mut open = Vec::new();
            for _ in 0..count.parse::<usize>().map_err(|e| e.to_string())? {
                match container.list_objects() {
                    Ok(listing) => open.push(listing),
                    Err(error) => {
                        println!("opened {}", open.len());
                        return Err(error);
                    }
                }
            }
            println!("opened {}", open.len());
        }
        ["stage", count, size] => {
            let size: usize = size
                .parse()
                .map_err(|e: std::num::ParseIntError| e.to_string())?;
            let chunk = vec![b's'; 4096]; // the most one blocking-write-and-flush takes
            let mut held = Vec::new();
            for _ in 0..count.parse::<usize>().map_err(|e| e.to_string())? {
                let value = OutgoingValue::new_outgoing_value();
                let body = value.outgoing_value_write_body().map_err(|()| "no body")?;
                let mut left = size;
                while left > 0 {
                    let n = left.min(chunk.len());
                    if let Err(error) = body.blocking_write_and_flush(&chunk[..n]) {
                        println!("staged {}", held.len());
                        return Err(stream(error));
                    }
                    left -= n;
                }
                held.push((value, body));
            }
            println!("staged {}", held.len());
        }
        ["list", container] => {
            let container = blobstore::get_container(container)?;
            let mut names = names(&container)?;
            names.sort();
            for name in names {
                println!("{name} {}", container.object_info(&name)?.size);
            }
        }
        ["delete", container, name] => blobstore::get_container(container)?.delete_object(name)?,
        ["put", container, name, text] => {
            let container = blobstore::get_container(container)?;
            let value = OutgoingValue::new_outgoing_value();
            let body = value.outgoing_value_write_body().map_err(|()| "no body")?;
            body.blocking_write_and_flush(text.as_bytes())
                .map_err(stream)?;
            container.write_data(name, &value)?;
            drop(body);
            OutgoingValue::finish(value)?;
        }
        ["cat", container, name] => {
            let container = blobstore::get_container(container)?;
            let value = container.get_data(name, 0, u64::MAX)?;
            let data = IncomingValue::incoming_value_consume_sync(value)?;
            println!("{}", String::from_utf8_lossy(&data));
        }
        ["range", container, name, start, end] => {
            let container = blobstore::get_container(container)?;
            let (start, end) = (start.parse().unwrap(), end.parse().unwrap());
            let value = container.get_data(name, start, end)?;
            let data = IncomingValue::incoming_value_consume_sync(value)?;
            println!("{}", String::from_utf8_lossy(&data));
        }
        ["exists", container] => println!("{}", blobstore::container_exists(container)?),
        ["create", container] => drop(blobstore::create_container(container)?),
        ["drop", container] => blobstore::delete_container(container)?,
        ["move", c, name, d, name2] => {
            let id = |container: &str, object: &str| ObjectId {
                container: container.to_owned(),
                object: object.to_owned(),
            };
            blobstore::move_object(&id(c, name), &id(d, name2))?;
        }
        _ => return Err("unknown step".to_owned()),
    }
    Ok(())
}

/// Every object name, read a page of 2 at a time (so a listing takes several calls).
fn names(container: &Container) -> Result<Vec<String>, String> {
    let stream = container.list_objects()?;
    let mut all = Vec::new();
    loop {
        let (names, ended) = stream.read_stream_object_names(2)?;
        all.extend(names);
        if ended {
            return Ok(all);
        }
    }
}

/// Streams one object from `from` to `to`, never holding more than a chunk.
fn copy(from: &Container, to: &Container, name: &str) -> Result<u64, String> {
    let incoming = from.get_data(name, 0, u64::MAX)?;
    let size = incoming.size();
    let input = IncomingValue::incoming_value_consume_async(incoming)?;
    let outgoing = OutgoingValue::new_outgoing_value();
    let output = outgoing
        .outgoing_value_write_body()
        .map_err(|()| "no body")?;
    to.write_data(name, &outgoing)?;
    let mut copied = 0;
    loop {
        let chunk = match input.blocking_read(CHUNK) {
            Ok(chunk) => chunk,
            Err(StreamError::Closed) => break,
            Err(error) => return Err(stream(error)),
        };
        let mut rest = &chunk[..];
        while !rest.is_empty() {
            let room = output.check_write().map_err(stream)?;
            if room == 0 {
                output.subscribe().block();
                continue;
            }
            let (now, later) = rest.split_at(rest.len().min(room as usize));
            output.write(now).map_err(stream)?;
            rest = later;
        }
        copied += chunk.len() as u64;
    }
    output.flush().map_err(stream)?;
    drop(output);
    OutgoingValue::finish(outgoing)?;
    if copied != size {
        return Err(format!("{name}: copied {copied} of {size} bytes"));
    }
    Ok(copied)
}

fn stream(error: StreamError) -> String {
    match error {
        StreamError::LastOperationFailed(error) => error.to_debug_string(),
        StreamError::Closed => "closed".to_owned(),
    }
}
