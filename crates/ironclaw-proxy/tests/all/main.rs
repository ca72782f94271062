//! The proxy over real sockets: loopback upstreams (HTTP, and HTTPS with an rcgen
//! certificate), reached through the proxy by curl and by raw TCP clients.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::convert::Infallible;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use ironclaw_audit::{AuditConfig, AuditLog};
use ironclaw_policy::{AutoSuspendConfig, ResolveError, Resolver, StaticResolver};
use ironclaw_proxy::{JobGrant, JobToken, Limits, NetworkAllowlist, Proxy, ProxyConfig};
use ironclaw_safety::LeakDetector;
use ironclaw_secrets::{
    CredentialLocation, CredentialMapping, SecretGrant, SecretStore, SecretValue,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

mod basics;
mod hardening;
mod suspension;

// ---------------------------------------------------------------------------------
// Upstreams

/// What an upstream received: the request head as text, and the body.
#[derive(Debug, Clone)]
struct Received {
    head: String,
    body: Vec<u8>,
}

#[derive(Debug, Default)]
struct Upstream {
    received: Mutex<Vec<Received>>,
    connections: AtomicUsize,
    closed: AtomicUsize,
}

impl Upstream {
    fn hits(&self) -> usize {
        self.received.lock().unwrap().len()
    }

    fn last(&self) -> Received {
        self.received
            .lock()
            .unwrap()
            .last()
            .cloned()
            .expect("upstream got no request")
    }
}

/// Builds an upstream's answer from what it received.
type Responder = Arc<dyn Fn(&Received) -> Response<Full<Bytes>> + Send + Sync>;

/// Answers with the request head it saw (an echo server: the worst case for a
/// credential the tool must not read back).
fn echo_responder() -> Responder {
    Arc::new(|received: &Received| {
        Response::builder()
            .header("x-upstream", "echo")
            .body(Full::new(Bytes::from(received.head.clone())))
            .unwrap()
    })
}

/// Records the request, then answers with `responder`.
async fn respond(
    upstream: Arc<Upstream>,
    responder: Responder,
    request: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let mut head = format!("{} {}\n", request.method(), request.uri());
    for (name, value) in request.headers() {
        head.push_str(&format!(
            "{}: {}\n",
            name,
            String::from_utf8_lossy(value.as_bytes())
        ));
    }
    let body = request
        .into_body()
        .collect()
        .await
        .map(|b| b.to_bytes().to_vec())
        .unwrap_or_default();
    let received = Received { head, body };
    let response = responder(&received);
    upstream.received.lock().unwrap().push(received);
    Ok(response)
}

async fn spawn_http_upstream(ip: Ipv4Addr) -> (SocketAddr, Arc<Upstream>) {
    spawn_upstream_with(ip, echo_responder()).await
}

/// A plain-HTTP upstream that answers every request with `responder`.
async fn spawn_upstream_with(ip: Ipv4Addr, responder: Responder) -> (SocketAddr, Arc<Upstream>) {
    let listener = TcpListener::bind((ip, 0)).await.unwrap();
    let addr = listener.local_addr().unwrap();
    let upstream = Arc::new(Upstream::default());
    let shared = Arc::clone(&upstream);
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            shared.connections.fetch_add(1, Ordering::SeqCst);
            let upstream = Arc::clone(&shared);
            let responder = Arc::clone(&responder);
            tokio::spawn(async move {
                let service_upstream = Arc::clone(&upstream);
                let service = service_fn(move |req| {
                    respond(Arc::clone(&service_upstream), Arc::clone(&responder), req)
                });
                let _ = http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
                upstream.closed.fetch_add(1, Ordering::SeqCst);
            });
        }
    });
    (addr, upstream)
}

