//! A TCP proxy on 127.0.0.1 in front of a test server: it counts the bytes each way, and can
//! be cut, which to the host looks like the server going away while the server (and what it
//! stored) stays there for the test to inspect.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

pub struct Proxy {
    /// `http://127.0.0.1:PORT`, to use in place of the server's endpoint.
    pub endpoint: String,
    shared: Arc<Shared>,
}

#[derive(Default)]
struct Shared {
    cut: AtomicBool,
    /// Bytes from the server to the client (what the host fetched).
    downloaded: AtomicU64,
    /// Bytes from the client to the server (what the host uploaded).
    uploaded: AtomicU64,
    connections: Mutex<Vec<TcpStream>>,
}

impl Proxy {
    /// Proxies a new port on 127.0.0.1 to `target` (`host:port`, on 127.0.0.1 too).
    pub fn start(target: &str) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("proxy cannot bind");
        let endpoint = format!("http://{}", listener.local_addr().unwrap());
        let shared = Arc::new(Shared::default());
        let target = target.to_owned();
        let accept_shared = shared.clone();
        thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(client) = client else { continue };
                if accept_shared.cut.load(Ordering::SeqCst) {
                    let _ = client.shutdown(Shutdown::Both);
                    continue;
                }
                let Ok(server) = TcpStream::connect(&target) else {
                    continue;
                };
                let shared = accept_shared.clone();
                {
                    let mut connections = shared.connections.lock().unwrap();
                    connections.push(client.try_clone().unwrap());
                    connections.push(server.try_clone().unwrap());
                }
                pipe(
                    client.try_clone().unwrap(),
                    server.try_clone().unwrap(),
                    shared.clone(),
                    false,
                );
                pipe(server, client, shared, true);
            }
        });
        Proxy { endpoint, shared }
    }

    /// Drops every connection and refuses new ones from now on.
    pub fn cut(&self) {
        self.shared.cut.store(true, Ordering::SeqCst);
        for connection in self.shared.connections.lock().unwrap().drain(..) {
            let _ = connection.shutdown(Shutdown::Both);
        }
    }

    /// Bytes sent by the server to clients so far (the benchmark reads these counters).
    #[allow(dead_code)]
    pub fn downloaded(&self) -> u64 {
        self.shared.downloaded.load(Ordering::SeqCst)
    }

    /// Bytes sent by clients to the server so far.
    #[allow(dead_code)]
    pub fn uploaded(&self) -> u64 {
        self.shared.uploaded.load(Ordering::SeqCst)
    }

    /// Sets both counters back to zero.
    #[allow(dead_code)]
    pub fn reset_counters(&self) {
        self.shared.downloaded.store(0, Ordering::SeqCst);
        self.shared.uploaded.store(0, Ordering::SeqCst);
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.cut();
    }
}

fn pipe(mut from: TcpStream, mut to: TcpStream, shared: Arc<Shared>, downstream: bool) {
    thread::spawn(move || {
        let _ = from.set_read_timeout(Some(Duration::from_secs(120)));
        let mut buffer = vec![0u8; 64 << 10];
        loop {
            let n = match from.read(&mut buffer) {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            if shared.cut.load(Ordering::SeqCst) || to.write_all(&buffer[..n]).is_err() {
                break;
            }
            let counter = if downstream {
                &shared.downloaded
            } else {
                &shared.uploaded
            };
            counter.fetch_add(n as u64, Ordering::SeqCst);
        }
        let _ = to.shutdown(Shutdown::Write);
    });
}
