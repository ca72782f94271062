//! The file backend: the shared suite plus on-disk adversarial tests.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use ironclaw_secrets::{
    Backend, Error, FileBackend, KeyChain, KeyFile, ProviderKind, SecretStore, SecretValue,
};

use crate::explicit;
use crate::suite::{self, Fixture};

struct FileFixture {
    dir: PathBuf,
}

impl Fixture for FileFixture {
    fn backend(&self) -> Box<dyn Backend> {
        Box::new(FileBackend::new(&self.dir))
    }
}

#[test]
fn behavioural_suite() {
    let root = tempfile::tempdir().unwrap();
    let keys = root.path().join("keys");
    suite::run_all(
        &|name| FileFixture {
            dir: root.path().join("stores").join(name),
        },
        &keys,
    );
}

fn mode(path: &Path) -> u32 {
    fs::metadata(path).unwrap().permissions().mode() & 0o777
}

fn store_text(dir: &Path) -> String {
    fs::read_to_string(dir.join("store.json")).unwrap()
}

#[test]
fn key_file_created_private_and_reused() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("secrets");
    let store = SecretStore::open_dir(&dir, None).unwrap();
    assert_eq!(store.key_provider(), ProviderKind::KeyFile);
    store
        .put("default", "token", &SecretValue::from("file-secret-value"))
        .unwrap();
    assert_eq!(mode(&dir), 0o700);
    assert_eq!(mode(&dir.join("master.key")), 0o600);
    assert_eq!(mode(&dir.join("store.json")), 0o600);
    assert_eq!(mode(&dir.join("store.lock")), 0o600);
    // The plaintext appears nowhere on disk except inside ciphertext.
    for entry in fs::read_dir(&dir).unwrap().flatten() {
        let bytes = fs::read(entry.path()).unwrap();
        assert!(
            !bytes.windows(17).any(|w| w == b"file-secret-value"),
            "{:?}",
            entry.path()
        );
    }
    drop(store);
    let reopened = SecretStore::open_dir(&dir, None).unwrap();
    assert_eq!(
        reopened.get("default", "token").unwrap().expose(),
        b"file-secret-value"
    );
}

#[test]
fn loose_modes_are_refused_with_a_fix() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("secrets");
    drop(SecretStore::open_dir(&dir, None).unwrap());
    let key = dir.join("master.key");
    for loose in [0o644, 0o640, 0o604, 0o660] {
        fs::set_permissions(&key, fs::Permissions::from_mode(loose)).unwrap();
        let err = SecretStore::open_dir(&dir, None).unwrap_err();
        assert!(matches!(err, Error::InsecurePermissions { .. }), "{err}");
        assert!(err.to_string().contains("chmod 600"), "{err}");
        assert!(err.to_string().contains("master.key"), "{err}");
    }
    fs::set_permissions(&key, fs::Permissions::from_mode(0o600)).unwrap();
    let store = SecretStore::open_dir(&dir, None).unwrap();
    store
        .put("default", "x", &SecretValue::from("v-1"))
        .unwrap();
    fs::set_permissions(dir.join("store.json"), fs::Permissions::from_mode(0o644)).unwrap();
    let err = store.get("default", "x").unwrap_err();
    assert!(matches!(err, Error::InsecurePermissions { .. }), "{err}");
}

#[test]
fn explicit_key_is_preferred_over_a_missing_key_file_and_checked() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("secrets");
    let chain = |byte| KeyChain::standard(&dir, Some(crate::key(byte)));
    let store = SecretStore::open(Box::new(FileBackend::new(&dir)), chain(5)).unwrap();
    assert_eq!(store.key_provider(), ProviderKind::Explicit);
    store
        .put("default", "x", &SecretValue::from("explicit-value"))
        .unwrap();
    assert!(
        !dir.join("master.key").exists(),
        "no key file when a key is given"
    );
    let err = SecretStore::open(Box::new(FileBackend::new(&dir)), chain(6)).unwrap_err();
    assert!(matches!(
        err,
        Error::WrongKey {
            provider: ProviderKind::Explicit
        }
    ));
    // Without the explicit key there is no key at all: never create a new one.
    let err = SecretStore::open_dir(&dir, None).unwrap_err();
    assert!(matches!(err, Error::MissingKey { .. }), "{err}");
    assert!(!dir.join("master.key").exists());
}

