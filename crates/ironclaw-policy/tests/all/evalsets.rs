//! The shared SSRF and path-traversal evaluation sets
//! (`../shared/evalsets/ssrf/`, next to the repository).

use std::net::IpAddr;
use std::path::PathBuf;

use ironclaw_policy::{EgressPolicy, SsrfPolicy, StaticResolver};

fn evalset(name: &str) -> Vec<Vec<String>> {
    // CI keeps `shared/` beside the repository; a worktree sits one level deeper.
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let path = ["../../../shared", "../../../../shared"]
        .iter()
        .map(|up| manifest.join(up).join("evalsets/ssrf").join(name))
        .find(|p| p.exists())
        .unwrap_or_else(|| manifest.join("../../../shared/evalsets/ssrf").join(name));
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("evaluation set {} is missing: {e}", path.display()));
    text.lines()
        .skip(1)
        .filter(|l| !l.trim().is_empty())
        .map(|l| l.split('\t').map(str::to_owned).collect())
        .collect()
}

/// A resolver that makes every name in the URL answer with the row's target when
/// the target is an address: the name "resolves internally", as the source says.
fn resolver_for(url: &str, target: &str) -> StaticResolver {
    let mut dns = StaticResolver::new();
    let ip = target.split('/').next().unwrap_or(target);
    if let (Ok(ip), Ok(parsed)) = (ip.parse::<IpAddr>(), url::Url::parse(url))
        && let Some(url::Host::Domain(d)) = parsed.host()
    {
        let _ = dns.insert(d, ip);
    }
    dns
}

#[test]
fn every_ssrf_url_is_denied_under_http_and_https() {
    let policy = EgressPolicy::builtin();
    let mut failures = Vec::new();
    let rows = evalset("ssrf_urls.tsv");
    assert!(rows.len() > 100);
    for row in &rows {
        let (url, target) = (&row[0], &row[1]);
        let https = url.replacen("http://", "https://", 1);
        for candidate in [url.as_str(), https.as_str()] {
            let dns = resolver_for(candidate, target);
            if let Ok(egress) = policy.check("GET", candidate, &dns) {
                failures.push(format!("{candidate} allowed: {:?}", egress.addrs));
            }
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

#[test]
fn other_payload_schemes_are_denied() {
    let policy = EgressPolicy::builtin();
    let dns = StaticResolver::new();
    for row in evalset("ssrf_other.tsv") {
        let url = &row[0];
        if !url.starts_with("https://") {
            assert!(policy.check("GET", url, &dns).is_err(), "{url}");
        }
    }
}

#[test]
fn ssrf_addresses_match_expectations() {
    let policy = SsrfPolicy::new();
    let rows = evalset("ssrf_addresses.tsv");
    assert!(rows.len() > 30);
    for row in rows {
        let ip: IpAddr = row[0].parse().unwrap();
        let deny = row[1] == "deny";
        assert_eq!(
            policy.check_ip(ip).is_err(),
            deny,
            "{} ({})",
            row[0],
            row[2]
        );
    }
}

#[test]
fn path_traversal_payloads_are_denied() {
    let policy = EgressPolicy::builtin();
    let mut dns = StaticResolver::new();
    dns.insert("example.com", "93.184.216.34".parse().unwrap())
        .unwrap();
    let mut failures = Vec::new();
    let mut checked = 0;
    for row in evalset("path_traversal.tsv") {
        let (payload, techniques) = (&row[0], &row[1]);
        if techniques.contains("encoding-fragment") {
            continue;
        }
        let url = if payload.starts_with("{{BaseURL}}") {
            payload.replace("{{BaseURL}}", "https://example.com")
        } else {
            format!("https://example.com/static/{payload}")
        };
        checked += 1;
        if policy.check("GET", &url, &dns).is_ok() {
            failures.push(url);
        }
    }
    assert!(checked > 150);
    assert!(failures.is_empty(), "{failures:#?}");
}
