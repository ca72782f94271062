//! The proxy's main paths and the rules from its issue: allow, deny, limits, leaks,
//! credentials, tunnels, rebinding.

use super::*;

#[tokio::test]
async fn an_allowed_plain_http_request_goes_through() {
    let (up_addr, upstream) = spawn_http_upstream(Ipv4Addr::LOCALHOST).await;
    let h = start(Options {
        grants: vec![format!("api.test:{}", up_addr.port())],
        ..Options::default()
    })
    .await;
    let (status, text) = curl_via(
        &h,
        &format!("http://api.test:{}/repos/x?y=1", up_addr.port()),
        &[],
    )
    .await;
    assert_eq!(status, 200, "{text}");
    assert!(text.contains("GET /repos/x?y=1"), "{text}");
    assert_eq!(upstream.hits(), 1);
    assert!(
        upstream
            .last()
            .head
            .contains(&format!("host: api.test:{}", up_addr.port()))
    );
    let metrics = h.proxy.metrics("job-1").unwrap();
    assert_eq!((metrics.allowed, metrics.denied), (1, 0));
}

#[tokio::test]
async fn requests_without_a_valid_token_get_407_and_nothing_else() {
    let (up_addr, upstream) = spawn_http_upstream(Ipv4Addr::LOCALHOST).await;
    let h = start(Options {
        grants: vec![format!("api.test:{}", up_addr.port())],
        ..Options::default()
    })
    .await;
    let url = format!("http://api.test:{}/", up_addr.port());
    let no_token = curl(vec!["-x".into(), format!("http://{}", h.addr), url.clone()]).await;
    assert_eq!(no_token.0, 407, "{}", no_token.1);
    assert!(
        no_token
            .1
            .to_ascii_lowercase()
            .contains("proxy-authenticate: basic")
    );
    let mut wrong = h.token.expose().to_owned();
    wrong.replace_range(0..1, if wrong.starts_with('0') { "1" } else { "0" });
    for proxy in [
        format!("http://job:{wrong}@{}", h.addr),
        format!("http://job:{}x@{}", h.token.expose(), h.addr),
        format!("http://job:{}@{}", &h.token.expose()[..63], h.addr),
        format!("http://job:{}@{}", h.token.expose().to_uppercase(), h.addr),
        format!("http://job:@{}", h.addr),
    ] {
        let (status, text) = curl(vec!["-x".into(), proxy.clone(), url.clone()]).await;
        assert_eq!(status, 407, "{proxy}: {text}");
    }
    // Two credentials on one request are refused too.
    let request = format!(
        "GET {url} HTTP/1.1\r\nHost: api.test\r\nProxy-Authorization: Basic {}\r\nProxy-Authorization: Bearer nope\r\n\r\n",
        basic(&h.token)
    );
    assert_eq!(raw(h.addr, request.as_bytes()).await, 407);
    assert_eq!(upstream.hits(), 0);
    // A removed job's token stops working.
    let (status, _) = curl_via(&h, &url, &[]).await;
    assert_eq!(status, 200);
    assert!(h.proxy.remove_job("job-1"));
    let (status, _) = curl_via(&h, &url, &[]).await;
    assert_eq!(status, 407);
    // Refusals no job can be named for are audited once per client address per
    // minute, the record counting the refusals it stands for: token guessing shows,
    // and nobody can flood the log. No presented token is ever written.
    let strangers: Vec<serde_json::Value> = h
        .audited("NETWORK_BLOCK")
        .into_iter()
        .filter(|e| e["job"].is_null())
        .collect();
    assert_eq!(strangers.len(), 1, "{strangers:?}");
    let first = &strangers[0];
    assert_eq!(first["reason"], "missing proxy credentials");
    assert_eq!(first["peer"], "127.0.0.1");
    assert_eq!(first["refusals"], 1);
    assert_eq!(first["host"], "api.test");
    assert_eq!(first["port"], up_addr.port());
    let log = h.audit_text();
    assert!(!log.contains(&wrong) && !log.contains(h.token.expose()));
}

