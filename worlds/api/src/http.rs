//! `wasi:http/outgoing-handler` (and `wasi:http/types`) for every world, and WASI 0.3's
//! `wasi:http/client` (and its `types`) for p3 guests, served by wasmtime-wasi-http with our
//! own connector (one hook serves both versions): a request goes out only to a `host:port` of
//! the run's `[network] allow` list, the same list that lets sockets connect.
//!
//! What is matched: the request's authority, `host:port` (port 80 for `http`, 443 for
//! `https` when the URL gives none), against the list's entries as written (host names
//! compared without regard to case or a trailing dot), or, for a URL that names an IP
//! address, against the addresses the entries resolved to (as sockets are). The list is
//! resolved once, when the run starts ([`AllowList::resolve`]), and a request is connected to
//! the addresses its entry resolved to then, never to a fresh lookup of the URL's name: a
//! guest cannot reach another address through an allowed name's DNS (rebinding), and a name
//! not in the list is refused whatever it resolves to. A refused request gets the typed
//! `error-code` `HTTP-request-denied`, and is logged once per authority.
//!
//! Bounds (the table in `host/src/limits.rs`): a response's head and the body bytes read
//! ahead of the guest are held in one buffer of [`RESPONSE_BUFFER`] per connection (a
//! larger head fails the request); the body is streamed, a frame at a time, as the guest
//! reads it. Open connections take [`CONNECTION_MEMORY`] each of the run's `buffer-memory`
//! figure: past it a request fails with `connection-limit-reached`. Time-outs (connect,
//! first byte, between bytes) default to [`HttpTimeouts::default`], and are never longer
//! than the run's own time limit; a guest's `request-options` may only shorten them.

use std::collections::HashSet;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use anyhow::{Context as _, Result};
use bytes::Bytes;
use http::uri::Scheme;
use http_body_util::BodyExt;
use tokio::net::TcpStream;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_rustls::rustls;
use wasmtime::component::{Linker, ResourceTable};
pub use wasmtime_wasi_http::WasiHttpCtxView;
use wasmtime_wasi_http::io::TokioIo;
use wasmtime_wasi_http::p3::bindings::http as p3_bindings;
use wasmtime_wasi_http::{Error, RequestOptions, WasiBody, WasiHttp, WasiHttpCtx};
use wasmtime_wasi_http::{WasiHttpHooks, p2::bindings::http as bindings};

use crate::WorldHost;

/// hyper's read buffer for one connection: it holds the response head (so no head may be
/// larger) and the body bytes read ahead of the guest.
pub const RESPONSE_BUFFER: usize = 64 << 10;

/// The most bytes one write to a request body's stream takes, and so what a body the guest
/// writes holds in host memory at most: one chunk in flight and one queued (wasmtime-wasi-http
/// buffers 2 MiB otherwise, in every body a guest opens, sent or not).
pub const REQUEST_BODY_CHUNK: usize = 16 << 10;

/// What an open connection is counted as against the run's `buffer-memory`: its read
/// buffer, a body frame waiting for the guest (no larger than the buffer) and TLS's buffers.
pub const CONNECTION_MEMORY: u64 = 2 * RESPONSE_BUFFER as u64 + (64 << 10);

/// Links `wasi:http/types` and `wasi:http/outgoing-handler` (WASI 0.2), and `wasi:http/types`
/// and `wasi:http/client` (WASI 0.3), for a world's guests. Both versions send through
/// [`Hooks::send_request`], so the allow-list, time-outs and connection limit are the same.
pub fn add_to_linker<S, T: WorldHost<S>>(linker: &mut Linker<T>) -> Result<()> {
    let options = bindings::types::LinkOptions::default();
    bindings::outgoing_handler::add_to_linker::<T, WasiHttp>(linker, T::http)?;
    bindings::types::add_to_linker::<T, WasiHttp>(linker, &options, T::http)?;
    if crate::links_wasi_p3(linker) {
        p3_bindings::client::add_to_linker::<T, WasiHttp>(linker, T::http)?;
        p3_bindings::types::add_to_linker::<T, WasiHttp>(linker, T::http)?;
    }
    Ok(())
}

/// One `host:port` of the allow-list and the addresses it resolved to when the run started.
#[derive(Debug, Clone)]
struct Allowed {
    host: String,
    port: u16,
    addresses: Vec<SocketAddr>,
}

