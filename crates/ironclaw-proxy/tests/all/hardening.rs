//! Attempts to get around the proxy's rules: each test tries one bypass that an
//! earlier version allowed, over real sockets.

use super::*;

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

fn bearer_for(hosts: &[&str]) -> Vec<CredentialMapping> {
    vec![CredentialMapping {
        secret_name: "api_token".into(),
        location: CredentialLocation::Bearer,
        host_patterns: hosts.iter().map(|h| (*h).to_owned()).collect(),
    }]
}

const SECRET: &str = "tok_live_9fK2mQ7xLp3Zr8Vb";

#[tokio::test]
async fn a_compressed_response_cannot_carry_an_injected_credential_back() {
    // Both upstreams ignore Accept-Encoding and compress anyway.
    let (gzip_addr, gzip_upstream) = spawn_upstream_with(
        Ipv4Addr::LOCALHOST,
        Arc::new(|received: &Received| {
            Response::builder()
                .header("content-encoding", "gzip")
                .body(Full::new(Bytes::from(gzip(received.head.as_bytes()))))
                .unwrap()
        }),
    )
    .await;
    let (br_addr, br_upstream) = spawn_upstream_with(
        Ipv4Addr::LOCALHOST,
        Arc::new(|received: &Received| {
            Response::builder()
                .header("content-encoding", "br")
                .body(Full::new(Bytes::from(received.head.clone())))
                .unwrap()
        }),
    )
    .await;
    let h = start(Options {
        grants: vec![
            format!("api.test:{}", gzip_addr.port()),
            format!("other.test:{}", br_addr.port()),
        ],
        credentials: bearer_for(&["api.test", "other.test"]),
        secret_grant: vec!["api_token"],
        ..Options::default()
    })
    .await;
    h.store
        .put("default", "api_token", &SecretValue::from(SECRET))
        .unwrap();

    let url = format!("http://api.test:{}/", gzip_addr.port());
    let request = proxied_request(&h, "GET", &url, "Accept-Encoding: gzip, br\r\n", b"");
    let answer = raw_response(h.addr, &request).await;
    assert_eq!(answer.status, 200, "{answer:?}");
    // The upstream was asked for no coding...
    let seen = gzip_upstream.last().head;
    assert!(seen.contains("accept-encoding: identity"), "{seen}");
    assert!(!seen.contains("gzip"), "{seen}");
    assert!(seen.contains(SECRET), "the credential was injected: {seen}");
    // ...and what it compressed anyway was decoded, scanned and redacted.
    let body = if answer.head.contains("content-encoding: gzip") {
        gunzip(&answer.body)
    } else {
        answer.body.clone()
    };
    assert!(
        !contains(&body, SECRET),
        "{}",
        String::from_utf8_lossy(&body)
    );
    assert!(contains(&body, "[REDACTED]"));
    assert!(!answer.head.contains("content-encoding"), "{}", answer.head);

    // A coding the proxy cannot decode is refused, not passed through, and audited.
    let url = format!("http://other.test:{}/", br_addr.port());
    let answer = raw_response(h.addr, &proxied_request(&h, "GET", &url, "", b"")).await;
    assert_eq!(answer.status, 502, "{answer:?}");
    assert!(!contains(&answer.body, SECRET));
    assert_eq!(br_upstream.hits(), 1);
    let blocks = h.audited("NETWORK_BLOCK");
    assert_eq!(blocks.len(), 1, "{blocks:?}");
    assert!(
        blocks[0]["reason"]
            .as_str()
            .unwrap()
            .contains("content-encoding \"br\""),
        "{blocks:?}"
    );
}

