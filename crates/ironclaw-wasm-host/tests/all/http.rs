//! `http-request` over real sockets: a loopback HTTPS upstream (rcgen
//! certificate for `api.example.com`), names answered by a static resolver, and
//! only the upstream's exact address exempted from the SSRF rules.

use std::convert::Infallible;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use ironclaw_policy::{Capabilities, StaticResolver};
use ironclaw_secrets::{SecretStore, SecretValue};
use serde_json::{Value, json};

use crate::support::Fixture;

const TOKEN: &str = "tok_live_9f8e7d6c5b4a3210";

/// What the upstream received.
#[derive(Debug, Clone)]
struct Seen {
    path: String,
    authorization: Option<String>,
    body: String,
}

struct Upstream {
    addr: SocketAddr,
    seen: Arc<Mutex<Vec<Seen>>>,
    roots: rustls::RootCertStore,
}

impl Upstream {
    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

async fn handle(
    seen: Arc<Mutex<Vec<Seen>>>,
    req: hyper::Request<hyper::body::Incoming>,
) -> Result<hyper::Response<Full<Bytes>>, Infallible> {
    use http_body_util::BodyExt;
    let path = req.uri().path().to_owned();
    let authorization = req
        .headers()
        .get("authorization")
        .map(|v| v.to_str().unwrap().to_owned());
    let body = req.into_body().collect().await.unwrap().to_bytes();
    seen.lock().unwrap().push(Seen {
        path: path.clone(),
        authorization: authorization.clone(),
        body: String::from_utf8_lossy(&body).into_owned(),
    });
    let response = hyper::Response::builder();
    let response = match path.as_str() {
        "/echo-auth" => {
            let auth = authorization.unwrap_or_default();
            response
                .header("x-echo", auth.clone())
                .body(Full::new(Bytes::from(format!("you sent: {auth}"))))
        }
        "/big" => response.body(Full::new(Bytes::from(vec![b'x'; 2 << 20]))),
        "/slow" => {
            tokio::time::sleep(Duration::from_secs(3)).await;
            response.body(Full::new(Bytes::from("late")))
        }
        "/redirect" => response
            .status(302)
            .header("location", "https://169.254.169.254/latest/meta-data/")
            .body(Full::new(Bytes::new())),
        _ => response.body(Full::new(Bytes::from("hello"))),
    };
    Ok(response.unwrap())
}

/// An HTTPS upstream on loopback, served from its own thread.
fn upstream() -> Upstream {
    let certified = rcgen::generate_simple_self_signed(vec!["api.example.com".to_owned()]).unwrap();
    let cert_der = certified.cert.der().clone();
    let key_der =
        rustls::pki_types::PrivateKeyDer::Pkcs8(certified.signing_key.serialize_der().into());
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(vec![cert_der.clone()], key_der)
    .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    listener.set_nonblocking(true).unwrap();
    let addr = listener.local_addr().unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let shared = Arc::clone(&seen);
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let acceptor = acceptor.clone();
                let seen = Arc::clone(&shared);
                tokio::spawn(async move {
                    let Ok(tls) = acceptor.accept(stream).await else {
                        return;
                    };
                    let service = service_fn(move |req| handle(Arc::clone(&seen), req));
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(tls), service)
                        .await;
                });
            }
        });
    });
    let mut roots = rustls::RootCertStore::empty();
    roots.add(cert_der).unwrap();
    Upstream { addr, seen, roots }
}

struct Net {
    f: Fixture,
    up: Upstream,
}

impl Net {
    fn url(&self, path: &str) -> String {
        format!("https://api.example.com:{}{path}", self.up.addr.port())
    }

    fn get(&self, tool: &str, url: &str) -> Value {
        self.f
            .probe(tool, json!({"http": {"method": "GET", "url": url}}))
    }
}

