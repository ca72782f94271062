//! Bypass tables and property tests for URL, host, path and address rules.

use std::cell::Cell;
use std::net::IpAddr;

use ironclaw_policy::{
    DenyKind, EgressPolicy, HttpAllowlist, HttpRule, ResolveError, Resolver, SsrfPolicy,
    StaticResolver, normalize_host, normalize_path,
};
use proptest::prelude::*;

fn dns() -> StaticResolver {
    let mut dns = StaticResolver::new();
    for (host, ip) in [
        ("example.com", "93.184.216.34"),
        ("api.github.com", "140.82.112.6"),
        ("raw.githubusercontent.com", "185.199.108.133"),
        ("rebind.example", "93.184.216.34"),
        ("rebind.example", "10.0.0.1"),
        ("internal.example", "192.168.1.10"),
        ("v6.example", "::ffff:169.254.169.254"),
        ("127.0.0.1.nip.io", "127.0.0.1"),
        ("xn--bcher-kva.example", "93.184.216.34"),
    ] {
        dns.insert(host, ip.parse().unwrap()).unwrap();
    }
    dns
}

/// The built-in tool's decision: `Ok(())` or the kind of refusal.
fn builtin(url: &str) -> Result<(), DenyKind> {
    EgressPolicy::builtin()
        .check("GET", url, &dns())
        .map(|_| ())
        .map_err(|d| d.kind)
}

fn check(url: &str, expected: Result<(), DenyKind>) {
    assert_eq!(builtin(url), expected, "{url}");
}

fn denied(url: &str) {
    assert!(builtin(url).is_err(), "{url} should be denied");
}

#[test]
fn builtin_tool_allows_public_https() {
    check("https://example.com/", Ok(()));
    check("https://EXAMPLE.com./a/b?q=1#frag", Ok(()));
    check("https://bücher.example/", Ok(()));
    check("https://93.184.216.34/", Ok(()));
    check("https://[2606:4700:4700::1111]/", Ok(()));
}