/// The run's `[network] allow` list, resolved once: sockets may connect to its addresses,
/// HTTP requests to its `host:port` entries.
#[derive(Debug, Clone, Default)]
pub struct AllowList {
    entries: Vec<Allowed>,
}

impl AllowList {
    /// Resolves every `host:port` entry (already checked to have that form).
    pub async fn resolve(entries: &[String]) -> Result<AllowList> {
        let mut resolved = Vec::new();
        for entry in entries {
            let addresses: Vec<SocketAddr> = tokio::net::lookup_host(entry.as_str())
                .await
                .with_context(|| format!("cannot resolve `{entry}` from the network allow-list"))?
                .collect();
            let (host, port) = entry.rsplit_once(':').unwrap_or((entry, ""));
            let port = port
                .parse()
                .with_context(|| format!("`{entry}` is not HOST:PORT"))?;
            resolved.push(Allowed {
                host: normal_host(host),
                port,
                addresses,
            });
        }
        Ok(AllowList { entries: resolved })
    }

    /// Every address the entries resolved to.
    pub fn addresses(&self) -> impl Iterator<Item = SocketAddr> + '_ {
        self.entries
            .iter()
            .flat_map(|e| e.addresses.iter().copied())
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The addresses a request to `host:port` may connect to, or `None`: refused.
    fn target(&self, host: &str, port: u16) -> Option<Vec<SocketAddr>> {
        let host = normal_host(host);
        if let Some(entry) = self
            .entries
            .iter()
            .find(|e| e.host == host && e.port == port)
        {
            return Some(entry.addresses.clone());
        }
        let ip: IpAddr = host.parse().ok()?;
        let address = SocketAddr::new(ip, port);
        self.addresses()
            .any(|a| a == address)
            .then(|| vec![address])
    }
}

/// A host as compared: lower case, without IPv6 brackets or a trailing dot.
fn normal_host(host: &str) -> String {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.trim_end_matches('.').to_ascii_lowercase()
}

/// How long a request may wait, at most.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HttpTimeouts {
    /// To connect (TCP, TLS and the HTTP handshake).
    pub connect: Duration,
    /// From the request sent to the response's head.
    pub first_byte: Duration,
    /// Between two reads of the response body.
    pub between_bytes: Duration,
}

impl Default for HttpTimeouts {
    /// 30 s to connect, 60 s to the first byte and between bytes.
    fn default() -> HttpTimeouts {
        HttpTimeouts {
            connect: Duration::from_secs(30),
            first_byte: Duration::from_secs(60),
            between_bytes: Duration::from_secs(60),
        }
    }
}

impl HttpTimeouts {
    /// These time-outs, none longer than `most`.
    pub fn at_most(self, most: Duration) -> HttpTimeouts {
        HttpTimeouts {
            connect: self.connect.min(most),
            first_byte: self.first_byte.min(most),
            between_bytes: self.between_bytes.min(most),
        }
    }

    /// Shortened where the guest's `request-options` ask for less.
    fn with(self, options: Option<RequestOptions>) -> HttpTimeouts {
        let options = options.unwrap_or_default();
        let shorter =
            |ours: Duration, theirs: Option<Duration>| theirs.map_or(ours, |t| t.min(ours));
        HttpTimeouts {
            connect: shorter(self.connect, options.connect_timeout),
            first_byte: shorter(self.first_byte, options.first_byte_timeout),
            between_bytes: shorter(self.between_bytes, options.between_bytes_timeout),
        }
    }
}

/// One instance's `wasi:http` state: wasmtime-wasi-http's context and our hooks.
pub struct HttpState {
    ctx: WasiHttpCtx,
    hooks: Hooks,
}

impl HttpState {
    /// Requests allowed by `allow`, within `timeouts`, with as many connections open at
    /// once as `buffer_memory` has room for ([`CONNECTION_MEMORY`] each, at least one).
    pub fn new(allow: Arc<AllowList>, timeouts: HttpTimeouts, buffer_memory: u64) -> HttpState {
        let connections =
            (buffer_memory / CONNECTION_MEMORY).clamp(1, Semaphore::MAX_PERMITS as u64);
        HttpState {
            ctx: WasiHttpCtx::new(),
            hooks: Hooks {
                allow,
                timeouts,
                connections: Arc::new(Semaphore::new(connections as usize)),
                refused: HashSet::new(),
            },
        }
    }

