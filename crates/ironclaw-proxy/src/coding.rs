//! Content codings: which ones the proxy can undo to scan a body, and undoing them
//! with a cap on the decoded size, so a small compressed body cannot become a large
//! buffer (a "zip bomb").

use std::io::Read;

use http::HeaderMap;
use http::header::{CONTENT_ENCODING, TRANSFER_ENCODING};

/// A content coding the proxy can decode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Coding {
    /// No coding (absent, or `identity`).
    Identity,
    /// `gzip` or `x-gzip`.
    Gzip,
    /// `deflate` (zlib-wrapped, or raw deflate as some servers send it).
    Deflate,
}

/// The single content coding of a message, or the coding the proxy cannot decode
/// (a name it does not know, or several codings stacked).
pub(crate) fn content_coding(headers: &HeaderMap) -> Result<Coding, String> {
    let mut codings = Vec::new();
    for value in headers.get_all(CONTENT_ENCODING) {
        let Ok(text) = value.to_str() else {
            return Err("unknown".to_owned());
        };
        for token in text.split(',') {
            let token = token.trim().to_ascii_lowercase();
            if !token.is_empty() && token != "identity" {
                codings.push(token);
            }
        }
    }
    match codings.as_slice() {
        [] => Ok(Coding::Identity),
        [one] if one == "gzip" || one == "x-gzip" => Ok(Coding::Gzip),
        [one] if one == "deflate" => Ok(Coding::Deflate),
        [one] => Err(named(one)),
        many => Err(many.iter().map(|c| named(c)).collect::<Vec<_>>().join(", ")),
    }
}

/// A coding's name for messages and audit records: registered names as they are,
/// anything else as `unknown` (the header is written by the job or the upstream and
/// could carry anything, a secret included).
fn named(coding: &str) -> String {
    const KNOWN: &[&str] = &[
        "gzip",
        "x-gzip",
        "deflate",
        "br",
        "zstd",
        "compress",
        "x-compress",
        "exi",
        "pack200-gzip",
        "aes128gcm",
        "dcb",
        "dcz",
    ];
    if KNOWN.contains(&coding) {
        coding.to_owned()
    } else {
        "unknown".to_owned()
    }
}

/// Whether a response's `Transfer-Encoding` is one the HTTP client undid itself
/// (absent, or exactly `chunked`): any other transfer coding reaches the body as is.
pub(crate) fn transfer_coding_is_plain(headers: &HeaderMap) -> bool {
    headers.get_all(TRANSFER_ENCODING).iter().all(|value| {
        value
            .to_str()
            .is_ok_and(|v| v.trim().eq_ignore_ascii_case("chunked"))
    })
}

/// Why a body could not be decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DecodeError {
    /// The decoded body is larger than the cap.
    TooLarge,
    /// The bytes are not valid for the coding.
    Corrupt,
}

/// Decodes `data` with `coding`, refusing to produce more than `limit` bytes.
pub(crate) fn decode(coding: Coding, data: &[u8], limit: usize) -> Result<Vec<u8>, DecodeError> {
    match coding {
        Coding::Identity if data.len() > limit => Err(DecodeError::TooLarge),
        Coding::Identity => Ok(data.to_vec()),
        Coding::Gzip => read_capped(flate2::read::MultiGzDecoder::new(data), limit),
        Coding::Deflate => match read_capped(flate2::read::ZlibDecoder::new(data), limit) {
            Err(DecodeError::Corrupt) => {
                read_capped(flate2::read::DeflateDecoder::new(data), limit)
            }
            other => other,
        },
    }
}

fn read_capped(reader: impl Read, limit: usize) -> Result<Vec<u8>, DecodeError> {
    let mut out = Vec::new();
    let cap = u64::try_from(limit).unwrap_or(u64::MAX).saturating_add(1);
    reader
        .take(cap)
        .read_to_end(&mut out)
        .map_err(|_| DecodeError::Corrupt)?;
    if out.len() > limit {
        return Err(DecodeError::TooLarge);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;
    use std::io::Write;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(*name, HeaderValue::from_static(value));
        }
        map
    }

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        encoder.write_all(data).unwrap();
        encoder.finish().unwrap()
    }

    #[test]
    fn codings_are_named_or_refused() {
        let check = |pairs: &[(&'static str, &'static str)], expected: Result<Coding, &str>| {
            assert_eq!(
                content_coding(&headers(pairs)),
                expected.map_err(str::to_owned),
                "{pairs:?}"
            );
        };
        check(&[], Ok(Coding::Identity));
        check(&[("content-encoding", "identity")], Ok(Coding::Identity));
        check(&[("content-encoding", " GZip ")], Ok(Coding::Gzip));
        check(&[("content-encoding", "x-gzip")], Ok(Coding::Gzip));
        check(&[("content-encoding", "deflate")], Ok(Coding::Deflate));
        check(&[("content-encoding", "br")], Err("br"));
        check(&[("content-encoding", "zstd")], Err("zstd"));
        check(
            &[("content-encoding", "AKIAIOSFODNN7EXAMPL3")],
            Err("unknown"),
        );
        check(&[("content-encoding", "gzip, gzip")], Err("gzip, gzip"));
        check(
            &[("content-encoding", "gzip"), ("content-encoding", "br")],
            Err("gzip, br"),
        );
        assert!(transfer_coding_is_plain(&headers(&[])));
        assert!(transfer_coding_is_plain(&headers(&[(
            "transfer-encoding",
            "chunked"
        )])));
        assert!(!transfer_coding_is_plain(&headers(&[(
            "transfer-encoding",
            "gzip, chunked"
        )])));
    }

    #[test]
    fn decoding_is_capped_and_checked() {
        let plain = b"hello hello hello".to_vec();
        assert_eq!(decode(Coding::Gzip, &gzip(&plain), 100).unwrap(), plain);
        let mut zlib = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::fast());
        zlib.write_all(&plain).unwrap();
        assert_eq!(
            decode(Coding::Deflate, &zlib.finish().unwrap(), 100).unwrap(),
            plain
        );
        let mut raw = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::fast());
        raw.write_all(&plain).unwrap();
        assert_eq!(
            decode(Coding::Deflate, &raw.finish().unwrap(), 100).unwrap(),
            plain
        );
        let bomb = gzip(&vec![0u8; 1 << 20]);
        assert!(bomb.len() < 16 * 1024);
        assert_eq!(
            decode(Coding::Gzip, &bomb, 1000),
            Err(DecodeError::TooLarge)
        );
        assert_eq!(
            decode(Coding::Gzip, b"not gzip at all", 1000),
            Err(DecodeError::Corrupt)
        );
        assert_eq!(
            decode(Coding::Identity, &plain, 4),
            Err(DecodeError::TooLarge)
        );
    }
}
