//! The encoded forms of a registered secret that the leak detector also matches.

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD_NO_PAD, URL_SAFE_NO_PAD};
use percent_encoding::{AsciiSet, CONTROLS, NON_ALPHANUMERIC, utf8_percent_encode};

/// How a registered secret appeared in the scanned text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SecretEncoding {
    /// The value itself.
    Raw,
    /// Standard base64 (`+/`), at any of the three byte alignments, padded or not.
    Base64,
    /// URL-safe base64 (`-_`), at any of the three byte alignments, padded or not.
    Base64Url,
    /// Percent-encoding (either hex case, all non-alphanumerics or only reserved bytes).
    Percent,
    /// Lowercase hexadecimal.
    HexLower,
    /// Uppercase hexadecimal.
    HexUpper,
    /// Escaped as the body of a JSON string.
    JsonEscaped,
}

impl SecretEncoding {
    /// The stable lowercase name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Raw => "raw",
            Self::Base64 => "base64",
            Self::Base64Url => "base64url",
            Self::Percent => "percent",
            Self::HexLower => "hex_lower",
            Self::HexUpper => "hex_upper",
            Self::JsonEscaped => "json",
        }
    }
}

/// Bytes that form a URL component unchanged; everything else is escaped.
const COMPONENT: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'%')
    .add(b'<')
    .add(b'>')
    .add(b'?')
    .add(b'`')
    .add(b'{')
    .add(b'}')
    .add(b'/')
    .add(b':')
    .add(b';')
    .add(b'=')
    .add(b'@')
    .add(b'[')
    .add(b']')
    .add(b'\\')
    .add(b'^')
    .add(b'|')
    .add(b'&')
    .add(b'+')
    .add(b',')
    .add(b'$');

/// Every distinct encoded form of `secret`, with the encoding that produced it.
///
/// Base64 forms are the *stable core*: the characters that depend only on the
/// secret's bytes when it sits at byte offset 0, 1 or 2 of a longer encoded blob,
/// so a secret embedded anywhere in a base64 document is still found. The last one
/// or two characters of such a form (which mix in the neighbouring bytes) are not
/// part of the match.
pub(crate) fn variants(secret: &[u8]) -> Vec<(Vec<u8>, SecretEncoding)> {
    let mut out: Vec<(Vec<u8>, SecretEncoding)> = Vec::new();
    let mut push = |bytes: Vec<u8>, enc: SecretEncoding| {
        if bytes.len() >= 8 && !out.iter().any(|(b, _)| *b == bytes) {
            out.push((bytes, enc));
        }
    };
    push(secret.to_vec(), SecretEncoding::Raw);
    for align in 0..3usize {
        let mut buf = vec![0u8; align];
        buf.extend_from_slice(secret);
        let from = (8 * align).div_ceil(6);
        let to = (8 * (align + secret.len())) / 6;
        for (engine, enc) in [
            (&STANDARD_NO_PAD, SecretEncoding::Base64),
            (&URL_SAFE_NO_PAD, SecretEncoding::Base64Url),
        ] {
            let encoded = engine.encode(&buf);
            if let Some(core) = encoded.as_bytes().get(from..to) {
                push(core.to_vec(), enc);
            }
        }
    }
    if let Ok(text) = std::str::from_utf8(secret) {
        for set in [NON_ALPHANUMERIC, COMPONENT] {
            let upper = utf8_percent_encode(text, set).to_string();
            push(lower_percent_hex(&upper), SecretEncoding::Percent);
            push(upper.into_bytes(), SecretEncoding::Percent);
        }
        let json = json_escape(text, false, false);
        push(
            json_escape(text, true, false).into_bytes(),
            SecretEncoding::JsonEscaped,
        );
        push(
            json_escape(text, false, true).into_bytes(),
            SecretEncoding::JsonEscaped,
        );
        push(json.into_bytes(), SecretEncoding::JsonEscaped);
    }
    push(
        hex_encode(secret, b"0123456789abcdef"),
        SecretEncoding::HexLower,
    );
    push(
        hex_encode(secret, b"0123456789ABCDEF"),
        SecretEncoding::HexUpper,
    );
    out
}

fn hex_encode(bytes: &[u8], digits: &[u8; 16]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(digits[usize::from(b >> 4)]);
        out.push(digits[usize::from(b & 15)]);
    }
    out
}

fn lower_percent_hex(encoded: &str) -> Vec<u8> {
    let mut out = encoded.as_bytes().to_vec();
    let mut i = 0;
    while i < out.len() {
        if out[i] == b'%' && i + 2 < out.len() {
            out[i + 1] = out[i + 1].to_ascii_lowercase();
            out[i + 2] = out[i + 2].to_ascii_lowercase();
            i += 3;
        } else {
            i += 1;
        }
    }
    out
}

/// JSON string-body escaping; optionally `\/` for slashes and `\uXXXX` for non-ASCII.
fn json_escape(text: &str, escape_slash: bool, ascii_only: bool) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '/' if escape_slash => out.push_str("\\/"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 || (ascii_only && !c.is_ascii()) => {
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    out.push_str(&format!("\\u{unit:04x}"));
                }
            }
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::engine::general_purpose::{STANDARD, URL_SAFE};

    fn forms(secret: &str) -> Vec<Vec<u8>> {
        variants(secret.as_bytes())
            .into_iter()
            .map(|(b, _)| b)
            .collect()
    }

    fn found(secret: &str, encoded: &str) -> bool {
        forms(secret).iter().any(|f| {
            encoded
                .as_bytes()
                .windows(f.len())
                .any(|w| w == f.as_slice())
        })
    }

    #[test]
    fn base64_core_is_found_at_every_alignment_and_alphabet() {
        let secret = "s3cr3t-v@lue/with?odd+chars~~";
        for prefix in ["", "a", "ab", "abc", "user:"] {
            for suffix in ["", "x", "xy", "\n"] {
                let blob = format!("{prefix}{secret}{suffix}");
                for engine in [&STANDARD, &URL_SAFE, &STANDARD_NO_PAD, &URL_SAFE_NO_PAD] {
                    let encoded = engine.encode(&blob);
                    assert!(found(secret, &encoded), "{prefix:?} {suffix:?} {encoded}");
                }
            }
        }
    }

    #[test]
    fn text_encodings_are_produced() {
        let secret = "p@ss/w\"rd\u{e9}12";
        let encoded = [
            "p%40ss%2Fw%22rd%C3%A912",
            "p%40ss%2fw%22rd%c3%a912",
            "p\\\"rd",
            "p@ss\\/w\\\"rd\u{e9}12",
            "p@ss/w\\\"rd\u{e9}12",
            "70407373",
            "7040737",
        ];
        for e in &encoded[..2] {
            assert!(found(secret, e), "{e}");
        }
        assert!(found(secret, encoded[3]));
        assert!(found(secret, encoded[4]));
        assert!(found(secret, &hex::encode(secret)));
        assert!(found(secret, &hex::encode_upper(secret)));
    }

    #[test]
    fn short_forms_are_dropped() {
        assert!(variants(b"abc").is_empty());
    }
}
