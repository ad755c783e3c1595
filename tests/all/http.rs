//! `wasi:http/outgoing-handler` (and WASI 0.3's `wasi:http/client`) in the cli and cloud
//! worlds, against a server on 127.0.0.1 started by the test: a request goes out only to a
//! `host:port` of the `[network] allow` list, anything else is the typed
//! `HTTP-request-denied` (and never reaches the server), and a large response body streams
//! through the host in bounded memory.

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use crate::support::harness::{RunExt, TEST_GUESTS, Target, guest, host, run_measured, world_file};
use crate::support::http_server::{HELLO, HttpServer};

fn http_get() -> PathBuf {
    guest(TEST_GUESTS, "http-get", Target::P2)
}

/// The WASI 0.3 probe, whose `http URL` command does what `http-get URL` does.
fn p3_probe() -> PathBuf {
    guest(TEST_GUESTS, "p3_probe", Target::P2)
}

const WORLDS: [&str; 2] = ["cli", "cloud"];

/// A world file on `base` allowing `allow` (`host:port` pairs).
fn world(base: &str, allow: &[String]) -> (tempfile::TempDir, String) {
    let allow: Vec<String> = allow.iter().map(|a| format!("{a:?}")).collect();
    world_file(&format!(
        "base = \"{base}\"\n[network]\nallow = [{}]\n",
        allow.join(", ")
    ))
}

/// `host run --world WORLD http-get.wasm ARGS...`.
fn get(world: &str, args: &[&str]) -> Command {
    run_guest(world, &http_get(), args)
}

/// `host run --world WORLD GUEST ARGS...`.
fn run_guest(world: &str, guest: &PathBuf, args: &[&str]) -> Command {
    let mut command = host();
    command
        .env("WORLDHOST_LOG", "warn")
        .args(["run", "--world", world])
        .arg(guest)
        .args(args);
    command
}

#[test]
fn an_allowed_host_and_port_is_fetched_in_both_worlds() {
    let server = HttpServer::start();
    for base in WORLDS {
        let (_dir, world) = world(base, &[server.authority()]);
        let url = format!("http://{}/hello", server.authority());
        let ran = get(&world, &[&url, "print"]).ran();
        assert_eq!(
            ran.success(),
            format!("status 200\nbody {} bytes\n{HELLO}\n", HELLO.len()),
            "{base}"
        );
    }
    assert_eq!(server.requests(), 2);
}

#[test]
fn a_request_outside_the_allow_list_is_denied_and_never_sent() {
    let server = HttpServer::start();
    let other = HttpServer::start();
    let url = format!("http://{}/hello", server.authority());
    for base in WORLDS {
        // No allow-list at all; another port of the same address; the same address by a
        // name the list does not give (the list is matched as written, or by IP address).
        let cases = [
            (vec![], url.clone()),
            (vec![other.authority()], url.clone()),
            (
                vec![server.authority()],
                format!("http://localhost:{}/hello", server.port()),
            ),
        ];
        for (allow, url) in cases {
            let (_dir, world) = world(base, &allow);
            let ran = get(&world, &[&url]).ran();
            assert_eq!(ran.code, 1, "{base} {allow:?} {url}: {ran:#?}");
            assert_eq!(
                ran.stdout, "error: ErrorCode::HttpRequestDenied\n",
                "{base} {allow:?} {url}"
            );
            let logged = ran
                .stderr
                .lines()
                .filter(|l| l.contains("refused an HTTP request"));
            assert_eq!(logged.count(), 1, "{base}: logged once: {ran:#?}");
        }
    }
    assert_eq!(server.requests(), 0, "a refused request reached the server");
    assert_eq!(other.requests(), 0);
}

/// A WASI 0.3 guest sends through the same connector: allowed, it is answered; outside the
/// list, it gets the typed denial and nothing reaches the server.
#[test]
fn a_p3_guest_is_answered_when_allowed_and_denied_otherwise_in_both_worlds() {
    let server = HttpServer::start();
    let url = format!("http://{}/hello", server.authority());
    for base in WORLDS {
        let (_dir, world) = world(base, &[server.authority()]);
        let ran = run_guest(&world, &p3_probe(), &["http", &url]).ran();
        assert_eq!(
            ran.success(),
            format!("status 200\nbody {} bytes\n", HELLO.len()),
            "{base}"
        );
    }
    assert_eq!(server.requests(), 2);
    for base in WORLDS {
        let (_dir, world) = world(base, &[]);
        let ran = run_guest(&world, &p3_probe(), &["http", &url]).ran();
        assert_eq!(ran.code, 1, "{base}: {ran:#?}");
        assert_eq!(
            ran.stdout, "error: ErrorCode::HttpRequestDenied\n",
            "{base}"
        );
    }
    assert_eq!(server.requests(), 2, "a refused request reached the server");
}

/// A body far larger than the host's memory bound streams through it, to a WASI 0.2 and a 0.3
/// guest: each reads it in 64 KiB pieces, and the host holds one connection's buffer at a time.
#[test]
fn a_large_body_streams_in_bounded_host_memory_in_both_worlds() {
    const BODY: u64 = 1 << 30;
    const PEAK_MIB: u64 = 128;
    let server = HttpServer::start();
    let url = format!("http://{}/bytes/{BODY}", server.authority());
    // The WASI 0.2 guest, and the WASI 0.3 one (whose body comes through a p3 stream).
    let guests = [
        (http_get(), vec![&url[..]]),
        (p3_probe(), vec!["http", &url[..]]),
    ];
    for base in WORLDS {
        let (_dir, world) = world(base, &[server.authority()]);
        for (guest, args) in &guests {
            let name = guest.file_name().unwrap().to_string_lossy();
            let command = run_guest(&world, guest, args);
            let measured = run_measured(command, Duration::from_secs(120));
            eprintln!(
                "http: {BODY} bytes to {name} in {base}: {:.2} s, peak RSS {:.1} MiB",
                measured.wall.as_secs_f64(),
                measured.peak_rss_kib as f64 / 1024.0
            );
            assert_eq!(
                measured.ran.success(),
                format!("status 200\nbody {BODY} bytes\n"),
                "{name} in {base}"
            );
            assert!(
                measured.peak_rss_kib < PEAK_MIB << 10,
                "{name} in {base}: the host peaked at {} KiB",
                measured.peak_rss_kib
            );
        }
    }
}
