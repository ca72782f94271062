#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]
//! Decision costs: allowlists of 10,000 rules, address checks, rate limiting.

use std::hint::black_box;
use std::net::IpAddr;

use criterion::{Criterion, criterion_group, criterion_main};
use ironclaw_policy::{
    Gcra, HttpAllowlist, HttpRule, NetworkGrants, NetworkPermission, ParsedUrl, SsrfPolicy,
};

const RULES: usize = 10_000;

fn allowlist() -> HttpAllowlist {
    let rules = (0..RULES)
        .map(|i| {
            let host = if i % 2 == 0 {
                format!("api{i}.service{}.example.com", i % 97)
            } else {
                format!("*.tenant{i}.example.net")
            };
            HttpRule {
                path_prefix: Some(format!("/v{}/", i % 5)),
                methods: Some(vec!["GET".into(), "POST".into()]),
                ..HttpRule::new(host)
            }
        })
        .collect();
    HttpAllowlist::new(rules).unwrap()
}

fn network_decisions(c: &mut Criterion) {
    let list = allowlist();
    let exact = ParsedUrl::parse("https://api5000.service53.example.com/v0/items/1").unwrap();
    let wildcard = ParsedUrl::parse("https://a.b.tenant5001.example.net/v1/x").unwrap();
    let miss = ParsedUrl::parse("https://unknown.host.example.org/v0/x").unwrap();
    assert!(list.check("GET", &exact).is_allowed());
    assert!(list.check("GET", &wildcard).is_allowed());
    assert!(!list.check("GET", &miss).is_allowed());

    let mut g = c.benchmark_group("http_allowlist_10k");
    g.bench_function("exact_hit", |b| {
        b.iter(|| black_box(list.check("GET", black_box(&exact))))
    });
    g.bench_function("wildcard_hit", |b| {
        b.iter(|| black_box(list.check("GET", black_box(&wildcard))))
    });
    g.bench_function("miss", |b| {
        b.iter(|| black_box(list.check("GET", black_box(&miss))))
    });
    g.bench_function("parse_and_check", |b| {
        b.iter(|| {
            black_box(list.check_url(
                "GET",
                black_box("https://api5000.service53.example.com/v0/items/1"),
            ))
        })
    });
    g.finish();

    let grants: Vec<NetworkPermission> = (0..RULES)
        .map(|i| {
            let spec = if i % 2 == 0 {
                format!("host{i}.example.com:{}", 1000 + i % 7)
            } else {
                format!("*.zone{i}.example.org")
            };
            NetworkPermission::parse(&spec).unwrap()
        })
        .collect();
    let index = NetworkGrants::new(&grants);
    assert!(
        index
            .check_normalized("host5000.example.com", 1000 + 5000 % 7)
            .is_allowed()
    );
    let mut g = c.benchmark_group("network_grants_10k");
    g.bench_function("exact_hit", |b| {
        b.iter(|| black_box(index.check_normalized(black_box("host5000.example.com"), 1002)))
    });
    g.bench_function("wildcard_hit", |b| {
        b.iter(|| black_box(index.check_normalized(black_box("x.zone5001.example.org"), 443)))
    });
    g.bench_function("miss", |b| {
        b.iter(|| black_box(index.check_normalized(black_box("nowhere.example.com"), 443)))
    });
    g.finish();
}

fn address_and_rate(c: &mut Criterion) {
    let ssrf = SsrfPolicy::new();
    let public: IpAddr = "93.184.216.34".parse().unwrap();
    let v6: IpAddr = "2606:4700:4700::1111".parse().unwrap();
    c.bench_function("ssrf_check_ipv4_public", |b| {
        b.iter(|| black_box(ssrf.check_ip(black_box(public))))
    });
    c.bench_function("ssrf_check_ipv6_public", |b| {
        b.iter(|| black_box(ssrf.check_ip(black_box(v6))))
    });
    let gcra = Gcra::per_hour(3600, 10);
    let mut tat = 0u64;
    let mut now = 0u64;
    c.bench_function("gcra_check", |b| {
        b.iter(|| {
            now += 1_000_000_000;
            black_box(gcra.check(&mut tat, now))
        })
    });
}

criterion_group!(benches, network_decisions, address_and_rate);
criterion_main!(benches);