/// A host that resolves `api.example.com` to the upstream, `internal.example.com`
/// to a private address and `rebind.example.com` to a public and a loopback one;
/// the secret store holds `api_token`.
fn net() -> Net {
    let up = upstream();
    let mut dns = StaticResolver::new();
    dns.insert("api.example.com", up.addr.ip()).unwrap();
    dns.insert("internal.example.com", "10.0.0.5".parse().unwrap())
        .unwrap();
    dns.insert("rebind.example.com", "93.184.216.34".parse().unwrap())
        .unwrap();
    dns.insert("rebind.example.com", "127.0.0.1".parse().unwrap())
        .unwrap();
    let store_dir = tempfile::tempdir().unwrap();
    let store = SecretStore::open_dir(&store_dir.path().join("secrets"), None).unwrap();
    store
        .put("default", "api_token", &SecretValue::from(TOKEN))
        .unwrap();
    let roots = up.roots.clone();
    let exempt = up.addr;
    let mut f = Fixture::with(move |b| {
        b.resolver(Arc::new(dns))
            .allow_addresses_unsafe([exempt])
            .tls_roots(roots)
            .secrets(Arc::new(store), "default")
    });
    f.keep.push(store_dir);
    Net { f, up }
}

fn caps(port: u16, extra: &str) -> String {
    format!(
        r#"{{
          "http": {{
            "allowlist": [
              {{ "host": "api.example.com", "ports": [{port}], "methods": ["GET", "POST"] }},
              {{ "host": "internal.example.com", "methods": ["GET"] }},
              {{ "host": "rebind.example.com", "methods": ["GET"] }}
            ],
            "credentials": {{
              "api": {{ "secret_name": "api_token", "location": {{ "type": "bearer" }},
                        "host_patterns": ["api.example.com"] }}
            }}
            {extra}
          }},
          "secrets": {{ "allowed_names": ["api_token"] }}
        }}"#
    )
}

#[test]
fn http_get_gets_an_injected_bearer_it_never_sees() {
    let n = net();
    n.f.register("http-get", "http-get", &caps(n.up.addr.port(), ""));
    let out =
        n.f.host
            .call("http-get", &json!({"url": n.url("/echo-auth")}).to_string())
            .unwrap();
    // The upstream got the credential...
    let seen = n.up.seen();
    assert_eq!(seen.len(), 1);
    assert_eq!(
        seen[0].authorization.as_deref(),
        Some(&*format!("Bearer {TOKEN}"))
    );
    // ...and echoed it back, but the tool only saw it redacted.
    assert!(!out.contains(TOKEN), "{out}");
    assert!(out.contains("[REDACTED"), "{out}");
    let leaks = n.f.audited("LEAK_BLOCKED");
    assert_eq!(leaks.len(), 1, "{leaks:?}");
    assert_eq!(leaks[0]["action"], "http_response");
    assert_eq!(leaks[0]["skill"], "http-get");
    // Nothing in the audit log carries the value.
    assert!(
        !std::fs::read_to_string(&n.f.audit_path)
            .unwrap()
            .contains(TOKEN)
    );
    n.f.assert_healthy();
}

#[test]
fn response_headers_are_redacted_too() {
    let n = net();
    n.f.register("prober", "prober", &caps(n.up.addr.port(), ""));
    let r = n.get("prober", &n.url("/echo-auth"));
    let text = r.to_string();
    assert!(!text.contains(TOKEN), "{text}");
    let headers = r["ok"]["headers"].as_array().unwrap();
    let echo = headers.iter().find(|h| h[0] == "x-echo").unwrap();
    assert!(echo[1].as_str().unwrap().contains("[REDACTED"), "{echo}");
}

#[test]
fn a_plain_request_works_and_is_not_audited_as_a_leak() {
    let n = net();
    n.f.register("prober", "prober", &caps(n.up.addr.port(), ""));
    let r = n.get("prober", &n.url("/ok"));
    assert_eq!(r["ok"]["status"], 200, "{r}");
    assert_eq!(r["ok"]["body"], "hello");
    assert!(n.f.audited("LEAK_BLOCKED").is_empty());
    assert!(n.f.audited("NETWORK_BLOCK").is_empty());
}

/// Each URL is refused with `network-blocked`, audited as NETWORK_BLOCK, and
/// never reaches the upstream.
fn assert_blocked(n: &Net, urls: &[String]) {
    for url in urls {
        let r = n.get("prober", url);
        assert_eq!(r["error"], "network-blocked", "{url}: {r}");
    }
    assert!(n.up.seen().is_empty(), "{:?}", n.up.seen());
    let blocks = n.f.audited("NETWORK_BLOCK");
    assert_eq!(blocks.len(), urls.len(), "{blocks:?}");
    assert!(
        blocks
            .iter()
            .all(|b| b["blocked"] == true && b["skill"] == "prober")
    );
    n.f.assert_healthy();
}

