//! The object-store servers the cloud world's backends are tested against, on 127.0.0.1:
//! `moto_server` for S3, `fake-gcs-server` for Google Cloud Storage and Azurite for Azure
//! Blob. `tests/run` installs them into `target/test-tools`; every test starts its own server
//! (about half a second each) with a fresh bucket or container, and the server dies with the
//! test, panicking or not.
//!
//! One type serves every backend: a `StoreServer` started with `Backend::S3`, `Backend::Gcs`
//! or `Backend::Azure`, whose per-backend parts (the program, how the bucket is made, the
//! variables that reach it) are the `match`es below. `env()` gives the variables that make
//! object_store's `from_env()` builders reach the server; pass them to a `host` command with
//! `set_env`, which also drops whatever the developer's own environment says about the same
//! backend. `per_backend!` (in `support/mod.rs`) writes a test once and runs it on each.

use std::process::Command;
use std::time::{Duration, Instant};

use futures::TryStreamExt;
use object_store::aws::AmazonS3Builder;
use object_store::azure::MicrosoftAzureBuilder;
use object_store::gcp::GoogleCloudStorageBuilder;
use object_store::path::Path as Key;
use object_store::{BackoffConfig, ClientOptions, ObjectStore, ObjectStoreExt, RetryConfig};

use super::server::{
    START_TIMEOUT, Server, http, http_with_body, remove_inherited, run_logged, tool, unique_name,
};

/// A blob-store backend the tests have a server for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    S3,
    Gcs,
    Azure,
}

impl Backend {
    pub const ALL: [Backend; 3] = [Backend::S3, Backend::Gcs, Backend::Azure];

