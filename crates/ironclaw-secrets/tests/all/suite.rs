//! The behavioural suite every backend must pass. A fixture gives fresh
//! backend handles onto one shared, initially empty store.

use std::path::Path;
use std::sync::Arc;

use ironclaw_secrets::{
    Backend, CrashPoint, Error, KeyChain, KeyFile, ProviderKind, SecretStore, SecretValue,
};

use crate::explicit;

/// Opens another handle onto the fixture's store.
pub(crate) trait Fixture: Sync {
    fn backend(&self) -> Box<dyn Backend>;
}

type SuiteTest = fn(&dyn Fixture, &Path);

/// Runs every behavioural test against the fixture made by `make`; each test
/// gets a fresh store. `keys_dir` is a scratch directory for key files.
pub(crate) fn run_all<F: Fixture>(make: &dyn Fn(&str) -> F, keys_dir: &Path) {
    let tests: &[(&str, SuiteTest)] = &[
        ("round_trip", round_trip),
        ("not_found_and_remove", not_found_and_remove),
        ("list_metadata", list_metadata),
        ("namespace_isolation", namespace_isolation),
        ("wrong_key_changes_nothing", wrong_key_changes_nothing),
        ("tampered_entries", tampered_entries),
        ("all_values", all_values),
        ("rotation", rotation),
        ("crash_during_rotation", crash_during_rotation),
        ("concurrent_writers", concurrent_writers),
        ("invalid_input", invalid_input),
    ];
    for (name, test) in tests {
        let fixture = make(name);
        let dir = keys_dir.join(name);
        std::fs::create_dir_all(&dir).unwrap();
        test(&fixture, &dir);
    }
}

fn open(fixture: &dyn Fixture, byte: u8) -> SecretStore {
    SecretStore::open(fixture.backend(), explicit(byte)).unwrap()
}

fn value(text: &str) -> SecretValue {
    SecretValue::from(text)
}

fn round_trip(fixture: &dyn Fixture, _dir: &Path) {
    let mut store = open(fixture, 1);
    assert_eq!(store.key_provider(), ProviderKind::Explicit);
    store
        .put("default", "token", &value("first-value-1"))
        .unwrap();
    assert_eq!(
        store.get("default", "token").unwrap().expose(),
        b"first-value-1"
    );
    store
        .put("default", "token", &value("second-value-2"))
        .unwrap();
    assert_eq!(
        store.get("default", "token").unwrap().expose(),
        b"second-value-2"
    );
    let meta = store.list("default").unwrap();
    assert_eq!(meta.len(), 1);
    assert_eq!(meta[0].version, 2);
    assert!(meta[0].updated >= meta[0].created);
    assert!(meta[0].last_used.is_some(), "a read records last_used");
    // Binary values survive.
    let binary = SecretValue::new(vec![0u8, 255, 10, 13, 0]);
    store.put("default", "binary", &binary).unwrap();
    assert_eq!(
        store.get("default", "binary").unwrap().expose(),
        binary.expose()
    );
    // The store cannot replace a key the caller owns.
    let err = store.rotate_key().unwrap_err();
    assert!(matches!(err, Error::RotationUnsupported { .. }), "{err}");
    assert_eq!(
        store.get("default", "token").unwrap().expose(),
        b"second-value-2"
    );
    // A second handle sees the same data.
    let other = open(fixture, 1);
    assert_eq!(
        other.get("default", "token").unwrap().expose(),
        b"second-value-2"
    );
}

fn not_found_and_remove(fixture: &dyn Fixture, _dir: &Path) {
    let store = open(fixture, 1);
    let err = store.get("default", "missing").unwrap_err();
    assert!(matches!(err, Error::NotFound { .. }), "{err}");
    assert_eq!(
        err.to_string(),
        "secret \"missing\" not found in namespace \"default\""
    );
    assert!(!store.remove("default", "missing").unwrap());
    store
        .put("default", "gone", &value("to-be-removed"))
        .unwrap();
    assert!(store.contains("default", "gone").unwrap());
    assert!(store.remove("default", "gone").unwrap());
    assert!(!store.contains("default", "gone").unwrap());
    assert!(matches!(
        store.get("default", "gone"),
        Err(Error::NotFound { .. })
    ));
}

