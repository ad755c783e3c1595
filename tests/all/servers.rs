//! Real object-store servers on 127.0.0.1, for testing the cloud world's backends:
//! `moto_server` for S3 and Azurite for Azure Blob. `tests/run` installs both into
//! `target/test-tools`; every test starts its own server (about half a second each) with a fresh
//! bucket or container, and the server dies with the test, panicking or not.
//!
//! `env()` gives the variables that make object_store's `from_env()` builders reach the server;
//! pass them to a `host` command with `set_env`, which also drops whatever the developer's own
//! environment says about the same backend.

use std::collections::BTreeSet;
use std::fs::File;
use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use futures::TryStreamExt;
use object_store::aws::{AmazonS3Builder, AmazonS3ConfigKey};
use object_store::azure::{AzureConfigKey, MicrosoftAzureBuilder};
use object_store::path::Path as ObjectPath;
use object_store::{
    BackoffConfig, ClientOptions, ObjectStore, ObjectStoreExt, PutMode, PutOptions, PutPayload,
    RetryConfig,
};

use crate::harness::repo_root;

/// How long a server may take to start (it takes about half a second) before the test fails.
const START_TIMEOUT: Duration = Duration::from_secs(30);
/// How many times a server is restarted on another port when the port it was given was taken
/// in between.
const PORT_ATTEMPTS: usize = 5;

/// Where `tests/run` installs the servers.
fn tools() -> PathBuf {
    repo_root().join("target/test-tools")
}

/// A tool from `target/test-tools`, or the panic that says how to install it.
#[track_caller]
fn tool(relative: &str, name: &str) -> PathBuf {
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
fn unique_name() -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let micros = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .subsec_micros();
    format!("worldhost-{}-{n}-{micros}", std::process::id())
}

/// Whether `log` says the server listens on 127.0.0.1:`port` (both servers print their URL once
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
struct Server {
    name: &'static str,
    port: u16,
    child: Option<Child>,
    dir: tempfile::TempDir,
}