    /// The URL scheme the host mounts the backend by.
    pub fn scheme(self) -> &'static str {
        match self {
            Backend::S3 => "s3",
            Backend::Gcs => "gs",
            Backend::Azure => "az",
        }
    }

    /// Whether the test server takes object_store's writes. fake-gcs-server does not: it has
    /// no XML API for writes (fsouza/fake-gcs-server#331; object_store's own CI runs a fork),
    /// and object_store's GCS client writes, copies and deletes only through the XML API. Its
    /// reads (XML get, ranged get, head, list) work, and `Objects::put` stores through the
    /// emulator's JSON upload API instead.
    pub fn takes_writes(self) -> bool {
        self != Backend::Gcs
    }

    /// The variables a client of the server may not inherit: the developer's own settings for
    /// the backend would override `env()`'s or add to them.
    pub fn prefixes(self) -> &'static [&'static str] {
        match self {
            Backend::S3 => &["AWS_"],
            // object_store also reads a bare `SERVICE_ACCOUNT` (a key file's path).
            Backend::Gcs => &["GOOGLE_", "SERVICE_ACCOUNT"],
            Backend::Azure => &["AZURE_", "AZURITE_"],
        }
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

/// A blob-store server on 127.0.0.1 with a fresh bucket (S3, GCS) or container (Azure).
pub struct StoreServer {
    pub backend: Backend,
    /// Where clients send requests: `http://127.0.0.1:PORT` for S3 and GCS; for Azure the account's
    /// URL, `http://127.0.0.1:PORT/devstoreaccount1` (Azurite on an IP address takes the
    /// account name from the first path segment).
    pub endpoint: String,
    /// The bucket or container made for this server.
    pub bucket: String,
    server: Server,
}

impl StoreServer {
    /// Starts the backend's server from `target/test-tools` and makes a bucket or container.
    pub fn start(backend: Backend) -> StoreServer {
        let started = Instant::now();
        let bucket = unique_name();
        let server = match backend {
            Backend::S3 => start_moto(&bucket),
            Backend::Gcs => start_fake_gcs(&bucket),
            Backend::Azure => start_azurite(&bucket),
        };
        let endpoint = endpoint_at(backend, &format!("http://{}", server.addr()));
        eprintln!(
            "{backend:?} server on {endpoint} with bucket {bucket}, up in {:?}",
            started.elapsed()
        );
        StoreServer {
            backend,
            endpoint,
            bucket,
            server,
        }
    }

    /// What the backend's `from_env()` builder needs to reach this server (object_store 0.14
    /// reads every `AWS_*`, `GOOGLE_*` or `AZURE_*` variable whose lowercased name is a config
    /// key).
    pub fn env(&self) -> Vec<(String, String)> {
        env_for(self.backend, &self.endpoint)
    }

    /// Gives `command` exactly `env()`: inherited variables of the backend are removed.
    pub fn set_env<'a>(&self, command: &'a mut Command) -> &'a mut Command {
        remove_inherited(command, self.backend.prefixes());
        command.envs(self.env())
    }

    /// `set_env`, with requests sent to `base` (`http://HOST:PORT`, a proxy in front of this
    /// server) in place of the server itself.
    pub fn set_env_via<'a>(&self, command: &'a mut Command, base: &str) -> &'a mut Command {
        remove_inherited(command, self.backend.prefixes());
        command.envs(env_for(self.backend, &endpoint_at(self.backend, base)))
    }

    /// `127.0.0.1:PORT`, for a proxy in front of the server.
    pub fn address(&self) -> String {
        self.server.addr().to_string()
    }

    /// `s3://BUCKET/PREFIX`, `gs://BUCKET/PREFIX` or `az://CONTAINER/PREFIX`
    pub fn url(&self, prefix: &str) -> String {
        let scheme = self.backend.scheme();
        format!(
            "{scheme}://{}/{}",
            self.bucket,
            prefix.trim_start_matches('/')
        )
    }

    /// Kills the server (tests of a backend going away); dropping it does too.
    pub fn stop(&mut self) {
        self.server.stop();
    }

    /// The requests moto has answered so far, one line each (`"GET /bucket/key HTTP/1.1" 200 -`),
    /// in order: what a test counts to see which requests the host made.
    pub fn requests(&self) -> Vec<String> {
        assert_eq!(
            self.backend,
            Backend::S3,
            "moto logs its requests; the others do not"
        );
        self.server
            .log()
            .lines()
            .filter(|line| line.contains(" HTTP/1.1"))
            // Without the client and date prefix, and the colours werkzeug puts around it.
            .map(|line| strip_colours(line.split_once("] ").map_or(line, |(_, rest)| rest)))
            .collect()
    }

    /// The server process, for tests of the server itself.
    pub fn process(&self) -> &Server {
        &self.server
    }

    /// The bucket, through object_store configured the way the host configures it from
    /// `env()`; `impatient_retry` gives up within seconds, for servers that are gone.
    pub fn store(&self, impatient_retry: bool) -> Box<dyn ObjectStore> {
        // The builders share no trait: the same steps, written for each.
        macro_rules! configured {
            ($builder:expr) => {{
                let mut builder = $builder;
                if impatient_retry {
                    let (retry, options) = impatient();
                    builder = builder.with_retry(retry).with_client_options(options);
                }
                for (key, value) in self.env() {
                    // What from_env does with each variable; every one must be a config key.
                    builder = builder.with_config(key.to_ascii_lowercase().parse().unwrap(), value);
                }
                Box::new(builder.with_url(self.url("")).build().unwrap())
            }};
        }
        match self.backend {
            Backend::S3 => configured!(AmazonS3Builder::new()),
            Backend::Gcs => configured!(GoogleCloudStorageBuilder::new()),
            Backend::Azure => configured!(MicrosoftAzureBuilder::new()),
        }
    }

    /// A blocking client of the bucket, for a test to put objects in and check what the host
    /// left there.
    /// Stores a console's folder placeholder, the zero-byte key `DIR/`, on S3 (moto takes an
    /// unsigned PUT; object_store cannot name such a key).
    pub fn put_folder_placeholder(&self, dir: &str) {
        assert_eq!(
            self.backend,
            Backend::S3,
            "placeholders are made on S3 only"
        );
        let target = format!("/{}/{}/", self.bucket, dir.trim_matches('/'));
        match http(self.server.port(), "PUT", &target, "") {
            Ok((200, _)) => {}
            Ok((_, response)) => panic!("cannot put the placeholder {target}: {response:.500}"),
            Err(e) => panic!("cannot put the placeholder {target}: {e}"),
        }
    }

    pub fn objects(&self) -> Objects {
        Objects {
            store: self.store(false),
            runtime: runtime(),
            json_uploads: (self.backend == Backend::Gcs)
                .then(|| (self.server.port(), self.bucket.clone())),
        }
    }
}

