//! `hostile-cloud MODE [ARGS]`: the attacks on the host's own interfaces (`worldhost:host`), which
//! only the cloud world links; the WASI ones are `hostile`'s (`src/main.rs`).
//!
//! | mode | attack |
//! | --- | --- |
//! | `log-flood` | error log lines (`worldhost:host/logging`) forever |
//! | `blob-get KEY [MIB]` | blob `get` of KEY, and `get-range` of 2^64 − 1 bytes from its start (with MIB, first written as a file of MIB MiB) |
//!
//! Each step prints `STEP: ok N bytes` or `STEP: error CODE: MESSAGE`.

#[cfg(target_env = "p2")]
fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.iter().map(String::as_str).collect::<Vec<_>>()[..] {
        ["log-flood"] => loop {
            worldhost::error!("flooding the host's log", line = "y".repeat(1000));
        },
        ["blob-get", key, ref size @ ..] => {
            if let [mib] = size {
                let mib: usize = mib.parse().unwrap_or_else(|e| fail(&e));
                write_file(key, mib).unwrap_or_else(|e| fail(&e));
            }
            let show = |step: &str, got: Result<Vec<u8>, worldhost::blob::Error>| match got {
                Ok(bytes) => println!("{step}: ok {} bytes", bytes.len()),
                Err(e) => println!("{step}: error {}: {e}", e.code()),
            };
            show("get", worldhost::blob::get(key));
            show(
                "get-range 2^64-1",
                worldhost::blob::get_range(key, 0, u64::MAX),
            );
        }
        _ => {
            eprintln!("usage: hostile-cloud log-flood | hostile-cloud blob-get KEY [MIB]");
            std::process::exit(2)
        }
    }
}

/// A file of `mib` MiB at `path`, written 1 MiB at a time.
#[cfg(target_env = "p2")]
fn write_file(path: &str, mib: usize) -> std::io::Result<()> {
    use std::io::Write;
    let mut file = std::fs::File::create(path)?;
    let block = vec![b'b'; 1 << 20];
    for _ in 0..mib {
        file.write_all(&block)?;
    }
    Ok(())
}

#[cfg(target_env = "p2")]
fn fail(error: &dyn std::fmt::Display) -> ! {
    eprintln!("hostile-cloud: {error}");
    std::process::exit(2)
}

#[cfg(not(target_env = "p2"))]
fn main() {
    eprintln!(
        "hostile-cloud: built for wasm32-wasip2 only (the host's interfaces need a component)"
    );
    std::process::exit(2)
}