impl Server {
    /// Starts `program` with the arguments `args(port)` on a free port and waits until it
    /// listens, at most `START_TIMEOUT`. `configure` adds to the command (its environment).
    fn start(
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
                    let taken =
                        log.contains("Address already in use") || log.contains("EADDRINUSE");
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

    fn addr(&self) -> SocketAddr {
        SocketAddr::from((Ipv4Addr::LOCALHOST, self.port))
    }

    /// What the server printed so far.
    fn log(&self) -> String {
        let bytes = std::fs::read(self.dir.path().join("server.log")).unwrap_or_default();
        String::from_utf8_lossy(&bytes).into_owned()
    }

    /// Kills the server and panics with `why` and the server's output.
    #[track_caller]
    fn fail(&mut self, why: &str) -> ! {
        self.stop();
        panic!(
            "{} on 127.0.0.1:{} {why}; its output:\n{}",
            self.name,
            self.port,
            self.log()
        );
    }

    /// Kills the server and waits for it to be gone; does nothing the second time.
    fn stop(&mut self) {
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
fn run_logged(mut command: Command, timeout: Duration, log: &Path) -> (ExitStatus, String) {
    let file = File::create(log).expect("cannot create a log file");
    let mut child = command
        .stdin(Stdio::null())
        .stdout(file.try_clone().expect("cannot share the log file"))
        .stderr(file)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {command:?}: {e}"));
    let Some(status) = crate::harness::wait_bounded(&mut child, timeout) else {
        panic!(
            "{command:?} did not finish within {timeout:?}; its output:\n{}",
            std::fs::read_to_string(log).unwrap_or_default()
        );
    };
    (status, std::fs::read_to_string(log).unwrap_or_default())
}

/// One plain HTTP/1.1 request with an empty body and the header lines `headers` (each ending in
/// CRLF) to 127.0.0.1:`port`, bounded in time; returns the status code and the whole response.
fn http(port: u16, method: &str, target: &str, headers: &str) -> Result<(u16, String), String> {
    let timeout = Duration::from_secs(10);
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let mut stream = TcpStream::connect_timeout(&addr, timeout).map_err(|e| e.to_string())?;
    stream.set_read_timeout(Some(timeout)).unwrap();
    stream.set_write_timeout(Some(timeout)).unwrap();
    let request = format!(
        "{method} {target} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Length: 0\r\n\
         Connection: close\r\n{headers}\r\n"
    );
    stream
        .write_all(request.as_bytes())
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
fn remove_inherited(command: &mut Command, prefixes: &[&str]) {
    for (key, _) in std::env::vars_os() {
        if let Some(key) = key.to_str()
            && prefixes.iter().any(|prefix| key.starts_with(prefix))
        {
            command.env_remove(key);
        }
    }
}

/// moto_server, an S3 look-alike, on 127.0.0.1 with a fresh bucket.
pub struct S3Server {
    /// `http://127.0.0.1:PORT`
    pub endpoint: String,
    pub bucket: String,
    server: Server,
}

impl S3Server {
    /// The variables that moto's clients may not inherit: their own S3 settings would override
    /// `env()`'s or add to them.
    const PREFIXES: &[&str] = &["AWS_"];

    /// Starts moto_server from `target/test-tools/venv` and creates a bucket.
    pub fn start() -> S3Server {
        let started = Instant::now();
        let program = tool("venv/bin/moto_server", "moto_server");
        let mut server = Server::start(
            "moto_server",
            &program,
            |port| {
                ["-H", "127.0.0.1", "-p", &port.to_string()]
                    .map(String::from)
                    .into()
            },
            |command| {
                remove_inherited(command, &["AWS_", "MOTO_"]);
                command.env("PYTHONUNBUFFERED", "1");
            },
        );
        let bucket = unique_name();
        // moto takes requests without a signature; an unsigned PUT creates a bucket, in
        // us-east-1, where no location constraint is needed.
        match http(server.port, "PUT", &format!("/{bucket}"), "") {
            Ok((200, _)) => {}
            Ok((_, response)) => {
                server.fail(&format!("refused to create bucket {bucket}: {response}"))
            }
            Err(e) => server.fail(&format!("failed to create bucket {bucket}: {e}")),
        }
        let endpoint = format!("http://127.0.0.1:{}", server.port);
        eprintln!(
            "moto_server on {endpoint} with bucket {bucket}, up in {:?}",
            started.elapsed()
        );
        S3Server {
            endpoint,
            bucket,
            server,
        }
    }

    /// What `AmazonS3Builder::from_env()` needs to reach this server (object_store 0.14 reads
    /// every `AWS_*` variable whose lowercased name is a config key).
    pub fn env(&self) -> Vec<(String, String)> {
        [
            // The `aws_endpoint` key. A custom endpoint gets path-style requests
            // (`ENDPOINT/BUCKET/KEY`) unless virtual-hosted style is asked for; said explicitly,
            // since moto on an IP address only understands path style.
            ("AWS_ENDPOINT", self.endpoint.as_str()),
            ("AWS_VIRTUAL_HOSTED_STYLE_REQUEST", "false"),
            ("AWS_ALLOW_HTTP", "true"),
            // Any credentials do, but some must be given, or object_store asks the EC2 instance
            // metadata endpoint for them.
            ("AWS_ACCESS_KEY_ID", "worldhost-test"),
            ("AWS_SECRET_ACCESS_KEY", "worldhost-test"),
            ("AWS_REGION", "us-east-1"),
        ]
        .map(|(key, value)| (key.to_owned(), value.to_owned()))
        .into()
    }

    /// Gives `command` exactly `env()` for S3: inherited `AWS_*` variables are removed.
    pub fn set_env<'a>(&self, command: &'a mut Command) -> &'a mut Command {
        remove_inherited(command, Self::PREFIXES);
        command.envs(self.env())
    }

    /// `s3://BUCKET/PREFIX`
    pub fn url(&self, prefix: &str) -> String {
        format!("s3://{}/{}", self.bucket, prefix.trim_start_matches('/'))
    }

    /// Kills the server (tests of a backend going away); dropping it does too.
    pub fn stop(&mut self) {
        self.server.stop();
    }
}

/// The account every Azurite has (the Azure storage emulator's well-known account and key).
const AZURITE_ACCOUNT: &str = "devstoreaccount1";
const AZURITE_KEY: &str =
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

/// Creates a container with the Azure SDK in the venv: Azurite only takes signed requests.
const CREATE_CONTAINER: &str = r#"
import sys
from azure.storage.blob import BlobServiceClient
endpoint, account, key, container = sys.argv[1:]
client = BlobServiceClient(
    endpoint,
    credential={"account_name": account, "account_key": key},
    retry_total=0,
    connection_timeout=5,
    read_timeout=10,
)
client.create_container(container)
"#;

/// Azurite's blob service, an Azure Blob Storage look-alike, on 127.0.0.1 with a fresh
/// container.
pub struct AzureServer {
    /// The account's URL, `http://127.0.0.1:PORT/devstoreaccount1`: Azurite on an IP address
    /// takes the account name from the first path segment.
    pub endpoint: String,
    pub container: String,
    server: Server,
}

impl AzureServer {
    const PREFIXES: &[&str] = &["AZURE_", "AZURITE_"];

    /// Starts Azurite's blob service from `target/test-tools/node_modules`, in memory, and
    /// creates a container.
    pub fn start() -> AzureServer {
        let started = Instant::now();
        let program = tool("node_modules/.bin/azurite-blob", "azurite-blob");
        let python = tool(
            "venv/bin/python",
            "The Azure SDK (in target/test-tools/venv)",
        );
        let mut server = Server::start(
            "azurite-blob",
            &program,
            |port| {
                [
                    "--blobHost",
                    "127.0.0.1",
                    "--blobPort",
                    &port.to_string(),
                    // Nothing on disk (Azurite refuses --location with this; its working
                    // directory is a temporary one anyway).
                    "--inMemoryPersistence",
                    // No access log on stdout.
                    "--silent",
                    // Whatever API version object_store and the SDK speak.
                    "--skipApiVersionCheck",
                    // Otherwise Azurite sends usage data out to Microsoft.
                    "--disableTelemetry",
                ]
                .map(String::from)
                .into()
            },
            // AZURITE_ACCOUNTS and friends would change the accounts and their keys.
            |command| remove_inherited(command, &["AZURITE_"]),
        );
        let endpoint = format!("http://127.0.0.1:{}/{AZURITE_ACCOUNT}", server.port);
        let container = unique_name();
        let mut create = Command::new(python);
        create
            .args(["-c", CREATE_CONTAINER])
            .args([&endpoint, AZURITE_ACCOUNT, AZURITE_KEY, &container])
            .env("NO_PROXY", "127.0.0.1")
            .env("no_proxy", "127.0.0.1");
        let log = server.dir.path().join("create-container.log");
        let (status, output) = run_logged(create, START_TIMEOUT, &log);
        if !status.success() {
            server.fail(&format!(
                "did not create container {container} ({status}):\n{output}\nAzurite's output"
            ));
        }
        eprintln!(
            "azurite-blob on {endpoint} with container {container}, up in {:?}",
            started.elapsed()
        );
        AzureServer {
            endpoint,
            container,
            server,
        }
    }

    /// What `MicrosoftAzureBuilder::from_env()` needs to reach this server (object_store 0.14
    /// reads every `AZURE_*` variable whose lowercased name is a config key).
    ///
    /// Not the emulator mode (`AZURE_STORAGE_USE_EMULATOR=true`): that ignores
    /// `AZURE_STORAGE_ENDPOINT` and reads the URL from `AZURITE_BLOB_STORAGE_URL` itself, with
    /// `std::env::var`, so no config key can give it. A plain account with an endpoint is
    /// what a real custom endpoint looks like, and signs requests exactly as the emulator mode
    /// does.
    pub fn env(&self) -> Vec<(String, String)> {
        [
            ("AZURE_STORAGE_ACCOUNT_NAME", AZURITE_ACCOUNT),
            ("AZURE_STORAGE_ACCOUNT_KEY", AZURITE_KEY),
            ("AZURE_STORAGE_ENDPOINT", self.endpoint.as_str()),
            ("AZURE_ALLOW_HTTP", "true"),
            // Said explicitly: true would make object_store ignore the endpoint above.
            ("AZURE_STORAGE_USE_EMULATOR", "false"),
        ]
        .map(|(key, value)| (key.to_owned(), value.to_owned()))
        .into()
    }

    /// Gives `command` exactly `env()` for Azure: inherited `AZURE_*` and `AZURITE_*`
    /// variables are removed.
    pub fn set_env<'a>(&self, command: &'a mut Command) -> &'a mut Command {
        remove_inherited(command, Self::PREFIXES);
        command.envs(self.env())
    }