#[test]
fn builtin_tool_refuses_every_trick() {
    use DenyKind::*;
    check("http://example.com/", Err(Scheme));
    check("ftp://example.com/", Err(Scheme));
    check("file:///etc/passwd", Err(Scheme));
    check("gopher://example.com/", Err(Scheme));
    check("HTTPS://example.com:8443/", Err(Port));
    check("https://user:pass@example.com/", Err(Userinfo));
    check("https://example.com@169.254.169.254/", Err(Userinfo));
    check("https://example.com%40169.254.169.254/", Err(Userinfo));
    check("https:example.com/", Err(InvalidUrl));
    check("https:/example.com/", Err(InvalidUrl));
    check("https:///example.com/", Err(InvalidUrl));
    check("https://a..example.com/", Err(InvalidUrl));
    check("https://example.com../", Err(InvalidUrl));
    check("//example.com/", Err(InvalidUrl));
    check("https://%6c%6f%63%61%6c%68%6f%73%74/", Err(LocalName));
    check("https://ⓛⓞⓒⓐⓛⓗⓞⓢⓣ/", Err(LocalName));
    check("https://localhost.localdomain/", Err(LocalName));
    check("https://ip6-localhost/", Err(LocalName));
    check("https://169.254.169.254./", Err(CloudMetadata));
    check("https://0000000177.0.0.1/", Err(Loopback));
    check(
        "https://[0000:0000:0000:0000:0000:ffff:7f00:0001]/",
        Err(EmbeddedIpv4),
    );
    check("https://[::ffff:a9fe:a9fe]/", Err(EmbeddedIpv4));
    check("https://[0:0:0:0:0:0:0:0]/", Err(Unspecified));
    check("https://example.com:65536/", Err(InvalidUrl));
    check("javascript:alert(1)", Err(Scheme));
    check("data:text/html,hi", Err(Scheme));
    check("https://example.com\\@127.0.0.1/", Err(InvalidUrl));
    check("https://example.com /", Err(InvalidUrl));
    check("https://exa\tmple.com/", Err(InvalidUrl));
    check("https://localhost/", Err(LocalName));
    check("https://LOCALHOST./", Err(LocalName));
    check("https://foo.localhost/", Err(LocalName));
    check("https://intranet/", Err(LocalName));
    check("https://metadata.google.internal/", Err(CloudMetadata));
    check("https://127.0.0.1/", Err(Loopback));
    check("https://127.1/", Err(Loopback));
    check("https://0177.0.0.1/", Err(Loopback));
    check("https://0x7f.0.0.1/", Err(Loopback));
    check("https://0x7f000001/", Err(Loopback));
    check("https://2130706433/", Err(Loopback));
    check("https://017700000001/", Err(Loopback));
    check("https://127.0.0.1./", Err(Loopback));
    check("https://%31%32%37.0.0.1/", Err(Loopback));
    check("https://①②⑦.⓪.⓪.①/", Err(Loopback));
    check("https://127。0。0。1/", Err(Loopback));
    check("https://[::1]/", Err(Loopback));
    check("https://[0:0:0:0:0:0:0:1]/", Err(Loopback));
    check("https://[::ffff:127.0.0.1]/", Err(EmbeddedIpv4));
    check("https://[::ffff:7f00:1]/", Err(EmbeddedIpv4));
    check("https://[::127.0.0.1]/", Err(EmbeddedIpv4));
    check("https://[64:ff9b::7f00:1]/", Err(EmbeddedIpv4));
    check("https://[2002:7f00:1::]/", Err(EmbeddedIpv4));
    check("https://[fe80::1%25eth0]/", Err(InvalidUrl));
    check(
        "https://169.254.169.254/latest/meta-data/",
        Err(CloudMetadata),
    );
    check("https://0xa9fea9fe/", Err(CloudMetadata));
    check("https://2852039166/", Err(CloudMetadata));
    check("https://[fd00:ec2::254]/", Err(CloudMetadata));
    check("https://0/", Err(Unspecified));
    check("https://0.0.0.0/", Err(Unspecified));
    check("https://[::]/", Err(Unspecified));
    check("https://10.1.2.3/", Err(Private));
    check("https://172.20.0.1/", Err(Private));
    check("https://192.168.0.1/", Err(Private));
    check("https://100.64.1.1/", Err(SharedAddressSpace));
    check("https://224.0.0.1/", Err(Multicast));
    check("https://255.255.255.255/", Err(Broadcast));
    check("https://[fc00::1]/", Err(UniqueLocal));
    check("https://[fec0::1]/", Err(SiteLocal));
    check("https://rebind.example/", Err(Private));
    check("https://internal.example/", Err(Private));
    check("https://v6.example/", Err(EmbeddedIpv4));
    check("https://127.0.0.1.nip.io/", Err(Loopback));
    check("https://unknown.example/", Err(DoesNotResolve));
    check("https://example.com/../admin", Err(PathTraversal));
    check("https://example.com/%2e%2e/admin", Err(PathTraversal));
    check("https://example.com/a/..%2fadmin", Err(PathTraversal));
    check("https://example.com/%252e%252e/admin", Err(PathTraversal));
    check("https://example.com/%c0%ae%c0%ae/admin", Err(PathTraversal));
    check("https://example.com/?next=http://127.0.0.1/", Err(Loopback));
    check(
        "https://example.com/?next=http://localhost:8080/",
        Err(LocalName),
    );
    check("https://example.com/?q=foo://bar", Ok(()));
    check("https://example.com/web/2020/https://example.org/", Ok(()));
    check(
        "https://example.com/r?u=http%3A%2F%2F169.254.169.254%2F",
        Err(CloudMetadata),
    );
    denied("https://425.510.425.510/");
    denied("https://0x41414141A9FEA9FE/");
    denied("https://7147006462/");
    denied("https://0o177.0.0.1/");
    denied("https://1.1.1.1 &@2.2.2.2# @3.3.3.3/");
    denied(&format!("https://example.com/{}", "a".repeat(9000)));
}

