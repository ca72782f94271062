use std::path::{Path, PathBuf};

use ironclaw_audit::{AuditConfig, AuditLog, FindingKind, verify};

use crate::writer::event;

fn write_log(n: usize) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.log");
    let log = AuditLog::open(AuditConfig::new(&path)).unwrap();
    for i in 0..n {
        log.record(event(i)).unwrap();
    }
    (dir, path)
}

fn edit_lines(path: &Path, f: impl FnOnce(&mut Vec<String>)) {
    let text = std::fs::read_to_string(path).unwrap();
    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
    f(&mut lines);
    let out: String = lines.iter().map(|l| format!("{l}\n")).collect();
    std::fs::write(path, out).unwrap();
}

/// Tampers with a 10-line log and expects verify's first finding.
fn check(tamper: impl FnOnce(&mut Vec<String>), expected: Option<(FindingKind, u64)>) {
    let (_dir, path) = write_log(10);
    edit_lines(&path, tamper);
    let report = verify(&path).unwrap();
    let got = report.findings.first().map(|f| (f.kind, f.line));
    assert_eq!(got, expected, "{:#?}", report);
    if let Some(first) = report.findings.first() {
        assert!(first.to_string().contains("audit.log"), "{first}");
    }
}

#[test]
fn clean_log_verifies() {
    check(|_| {}, None);
    let (_dir, path) = write_log(3);
    let report = verify(&path).unwrap();
    assert!(report.is_clean());
    assert_eq!(report.lines, 3);
    assert!(!report.starts_after_genesis);
}

#[test]
fn tampering_is_found_at_the_first_bad_line() {
    // Edited line 4 (line 5's prev no longer matches).
    check(
        |l| l[3] = l[3].replace("github", "gitlab"),
        Some((FindingKind::BrokenChain, 5)),
    );
    // Edited `blocked` flag only.
    check(
        |l| l[6] = l[6].replace("\"blocked\":false", "\"blocked\":true"),
        Some((FindingKind::BrokenChain, 8)),
    );
    // Deleted line 3: old line 4, now at 3, breaks.
    check(|l| drop(l.remove(2)), Some((FindingKind::BrokenChain, 3)));
    // Inserted a copy of line 2 after it.
    check(
        |l| l.insert(2, l[1].clone()),
        Some((FindingKind::BrokenChain, 3)),
    );
    // Swapped lines 5 and 6.
    check(|l| l.swap(4, 5), Some((FindingKind::BrokenChain, 5)));
    // Deleted the first line.
    check(|l| drop(l.remove(0)), Some((FindingKind::MissingStart, 1)));
    // Garbage line.
    check(
        |l| l[2] = "not json".to_owned(),
        Some((FindingKind::Unparseable, 3)),
    );
    // Removed the prev field of the first line.
    check(
        |l| l[0] = l[0].split(",\"prev\"").next().unwrap().to_owned() + "}",
        Some((FindingKind::Unparseable, 1)),
    );
    // Truncated: last 3 lines removed (seal notices; line 0 = whole file).
    check(|l| l.truncate(7), Some((FindingKind::Truncated, 0)));
    // Emptied entirely.
    check(Vec::clear, Some((FindingKind::Truncated, 0)));
    // Last line edited: nothing chains after it, the seal notices.
    check(
        |l| l[9] = l[9].replace("sess_9", "sess_X"),
        Some((FindingKind::Truncated, 0)),
    );
    // Edited with a valid-looking recomputed tail: truncate and append a forged line.
    check(
        |l| {
            l.truncate(8);
            let forged = l[7].replace("sess_7", "sess_forged");
            l.push(forged);
        },
        Some((FindingKind::BrokenChain, 9)),
    );
}

#[test]
fn incomplete_tail_is_not_tampering() {
    let (_dir, path) = write_log(5);
    let mut bytes = std::fs::read(&path).unwrap();
    bytes.extend_from_slice(b"{\"ts\":\"2026-01-01T00:00:00.000Z\",\"ev");
    std::fs::write(&path, bytes).unwrap();
    let report = verify(&path).unwrap();
    assert!(report.is_clean(), "{report:#?}");
    assert_eq!(report.incomplete_tail, 36);
    assert_eq!(report.lines, 5);
}

#[test]
fn missing_seal_is_reported() {
    let (_dir, path) = write_log(2);
    std::fs::remove_file(path.with_file_name("audit.log.seal")).unwrap();
    let report = verify(&path).unwrap();
    assert_eq!(report.findings[0].kind, FindingKind::SealMissing);
}

#[test]
fn recorded_integrity_event_keeps_failing_verify() {
    let (_dir, path) = write_log(4);
    edit_lines(&path, |l| l.truncate(2));
    let log = AuditLog::open(AuditConfig::new(&path)).unwrap();
    log.record(event(99)).unwrap();
    let report = verify(&path).unwrap();
    assert_eq!(report.findings.len(), 1, "{report:#?}");
    assert_eq!(report.findings[0].kind, FindingKind::IntegrityEvent);
    assert_eq!(report.findings[0].line, 3);
}
