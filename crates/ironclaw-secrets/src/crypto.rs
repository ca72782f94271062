//! Sealing and opening one secret: HKDF-SHA256 per-secret keys and AES-256-GCM.
//!
//! Key for one secret = HKDF-SHA256(ikm = master key, salt = 32 random bytes
//! stored with the entry, info = [`HKDF_INFO`]). Each encryption draws a fresh
//! salt and a fresh 96-bit nonce, so a (key, nonce) pair is never reused. The
//! associated data binds the format, namespace, name, version and key
//! generation: a ciphertext copied to another entry, namespace or version
//! fails to open.

use ring::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use ring::rand::{SecureRandom, SystemRandom};
use ring::{hkdf, hmac};
use zeroize::Zeroizing;

use crate::error::{Error, Result};
use crate::value::{MasterKey, SecretValue};

/// Length of the per-secret HKDF salt.
pub(crate) const SALT_LEN: usize = 32;
/// Length of the AES-GCM tag appended to every ciphertext.
pub(crate) const TAG_LEN: usize = 16;
const HKDF_INFO: &[u8] = b"ironclaw-secrets/1 aes-256-gcm secret key";
const AAD_PREFIX: &[u8] = b"ironclaw-secrets/1\0";
const KEY_CHECK_LABEL: &[u8] = b"ironclaw-secrets/1 master key check";

/// The fields of an entry that the ciphertext is bound to.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Binding<'a> {
    pub(crate) namespace: &'a str,
    pub(crate) name: &'a str,
    pub(crate) version: u64,
    pub(crate) key_generation: u32,
}

impl Binding<'_> {
    fn aad(&self) -> Vec<u8> {
        let mut aad =
            Vec::with_capacity(AAD_PREFIX.len() + self.namespace.len() + self.name.len() + 24);
        aad.extend_from_slice(AAD_PREFIX);
        for part in [self.namespace, self.name] {
            aad.extend_from_slice(&(part.len() as u32).to_be_bytes());
            aad.extend_from_slice(part.as_bytes());
        }
        aad.extend_from_slice(&self.version.to_be_bytes());
        aad.extend_from_slice(&self.key_generation.to_be_bytes());
        aad
    }
}

/// The stored form of one encrypted value.
#[derive(Debug, Clone)]
pub(crate) struct Sealed {
    pub(crate) salt: Vec<u8>,
    pub(crate) nonce: Vec<u8>,
    pub(crate) ciphertext: Vec<u8>,
}

fn entry_key(master: &MasterKey, salt: &[u8]) -> Result<LessSafeKey> {
    let prk = hkdf::Salt::new(hkdf::HKDF_SHA256, salt).extract(master.bytes());
    let okm = prk
        .expand(&[HKDF_INFO], &AES_256_GCM)
        .map_err(|_| Error::Random)?;
    Ok(LessSafeKey::new(UnboundKey::from(okm)))
}

/// Encrypts `value` for the entry described by `binding`.
pub(crate) fn seal(
    master: &MasterKey,
    binding: Binding<'_>,
    value: &SecretValue,
) -> Result<Sealed> {
    let rng = SystemRandom::new();
    let mut salt = vec![0u8; SALT_LEN];
    rng.fill(&mut salt).map_err(|_| Error::Random)?;
    let mut nonce = [0u8; NONCE_LEN];
    rng.fill(&mut nonce).map_err(|_| Error::Random)?;
    let key = entry_key(master, &salt)?;
    // The buffer holds the plaintext until it is encrypted in place; if
    // sealing fails it is zeroized on drop.
    let mut buffer = Zeroizing::new(value.expose().to_vec());
    key.seal_in_place_append_tag(
        Nonce::assume_unique_for_key(nonce),
        Aad::from(binding.aad()),
        &mut *buffer,
    )
    .map_err(|_| Error::Random)?;
    Ok(Sealed {
        salt,
        nonce: nonce.to_vec(),
        ciphertext: std::mem::take(&mut *buffer),
    })
}