/// An HTTPS upstream for `api.test` with a fresh self-signed certificate; returns the
/// address and the certificate's PEM for the client to trust.
async fn spawn_https_upstream() -> (SocketAddr, Arc<Upstream>, String) {
    let certified = rcgen::generate_simple_self_signed(vec!["api.test".to_owned()]).unwrap();
    let cert_pem = certified.cert.pem();
    let cert_der = certified.cert.der().clone();
    let key_der =
        rustls::pki_types::PrivateKeyDer::Pkcs8(certified.signing_key.serialize_der().into());
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(vec![cert_der], key_der)
    .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await.unwrap();
    let addr = listener.local_addr().unwrap();
    let upstream = Arc::new(Upstream::default());
    let shared = Arc::clone(&upstream);
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let acceptor = acceptor.clone();
            let upstream = Arc::clone(&shared);
            tokio::spawn(async move {
                let Ok(tls) = acceptor.accept(stream).await else {
                    return;
                };
                let service =
                    service_fn(move |req| respond(Arc::clone(&upstream), echo_responder(), req));
                let _ = http1::Builder::new()
                    .serve_connection(TokioIo::new(tls), service)
                    .await;
            });
        }
    });
    (addr, upstream, cert_pem)
}

// ---------------------------------------------------------------------------------
// The proxy under test

struct Harness {
    _dir: tempfile::TempDir,
    audit_path: std::path::PathBuf,
    proxy: Proxy,
    addr: SocketAddr,
    token: JobToken,
    store: Arc<SecretStore>,
    /// With [`Options::threads`]: ends `serve_on_threads`, and the thread it blocks.
    threads: Option<ServingThreads>,
}

/// A proxy serving with [`Proxy::serve_on_threads`] from a thread of its own.
struct ServingThreads {
    stop: tokio::sync::oneshot::Sender<()>,
    thread: std::thread::JoinHandle<Result<(), ironclaw_proxy::ProxyError>>,
}

impl Harness {
    /// The whole audit log as text, for checks that a value appears in no record
    /// at all. The log exists from the moment the harness opens it, so a missing
    /// file fails the test rather than passing a "does not contain" check.
    fn audit_text(&self) -> String {
        std::fs::read_to_string(&self.audit_path).unwrap()
    }

    fn audit_lines(&self) -> Vec<serde_json::Value> {
        self.audit_text()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    fn audited(&self, event: &str) -> Vec<serde_json::Value> {
        self.audit_lines()
            .into_iter()
            .filter(|l| l["event"] == event)
            .collect()
    }

    fn proxy_url(&self) -> String {
        format!("http://job:{}@{}", self.token.expose(), self.addr)
    }

    /// Completes the shutdown future of `serve_on_threads` and returns what it
    /// returned.
    async fn stop_threads(&mut self) -> Result<(), ironclaw_proxy::ProxyError> {
        let threads = self.threads.take().expect("the proxy serves on threads");
        threads.stop.send(()).unwrap();
        tokio::task::spawn_blocking(move || threads.thread.join().unwrap())
            .await
            .unwrap()
    }
}

struct Options {
    global_allow: Vec<String>,
    timeouts: ironclaw_proxy::Timeouts,
    grants: Vec<String>,
    limits: Limits,
    unsafe_private: bool,
    resolver: Option<Arc<dyn Resolver + Send + Sync>>,
    credentials: Vec<CredentialMapping>,
    secret_grant: Vec<&'static str>,
    leak_detector: Option<LeakDetector>,
    max_connections: usize,
    auto_suspend: Option<(std::path::PathBuf, AutoSuspendConfig)>,
    /// Serve with `serve_on_threads` on this many threads instead of `serve` on the
    /// test's runtime.
    threads: Option<std::num::NonZeroUsize>,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            global_allow: Vec::new(),
            timeouts: ironclaw_proxy::Timeouts::default(),
            grants: Vec::new(),
            limits: Limits::default(),
            unsafe_private: true,
            resolver: None,
            credentials: Vec::new(),
            secret_grant: Vec::new(),
            leak_detector: None,
            max_connections: ProxyConfig::default().max_connections,
            auto_suspend: None,
            threads: None,
        }
    }
}

fn test_resolver() -> Arc<dyn Resolver + Send + Sync> {
    let mut resolver = StaticResolver::new();
    resolver
        .insert("api.test", IpAddr::V4(Ipv4Addr::LOCALHOST))
        .unwrap();
    resolver
        .insert("other.test", IpAddr::V4(Ipv4Addr::LOCALHOST))
        .unwrap();
    resolver
        .insert("internal.example", IpAddr::V4(Ipv4Addr::new(10, 0, 0, 7)))
        .unwrap();
    Arc::new(resolver)
}

