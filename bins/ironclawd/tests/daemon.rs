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
        // sha256("{}")
        assert_eq!(
            started[0]["configSha256"],
            "44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"
        );
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

#[test]
fn missing_config_hashes_empty_input() {
    let home = tempfile::tempdir().unwrap();
    let mut child = start(home.path());
    let started = wait_for_events(home.path(), 1);
    assert_eq!(
        started[0]["configSha256"],
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    );
    assert_eq!(stop(&mut child, libc::SIGTERM).code(), Some(0));
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