fn allowlist() -> HttpAllowlist {
    let rules = vec![
        HttpRule {
            path_prefix: Some("/repos/".into()),
            methods: Some(vec!["GET".into(), "POST".into()]),
            ..HttpRule::new("api.github.com")
        },
        HttpRule {
            methods: Some(vec!["GET".into()]),
            ..HttpRule::new("*.githubusercontent.com")
        },
        HttpRule {
            path_prefix: Some("/v1".into()),
            ports: vec![8443],
            ..HttpRule::new("example.com")
        },
    ];
    HttpAllowlist::new(rules).unwrap()
}

fn tool(method: &str, url: &str, expected: Result<(), DenyKind>) {
    let policy = EgressPolicy::builtin().with_allowlist(allowlist());
    let got = policy
        .check(method, url, &dns())
        .map(|_| ())
        .map_err(|d| d.kind);
    assert_eq!(got, expected, "{method} {url}");
}

#[test]
fn tool_allowlist_table() {
    use DenyKind::*;
    tool("GET", "https://api.github.com/repos/a/b", Ok(()));
    tool("post", "https://API.GitHub.com/repos/a", Ok(()));
    tool("GET", "https://api.github.com/repos/", Ok(()));
    tool("GET", "https://api.github.com/repos", Err(PathNotAllowed));
    tool(
        "GET",
        "https://api.github.com/reposx/a",
        Err(PathNotAllowed),
    );
    tool("GET", "https://api.github.com/user", Err(PathNotAllowed));
    tool(
        "GET",
        "https://api.github.com/repos/../user",
        Err(PathTraversal),
    );
    tool(
        "GET",
        "https://api.github.com/repos/%2e%2e/user",
        Err(PathTraversal),
    );
    tool(
        "GET",
        "https://api.github.com/repos%2f..%2fuser",
        Err(PathTraversal),
    );
    tool(
        "DELETE",
        "https://api.github.com/repos/a",
        Err(MethodNotAllowed),
    );
    tool("GET", "http://api.github.com/repos/a", Err(Scheme));
    tool("GET", "https://api.github.com:444/repos/a", Err(Port));
    tool("GET", "https://api.github.com:443/repos/a", Ok(()));
    tool("GET", "https://raw.githubusercontent.com/x", Ok(()));
    tool(
        "GET",
        "https://githubusercontent.com/x",
        Err(HostNotAllowed),
    );
    tool(
        "GET",
        "https://evilgithubusercontent.com/x",
        Err(HostNotAllowed),
    );
    tool(
        "GET",
        "https://api.github.com.evil.com/repos/a",
        Err(HostNotAllowed),
    );
    tool("GET", "https://example.com:8443/v1/x", Ok(()));
    tool("GET", "https://example.com/v1", Ok(()));
    tool("GET", "https://example.com/v10", Err(PathNotAllowed));
    tool("GET", "https://example.com/v%31/x", Ok(()));
    tool("GET", "https://example.com:8444/v1/x", Err(Port));
    tool("GET", "https://other.com/", Err(HostNotAllowed));
}

#[test]
fn empty_allowlist_denies_everything() {
    let policy = EgressPolicy::builtin().with_allowlist(HttpAllowlist::new(vec![]).unwrap());
    let got = policy.check("GET", "https://example.com/", &dns());
    assert_eq!(got.unwrap_err().kind, DenyKind::HostNotAllowed);
}

#[test]
fn malformed_rules_are_refused() {
    for host in [
        "*",
        "*.com",
        "a.*.com",
        "",
        "exa mple.com",
        "a.com:x",
        "a.com:0",
    ] {
        assert!(
            HttpAllowlist::new(vec![HttpRule::new(host)]).is_err(),
            "{host}"
        );
    }
    let bad_prefix = HttpRule {
        path_prefix: Some("/a/../b".into()),
        ..HttpRule::new("a.com")
    };
    assert!(HttpAllowlist::new(vec![bad_prefix]).is_err());
}

