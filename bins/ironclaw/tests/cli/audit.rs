//! `ironclaw audit ...` run as a binary in a temporary home.

use std::path::Path;
use std::process::{Command, Output, Stdio};

use ironclaw_audit::{AuditConfig, AuditLog, Event, EventKind};

fn ironclaw(home: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ironclaw"))
        .arg("--home")
        .arg(home)
        .args(args)
        .env_remove("IRONCLAW_HOME")
        .output()
        .unwrap()
}

fn stdout(out: &Output) -> String {
    String::from_utf8(out.stdout.clone()).unwrap()
}

fn home_with_events(n: usize) -> tempfile::TempDir {
    let home = tempfile::tempdir().unwrap();
    let log = AuditLog::open(AuditConfig::new(home.path().join("audit.log"))).unwrap();
    for i in 0..n {
        let kind = match i % 3 {
            0 => EventKind::NetworkBlock,
            1 => EventKind::SkillCall,
            _ => EventKind::InjectionDetected,
        };
        log.record(
            Event::builder(kind)
                .skill(if i == 4 { "evil\u{1b}[31m" } else { "github" })
                .resource(format!("host{i}:443"))
                .blocked(kind == EventKind::NetworkBlock)
                .build()
                .unwrap(),
        )
        .unwrap();
    }
    home
}

#[test]
fn show_last_filter_and_json() {
    let home = home_with_events(12);
    let out = ironclaw(
        home.path(),
        &[
            "audit",
            "show",
            "--last",
            "2",
            "--filter",
            "NETWORK_BLOCK",
            "--json",
        ],
    );
    assert_eq!(out.status.code(), Some(0));
    let lines: Vec<serde_json::Value> = stdout(&out)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0]["resource"], "host6:443");
    assert_eq!(lines[1]["resource"], "host9:443");

    let out = ironclaw(home.path(), &["audit", "show"]);
    let text = stdout(&out);
    assert_eq!(text.lines().count(), 12);
    assert!(text.contains("NETWORK_BLOCK"));
    assert!(text.contains("blocked=true"));
    assert!(
        !text.contains('\u{1b}'),
        "control characters must be escaped"
    );

    let out = ironclaw(
        home.path(),
        &["audit", "show", "--until", "2000-01-01T00:00:00Z"],
    );
    assert_eq!(stdout(&out), "");
    let out = ironclaw(
        home.path(),
        &[
            "audit",
            "show",
            "--since",
            "2000-01-01T00:00:00Z",
            "--filter",
            "skill_call",
        ],
    );
    assert_eq!(stdout(&out).lines().count(), 4);
}

#[test]
fn usage_errors_exit_2() {
    let home = home_with_events(1);
    for args in [
        &["audit", "show", "--filter", "NOT_AN_EVENT"][..],
        &["audit", "show", "--since", "yesterday"],
        &["audit", "export", "--format", "xml"],
        &["audit", "show", "--last", "many"],
        &["audit", "frobnicate"],
    ] {
        let out = ironclaw(home.path(), args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
    }
    let empty = tempfile::tempdir().unwrap();
    assert_eq!(
        ironclaw(empty.path(), &["audit", "verify"]).status.code(),
        Some(2)
    );
}

#[test]
fn export_formats_to_file() {
    let home = home_with_events(5);
    for (format, check) in [
        (
            "json",
            (|text: &str| {
                serde_json::from_str::<serde_json::Value>(text)
                    .unwrap()
                    .as_array()
                    .unwrap()
                    .len()
            }) as fn(&str) -> usize,
        ),
        ("jsonl", |text: &str| text.lines().count()),
        ("csv", |text: &str| text.lines().count() - 1),
    ] {
        let file = home.path().join(format!("out.{format}"));
        let out = ironclaw(
            home.path(),
            &[
                "audit",
                "export",
                "--format",
                format,
                "--output",
                file.to_str().unwrap(),
            ],
        );
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let text = std::fs::read_to_string(&file).unwrap();
        assert_eq!(check(&text), 5, "{format}");
        let mode = std::os::unix::fs::PermissionsExt::mode(
            &std::fs::metadata(&file).unwrap().permissions(),
        );
        assert_eq!(mode & 0o777, 0o600);
    }
}

#[test]
fn verify_exit_codes() {
    let home = home_with_events(6);
    let out = ironclaw(home.path(), &["audit", "verify"]);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    assert!(stdout(&out).starts_with("ok: 6 lines"));

    let path = home.path().join("audit.log");
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, text.replacen("host1:443", "host1:444", 1)).unwrap();
    let out = ironclaw(home.path(), &["audit", "verify"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stdout(&out).contains("audit.log:3:"), "{}", stdout(&out));
    let out = ironclaw(home.path(), &["audit", "verify", "--json"]);
    assert_eq!(out.status.code(), Some(1));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["findings"][0]["line"], 3);
}

#[test]
fn tail_prints_then_follows() {
    let home = home_with_events(3);
    let mut child = Command::new(env!("CARGO_BIN_EXE_ironclaw"))
        .arg("--home")
        .arg(home.path())
        .args(["audit", "tail", "--json", "--last", "2"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        use std::io::BufRead;
        let mut lines = Vec::new();
        for line in std::io::BufReader::new(stdout).lines() {
            lines.push(line.unwrap());
            if lines.len() == 3 {
                break;
            }
        }
        lines
    });
    std::thread::sleep(std::time::Duration::from_millis(500));
    let log = AuditLog::open(AuditConfig::new(home.path().join("audit.log"))).unwrap();
    log.record(
        Event::builder(EventKind::LeakBlocked)
            .skill("late")
            .build()
            .unwrap(),
    )
    .unwrap();
    let lines = reader.join().unwrap();
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(lines.len(), 3);
    assert!(lines[2].contains("LEAK_BLOCKED"), "{lines:?}");
}