#[test]
fn corrupt_key_file_is_reported() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("secrets");
    drop(SecretStore::open_dir(&dir, None).unwrap());
    fs::write(dir.join("master.key"), "not-a-key\n").unwrap();
    let err = SecretStore::open_dir(&dir, None).unwrap_err();
    assert!(matches!(err, Error::Corrupted { .. }), "{err}");
    assert!(err.to_string().contains("master.key"));
}

/// Flips every byte of every ciphertext in the file (re-encoded), one at a
/// time: each fails as tampered, the other secret still reads, and the failed
/// read leaves the file byte-for-byte unchanged.
#[test]
fn flip_each_ciphertext_byte_on_disk() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("secrets");
    let store = SecretStore::open(Box::new(FileBackend::new(&dir)), explicit(1)).unwrap();
    store
        .put("default", "a", &SecretValue::from("disk-value-a"))
        .unwrap();
    store
        .put("default", "b", &SecretValue::from("disk-value-b"))
        .unwrap();
    // Read b once so that its last-used time is recorded before the loop.
    store.get("default", "b").unwrap();
    let original = store_text(&dir);
    let document: serde_json::Value = serde_json::from_str(&original).unwrap();
    let encoded = document["secrets"][0]["ciphertext"]
        .as_str()
        .unwrap()
        .to_owned();
    use base64::Engine as _;
    let engine = base64::engine::general_purpose::STANDARD;
    let bytes = engine.decode(&encoded).unwrap();
    for index in 0..bytes.len() {
        let mut damaged = bytes.clone();
        damaged[index] ^= 0x5a;
        let text = original.replace(&encoded, &engine.encode(&damaged));
        fs::write(dir.join("store.json"), &text).unwrap();
        let err = store.get("default", "a").unwrap_err();
        assert!(matches!(err, Error::Tampered { .. }), "byte {index}: {err}");
        assert_eq!(store.get("default", "b").unwrap().expose(), b"disk-value-b");
        assert_eq!(store_text(&dir), text, "a failed read changed the store");
    }
}

#[test]
fn swapped_entries_on_disk_fail() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("secrets");
    let store = SecretStore::open(Box::new(FileBackend::new(&dir)), explicit(1)).unwrap();
    store
        .put("default", "a", &SecretValue::from("swap-value-a"))
        .unwrap();
    store
        .put("default", "b", &SecretValue::from("swap-value-b"))
        .unwrap();
    let mut document: serde_json::Value = serde_json::from_str(&store_text(&dir)).unwrap();
    // Swap the names of the two entries (equivalently, their contents).
    let name_a = document["secrets"][0]["name"].clone();
    let name_b = document["secrets"][1]["name"].clone();
    document["secrets"][0]["name"] = name_b;
    document["secrets"][1]["name"] = name_a;
    fs::write(
        dir.join("store.json"),
        serde_json::to_vec(&document).unwrap(),
    )
    .unwrap();
    for name in ["a", "b"] {
        assert!(matches!(
            store.get("default", name),
            Err(Error::Tampered { .. })
        ));
    }
}

#[test]
fn truncated_or_garbled_store_is_corrupted() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("secrets");
    let store = SecretStore::open(Box::new(FileBackend::new(&dir)), explicit(1)).unwrap();
    store
        .put("default", "a", &SecretValue::from("trunc-value-a"))
        .unwrap();
    let original = fs::read(dir.join("store.json")).unwrap();
    let lengths: Vec<usize> = (0..original.len()).step_by(7).collect();
    for len in lengths {
        fs::write(dir.join("store.json"), &original[..len]).unwrap();
        let err = store.get("default", "a").unwrap_err();
        assert!(
            matches!(err, Error::Corrupted { .. } | Error::Tampered { .. }),
            "length {len}: {err}"
        );
        let message = err.to_string();
        assert!(!message.contains("trunc-value-a"));
        // Writes refuse a corrupted store instead of replacing it.
        assert!(
            store
                .put("default", "b", &SecretValue::from("other"))
                .is_err()
        );
        assert_eq!(fs::read(dir.join("store.json")).unwrap(), &original[..len]);
        let reopen = SecretStore::open(Box::new(FileBackend::new(&dir)), explicit(1));
        assert!(reopen.is_err(), "length {len}");
    }
    for garbage in [
        &b"\xff\xfe"[..],
        b"[]",
        b"{\"format\":\"other\",\"key\":null,\"secrets\":[]}",
        b"null",
    ] {
        fs::write(dir.join("store.json"), garbage).unwrap();
        assert!(matches!(
            store.get("default", "a"),
            Err(Error::Corrupted { .. })
        ));
    }
    fs::write(dir.join("store.json"), &original).unwrap();
    assert_eq!(
        store.get("default", "a").unwrap().expose(),
        b"trunc-value-a"
    );
}

