//! `http-request`: the tool's outbound HTTP, checked and connected by the host.
//!
//! Order of checks: URL syntax, scheme, port, userinfo and traversal, the
//! tool's HTTP allowlist and the SSRF name rules (all without a lookup); the
//! operator's network grant for `host:port`; the request's headers; a leak scan
//! of URL, headers and body; the rate limit; credential injection (the secret
//! must be declared and granted); one resolution whose every answer passes the
//! SSRF address rules; a connection to a checked address (TLS verified against
//! the URL's host); the response read up to its cap; a leak scan that redacts
//! headers and body (the injected values and every built-in credential
//! pattern) before the tool sees them. Redirects are not followed: the tool
//! gets the 3xx and must ask again, through the same checks.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::header::{HeaderName, HeaderValue};
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use ironclaw_audit::{Event, EventKind};
use ironclaw_policy::{Denied, SsrfPolicy, Verdict};
use ironclaw_safety::{LeakDetector, MIN_SECRET_LEN};
use ironclaw_secrets::{CredentialLocation, CredentialMapping, SecretValue};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;

use crate::bindings::ironclaw::tool::host::{HostError, Request, Response};
use crate::host::{CallContext, HostInner, audit, audit_denial};

/// Headers a tool may not set: the host owns framing, the connection and the
/// destination.
const FORBIDDEN_HEADERS: &[&str] = &[
    "host",
    "content-length",
    "transfer-encoding",
    "connection",
    "keep-alive",
    "upgrade",
    "te",
    "trailer",
    "expect",
];

/// Most request headers a tool may send.
const MAX_HEADERS: usize = 64;

/// Largest request body a tool may send.
const MAX_REQUEST_BODY: usize = 8 << 20;

