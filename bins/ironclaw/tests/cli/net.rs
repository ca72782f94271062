//! `ironclaw net check`, run as a binary in a temporary home.

use std::process::Command;

fn net_check(args: &[&str]) -> (i32, String, String) {
    let home = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_ironclaw"))
        .arg("--home")
        .arg(home.path())
        .args(["net", "check"])
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap(),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

fn json_lines(stdout: &str) -> Vec<serde_json::Value> {
    stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn allowed_urls_exit_zero_with_json() {
    let (code, out, _) = net_check(&[
        "--json",
        "--resolve",
        "ok.example:93.184.216.34",
        "--resolve",
        "ok.example:[2606:4700::1111]",
        "https://ok.example/a",
    ]);
    assert_eq!(code, 0, "{out}");
    let lines = json_lines(&out);
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0]["url"], "https://ok.example/a");
    assert_eq!(lines[0]["allowed"], true);
    assert!(
        lines[0]["reason"]
            .as_str()
            .unwrap()
            .contains("93.184.216.34:443")
    );
}

#[test]
fn any_denial_exits_one_and_each_url_gets_a_line() {
    let (code, out, _) = net_check(&[
        "--json",
        "--resolve",
        "evil.example:::1",
        "--resolve",
        "ok.example:93.184.216.34",
        "https://ok.example/",
        "https://evil.example/",
        "http://0x7f000001/",
        "https://localhost/",
    ]);
    assert_eq!(code, 1);
    let lines = json_lines(&out);
    let allowed: Vec<bool> = lines
        .iter()
        .map(|l| l["allowed"].as_bool().unwrap())
        .collect();
    assert_eq!(allowed, [true, false, false, false]);
    assert!(lines[1]["reason"].as_str().unwrap().contains("::1"));
}

#[test]
fn bracketed_ipv6_and_unicode_hosts_in_resolve() {
    let (code, out, _) = net_check(&[
        "--json",
        "--resolve",
        "evil.example:[::ffff:10.0.0.1]",
        "--resolve",
        "bücher.example:8.8.8.8",
        "https://evil.example/",
        "https://xn--bcher-kva.example/",
        "https://BÜCHER.example/",
    ]);
    assert_eq!(code, 1);
    let allowed: Vec<bool> = json_lines(&out)
        .iter()
        .map(|l| l["allowed"].as_bool().unwrap())
        .collect();
    assert_eq!(allowed, [false, true, true]);
}

#[test]
fn unresolvable_name_is_denied() {
    let (code, out, _) = net_check(&["https://does-not-exist.invalid/"]);
    assert_eq!(code, 1);
    assert!(out.starts_with("deny"), "{out}");
}

#[test]
fn capabilities_allowlist_applies() {
    let dir = tempfile::tempdir().unwrap();
    let caps = dir.path().join("capabilities.json");
    std::fs::write(
        &caps,
        r#"{"http": {"allowlist": [{"host": "api.github.com", "path_prefix": "/repos/", "methods": ["GET"]}]}}"#,
    )
    .unwrap();
    let caps = caps.to_str().unwrap();
    let resolve = "api.github.com:140.82.112.6";
    let (code, _, _) = net_check(&[
        "--capabilities",
        caps,
        "--resolve",
        resolve,
        "https://api.github.com/repos/a",
    ]);
    assert_eq!(code, 0);
    let (code, out, _) = net_check(&[
        "--capabilities",
        caps,
        "--resolve",
        resolve,
        "https://api.github.com/user",
    ]);
    assert_eq!(code, 1, "{out}");
    let (code, _, _) = net_check(&[
        "--capabilities",
        caps,
        "--method",
        "POST",
        "--resolve",
        resolve,
        "https://api.github.com/repos/a",
    ]);
    assert_eq!(code, 1);
}

#[test]
fn usage_errors_exit_two() {
    assert_eq!(net_check(&[]).0, 2);
    assert_eq!(
        net_check(&["--resolve", "nocolon", "https://a.example/"]).0,
        2
    );
    assert_eq!(
        net_check(&["--resolve", "h:notip", "https://a.example/"]).0,
        2
    );
    assert_eq!(
        net_check(&[
            "--capabilities",
            "/nonexistent/caps.json",
            "https://a.example/"
        ])
        .0,
        2
    );
    assert_eq!(net_check(&["--method", "G T", "https://a.example/"]).0, 2);
}