    /// `az://CONTAINER/PREFIX`
    pub fn url(&self, prefix: &str) -> String {
        format!("az://{}/{}", self.container, prefix.trim_start_matches('/'))
    }

    /// Kills the server (tests of a backend going away); dropping it does too.
    pub fn stop(&mut self) {
        self.server.stop();
    }
}

// The servers, through object_store configured the way the host configures it.

/// A retry policy that gives up within seconds, for servers that are gone.
fn impatient() -> (RetryConfig, ClientOptions) {
    let retry = RetryConfig {
        backoff: BackoffConfig {
            init_backoff: Duration::from_millis(50),
            max_backoff: Duration::from_millis(200),
            base: 2.0,
        },
        max_retries: 2,
        retry_timeout: Duration::from_secs(3),
    };
    let options = ClientOptions::new()
        .with_connect_timeout(Duration::from_secs(1))
        .with_timeout(Duration::from_secs(3));
    (retry, options)
}

/// An S3 store built as `AmazonS3Builder::from_env().with_url(url)` would be with `env`.
pub fn s3_store(server: &S3Server, impatient_retry: bool) -> Box<dyn ObjectStore> {
    let mut builder = AmazonS3Builder::new();
    if impatient_retry {
        let (retry, options) = impatient();
        builder = builder.with_retry(retry).with_client_options(options);
    }
    for (key, value) in server.env() {
        // What from_env does with each variable.
        let key: AmazonS3ConfigKey = key.to_ascii_lowercase().parse().unwrap();
        builder = builder.with_config(key, value);
    }
    Box::new(builder.with_url(server.url("")).build().unwrap())
}