#[tokio::test]
async fn hosts_and_ports_outside_the_grant_are_denied_and_audited() {
    let (up_addr, upstream) = spawn_http_upstream(Ipv4Addr::LOCALHOST).await;
    let port = up_addr.port();
    let h = start(Options {
        grants: vec![format!("api.test:{port}"), "*.wild.test".to_owned()],
        ..Options::default()
    })
    .await;
    for url in [
        format!("http://other.test:{port}/"),
        format!("http://api.test.evil.test:{port}/"),
        format!("http://wild.test:{port}/"),
        format!("http://x.wild.test:{port}/"),
        "http://api.test/".to_owned(),
        format!("http://127.0.0.1:{port}/"),
    ] {
        let (status, text) = curl_via(&h, &url, &[]).await;
        assert_eq!(status, 403, "{url}: {text}");
    }
    // Case and a trailing dot do not matter; the allowed host still works.
    let (status, text) = curl_via(&h, &format!("http://API.Test.:{port}/"), &[]).await;
    assert_eq!(status, 200, "{text}");
    assert_eq!(upstream.hits(), 1);
    let blocks = h.audited("NETWORK_BLOCK");
    assert_eq!(blocks.len(), 6, "{blocks:?}");
    let first = &blocks[0];
    assert_eq!(first["job"], "job-1");
    assert_eq!(first["skill"], "fetcher");
    assert_eq!(first["host"], "other.test");
    assert_eq!(first["port"], port);
    assert_eq!(first["blocked"], true);
    assert!(
        first["reason"]
            .as_str()
            .unwrap()
            .contains("not in the job's allowlist")
    );
}

#[tokio::test]
async fn an_empty_allowlist_denies_everything() {
    let (up_addr, upstream) = spawn_http_upstream(Ipv4Addr::LOCALHOST).await;
    let h = start(Options::default()).await;
    let (status, text) = curl_via(&h, &format!("http://api.test:{}/", up_addr.port()), &[]).await;
    assert_eq!(status, 403, "{text}");
    let (status, _) = curl_via(&h, "https://api.test/", &[]).await;
    assert_ne!(status, 200);
    assert_eq!(upstream.hits(), 0);
    assert!(
        h.audited("NETWORK_BLOCK")
            .iter()
            .all(|e| e["reason"].as_str().unwrap().contains("empty allowlist"))
    );
}

#[tokio::test]
async fn hop_by_hop_and_proxy_headers_are_stripped() {
    let (up_addr, upstream) = spawn_http_upstream(Ipv4Addr::LOCALHOST).await;
    let h = start(Options {
        grants: vec![format!("api.test:{}", up_addr.port())],
        ..Options::default()
    })
    .await;
    let (status, text) = curl_via(
        &h,
        &format!("http://api.test:{}/", up_addr.port()),
        &[
            "-H",
            "Connection: X-Hop",
            "-H",
            "X-Hop: 1",
            "-H",
            "Keep-Alive: timeout=5",
            "-H",
            "TE: trailers",
            "-H",
            "Upgrade: websocket",
            "-H",
            "Proxy-Connection: keep-alive",
            "-H",
            "X-Kept: yes",
        ],
    )
    .await;
    assert_eq!(status, 200, "{text}");
    let head = upstream.last().head.to_ascii_lowercase();
    for gone in [
        "x-hop",
        "keep-alive",
        "te:",
        "upgrade",
        "proxy-",
        "connection: x-hop",
    ] {
        assert!(!head.contains(gone), "{gone} reached upstream:\n{head}");
    }
    assert!(head.contains("x-kept: yes"));
}