fn list_metadata(fixture: &dyn Fixture, _dir: &Path) {
    let store = open(fixture, 1);
    for name in ["zeta", "alpha", "Mid"] {
        store
            .put("default", name, &value("list-secret-value"))
            .unwrap();
    }
    let names: Vec<String> = store
        .list("default")
        .unwrap()
        .into_iter()
        .map(|m| m.name)
        .collect();
    assert_eq!(names, ["Mid", "alpha", "zeta"]);
    let json = serde_json::to_string(&store.list("default").unwrap()).unwrap();
    assert!(!json.contains("list-secret-value"));
    assert!(store.list("empty").unwrap().is_empty());
}

fn namespace_isolation(fixture: &dyn Fixture, _dir: &Path) {
    let store = open(fixture, 1);
    store
        .put("alice", "token", &value("alice-secret-value"))
        .unwrap();
    store
        .put("bob", "token", &value("bob-secret-value"))
        .unwrap();
    store
        .put("bob", "only-bob", &value("bob-private-value"))
        .unwrap();
    // Reads see only their own namespace.
    assert_eq!(
        store.get("alice", "token").unwrap().expose(),
        b"alice-secret-value"
    );
    assert_eq!(
        store.get("bob", "token").unwrap().expose(),
        b"bob-secret-value"
    );
    assert!(matches!(
        store.get("alice", "only-bob"),
        Err(Error::NotFound { .. })
    ));
    // Lists see only their own namespace.
    let alice: Vec<String> = store
        .list("alice")
        .unwrap()
        .into_iter()
        .map(|m| m.name)
        .collect();
    assert_eq!(alice, ["token"]);
    assert!(
        store
            .all_values("alice")
            .unwrap()
            .iter()
            .all(|v| v.expose() == b"alice-secret-value")
    );
    // Writes and removals stay in their own namespace.
    store
        .put("alice", "token", &value("alice-new-value"))
        .unwrap();
    assert_eq!(
        store.get("bob", "token").unwrap().expose(),
        b"bob-secret-value"
    );
    assert!(!store.remove("alice", "only-bob").unwrap());
    assert!(store.contains("bob", "only-bob").unwrap());
    // Names that try to escape their namespace are rejected.
    for bad in ["../bob", "bob/", "Bob", "bob\0", ""] {
        assert!(
            matches!(store.get(bad, "token"), Err(Error::InvalidName { .. })),
            "{bad:?}"
        );
    }
    // A ciphertext copied into another namespace does not decrypt there.
    let backend = fixture.backend();
    let mut moved = backend.get("bob", "only-bob").unwrap().unwrap();
    moved.namespace = "alice".to_owned();
    backend.put(&moved).unwrap();
    assert!(matches!(
        store.get("alice", "only-bob"),
        Err(Error::Tampered { .. })
    ));
}