pub(crate) fn http_request(
    inner: &Arc<HostInner>,
    cx: &CallContext,
    request: Request,
) -> Result<Response, HostError> {
    let tool = &cx.tool;
    let method = request.method.to_ascii_uppercase();
    let block = |resource: &str, reason: &str| {
        let reason = inner.leak.redact(reason);
        audit_denial(
            inner,
            cx,
            EventKind::NetworkBlock,
            "http_request",
            resource,
            &reason,
        );
        HostError::NetworkBlocked(reason)
    };

    // 1. The URL against the allowlist and the SSRF name rules, without a lookup.
    let (url, _rule) = tool
        .egress
        .check_static(&method, &request.url)
        .map_err(|d| block(&resource_of(&request.url), &denied_text(&d)))?;
    let host = url.host_str().to_owned();
    let port = url.port();
    let resource = format!("{host}:{port}");

    // 2. The operator's grant for host:port.
    if let Verdict::Deny { reason, .. } = tool.network.check(&host, port) {
        return Err(block(
            &resource,
            &format!("{resource} not granted: {reason}"),
        ));
    }

    // 3. Headers the tool may set.
    if request.headers.len() > MAX_HEADERS {
        return Err(HostError::Invalid(format!(
            "{} headers, at most {MAX_HEADERS}",
            request.headers.len()
        )));
    }
    let body = request.body.unwrap_or_default();
    if body.len() > MAX_REQUEST_BODY {
        return Err(HostError::TooLarge(MAX_REQUEST_BODY as u64));
    }
    let mut headers = Vec::with_capacity(request.headers.len());
    for (name, value) in &request.headers {
        let name = HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| HostError::Invalid(format!("header name {name:?} is invalid")))?;
        if FORBIDDEN_HEADERS.contains(&name.as_str()) || name.as_str().starts_with("proxy-") {
            return Err(HostError::Invalid(format!(
                "header {name} is set by the host"
            )));
        }
        let value = HeaderValue::from_str(value)
            .map_err(|_| HostError::Invalid(format!("header {name} has an invalid value")))?;
        headers.push((name, value));
    }

    // 4. Credentials that apply to this host: declared, and their secret granted.
    let mut injections: Vec<(CredentialMapping, SecretValue)> = Vec::new();
    let credentials = tool
        .capabilities
        .http
        .as_ref()
        .map(|h| h.credentials.clone())
        .unwrap_or_default();
    for (label, cred) in credentials {
        let mapping = CredentialMapping {
            secret_name: cred.secret_name.clone(),
            location: location(&cred.location),
            host_patterns: cred.host_patterns.clone(),
        };
        if !mapping.allows_host(&host) {
            continue;
        }
        if !tool.grants.secrets.contains(&cred.secret_name) {
            audit_denial(
                inner,
                cx,
                EventKind::AllowlistViolation,
                "http_request",
                &format!("secret:{}", cred.secret_name),
                "credential secret not granted",
            );
            return Err(HostError::NotAllowed(format!(
                "credential {label}: secret {} is not granted",
                cred.secret_name
            )));
        }
        let Some((store, ns)) = &inner.secrets else {
            return Err(HostError::Failed(format!(
                "credential {label}: no secret store is configured"
            )));
        };
        let value = store
            .get(ns, &cred.secret_name)
            .map_err(|e| HostError::Failed(format!("credential {label}: {e}")))?;
        injections.push((mapping, value));
    }
    let known = known_secrets(&injections);

    // 5. Leak scan of what the tool wrote, before anything leaves.
    let mut scanned = Vec::with_capacity(url.as_str().len() + body.len() + 256);
    scanned.extend_from_slice(url.as_str().as_bytes());
    for (name, value) in &headers {
        scanned.push(b'\n');
        scanned.extend_from_slice(name.as_str().as_bytes());
        scanned.extend_from_slice(b": ");
        scanned.extend_from_slice(value.as_bytes());
    }
    scanned.push(b'\n');
    scanned.extend_from_slice(&body);
    let mut findings = inner.leak.scan(&scanned);
    if let Some(k) = &known {
        findings.extend(k.scan(&scanned));
    }
    if !findings.is_empty() {
        let mut kinds: Vec<&str> = findings.iter().map(|f| f.kind()).collect();
        kinds.sort_unstable();
        kinds.dedup();
        let kinds = kinds.join(",");
        audit(
            inner,
            Event::builder(EventKind::LeakBlocked)
                .skill(&tool.name)
                .action("http_request")
                .resource(&resource)
                .blocked(true)
                .field("kinds", kinds.clone()),
        );
        return Err(HostError::LeakBlocked(format!(
            "the request carries a secret ({kinds})"
        )));
    }

    // 6. Rate limit.
    if let Some((gcra, tat)) = &tool.rate {
        let now = u64::try_from(inner.started.elapsed().as_nanos()).unwrap_or(u64::MAX);
        let mut tat = tat
            .lock()
            .map_err(|_| HostError::Failed("rate state".into()))?;
        if gcra.check(&mut tat, now).is_err() {
            tracing::warn!(tool = tool.name, "http rate limit exceeded");
            return Err(HostError::RateLimited);
        }
    }

    // 7. The request, with credentials injected at the host.
    let mut builder = http::Request::builder()
        .method(method.as_str())
        .uri(url.as_str());
    for (name, value) in headers {
        builder = builder.header(name, value);
    }
    let mut outgoing = builder
        .body(())
        .map_err(|e| HostError::Invalid(format!("request: {e}")))?;
    // The mapping's host patterns were checked above, and the URL can carry no
    // userinfo (the policy refuses it).
    for (mapping, value) in &injections {
        ironclaw_secrets::apply_credential(
            &mut outgoing,
            &mapping.secret_name,
            &mapping.location,
            value,
        )
        .map_err(|e| HostError::Failed(e.to_string()))?;
    }

    // 8. One resolution, every answer checked.
    let addrs = resolve(inner, &host, port).map_err(|d| block(&resource, &denied_text(&d)))?;

    // 9. Connect to a checked address, send, read up to the cap.
    let timeout = [
        tool.http_timeout,
        request
            .timeout_ms
            .map_or(Duration::MAX, |ms| Duration::from_millis(u64::from(ms))),
        cx.remaining(),
    ]
    .into_iter()
    .min()
    .unwrap_or(Duration::ZERO);
    let tls = (url.scheme() == "https")
        .then(|| {
            rustls::pki_types::ServerName::try_from(host.clone())
                .map(|name| (Arc::clone(&inner.net.tls), name))
                .map_err(|_| HostError::Invalid(format!("{host} is not a valid tls name")))
        })
        .transpose()?;
    let (parts, ()) = outgoing.into_parts();
    let mut wire = http::Request::from_parts(parts, Full::new(Bytes::from(body)));
    let origin_form = wire
        .uri()
        .path_and_query()
        .map_or_else(|| "/".to_owned(), |p| p.as_str().to_owned());
    let host_header = if url.has_non_default_port() {
        format!("{host}:{port}")
    } else {
        host.clone()
    };
    *wire.uri_mut() = origin_form
        .parse()
        .map_err(|e| HostError::Invalid(format!("request target: {e}")))?;
    wire.headers_mut().insert(
        http::header::HOST,
        HeaderValue::from_str(&host_header)
            .map_err(|_| HostError::Invalid(format!("host {host}")))?,
    );
    let max = tool.max_response_bytes;
    let fetched = block_on(inner, timeout, send(addrs, tls, wire, max))?;

    // 10. Nothing secret reaches the tool: redact headers and body.
    let (status, headers, body) = fetched;
    let mut redactions = 0usize;
    let mut clean = |text: &str| -> String {
        let mut out = text.to_owned();
        if let Some(k) = &known
            && !k.scan_str(&out).is_empty()
        {
            redactions += 1;
            out = k.redact(&out);
        }
        if !inner.leak.scan_str(&out).is_empty() {
            redactions += 1;
            out = inner.leak.redact(&out);
        }
        out
    };
    let headers: Vec<(String, String)> = headers
        .iter()
        .map(|(n, v)| {
            (
                n.as_str().to_owned(),
                clean(&String::from_utf8_lossy(v.as_bytes())),
            )
        })
        .collect();
    let body = match String::from_utf8(body) {
        Ok(text) => clean(&text).into_bytes(),
        Err(e) => {
            let bytes = e.into_bytes();
            let found = !inner.leak.scan(&bytes).is_empty()
                || known.as_ref().is_some_and(|k| !k.scan(&bytes).is_empty());
            if found {
                audit(
                    inner,
                    Event::builder(EventKind::LeakBlocked)
                        .skill(&tool.name)
                        .action("http_response")
                        .resource(&resource)
                        .blocked(true)
                        .field("reason", "binary response body carries a secret"),
                );
                return Err(HostError::LeakBlocked(
                    "the response body carries a secret".into(),
                ));
            }
            bytes
        }
    };
    if redactions > 0 {
        audit(
            inner,
            Event::builder(EventKind::LeakBlocked)
                .skill(&tool.name)
                .action("http_response")
                .resource(&resource)
                .blocked(true)
                .field("redacted", redactions as u64),
        );
    }
    Ok(Response {
        status,
        headers,
        body,
    })
}

