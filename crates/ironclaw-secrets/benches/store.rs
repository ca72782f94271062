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
    let key = MasterKey::from_bytes([3; 32]);
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
    drop(key);
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(30).measurement_time(std::time::Duration::from_secs(3));
    targets = store_benches
}
criterion_main!(benches);