    /// The view wasmtime-wasi-http's host functions work on, over the store's `table`.
    pub fn view<'a>(&'a mut self, table: &'a mut ResourceTable) -> WasiHttpCtxView<'a> {
        WasiHttpCtxView {
            ctx: &mut self.ctx,
            table,
            hooks: &mut self.hooks,
        }
    }
}

struct Hooks {
    allow: Arc<AllowList>,
    timeouts: HttpTimeouts,
    connections: Arc<Semaphore>,
    /// Authorities already logged as refused (each is logged once).
    refused: HashSet<String>,
}

type SendFuture = Box<
    dyn Future<
            Output = Result<
                (
                    http::Response<WasiBody>,
                    Box<dyn Future<Output = Result<(), Error>> + Send>,
                ),
                Error,
            >,
        > + Send,
>;

impl WasiHttpHooks for Hooks {
    fn p2_outgoing_body_buffer_chunks(&mut self) -> usize {
        1
    }

    fn p2_outgoing_body_chunk_size(&mut self) -> usize {
        REQUEST_BODY_CHUNK
    }

    fn p3_outgoing_body_chunk_size(&mut self) -> usize {
        REQUEST_BODY_CHUNK
    }

    fn send_request(
        &mut self,
        request: http::Request<WasiBody>,
        options: Option<RequestOptions>,
        _: Box<dyn Future<Output = Result<(), Error>> + Send>,
    ) -> SendFuture {
        let uri = request.uri();
        let Some(authority) = uri.authority() else {
            return Box::new(async { Err(Error::HttpRequestUriInvalid) });
        };
        let tls = uri.scheme() == Some(&Scheme::HTTPS);
        let port = authority.port_u16().unwrap_or(if tls { 443 } else { 80 });
        let host = authority.host().to_owned();
        let Some(addresses) = self.allow.target(&host, port) else {
            let refused = format!("{host}:{port}");
            if self.refused.insert(refused.clone()) {
                tracing::warn!(authority = %refused, "refused an HTTP request: not in the network allow-list");
            }
            return Box::new(async { Err(Error::HttpRequestDenied) });
        };
        let Ok(permit) = self.connections.clone().try_acquire_owned() else {
            return Box::new(async { Err(Error::ConnectionLimitReached) });
        };
        let timeouts = self.timeouts.with(options);
        Box::new(send(request, host, tls, addresses, timeouts, permit))
    }
}

/// Connects to the first of `addresses` that answers (TLS naming `host` when `tls`), sends
/// `request` and returns the response as soon as its head is in, its body still streaming.
/// The connection, and its place among the run's connections, lasts as long as the body.
async fn send(
    mut request: http::Request<WasiBody>,
    host: String,
    tls: bool,
    addresses: Vec<SocketAddr>,
    timeouts: HttpTimeouts,
    permit: OwnedSemaphorePermit,
) -> Result<
    (
        http::Response<WasiBody>,
        Box<dyn Future<Output = Result<(), Error>> + Send>,
    ),
    Error,
> {
    let connect = async {
        let tcp = TcpStream::connect(&addresses[..])
            .await
            .map_err(Error::Connect)?;
        let io: Box<dyn Stream> = if tls {
            Box::new(tls_connect(&host, tcp).await?)
        } else {
            Box::new(tcp)
        };
        let mut builder = hyper::client::conn::http1::Builder::new();
        builder.max_buf_size(RESPONSE_BUFFER);
        Ok::<_, Error>(builder.handshake::<_, WasiBody>(TokioIo::new(io)).await?)
    };
    let (mut sender, connection) = tokio::time::timeout(timeouts.connect, connect)
        .await
        .map_err(|_| Error::ConnectionTimeout)??;
    let connection = wasmtime_wasi::runtime::spawn(async move {
        let _permit = permit;
        connection.await
    });
    // The request line carries the path only (the authority is in the `host` header).
    let path = request.uri().path_and_query().map_or("/", |p| p.as_str());
    *request.uri_mut() = http::Uri::builder()
        .path_and_query(path)
        .build()
        .map_err(|_| Error::HttpRequestUriInvalid)?;
    let response = tokio::time::timeout(timeouts.first_byte, sender.send_request(request))
        .await
        .map_err(|_| Error::ConnectionReadTimeout)??;
    let between_bytes = timeouts.between_bytes.max(Duration::from_nanos(1));
    let response = response.map(|incoming| {
        let mut timer = tokio::time::interval(between_bytes);
        timer.reset();
        TimedBody { incoming, timer }.boxed_unsync()
    });
    let io = async move { connection.await.map_err(Error::from) };
    Ok((response, Box::new(io)))
}

