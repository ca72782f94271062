//! Secret values and master keys: zeroized on drop, never printed.

use std::fmt;

use zeroize::{Zeroize, Zeroizing};

use crate::error::Error;

/// The largest secret value the store accepts, in bytes.
///
/// Credentials are tokens and passwords; a limit keeps a mistaken `set` of a
/// large file from bloating the store that every read parses.
pub const MAX_SECRET_LEN: usize = 64 * 1024;

/// A secret value in memory.
///
/// The bytes are zeroized when the value is dropped. `Debug` and `Display`
/// print `[REDACTED]`; there is deliberately no `Serialize`, `Clone` through a
/// derive that could leak, or `PartialEq` that could compare in variable time.
/// The only way to the bytes is [`SecretValue::expose`], so every use is
/// visible in review.
pub struct SecretValue {
    bytes: Zeroizing<Vec<u8>>,
}

impl SecretValue {
    /// Wraps the given bytes; a `String` or `Vec<u8>` is moved, not copied.
    pub fn new(bytes: impl Into<Vec<u8>>) -> Self {
        Self {
            bytes: Zeroizing::new(bytes.into()),
        }
    }

    /// The secret bytes. Call only at the boundary where the value is used.
    pub fn expose(&self) -> &[u8] {
        &self.bytes
    }

    /// The secret as UTF-8, or `None` when it is not valid UTF-8.
    pub fn expose_str(&self) -> Option<&str> {
        std::str::from_utf8(&self.bytes).ok()
    }

    /// The length in bytes.
    pub fn len(&self) -> usize {
        self.bytes.len()
    }

    /// Whether the value is empty.
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// A copy that is zeroized independently.
    pub fn duplicate(&self) -> Self {
        Self::new(self.bytes.to_vec())
    }
}

impl From<String> for SecretValue {
    fn from(value: String) -> Self {
        Self::new(value)
    }
}

impl From<&str> for SecretValue {
    fn from(value: &str) -> Self {
        Self::new(value.as_bytes().to_vec())
    }
}

impl fmt::Debug for SecretValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[REDACTED]")
    }
}

impl fmt::Display for SecretValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[REDACTED]")
    }
}

/// A 256-bit master key, zeroized on drop and printed as `[REDACTED]`.
pub struct MasterKey {
    bytes: Zeroizing<[u8; 32]>,
}

impl MasterKey {
    /// The key length in bytes.
    pub const LEN: usize = 32;

    /// Wraps 32 raw key bytes.
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self {
            bytes: Zeroizing::new(bytes),
        }
    }

    /// A fresh key from the operating system's random number generator.
    pub fn generate() -> Result<Self, Error> {
        let mut bytes = Zeroizing::new([0u8; 32]);
        ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), bytes.as_mut())
            .map_err(|_| Error::Random)?;
        Ok(Self { bytes })
    }

    /// Parses a key given as text: 64 hexadecimal characters, or the standard
    /// or URL-safe base64 of 32 bytes (padding optional). Surrounding
    /// whitespace is ignored. The error never contains the input.
    pub fn parse(text: &str) -> Result<Self, Error> {
        let text = text.trim();
        if text.is_empty() {
            return Err(Error::InvalidMasterKey {
                reason: "it is empty",
            });
        }
        let mut decoded = Zeroizing::new(Vec::new());
        if text.len() == 64 && text.bytes().all(|b| b.is_ascii_hexdigit()) {
            *decoded = hex::decode(text).map_err(|_| Error::InvalidMasterKey {
                reason: "it is not valid hexadecimal",
            })?;
        } else {
            use base64::Engine as _;
            use base64::engine::general_purpose::{STANDARD_NO_PAD, URL_SAFE_NO_PAD};
            let unpadded = text.trim_end_matches('=');
            *decoded = STANDARD_NO_PAD
                .decode(unpadded)
                .or_else(|_| URL_SAFE_NO_PAD.decode(unpadded))
                .map_err(|_| Error::InvalidMasterKey {
                    reason: "expected 64 hexadecimal characters or the base64 of 32 bytes",
                })?;
        }
        let bytes: [u8; 32] =
            decoded
                .as_slice()
                .try_into()
                .map_err(|_| Error::InvalidMasterKey {
                    reason: "it does not decode to exactly 32 bytes (256 bits)",
                })?;
        decoded.zeroize();
        Ok(Self::from_bytes(bytes))
    }

    /// The key as 64 lowercase hexadecimal characters, zeroized on drop.
    pub fn to_hex(&self) -> Zeroizing<String> {
        Zeroizing::new(hex::encode(self.bytes.as_ref()))
    }

    pub(crate) fn duplicate(&self) -> Self {
        Self::from_bytes(*self.bytes)
    }

    pub(crate) fn bytes(&self) -> &[u8; 32] {
        &self.bytes
    }
}

impl fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MasterKey([REDACTED])")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check_parse(input: &str, ok: bool) {
        let parsed = MasterKey::parse(input);
        assert_eq!(parsed.is_ok(), ok, "input {input:?}");
        if let Err(err) = parsed {
            assert!(!err.to_string().contains(input.trim()) || input.trim().is_empty());
        }
    }

    #[test]
    fn master_key_encodings() {
        let hex64 = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
        check_parse(hex64, true);
        check_parse(&hex64.to_uppercase(), true);
        check_parse(&format!("  {hex64}\n"), true);
        check_parse("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=", true);
        check_parse("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8", true);
        check_parse("", false);
        check_parse("   ", false);
        check_parse(&hex64[..62], false);
        check_parse(&format!("{hex64}00"), false);
        check_parse("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwd", false);
        check_parse("not a key at all, definitely not", false);
        check_parse(
            "zz112233445566778899aabbccddeeff00112233445566778899aabbccddeeff",
            false,
        );
    }

    #[test]
    fn values_never_print() {
        let value = SecretValue::from("hunter2-very-secret");
        assert_eq!(format!("{value}"), "[REDACTED]");
        assert_eq!(format!("{value:?}"), "[REDACTED]");
        assert_eq!(format!("{:#?}", Some(&value)), "Some(\n    [REDACTED],\n)");
        let key = MasterKey::from_bytes([7; 32]);
        assert!(!format!("{key:?}").contains("07"));
    }
}
