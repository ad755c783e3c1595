//! Integration tests: real guests, built for wasm, run through the real `host` binary.
//!
//! Guests are built once per test process (release, into `target/guests`), by cargo.

mod cli_world;
mod cloud_world;
mod examples;
mod harness;
mod jobs;
mod limits;
mod plugins;
mod plugins_sdk;
mod proxy;
mod python_plugin;
mod servers;
mod wit;
mod worlds;