/// Answers differently on every query, counting them.
#[derive(Debug, Default)]
struct Flipping {
    calls: Cell<u32>,
}

impl Resolver for Flipping {
    fn resolve(&self, _host: &str, _port: u16) -> Result<Vec<IpAddr>, ResolveError> {
        let n = self.calls.get();
        self.calls.set(n + 1);
        let ip = if n == 0 { "93.184.216.34" } else { "127.0.0.1" };
        Ok(vec![ip.parse().unwrap()])
    }
}

#[test]
fn resolver_is_asked_once_and_checked_addresses_returned() {
    let flip = Flipping::default();
    let egress = EgressPolicy::builtin()
        .check("GET", "https://flip.example/", &flip)
        .unwrap();
    assert_eq!(flip.calls.get(), 1);
    assert_eq!(egress.addrs, vec!["93.184.216.34:443".parse().unwrap()]);
    let addrs = SsrfPolicy::new()
        .resolve_checked(&flip, "flip.example", 443)
        .unwrap_err();
    assert_eq!(addrs.kind, DenyKind::Loopback);
    assert_eq!(flip.calls.get(), 2);
}

#[test]
fn localhost_is_never_looked_up() {
    let flip = Flipping::default();
    for host in ["localhost", "a.b.localhost", "LocalHost."] {
        let err = SsrfPolicy::new()
            .resolve_checked(&flip, host, 443)
            .unwrap_err();
        assert_eq!(err.kind, DenyKind::LocalName);
    }
    assert_eq!(flip.calls.get(), 0);
}

#[test]
fn resolve_spec_forms() {
    let mut dns = StaticResolver::new();
    dns.insert_spec("evil.example:::1").unwrap();
    dns.insert_spec("evil.example:[fe80::1]").unwrap();
    dns.insert_spec("Bücher.example:8.8.8.8").unwrap();
    dns.insert_spec("curl.example:443:1.1.1.1").unwrap();
    dns.insert_spec("curl.example:443:[2606:4700::1111]")
        .unwrap();
    dns.insert_spec("v6.example:1:2::3").unwrap();
    assert_eq!(dns.resolve("curl.example", 443).unwrap().len(), 2);
    assert_eq!(
        dns.resolve("v6.example", 443).unwrap(),
        vec!["1:2::3".parse::<IpAddr>().unwrap()]
    );
    assert_eq!(dns.resolve("evil.example", 443).unwrap().len(), 2);
    assert_eq!(dns.resolve("xn--bcher-kva.example", 443).unwrap().len(), 1);
    // A host no URL can name is accepted and changes nothing.
    dns.insert_spec("0o177.0.0.1:127.0.0.1").unwrap();
    for bad in ["noip", ":1.2.3.4", "h:notanip", "h:[::1"] {
        assert!(dns.insert_spec(bad).is_err(), "{bad}");
    }
}

