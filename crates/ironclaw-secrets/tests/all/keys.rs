//! The key chain: fall-through, creation, refusal of mismatched keys, and
//! crash-safe rotation through a keychain-like provider.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use ironclaw_secrets::{
    Availability, CrashPoint, Error, FileBackend, KeyChain, KeyFile, KeyProvider, MasterKey,
    ProviderKind, SecretStore, SecretValue,
};

/// An in-memory stand-in for an OS keychain.
#[derive(Debug, Clone, Default)]
struct FakeKeychain {
    entries: Arc<Mutex<HashMap<String, String>>>,
    unavailable: bool,
    /// Simulates a crash inside `promote`, after the current entry was written.
    crash_in_promote: Arc<Mutex<bool>>,
}

impl FakeKeychain {
    fn entry(&self, name: &str) -> Option<MasterKey> {
        let entries = self.entries.lock().unwrap();
        entries.get(name).map(|hex| MasterKey::parse(hex).unwrap())
    }

    fn set(&self, name: &str, key: &MasterKey) {
        self.entries
            .lock()
            .unwrap()
            .insert(name.to_owned(), key.to_hex().to_string());
    }

    fn names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.entries.lock().unwrap().keys().cloned().collect();
        names.sort();
        names
    }
}

impl KeyProvider for FakeKeychain {
    fn kind(&self) -> ProviderKind {
        ProviderKind::Keychain
    }
    fn availability(&self) -> Availability {
        if self.unavailable {
            Availability::Unavailable("fake keychain switched off".to_owned())
        } else {
            Availability::Available
        }
    }
    fn load(&self) -> ironclaw_secrets::Result<Option<MasterKey>> {
        Ok(self.entry("current"))
    }
    fn create(&self) -> ironclaw_secrets::Result<Option<MasterKey>> {
        let key = MasterKey::generate()?;
        self.set("current", &key);
        Ok(Some(key))
    }
    fn stage(&self, id: &str, key: &MasterKey) -> ironclaw_secrets::Result<()> {
        self.set(&format!("next-{id}"), key);
        Ok(())
    }
    fn load_staged(&self, id: &str) -> ironclaw_secrets::Result<Option<MasterKey>> {
        Ok(self.entry(&format!("next-{id}")))
    }
    fn promote(&self, id: &str) -> ironclaw_secrets::Result<()> {
        if let Some(key) = self.load_staged(id)? {
            self.set("current", &key);
        }
        if std::mem::take(&mut *self.crash_in_promote.lock().unwrap()) {
            return Err(Error::InjectedFailure("promote"));
        }
        self.entries.lock().unwrap().remove(&format!("next-{id}"));
        Ok(())
    }
    fn discard(&self, id: &str) -> ironclaw_secrets::Result<()> {
        self.entries.lock().unwrap().remove(&format!("next-{id}"));
        Ok(())
    }
}

fn open(dir: &std::path::Path, chain: KeyChain) -> ironclaw_secrets::Result<SecretStore> {
    SecretStore::open(Box::new(FileBackend::new(dir)), chain)
}

#[test]
fn unavailable_keychain_falls_through_to_the_key_file() {
    let dir = tempfile::tempdir().unwrap();
    let keychain = FakeKeychain {
        unavailable: true,
        ..FakeKeychain::default()
    };
    let chain = KeyChain::new()
        .with(keychain.clone())
        .with(KeyFile::new(dir.path()));
    let report = chain.report();
    assert_eq!(report[0].0, ProviderKind::Keychain);
    assert!(matches!(report[0].1, Availability::Unavailable(_)));
    let store = open(dir.path(), chain).unwrap();
    assert_eq!(store.key_provider(), ProviderKind::KeyFile);
    assert!(keychain.names().is_empty());
    assert!(dir.path().join("master.key").exists());
}

