use std::sync::Arc;

use ironclaw_audit::{AuditConfig, AuditLog, AuditReader, Query, verify};

use crate::writer::event;

#[test]
fn rotation_under_concurrent_writers_loses_and_duplicates_nothing() {
    for compress in [false, true] {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.log");
        let config = AuditConfig::new(&path)
            .max_size_bytes(16 * 1024)
            .compress(compress);
        let log = Arc::new(AuditLog::open(config).unwrap());
        let threads: Vec<_> = (0..8)
            .map(|t| {
                let log = Arc::clone(&log);
                std::thread::spawn(move || {
                    for i in 0..150 {
                        log.record(event(t * 1000 + i)).unwrap();
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        log.wait_maintenance();
        let reader = AuditReader::new(&path);
        let files = reader.files().unwrap();
        assert!(files.len() > 5, "{files:?}");
        assert_eq!(files.iter().any(|f| f.gzip), compress, "{files:?}");
        let all = reader.query(&Query::new()).unwrap();
        let mut seen: Vec<u64> = all
            .iter()
            .map(|r| r.get("n").unwrap().as_u64().unwrap())
            .collect();
        assert_eq!(seen.len(), 1200);
        seen.sort_unstable();
        seen.dedup();
        assert_eq!(seen.len(), 1200);
        let report = verify(&path).unwrap();
        assert!(report.is_clean(), "{report:#?}");
        assert_eq!(report.lines, 1200);
        // Last N spans files.
        let last = reader.query(&Query::new().last(300)).unwrap();
        assert_eq!(last.len(), 300);
        assert_eq!(last.last().unwrap().raw(), all.last().unwrap().raw());
        assert_eq!(last[0].raw(), all[900].raw());
        // Reopen continues the chain across the files.
        drop(log);
        let log = AuditLog::open(AuditConfig::new(&path).max_size_bytes(16 * 1024)).unwrap();
        log.record(event(5)).unwrap();
        assert!(verify(&path).unwrap().is_clean());
    }
}

#[test]
fn deleting_a_middle_rotated_file_breaks_the_chain() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.log");
    let log = AuditLog::open(AuditConfig::new(&path).max_size_bytes(4096).compress(false)).unwrap();
    for i in 0..200 {
        log.record(event(i)).unwrap();
    }
    log.wait_maintenance();
    let files = AuditReader::new(&path).files().unwrap();
    std::fs::remove_file(&files[2].path).unwrap();
    let report = verify(&path).unwrap();
    assert_eq!(report.findings[0].file, files[3].path);
    assert_eq!(report.findings[0].line, 1);
    // Removing the oldest files is what retention does: reported, not a finding.
    std::fs::remove_file(&files[0].path).unwrap();
    std::fs::remove_file(&files[1].path).unwrap();
    let report = verify(&path).unwrap();
    assert!(report.is_clean(), "{report:#?}");
    assert!(report.starts_after_genesis);
}

#[test]
fn retention_removes_expired_rotated_files() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.log");
    let old = dir.path().join("audit-20000101T000000.000000Z.log.gz");
    let recent = dir.path().join("audit-29990101T000000.000000Z.log.gz");
    let unrelated = dir.path().join("audit-notes.log");
    for file in [&old, &recent, &unrelated] {
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        std::io::Write::write_all(&mut gz, b"").unwrap();
        std::fs::write(file, gz.finish().unwrap()).unwrap();
    }
    let log = AuditLog::open(AuditConfig::new(&path).keep_days(90)).unwrap();
    log.wait_maintenance();
    assert!(!old.exists());
    assert!(recent.exists());
    assert!(unrelated.exists());
}

#[test]
fn verify_while_a_writer_rotates_reports_no_false_break() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.log");
    let log = AuditLog::open(AuditConfig::new(&path).max_size_bytes(4096).compress(true)).unwrap();
    let writer = {
        let log = log.clone();
        std::thread::spawn(move || {
            for i in 0..600 {
                log.record(event(i)).unwrap();
            }
        })
    };
    let mut checks = 0;
    while !writer.is_finished() {
        let report = verify(&path).unwrap();
        assert!(report.is_clean(), "{report:#?}");
        checks += 1;
    }
    writer.join().unwrap();
    log.wait_maintenance();
    assert!(verify(&path).unwrap().is_clean());
    assert!(checks > 0);
}