proptest! {
    #[test]
    fn host_normalisation_is_idempotent(host in "[a-zA-Z0-9]{1,10}(\\.[a-zA-Z0-9-]{1,10}){0,3}") {
        if let Ok(once) = normalize_host(&host) {
            prop_assert_eq!(normalize_host(&once).unwrap(), once);
        }
    }

    #[test]
    fn wildcard_matches_exactly_the_subdomains(label in "[a-z0-9]{1,12}", other in "[a-z0-9]{1,12}") {
        let list = HttpAllowlist::new(vec![HttpRule::new("*.example.com")]).unwrap();
        let sub = format!("https://{label}.example.com/");
        prop_assert!(list.check_url("GET", &sub).is_allowed());
        let upper = format!("https://{}.EXAMPLE.com/", label.to_uppercase());
        prop_assert!(list.check_url("GET", &upper).is_allowed());
        let apex_like = format!("https://{other}example.com/");
        prop_assert!(!list.check_url("GET", &apex_like).is_allowed());
        let suffix_attack = format!("https://{label}.example.com.{other}.net/");
        prop_assert!(!list.check_url("GET", &suffix_attack).is_allowed());
    }

    #[test]
    fn private_ipv4_denied_in_every_spelling(b in 0u8..=255, c in 0u8..=255, d in 0u8..=255) {
        let ip = u32::from_be_bytes([10, b, c, d]);
        for url in [
            format!("https://10.{b}.{c}.{d}/"),
            format!("https://{ip}/"),
            format!("https://0x{ip:x}/"),
            format!("https://0{:o}.{b}.{c}.{d}/", 10),
            format!("https://10.{}/", u32::from_be_bytes([0, b, c, d])),
            format!("https://[::ffff:10.{b}.{c}.{d}]/"),
        ] {
            prop_assert!(builtin(&url).is_err(), "{}", url);
        }
    }

    #[test]
    fn traversal_anywhere_is_refused(
        before in proptest::collection::vec("[a-z0-9_-]{1,8}", 0..4),
        after in proptest::collection::vec("[a-z0-9_-]{1,8}", 0..4),
        dots in prop::sample::select(vec![
            "..", "%2e%2e", "%2E.", ".%2e", "%252e%252e", "%c0%ae%c0%ae", "..;", "%2e%2e%3b",
            ".", "%2e", "..%00", "%u002e%u002e", "\u{ff0e}\u{ff0e}", "0x2e0x2e",
        ]),
    ) {
        let mut segs = before.clone();
        segs.push(dots.to_owned());
        segs.extend(after.clone());
        let path = format!("/{}", segs.join("/"));
        prop_assert!(normalize_path(&path).is_err(), "{}", path);
    }

    #[test]
    fn clean_paths_keep_their_segments(segs in proptest::collection::vec("[a-zA-Z0-9_~-]{1,10}", 0..6)) {
        let path = format!("/{}", segs.join("/"));
        prop_assert_eq!(normalize_path(&path).unwrap(), segs);
    }

    #[test]
    fn prefix_matches_whole_segments_only(
        prefix in "[a-z]{1,6}",
        extra in "[a-z0-9]{1,6}",
        rest in "[a-z0-9]{1,6}",
    ) {
        let rule = HttpRule { path_prefix: Some(format!("/{prefix}")), ..HttpRule::new("example.com") };
        let list = HttpAllowlist::new(vec![rule]).unwrap();
        let inside = format!("https://example.com/{prefix}/{rest}");
        let glued = format!("https://example.com/{prefix}{extra}/{rest}");
        prop_assert!(list.check_url("GET", &inside).is_allowed());
        prop_assert!(!list.check_url("GET", &glued).is_allowed());
    }
}

/// The same address, whatever the spelling, gets the same decision.
fn spellings(ip: u32) -> Vec<String> {
    let [a, b, c, d] = ip.to_be_bytes();
    vec![
        format!("{a}.{b}.{c}.{d}"),
        format!("{ip}"),
        format!("0x{ip:x}"),
        format!("0x{ip:X}"),
        format!("0{ip:o}"),
        format!("0x{a:x}.0x{b:x}.0x{c:x}.0x{d:x}"),
        format!("0{a:o}.0{b:o}.0{c:o}.0{d:o}"),
        format!("{a}.{}", u32::from_be_bytes([0, b, c, d])),
        format!("{a}.{b}.{}", u32::from_be_bytes([0, 0, c, d])),
        format!("[::ffff:{a}.{b}.{c}.{d}]"),
        format!("{a}.{b}.{c}.{d}."),
    ]
}

