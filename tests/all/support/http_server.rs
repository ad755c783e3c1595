//! A tiny HTTP/1.1 server on 127.0.0.1 for the `wasi:http` tests, in the test process: a
//! thread accepting connections, one thread each, one request a connection. It serves
//! `/hello` (a short text) and `/bytes/N` (N bytes, written 64 KiB at a time, so a large body
//! really streams), and counts the requests that reached it, so a test can tell a refused
//! request never left the host. Stopped when dropped.

use std::io::{Read, Write};
use std::net::{Ipv4Addr, Shutdown, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread;
use std::time::Duration;

/// What `/hello` answers.
pub const HELLO: &str = "hello over wasi:http\n";

pub struct HttpServer {
    port: u16,
    shared: Arc<Shared>,
}

#[derive(Default)]
struct Shared {
    requests: AtomicUsize,
    stopped: AtomicBool,
}

impl HttpServer {
    /// Listens on a free port of 127.0.0.1, serving at once.
    pub fn start() -> HttpServer {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("cannot bind 127.0.0.1");
        let port = listener.local_addr().unwrap().port();
        let shared = Arc::new(Shared::default());
        let accepting = shared.clone();
        thread::spawn(move || {
            for stream in listener.incoming() {
                if accepting.stopped.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(stream) = stream else { continue };
                let shared = accepting.clone();
                thread::spawn(move || serve(stream, &shared));
            }
        });
        HttpServer { port, shared }
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// `127.0.0.1:PORT`, as an allow-list names it.
    pub fn authority(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Requests whose head reached the server.
    pub fn requests(&self) -> usize {
        self.shared.requests.load(Ordering::SeqCst)
    }
}

impl Drop for HttpServer {
    fn drop(&mut self) {
        self.shared.stopped.store(true, Ordering::SeqCst);
        // Wakes the accepting thread, which then sees it is stopped.
        let _ = TcpStream::connect((Ipv4Addr::LOCALHOST, self.port));
    }
}

/// Reads one request head (at most 16 KiB) and answers it; write errors (a client that went
/// away) end the connection quietly.
fn serve(mut stream: TcpStream, shared: &Shared) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(30)));
    let mut head = Vec::new();
    let mut buf = [0; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) if head.len() + n > 16 << 10 => return,
            Ok(n) => head.extend_from_slice(&buf[..n]),
        }
    }
    shared.requests.fetch_add(1, Ordering::SeqCst);
    let head = String::from_utf8_lossy(&head);
    let path = head.split(' ').nth(1).unwrap_or("/");
    let _ = match (path, path.strip_prefix("/bytes/").map(str::parse::<u64>)) {
        ("/hello", _) => respond(&mut stream, "200 OK", HELLO.len() as u64, |s| {
            s.write_all(HELLO.as_bytes())
        }),
        (_, Some(Ok(length))) => respond(&mut stream, "200 OK", length, |s| {
            let chunk = vec![b'x'; 64 << 10];
            let mut left = length;
            while left > 0 {
                let n = left.min(chunk.len() as u64) as usize;
                s.write_all(&chunk[..n])?;
                left -= n as u64;
            }
            Ok(())
        }),
        _ => respond(&mut stream, "404 Not Found", 0, |_| Ok(())),
    };
    let _ = stream.shutdown(Shutdown::Both);
}

fn respond(
    stream: &mut TcpStream,
    status: &str,
    length: u64,
    body: impl FnOnce(&mut TcpStream) -> std::io::Result<()>,
) -> std::io::Result<()> {
    write!(
        stream,
        "HTTP/1.1 {status}\r\ncontent-length: {length}\r\ncontent-type: text/plain\r\nconnection: close\r\n\r\n"
    )?;
    body(stream)
}