#[test]
fn a_host_outside_the_allowlist_is_blocked() {
    let n = net();
    n.f.register("prober", "prober", &caps(n.up.addr.port(), ""));
    let port = n.up.addr.port();
    assert_blocked(
        &n,
        &[
            "https://evil.example.net/".into(),
            format!("https://evil.example.net:{port}/ok"),
            "https://api.example.com.evil.net/".into(),
            // The right host on an undeclared port.
            "https://api.example.com:8443/ok".into(),
            // Plain http is not allowed by the rule.
            format!("http://api.example.com:{port}/ok"),
        ],
    );
    let first = &n.f.audited("NETWORK_BLOCK")[0];
    assert_eq!(first["resource"], "evil.example.net");
}

#[test]
fn private_and_metadata_addresses_are_blocked() {
    let n = net();
    n.f.register("prober", "prober", &caps(n.up.addr.port(), ""));
    let port = n.up.addr.port();
    assert_blocked(
        &n,
        &[
            format!("https://127.0.0.1:{port}/ok"),
            format!("https://[::1]:{port}/ok"),
            format!("https://localhost:{port}/ok"),
            "https://10.0.0.1/".into(),
            "https://169.254.169.254/latest/meta-data/".into(),
            "https://metadata.google.internal/".into(),
            "https://2130706433/".into(),
            "https://[::ffff:127.0.0.1]/".into(),
            // Allowlisted names whose answers are private.
            "https://internal.example.com/".into(),
            "https://rebind.example.com/".into(),
        ],
    );
}

#[test]
fn userinfo_urls_are_blocked() {
    let n = net();
    n.f.register("prober", "prober", &caps(n.up.addr.port(), ""));
    let port = n.up.addr.port();
    assert_blocked(
        &n,
        &[
            format!("https://api.example.com:{port}@evil.example.net/"),
            format!("https://user:pass@api.example.com:{port}/ok"),
            format!("https://user@api.example.com:{port}/ok"),
        ],
    );
}

#[test]
fn a_network_grant_is_needed_as_well_as_the_allowlist() {
    let n = net();
    let caps = Capabilities::from_json(&caps(n.up.addr.port(), "")).unwrap();
    let mut grants = caps.requested().unwrap();
    grants.network.clear();
    n.f.register_with("prober", "prober", caps, grants, |s| s);
    assert_blocked(&n, &[n.url("/ok")]);
}

#[test]
fn a_credential_whose_secret_is_not_granted_stops_the_request() {
    let n = net();
    let caps = Capabilities::from_json(&caps(n.up.addr.port(), "")).unwrap();
    let mut grants = caps.requested().unwrap();
    grants.secrets.clear();
    n.f.register_with("prober", "prober", caps, grants, |s| s);
    let r = n.get("prober", &n.url("/ok"));
    assert_eq!(r["error"], "not-allowed", "{r}");
    assert!(n.up.seen().is_empty());
    let v = n.f.audited("ALLOWLIST_VIOLATION");
    assert_eq!(v.len(), 1);
    assert_eq!(v[0]["resource"], "secret:api_token");
}

#[test]
fn a_request_carrying_a_secret_is_blocked_before_sending() {
    let n = net();
    n.f.register("prober", "prober", &caps(n.up.addr.port(), ""));
    let attempts = [
        // The injected secret's own value, in the body and in the URL.
        json!({"method": "POST", "url": n.url("/ok"), "body": format!("exfil={TOKEN}")}),
        json!({"method": "GET", "url": n.url(&format!("/ok?t={TOKEN}"))}),
        // A credential pattern in a header.
        json!({"method": "GET", "url": n.url("/ok"),
               "headers": [["x-note", "AKIAQYLPMN5HFIQR7XYA"]]}),
        json!({"method": "POST", "url": n.url("/ok"),
               "body": "ghp_abcdefghijklmnopqrstuvwxyz0123456789"}),
    ];
    for http in &attempts {
        let r = n.f.probe("prober", json!({ "http": http }));
        assert_eq!(r["error"], "leak-blocked", "{http}: {r}");
    }
    assert!(n.up.seen().is_empty(), "{:?}", n.up.seen());
    assert_eq!(n.f.audited("LEAK_BLOCKED").len(), attempts.len());
    assert!(
        !std::fs::read_to_string(&n.f.audit_path)
            .unwrap()
            .contains(TOKEN)
    );
}

