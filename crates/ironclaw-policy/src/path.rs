//! URL path normalisation that refuses every spelling of a traversal.

use unicode_normalization::UnicodeNormalization;

use crate::denied::{Denied, DenyKind};

/// How many percent-decoding layers are examined; a path still changing after
/// that many is refused (nobody encodes a legitimate path four times).
const MAX_LAYERS: usize = 4;

/// Characters that some server or file system treats as a dot, a slash or a
/// backslash (full-width forms, division and set-minus slashes, ideographic stops).
const LOOKALIKES: &[char] = &[
    '\u{2215}', '\u{2216}', '\u{2044}', '\u{29f5}', '\u{29f8}', '\u{29f9}', '\u{ff0e}', '\u{ff0f}',
    '\u{ff3c}', '\u{2024}', '\u{fe52}', '\u{3002}', '\u{ff61}', '\u{fe68}',
];

fn traversal(path: &str, why: &str) -> Denied {
    let shown: String = path.chars().take(120).collect();
    Denied::new(DenyKind::PathTraversal, format!("path {shown:?} {why}"))
}

/// Checks a raw URL path (as written, before any decoding) and returns its
/// segments decoded once, the form a server sees.
///
/// Refused, at every decoding layer: `.` and `..` segments (also with `;params`
/// or trailing spaces and dots, which Windows servers strip), segments made only
/// of dots, backslashes, encoded slashes, NUL and control characters, IIS `%uXXXX`
/// escapes, bytes that are not UTF-8 (overlong forms such as `%c0%ae`), Unicode
/// characters that look like or normalise (NFKC) to a dot or a slash, and paths
/// still changing after several decoding layers.
pub fn normalize_path(raw: &str) -> Result<Vec<String>, Denied> {
    if raw.len() > 8192 {
        return Err(traversal(&raw[..64], "is too long"));
    }
    let raw_slashes = raw.matches('/').count();
    let mut current = raw.to_owned();
    let mut first_decoded: Option<String> = None;
    for layer in 0..=MAX_LAYERS {
        check_layer(raw, &current)?;
        if current.matches('/').count() != raw_slashes {
            return Err(traversal(raw, "has an encoded slash"));
        }
        let bytes: Vec<u8> = percent_encoding::percent_decode_str(&current).collect();
        let decoded = String::from_utf8(bytes)
            .map_err(|_| traversal(raw, "decodes to bytes that are not utf-8"))?;
        if first_decoded.is_none() {
            first_decoded = Some(decoded.clone());
        }
        if decoded == current {
            let once = first_decoded.unwrap_or(decoded);
            let body = once.strip_prefix('/').unwrap_or(&once);
            if body.is_empty() {
                return Ok(Vec::new());
            }
            return Ok(body.split('/').map(str::to_owned).collect());
        }
        if layer == MAX_LAYERS {
            break;
        }
        current = decoded;
    }
    Err(traversal(raw, "has too many encoding layers"))
}

fn check_layer(raw: &str, text: &str) -> Result<(), Denied> {
    check_text(raw, text)?;
    // Some servers and WAF-evading payloads spell characters as `0xHH`; judge
    // that reading too.
    let lower = text.to_ascii_lowercase();
    if lower.contains("0x2e") || lower.contains("0x2f") || lower.contains("0x5c") {
        let alt = lower
            .replace("0x2e", ".")
            .replace("0x2f", "/")
            .replace("0x5c", "\\");
        check_text(raw, &alt)?;
    }
    Ok(())
}

fn check_text(raw: &str, text: &str) -> Result<(), Denied> {
    if text.contains('\\') {
        return Err(traversal(raw, "has a backslash"));
    }
    if text.chars().any(|c| c.is_control()) {
        return Err(traversal(raw, "has a control character"));
    }
    let lower = text.to_ascii_lowercase();
    if let Some(at) = lower.find("%u") {
        let tail = &lower.as_bytes()[at + 2..];
        if tail.len() >= 4 && tail[..4].iter().all(u8::is_ascii_hexdigit) {
            return Err(traversal(raw, "has an iis %u escape"));
        }
    }
    if !text.is_ascii() {
        if text.chars().any(|c| LOOKALIKES.contains(&c)) {
            return Err(traversal(
                raw,
                "has a character that looks like a dot or slash",
            ));
        }
        let count = |s: &str| s.chars().filter(|c| matches!(c, '.' | '/' | '\\')).count();
        let nfkc: String = text.nfkc().collect();
        if count(&nfkc) != count(text) {
            return Err(traversal(
                raw,
                "has a character that normalises to a dot or slash",
            ));
        }
    }
    for segment in text.split('/') {
        let name = segment.split(';').next().unwrap_or(segment);
        let stripped = name.trim_end_matches([' ', '.']);
        if !name.is_empty() && name.contains('.') && stripped.is_empty() {
            return Err(traversal(raw, "has a dot segment"));
        }
    }
    Ok(())
}

/// Whether `segments` start with the segments of `prefix` (whole segments only).
/// A prefix ending in `/` requires at least one more segment after it.
pub(crate) fn prefix_matches(prefix: &[String], prefix_is_dir: bool, segments: &[String]) -> bool {
    if segments.len() < prefix.len() || segments[..prefix.len()] != *prefix {
        return false;
    }
    !prefix_is_dir || segments.len() > prefix.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(raw: &str, ok: bool) {
        assert_eq!(normalize_path(raw).is_ok(), ok, "{raw}");
    }

    #[test]
    fn traversal_table() {
        check("/repos/a/b", true);
        check("/a/b.txt", true);
        check("/compare/main...feature", true);
        check("/", true);
        check("", true);
        check("/caf%C3%A9", true);
        check("/a%20b", true);
        check("/../etc/passwd", false);
        check("/a/./b", false);
        check("/a/..", false);
        check("/%2e%2e/x", false);
        check("/%2E%2e%2fx", false);
        check("/..%2fx", false);
        check("/a%2fb", false);
        check("/%252e%252e/x", false);
        check("/%25252e%25252e/x", false);
        check("/%c0%ae%c0%ae/x", false);
        check("/%e0%80%ae%e0%80%ae/x", false);
        check("/%uff0e%uff0e/x", false);
        check("/\u{ff0e}\u{ff0e}/x", false);
        check("/..\u{2215}x", false);
        check("/..\\x", false);
        check("/..%5cx", false);
        check("/..;/x", false);
        check("/..%00/x", false);
        check("/.. /x", false);
        check("/..../x", false);
        check("/%2e/x", false);
        check("/0x2e0x2e/x", false);
        check("/..0x2fx", false);
        check("/0x2e/x", false);
        check("/0x2easy/x", true);
    }

    #[test]
    fn decoded_once() {
        assert_eq!(
            normalize_path("/api/v%31/x").unwrap(),
            vec!["api".to_owned(), "v1".to_owned(), "x".to_owned()]
        );
    }
}
