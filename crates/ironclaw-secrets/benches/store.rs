//! Criterion benchmarks: `get` with the master key cached in the open store,
//! and `put`, on the file backend (tmpfs or disk, whatever the temp dir is).
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use criterion::{Criterion, criterion_group, criterion_main};
use ironclaw_secrets::{ExplicitKey, FileBackend, KeyChain, MasterKey, SecretStore, SecretValue};

fn open(dir: &std::path::Path) -> SecretStore {
    SecretStore::open(
        Box::new(FileBackend::new(dir)),
        KeyChain::new().with(ExplicitKey::new(MasterKey::from_bytes([3; 32]))),
    )
    .unwrap()
}

fn store_benches(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    for index in 0..20 {
        store
            .put(
                "default",
                &format!("secret_{index}"),
                &SecretValue::from("ghp_0123456789abcdef0123456789abcdef0123"),
            )
            .unwrap();
    }
    // The first get records last_used; later gets within a minute do not write.
    store.get("default", "secret_7").unwrap();
    c.bench_function("get (cached key, 20-entry file store)", |b| {
        b.iter(|| store.get("default", "secret_7").unwrap());
    });
    c.bench_function("put (20-entry file store, fsync)", |b| {
        let value = SecretValue::from("ghp_0123456789abcdef0123456789abcdef0123");
        b.iter(|| store.put("default", "secret_7", &value).unwrap());
    });
    let value = SecretValue::from("ghp_0123456789abcdef0123456789abcdef0123");
    c.bench_function("apply bearer credential", |b| {
        b.iter(|| {
            let mut request = http::Request::get("https://api.github.com/user")
                .body(())
                .unwrap();
            ironclaw_secrets::apply_credential(
                &mut request,
                "token",
                &ironclaw_secrets::CredentialLocation::Bearer,
                &value,
            )
            .unwrap();
            request
        });
    });
}

/// The same get and put against PostgreSQL, when `IRONCLAW_TEST_PG` is set
/// (in a throwaway schema that is dropped afterwards).
#[cfg(feature = "postgres")]
fn postgres_benches(c: &mut Criterion) {
    let Ok(config) = std::env::var("IRONCLAW_TEST_PG") else {
        eprintln!("IRONCLAW_TEST_PG is not set: skipping the postgres benchmarks");
        return;
    };
    let schema = format!("secrets_bench_{}", std::process::id());
    let backend = ironclaw_secrets::PgBackend::connect_in_schema(&config, Some(&schema)).unwrap();
    let store = SecretStore::open(
        Box::new(backend),
        KeyChain::new().with(ExplicitKey::new(MasterKey::from_bytes([3; 32]))),
    )
    .unwrap();
    let value = SecretValue::from("ghp_0123456789abcdef0123456789abcdef0123");
    for index in 0..20 {
        store
            .put("default", &format!("secret_{index}"), &value)
            .unwrap();
    }
    store.get("default", "secret_7").unwrap();
    c.bench_function("postgres get (cached key)", |b| {
        b.iter(|| store.get("default", "secret_7").unwrap());
    });
    c.bench_function("postgres put", |b| {
        b.iter(|| store.put("default", "secret_7", &value).unwrap());
    });
    drop(store);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let (client, connection) = tokio_postgres::connect(&config, tokio_postgres::NoTls)
            .await
            .unwrap();
        tokio::spawn(connection);
        client
            .batch_execute(&format!("DROP SCHEMA {schema} CASCADE"))
            .await
            .unwrap();
    });
}

#[cfg(not(feature = "postgres"))]
fn postgres_benches(_c: &mut Criterion) {}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(30).measurement_time(std::time::Duration::from_secs(3));
    targets = store_benches, postgres_benches
}
criterion_main!(benches);