/// An Azure store built as `MicrosoftAzureBuilder::from_env().with_url(url)` would be with
/// `env`.
pub fn azure_store(server: &AzureServer, impatient_retry: bool) -> Box<dyn ObjectStore> {
    let mut builder = MicrosoftAzureBuilder::new();
    if impatient_retry {
        let (retry, options) = impatient();
        builder = builder.with_retry(retry).with_client_options(options);
    }
    for (key, value) in server.env() {
        let key: AzureConfigKey = key.to_ascii_lowercase().parse().unwrap();
        builder = builder.with_config(key, value);
    }
    Box::new(builder.with_url(server.url("")).build().unwrap())
}

pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// Puts, gets, lists, conditionally creates and deletes objects in `store`.
async fn round_trip(store: &dyn ObjectStore) {
    let path = ObjectPath::from("dir/hello.txt");
    let big = ObjectPath::from("dir/sub/big.bin");
    let big_bytes: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();

    store
        .put(&path, PutPayload::from_static(b"hello, world"))
        .await
        .unwrap();
    store
        .put(&big, PutPayload::from(big_bytes.clone()))
        .await
        .unwrap();

    let got = store.get(&path).await.unwrap().bytes().await.unwrap();
    assert_eq!(&got[..], b"hello, world");
    let got = store.get(&big).await.unwrap().bytes().await.unwrap();
    assert!(got[..] == big_bytes[..], "big object differs");
    let range = store.get_range(&big, 1000..1010).await.unwrap();
    assert_eq!(&range[..], &big_bytes[1000..1010]);

    let mut listed: Vec<_> = store
        .list(Some(&ObjectPath::from("dir")))
        .map_ok(|meta| (meta.location.to_string(), meta.size))
        .try_collect()
        .await
        .unwrap();
    listed.sort();
    assert_eq!(
        listed,
        [
            ("dir/hello.txt".to_owned(), 12),
            ("dir/sub/big.bin".to_owned(), big_bytes.len() as u64)
        ]
    );
    let shallow = store
        .list_with_delimiter(Some(&ObjectPath::from("dir")))
        .await
        .unwrap();
    assert_eq!(shallow.common_prefixes, [ObjectPath::from("dir/sub")]);
    assert_eq!(shallow.objects.len(), 1);
    assert_eq!(shallow.objects[0].location, path);

    // Create-if-absent, which the host relies on to not overwrite.
    let create = || PutOptions {
        mode: PutMode::Create,
        ..Default::default()
    };
    let fresh = ObjectPath::from("dir/created-once");
    store
        .put_opts(&fresh, PutPayload::from_static(b"1"), create())
        .await
        .unwrap();
    let again = store
        .put_opts(&fresh, PutPayload::from_static(b"2"), create())
        .await;
    assert!(
        matches!(again, Err(object_store::Error::AlreadyExists { .. })),
        "second create: {again:?}"
    );

    store.delete(&path).await.unwrap();
    let gone = store.get(&path).await;
    assert!(
        matches!(gone, Err(object_store::Error::NotFound { .. })),
        "deleted object: {gone:?}"
    );
}