/// Starts moto_server and makes `bucket`.
fn start_moto(bucket: &str) -> Server {
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
    // moto takes requests without a signature; an unsigned PUT creates a bucket, in
    // us-east-1, where no location constraint is needed.
    match http(server.port(), "PUT", &format!("/{bucket}"), "") {
        Ok((200, _)) => {}
        Ok((_, response)) => server.fail(&format!("refused to create bucket {bucket}: {response}")),
        Err(e) => server.fail(&format!("failed to create bucket {bucket}: {e}")),
    }
    server
}

/// Starts fake-gcs-server, in memory, and makes `bucket`.
fn start_fake_gcs(bucket: &str) -> Server {
    let program = tool("venv/bin/fake-gcs-server", "fake-gcs-server");
    let mut server = Server::start(
        "fake-gcs-server",
        &program,
        |port| {
            [
                "-scheme",
                "http",
                "-host",
                "127.0.0.1",
                "-port",
                &port.to_string(),
                // Nothing on disk (the default backend writes under /storage).
                "-backend",
                "memory",
                // Its XML API (`/BUCKET/KEY`, which object_store speaks) answers only requests
                // addressed to the public host.
                "-public-host",
                &format!("127.0.0.1:{port}"),
            ]
            .map(String::from)
            .into()
        },
        // It reads no variable of ours, but a client library in it might.
        |command| remove_inherited(command, &["GOOGLE_", "STORAGE_EMULATOR_HOST"]),
    );
    // The JSON API's bucket insert; the emulator takes requests without credentials.
    let body = format!(r#"{{"name":"{bucket}"}}"#);
    let headers = "Content-Type: application/json\r\n";
    match http_with_body(
        server.port(),
        "POST",
        "/storage/v1/b",
        headers,
        body.as_bytes(),
    ) {
        Ok((200, _)) => {}
        Ok((_, response)) => server.fail(&format!("refused to create bucket {bucket}: {response}")),
        Err(e) => server.fail(&format!("failed to create bucket {bucket}: {e}")),
    }
    server
}

/// Starts Azurite's blob service, in memory, and makes `container`.
fn start_azurite(container: &str) -> Server {
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
    let endpoint = endpoint_at(Backend::Azure, &format!("http://{}", server.addr()));
    let mut create = Command::new(python);
    create
        .args(["-c", CREATE_CONTAINER])
        .args([&endpoint, AZURITE_ACCOUNT, AZURITE_KEY, container])
        .env("NO_PROXY", "127.0.0.1")
        .env("no_proxy", "127.0.0.1");
    let log = server.dir().join("create-container.log");
    let (status, output) = run_logged(create, START_TIMEOUT, &log);
    if !status.success() {
        server.fail(&format!(
            "did not create container {container} ({status}):\n{output}\nAzurite's output"
        ));
    }
    server
}

/// The endpoint clients are given to reach a `backend` server listening at `base`.
fn endpoint_at(backend: Backend, base: &str) -> String {
    match backend {
        Backend::S3 | Backend::Gcs => base.to_owned(),
        Backend::Azure => format!("{base}/{AZURITE_ACCOUNT}"),
    }
}

/// The variables that make a `backend` client send its requests to `endpoint`.
fn env_for(backend: Backend, endpoint: &str) -> Vec<(String, String)> {
    // A service-account key that sends requests to the emulator, unsigned: object_store reads
    // `gcs_base_url` and `disable_oauth` from the key (the three other fields must be there,
    // and may be empty). A key file named by `GOOGLE_SERVICE_ACCOUNT` works the same.
    let gcs_key = format!(
        r#"{{"private_key":"","private_key_id":"","client_email":"","gcs_base_url":"{endpoint}","disable_oauth":true}}"#
    );
    let pairs: &[(&str, &str)] = match backend {
        Backend::S3 => &[
            // The `aws_endpoint` key. A custom endpoint gets path-style requests
            // (`ENDPOINT/BUCKET/KEY`) unless virtual-hosted style is asked for; said
            // explicitly, since moto on an IP address only understands path style.
            ("AWS_ENDPOINT", endpoint),
            ("AWS_VIRTUAL_HOSTED_STYLE_REQUEST", "false"),
            ("AWS_ALLOW_HTTP", "true"),
            // Any credentials do, but some must be given, or object_store asks the EC2
            // instance metadata endpoint for them.
            ("AWS_ACCESS_KEY_ID", "worldhost-test"),
            ("AWS_SECRET_ACCESS_KEY", "worldhost-test"),
            ("AWS_REGION", "us-east-1"),
        ],
        Backend::Gcs => &[
            ("GOOGLE_SERVICE_ACCOUNT_KEY", &gcs_key),
            // The `allow_http` client option, under its GOOGLE_ name.
            ("GOOGLE_ALLOW_HTTP", "true"),
        ],
        // Not the emulator mode (`AZURE_STORAGE_USE_EMULATOR=true`): that ignores
        // `AZURE_STORAGE_ENDPOINT` and reads the URL from `AZURITE_BLOB_STORAGE_URL` itself,
        // with `std::env::var`, so no config key can give it. A plain account with an
        // endpoint is what a real custom endpoint looks like, and signs requests exactly as
        // the emulator mode does.
        Backend::Azure => &[
            ("AZURE_STORAGE_ACCOUNT_NAME", AZURITE_ACCOUNT),
            ("AZURE_STORAGE_ACCOUNT_KEY", AZURITE_KEY),
            ("AZURE_STORAGE_ENDPOINT", endpoint),
            ("AZURE_ALLOW_HTTP", "true"),
            // Said explicitly: true would make object_store ignore the endpoint above.
            ("AZURE_STORAGE_USE_EMULATOR", "false"),
        ],
    };
    pairs
        .iter()
        .map(|(key, value)| (key.to_string(), value.to_string()))
        .collect()
}

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

/// `text` as a URL query value: every byte but the unreserved ones percent-encoded.
fn query_escape(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                char::from(b).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// A blocking client of a server's bucket; every failure panics, naming the key.
pub struct Objects {
    store: Box<dyn ObjectStore>,
    runtime: tokio::runtime::Runtime,
    /// For fake-gcs-server, which takes no XML writes (`Backend::takes_writes`): its port and
    /// the bucket, to store objects through its JSON upload API.
    json_uploads: Option<(u16, String)>,
}

impl Objects {
    pub fn put(&self, key: &str, bytes: impl Into<Vec<u8>>) {
        let bytes: Vec<u8> = bytes.into();
        if let Some((port, bucket)) = &self.json_uploads {
            let target = format!(
                "/upload/storage/v1/b/{bucket}/o?uploadType=media&name={}",
                query_escape(key)
            );
            let headers = "Content-Type: application/octet-stream\r\n";
            match http_with_body(*port, "POST", &target, headers, &bytes) {
                Ok((200, _)) => return,
                Ok((_, response)) => panic!("cannot put {key}: {response:.500}"),
                Err(e) => panic!("cannot put {key}: {e}"),
            }
        }
        self.runtime
            .block_on(self.store.put(&Key::from(key), bytes.into()))
            .unwrap_or_else(|e| panic!("cannot put {key}: {e}"));
    }

    pub fn get(&self, key: &str) -> Vec<u8> {
        self.runtime
            .block_on(async { self.store.get(&Key::from(key)).await?.bytes().await })
            .unwrap_or_else(|e| panic!("cannot get {key}: {e}"))
            .to_vec()
    }

    /// The object at `key`, which must be UTF-8 text.
    pub fn text(&self, key: &str) -> String {
        String::from_utf8(self.get(key)).unwrap_or_else(|e| panic!("{key} is not text: {e}"))
    }

    /// Every key under `prefix` (all with `None`), sorted.
    pub fn keys(&self, prefix: Option<&str>) -> Vec<String> {
        let prefix = prefix.map(Key::from);
        let listed: Vec<_> = self
            .runtime
            .block_on(self.store.list(prefix.as_ref()).try_collect())
            .unwrap_or_else(|e| panic!("cannot list {prefix:?}: {e}"));
        let mut keys: Vec<String> = listed
            .into_iter()
            .map(|meta: object_store::ObjectMeta| meta.location.to_string())
            .collect();
        keys.sort();
        keys
    }
}

/// `text` without the terminal colour codes (`ESC[...m`) werkzeug puts around request lines.
fn strip_colours(text: &str) -> String {
    let mut out = String::new();
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\x1b' {
            chars.by_ref().find(|&c| c == 'm');
        } else {
            out.push(c);
        }
    }
    out
}