#[test]
fn the_host_owns_framing_headers() {
    let n = net();
    n.f.register("prober", "prober", &caps(n.up.addr.port(), ""));
    for header in [
        "host",
        "Content-Length",
        "transfer-encoding",
        "proxy-authorization",
    ] {
        let r = n.f.probe(
            "prober",
            json!({"http": {"url": n.url("/ok"), "headers": [[header, "x"]]}}),
        );
        assert_eq!(r["error"], "invalid", "{header}: {r}");
    }
    assert!(n.up.seen().is_empty());
}

#[test]
fn a_credential_the_tool_writes_itself_is_refused() {
    let n = net();
    n.f.register("prober", "prober", &caps(n.up.addr.port(), ""));
    let r = n.f.probe(
        "prober",
        json!({"http": {"url": n.url("/ok"), "headers": [["authorization", "Basic Zm9vOmJhcg=="]]}}),
    );
    // A basic-auth header is itself a credential pattern: refused before sending.
    assert_eq!(r["error"], "leak-blocked", "{r}");
    assert!(n.up.seen().is_empty());
}

#[test]
fn the_response_size_cap_applies() {
    let n = net();
    n.f.register(
        "prober",
        "prober",
        &caps(n.up.addr.port(), r#", "max_response_bytes": 65536"#),
    );
    let r = n.get("prober", &n.url("/big"));
    assert_eq!(r["error"], "too-large", "{r}");
    assert_eq!(r["detail"], "65536");
    n.f.assert_healthy();
}

#[test]
fn the_request_timeout_applies() {
    let n = net();
    n.f.register(
        "prober",
        "prober",
        &caps(n.up.addr.port(), r#", "timeout_secs": 1"#),
    );
    let started = std::time::Instant::now();
    let r = n.get("prober", &n.url("/slow"));
    assert_eq!(r["error"], "timeout", "{r}");
    assert!(started.elapsed() < Duration::from_millis(2500));
    // The tool's own, shorter timeout wins too.
    let r = n.f.probe(
        "prober",
        json!({"http": {"url": n.url("/slow"), "timeout_ms": 100}}),
    );
    assert_eq!(r["error"], "timeout", "{r}");
}

#[test]
fn the_rate_limit_applies() {
    let n = net();
    n.f.register(
        "prober",
        "prober",
        &caps(
            n.up.addr.port(),
            r#", "rate_limit": { "requests_per_minute": 2 }"#,
        ),
    );
    assert_eq!(n.get("prober", &n.url("/ok"))["ok"]["status"], 200);
    assert_eq!(n.get("prober", &n.url("/ok"))["ok"]["status"], 200);
    assert_eq!(n.get("prober", &n.url("/ok"))["error"], "rate-limited");
    assert_eq!(n.up.seen().len(), 2);
}

#[test]
fn redirects_are_returned_not_followed() {
    let n = net();
    n.f.register("prober", "prober", &caps(n.up.addr.port(), ""));
    let r = n.get("prober", &n.url("/redirect"));
    assert_eq!(r["ok"]["status"], 302, "{r}");
    assert_eq!(n.up.seen().len(), 1);
    // Following it by hand goes through the same checks.
    let location = "https://169.254.169.254/latest/meta-data/";
    assert_eq!(n.get("prober", location)["error"], "network-blocked");
}

#[test]
fn the_upstream_saw_the_request_the_tool_sent() {
    let n = net();
    n.f.register("prober", "prober", &caps(n.up.addr.port(), ""));
    let r = n.f.probe(
        "prober",
        json!({"http": {"method": "POST", "url": n.url("/submit"), "body": "payload"}}),
    );
    assert_eq!(r["ok"]["status"], 200, "{r}");
    let seen = n.up.seen();
    assert_eq!(seen[0].path, "/submit");
    assert_eq!(seen[0].body, "payload");
    assert_eq!(
        seen[0].authorization.as_deref(),
        Some(&*format!("Bearer {TOKEN}"))
    );
}
