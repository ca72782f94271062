use std::time::Duration;

use ironclaw_audit::{
    AuditConfig, AuditLog, AuditReader, Event, EventKind, ExportFormat, Query, export,
};

fn kinded(kind: EventKind, i: usize) -> Event {
    Event::builder(kind)
        .skill("s")
        .field("n", i)
        .build()
        .unwrap()
}

fn numbers(records: &[ironclaw_audit::AuditRecord]) -> Vec<u64> {
    records
        .iter()
        .map(|r| r.get("n").unwrap().as_u64().unwrap())
        .collect()
}

#[test]
fn last_filter_and_torn_tail() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.log");
    let log = AuditLog::open(AuditConfig::new(&path)).unwrap();
    for i in 0..100 {
        let kind = if i % 10 == 0 {
            EventKind::NetworkBlock
        } else {
            EventKind::SkillCall
        };
        log.record(kinded(kind, i)).unwrap();
    }
    let mut bytes = std::fs::read(&path).unwrap();
    bytes.extend_from_slice(b"{\"ts\":\"2030-01-01T00:00:00.000Z\",\"event\":\"NETWORK_BLOCK\"");
    std::fs::write(&path, bytes).unwrap();
    let reader = AuditReader::new(&path);
    let check = |query: Query, expected: Vec<u64>| {
        assert_eq!(numbers(&reader.query(&query).unwrap()), expected);
    };
    check(Query::new().last(3), vec![97, 98, 99]);
    check(
        Query::new().last(3).filter("network_block").unwrap(),
        vec![70, 80, 90],
    );
    check(
        Query::new()
            .filter("NETWORK_BLOCK,SKILL_CALL")
            .unwrap()
            .last(2),
        vec![98, 99],
    );
    check(Query::new().last(0), vec![]);
    assert_eq!(reader.query(&Query::new()).unwrap().len(), 100);
    assert_eq!(
        reader
            .query(&Query::new().filter("LEAK_BLOCKED").unwrap())
            .unwrap()
            .len(),
        0
    );
    let all = reader.query(&Query::new()).unwrap();
    let mid = all[50].ts().to_owned();
    let since = reader.query(&Query::new().since(&mid).unwrap()).unwrap();
    assert!(since.iter().all(|r| r.ts() >= mid.as_str()));
    assert!(since.len() >= 50);
    let until = reader
        .query(&Query::new().until("2000-01-01T00:00:00Z").unwrap())
        .unwrap();
    assert!(until.is_empty());
    let last_since = reader
        .query(&Query::new().since(&mid).unwrap().last(1000))
        .unwrap();
    assert_eq!(last_since, since);
}

#[test]
fn export_formats() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.log");
    let log = AuditLog::open(AuditConfig::new(&path)).unwrap();
    log.record(
        Event::builder(EventKind::AllowlistViolation)
            .skill("=cmd|' /C calc'!A0")
            .resource("a,b")
            .granted(["x:1", "y:2"])
            .blocked(true)
            .field("port", 80)
            .build()
            .unwrap(),
    )
    .unwrap();
    log.record(kinded(EventKind::SkillCall, 1)).unwrap();
    let reader = AuditReader::new(&path);
    let run = |format| {
        let mut out = Vec::new();
        let n = export(
            &reader,
            &Query::new(),
            format,
            &mut out,
            std::path::Path::new("out"),
        )
        .unwrap();
        assert_eq!(n, 2);
        String::from_utf8(out).unwrap()
    };
    let json: serde_json::Value = serde_json::from_str(&run(ExportFormat::Json)).unwrap();
    assert_eq!(json.as_array().unwrap().len(), 2);
    assert_eq!(json[0]["granted"][1], "y:2");
    assert_eq!(
        run(ExportFormat::Jsonl),
        std::fs::read_to_string(&path).unwrap()
    );
    let csv = run(ExportFormat::Csv);
    let rows: Vec<&str> = csv.lines().collect();
    assert_eq!(
        rows[0],
        "ts,event,sessionId,skill,action,resource,granted,blocked,extra,prev"
    );
    assert!(rows[1].contains(",'=cmd|' /C calc'!A0,"), "{}", rows[1]);
    assert!(
        rows[1].contains(",\"a,b\",x:1;y:2,true,\"{\"\"port\"\":80}\","),
        "{}",
        rows[1]
    );
    assert!("xml".parse::<ExportFormat>().is_err());
    let mut empty = Vec::new();
    let none = Query::new().filter("LEAK_BLOCKED").unwrap();
    export(
        &reader,
        &none,
        ExportFormat::Json,
        &mut empty,
        std::path::Path::new("o"),
    )
    .unwrap();
    assert_eq!(
        serde_json::from_slice::<serde_json::Value>(&empty).unwrap(),
        serde_json::json!([])
    );
}

#[test]
fn follow_survives_rotation() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.log");
    let log = AuditLog::open(AuditConfig::new(&path).max_size_bytes(2048).compress(true)).unwrap();
    log.record(kinded(EventKind::SkillCall, 0)).unwrap();
    let mut follower = AuditReader::new(&path).follow(Query::new()).unwrap();
    let writer = std::thread::spawn(move || {
        for i in 1..=200 {
            log.record(kinded(EventKind::SkillCall, i)).unwrap();
            if i % 20 == 0 {
                std::thread::sleep(Duration::from_millis(5));
            }
        }
        log.wait_maintenance();
    });
    let mut seen = Vec::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while seen.len() < 200 && std::time::Instant::now() < deadline {
        seen.extend(numbers(&follower.poll().unwrap()));
        std::thread::sleep(Duration::from_millis(1));
    }
    writer.join().unwrap();
    assert_eq!(seen, (1..=200).collect::<Vec<u64>>());
}