/// The audit resource of a URL that could not be parsed: its host if one can
/// be seen, never the whole URL (it may carry a credential).
fn resource_of(raw: &str) -> String {
    let after = raw.split_once("://").map_or(raw, |(_, rest)| rest);
    let authority = after.split(['/', '?', '#']).next().unwrap_or("");
    let host = authority.rsplit('@').next().unwrap_or(authority);
    let host: String = host.chars().take(253).collect();
    if host.is_empty() {
        "url:invalid".into()
    } else {
        host
    }
}

fn denied_text(d: &Denied) -> String {
    format!("{}: {}", d.kind, d.detail)
}

fn location(l: &ironclaw_policy::CredentialLocation) -> CredentialLocation {
    match l {
        ironclaw_policy::CredentialLocation::Bearer => CredentialLocation::Bearer,
        ironclaw_policy::CredentialLocation::Basic { username } => CredentialLocation::Basic {
            username: username.clone(),
        },
        ironclaw_policy::CredentialLocation::Header { name } => {
            CredentialLocation::Header { name: name.clone() }
        }
        ironclaw_policy::CredentialLocation::Query { param } => CredentialLocation::Query {
            param: param.clone(),
        },
    }
}

/// A detector for the values about to be injected (and their encodings), so a
/// response that echoes one back is redacted.
fn known_secrets(injections: &[(CredentialMapping, SecretValue)]) -> Option<LeakDetector> {
    let values: Vec<&[u8]> = injections
        .iter()
        .map(|(_, v)| v.expose())
        .filter(|v| v.len() >= MIN_SECRET_LEN)
        .collect();
    if values.is_empty() {
        return None;
    }
    LeakDetector::builder()
        .builtin_patterns(false)
        .known_secrets(values)
        .build()
        .ok()
}