fn wrong_key_changes_nothing(fixture: &dyn Fixture, _dir: &Path) {
    let store = open(fixture, 1);
    store
        .put("default", "token", &value("wrong-key-secret"))
        .unwrap();
    let before = fixture.backend().list("default").unwrap();
    let err = SecretStore::open(fixture.backend(), explicit(2)).unwrap_err();
    assert!(
        matches!(
            err,
            Error::WrongKey {
                provider: ProviderKind::Explicit
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("wrong master key"));
    let after = fixture.backend().list("default").unwrap();
    assert_eq!(format!("{before:?}"), format!("{after:?}"));
    assert_eq!(
        store.get("default", "token").unwrap().expose(),
        b"wrong-key-secret"
    );
}

fn tampered_entries(fixture: &dyn Fixture, _dir: &Path) {
    let store = open(fixture, 1);
    store.put("default", "a", &value("value-of-a-123")).unwrap();
    store.put("default", "b", &value("value-of-b-456")).unwrap();
    let backend = fixture.backend();
    let a = backend.get("default", "a").unwrap().unwrap();
    let b = backend.get("default", "b").unwrap().unwrap();
    // Flip every bit position of one byte in each field, one at a time.
    for index in 0..a.ciphertext.len() {
        let mut damaged = a.clone();
        damaged.ciphertext[index] ^= 0x80;
        backend.put(&damaged).unwrap();
        let err = store.get("default", "a").unwrap_err();
        assert!(matches!(err, Error::Tampered { .. }), "{err}");
        assert_eq!(
            store.get("default", "b").unwrap().expose(),
            b"value-of-b-456"
        );
    }
    for field in ["salt", "nonce", "version", "truncate", "empty"] {
        let mut damaged = a.clone();
        match field {
            "salt" => damaged.salt[0] ^= 1,
            "nonce" => damaged.nonce[11] ^= 1,
            "version" => damaged.version += 1,
            "truncate" => damaged.ciphertext.truncate(damaged.ciphertext.len() - 1),
            _ => damaged.ciphertext.clear(),
        }
        backend.put(&damaged).unwrap();
        assert!(
            matches!(store.get("default", "a"), Err(Error::Tampered { .. })),
            "{field}"
        );
    }
    // Swap the two entries' sealed parts.
    let mut swapped_a = a.clone();
    let mut swapped_b = b.clone();
    std::mem::swap(&mut swapped_a.ciphertext, &mut swapped_b.ciphertext);
    std::mem::swap(&mut swapped_a.salt, &mut swapped_b.salt);
    std::mem::swap(&mut swapped_a.nonce, &mut swapped_b.nonce);
    backend.put(&swapped_a).unwrap();
    backend.put(&swapped_b).unwrap();
    for name in ["a", "b"] {
        let err = store.get("default", name).unwrap_err();
        assert!(matches!(err, Error::Tampered { .. }), "{err}");
        assert!(!err.to_string().contains("value-of"));
    }
    // Restoring the originals makes them readable again: nothing else changed.
    backend.put(&a).unwrap();
    backend.put(&b).unwrap();
    assert_eq!(
        store.get("default", "a").unwrap().expose(),
        b"value-of-a-123"
    );
    assert_eq!(
        store.get("default", "b").unwrap().expose(),
        b"value-of-b-456"
    );
    // One tampered entry fails all_values closed.
    let mut damaged = a.clone();
    damaged.ciphertext[0] ^= 1;
    backend.put(&damaged).unwrap();
    assert!(matches!(
        store.all_values("default"),
        Err(Error::Tampered { .. })
    ));
}

fn all_values(fixture: &dyn Fixture, _dir: &Path) {
    let store = open(fixture, 1);
    store.put("default", "one", &value("leak-me-one")).unwrap();
    store.put("default", "two", &value("leak-me-two")).unwrap();
    store
        .put("other", "three", &value("leak-me-three"))
        .unwrap();
    let mut values: Vec<Vec<u8>> = store
        .all_values("default")
        .unwrap()
        .iter()
        .map(|v| v.expose().to_vec())
        .collect();
    values.sort();
    assert_eq!(values, [b"leak-me-one".to_vec(), b"leak-me-two".to_vec()]);
}

fn key_file_chain(dir: &Path) -> KeyChain {
    KeyChain::new().with(KeyFile::new(dir))
}

fn rotation(fixture: &dyn Fixture, dir: &Path) {
    let mut store = SecretStore::open(fixture.backend(), key_file_chain(dir)).unwrap();
    assert_eq!(store.key_provider(), ProviderKind::KeyFile);
    store.put("default", "a", &value("rotate-a")).unwrap();
    store.put("ns2", "b", &value("rotate-b")).unwrap();
    let old_key = std::fs::read_to_string(dir.join("master.key")).unwrap();
    let stale = SecretStore::open(fixture.backend(), key_file_chain(dir)).unwrap();
    store.rotate_key().unwrap();
    assert_eq!(store.key_generation(), 2);
    let new_key = std::fs::read_to_string(dir.join("master.key")).unwrap();
    assert_ne!(old_key, new_key);
    assert_eq!(store.get("default", "a").unwrap().expose(), b"rotate-a");
    assert_eq!(store.get("ns2", "b").unwrap().expose(), b"rotate-b");
    let reopened = SecretStore::open(fixture.backend(), key_file_chain(dir)).unwrap();
    assert_eq!(reopened.get("ns2", "b").unwrap().expose(), b"rotate-b");
    // A handle opened before the rotation cannot write under the old key.
    assert!(matches!(
        stale.put("default", "c", &value("stale")),
        Err(Error::KeyChanged)
    ));
    assert!(matches!(stale.get("default", "a"), Err(Error::KeyChanged)));
    // The old key no longer opens the store.
    let old = ironclaw_secrets::MasterKey::parse(&old_key).unwrap();
    let err = SecretStore::open(
        fixture.backend(),
        KeyChain::new().with(ironclaw_secrets::ExplicitKey::new(old)),
    )
    .unwrap_err();
    assert!(matches!(err, Error::WrongKey { .. }));
    // A different explicit key is refused, not silently replaced.
    let err = SecretStore::open(fixture.backend(), explicit(9)).unwrap_err();
    assert!(matches!(err, Error::WrongKey { .. }));
    // No staged key is left behind.
    let staged: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().contains("next"))
        .collect();
    assert!(staged.is_empty(), "{staged:?}");
}

fn crash_during_rotation(fixture: &dyn Fixture, dir: &Path) {
    let points = [
        CrashPoint::KeyStaged,
        CrashPoint::StoreWritten,
        CrashPoint::StoreSwitched,
    ];
    let mut generation = 1;
    {
        let store = SecretStore::open(fixture.backend(), key_file_chain(dir)).unwrap();
        store.put("default", "a", &value("crash-a")).unwrap();
        store.put("team", "b", &value("crash-b")).unwrap();
    }
    for point in points {
        let mut store = SecretStore::open(fixture.backend(), key_file_chain(dir)).unwrap();
        assert_eq!(store.key_generation(), generation);
        store.crash_rotation_at(Some(point));
        let err = store.rotate_key().unwrap_err();
        assert!(matches!(err, Error::InjectedFailure(_)), "{err}");
        drop(store);
        // "Restart": the store opens and every secret is intact.
        let reopened = SecretStore::open(fixture.backend(), key_file_chain(dir))
            .unwrap_or_else(|err| panic!("reopen after crash at {point:?}: {err}"));
        assert_eq!(reopened.get("default", "a").unwrap().expose(), b"crash-a");
        assert_eq!(reopened.get("team", "b").unwrap().expose(), b"crash-b");
        if point == CrashPoint::StoreSwitched {
            generation += 1;
        }
        assert_eq!(reopened.key_generation(), generation, "{point:?}");
        // It opens a second time too (recovery is durable).
        let again = SecretStore::open(fixture.backend(), key_file_chain(dir)).unwrap();
        assert_eq!(again.get("team", "b").unwrap().expose(), b"crash-b");
    }
    // A rotation after the crashes works.
    let mut store = SecretStore::open(fixture.backend(), key_file_chain(dir)).unwrap();
    store.rotate_key().unwrap();
    assert_eq!(store.get("default", "a").unwrap().expose(), b"crash-a");
}

fn concurrent_writers(fixture: &dyn Fixture, _dir: &Path) {
    // Initialize the key header first so every writer shares it.
    drop(open(fixture, 1));
    let stores: Vec<Arc<SecretStore>> = (0..4).map(|_| Arc::new(open(fixture, 1))).collect();
    std::thread::scope(|scope| {
        for (thread, store) in stores.iter().enumerate() {
            scope.spawn(move || {
                for index in 0..5 {
                    let name = format!("t{thread}-n{index}");
                    store
                        .put("default", &name, &value(&format!("value-{name}")))
                        .unwrap();
                }
            });
        }
    });
    let store = open(fixture, 1);
    let list = store.list("default").unwrap();
    assert_eq!(list.len(), 20, "no write may be lost");
    for meta in list {
        assert_eq!(
            store.get("default", &meta.name).unwrap().expose(),
            format!("value-{}", meta.name).as_bytes()
        );
    }
}

fn invalid_input(fixture: &dyn Fixture, _dir: &Path) {
    let store = open(fixture, 1);
    let cases: &[(&str, &str, &[u8])] = &[
        ("default", "", b"v"),
        ("default", "a/b", b"v"),
        ("default", "../x", b"v"),
        ("Default", "a", b"v"),
        ("default", "a", b""),
    ];
    for (namespace, name, bytes) in cases {
        let err = store
            .put(namespace, name, &SecretValue::new(bytes.to_vec()))
            .unwrap_err();
        assert!(
            matches!(err, Error::InvalidName { .. } | Error::InvalidValue { .. }),
            "{namespace:?} {name:?}: {err}"
        );
    }
    let big = SecretValue::new(vec![b'x'; ironclaw_secrets::MAX_SECRET_LEN + 1]);
    assert!(matches!(
        store.put("default", "big", &big),
        Err(Error::InvalidValue { .. })
    ));
    let max = SecretValue::new(vec![b'x'; ironclaw_secrets::MAX_SECRET_LEN]);
    store.put("default", "max", &max).unwrap();
    assert_eq!(
        store.get("default", "max").unwrap().len(),
        ironclaw_secrets::MAX_SECRET_LEN
    );
    assert_eq!(
        store.list("default").unwrap().len(),
        1,
        "rejected writes changed nothing"
    );
}