#[tokio::test]
async fn credentials_are_injected_replace_the_tools_own_and_cannot_be_read_back() {
    let (up_addr, upstream) = spawn_http_upstream(Ipv4Addr::LOCALHOST).await;
    let secret = "tok_live_9fK2mQ7xLp3Zr8Vb";
    let h = start(Options {
        grants: vec![
            format!("api.test:{}", up_addr.port()),
            format!("other.test:{}", up_addr.port()),
        ],
        credentials: vec![CredentialMapping {
            secret_name: "api_token".into(),
            location: CredentialLocation::Bearer,
            host_patterns: vec!["api.test".into()],
        }],
        secret_grant: vec!["api_token"],
        ..Options::default()
    })
    .await;
    h.store
        .put("default", "api_token", &SecretValue::from(secret))
        .unwrap();
    let (status, text) = curl_via(
        &h,
        &format!("http://api.test:{}/", up_addr.port()),
        &[
            "-H",
            "Authorization: Bearer tool-chose-this",
            "-H",
            "authorization: Basic c2Vjb25k",
        ],
    )
    .await;
    assert_eq!(status, 200, "{text}");
    // Upstream got exactly one Authorization header: ours.
    let head = upstream.last().head;
    let auth: Vec<&str> = head
        .lines()
        .filter(|l| l.to_ascii_lowercase().starts_with("authorization:"))
        .collect();
    assert_eq!(
        auth,
        vec![format!("authorization: Bearer {secret}").as_str()],
        "{head}"
    );
    // The echo of it was redacted before the job saw it, and that was audited.
    assert!(!text.contains(secret), "{text}");
    assert!(text.contains("[REDACTED]"), "{text}");
    let leaks = h.audited("LEAK_BLOCKED");
    assert_eq!(leaks.len(), 1);
    assert_eq!(leaks[0]["direction"], "response");
    // Another host gets no credential.
    let (status, _) = curl_via(&h, &format!("http://other.test:{}/", up_addr.port()), &[]).await;
    assert_eq!(status, 200);
    assert!(!upstream.last().head.contains(secret));
    // The secret value is in no audit record.
    assert!(!h.audit_text().contains(secret));
}

#[tokio::test]
async fn a_credential_outside_the_secret_grant_is_never_sent() {
    let (up_addr, upstream) = spawn_http_upstream(Ipv4Addr::LOCALHOST).await;
    let h = start(Options {
        grants: vec![format!("api.test:{}", up_addr.port())],
        credentials: vec![CredentialMapping {
            secret_name: "admin_token".into(),
            location: CredentialLocation::Header {
                name: "X-Api-Key".into(),
            },
            host_patterns: vec!["api.test".into()],
        }],
        secret_grant: vec!["other"],
        ..Options::default()
    })
    .await;
    h.store
        .put("default", "admin_token", &SecretValue::from("adm_Zx81kLq0"))
        .unwrap();
    let (status, text) = curl_via(&h, &format!("http://api.test:{}/", up_addr.port()), &[]).await;
    assert_eq!(status, 502, "{text}");
    assert!(!text.contains("adm_Zx81kLq0"));
    assert_eq!(upstream.hits(), 0);
}

#[tokio::test]
async fn leaks_in_the_request_are_blocked_before_anything_is_sent() {
    let (up_addr, upstream) = spawn_http_upstream(Ipv4Addr::LOCALHOST).await;
    let h = start(Options {
        grants: vec![format!("api.test:{}", up_addr.port())],
        ..Options::default()
    })
    .await;
    let base = format!("http://api.test:{}/", up_addr.port());
    let aws = "AKIAIOSFODNN7EXAMPL3";
    let cases: Vec<(String, Vec<String>)> = vec![
        (base.clone(), vec!["--data".into(), format!("key={aws}")]),
        (format!("{base}?k={aws}"), vec![]),
        (base.clone(), vec!["-H".into(), format!("X-Debug: {aws}")]),
        (
            base.clone(),
            vec![
                "--data-binary".into(),
                "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEAx\n-----END RSA PRIVATE KEY-----"
                    .into(),
            ],
        ),
    ];
    for (url, extra) in &cases {
        let extra: Vec<&str> = extra.iter().map(String::as_str).collect();
        let (status, text) = curl_via(&h, url, &extra).await;
        assert_eq!(status, 403, "{url} {extra:?}: {text}");
    }
    assert_eq!(upstream.hits(), 0);
    let leaks = h.audited("LEAK_BLOCKED");
    assert_eq!(leaks.len(), cases.len());
    assert!(leaks.iter().all(|l| l["direction"] == "request"));
    assert!(!h.audit_text().contains(aws));
}

