//! The PostgreSQL backend: the shared suite against the real server, plus
//! SQL-level checks. Reads `IRONCLAW_TEST_PG`; fails when it is unset.

use ironclaw_secrets::{Backend, PgBackend, SecretStore, SecretValue};
use tokio_postgres::NoTls;

use crate::explicit;
use crate::suite::{self, Fixture};

fn connection_string() -> String {
    std::env::var("IRONCLAW_TEST_PG").unwrap_or_else(|_| {
        panic!(
            "IRONCLAW_TEST_PG is not set: run the tests under `cargo xtask ci`, or set it, e.g. \
             IRONCLAW_TEST_PG='host=127.0.0.1 port=55432 user=postgres dbname=postgres'"
        )
    })
}

/// A uniquely named schema, dropped when the fixture is dropped.
struct PgFixture {
    config: String,
    schema: String,
}

impl PgFixture {
    fn new(label: &str) -> Self {
        let mut random = [0u8; 6];
        ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut random).unwrap();
        let schema = format!(
            "secrets_test_{}_{}",
            label.to_lowercase(),
            hex::encode(random)
        );
        Self {
            config: connection_string(),
            schema,
        }
    }

    fn sql(&self, statements: &str) -> Vec<tokio_postgres::Row> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            let (client, connection) = tokio_postgres::connect(&self.config, NoTls).await.unwrap();
            tokio::spawn(connection);
            client
                .batch_execute(&format!("SET search_path = {}", self.schema))
                .await
                .unwrap();
            client.query(statements, &[]).await.unwrap()
        })
    }
}

impl Fixture for PgFixture {
    fn backend(&self) -> Box<dyn Backend> {
        Box::new(PgBackend::connect_in_schema(&self.config, Some(&self.schema)).unwrap())
    }
}

impl Drop for PgFixture {
    fn drop(&mut self) {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let _ignored = runtime.block_on(async {
            let (client, connection) = tokio_postgres::connect(&self.config, NoTls).await?;
            tokio::spawn(connection);
            client
                .batch_execute(&format!("DROP SCHEMA IF EXISTS {} CASCADE", self.schema))
                .await
        });
    }
}

#[test]
fn behavioural_suite() {
    let keys = tempfile::tempdir().unwrap();
    suite::run_all(&|name| PgFixture::new(name), keys.path());
}

#[test]
fn metadata_is_queryable_and_values_are_ciphertext() {
    let fixture = PgFixture::new("sql");
    let store = SecretStore::open(fixture.backend(), explicit(1)).unwrap();
    store
        .put("alice", "token", &SecretValue::from("pg-plain-value"))
        .unwrap();
    store.get("alice", "token").unwrap();
    let rows = fixture.sql(
        "SELECT namespace, name, created <= updated, last_used IS NOT NULL, \
         position('pg-plain-value'::bytea in ciphertext) FROM ironclaw_secrets",
    );
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].get::<_, String>(0), "alice");
    assert_eq!(rows[0].get::<_, String>(1), "token");
    assert!(rows[0].get::<_, bool>(2));
    assert!(rows[0].get::<_, bool>(3));
    assert_eq!(
        rows[0].get::<_, i32>(4),
        0,
        "the value is not stored in the clear"
    );
    // No column in any table holds the value as text.
    let dump = fixture.sql("SELECT row_to_json(s)::text FROM ironclaw_secrets s");
    assert!(!dump[0].get::<_, String>(0).contains("pg-plain-value"));
    // Tampering in SQL is detected.
    fixture.sql("UPDATE ironclaw_secrets SET ciphertext = set_byte(ciphertext, 0, get_byte(ciphertext, 0) # 1)");
    assert!(matches!(
        store.get("alice", "token"),
        Err(ironclaw_secrets::Error::Tampered { .. })
    ));
    // Moving a row to another namespace in SQL is detected.
    fixture.sql("UPDATE ironclaw_secrets SET ciphertext = set_byte(ciphertext, 0, get_byte(ciphertext, 0) # 1), namespace = 'bob'");
    assert!(matches!(
        store.get("bob", "token"),
        Err(ironclaw_secrets::Error::Tampered { .. })
    ));
}