/// Resolves once; every answer must pass the SSRF address rules, except the
/// exact addresses the embedder exempted for tests.
fn resolve(inner: &HostInner, host: &str, port: u16) -> Result<Vec<SocketAddr>, Denied> {
    let ssrf = SsrfPolicy::new();
    if inner.net.exempt_unsafe.is_empty() {
        return ssrf.resolve_checked(inner.net.resolver.as_ref(), host, port);
    }
    let literal = host.trim_start_matches('[').trim_end_matches(']');
    let ips = match literal.parse::<std::net::IpAddr>() {
        Ok(ip) => vec![ip],
        Err(_) => {
            ssrf.check_name(host)?;
            inner.net.resolver.resolve(host, port).map_err(|e| {
                Denied::new(
                    ironclaw_policy::DenyKind::DoesNotResolve,
                    format!("host {host} does not resolve: {e}"),
                )
            })?
        }
    };
    let mut out = Vec::with_capacity(ips.len());
    for ip in ips {
        let addr = SocketAddr::new(ip, port);
        if !inner.net.exempt_unsafe.contains(&addr) {
            ssrf.check_ip(ip)?;
        }
        out.push(addr);
    }
    if out.is_empty() {
        return Err(Denied::new(
            ironclaw_policy::DenyKind::DoesNotResolve,
            format!("host {host} has no address"),
        ));
    }
    Ok(out)
}

type Fetched = (u16, http::HeaderMap, Vec<u8>);

/// Runs `fut` on the host's HTTP runtime and waits for it, at most `timeout`.
fn block_on<F>(inner: &HostInner, timeout: Duration, fut: F) -> Result<Fetched, HostError>
where
    F: std::future::Future<Output = Result<Fetched, HostError>> + Send + 'static,
{
    if timeout.is_zero() {
        return Err(HostError::Timeout);
    }
    let runtime = inner.net.runtime.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("ironclaw-wasm-http")
            .enable_all()
            .build()
            .map_err(|e| e.to_string())
    });
    let runtime = runtime
        .as_ref()
        .map_err(|e| HostError::Failed(format!("http runtime: {e}")))?;
    let (tx, rx) = std::sync::mpsc::sync_channel(1);
    runtime.spawn(async move {
        let result = match tokio::time::timeout(timeout, fut).await {
            Ok(result) => result,
            Err(_) => Err(HostError::Timeout),
        };
        let _ = tx.send(result);
    });
    rx.recv()
        .map_err(|_| HostError::Failed("http task ended".into()))?
}

async fn send(
    addrs: Vec<SocketAddr>,
    tls: Option<(
        Arc<rustls::ClientConfig>,
        rustls::pki_types::ServerName<'static>,
    )>,
    request: http::Request<Full<Bytes>>,
    max: u64,
) -> Result<Fetched, HostError> {
    let mut last = String::from("no address");
    let mut stream = None;
    for addr in &addrs {
        match TcpStream::connect(addr).await {
            Ok(s) => {
                let _ = s.set_nodelay(true);
                stream = Some(s);
                break;
            }
            Err(e) => last = format!("connect {addr}: {e}"),
        }
    }
    let Some(stream) = stream else {
        return Err(HostError::Failed(last));
    };
    match tls {
        Some((config, name)) => {
            let tls = tokio_rustls::TlsConnector::from(config)
                .connect(name, stream)
                .await
                .map_err(|e| HostError::Failed(format!("tls: {e}")))?;
            exchange(tls, request, max).await
        }
        None => exchange(stream, request, max).await,
    }
}

async fn exchange<S>(
    io: S,
    request: http::Request<Full<Bytes>>,
    max: u64,
) -> Result<Fetched, HostError>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(io))
        .await
        .map_err(|e| HostError::Failed(format!("http: {e}")))?;
    let conn = tokio::spawn(conn);
    let response = sender
        .send_request(request)
        .await
        .map_err(|e| HostError::Failed(format!("http: {e}")))?;
    let (parts, mut body) = response.into_parts();
    if let Some(len) = parts
        .headers
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
        && len > max
    {
        conn.abort();
        return Err(HostError::TooLarge(max));
    }
    let mut out = Vec::new();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| HostError::Failed(format!("http body: {e}")))?;
        if let Ok(data) = frame.into_data() {
            if (out.len() + data.len()) as u64 > max {
                conn.abort();
                return Err(HostError::TooLarge(max));
            }
            out.extend_from_slice(&data);
        }
    }
    conn.abort();
    Ok((parts.status.as_u16(), parts.headers, out))
}
