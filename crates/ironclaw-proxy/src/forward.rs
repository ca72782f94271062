//! Plain-HTTP forwarding (absolute-form requests): framing checks, allowlist, body
//! limit, leak scan of what the job sends, credential injection, resolve-check-connect,
//! and, when a credential was injected, a scan of the response so the job cannot read
//! the credential back.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use bytes::Bytes;
use http::header::{self, HeaderValue};
use http::uri::{Authority, PathAndQuery, Scheme};
use http::{Request, Response, StatusCode, Uri};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use ironclaw_safety::LeakDetector;
use ironclaw_secrets::{SecretValue, apply_credential};

use crate::coding::{Coding, DecodeError, content_coding, decode, transfer_coding_is_plain};
use crate::headers::{check_framing, strip_hop_by_hop};
use crate::job::{JobState, normalized};
use crate::pool::Upstream;
use crate::server::{
    ProxyBody, Shared, allowed_rule, audit_block, audit_leak, audit_resource, authority_port,
    connect_checked, deny, deny_resolution, deny_violation, proxy_auth_required, resolve,
    text_response, violation,
};

pub(crate) async fn handle(
    shared: &Arc<Shared>,
    job: &Arc<JobState>,
    request: Request<Incoming>,
) -> Response<ProxyBody> {
    let uri = request.uri().clone();
    let resource = audit_resource(&uri);
    if let Err(framing) = check_framing(request.headers()) {
        return deny(
            shared,
            job,
            &resource,
            StatusCode::BAD_REQUEST,
            framing.reason(),
        )
        .await;
    }
    if uri.scheme() == Some(&Scheme::HTTPS) {
        return deny(
            shared,
            job,
            &resource,
            StatusCode::BAD_REQUEST,
            "https goes through CONNECT",
        )
        .await;
    }
    if uri.scheme() != Some(&Scheme::HTTP) {
        return deny(
            shared,
            job,
            &resource,
            StatusCode::BAD_REQUEST,
            "only absolute http:// requests and CONNECT are proxied",
        )
        .await;
    }
    let Some(authority) = uri.authority().cloned() else {
        return deny(
            shared,
            job,
            &resource,
            StatusCode::BAD_REQUEST,
            "request has no host",
        )
        .await;
    };
    if authority.as_str().contains('@') {
        return deny(
            shared,
            job,
            &resource,
            StatusCode::BAD_REQUEST,
            "userinfo in the url is refused",
        )
        .await;
    }
    let port = match authority_port(&authority) {
        Ok(port) => port.unwrap_or(80),
        Err(why) => return deny(shared, job, &resource, StatusCode::BAD_REQUEST, why).await,
    };
    let Some(host) = normalized(authority.host()) else {
        return deny(
            shared,
            job,
            &resource,
            StatusCode::BAD_REQUEST,
            "invalid host",
        )
        .await;
    };
    let host_port = format!("{host}:{port}");
    if allowed_rule(shared, job, &host, port, 80).is_none() {
        let reason = if job.grant.network.is_empty() && shared.global.is_empty() {
            "no hosts are allowed for this job (empty allowlist)"
        } else {
            "host and port not in the job's allowlist"
        };
        return deny_violation(shared, job, &host_port, StatusCode::FORBIDDEN, reason).await;
    }
    let limit = job.limits.max_body_bytes;
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|len| len > limit as u64) {
        return deny(
            shared,
            job,
            &host_port,
            StatusCode::PAYLOAD_TOO_LARGE,
            "request body over the limit",
        )
        .await;
    }
    let (mut parts, body) = request.into_parts();
    let body = match Limited::new(body, limit).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(_) => {
            return deny(
                shared,
                job,
                &host_port,
                StatusCode::PAYLOAD_TOO_LARGE,
                "request body over the limit or unreadable",
            )
            .await;
        }
    };
    strip_hop_by_hop(&mut parts.headers);

    // A compressed body is scanned decoded (the upstream gets it as sent). The decoded
    // size is capped by the same body limit, so a small bomb cannot fill memory.
    let decoded = match content_coding(&parts.headers) {
        Ok(Coding::Identity) => None,
        Ok(coding) => match decode_blocking(coding, body.clone(), limit).await {
            Ok(decoded) => Some(decoded),
            Err(DecodeError::TooLarge) => {
                let reason = "decoded request body over the limit";
                return deny(
                    shared,
                    job,
                    &host_port,
                    StatusCode::PAYLOAD_TOO_LARGE,
                    reason,
                )
                .await;
            }
            Err(DecodeError::Corrupt) => {
                let reason = "request body does not match its content-encoding";
                return deny(shared, job, &host_port, StatusCode::BAD_REQUEST, reason).await;
            }
        },
        Err(name) => {
            let reason = format!("request content-encoding {name:?} cannot be scanned for leaks");
            let status = StatusCode::UNSUPPORTED_MEDIA_TYPE;
            return deny(shared, job, &host_port, status, &reason).await;
        }
    };

    // Scan what the job itself sends, before any credential of ours is added.
    if let Some(kinds) = leaks_in(shared, &parts, &[&body, decoded.as_deref().unwrap_or(&[])]) {
        job.count_denied();
        audit_leak(shared, job, &host_port, "request", &kinds.join(",")).await;
        violation(shared, job).await;
        return text_response(
            StatusCode::FORBIDDEN,
            "ironclaw proxy: request blocked: it contains a secret\n",
        );
    }

    let mut outbound = Request::from_parts(parts, Full::new(body.clone()));
    let injected = match inject_credentials(shared, job, &host, &mut outbound).await {
        Ok(values) => values,
        Err(why) => return deny(shared, job, &host_port, StatusCode::BAD_GATEWAY, &why).await,
    };
    if !injected.is_empty() {
        // The response is scanned for the credential, which a compressed body would
        // hide: ask for no content coding (and refuse one the upstream uses anyway and
        // the proxy cannot undo, below).
        outbound.headers_mut().insert(
            header::ACCEPT_ENCODING,
            HeaderValue::from_static("identity"),
        );
    }
    if let Err(why) = to_origin_form(&mut outbound, &authority) {
        return deny(shared, job, &host_port, StatusCode::BAD_REQUEST, why).await;
    }

    let addrs = match resolve(shared, &host, port).await {
        Ok(addrs) => addrs,
        Err(resolution) => return deny_resolution(shared, job, &host_port, resolution).await,
    };
    let (head, _) = outbound.into_parts();
    let build = || {
        let mut request = Request::new(Full::new(body.clone()));
        *request.method_mut() = head.method.clone();
        *request.uri_mut() = head.uri.clone();
        *request.version_mut() = head.version;
        *request.headers_mut() = head.headers.clone();
        request
    };
    if job.is_removed() {
        // Removed while this request was being checked: its token is no longer valid.
        audit_block(shared, Some(job), &host_port, "job removed").await;
        return proxy_auth_required();
    }
    let pooled = take_pooled(shared, job, &addrs).await;
    let reused = pooled.is_some();
    let (mut upstream, mut addr) = match pooled {
        Some(pooled) => pooled,
        None => match open_upstream(shared, &addrs).await {
            Ok(opened) => opened,
            Err(why) => return deny(shared, job, &host_port, StatusCode::BAD_GATEWAY, &why).await,
        },
    };
    job.count_allowed();
    job.bytes_up.fetch_add(body.len() as u64, Ordering::Relaxed);
    let timeout = shared.config.timeouts.response;
    let mut sent = tokio::time::timeout(timeout, upstream.sender.try_send_request(build())).await;
    if reused && let Ok(Err(failed)) = &mut sent {
        // The pooled connection was closed by the upstream while idle. Once more on a
        // fresh connection to a checked address, but only when the request never
        // left, or when sending it twice is harmless: an idempotent method without a
        // body. A POST the upstream may have received is never sent again.
        let unsent = failed.take_message().is_some();
        if unsent || may_resend(&head.method, &body) {
            (upstream, addr) = match open_upstream(shared, &addrs).await {
                Ok(opened) => opened,
                Err(why) => {
                    return deny(shared, job, &host_port, StatusCode::BAD_GATEWAY, &why).await;
                }
            };
            sent = tokio::time::timeout(timeout, upstream.sender.try_send_request(build())).await;
        }
    }
    let response = match sent {
        Ok(Ok(response)) => response,
        Ok(Err(failed)) => {
            let text = format!("ironclaw proxy: upstream error: {}\n", failed.error());
            return text_response(StatusCode::BAD_GATEWAY, &text);
        }
        Err(_) => {
            let reason = "upstream response timeout";
            return deny(shared, job, &host_port, StatusCode::GATEWAY_TIMEOUT, reason).await;
        }
    };
    // The connection becomes ready again once this response's body is read.
    let (mut parts, body) = response.into_parts();
    if injected.is_empty() {
        strip_hop_by_hop(&mut parts.headers);
        // Stream the body to the job; the connection goes back to the pool once the
        // body has been read to its end.
        let body = ReturnToPool {
            inner: body,
            job: Arc::clone(job),
            slot: Some((Arc::clone(shared), addr, upstream)),
        }
        .boxed();
        return Response::from_parts(parts, body);
    }
    // A credential went out with this request: read the response whole, undo its
    // content coding, and take out every spelling of the credential before the job
    // sees the response. A coding the proxy cannot undo is refused, never passed on.
    // A response that has no body by definition (to HEAD; 1xx, 204, 304) keeps its
    // headers as they are (redacted): its Content-Length describes a body that does
    // not follow, and there is nothing to decode.
    let bodiless = head.method == http::Method::HEAD
        || parts.status.is_informational()
        || parts.status == StatusCode::NO_CONTENT
        || parts.status == StatusCode::NOT_MODIFIED;
    if !bodiless && !transfer_coding_is_plain(&parts.headers) {
        let reason = "upstream response uses a transfer-encoding the proxy cannot scan";
        return deny(shared, job, &host_port, StatusCode::BAD_GATEWAY, reason).await;
    }
    let coding = match content_coding(&parts.headers) {
        _ if bodiless => Coding::Identity,
        Ok(coding) => coding,
        Err(name) => {
            let reason = format!(
                "upstream response has content-encoding {name:?}, which the proxy cannot scan"
            );
            return deny(shared, job, &host_port, StatusCode::BAD_GATEWAY, &reason).await;
        }
    };
    strip_hop_by_hop(&mut parts.headers);
    let limit = job.limits.max_response_bytes;
    let body = match Limited::new(body, limit).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(_) => {
            return deny(
                shared,
                job,
                &host_port,
                StatusCode::BAD_GATEWAY,
                "upstream response over the scan limit",
            )
            .await;
        }
    };
    job.bytes_down
        .fetch_add(body.len() as u64, Ordering::Relaxed);
    shared.pool.put(job, addr, upstream);
    let body = if coding == Coding::Identity {
        body
    } else {
        match decode_blocking(coding, body, limit).await {
            Ok(decoded) => {
                parts.headers.remove(header::CONTENT_ENCODING);
                decoded
            }
            Err(err) => {
                let reason = match err {
                    DecodeError::TooLarge => "decoded upstream response over the scan limit",
                    DecodeError::Corrupt => {
                        "upstream response body does not match its content-encoding"
                    }
                };
                return deny(shared, job, &host_port, StatusCode::BAD_GATEWAY, reason).await;
            }
        }
    };
    let (body, body_found) = redact_values(&injected, body);
    let (headers, headers_found) = redact_headers(&injected, std::mem::take(&mut parts.headers));
    parts.headers = headers;
    if body_found || headers_found {
        audit_leak(shared, job, &host_port, "response", "injected_credential").await;
    }
    if !bodiless {
        parts
            .headers
            .insert(header::CONTENT_LENGTH, HeaderValue::from(body.len()));
    }
    Response::from_parts(
        parts,
        Full::new(body).map_err(|never| match never {}).boxed(),
    )
}

