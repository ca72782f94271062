//! `ironclaw proxy serve`, run as a real process in a temp home.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};

/// A one-line HTTP upstream on loopback that answers every request with `upstream-ok`.
fn upstream() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            let mut buf = [0u8; 4096];
            let _ = stream.read(&mut buf);
            let _ = stream.write_all(
                b"HTTP/1.1 200 OK\r\ncontent-length: 11\r\nconnection: close\r\n\r\nupstream-ok",
            );
        }
    });
    port
}

struct Served {
    child: Child,
    addr: String,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn serve(home: &std::path::Path, extra: &[&str]) -> Served {
    let mut child = Command::new(env!("CARGO_BIN_EXE_ironclaw"))
        .args([
            "--home",
            home.to_str().unwrap(),
            "proxy",
            "serve",
            "--listen",
            "127.0.0.1:0",
        ])
        .args(extra)
        .env_remove("SANDBOX_EXTRA_DOMAINS")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let addr = line
        .trim()
        .strip_prefix("listening on ")
        .expect(&line)
        .to_owned();
    Served { child, addr }
}

fn get_via(proxy: &str, url: &str) -> (u16, String) {
    let output = Command::new("curl")
        .args([
            "-s",
            "-i",
            "--max-time",
            "10",
            "--noproxy",
            "",
            "-x",
            &format!("http://{proxy}"),
            url,
        ])
        .output()
        .expect("curl must be installed");
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (status, text)
}

#[test]
fn serve_allows_the_allow_list_and_audits_the_rest() {
    // One serving thread, and two (which hand connections from one to the other).
    for threads in ["1", "2"] {
        let home = tempfile::tempdir().unwrap();
        let port = upstream();
        let served = serve(
            home.path(),
            &[
                "--allow",
                &format!("127.0.0.1:{port}"),
                "--allow-private-for-testing",
                "--threads",
                threads,
            ],
        );
        for _ in 0..3 {
            let (status, text) = get_via(&served.addr, &format!("http://127.0.0.1:{port}/x"));
            assert_eq!(status, 200, "{text}");
            assert!(text.contains("upstream-ok"));
        }
        let (status, _) = get_via(&served.addr, &format!("http://127.0.0.2:{port}/x"));
        assert_eq!(status, 403);
        let audit = std::fs::read_to_string(home.path().join("audit.log")).unwrap();
        let blocks: Vec<&str> = audit
            .lines()
            .filter(|l| l.contains("\"NETWORK_BLOCK\""))
            .collect();
        assert_eq!(blocks.len(), 1, "{audit}");
        assert!(blocks[0].contains("127.0.0.2"));
    }
}

#[test]
fn serve_keeps_the_ssrf_rules_unless_told_otherwise() {
    let home = tempfile::tempdir().unwrap();
    let port = upstream();
    let served = serve(home.path(), &["--allow", &format!("127.0.0.1:{port}")]);
    let (status, text) = get_via(&served.addr, &format!("http://127.0.0.1:{port}/x"));
    assert_eq!(status, 403, "{text}");
    assert!(text.contains("loopback"), "{text}");
}

#[test]
fn serve_with_no_allow_list_denies_everything() {
    let home = tempfile::tempdir().unwrap();
    let port = upstream();
    let served = serve(home.path(), &["--allow-private-for-testing"]);
    let (status, _) = get_via(&served.addr, &format!("http://127.0.0.1:{port}/x"));
    assert_eq!(status, 403);
}

#[test]
fn serve_refuses_a_bad_rule_or_preset() {
    let home = tempfile::tempdir().unwrap();
    for args in [
        vec!["--allow", "*"],
        vec!["--allow", "a.com:99999"],
        vec!["--preset", "everything"],
        vec!["--threads", "0"],
    ] {
        let output = Command::new(env!("CARGO_BIN_EXE_ironclaw"))
            .args([
                "--home",
                home.path().to_str().unwrap(),
                "proxy",
                "serve",
                "--listen",
                "127.0.0.1:0",
            ])
            .args(&args)
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(2), "{args:?}");
        assert!(!String::from_utf8_lossy(&output.stderr).is_empty());
    }
}