#[tokio::test]
async fn ambiguous_framing_cannot_smuggle_a_request() {
    let (up_addr, upstream) = spawn_http_upstream(Ipv4Addr::LOCALHOST).await;
    let h = start(Options {
        grants: vec![format!("api.test:{}", up_addr.port())],
        ..Options::default()
    })
    .await;
    let auth = basic(&h.token);
    let url = format!("http://api.test:{}/", up_addr.port());
    let smuggled = format!(
        "GET {url}smuggled HTTP/1.1\r\nHost: api.test\r\nProxy-Authorization: Basic {auth}\r\n\r\n"
    );

    // Content-Length and Transfer-Encoding together, in both orders: the chunked
    // framing wins (RFC 9112 section 6.3), the body is re-framed with a fixed length
    // upstream, and the connection is closed after the answer, so the bytes after the
    // chunked body are never read as a second request.
    for head in [
        "Content-Length: 4\r\nTransfer-Encoding: chunked",
        "Transfer-Encoding: chunked\r\nContent-Length: 4",
    ] {
        let request = format!(
            "POST {url} HTTP/1.1\r\nHost: api.test\r\nProxy-Authorization: Basic {auth}\r\n{head}\r\n\r\n3\r\nabc\r\n0\r\n\r\n{smuggled}"
        );
        let answer = raw_until_close(h.addr, request.as_bytes()).await;
        assert_eq!(answer.matches("HTTP/1.1 ").count(), 1, "{answer}");
    }
    let seen: Vec<Received> = upstream.received.lock().unwrap().clone();
    assert!(
        seen.iter().all(|r| !r.head.contains("smuggled")),
        "{seen:?}"
    );
    assert!(seen.iter().all(|r| r.body == b"abc"), "{seen:?}");
    assert!(
        seen.iter()
            .all(|r| r.head.contains("content-length: 3") && !r.head.contains("transfer-encoding")),
        "{seen:?}"
    );

    // Conflicting lengths and encodings other than chunked are refused outright.
    let two_cl = format!(
        "POST {url} HTTP/1.1\r\nHost: api.test\r\nProxy-Authorization: Basic {auth}\r\nContent-Length: 4\r\nContent-Length: 5\r\n\r\nabcd"
    );
    assert_eq!(raw(h.addr, two_cl.as_bytes()).await, 400);
    for te in ["gzip, chunked", "chunked, gzip", "xchunked"] {
        let request = format!(
            "POST {url} HTTP/1.1\r\nHost: api.test\r\nProxy-Authorization: Basic {auth}\r\nTransfer-Encoding: {te}\r\n\r\n0\r\n\r\n"
        );
        assert_eq!(raw(h.addr, request.as_bytes()).await, 400, "{te}");
    }
    let before = seen.len();
    assert_eq!(upstream.hits(), before);
}

