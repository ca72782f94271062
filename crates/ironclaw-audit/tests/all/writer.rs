use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::sync::Arc;

use ironclaw_audit::{
    AuditConfig, AuditError, AuditLog, Event, EventKind, GENESIS_PREV, OpenWarning,
};

pub(crate) fn event(i: usize) -> Event {
    Event::builder(EventKind::SkillCall)
        .session_id(format!("sess_{i}"))
        .skill("github")
        .action("invoke")
        .resource("api.github.com:443")
        .field("n", i)
        .build()
        .unwrap()
}

pub(crate) fn lines(path: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn creates_0600_and_chains_from_genesis() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.log");
    let log = AuditLog::open(AuditConfig::new(&path)).unwrap();
    assert!(log.warnings().is_empty());
    log.record(event(0)).unwrap();
    log.record(event(1)).unwrap();
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let lines = lines(&path);
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0]["prev"], GENESIS_PREV);
    assert_eq!(lines[0]["event"], "SKILL_CALL");
    assert_eq!(lines[0]["blocked"], false);
    let ts = lines[0]["ts"].as_str().unwrap();
    assert_eq!(ts.len(), 24, "{ts}");
    assert!(ts.ends_with('Z'));
    let first = std::fs::read_to_string(&path)
        .unwrap()
        .lines()
        .next()
        .unwrap()
        .to_owned();
    let hash = hex::encode(ring::digest::digest(
        &ring::digest::SHA256,
        first.as_bytes(),
    ));
    assert_eq!(lines[1]["prev"], hash.as_str());
}

#[test]
fn refuses_unwritable_paths_naming_them() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope").join("audit.log");
    let err = AuditLog::open(AuditConfig::new(&missing)).unwrap_err();
    assert!(matches!(err, AuditError::ParentMissing { .. }));
    assert!(err.to_string().contains(&missing.display().to_string()));

    let as_dir = dir.path().join("adir");
    std::fs::create_dir(&as_dir).unwrap();
    let err = AuditLog::open(AuditConfig::new(&as_dir)).unwrap_err();
    assert!(err.to_string().contains("adir"), "{err}");

    let target = dir.path().join("elsewhere.log");
    std::fs::write(&target, b"").unwrap();
    let link = dir.path().join("link.log");
    std::os::unix::fs::symlink(&target, &link).unwrap();
    let err = AuditLog::open(AuditConfig::new(&link)).unwrap_err();
    assert!(err.to_string().contains("link.log"), "{err}");

    // Permission checks do not apply to root; only assert them for other users.
    if !is_root() {
        let ro = dir.path().join("ro");
        std::fs::create_dir(&ro).unwrap();
        std::fs::set_permissions(&ro, std::fs::Permissions::from_mode(0o500)).unwrap();
        let err = AuditLog::open(AuditConfig::new(ro.join("audit.log"))).unwrap_err();
        assert!(matches!(err, AuditError::NotWritable { .. }), "{err}");
        let ro_file = dir.path().join("ro.log");
        std::fs::write(&ro_file, b"").unwrap();
        std::fs::set_permissions(&ro_file, std::fs::Permissions::from_mode(0o400)).unwrap();
        let err = AuditLog::open(AuditConfig::new(&ro_file)).unwrap_err();
        assert!(err.to_string().contains("ro.log"), "{err}");
    }
}

pub(crate) fn is_root() -> bool {
    std::fs::metadata("/proc/self")
        .map(|m| std::os::unix::fs::MetadataExt::uid(&m) == 0)
        .unwrap_or(false)
}

#[test]
fn reports_loose_mode() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.log");
    std::fs::write(&path, b"").unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    let log = AuditLog::open(AuditConfig::new(&path)).unwrap();
    assert!(matches!(
        log.warnings(),
        [OpenWarning::LooseMode { mode: 0o644, .. }]
    ));
}

