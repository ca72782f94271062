//! Runs the built daemon in a temporary home.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn start(home: &Path) -> Child {
    Command::new(env!("CARGO_BIN_EXE_ironclawd"))
        .arg("--home")
        .arg(home)
        .env_remove("IRONCLAW_HOME")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

fn events(home: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(home.join("audit.log"))
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn wait_for_events(home: &Path, n: usize) -> Vec<serde_json::Value> {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let found = events(home);
        if found.len() >= n || Instant::now() > deadline {
            return found;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn stop(child: &mut Child, signal: i32) -> std::process::ExitStatus {
    let pid = i32::try_from(child.id()).unwrap();
    // SAFETY: kill(2) has no memory-safety preconditions; the pid is our own child,
    // not yet reaped, so it cannot name another process.
    #[allow(unsafe_code)]
    let rc = unsafe { libc::kill(pid, signal) };
    assert_eq!(rc, 0);
    child.wait().unwrap()
}

#[test]
fn start_and_stop_are_audited() {
    for (signal, name) in [(libc::SIGTERM, "SIGTERM"), (libc::SIGINT, "SIGINT")] {
        let home = tempfile::tempdir().unwrap();
        std::fs::write(home.path().join("ironclaw.json"), b"{}").unwrap();
        let mut child = start(home.path());
        let started = wait_for_events(home.path(), 1);
        assert_eq!(started[0]["event"], "GATEWAY_START");
        // sha256("{}") of the file; the canonical hash is of the effective config.
        assert_eq!(
            started[0]["configFileSha256"],
            "44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"
        );
        assert_eq!(started[0]["configSha256"].as_str().unwrap().len(), 64);
        assert_eq!(started[0]["sandboxMode"], "strict");
        assert_eq!(started[0]["skillsAuthorised"], 0);
        let status = stop(&mut child, signal);
        assert_eq!(status.code(), Some(0), "{name}");
        let all = events(home.path());
        assert_eq!(all.len(), 2);
        assert_eq!(all[1]["event"], "GATEWAY_STOP");
        assert_eq!(all[1]["reason"], name);
        assert!(ironclaw_audit_verify(home.path()));
    }
}

fn ironclaw_audit_verify(home: &Path) -> bool {
    ironclaw_audit::verify(home.join("audit.log"))
        .unwrap()
        .is_clean()
}

/// Starts the daemon in a home with this config, returns its GATEWAY_START record.
fn start_record(config: Option<&str>) -> serde_json::Value {
    let home = tempfile::tempdir().unwrap();
    if let Some(text) = config {
        std::fs::write(home.path().join("ironclaw.json"), text).unwrap();
    }
    let mut child = start(home.path());
    let started = wait_for_events(home.path(), 1);
    assert_eq!(stop(&mut child, libc::SIGTERM).code(), Some(0));
    started[0].clone()
}

#[test]
fn the_config_hash_is_canonical() {
    let missing = start_record(None);
    assert_eq!(
        missing["configFileSha256"],
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    );
    // Same effective config, spelled differently: same canonical hash.
    let defaults_spelled_out = start_record(Some(
        "// the defaults, written down\n{ \"security\": { \"sandbox\": { \"mode\": \"strict\" } } }\n",
    ));
    assert_eq!(
        missing["configSha256"],
        defaults_spelled_out["configSha256"]
    );
    assert_ne!(
        missing["configFileSha256"],
        defaults_spelled_out["configFileSha256"]
    );
    // A different effective config: a different hash.
    let standard = start_record(Some(r#"{"security": {"sandbox": {"mode": "standard"}}}"#));
    assert_ne!(missing["configSha256"], standard["configSha256"]);
    assert_eq!(standard["sandboxMode"], "standard");
}

#[test]
fn audit_only_mode_starts_with_a_loud_warning() {
    let home = tempfile::tempdir().unwrap();
    std::fs::write(
        home.path().join("ironclaw.json"),
        r#"{"security": {"sandbox": {"mode": "audit-only"}}}"#,
    )
    .unwrap();
    let mut child = start(home.path());
    let started = wait_for_events(home.path(), 1);
    assert_eq!(started[0]["sandboxMode"], "audit-only");
    assert_eq!(stop(&mut child, libc::SIGTERM).code(), Some(0));
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
    assert!(
        stderr.contains("audit-only: NOTHING IS BLOCKED"),
        "{stderr}"
    );
}

#[test]
fn an_invalid_config_is_refused_with_every_problem_and_nothing_is_started() {
    let home = tempfile::tempdir().unwrap();
    std::fs::write(
        home.path().join("ironclaw.json"),
        r#"{"security": {"sandbox": {"mode": "lax"}}, "channels": {"telegram": {"enabled": true, "dmPolicy": "open", "allowFrom": ["*"]}}, "gatewy": {}}"#,
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_ironclawd"))
        .arg("--home")
        .arg(home.path())
        .output()
        .unwrap();
    assert_ne!(out.status.code(), Some(0));
    let stderr = String::from_utf8_lossy(&out.stderr);
    for path in [
        "security.sandbox.mode",
        "channels.telegram.dmPolicy",
        "channels.telegram.allowFrom",
        "gatewy",
    ] {
        assert!(stderr.contains(path), "{path} missing from: {stderr}");
    }
    assert!(events(home.path()).is_empty());
}

#[test]
fn the_configured_audit_log_and_the_allowlist_are_used() {
    let home = tempfile::tempdir().unwrap();
    std::fs::create_dir(home.path().join("logs")).unwrap();
    std::fs::write(
        home.path().join("ironclaw.json"),
        r#"{"security": {"auditLog": {"path": "logs/security.log", "maxSizeMb": 5}}}"#,
    )
    .unwrap();
    std::fs::write(
        home.path().join("allowlist.json"),
        r#"{"skills": {"github": {}, "himalaya": {}}}"#,
    )
    .unwrap();
    let mut child = start(home.path());
    let log = home.path().join("logs/security.log");
    let deadline = Instant::now() + Duration::from_secs(20);
    while !log.exists() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(stop(&mut child, libc::SIGTERM).code(), Some(0));
    let text = std::fs::read_to_string(&log).unwrap();
    let first: serde_json::Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
    assert_eq!(first["event"], "GATEWAY_START");
    assert_eq!(first["skillsAuthorised"], 2);
    assert!(!home.path().join("audit.log").exists());
}

#[test]
fn refuses_to_start_without_a_writable_audit_log() {
    // The audit log path is taken by a directory: it can never be written (even by root).
    let home = tempfile::tempdir().unwrap();
    std::fs::create_dir(home.path().join("audit.log")).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_ironclawd"))
        .arg("--home")
        .arg(home.path())
        .output()
        .unwrap();
    assert_ne!(out.status.code(), Some(0));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&home.path().join("audit.log").display().to_string()),
        "{stderr}"
    );

    // A home that is a file: the log's parent is not a directory.
    let dir = tempfile::tempdir().unwrap();
    let file_home = dir.path().join("home");
    std::fs::write(&file_home, b"").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_ironclawd"))
        .env("IRONCLAW_HOME", &file_home)
        .output()
        .unwrap();
    assert_ne!(out.status.code(), Some(0));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("audit.log"), "{stderr}");
}