#[tokio::test]
async fn limits_answer_with_their_own_status() {
    let (up_addr, upstream) = spawn_http_upstream(Ipv4Addr::LOCALHOST).await;
    let limits = Limits {
        max_body_bytes: 1024,
        requests_per_minute_per_job: 0,
        ..Limits::default()
    };
    let h = start(Options {
        grants: vec![format!("api.test:{}", up_addr.port())],
        limits,
        ..Options::default()
    })
    .await;
    let url = format!("http://api.test:{}/", up_addr.port());
    let big = "a".repeat(2048);
    let (status, text) = curl_via(&h, &url, &["--data-binary", &big]).await;
    assert_eq!(status, 413, "{text}");
    // A chunked body without a declared length is limited while it is read.
    let (status, text) = curl_via(
        &h,
        &url,
        &["-H", "Transfer-Encoding: chunked", "--data-binary", &big],
    )
    .await;
    assert_eq!(status, 413, "{text}");
    let huge_header = format!("X-Big: {}", "b".repeat(40 * 1024));
    let (status, text) = curl_via(&h, &url, &["-H", &huge_header]).await;
    assert_eq!(status, 431, "{text}");
    assert_eq!(upstream.hits(), 0);
    let reasons: Vec<String> = h
        .audited("NETWORK_BLOCK")
        .iter()
        .map(|e| e["reason"].as_str().unwrap().to_owned())
        .collect();
    assert!(
        reasons.iter().any(|r| r.contains("body over the limit")),
        "{reasons:?}"
    );
    assert!(
        reasons.iter().any(|r| r.contains("head too large")),
        "{reasons:?}"
    );
}

#[tokio::test]
async fn the_request_rate_per_job_is_limited() {
    let (up_addr, upstream) = spawn_http_upstream(Ipv4Addr::LOCALHOST).await;
    let limits = Limits {
        requests_per_minute_per_job: 3,
        ..Limits::default()
    };
    let h = start(Options {
        grants: vec![format!("api.test:{}", up_addr.port())],
        limits,
        ..Options::default()
    })
    .await;
    let url = format!("http://api.test:{}/", up_addr.port());
    let mut statuses = Vec::new();
    for _ in 0..5 {
        statuses.push(curl_via(&h, &url, &[]).await.0);
    }
    assert_eq!(statuses, vec![200, 200, 200, 429, 429]);
    assert_eq!(upstream.hits(), 3);
    assert_eq!(h.audited("NETWORK_BLOCK").len(), 2);
}

#[tokio::test]
async fn https_goes_through_a_connect_tunnel_to_the_allowed_port_only() {
    let (up_addr, upstream, cert_pem) = spawn_https_upstream().await;
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, cert_pem).unwrap();
    let h = start(Options {
        grants: vec![format!("api.test:{}", up_addr.port())],
        ..Options::default()
    })
    .await;
    let url = format!("https://api.test:{}/secure", up_addr.port());
    let (status, text) = curl_via(&h, &url, &["--cacert", ca.to_str().unwrap()]).await;
    assert_eq!(status, 200, "{text}");
    assert!(text.contains("GET /secure"));
    assert_eq!(upstream.hits(), 1);
    // The port must be the granted one; a rule without a port means 443 only.
    let h2 = start(Options {
        grants: vec!["api.test".to_owned()],
        ..Options::default()
    })
    .await;
    let (status, text) = curl_via(&h2, &url, &["--cacert", ca.to_str().unwrap()]).await;
    assert_ne!(status, 200, "{text}");
    assert_eq!(h2.audited("NETWORK_BLOCK").len(), 1);
    assert_eq!(upstream.hits(), 1);
    // Tunnel bytes are counted for the job once the tunnel closes.
    let mut metrics = h.proxy.metrics("job-1").unwrap();
    for _ in 0..50 {
        if metrics.bytes_down > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        metrics = h.proxy.metrics("job-1").unwrap();
    }
    assert_eq!(metrics.allowed, 1);
    assert!(
        metrics.bytes_up > 100 && metrics.bytes_down > 100,
        "{metrics:?}"
    );
}

#[tokio::test]
async fn tunnels_per_job_are_limited() {
    let (up_addr, _upstream, _pem) = spawn_https_upstream().await;
    let limits = Limits {
        max_tunnels_per_job: 1,
        ..Limits::default()
    };
    let h = start(Options {
        grants: vec![format!("api.test:{}", up_addr.port())],
        limits,
        ..Options::default()
    })
    .await;
    let connect = format!(
        "CONNECT api.test:{port} HTTP/1.1\r\nHost: api.test:{port}\r\nProxy-Authorization: Basic {}\r\n\r\n",
        basic(&h.token),
        port = up_addr.port()
    );
    let mut first = TcpStream::connect(h.addr).await.unwrap();
    first.write_all(connect.as_bytes()).await.unwrap();
    let mut buf = [0u8; 256];
    let n = first.read(&mut buf).await.unwrap();
    assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"));
    assert_eq!(raw(h.addr, connect.as_bytes()).await, 429);
    drop(first);
}