/// After the server is stopped, a request fails, within seconds.
async fn fails_when_stopped(store: &dyn ObjectStore, stop: impl FnOnce()) {
    let path = ObjectPath::from("before-stop");
    store
        .put(&path, PutPayload::from_static(b"x"))
        .await
        .unwrap();
    stop();
    let started = Instant::now();
    let result = tokio::time::timeout(Duration::from_secs(30), store.get(&path))
        .await
        .expect("a request to a stopped server still had no answer after 30 s");
    let elapsed = started.elapsed();
    eprintln!("a request to the stopped server failed in {elapsed:?}: {result:?}");
    assert!(result.is_err(), "a stopped server answered");
    assert!(
        elapsed < Duration::from_secs(10),
        "failing took {elapsed:?}: {:?}",
        result.err()
    );
}

#[test]
fn s3_server_serves_object_store() {
    let server = S3Server::start();
    assert!(
        server
            .url("a/b")
            .ends_with(&format!("{}/a/b", server.bucket))
    );
    let store = s3_store(&server, false);
    runtime().block_on(round_trip(&*store));
    // The objects are in the bucket created, as moto itself tells. moto does not check
    // signatures, but refuses anonymous reads of private objects: any credential does.
    let (status, response) = http(
        server.server.port,
        "GET",
        &format!("/{}/dir/sub/big.bin", server.bucket),
        "Authorization: AWS4-HMAC-SHA256 Credential=worldhost-test/20260101/us-east-1/s3/\
         aws4_request, SignedHeaders=host, Signature=0\r\n",
    )
    .unwrap();
    assert_eq!(status, 200, "{response:.500}");
    assert!(
        response.contains("Content-Length: 3000000"),
        "{response:.500}"
    );

    // set_env gives a command env() and no other AWS_ variable.
    let mut command = Command::new("env");
    server.set_env(&mut command);
    let output = String::from_utf8(command.output().unwrap().stdout).unwrap();
    let aws: Vec<&str> = output.lines().filter(|l| l.starts_with("AWS_")).collect();
    assert_eq!(aws.len(), server.env().len(), "{aws:?}");
    assert!(output.contains(&format!("AWS_ENDPOINT={}\n", server.endpoint)));
}

#[test]
fn azure_server_serves_object_store() {
    let server = AzureServer::start();
    assert!(
        server
            .url("a/b")
            .ends_with(&format!("{}/a/b", server.container))
    );
    let store = azure_store(&server, false);
    runtime().block_on(round_trip(&*store));

    let mut command = Command::new("env");
    server.set_env(&mut command);
    let output = String::from_utf8(command.output().unwrap().stdout).unwrap();
    let azure: Vec<&str> = output.lines().filter(|l| l.starts_with("AZURE")).collect();
    assert_eq!(azure.len(), server.env().len(), "{azure:?}");
}

#[test]
fn s3_requests_fail_once_the_server_is_stopped() {
    let mut server = S3Server::start();
    let store = s3_store(&server, true);
    runtime().block_on(fails_when_stopped(&*store, || server.stop()));
    server.stop(); // twice is fine
}

#[test]
fn azure_requests_fail_once_the_server_is_stopped() {
    let mut server = AzureServer::start();
    let store = azure_store(&server, true);
    runtime().block_on(fails_when_stopped(&*store, || server.stop()));
}

#[test]
fn servers_die_with_a_panicking_test() {
    let ports = std::thread::spawn(|| {
        let s3 = S3Server::start();
        let azure = AzureServer::start();
        let ports = [s3.server.port, azure.server.port];
        let pids = [
            s3.server.child.as_ref().unwrap().id(),
            azure.server.child.as_ref().unwrap().id(),
        ];
        // Unwinding drops the servers, as when a test's assertion fails.
        std::panic::panic_any((ports, pids));
    })
    .join()
    .expect_err("the thread panicked");
    let ([s3_port, azure_port], pids) = *ports.downcast::<([u16; 2], [u32; 2])>().unwrap();
    for port in [s3_port, azure_port] {
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
        assert!(
            TcpStream::connect_timeout(&addr, Duration::from_secs(1)).is_err(),
            "a server still listens on {port}"
        );
    }
    for pid in pids {
        assert!(
            !Path::new(&format!("/proc/{pid}")).exists(),
            "server process {pid} is still there"
        );
    }
}

#[test]
#[should_panic(expected = "exited with exit status: 3 while starting; its output:\nno such luck")]
fn a_server_that_does_not_start_fails_with_its_output() {
    Server::start(
        "a failing server",
        Path::new("/bin/sh"),
        |_| {
            ["-c", "echo no such luck >&2; exit 3"]
                .map(String::from)
                .into()
        },
        |_| {},
    );
}