#[tokio::test]
async fn audit_records_name_host_and_port_never_the_path_query_or_userinfo() {
    let (up_addr, upstream) = spawn_http_upstream(Ipv4Addr::LOCALHOST).await;
    let port = up_addr.port();
    let h = start(Options {
        grants: vec![format!("api.test:{port}")],
        ..Options::default()
    })
    .await;
    // Looks like user data or a secret, but matches no leak pattern.
    let value = "qv7Yh3Kd9Lm2PqZ";
    let auth = basic(&h.token);
    let requests = [
        // Not in the allowlist.
        format!(
            "GET http://other.test:{port}/users/{value}?token={value} HTTP/1.1\r\nHost: x\r\nProxy-Authorization: Basic {auth}\r\nX-Note: {value}\r\n\r\n"
        ),
        // HTTPS in absolute form.
        format!(
            "GET https://api.test/p?token={value} HTTP/1.1\r\nHost: x\r\nProxy-Authorization: Basic {auth}\r\n\r\n"
        ),
        // Userinfo in the URL.
        format!(
            "GET http://user:{value}@api.test:{port}/ HTTP/1.1\r\nHost: x\r\nProxy-Authorization: Basic {auth}\r\n\r\n"
        ),
        // Ambiguous framing.
        format!(
            "POST http://api.test:{port}/p?token={value} HTTP/1.1\r\nHost: x\r\nProxy-Authorization: Basic {auth}\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n"
        ),
        // A scheme the proxy does not forward.
        format!(
            "GET ftp://api.test/{value} HTTP/1.1\r\nHost: x\r\nProxy-Authorization: Basic {auth}\r\n\r\n"
        ),
    ];
    for request in &requests {
        let status = raw(h.addr, request.as_bytes()).await;
        assert!(status == 400 || status == 403, "{status} for {request}");
    }
    assert_eq!(upstream.hits(), 0);
    let blocks = h.audited("NETWORK_BLOCK");
    assert_eq!(blocks.len(), requests.len(), "{blocks:?}");
    assert_eq!(blocks[0]["resource"], format!("other.test:{port}"));
    assert_eq!(blocks[1]["resource"], "api.test:443");
    assert_eq!(blocks[2]["resource"], format!("api.test:{port}"));
    let log = h.audit_text();
    assert!(!log.contains(value), "{log}");
    assert!(!log.contains("token="), "{log}");
}

#[tokio::test]
async fn a_secret_in_a_denied_host_name_is_not_written_to_the_audit_log() {
    let (up_addr, upstream) = spawn_http_upstream(Ipv4Addr::LOCALHOST).await;
    let h = start(Options {
        grants: vec![format!("api.test:{}", up_addr.port())],
        ..Options::default()
    })
    .await;
    let aws = "AKIAIOSFODNN7EXAMPL3";
    let url = format!(
        "http://{}.evil.test:{}/",
        aws.to_lowercase(),
        up_addr.port()
    );
    let (status, text) = curl_via(&h, &url, &[]).await;
    assert_eq!(status, 403, "{text}");
    assert_eq!(upstream.hits(), 0);
    assert_eq!(h.audited("NETWORK_BLOCK").len(), 1);
    let log = h.audit_text().to_lowercase();
    assert!(!log.contains(&aws.to_lowercase()), "{log}");
}

#[tokio::test]
async fn a_malformed_or_out_of_range_port_is_refused_never_read_as_80() {
    // The grant allows api.test on port 80 (a rule without a port), which a port that
    // fails to parse must not fall back to.
    let h = start(Options {
        grants: vec!["api.test".to_owned()],
        ..Options::default()
    })
    .await;
    let auth = basic(&h.token);
    for authority in [
        "api.test:abc",
        "api.test:99999",
        "api.test:65536",
        "api.test:0",
        "api.test:",
        "api.test:+80",
        "api.test:80x",
    ] {
        let request = format!(
            "GET http://{authority}/ HTTP/1.1\r\nHost: x\r\nProxy-Authorization: Basic {auth}\r\n\r\n"
        );
        let status = raw(h.addr, request.as_bytes()).await;
        assert_eq!(status, 400, "{authority}");
    }
    let blocks = h.audited("NETWORK_BLOCK");
    assert_eq!(blocks.len(), 7, "{blocks:?}");
    assert!(
        blocks
            .iter()
            .all(|b| b["reason"].as_str().unwrap().starts_with("invalid port")),
        "{blocks:?}"
    );
    assert!(
        blocks
            .iter()
            .all(|b| b["port"].is_null() && b["resource"] == "api.test"),
        "{blocks:?}"
    );
    // The same for CONNECT.
    for authority in ["api.test:abc", "api.test:99999", "api.test:0"] {
        let request = format!(
            "CONNECT {authority} HTTP/1.1\r\nHost: {authority}\r\nProxy-Authorization: Basic {auth}\r\n\r\n"
        );
        assert_eq!(raw(h.addr, request.as_bytes()).await, 400, "{authority}");
    }
    assert_eq!(h.audited("NETWORK_BLOCK").len(), 10);
}