/// Whether a request may be sent again after a connection failed under it: an
/// idempotent method (RFC 9110 section 9.2.2) without a body.
fn may_resend(method: &http::Method, body: &Bytes) -> bool {
    use http::Method;
    body.is_empty()
        && [
            Method::GET,
            Method::HEAD,
            Method::OPTIONS,
            Method::PUT,
            Method::DELETE,
            Method::TRACE,
        ]
        .contains(method)
}

/// A pooled connection to one of the checked addresses that is ready for a request.
async fn take_pooled(
    shared: &Shared,
    job: &JobState,
    addrs: &[std::net::SocketAddr],
) -> Option<(Upstream, std::net::SocketAddr)> {
    for addr in addrs {
        while let Some(mut upstream) = shared.pool.take(job, *addr) {
            // A released connection turns ready as soon as its task has seen the end
            // of the previous response; one that does not within a moment is dropped.
            let ready = tokio::time::timeout(POOL_READY_WAIT, upstream.sender.ready()).await;
            if matches!(ready, Ok(Ok(()))) {
                return Some((upstream, *addr));
            }
        }
    }
    None
}

/// How long a released pooled connection may take to become ready again.
const POOL_READY_WAIT: std::time::Duration = std::time::Duration::from_millis(50);

/// A response body that counts the bytes it carries and hands its upstream connection
/// back to the pool when it has been read to the end (not when it is dropped early:
/// a connection with unread bytes is not reusable).
struct ReturnToPool {
    inner: Incoming,
    job: Arc<JobState>,
    slot: Option<(Arc<Shared>, std::net::SocketAddr, Upstream)>,
}