async fn start(options: Options) -> Harness {
    let dir = tempfile::tempdir().unwrap();
    let audit_path = dir.path().join("audit.log");
    let audit = AuditLog::open(AuditConfig::new(&audit_path)).unwrap();
    let store = Arc::new(SecretStore::open_dir(&dir.path().join("secrets"), None).unwrap());
    let config = ProxyConfig {
        listen: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
        limits: options.limits.clone(),
        timeouts: options.timeouts.clone(),
        global_allow: options.global_allow.clone(),
        allow_private_addresses_unsafe: options.unsafe_private,
        max_connections: options.max_connections,
    };
    let mut builder = Proxy::builder(audit)
        .config(config)
        .resolver(options.resolver.unwrap_or_else(test_resolver))
        .secret_store(Arc::clone(&store), "default");
    if let Some(detector) = options.leak_detector {
        builder = builder.leak_detector(detector);
    }
    if let Some((path, config)) = options.auto_suspend {
        builder = builder.auto_suspend(path, config);
    }
    let proxy = builder.build().unwrap();
    let token = JobToken::generate().unwrap();
    let mut grant = JobGrant::new("job-1");
    grant.skill = Some("fetcher".to_owned());
    grant.network = NetworkAllowlist::new(&options.grants).unwrap();
    grant.credentials = options.credentials;
    grant.secrets = SecretGrant::new(options.secret_grant);
    proxy.add_job(&token, grant);
    let (addr, threads) = match options.threads {
        None => {
            let listener = proxy.bind().await.unwrap();
            let addr = listener.local_addr().unwrap();
            let serving = proxy.clone();
            tokio::spawn(async move { serving.serve(listener).await });
            (addr, None)
        }
        Some(count) => {
            let listener = proxy.bind_std().unwrap();
            let addr = listener.local_addr().unwrap();
            let serving = proxy.clone();
            let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
            let thread = std::thread::spawn(move || {
                serving.serve_on_threads(listener, count, async {
                    let _ = stopped.await;
                })
            });
            (addr, Some(ServingThreads { stop, thread }))
        }
    };
    Harness {
        _dir: dir,
        audit_path,
        proxy,
        addr,
        token,
        store,
        threads,
    }
}

/// Runs curl (a real, independent client) and returns (status, headers+body text).
async fn curl(args: Vec<String>) -> (u16, String) {
    tokio::task::spawn_blocking(move || {
        let output = Command::new("curl")
            .args(["-s", "-S", "-i", "--max-time", "10", "--noproxy", ""])
            .args(&args)
            .output()
            .expect("curl must be installed (cargo xtask ci installs it)");
        let text = String::from_utf8_lossy(&output.stdout).into_owned();
        // With -i and a proxy tunnel, curl prints the CONNECT answer first; take the
        // last status line.
        let status = text
            .lines()
            .rfind(|l| l.starts_with("HTTP/"))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        (
            status,
            format!("{text}{}", String::from_utf8_lossy(&output.stderr)),
        )
    })
    .await
    .unwrap()
}

async fn curl_via(h: &Harness, url: &str, extra: &[&str]) -> (u16, String) {
    let mut args = vec!["-x".to_owned(), h.proxy_url(), url.to_owned()];
    args.extend(extra.iter().map(|s| (*s).to_owned()));
    curl(args).await
}

/// Sends raw bytes to the proxy and returns the status of the first answer.
async fn raw(addr: SocketAddr, bytes: &[u8]) -> u16 {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream.write_all(bytes).await.unwrap();
    let mut buf = vec![0u8; 4096];
    let n = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut buf))
        .await
        .unwrap()
        .unwrap();
    let text = String::from_utf8_lossy(&buf[..n]);
    text.split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

fn basic(token: &JobToken) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(format!("job:{}", token.expose()))
}

/// Sends raw bytes and reads until the proxy closes the connection (or 5 s pass).
async fn raw_until_close(addr: SocketAddr, bytes: &[u8]) -> String {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream.write_all(bytes).await.unwrap();
    let mut out = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut out)).await;
    String::from_utf8_lossy(&out).into_owned()
}

/// A response read off a raw connection.
#[derive(Debug)]
struct RawResponse {
    status: u16,
    /// The head, lower-cased.
    head: String,
    /// The body, de-chunked when it was chunked.
    body: Vec<u8>,
}

/// Sends raw bytes (a request that asks for `Connection: close`) and reads the whole
/// answer.
async fn raw_response(addr: SocketAddr, bytes: &[u8]) -> RawResponse {
    let text = raw_until_close_bytes(addr, bytes).await;
    parse_response(&text)
}