proptest! {
    #[test]
    fn every_ipv4_spelling_gets_the_dotted_decision(ip in any::<u32>()) {
        let dotted = std::net::Ipv4Addr::from(ip);
        let expected = SsrfPolicy::new().check_ip(IpAddr::V4(dotted)).is_ok();
        for (i, host) in spellings(ip).into_iter().enumerate() {
            let url = format!("https://{host}/");
            let allowed = builtin(&url).is_ok();
            // The mapped IPv6 form is always refused.
            let want = if host.starts_with('[') { false } else { expected };
            prop_assert_eq!(allowed, want, "{} (spelling {})", url, i);
        }
    }

    #[test]
    fn std_non_global_classes_are_refused(ip in any::<u32>()) {
        let v4 = std::net::Ipv4Addr::from(ip);
        let special = v4.is_private() || v4.is_loopback() || v4.is_link_local()
            || v4.is_broadcast() || v4.is_multicast() || v4.is_unspecified()
            || v4.octets()[0] == 0 || (v4.octets()[0] == 100 && (v4.octets()[1] & 0xc0) == 64);
        if special {
            prop_assert!(SsrfPolicy::new().check_ip(IpAddr::V4(v4)).is_err(), "{}", v4);
        }
        let mapped = IpAddr::V6(v4.to_ipv6_mapped());
        prop_assert!(SsrfPolicy::new().check_ip(mapped).is_err());
        let nat64 = IpAddr::V6(std::net::Ipv6Addr::from((0x0064_ff9b_u128 << 96) | u128::from(ip)));
        prop_assert!(SsrfPolicy::new().check_ip(nat64).is_err());
    }

    #[test]
    fn ipv6_non_global_classes_are_refused(bits in any::<u128>()) {
        let v6 = std::net::Ipv6Addr::from(bits);
        let seg = v6.segments();
        let special = v6.is_loopback() || v6.is_unspecified() || v6.is_multicast()
            || (seg[0] & 0xfe00) == 0xfc00 || (seg[0] & 0xffc0) == 0xfe80
            || (seg[0] & 0xffc0) == 0xfec0 || seg[0] == 0x2002
            || (seg[0] == 0x2001 && seg[1] == 0);
        if special {
            prop_assert!(SsrfPolicy::new().check_ip(IpAddr::V6(v6)).is_err(), "{}", v6);
        }
    }
}