#[tokio::test]
async fn private_addresses_are_refused_after_resolution() {
    let (up_addr, upstream) = spawn_http_upstream(Ipv4Addr::LOCALHOST).await;
    let port = up_addr.port();
    let h = start(Options {
        grants: vec![
            format!("api.test:{port}"),
            "internal.example".to_owned(),
            format!("127.0.0.1:{port}"),
            "localhost".to_owned(),
        ],
        unsafe_private: false,
        ..Options::default()
    })
    .await;
    for url in [
        format!("http://api.test:{port}/"),
        "https://internal.example/".to_owned(),
        format!("http://127.0.0.1:{port}/"),
        "https://localhost/".to_owned(),
    ] {
        let (status, text) = curl_via(&h, &url, &[]).await;
        assert_ne!(status, 200, "{url}: {text}");
    }
    assert_eq!(upstream.hits(), 0);
    let reasons: Vec<String> = h
        .audited("NETWORK_BLOCK")
        .iter()
        .map(|e| e["reason"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(reasons.len(), 4, "{reasons:?}");
    assert!(
        reasons.iter().any(|r| r.starts_with("loopback")),
        "{reasons:?}"
    );
    assert!(
        reasons.iter().any(|r| r.starts_with("private")),
        "{reasons:?}"
    );
}

/// Answers 127.0.0.1 the first time and 127.0.0.2 after that, counting queries.
#[derive(Debug, Default)]
struct Rebinder {
    queries: AtomicUsize,
}

impl Resolver for Rebinder {
    fn resolve(&self, _host: &str, _port: u16) -> Result<Vec<IpAddr>, ResolveError> {
        let n = self.queries.fetch_add(1, Ordering::SeqCst);
        let ip = if n == 0 {
            Ipv4Addr::new(127, 0, 0, 1)
        } else {
            Ipv4Addr::new(127, 0, 0, 2)
        };
        Ok(vec![IpAddr::V4(ip)])
    }
}

#[tokio::test]
async fn a_name_is_resolved_once_and_the_checked_address_is_used() {
    let (first_addr, first) = spawn_http_upstream(Ipv4Addr::new(127, 0, 0, 1)).await;
    // Something else listens on the rebinding target's address.
    let second_listener =
        std::net::TcpListener::bind((Ipv4Addr::new(127, 0, 0, 2), first_addr.port()));
    let rebinder = Arc::new(Rebinder::default());
    let h = start(Options {
        grants: vec![format!("rebind.test:{}", first_addr.port())],
        resolver: Some(rebinder.clone()),
        ..Options::default()
    })
    .await;
    let (status, text) = curl_via(
        &h,
        &format!("http://rebind.test:{}/", first_addr.port()),
        &[],
    )
    .await;
    assert_eq!(status, 200, "{text}");
    assert_eq!(rebinder.queries.load(Ordering::SeqCst), 1);
    assert_eq!(first.hits(), 1);
    drop(second_listener);
}

#[tokio::test]
async fn the_anonymous_identity_serves_requests_without_a_token() {
    let (up_addr, upstream) = spawn_http_upstream(Ipv4Addr::LOCALHOST).await;
    let dir = tempfile::tempdir().unwrap();
    let audit = AuditLog::open(AuditConfig::new(dir.path().join("audit.log"))).unwrap();
    let mut grant = JobGrant::new("anonymous");
    grant.network = NetworkAllowlist::new([format!("api.test:{}", up_addr.port())]).unwrap();
    let proxy = Proxy::builder(audit)
        .config(ProxyConfig {
            listen: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
            allow_private_addresses_unsafe: true,
            ..ProxyConfig::default()
        })
        .resolver(test_resolver())
        .anonymous(grant)
        .build()
        .unwrap();
    let listener = proxy.bind().await.unwrap();
    let addr = listener.local_addr().unwrap();
    let serving = proxy.clone();
    tokio::spawn(async move { serving.serve(listener).await });
    let url = format!("http://api.test:{}/", up_addr.port());
    let (status, text) = curl(vec!["-x".into(), format!("http://{addr}"), url.clone()]).await;
    assert_eq!(status, 200, "{text}");
    // A wrong token is not silently treated as anonymous.
    let (status, _) = curl(vec!["-x".into(), format!("http://x:y@{addr}"), url]).await;
    assert_eq!(status, 407);
    assert_eq!(upstream.hits(), 1);
    assert_eq!(proxy.metrics("anonymous").unwrap().allowed, 1);
}

/// Takes its time to answer.
#[derive(Debug)]
struct SlowResolver;

impl Resolver for SlowResolver {
    fn resolve(&self, _host: &str, _port: u16) -> Result<Vec<IpAddr>, ResolveError> {
        std::thread::sleep(Duration::from_secs(2));
        Ok(vec![IpAddr::V4(Ipv4Addr::LOCALHOST)])
    }
}

#[tokio::test]
async fn a_slow_resolver_times_out_with_504() {
    let (up_addr, upstream) = spawn_http_upstream(Ipv4Addr::LOCALHOST).await;
    let timeouts = ironclaw_proxy::Timeouts {
        dns: Duration::from_millis(200),
        ..Default::default()
    };
    let h = start(Options {
        grants: vec![format!("slow.test:{}", up_addr.port())],
        resolver: Some(Arc::new(SlowResolver)),
        timeouts,
        ..Options::default()
    })
    .await;
    let (status, text) = curl_via(&h, &format!("http://slow.test:{}/", up_addr.port()), &[]).await;
    assert_eq!(status, 504, "{text}");
    assert_eq!(upstream.hits(), 0);
    assert_eq!(h.audited("NETWORK_BLOCK")[0]["reason"], "dns timeout");
}

#[tokio::test]
async fn concurrent_requests_per_job_are_limited() {
    // An upstream that accepts and never answers holds the job's only slot.
    let silent = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await.unwrap();
    let silent_port = silent.local_addr().unwrap().port();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((stream, _)) = silent.accept().await {
            held.push(stream);
        }
    });
    let limits = Limits {
        max_concurrent_requests_per_job: 1,
        ..Limits::default()
    };
    let h = start(Options {
        grants: vec![format!("api.test:{silent_port}")],
        limits,
        ..Options::default()
    })
    .await;
    let hanging = format!(
        "GET http://api.test:{silent_port}/ HTTP/1.1\r\nHost: api.test\r\nProxy-Authorization: Basic {}\r\n\r\n",
        basic(&h.token)
    );
    let mut first = TcpStream::connect(h.addr).await.unwrap();
    first.write_all(hanging.as_bytes()).await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(raw(h.addr, hanging.as_bytes()).await, 429);
    let reasons: Vec<String> = h
        .audited("NETWORK_BLOCK")
        .iter()
        .map(|e| e["reason"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(reasons, vec!["too many concurrent requests"]);
    drop(first);
}

#[tokio::test]
async fn global_extra_domains_apply_to_every_job_only_when_configured() {
    let (up_addr, upstream) = spawn_http_upstream(Ipv4Addr::LOCALHOST).await;
    let url = format!("http://other.test:{}/", up_addr.port());
    let without = start(Options::default()).await;
    assert_eq!(curl_via(&without, &url, &[]).await.0, 403);
    let with = start(Options {
        global_allow: vec![format!("other.test:{}", up_addr.port())],
        ..Options::default()
    })
    .await;
    assert_eq!(curl_via(&with, &url, &[]).await.0, 200);
    assert_eq!(upstream.hits(), 1);
}

#[tokio::test]
async fn upstream_connections_are_reused_within_a_job_only() {
    let (up_addr, upstream) = spawn_http_upstream(Ipv4Addr::LOCALHOST).await;
    let h = start(Options {
        grants: vec![format!("api.test:{}", up_addr.port())],
        ..Options::default()
    })
    .await;
    let url = format!("http://api.test:{}/", up_addr.port());
    // Three requests on one client connection: one upstream connection.
    let (status, text) = curl(vec![
        "-x".into(),
        h.proxy_url(),
        url.clone(),
        url.clone(),
        url.clone(),
    ])
    .await;
    assert_eq!(status, 200, "{text}");
    assert_eq!(upstream.hits(), 3);
    assert_eq!(upstream.connections.load(Ordering::SeqCst), 1);
    // Another job never gets the first job's connection.
    let other = JobToken::generate().unwrap();
    let mut grant = JobGrant::new("job-2");
    grant.network = NetworkAllowlist::new([format!("api.test:{}", up_addr.port())]).unwrap();
    h.proxy.add_job(&other, grant);
    let (status, _) = curl(vec![
        "-x".into(),
        format!("http://job:{}@{}", other.expose(), h.addr),
        url,
    ])
    .await;
    assert_eq!(status, 200);
    assert_eq!(upstream.hits(), 4);
    assert_eq!(upstream.connections.load(Ordering::SeqCst), 2);
}

/// `serve_on_threads`: concurrent keep-alive clients (spread over both threads) are
/// served whole, a tunnel works, a denial is still audited (from a blocking thread of
/// that thread's runtime), and the shutdown future stops the proxy and its listener.
#[tokio::test]
async fn serving_on_threads_handles_every_path_and_stops_on_shutdown() {
    let (up_addr, upstream) = spawn_http_upstream(Ipv4Addr::LOCALHOST).await;
    let mut h = start(Options {
        grants: vec![format!("api.test:{}", up_addr.port())],
        threads: std::num::NonZeroUsize::new(2),
        ..Options::default()
    })
    .await;
    let url = format!("http://api.test:{}/", up_addr.port());
    let clients: Vec<_> = (0..4)
        .map(|_| {
            tokio::spawn(curl(vec![
                "-x".into(),
                h.proxy_url(),
                url.clone(),
                url.clone(),
            ]))
        })
        .collect();
    for client in clients {
        let (status, text) = client.await.unwrap();
        assert_eq!(status, 200, "{text}");
        assert_eq!(text.matches("x-upstream: echo").count(), 2, "{text}");
    }
    assert_eq!(upstream.hits(), 8);

    let (status, _) = curl_via(&h, &format!("http://other.test:{}/", up_addr.port()), &[]).await;
    assert_eq!(status, 403);
    assert_eq!(h.audited("NETWORK_BLOCK").len(), 1);

    let mut tunnel = TcpStream::connect(h.addr).await.unwrap();
    let target = format!("api.test:{}", up_addr.port());
    let connect = format!(
        "CONNECT {target} HTTP/1.1\r\nHost: {target}\r\nProxy-Authorization: Basic {}\r\n\r\n",
        basic(&h.token)
    );
    tunnel.write_all(connect.as_bytes()).await.unwrap();
    let mut answer = vec![0u8; 1024];
    let n = tunnel.read(&mut answer).await.unwrap();
    assert!(answer[..n].starts_with(b"HTTP/1.1 200"));
    tunnel
        .write_all(b"GET /through HTTP/1.1\r\nHost: api.test\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut through = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), tunnel.read_to_end(&mut through))
        .await
        .unwrap()
        .unwrap();
    assert!(String::from_utf8_lossy(&through).contains("GET /through"));

    h.stop_threads().await.unwrap();
    assert!(TcpStream::connect(h.addr).await.is_err());
}