#[test]
fn concurrent_writers_all_land_once_in_chain_order() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.log");
    let log = Arc::new(AuditLog::open(AuditConfig::new(&path)).unwrap());
    let threads: Vec<_> = (0..16)
        .map(|t| {
            let log = Arc::clone(&log);
            std::thread::spawn(move || {
                for i in 0..50 {
                    log.record(event(t * 1000 + i)).unwrap();
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let mut seen: Vec<u64> = lines(&path)
        .iter()
        .map(|l| l["n"].as_u64().unwrap())
        .collect();
    assert_eq!(seen.len(), 800);
    seen.sort_unstable();
    seen.dedup();
    assert_eq!(seen.len(), 800);
}

#[test]
fn torn_tail_is_cut_and_chain_continues() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.log");
    {
        let log = AuditLog::open(AuditConfig::new(&path)).unwrap();
        log.record(event(0)).unwrap();
    }
    let mut bytes = std::fs::read(&path).unwrap();
    let complete = bytes.clone();
    bytes.extend_from_slice(b"{\"ts\":\"2026-");
    std::fs::write(&path, &bytes).unwrap();
    let log = AuditLog::open(AuditConfig::new(&path)).unwrap();
    assert!(
        matches!(log.warnings(), [OpenWarning::TornTail { bytes: 12, .. }]),
        "{:?}",
        log.warnings()
    );
    log.record(event(1)).unwrap();
    let lines = lines(&path);
    assert_eq!(lines.len(), 2);
    let first = std::str::from_utf8(&complete).unwrap().trim_end();
    let hash = hex::encode(ring::digest::digest(
        &ring::digest::SHA256,
        first.as_bytes(),
    ));
    assert_eq!(lines[1]["prev"], hash.as_str());
}

#[test]
fn truncation_while_closed_is_recorded() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.log");
    {
        let log = AuditLog::open(AuditConfig::new(&path)).unwrap();
        for i in 0..3 {
            log.record(event(i)).unwrap();
        }
    }
    let text = std::fs::read_to_string(&path).unwrap();
    let keep: String = text.lines().take(2).map(|l| format!("{l}\n")).collect();
    std::fs::write(&path, keep).unwrap();
    let log = AuditLog::open(AuditConfig::new(&path)).unwrap();
    assert!(
        log.warnings()
            .iter()
            .any(|w| matches!(w, OpenWarning::SealMismatch { .. })),
        "{:?}",
        log.warnings()
    );
    let lines = lines(&path);
    assert_eq!(lines.last().unwrap()["event"], "AUDIT_INTEGRITY");
    // A clean reopen raises nothing.
    drop(log);
    let log = AuditLog::open(AuditConfig::new(&path)).unwrap();
    assert!(log.warnings().is_empty(), "{:?}", log.warnings());
}

#[test]
fn two_writers_on_one_log_share_the_chain() {
    // Two `AuditLog`s on one file behave like two processes (the daemon and a CLI
    // command): each batch is written under the lock and chains to the other's lines.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.log");
    let config = AuditConfig::new(&path).max_size_bytes(8 * 1024);
    let first = AuditLog::open(config.clone()).unwrap();
    let second = AuditLog::open(config).unwrap();
    let threads: Vec<_> = [first, second]
        .into_iter()
        .enumerate()
        .flat_map(|(w, log)| {
            (0..4).map(move |t| {
                let log = log.clone();
                std::thread::spawn(move || {
                    for i in 0..60 {
                        log.record(event(w * 10_000 + t * 1000 + i)).unwrap();
                    }
                })
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let report = ironclaw_audit::verify(&path).unwrap();
    assert!(report.is_clean(), "{report:#?}");
    assert_eq!(report.lines, 480);
    let all = ironclaw_audit::AuditReader::new(&path)
        .query(&ironclaw_audit::Query::new())
        .unwrap();
    let mut seen: Vec<u64> = all
        .iter()
        .map(|r| r.get("n").unwrap().as_u64().unwrap())
        .collect();
    seen.sort_unstable();
    seen.dedup();
    assert_eq!(seen.len(), 480);
    let ts: Vec<&str> = all.iter().map(|r| r.ts()).collect();
    assert!(ts.windows(2).all(|w| w[0] <= w[1]), "timestamps go back");
}