async fn raw_until_close_bytes(addr: SocketAddr, bytes: &[u8]) -> Vec<u8> {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream.write_all(bytes).await.unwrap();
    let mut out = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut out)).await;
    out
}

fn parse_response(bytes: &[u8]) -> RawResponse {
    let split = bytes
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("no response head in {:?}", String::from_utf8_lossy(bytes)));
    let head = String::from_utf8_lossy(&bytes[..split]).to_ascii_lowercase();
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let mut body = bytes[split + 4..].to_vec();
    if head.contains("transfer-encoding: chunked") {
        body = dechunk(&body);
    }
    RawResponse { status, head, body }
}

fn dechunk(mut data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let Some(line_end) = data.windows(2).position(|w| w == b"\r\n") else {
            return out;
        };
        let size_text = String::from_utf8_lossy(&data[..line_end]).to_string();
        let size = usize::from_str_radix(size_text.trim(), 16).unwrap_or(0);
        if size == 0 {
            return out;
        }
        let start = line_end + 2;
        out.extend_from_slice(&data[start..start + size]);
        data = &data[start + size + 2..];
    }
}

/// A plain-HTTP request through the proxy with the harness's token, asking for the
/// connection to close after the answer.
fn proxied_request(
    h: &Harness,
    method: &str,
    url: &str,
    extra_headers: &str,
    body: &[u8],
) -> Vec<u8> {
    let mut request = format!(
        "{method} {url} HTTP/1.1\r\nHost: x\r\nProxy-Authorization: Basic {}\r\nConnection: close\r\n{extra_headers}",
        basic(&h.token)
    );
    if !body.is_empty() || method == "POST" {
        request.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    request.push_str("\r\n");
    let mut bytes = request.into_bytes();
    bytes.extend_from_slice(body);
    bytes
}

fn gzip(data: &[u8]) -> Vec<u8> {
    use std::io::Write as _;
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(data).unwrap();
    encoder.finish().unwrap()
}

fn gunzip(data: &[u8]) -> Vec<u8> {
    use std::io::Read as _;
    let mut out = Vec::new();
    flate2::read::MultiGzDecoder::new(data)
        .read_to_end(&mut out)
        .unwrap();
    out
}

/// Reads one response with a `Content-Length` body (or none) off a kept-alive
/// connection.
async fn read_one_response(stream: &mut TcpStream) -> RawResponse {
    let mut buf = Vec::new();
    let mut byte = [0u8; 1];
    while !buf.ends_with(b"\r\n\r\n") {
        let n = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut byte))
            .await
            .expect("response head in time")
            .unwrap();
        assert_eq!(
            n,
            1,
            "connection closed after {:?}",
            String::from_utf8_lossy(&buf)
        );
        buf.push(byte[0]);
    }
    let mut response = parse_response(&buf);
    let length = response
        .head
        .lines()
        .find_map(|l| l.strip_prefix("content-length: "))
        .and_then(|v| v.trim().parse::<usize>().ok())
        .unwrap_or(0);
    let mut body = vec![0u8; length];
    tokio::time::timeout(Duration::from_secs(5), stream.read_exact(&mut body))
        .await
        .expect("response body in time")
        .unwrap();
    response.body = body;
    response
}

/// An upstream written on raw sockets, for behaviour a well-behaved server never
/// shows: `serve(stream, n)` handles the n-th connection (from 0).
async fn spawn_raw_upstream<F, Fut>(serve: F) -> SocketAddr
where
    F: Fn(TcpStream, usize) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let mut n = 0;
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(serve(stream, n));
            n += 1;
        }
    });
    addr
}

/// Reads one request (head and `Content-Length` body) off a raw upstream connection;
/// `None` when the peer closed first.
async fn read_request(stream: &mut TcpStream) -> Option<(String, Vec<u8>)> {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if stream.read(&mut byte).await.ok()? == 0 {
            return None;
        }
        head.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&head).to_ascii_lowercase();
    let length = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length: "))
        .and_then(|v| v.trim().parse::<usize>().ok())
        .unwrap_or(0);
    let mut body = vec![0u8; length];
    stream.read_exact(&mut body).await.ok()?;
    Some((head, body))
}