#[tokio::test]
async fn requests_hyper_refuses_itself_are_audited_against_their_job() {
    let (up_addr, upstream) = spawn_http_upstream(Ipv4Addr::LOCALHOST).await;
    let h = start(Options {
        grants: vec![format!("api.test:{}", up_addr.port())],
        ..Options::default()
    })
    .await;
    let auth = basic(&h.token);
    let url = format!("http://api.test:{}/", up_addr.port());
    // A job authenticates on a kept-alive connection, then sends a head over the
    // limit, which hyper answers with 431 before the proxy sees any header.
    let mut stream = TcpStream::connect(h.addr).await.unwrap();
    let request =
        format!("GET {url} HTTP/1.1\r\nHost: x\r\nProxy-Authorization: Basic {auth}\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    assert_eq!(read_one_response(&mut stream).await.status, 200);
    let huge = format!(
        "GET {url} HTTP/1.1\r\nHost: x\r\nProxy-Authorization: Basic {auth}\r\nX-Big: {}\r\n\r\n",
        "b".repeat(40 * 1024)
    );
    stream.write_all(huge.as_bytes()).await.unwrap();
    assert_eq!(read_one_response(&mut stream).await.status, 431);
    drop(stream);
    // Malformed requests on fresh connections: no job is known, still audited, once
    // per client address per minute (the record counts the refusals).
    for garbage in [
        "GARBAGE\r\n\r\n".to_owned(),
        format!(
            "POST {url} HTTP/1.1\r\nHost: x\r\nProxy-Authorization: Basic {auth}\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab"
        ),
        "GET / HTTP/1.1\r\nBad Header\r\n\r\n".to_owned(),
    ] {
        assert_eq!(raw(h.addr, garbage.as_bytes()).await, 400, "{garbage}");
    }
    assert_eq!(upstream.hits(), 1);
    let mut blocks = Vec::new();
    for _ in 0..50 {
        blocks = h.audited("NETWORK_BLOCK");
        if blocks.len() >= 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // The other two malformed requests fall in the same minute: no more records.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let blocks_later = h.audited("NETWORK_BLOCK");
    assert_eq!(blocks_later.len(), 2, "{blocks_later:?}");
    assert_eq!(blocks.len(), 2, "{blocks:?}");
    let too_large = &blocks[0];
    assert_eq!(too_large["reason"], "request head too large");
    assert_eq!(too_large["job"], "job-1");
    assert_eq!(too_large["skill"], "fetcher");
    let stranger = &blocks[1];
    assert_eq!(stranger["reason"], "malformed request");
    assert_eq!(stranger["peer"], "127.0.0.1");
    assert_eq!(stranger["refusals"], 1);
    assert!(stranger["job"].is_null());
    assert_eq!(h.proxy.metrics("job-1").unwrap().denied, 1);
}

#[tokio::test]
async fn a_connection_over_the_proxy_limit_gets_503() {
    let h = start(Options {
        max_connections: 1,
        ..Options::default()
    })
    .await;
    let held = TcpStream::connect(h.addr).await.unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    let answer = raw_until_close(h.addr, b"GET http://api.test/ HTTP/1.1\r\n\r\n").await;
    assert!(answer.starts_with("HTTP/1.1 503 "), "{answer}");
    drop(held);
}

#[tokio::test]
async fn a_compressed_request_body_is_scanned_decoded_and_bombs_hit_the_cap() {
    use std::io::Write as _;
    let (up_addr, upstream) = spawn_http_upstream(Ipv4Addr::LOCALHOST).await;
    let h = start(Options {
        grants: vec![format!("api.test:{}", up_addr.port())],
        limits: Limits {
            max_body_bytes: 64 * 1024,
            requests_per_minute_per_job: 0,
            ..Limits::default()
        },
        ..Options::default()
    })
    .await;
    let url = format!("http://api.test:{}/upload", up_addr.port());
    let post = |encoding: &str, body: &[u8]| {
        proxied_request(
            &h,
            "POST",
            &url,
            &format!("Content-Encoding: {encoding}\r\n"),
            body,
        )
    };
    // A clean compressed body goes through as sent.
    let clean = gzip(b"hello=world");
    let answer = raw_response(h.addr, &post("gzip", &clean)).await;
    assert_eq!(answer.status, 200, "{answer:?}");
    assert_eq!(upstream.last().body, clean);
    assert!(upstream.last().head.contains("content-encoding: gzip"));

    let leak = b"key=AKIAIOSFODNN7EXAMPL3";
    let mut zlib = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    zlib.write_all(leak).unwrap();
    let cases: Vec<(&str, Vec<u8>, u16)> = vec![
        ("gzip", gzip(leak), 403),
        ("x-gzip", gzip(leak), 403),
        ("deflate", zlib.finish().unwrap(), 403),
        // 16 MiB of zeros compress to a few KiB: the decoder stops at the limit.
        ("gzip", gzip(&vec![0u8; 16 << 20]), 413),
        ("gzip", b"this is not gzip".to_vec(), 400),
        ("br", leak.to_vec(), 415),
        ("gzip, gzip", gzip(&gzip(leak)), 415),
        ("AKIAIOSFODNN7EXAMPL4", leak.to_vec(), 415),
    ];
    for (encoding, body, expected) in &cases {
        assert!(body.len() < 64 * 1024);
        let answer = raw_response(h.addr, &post(encoding, body)).await;
        assert_eq!(answer.status, *expected, "{encoding}: {answer:?}");
    }
    assert_eq!(upstream.hits(), 1);
    assert_eq!(h.audited("LEAK_BLOCKED").len(), 3);
    let reasons: Vec<String> = h
        .audited("NETWORK_BLOCK")
        .iter()
        .map(|b| b["reason"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        reasons,
        vec![
            "decoded request body over the limit",
            "request body does not match its content-encoding",
            "request content-encoding \"br\" cannot be scanned for leaks",
            "request content-encoding \"gzip, gzip\" cannot be scanned for leaks",
            "request content-encoding \"unknown\" cannot be scanned for leaks",
        ]
    );
}

#[tokio::test]
async fn a_percent_encoded_secret_in_the_request_is_caught() {
    let (up_addr, upstream) = spawn_http_upstream(Ipv4Addr::LOCALHOST).await;
    let registered = "S3cr3t Value/42+x";
    let h = start(Options {
        grants: vec![format!("api.test:{}", up_addr.port())],
        leak_detector: Some(
            LeakDetector::builder()
                .known_secret(registered)
                .build()
                .unwrap(),
        ),
        limits: Limits {
            requests_per_minute_per_job: 0,
            ..Limits::default()
        },
        ..Options::default()
    })
    .await;
    let base = format!("http://api.test:{}", up_addr.port());
    let every_byte: String = registered.bytes().map(|b| format!("%{b:02x}")).collect();
    let targets = [
        // Mixed-case hex.
        format!("{base}/?q=S3cr3t%20Value%2f42%2Bx"),
        // `+` for the space, lower-case hex.
        format!("{base}/?q=S3cr3t+Value%2f42%2bx"),
        // Every byte encoded, in the path.
        format!("{base}/{every_byte}"),
        // A built-in pattern with one letter encoded.
        format!("{base}/?k=%41KIAIOSFODNN7EXAMPL3"),
        // Encoded twice.
        format!("{base}/?k=%2541KIAIOSFODNN7EXAMPL3"),
    ];
    for target in &targets {
        let answer = raw_response(h.addr, &proxied_request(&h, "GET", target, "", b"")).await;
        assert_eq!(answer.status, 403, "{target}: {answer:?}");
    }
    // A form body, encoded the same ways.
    for body in [
        "key=%41KIAIOSFODNN7EXAMPL3".to_owned(),
        "q=S3cr3t+Value%2f42%2bx".to_owned(),
    ] {
        let request = proxied_request(
            &h,
            "POST",
            &format!("{base}/form"),
            "Content-Type: application/x-www-form-urlencoded\r\n",
            body.as_bytes(),
        );
        let answer = raw_response(h.addr, &request).await;
        assert_eq!(answer.status, 403, "{body}: {answer:?}");
    }
    assert_eq!(upstream.hits(), 0);
    assert_eq!(h.audited("LEAK_BLOCKED").len(), targets.len() + 2);
    // Percent signs that encode nothing secret still go through.
    let answer = raw_response(
        h.addr,
        &proxied_request(&h, "GET", &format!("{base}/?q=100%25+sure"), "", b""),
    )
    .await;
    assert_eq!(answer.status, 200, "{answer:?}");
}

#[tokio::test]
async fn a_post_is_never_sent_twice_when_a_pooled_connection_dies_under_it() {
    // Each upstream connection answers its first request, then reads the next one and
    // closes without answering (as a server does that drops idle connections just as
    // a request arrives, or crashes while handling it).
    let seen: Arc<Mutex<Vec<String>>> = Arc::default();
    let recorder = Arc::clone(&seen);
    let up_addr = spawn_raw_upstream(move |mut stream, _n| {
        let seen = Arc::clone(&recorder);
        async move {
            let Some((head, _)) = read_request(&mut stream).await else {
                return;
            };
            seen.lock()
                .unwrap()
                .push(head.lines().next().unwrap_or("").to_owned());
            stream
                .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
                .await
                .unwrap();
            if let Some((head, _)) = read_request(&mut stream).await {
                seen.lock()
                    .unwrap()
                    .push(head.lines().next().unwrap_or("").to_owned());
            }
        }
    })
    .await;
    let h = start(Options {
        grants: vec![format!("api.test:{}", up_addr.port())],
        ..Options::default()
    })
    .await;
    let url = format!("http://api.test:{}/", up_addr.port());
    let get = |path: &str| proxied_request(&h, "GET", &format!("{url}{path}"), "", b"");
    assert_eq!(raw_response(h.addr, &get("first")).await.status, 200);
    // The POST goes out on the pooled connection, which dies under it: 502, once.
    let post = proxied_request(&h, "POST", &format!("{url}post"), "", b"pay=1");
    let answer = raw_response(h.addr, &post).await;
    assert_eq!(answer.status, 502, "{answer:?}");
    let posts = seen
        .lock()
        .unwrap()
        .iter()
        .filter(|l| l.starts_with("post"))
        .count();
    assert_eq!(posts, 1, "{:?}", seen.lock().unwrap());
    // A GET in the same situation is resent on a fresh connection.
    assert_eq!(raw_response(h.addr, &get("warm")).await.status, 200);
    assert_eq!(raw_response(h.addr, &get("again")).await.status, 200);
    let lines = seen.lock().unwrap().clone();
    assert_eq!(
        lines.iter().filter(|l| l.starts_with("get /again")).count(),
        2,
        "{lines:?}"
    );
}

#[tokio::test]
async fn a_streaming_response_holds_its_concurrency_slot_until_it_ends() {
    let release = Arc::new(tokio::sync::Notify::new());
    let upstream_release = Arc::clone(&release);
    let requests = Arc::new(AtomicUsize::new(0));
    let up_addr = spawn_raw_upstream(move |mut stream, _| {
        let release = Arc::clone(&upstream_release);
        let requests = Arc::clone(&requests);
        async move {
            while read_request(&mut stream).await.is_some() {
                if requests.fetch_add(1, Ordering::SeqCst) == 0 {
                    // Head and half the body now, the rest when the test says so.
                    stream
                        .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhello")
                        .await
                        .unwrap();
                    release.notified().await;
                    stream.write_all(b"world").await.unwrap();
                } else {
                    stream
                        .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
                        .await
                        .unwrap();
                }
            }
        }
    })
    .await;
    let h = start(Options {
        grants: vec![format!("api.test:{}", up_addr.port())],
        limits: Limits {
            max_concurrent_requests_per_job: 1,
            ..Limits::default()
        },
        ..Options::default()
    })
    .await;
    let url = format!("http://api.test:{}/", up_addr.port());
    let request = proxied_request(&h, "GET", &url, "", b"");
    let mut streaming = TcpStream::connect(h.addr).await.unwrap();
    streaming.write_all(&request).await.unwrap();
    let mut seen = Vec::new();
    let mut buf = [0u8; 1024];
    while !seen.ends_with(b"hello") {
        let n = tokio::time::timeout(Duration::from_secs(5), streaming.read(&mut buf))
            .await
            .unwrap()
            .unwrap();
        assert!(n > 0);
        seen.extend_from_slice(&buf[..n]);
    }
    // Headers are out and the body is still streaming: the job's one slot is taken.
    let answer = raw_response(h.addr, &request).await;
    assert_eq!(answer.status, 429, "{answer:?}");
    release.notify_one();
    let mut rest = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), streaming.read_to_end(&mut rest))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(rest, b"world");
    // The body has ended; the slot is free again.
    let mut answer = raw_response(h.addr, &request).await;
    for _ in 0..20 {
        if answer.status == 200 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        answer = raw_response(h.addr, &request).await;
    }
    assert_eq!(answer.status, 200, "{answer:?}");
    assert_eq!(answer.body, b"ok");
}

#[tokio::test]
async fn a_head_response_ends_at_its_head_on_pooled_connections() {
    let (up_addr, upstream) = spawn_upstream_with(
        Ipv4Addr::LOCALHOST,
        Arc::new(|_: &Received| Response::new(Full::new(Bytes::from_static(b"0123456789")))),
    )
    .await;
    let h = start(Options {
        grants: vec![
            format!("api.test:{}", up_addr.port()),
            format!("other.test:{}", up_addr.port()),
        ],
        credentials: bearer_for(&["other.test"]),
        secret_grant: vec!["api_token"],
        ..Options::default()
    })
    .await;
    h.store
        .put("default", "api_token", &SecretValue::from(SECRET))
        .unwrap();
    for host in ["api.test", "other.test"] {
        let url = format!("http://{host}:{}/", up_addr.port());
        for _ in 0..2 {
            let head = raw_response(h.addr, &proxied_request(&h, "HEAD", &url, "", b"")).await;
            assert_eq!(head.status, 200, "{host}: {head:?}");
            // The length of the body a GET would get; no body follows.
            assert!(head.head.contains("content-length: 10"), "{host}: {head:?}");
            assert!(head.body.is_empty(), "{host}: {head:?}");
            let get = raw_response(h.addr, &proxied_request(&h, "GET", &url, "", b"")).await;
            assert_eq!(get.status, 200, "{host}: {get:?}");
            assert_eq!(get.body, b"0123456789");
        }
    }
    // Eight requests to one address, one upstream connection: HEAD left it reusable
    // at once, with or without a credential.
    assert_eq!(upstream.hits(), 8);
    assert_eq!(upstream.connections.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn removing_a_job_revokes_its_token_connections_and_tunnels_at_once() {
    let release = Arc::new(tokio::sync::Notify::new());
    let upstream_release = Arc::clone(&release);
    let requests = Arc::new(AtomicUsize::new(0));
    let connections = Arc::new(AtomicUsize::new(0));
    let closed = Arc::new(AtomicUsize::new(0));
    let upstream_connections = Arc::clone(&connections);
    let upstream_closed = Arc::clone(&closed);
    let up_addr = spawn_raw_upstream(move |mut stream, _| {
        let release = Arc::clone(&upstream_release);
        let requests = Arc::clone(&requests);
        let closed = Arc::clone(&upstream_closed);
        upstream_connections.fetch_add(1, Ordering::SeqCst);
        async move {
            while read_request(&mut stream).await.is_some() {
                // The first request streams its body until released.
                if requests.fetch_add(1, Ordering::SeqCst) == 0 {
                    stream
                        .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhello")
                        .await
                        .unwrap();
                    release.notified().await;
                    stream.write_all(b"world").await.unwrap();
                } else {
                    stream
                        .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
                        .await
                        .unwrap();
                }
            }
            closed.fetch_add(1, Ordering::SeqCst);
        }
    })
    .await;
    let (tls_addr, _tls_upstream, _pem) = spawn_https_upstream().await;
    let grants = vec![
        format!("api.test:{}", up_addr.port()),
        format!("api.test:{}", tls_addr.port()),
    ];
    let h = start(Options {
        grants: grants.clone(),
        ..Options::default()
    })
    .await;
    let auth = basic(&h.token);
    let url = format!("http://api.test:{}/", up_addr.port());
    let keep_alive =
        format!("GET {url} HTTP/1.1\r\nHost: x\r\nProxy-Authorization: Basic {auth}\r\n\r\n");

    // A response still streaming when the job is removed (upstream connection A).
    let mut streaming = TcpStream::connect(h.addr).await.unwrap();
    streaming
        .write_all(&proxied_request(&h, "GET", &url, "", b""))
        .await
        .unwrap();
    let mut seen = Vec::new();
    let mut buf = [0u8; 1024];
    while !seen.ends_with(b"hello") {
        let n = streaming.read(&mut buf).await.unwrap();
        assert!(n > 0);
        seen.extend_from_slice(&buf[..n]);
    }
    // A kept-alive client connection that authenticated before the removal; its
    // request left upstream connection B idle in the pool.
    let mut client = TcpStream::connect(h.addr).await.unwrap();
    client.write_all(keep_alive.as_bytes()).await.unwrap();
    assert_eq!(read_one_response(&mut client).await.status, 200);
    // An open tunnel.
    let mut tunnel = TcpStream::connect(h.addr).await.unwrap();
    let connect = format!(
        "CONNECT api.test:{port} HTTP/1.1\r\nHost: api.test:{port}\r\nProxy-Authorization: Basic {auth}\r\n\r\n",
        port = tls_addr.port()
    );
    tunnel.write_all(connect.as_bytes()).await.unwrap();
    let n = tunnel.read(&mut buf).await.unwrap();
    assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"));
    assert_eq!(connections.load(Ordering::SeqCst), 2);

    assert!(h.proxy.remove_job("job-1"));
    // The idle connection B is closed.
    for _ in 0..100 {
        if closed.load(Ordering::SeqCst) == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(closed.load(Ordering::SeqCst), 1);

    // The token fails at once on the connection that used it.
    client.write_all(keep_alive.as_bytes()).await.unwrap();
    assert_eq!(read_one_response(&mut client).await.status, 407);
    // The tunnel is closed.
    let tunnel_end = tokio::time::timeout(Duration::from_secs(5), tunnel.read(&mut buf)).await;
    assert!(
        matches!(tunnel_end, Ok(Ok(0)) | Ok(Err(_))),
        "{tunnel_end:?}"
    );
    // The streaming response still finishes for the client...
    release.notify_one();
    let mut rest = Vec::new();
    streaming.read_to_end(&mut rest).await.unwrap();
    assert_eq!(rest, b"world");
    // ...but its upstream connection A is not kept for the job: registered again
    // under the same id, it gets a fresh one.
    let token = JobToken::generate().unwrap();
    let mut grant = JobGrant::new("job-1");
    grant.network = NetworkAllowlist::new(&grants).unwrap();
    h.proxy.add_job(&token, grant);
    let again = format!(
        "GET {url} HTTP/1.1\r\nHost: x\r\nProxy-Authorization: Bearer {}\r\nConnection: close\r\n\r\n",
        token.expose()
    );
    assert_eq!(raw_response(h.addr, again.as_bytes()).await.status, 200);
    assert_eq!(connections.load(Ordering::SeqCst), 3);
    // A was closed once its response ended (C stays pooled for the new job).
    for _ in 0..100 {
        if closed.load(Ordering::SeqCst) == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(closed.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn an_empty_or_blank_token_never_authenticates() {
    use base64::Engine as _;
    for (token, expected) in [
        ("", "empty"),
        ("   ", "empty"),
        ("\t\n", "empty"),
        (" padded-token-0123456789 ", "white space"),
        ("short", "at least 16"),
        ("token-with-a\u{7}-bell-0123", "control"),
    ] {
        let err = JobToken::new(token).unwrap_err();
        assert!(err.to_string().contains(expected), "{token:?}: {err}");
    }
    assert!(JobToken::new("a-fine-token-0123456789").is_ok());

    let (up_addr, upstream) = spawn_http_upstream(Ipv4Addr::LOCALHOST).await;
    let h = start(Options {
        grants: vec![format!("api.test:{}", up_addr.port())],
        ..Options::default()
    })
    .await;
    let url = format!("http://api.test:{}/", up_addr.port());
    let encode = |text: &str| base64::engine::general_purpose::STANDARD.encode(text);
    for credential in [
        format!("Basic {}", encode("job:")),
        format!("Basic {}", encode(":")),
        format!("Basic {}", encode("job:   ")),
        format!("Basic {}", encode("job:\t")),
        "Bearer ".to_owned(),
        "Bearer      ".to_owned(),
        "Basic ".to_owned(),
    ] {
        let request = format!(
            "GET {url} HTTP/1.1\r\nHost: x\r\nProxy-Authorization: {credential}\r\nConnection: close\r\n\r\n"
        );
        let answer = raw_response(h.addr, request.as_bytes()).await;
        assert_eq!(answer.status, 407, "{credential:?}: {answer:?}");
    }
    assert_eq!(upstream.hits(), 0);
}

/// Counts the names it is asked to resolve.
#[derive(Debug, Default)]
struct CountingResolver {
    asked: Mutex<Vec<String>>,
}

impl Resolver for CountingResolver {
    fn resolve(&self, host: &str, _port: u16) -> Result<Vec<IpAddr>, ResolveError> {
        self.asked.lock().unwrap().push(host.to_owned());
        Ok(vec![IpAddr::V4(Ipv4Addr::LOCALHOST)])
    }
}

#[tokio::test]
async fn a_secret_in_a_connect_host_never_reaches_dns() {
    let resolver = Arc::new(CountingResolver::default());
    let h = start(Options {
        grants: vec!["*.wild.test".to_owned()],
        resolver: Some(resolver.clone()),
        ..Options::default()
    })
    .await;
    let auth = basic(&h.token);
    for host in [
        "AKIAIOSFODNN7EXAMPL3.wild.test",
        "akiaiosfodnn7exampl3.wild.test",
    ] {
        let request = format!(
            "CONNECT {host}:443 HTTP/1.1\r\nHost: {host}:443\r\nProxy-Authorization: Basic {auth}\r\n\r\n"
        );
        assert_eq!(raw(h.addr, request.as_bytes()).await, 403, "{host}");
    }
    // The same through a plain-HTTP request.
    let url = "http://akiaiosfodnn7exampl3.wild.test/";
    let answer = raw_response(h.addr, &proxied_request(&h, "GET", url, "", b"")).await;
    assert_eq!(answer.status, 403, "{answer:?}");
    assert!(resolver.asked.lock().unwrap().is_empty());
    let leaks = h.audited("LEAK_BLOCKED");
    assert_eq!(leaks.len(), 3);
    let log = h.audit_text().to_ascii_lowercase();
    assert!(!log.contains("akiaiosfodnn7exampl3"), "{log}");
}
