//! Kills a writer with SIGKILL at random moments; every acknowledged event must be
//! in the log afterwards and the chain must verify.

use std::collections::HashSet;
use std::io::Read;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use ironclaw_audit::{AuditReader, Query, verify};
use rand::Rng;

/// The `crash_writer` example, (re)built here: `cargo test --test all` alone would
/// not rebuild it after a change to the library.
fn crash_writer() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let profile_dir = exe.parent().unwrap().parent().unwrap();
    let helper = profile_dir.join("examples").join("crash_writer");
    let mut build = Command::new(env!("CARGO"));
    build.args([
        "build",
        "--quiet",
        "-p",
        "ironclaw-audit",
        "--example",
        "crash_writer",
    ]);
    if profile_dir.file_name().is_some_and(|n| n == "release") {
        build.arg("--release");
    }
    let status = build.status().unwrap();
    assert!(status.success(), "building the crash_writer example failed");
    assert!(
        helper.exists(),
        "crash_writer example not found at {}",
        helper.display()
    );
    helper
}

#[test]
fn acknowledged_events_survive_sigkill() {
    let helper = crash_writer();
    let mut rng = rand::rng();
    let mut total_acked = 0usize;
    let mut crashes_with_acks = 0usize;
    // Ten logs, each crashed ten times, so recovery after a crash (torn tail, chain
    // continuation, rotation interrupted half-way) is exercised as well.
    for _log in 0..10 {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.log");
        let mut acked: HashSet<String> = HashSet::new();
        for _crash in 0..10 {
            // Two writer processes share the log (like the daemon and a CLI command);
            // both are killed.
            let mut children: Vec<_> = (0..2)
                .map(|_| {
                    Command::new(&helper)
                        .arg(&path)
                        .arg("4")
                        .arg("65536")
                        .stdout(Stdio::piped())
                        .stderr(Stdio::null())
                        .spawn()
                        .unwrap()
                })
                .collect();
            let before = acked.len();
            for child in &mut children {
                std::thread::sleep(Duration::from_millis(rng.random_range(5..30)));
                child.kill().unwrap(); // SIGKILL
            }
            for mut child in children {
                let mut out = String::new();
                child
                    .stdout
                    .take()
                    .unwrap()
                    .read_to_string(&mut out)
                    .unwrap();
                child.wait().unwrap();
                // A line cut by the kill is not a complete acknowledgement.
                let complete = out.rfind('\n').map_or("", |i| &out[..i]);
                acked.extend(complete.lines().map(str::to_owned));
            }
            if acked.len() > before {
                crashes_with_acks += 1;
            }

            let report = verify(&path).unwrap();
            assert!(report.is_clean(), "{report:#?}");
            let mut seen = HashSet::new();
            AuditReader::new(&path)
                .scan(&Query::new(), |record| {
                    let id = record
                        .get("id")
                        .and_then(|v| v.as_str())
                        .unwrap()
                        .to_owned();
                    assert!(seen.insert(id), "duplicate event");
                    Ok(())
                })
                .unwrap();
            let missing: Vec<_> = acked.difference(&seen).take(5).collect();
            assert!(missing.is_empty(), "acknowledged but missing: {missing:?}");
        }
        total_acked += acked.len();
    }
    // The kills must land while events are being written, or the test proves nothing.
    eprintln!(
        "crash test: {total_acked} acknowledged events, {crashes_with_acks}/100 kills after acks"
    );
    assert!(
        crashes_with_acks >= 50,
        "only {crashes_with_acks} kills happened after the first ack"
    );
}
