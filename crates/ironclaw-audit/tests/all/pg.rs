//! The Postgres sink against a real server (`IRONCLAW_TEST_PG`).

use std::time::Duration;

use ironclaw_audit::{AuditConfig, AuditLog, AuditReader, PgSink, Query};
use tokio_postgres::NoTls;

use crate::writer::event;

/// A database created for one test and dropped afterwards.
struct TestDb {
    admin: String,
    name: String,
    url: String,
}

impl TestDb {
    async fn create() -> Self {
        let admin = std::env::var("IRONCLAW_TEST_PG").expect(
            "IRONCLAW_TEST_PG is not set: run the Postgres tests under `cargo xtask ci`, \
             or set it to a libpq connection string such as \
             `host=127.0.0.1 port=55432 user=postgres dbname=postgres`",
        );
        let name = format!(
            "ironclaw_audit_test_{}_{}",
            std::process::id(),
            rand::random::<u32>()
        );
        let (client, conn) = tokio_postgres::connect(&admin, NoTls).await.unwrap();
        tokio::spawn(conn);
        client
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .await
            .unwrap();
        let url = format!("{admin} dbname={name}");
        Self { admin, name, url }
    }

    async fn drop_db(self) {
        let (client, conn) = tokio_postgres::connect(&self.admin, NoTls).await.unwrap();
        tokio::spawn(conn);
        client
            .batch_execute(&format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.name
            ))
            .await
            .unwrap();
    }

    async fn client(&self) -> tokio_postgres::Client {
        let (client, conn) = tokio_postgres::connect(&self.url, NoTls).await.unwrap();
        tokio::spawn(conn);
        client
    }
}

/// A loopback port nothing listens on: the database is "down".
fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

async fn record(log: &AuditLog, from: usize, to: usize) {
    let log = log.clone();
    tokio::task::spawn_blocking(move || {
        for i in from..to {
            log.record(event(i)).unwrap();
        }
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sink_catches_up_after_an_outage_without_loss_or_duplicates() {
    let db = TestDb::create().await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.log");
    let log = AuditLog::open(AuditConfig::new(&path).max_size_bytes(8 * 1024)).unwrap();
    record(&log, 0, 40).await;

    // Database down: the sink fails, the file keeps every event.
    let down = PgSink::new(
        &format!(
            "host=127.0.0.1 port={} user=postgres dbname=x",
            closed_port()
        ),
        &path,
    )
    .unwrap();
    let err = down.sync().await.unwrap_err();
    assert_eq!(
        err.kind(),
        ironclaw_audit::AuditErrorKind::Database,
        "{err}"
    );
    record(&log, 40, 70).await;
    assert_eq!(
        AuditReader::new(&path).query(&Query::new()).unwrap().len(),
        70
    );

    // Database up: everything arrives once, in chain order, across rotated files.
    let sink = PgSink::new(&db.url, &path).unwrap().batch_size(16);
    sink.migrate().await.unwrap();
    sink.migrate().await.unwrap(); // idempotent
    assert_eq!(sink.sync().await.unwrap(), 70);
    assert_eq!(sink.sync().await.unwrap(), 0);
    record(&log, 70, 80).await;
    log.wait_maintenance();
    assert_eq!(sink.sync().await.unwrap(), 10);

    let client = db.client().await;
    let rows = client
        .query(
            "SELECT line, prev, line_hash, event, skill FROM audit_events ORDER BY id",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(rows.len(), 80);
    let file_lines: Vec<String> = AuditReader::new(&path)
        .query(&Query::new())
        .unwrap()
        .iter()
        .map(|r| r.raw().to_owned())
        .collect();
    let db_lines: Vec<String> = rows.iter().map(|r| r.get::<_, String>(0)).collect();
    assert_eq!(db_lines, file_lines);
    for pair in rows.windows(2) {
        assert_eq!(pair[1].get::<_, String>(1), pair[0].get::<_, String>(2));
    }
    assert_eq!(rows[0].get::<_, String>(3), "SKILL_CALL");

    // A lost cursor re-reads everything; the unique hash absorbs it.
    client
        .batch_execute("DELETE FROM audit_sink_cursor")
        .await
        .unwrap();
    assert_eq!(sink.sync().await.unwrap(), 0);
    let count: i64 = client
        .query_one("SELECT count(*) FROM audit_events", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(count, 80);

    // Indexed queries by time, event and skill work.
    let by_skill: i64 = client
        .query_one(
            "SELECT count(*) FROM audit_events WHERE skill = $1 AND event = $2 AND ts > now() - interval '1 hour'",
            &[&"github", &"SKILL_CALL"],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(by_skill, 80);

    // The sink's run loop keeps shipping in the background.
    let background = sink.clone();
    let task = tokio::spawn(async move { background.run(Duration::from_millis(20), |_| {}).await });
    record(&log, 80, 90).await;
    let mut count = 0i64;
    for _ in 0..200 {
        count = client
            .query_one("SELECT count(*) FROM audit_events", &[])
            .await
            .unwrap()
            .get(0);
        if count == 90 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    task.abort();
    assert_eq!(count, 90);
    drop(client);
    db.drop_db().await;
}