#[test]
fn duplicate_entries_are_corrupted() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("secrets");
    let store = SecretStore::open(Box::new(FileBackend::new(&dir)), explicit(1)).unwrap();
    store
        .put("default", "a", &SecretValue::from("dup-value"))
        .unwrap();
    let mut document: serde_json::Value = serde_json::from_str(&store_text(&dir)).unwrap();
    let entry = document["secrets"][0].clone();
    document["secrets"].as_array_mut().unwrap().push(entry);
    fs::write(
        dir.join("store.json"),
        serde_json::to_vec(&document).unwrap(),
    )
    .unwrap();
    let err = store.get("default", "a").unwrap_err();
    assert!(err.to_string().contains("appears twice"), "{err}");
}

#[test]
fn namespaces_on_disk_are_separate_entries() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("secrets");
    let store = SecretStore::open(Box::new(FileBackend::new(&dir)), explicit(1)).unwrap();
    store
        .put("alice", "token", &SecretValue::from("alice-disk-value"))
        .unwrap();
    store
        .put("bob", "token", &SecretValue::from("bob-disk-value"))
        .unwrap();
    let document: serde_json::Value = serde_json::from_str(&store_text(&dir)).unwrap();
    let entries = document["secrets"].as_array().unwrap();
    let owners: Vec<(&str, &str)> = entries
        .iter()
        .map(|e| {
            (
                e["namespace"].as_str().unwrap(),
                e["name"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(owners, [("alice", "token"), ("bob", "token")]);
    // Copy bob's sealed entry over alice's: it does not decrypt as alice's.
    let mut edited = document.clone();
    for field in ["salt", "nonce", "ciphertext", "version"] {
        edited["secrets"][0][field] = document["secrets"][1][field].clone();
    }
    fs::write(dir.join("store.json"), serde_json::to_vec(&edited).unwrap()).unwrap();
    assert!(matches!(
        store.get("alice", "token"),
        Err(Error::Tampered { .. })
    ));
    assert_eq!(
        store.get("bob", "token").unwrap().expose(),
        b"bob-disk-value"
    );
}

#[test]
fn concurrent_first_use_agrees_on_one_key() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("secrets");
    let stores: Vec<SecretStore> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..6)
            .map(|_| {
                let dir = dir.clone();
                scope.spawn(move || {
                    SecretStore::open(
                        Box::new(FileBackend::new(&dir)),
                        KeyChain::new().with(KeyFile::new(&dir)),
                    )
                    .unwrap()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for (index, store) in stores.iter().enumerate() {
        store
            .put(
                "default",
                &format!("k{index}"),
                &SecretValue::from("race-value"),
            )
            .unwrap();
    }
    for store in &stores {
        assert_eq!(store.list("default").unwrap().len(), 6);
        assert_eq!(store.get("default", "k0").unwrap().expose(), b"race-value");
    }
    let leftovers: Vec<String> = fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn crash_leftover_temp_file_is_ignored_and_cleaned() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("secrets");
    let store = SecretStore::open(Box::new(FileBackend::new(&dir)), explicit(1)).unwrap();
    store
        .put("default", "a", &SecretValue::from("temp-value"))
        .unwrap();
    fs::write(dir.join("store.json.tmp-deadbeef"), b"{half a sto").unwrap();
    assert_eq!(store.get("default", "a").unwrap().expose(), b"temp-value");
    store
        .put("default", "b", &SecretValue::from("temp-value-2"))
        .unwrap();
    assert!(!dir.join("store.json.tmp-deadbeef").exists());
}

#[test]
fn reads_of_a_missing_store_create_nothing() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("secrets");
    let backend = FileBackend::new(&dir);
    assert!(backend.key_header().unwrap().is_none());
    assert!(backend.list("default").unwrap().is_empty());
    assert!(!backend.remove("default", "x").unwrap());
    assert!(!dir.exists());
}