trait Stream: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + Unpin + 'static {}
impl<T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + Unpin + 'static> Stream for T {}

/// A TLS session over `tcp`, checked against the web's root certificates for `host`.
async fn tls_connect(
    host: &str,
    tcp: TcpStream,
) -> Result<tokio_rustls::client::TlsStream<TcpStream>, Error> {
    let roots = rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.into(),
    };
    // The provider named, not the process default: which one that is depends on what else in
    // the build enabled rustls.
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|_| Error::TlsProtocolError)?
        .with_root_certificates(roots)
        .with_no_client_auth();
    let name = normal_host(host);
    let name = match name.parse::<IpAddr>() {
        Ok(ip) => rustls::pki_types::ServerName::from(ip),
        Err(_) => rustls::pki_types::ServerName::try_from(name)
            .map_err(|_| Error::HttpRequestUriInvalid)?,
    };
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    connector.connect(name, tcp).await.map_err(Error::Tls)
}

/// A response body that fails with `connection-read-timeout` when no frame comes within its
/// timer's period.
struct TimedBody {
    incoming: hyper::body::Incoming,
    timer: tokio::time::Interval,
}

impl http_body::Body for TimedBody {
    type Data = Bytes;
    type Error = Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, Error>>> {
        match Pin::new(&mut self.incoming).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                self.timer.reset();
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(Some(Err(e))) if e.is_timeout() => {
                Poll::Ready(Some(Err(Error::HttpResponseTimeout)))
            }
            Poll::Ready(Some(Err(e))) => Poll::Ready(Some(Err(Error::from(e)))),
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => {
                ready!(self.timer.poll_tick(cx));
                Poll::Ready(Some(Err(Error::ConnectionReadTimeout)))
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.incoming.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.incoming.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(entries: &[(&str, u16, &[&str])]) -> AllowList {
        let entries = entries.iter().map(|(host, port, addresses)| Allowed {
            host: normal_host(host),
            port: *port,
            addresses: addresses.iter().map(|a| a.parse().unwrap()).collect(),
        });
        AllowList {
            entries: entries.collect(),
        }
    }

    #[test]
    fn a_request_goes_only_to_an_allowed_authority_at_its_resolved_addresses() {
        let allow = list(&[
            ("api.example.com", 443, &["192.0.2.7:443"]),
            ("127.0.0.1", 8080, &["127.0.0.1:8080"]),
        ]);
        let target = |host, port| allow.target(host, port);
        assert_eq!(
            target("API.example.com.", 443),
            Some(vec!["192.0.2.7:443".parse().unwrap()])
        );
        assert_eq!(
            target("127.0.0.1", 8080),
            Some(vec!["127.0.0.1:8080".parse().unwrap()])
        );
        // The allowed name's address, named directly, as sockets allow it.
        assert_eq!(
            target("192.0.2.7", 443),
            Some(vec!["192.0.2.7:443".parse().unwrap()])
        );
        assert_eq!(target("api.example.com", 80), None);
        assert_eq!(target("127.0.0.1", 8081), None);
        assert_eq!(target("other.example.com", 443), None);
        assert_eq!(target("localhost", 8080), None);
        assert_eq!(AllowList::default().target("127.0.0.1", 80), None);
    }

    #[test]
    fn time_outs_are_bounded_by_the_run_and_only_shortened_by_the_guest() {
        let ours = HttpTimeouts::default().at_most(Duration::from_secs(45));
        assert_eq!(ours.connect, Duration::from_secs(30));
        assert_eq!(ours.first_byte, Duration::from_secs(45));
        let asked = RequestOptions {
            connect_timeout: Some(Duration::from_secs(5)),
            first_byte_timeout: Some(Duration::from_secs(3600)),
            between_bytes_timeout: None,
        };
        let used = ours.with(Some(asked));
        assert_eq!(used.connect, Duration::from_secs(5));
        assert_eq!(used.first_byte, Duration::from_secs(45));
        assert_eq!(used.between_bytes, Duration::from_secs(45));
    }
}