#[test]
fn connect_tunnels_check_host_port_and_addresses() {
    let policy = EgressPolicy::builtin().with_allowlist(allowlist());
    let dns = dns();
    let ok = policy.check_connect("API.github.com", 443, &dns).unwrap();
    assert_eq!(ok, vec!["140.82.112.6:443".parse().unwrap()]);
    assert!(policy.check_connect("example.com", 8443, &dns).is_ok());
    let kind = |h: &str, p: u16| policy.check_connect(h, p, &dns).unwrap_err().kind;
    assert_eq!(kind("example.com", 22), DenyKind::Port);
    assert_eq!(kind("other.com", 443), DenyKind::HostNotAllowed);
    assert_eq!(kind("localhost", 443), DenyKind::LocalName);
    assert_eq!(kind("169.254.169.254", 443), DenyKind::CloudMetadata);
    assert_eq!(kind("[::1]", 443), DenyKind::Loopback);
    assert_eq!(kind("0x7f000001", 443), DenyKind::Loopback);
    let builtin = EgressPolicy::builtin();
    assert!(builtin.check_connect("example.com", 443, &dns).is_ok());
    assert_eq!(
        builtin
            .check_connect("example.com", 80, &dns)
            .unwrap_err()
            .kind,
        DenyKind::Port
    );
    assert_eq!(
        builtin
            .check_connect("rebind.example", 443, &dns)
            .unwrap_err()
            .kind,
        DenyKind::Private
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    /// Arbitrary input never panics, and whatever is allowed is https to a
    /// checked public address.
    #[test]
    fn arbitrary_urls_never_panic_and_allowed_means_safe(
        raw in prop_oneof![
            ".{0,80}",
            "(https?|HTTPS|ftp|gopher)://[a-z0-9.%:@\\[\\]/\\\\#?&=~-]{0,60}",
            "https://[0-9a-fx.:]{1,40}/[a-z0-9%./;]{0,30}",
        ]
    ) {
        let dns = dns();
        if let Ok(egress) = EgressPolicy::builtin().check("GET", &raw, &dns) {
            prop_assert_eq!(egress.url.scheme(), "https");
            for addr in &egress.addrs {
                prop_assert!(SsrfPolicy::new().check_ip(addr.ip()).is_ok(), "{} -> {}", raw, addr);
            }
        }
        let _ = normalize_path(&raw);
        let _ = normalize_host(&raw);
    }

    #[test]
    fn arbitrary_config_text_never_panics(text in ".{0,200}", value in ".{0,20}") {
        let _ = ironclaw_policy::parse_jsonc(&text);
        let path = vec!["gateway".to_owned(), "bind".to_owned()];
        if let Ok(out) = ironclaw_policy::set_in_place(&text, &path, &serde_json::Value::String(value)) {
            prop_assert!(ironclaw_policy::parse_jsonc(&out).is_ok(), "{:?} -> {:?}", text, out);
        }
    }
}

fn json_tree() -> impl Strategy<Value = serde_json::Value> {
    let leaf = prop_oneof![
        any::<i32>().prop_map(serde_json::Value::from),
        "[a-z /*\"]{0,8}".prop_map(serde_json::Value::from),
        Just(serde_json::json!([1, "x", null])),
    ];
    leaf.prop_recursive(3, 16, 4, |inner| {
        proptest::collection::btree_map(prop::sample::select(vec!["a", "b", "c"]), inner, 0..4)
            .prop_map(|m| {
                serde_json::Value::Object(m.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
            })
    })
}

proptest! {
    /// Editing one value of any document (pretty or compact, with comments after
    /// every line) sets exactly that value and keeps everything else.
    #[test]
    fn set_in_place_edits_exactly_one_value(
        tree in json_tree(),
        path in proptest::collection::vec(prop::sample::select(vec!["a", "b", "c"]), 1..4),
        pretty in any::<bool>(),
        value in any::<i64>(),
    ) {
        let serde_json::Value::Object(_) = tree else { return Ok(()); };
        let mut text = if pretty {
            serde_json::to_string_pretty(&tree).unwrap()
        } else {
            serde_json::to_string(&tree).unwrap()
        };
        text = text.lines().map(|l| format!("{l} // note\n")).collect();
        let path: Vec<String> = path.into_iter().map(str::to_owned).collect();
        let new = serde_json::Value::from(value);
        match ironclaw_policy::set_in_place(&text, &path, &new) {
            Ok(out) => {
                let parsed = ironclaw_policy::parse_jsonc(&out).unwrap();
                let mut expected = tree.clone();
                let mut cursor = &mut expected;
                for key in &path[..path.len() - 1] {
                    let obj = cursor.as_object_mut().unwrap();
                    cursor = obj.entry(key.clone()).or_insert_with(|| serde_json::json!({}));
                }
                cursor.as_object_mut().unwrap().insert(path[path.len() - 1].clone(), new);
                prop_assert_eq!(parsed, expected);
                // Comments survive, except those inside a replaced array or object.
                let old = path.iter().try_fold(&tree, |v, k| v.get(k));
                if !old.is_some_and(|v| v.is_array() || v.is_object()) {
                    prop_assert_eq!(out.matches("// note").count(), text.matches("// note").count());
                }
            }
            Err(_) => {
                // Only refused when some parent on the path is not an object.
                let mut cursor = &tree;
                let mut blocked = false;
                for key in &path[..path.len() - 1] {
                    match cursor.get(key) {
                        Some(v) if v.is_object() => cursor = v,
                        Some(_) => { blocked = true; break; }
                        None => break,
                    }
                }
                prop_assert!(blocked, "refused {:?} in {}", path, text);
            }
        }
    }
}
