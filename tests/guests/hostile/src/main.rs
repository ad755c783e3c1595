//! `hostile MODE [ARGS]`: one attack on the host per mode (issue 12), for `tests/all/hostile.rs`.
//! It imports nothing but WASI, so it runs in every world; the attacks through the host's own
//! interfaces (blob, logging) are `hostile-cloud`'s (`src/bin/hostile-cloud.rs`), which only the
//! cloud world can run.
//!
//! Filesystem attacks work in the first preopened directory (the one `--dir` or `--mount`
//! gives). Each step the guest gets an answer to prints one line, `STEP: ok ...` or
//! `STEP: error CODE` (the WIT error-code name), so a test can assert exactly what the host
//! answered; an attack the host must stop never gets to its last line. A usage error or an
//! answer the attack cannot go on from exits 2 with a line on stderr.
//!
//! Modes:
//!
//! | mode | attack |
//! | --- | --- |
//! | `dotdot N` | open `x/` × N then `../` × N (N = 16000: 80 KB; 50000: 250 KB) |
//! | `segment N` | create a file and a directory whose name is N bytes |
//! | `at-top STEP W [fill]` | on a file of W bytes, `set-size` to 2^64 − W, or a write or read near 2^64 (STEP: `set-size`, `write-end`, `write-over`, `read`); then, with `fill`, fill the store |
//! | `fill` | write 1 MiB blocks to a new file (64 MiB at most) |
//! | `objects N` | create N empty files, going on after refusals, then use one that was made |
//! | `handles N` | open one file N times, holding every handle |
//! | `write-streams N MIB` | N files, each with a write stream, MIB MiB pushed into each round-robin before any is flushed |
//! | `read-streams N MIB` | one file of MIB MiB read through N streams at once |
//! | `huge-read MIB` | a file of MIB MiB read with one `read` of length 2^64 − 1 |
//! | `greedy-streams N MIB` | N files, each with a write stream given one write of MIB MiB, past what `check-write` permits |
//! | `listings DIR K [drop]` | K listings (`read-directory`) of DIR held open at once (with `drop`, each read whole and dropped) |
//! | `readdir DIR [N]` | count DIR's entries through one `read-directory` (with N, first make DIR with N empty files) |
//! | `stdout-flood` | stdout lines forever |
//! | `symlink-escape` | `symlink-at` with targets leaving the preopen, and one that stays inside |
//! | `grow-memory` | allocate 1 MiB blocks forever |

#[cfg(target_env = "p2")]
mod attacks;

#[cfg(target_env = "p2")]
fn main() {
    attacks::main()
}

#[cfg(not(target_env = "p2"))]
fn main() {
    eprintln!("hostile: built for wasm32-wasip2 only (it calls wasi:filesystem 0.2 directly)");
    std::process::exit(2)
}
