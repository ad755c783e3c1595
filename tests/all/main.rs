//! Integration tests: real guests, built for wasm, run through the real `host` binary.
//!
//! Guests are built once per test process (release, into `target/guests`), by cargo. What the
//! tests share and is not a test lives in `support/`.

mod support;

mod blobstore;
mod cli_world;
mod cloud_world;
mod compile_cache;
mod examples;
mod hostile;
mod http;
mod jobs;
mod keyvalue;
mod large_objects;
mod limits;
mod links;
mod p1;
mod p3;
mod plugins;
mod plugins_sdk;
mod posix_guests;
mod python_plugin;
mod servers;
mod shards;
mod standard_interfaces;
mod wit;
mod worlds;