/// Decrypts an entry; `None` when authentication fails for any reason.
pub(crate) fn open(
    master: &MasterKey,
    binding: Binding<'_>,
    sealed: &Sealed,
) -> Option<SecretValue> {
    if sealed.salt.len() != SALT_LEN || sealed.ciphertext.len() < TAG_LEN {
        return None;
    }
    let nonce = Nonce::try_assume_unique_for_key(&sealed.nonce).ok()?;
    let key = entry_key(master, &sealed.salt).ok()?;
    let mut buffer = Zeroizing::new(sealed.ciphertext.clone());
    let len = key
        .open_in_place(nonce, Aad::from(binding.aad()), &mut buffer)
        .ok()?
        .len();
    buffer.truncate(len);
    Some(SecretValue::new(std::mem::take(&mut *buffer)))
}

/// A public fingerprint of a master key, stored with the store so that a
/// wrong key is reported as such instead of as tampering. It is an HMAC of a
/// fixed label and reveals nothing about the key.
pub(crate) fn key_check(master: &MasterKey) -> Vec<u8> {
    let key = hmac::Key::new(hmac::HMAC_SHA256, master.bytes());
    hmac::sign(&key, KEY_CHECK_LABEL).as_ref().to_vec()
}

/// Whether `check` is the fingerprint of `master` (constant time).
pub(crate) fn key_matches(master: &MasterKey, check: &[u8]) -> bool {
    let key = hmac::Key::new(hmac::HMAC_SHA256, master.bytes());
    hmac::verify(&key, KEY_CHECK_LABEL, check).is_ok()
}

/// A short public identifier of a key fingerprint, used to name a staged key
/// during rotation.
pub(crate) fn check_id(check: &[u8]) -> String {
    hex::encode(&check[..check.len().min(8)])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn binding<'a>(namespace: &'a str, name: &'a str, version: u64) -> Binding<'a> {
        Binding {
            namespace,
            name,
            version,
            key_generation: 1,
        }
    }

    #[test]
    fn round_trip_and_fresh_randomness() {
        let key = MasterKey::from_bytes([1; 32]);
        let value = SecretValue::from("s3cr3t");
        let a = seal(&key, binding("ns", "n", 1), &value).unwrap();
        let b = seal(&key, binding("ns", "n", 1), &value).unwrap();
        assert_ne!(a.nonce, b.nonce);
        assert_ne!(a.salt, b.salt);
        assert_ne!(a.ciphertext, b.ciphertext);
        let opened = open(&key, binding("ns", "n", 1), &a).unwrap();
        assert_eq!(opened.expose(), b"s3cr3t");
    }

    #[test]
    fn any_change_fails() {
        let key = MasterKey::from_bytes([1; 32]);
        let sealed = seal(&key, binding("ns", "n", 3), &SecretValue::from("value")).unwrap();
        let other_key = MasterKey::from_bytes([2; 32]);
        assert!(open(&other_key, binding("ns", "n", 3), &sealed).is_none());
        for moved in [
            binding("ns2", "n", 3),
            binding("ns", "m", 3),
            binding("ns", "n", 2),
            binding("n", "sn", 3),
        ] {
            assert!(open(&key, moved, &sealed).is_none(), "{moved:?}");
        }
        let mut generation = binding("ns", "n", 3);
        generation.key_generation = 2;
        assert!(open(&key, generation, &sealed).is_none());
        for field in 0..3 {
            let bytes = match field {
                0 => sealed.salt.len(),
                1 => sealed.nonce.len(),
                _ => sealed.ciphertext.len(),
            };
            for index in 0..bytes {
                let mut damaged = sealed.clone();
                let target = match field {
                    0 => &mut damaged.salt,
                    1 => &mut damaged.nonce,
                    _ => &mut damaged.ciphertext,
                };
                target[index] ^= 0x01;
                assert!(open(&key, binding("ns", "n", 3), &damaged).is_none());
            }
        }
        let mut truncated = sealed.clone();
        truncated.ciphertext.truncate(TAG_LEN - 1);
        assert!(open(&key, binding("ns", "n", 3), &truncated).is_none());
    }

    #[test]
    fn key_check_distinguishes_keys() {
        let a = MasterKey::from_bytes([1; 32]);
        let b = MasterKey::from_bytes([2; 32]);
        assert!(key_matches(&a, &key_check(&a)));
        assert!(!key_matches(&b, &key_check(&a)));
        assert_eq!(check_id(&key_check(&a)).len(), 16);
    }
}