#[test]
fn available_keychain_is_preferred_and_mismatches_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    let keychain = FakeKeychain::default();
    let chain = || {
        KeyChain::new()
            .with(keychain.clone())
            .with(KeyFile::new(dir.path()))
    };
    let store = open(dir.path(), chain()).unwrap();
    assert_eq!(store.key_provider(), ProviderKind::Keychain);
    store
        .put("default", "a", &SecretValue::from("keychain-value"))
        .unwrap();
    assert!(
        !dir.path().join("master.key").exists(),
        "no key file when the keychain holds the key"
    );
    // The keychain's key is replaced by a wrong one: an error, never a fall-through.
    keychain.set("current", &MasterKey::from_bytes([9; 32]));
    let err = open(dir.path(), chain()).unwrap_err();
    assert!(
        matches!(
            err,
            Error::WrongKey {
                provider: ProviderKind::Keychain
            }
        ),
        "{err}"
    );
}

#[test]
fn empty_keychain_defers_to_an_existing_key_file() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path(), KeyChain::new().with(KeyFile::new(dir.path()))).unwrap();
    store
        .put("default", "a", &SecretValue::from("file-first-value"))
        .unwrap();
    let keychain = FakeKeychain::default();
    let chain = KeyChain::new()
        .with(keychain.clone())
        .with(KeyFile::new(dir.path()));
    let store = open(dir.path(), chain).unwrap();
    assert_eq!(store.key_provider(), ProviderKind::KeyFile);
    assert_eq!(
        store.get("default", "a").unwrap().expose(),
        b"file-first-value"
    );
    assert!(
        keychain.names().is_empty(),
        "nothing is written to the keychain"
    );
}

#[test]
fn keychain_rotation_survives_a_crash_at_every_step() {
    let dir = tempfile::tempdir().unwrap();
    let keychain = FakeKeychain::default();
    let chain = || KeyChain::new().with(keychain.clone());
    let store = open(dir.path(), chain()).unwrap();
    store
        .put("default", "a", &SecretValue::from("kc-crash-a"))
        .unwrap();
    store
        .put("other", "b", &SecretValue::from("kc-crash-b"))
        .unwrap();
    drop(store);
    let mut expected_generation = 1;
    for point in [
        Some(CrashPoint::KeyStaged),
        Some(CrashPoint::StoreWritten),
        Some(CrashPoint::StoreSwitched),
        None,
    ] {
        let mut store = open(dir.path(), chain()).unwrap();
        store.crash_rotation_at(point);
        if point.is_none() {
            *keychain.crash_in_promote.lock().unwrap() = true;
        }
        assert!(matches!(store.rotate_key(), Err(Error::InjectedFailure(_))));
        drop(store);
        if matches!(point, Some(CrashPoint::StoreSwitched) | None) {
            expected_generation += 1;
        }
        let reopened = open(dir.path(), chain()).unwrap_or_else(|err| panic!("{point:?}: {err}"));
        assert_eq!(reopened.key_generation(), expected_generation, "{point:?}");
        assert_eq!(
            reopened.get("default", "a").unwrap().expose(),
            b"kc-crash-a"
        );
        assert_eq!(reopened.get("other", "b").unwrap().expose(), b"kc-crash-b");
        // After recovery, the keychain holds exactly the current key, plus at
        // most an unused staged key from a rotation that never switched.
        let names = keychain.names();
        assert!(names.contains(&"current".to_owned()), "{names:?}");
    }
    let mut store = open(dir.path(), chain()).unwrap();
    store.rotate_key().unwrap();
    assert_eq!(store.get("default", "a").unwrap().expose(), b"kc-crash-a");
}

#[cfg(all(feature = "keychain", target_os = "linux"))]
#[test]
fn linux_os_keychain_is_reported_as_not_persistent() {
    // Only the kernel keyutils store is compiled in on Linux; it forgets keys
    // at reboot, so the chain must skip it rather than risk every secret.
    let keychain = ironclaw_secrets::OsKeychain::new("ironclaw-secrets-test", "probe");
    match keychain.availability() {
        Availability::Unavailable(reason) => assert!(reason.contains("reboot"), "{reason}"),
        Availability::Available => panic!("keyutils must not count as a persistent keychain"),
    }
    let dir = tempfile::tempdir().unwrap();
    let store = SecretStore::open_dir(dir.path(), None).unwrap();
    assert_eq!(store.key_provider(), ProviderKind::KeyFile);
}
