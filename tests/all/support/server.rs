//! A server process on 127.0.0.1 for a test: started on a free port, waited for, killed when
//! the test ends, panicking or not. `stores.rs` starts the object-store servers with it.

use std::collections::BTreeSet;
use std::fs::File;
use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use super::harness::{repo_root, wait_bounded};

/// How long a server may take to start (it takes about half a second) before the test fails.
pub const START_TIMEOUT: Duration = Duration::from_secs(30);
/// How many times a server is restarted on another port when the port it was given was taken
/// in between.
const PORT_ATTEMPTS: usize = 5;

/// Where `tests/run` installs the servers.
fn tools() -> PathBuf {
    repo_root().join("target/test-tools")
}

/// A tool from `target/test-tools`, or the panic that says how to install it.
#[track_caller]
pub fn tool(relative: &str, name: &str) -> PathBuf {
    let path = tools().join(relative);
    assert!(
        path.exists(),
        "{name} is not installed: run tests/run, which installs the test servers into target/test-tools"
    );
    path
}

/// A port on 127.0.0.1 that was free a moment ago and that no other server of this test process
/// was given: a server stopped by one test may not have its port reused by another, whose
/// server would then answer requests meant to fail.
fn free_port() -> u16 {
    static GIVEN: Mutex<BTreeSet<u16>> = Mutex::new(BTreeSet::new());
    let mut given = GIVEN.lock().unwrap_or_else(|e| e.into_inner());
    for _ in 0..100 {
        let listener =
            TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("cannot bind a port on 127.0.0.1");
        let port = listener.local_addr().unwrap().port();
        if given.insert(port) {
            return port;
        }
    }
    panic!("no fresh port on 127.0.0.1");
}

/// A lowercase name unique to this test process and call, valid as an S3 bucket and as an Azure
/// container (3-63 letters, digits and single hyphens).
pub fn unique_name() -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let micros = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .subsec_micros();
    format!("worldhost-{}-{n}-{micros}", std::process::id())
}

/// Whether `log` says the server listens on 127.0.0.1:`port` (each server prints its URL once
/// they are bound). This, rather than a successful connection alone, tells that the server
/// listening is ours: if another process took the port between `free_port` and the server's
/// bind, ours fails and exits, and is restarted on another port.
fn announces(log: &str, port: u16) -> bool {
    let url = format!("http://127.0.0.1:{port}");
    log.match_indices(&url).any(|(at, _)| {
        !log[at + url.len()..]
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_digit())
    })
}

/// A server process on 127.0.0.1, killed when stopped or dropped; its stdout and stderr go to
/// `server.log` in a temporary directory, which is also its working directory.
pub struct Server {
    name: &'static str,
    port: u16,
    child: Option<Child>,
    dir: tempfile::TempDir,
}