impl ReturnToPool {
    fn release(&mut self) {
        if let Some((shared, addr, upstream)) = self.slot.take() {
            shared.pool.put(&self.job, addr, upstream);
        }
    }
}

impl Drop for ReturnToPool {
    fn drop(&mut self) {
        // An empty body may never be polled at all.
        if hyper::body::Body::is_end_stream(&self.inner) {
            self.release();
        }
    }
}

impl hyper::body::Body for ReturnToPool {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<hyper::body::Frame<Bytes>, hyper::Error>>> {
        let polled = std::pin::Pin::new(&mut self.inner).poll_frame(cx);
        match &polled {
            std::task::Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    self.job
                        .bytes_down
                        .fetch_add(data.len() as u64, Ordering::Relaxed);
                }
            }
            std::task::Poll::Ready(None) => {
                if let Some((shared, addr, upstream)) = self.slot.take() {
                    shared.pool.put(&self.job, addr, upstream);
                }
            }
            std::task::Poll::Ready(Some(Err(_))) => self.slot = None,
            std::task::Poll::Pending => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> hyper::body::SizeHint {
        self.inner.size_hint()
    }
}

/// Connects to the first checked address that answers and starts an HTTP/1.1 client
/// connection on it.
async fn open_upstream(
    shared: &Shared,
    addrs: &[std::net::SocketAddr],
) -> Result<(Upstream, std::net::SocketAddr), String> {
    let (stream, addr) = connect_checked(shared, addrs).await?;
    let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|err| format!("upstream handshake failed: {err}"))?;
    tokio::spawn(async move {
        let _ = connection.await;
    });
    Ok((Upstream::new(sender), addr))
}

