//! The hash chain, the seal file format and timestamps.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::Path;

use ring::digest::{SHA256, digest};
use time::OffsetDateTime;

use crate::error::AuditError;

/// The `prev` of the first line ever written to a log: 64 zeros.
pub const GENESIS_PREV: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// A SHA-256 digest.
pub(crate) type Hash = [u8; 32];

pub(crate) const GENESIS: Hash = [0u8; 32];

/// The SHA-256 of a line's bytes, newline excluded.
pub(crate) fn line_hash(line: &[u8]) -> Hash {
    let mut out = [0u8; 32];
    out.copy_from_slice(digest(&SHA256, line).as_ref());
    out
}

/// Formats `ms` (milliseconds since the Unix epoch) as RFC 3339 UTC with milliseconds.
pub(crate) fn format_ts(ms: i128) -> String {
    let at = OffsetDateTime::from_unix_timestamp_nanos(ms * 1_000_000)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        at.year(),
        u8::from(at.month()),
        at.day(),
        at.hour(),
        at.minute(),
        at.second(),
        at.millisecond()
    )
}

/// The seal of a live file: after each durable write, its length and the hash of its
/// last line (or, when empty, the hash its first line will chain to).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Seal {
    pub(crate) bytes: u64,
    pub(crate) last: Hash,
}

const SEAL_MAGIC: &str = "ironclaw-audit-seal v1";

impl Seal {
    /// Fixed-length text, so that rewriting it in place never leaves old bytes behind.
    pub(crate) fn encode(&self) -> Vec<u8> {
        let text = format!(
            "{SEAL_MAGIC} bytes={:020} last={}",
            self.bytes,
            hex::encode(self.last)
        );
        let check = hex::encode(&line_hash(text.as_bytes())[..8]);
        format!("{text} check={check}\n").into_bytes()
    }

    /// `None` when the text is not a complete, self-consistent seal.
    pub(crate) fn decode(text: &[u8]) -> Option<Self> {
        let text = std::str::from_utf8(text).ok()?.strip_suffix('\n')?;
        let (body, check) = text.rsplit_once(" check=")?;
        if hex::encode(&line_hash(body.as_bytes())[..8]) != check {
            return None;
        }
        let rest = body.strip_prefix(SEAL_MAGIC)?.strip_prefix(" bytes=")?;
        let (bytes, last) = rest.split_once(" last=")?;
        let mut hash = [0u8; 32];
        hex::decode_to_slice(last, &mut hash).ok()?;
        Some(Self {
            bytes: bytes.parse().ok()?,
            last: hash,
        })
    }

    pub(crate) fn write(&self, file: &File, path: &Path) -> Result<(), AuditError> {
        file.write_all_at(&self.encode(), 0)
            .map_err(|err| AuditError::io(path, "write seal", err))
    }

    /// Reads a seal; `Ok(None)` when missing or unreadable (torn by a crash).
    pub(crate) fn read(path: &Path) -> Result<Option<Self>, AuditError> {
        match std::fs::read(path) {
            Ok(bytes) => Ok(Self::decode(&bytes)),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(err) => Err(AuditError::io(path, "read seal", err)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_round_trip_and_damage() {
        let seal = Seal {
            bytes: 1234,
            last: line_hash(b"x"),
        };
        let encoded = seal.encode();
        assert_eq!(Seal::decode(&encoded), Some(seal));
        assert_eq!(
            Seal {
                bytes: u64::MAX,
                last: GENESIS
            }
            .encode()
            .len(),
            encoded.len()
        );
        for cut in 0..encoded.len() {
            assert_eq!(Seal::decode(&encoded[..cut]), None);
        }
        let mut edited = encoded.clone();
        edited[30] = b'9';
        assert_eq!(Seal::decode(&edited), None);
    }

    #[test]
    fn timestamps() {
        assert_eq!(format_ts(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(format_ts(1_775_474_581_447), "2026-04-06T11:23:01.447Z");
    }
}
