//! A command written as a plugin author on Spin or wasmCloud writes one: bindings generated
//! from the upstream WIT (vendored in `wit/deps`), nothing of worldhost's. Each argument is a
//! step, run in order:
//!
//! - `get:VERSION:KEY` prints `KEY=VALUE` (or `KEY is not set`) read with `wasi:config/store.get`
//! - `all:VERSION` prints every pair from `get-all`, one `KEY=VALUE` a line
//! - `log:N` logs N lines with `wasi:logging` (level info, context `std-interfaces`)
//!
//! VERSION is `rc1` (`wasi:config@0.2.0-rc.1`, wasmCloud's) or `draft` (Spin's
//! `0.2.0-draft-2024-09-27`).

wit_bindgen::generate!({
    inline: "
        package test:std-interfaces;

        world app {
            import wasi:config/store@0.2.0-rc.1;
            import wasi:config/store@0.2.0-draft-2024-09-27;
            import wasi:logging/logging@0.1.0-draft;
        }
    ",
    path: [
        "../../../wit/deps/config.wit",
        "../../../wit/deps/config-draft-2024-09-27.wit",
        "../../../wit/deps/logging.wit",
    ],
    // Bindings for every interface the world names, as a plugin author's own crate has.
    generate_all,
});

use wasi::config0_2_0_draft_2024_09_27::store as draft;
use wasi::config0_2_0_rc_1::store as rc1;
use wasi::logging::logging::{Level, log};

fn main() {
    for step in std::env::args().skip(1) {
        let parts: Vec<&str> = step.split(':').collect();
        match parts.as_slice() {
            ["get", version, key] => {
                let value = match *version {
                    "rc1" => rc1::get(key).map_err(|e| format!("{e:?}")),
                    "draft" => draft::get(key).map_err(|e| format!("{e:?}")),
                    other => panic!("no config version {other}"),
                };
                match value.expect("wasi:config/store.get failed") {
                    Some(value) => println!("{key}={value}"),
                    None => println!("{key} is not set"),
                }
            }
            ["all", version] => {
                let pairs = match *version {
                    "rc1" => rc1::get_all().map_err(|e| format!("{e:?}")),
                    "draft" => draft::get_all().map_err(|e| format!("{e:?}")),
                    other => panic!("no config version {other}"),
                };
                for (key, value) in pairs.expect("wasi:config/store.get-all failed") {
                    println!("{key}={value}");
                }
            }
            ["log", count] => {
                let count: u64 = count.parse().expect("log:N takes a number");
                for i in 0..count {
                    log(
                        Level::Info,
                        "std-interfaces",
                        &format!("hello from wasi:logging {i}"),
                    );
                }
                println!("logged {count}");
            }
            _ => panic!("unknown step {step:?}"),
        }
    }
}