/// The kinds of leak found in the request line, headers and body, if any.
fn leaks_in(
    shared: &Shared,
    parts: &http::request::Parts,
    bodies: &[&[u8]],
) -> Option<Vec<String>> {
    let detector = Arc::clone(&shared.leaks.read().unwrap_or_else(|e| e.into_inner()));
    let mut head = Vec::with_capacity(256);
    head.extend_from_slice(parts.method.as_str().as_bytes());
    head.push(b' ');
    head.extend_from_slice(parts.uri.to_string().as_bytes());
    head.push(b'\n');
    for (name, value) in &parts.headers {
        head.extend_from_slice(name.as_str().as_bytes());
        head.extend_from_slice(b": ");
        head.extend_from_slice(value.as_bytes());
        head.push(b'\n');
    }
    // What the upstream will read after percent-decoding (and `+` as space in forms)
    // is scanned too: the request target twice decoded, bodies once.
    let mut decoded = percent_decoded(&head, 2);
    // The host is looked up by name: scanned upper-cased too, since a name's case is
    // the client's choice and credential patterns are mostly upper case.
    if let Some(host) = parts.uri.host() {
        decoded.push(host.to_ascii_uppercase().into_bytes());
    }
    for body in bodies {
        decoded.extend(percent_decoded(body, 1));
    }
    let mut kinds: Vec<String> = std::iter::once(&head[..])
        .chain(bodies.iter().copied())
        .chain(decoded.iter().map(Vec::as_slice))
        .flat_map(|text| detector.scan(text))
        .map(|finding| finding.kind().to_owned())
        .collect();
    kinds.sort();
    kinds.dedup();
    (!kinds.is_empty()).then_some(kinds)
}

/// Injects the job's credentials for `host`; returns the values injected.
async fn inject_credentials(
    shared: &Arc<Shared>,
    job: &Arc<JobState>,
    host: &str,
    request: &mut Request<Full<Bytes>>,
) -> Result<Vec<SecretValue>, String> {
    let mappings: Vec<_> = job
        .grant
        .credentials
        .iter()
        .filter(|mapping| mapping.allows_host(host))
        .cloned()
        .collect();
    if mappings.is_empty() {
        return Ok(Vec::new());
    }
    let Some((store, namespace)) = shared.secrets.clone() else {
        return Err("credentials are granted but the proxy has no secret store".to_owned());
    };
    let grant = job.grant.secrets.clone();
    let fetched = tokio::task::spawn_blocking(move || {
        let mut values = Vec::with_capacity(mappings.len());
        for mapping in mappings {
            if !grant.allows(&mapping.secret_name) {
                return Err(format!(
                    "secret {} is not granted to this job",
                    mapping.secret_name
                ));
            }
            let value = store
                .get(&namespace, &mapping.secret_name)
                .map_err(|e| format!("cannot read secret {}: {e}", mapping.secret_name))?;
            values.push((mapping, value));
        }
        Ok(values)
    })
    .await
    .map_err(|e| format!("secret lookup failed: {e}"))??;
    let mut injected = Vec::with_capacity(fetched.len());
    for (mapping, value) in fetched {
        apply_credential(request, &mapping.secret_name, &mapping.location, &value)
            .map_err(|e| e.to_string())?;
        injected.push(value);
    }
    Ok(injected)
}