impl Server {
    /// Starts `program` with the arguments `args(port)` on a free port and waits until it
    /// listens, at most `START_TIMEOUT`. `configure` adds to the command (its environment).
    pub fn start(
        name: &'static str,
        program: &Path,
        args: impl Fn(u16) -> Vec<String>,
        configure: impl Fn(&mut Command),
    ) -> Server {
        let deadline = Instant::now() + START_TIMEOUT;
        for attempt in 1..=PORT_ATTEMPTS {
            let port = free_port();
            let dir = tempfile::Builder::new()
                .prefix(&format!("worldhost-{name}-"))
                .tempdir()
                .expect("cannot create a temporary directory");
            let log =
                File::create(dir.path().join("server.log")).expect("cannot create a log file");
            let mut command = Command::new(program);
            command
                .args(args(port))
                .current_dir(dir.path())
                .stdin(Stdio::null())
                .stdout(log.try_clone().expect("cannot share the log file"))
                .stderr(log);
            configure(&mut command);
            let child = command
                .spawn()
                .unwrap_or_else(|e| panic!("cannot start {name} ({}): {e}", program.display()));
            let mut server = Server {
                name,
                port,
                child: Some(child),
                dir,
            };
            loop {
                let log = server.log();
                let exited = server.child.as_mut().unwrap().try_wait().unwrap();
                if let Some(status) = exited {
                    // Python and Go spell it in two cases; Node gives the errno name.
                    let taken = log.to_ascii_lowercase().contains("address already in use")
                        || log.contains("EADDRINUSE");
                    if taken && attempt < PORT_ATTEMPTS {
                        break; // another process took the port: try another one
                    }
                    server.fail(&format!("exited with {status} while starting"));
                }
                if announces(&log, port)
                    && TcpStream::connect_timeout(&server.addr(), Duration::from_secs(1)).is_ok()
                {
                    return server;
                }
                if Instant::now() > deadline {
                    server.fail(&format!(
                        "did not listen on 127.0.0.1:{port} within {START_TIMEOUT:?}"
                    ));
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        unreachable!("the last attempt returns or panics")
    }

    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from((Ipv4Addr::LOCALHOST, self.port))
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The process id while the server runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// The server's working directory, which holds `server.log`; tests put other logs there.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// What the server printed so far.
    pub fn log(&self) -> String {
        let bytes = std::fs::read(self.dir.path().join("server.log")).unwrap_or_default();
        String::from_utf8_lossy(&bytes).into_owned()
    }

    /// Kills the server and panics with `why` and the server's output.
    #[track_caller]
    pub fn fail(&mut self, why: &str) -> ! {
        self.stop();
        panic!(
            "{} on 127.0.0.1:{} {why}; its output:\n{}",
            self.name,
            self.port,
            self.log()
        );
    }

    /// Kills the server and waits for it to be gone; does nothing the second time.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Runs `command` to the end, at most `timeout` (then kills it), with its output in `log`;
/// returns its exit status and output.
pub fn run_logged(mut command: Command, timeout: Duration, log: &Path) -> (ExitStatus, String) {
    let file = File::create(log).expect("cannot create a log file");
    let mut child = command
        .stdin(Stdio::null())
        .stdout(file.try_clone().expect("cannot share the log file"))
        .stderr(file)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {command:?}: {e}"));
    let Some(status) = wait_bounded(&mut child, timeout) else {
        panic!(
            "{command:?} did not finish within {timeout:?}; its output:\n{}",
            std::fs::read_to_string(log).unwrap_or_default()
        );
    };
    (status, std::fs::read_to_string(log).unwrap_or_default())
}

/// One plain HTTP/1.1 request with an empty body and the header lines `headers` (each ending in
/// CRLF) to 127.0.0.1:`port`, bounded in time; returns the status code and the whole response.
pub fn http(port: u16, method: &str, target: &str, headers: &str) -> Result<(u16, String), String> {
    http_with_body(port, method, target, headers, b"")
}

/// `http` with `body` sent as the request's body.
pub fn http_with_body(
    port: u16,
    method: &str,
    target: &str,
    headers: &str,
    body: &[u8],
) -> Result<(u16, String), String> {
    let timeout = Duration::from_secs(10);
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let mut stream = TcpStream::connect_timeout(&addr, timeout).map_err(|e| e.to_string())?;
    stream.set_read_timeout(Some(timeout)).unwrap();
    stream.set_write_timeout(Some(timeout)).unwrap();
    let request = format!(
        "{method} {target} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Length: {}\r\n\
         Connection: close\r\n{headers}\r\n",
        body.len()
    );
    stream
        .write_all(&[request.as_bytes(), body].concat())
        .map_err(|e| e.to_string())?;
    let mut response = Vec::new();
    stream
        .read_to_end(&mut response)
        .map_err(|e| e.to_string())?;
    let response = String::from_utf8_lossy(&response).into_owned();
    let status = response
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| format!("not an HTTP response: {response:?}"))?;
    Ok((status, response))
}

/// Removes from `command` every inherited variable whose name starts with one of `prefixes`.
pub fn remove_inherited(command: &mut Command, prefixes: &[&str]) {
    for (key, _) in std::env::vars_os() {
        if let Some(key) = key.to_str()
            && prefixes.iter().any(|prefix| key.starts_with(prefix))
        {
            command.env_remove(key);
        }
    }
}