/// Rewrites an absolute-form request to origin form for the upstream, with a `Host`
/// header that matches the URL (the job's own `Host` header cannot point elsewhere).
fn to_origin_form<B>(request: &mut Request<B>, authority: &Authority) -> Result<(), &'static str> {
    let path = request
        .uri()
        .path_and_query()
        .cloned()
        .unwrap_or_else(|| PathAndQuery::from_static("/"));
    let uri = Uri::builder()
        .path_and_query(path)
        .build()
        .map_err(|_| "invalid request path")?;
    *request.uri_mut() = uri;
    let host = HeaderValue::from_str(authority.as_str()).map_err(|_| "invalid host")?;
    request.headers_mut().insert(header::HOST, host);
    Ok(())
}

/// A detector for exactly these values (every encoding the leak detector knows).
fn detector_for(values: &[SecretValue]) -> Option<LeakDetector> {
    LeakDetector::builder()
        .builtin_patterns(false)
        .known_secrets(values.iter().map(|v| v.expose().to_vec()))
        .build()
        .ok()
}

const REDACTED: &[u8] = b"[REDACTED]";

fn redact_values(values: &[SecretValue], body: Bytes) -> (Bytes, bool) {
    let Some(detector) = detector_for(values) else {
        return (body, false);
    };
    let findings = detector.scan(&body);
    if findings.is_empty() {
        return (body, false);
    }
    let mut out = Vec::with_capacity(body.len());
    let mut at = 0;
    for finding in findings {
        let span = finding.span();
        if span.start < at {
            continue;
        }
        out.extend_from_slice(&body[at..span.start]);
        out.extend_from_slice(REDACTED);
        at = span.end;
    }
    out.extend_from_slice(&body[at..]);
    (Bytes::from(out), true)
}

fn redact_headers(values: &[SecretValue], headers: http::HeaderMap) -> (http::HeaderMap, bool) {
    let Some(detector) = detector_for(values) else {
        return (headers, false);
    };
    let mut found = false;
    let mut clean = http::HeaderMap::with_capacity(headers.len());
    for (name, value) in &headers {
        if detector.scan(value.as_bytes()).is_empty() {
            clean.append(name.clone(), value.clone());
        } else {
            found = true;
            clean.append(name.clone(), HeaderValue::from_static("[REDACTED]"));
        }
    }
    (clean, found)
}

/// Decodes a body off the async threads (decompression is CPU work), capped at `limit`
/// decoded bytes.
pub(crate) async fn decode_blocking(
    coding: Coding,
    body: Bytes,
    limit: usize,
) -> Result<Bytes, DecodeError> {
    tokio::task::spawn_blocking(move || decode(coding, &body, limit).map(Bytes::from))
        .await
        .unwrap_or(Err(DecodeError::Corrupt))
}

/// `text` percent-decoded, as is and with `+` read as a space, up to `rounds` times
/// (double encoding); only the spellings that differ from `text`.
fn percent_decoded(text: &[u8], rounds: usize) -> Vec<Vec<u8>> {
    let mut out: Vec<Vec<u8>> = Vec::new();
    if !text.iter().any(|&b| b == b'%' || b == b'+') {
        return out;
    }
    let plus_as_space: Vec<u8> = text
        .iter()
        .map(|&b| if b == b'+' { b' ' } else { b })
        .collect();
    for start in [text.to_vec(), plus_as_space] {
        let mut current = start;
        for _ in 0..rounds {
            let next: Vec<u8> = percent_encoding::percent_decode(&current).collect();
            if next == current {
                break;
            }
            current = next;
            if !out.contains(&current) {
                out.push(current.clone());
            }
        }
        if current != text && !out.contains(&current) {
            out.push(current);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_decoding_finds_every_spelling() {
        let decoded = |text: &str, rounds| -> Vec<String> {
            percent_decoded(text.as_bytes(), rounds)
                .into_iter()
                .map(|v| String::from_utf8_lossy(&v).into_owned())
                .collect()
        };
        assert!(decoded("plain/path?x=1", 2).is_empty());
        assert_eq!(decoded("a%2fb%2Bc", 2), vec!["a/b+c"]);
        assert_eq!(decoded("a+b%2Bc", 2), vec!["a+b+c", "a b+c"]);
        assert_eq!(decoded("%2541", 2), vec!["%41", "A"]);
        assert_eq!(decoded("%2541", 1), vec!["%41"]);
        assert_eq!(decoded("a+b", 1), vec!["a b"]);
    }
}
