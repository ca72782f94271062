//! Header hygiene for forwarded requests: hop-by-hop removal and smuggling guards.

use http::HeaderMap;
use http::header::{self, HeaderName};

/// Headers that belong to one hop and are never forwarded (RFC 9110 section 7.6.1),
/// plus every `Proxy-*` header, which carries the job's proxy credentials.
const HOP_BY_HOP: &[HeaderName] = &[
    header::CONNECTION,
    header::TE,
    header::TRAILER,
    header::TRANSFER_ENCODING,
    header::UPGRADE,
    header::PROXY_AUTHORIZATION,
    header::PROXY_AUTHENTICATE,
];

/// Removes hop-by-hop headers: `Connection` and every header it names, `Keep-Alive`,
/// `TE`, `Trailer`, `Transfer-Encoding`, `Upgrade`, and all `Proxy-*` headers.
pub(crate) fn strip_hop_by_hop(headers: &mut HeaderMap) {
    let named: Vec<HeaderName> = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .filter_map(|token| HeaderName::from_bytes(token.trim().as_bytes()).ok())
        .collect();
    for name in named {
        headers.remove(name);
    }
    for name in HOP_BY_HOP {
        headers.remove(name);
    }
    let proxy_headers: Vec<HeaderName> = headers
        .keys()
        .filter(|name| name.as_str().starts_with("proxy-") || name.as_str() == "keep-alive")
        .cloned()
        .collect();
    for name in proxy_headers {
        headers.remove(name);
    }
}

/// Why a request's framing is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FramingError {
    /// Both `Content-Length` and `Transfer-Encoding` are present.
    LengthAndChunked,
    /// More than one `Content-Length` value, or one that is not a plain number.
    BadContentLength,
    /// A `Transfer-Encoding` other than exactly `chunked`.
    BadTransferEncoding,
}

impl FramingError {
    /// A short reason for the audit record and the error body.
    pub(crate) fn reason(self) -> &'static str {
        match self {
            Self::LengthAndChunked => "both content-length and transfer-encoding present",
            Self::BadContentLength => "invalid or repeated content-length",
            Self::BadTransferEncoding => "unsupported transfer-encoding",
        }
    }
}

/// Refuses ambiguous message framing, the root of request smuggling: a request whose
/// length two servers could read differently is never forwarded.
pub(crate) fn check_framing(headers: &HeaderMap) -> Result<(), FramingError> {
    let lengths: Vec<_> = headers.get_all(header::CONTENT_LENGTH).iter().collect();
    let encodings: Vec<_> = headers.get_all(header::TRANSFER_ENCODING).iter().collect();
    if !lengths.is_empty() && !encodings.is_empty() {
        return Err(FramingError::LengthAndChunked);
    }
    if lengths.len() > 1 {
        return Err(FramingError::BadContentLength);
    }
    if let Some(length) = lengths.first() {
        let valid = length
            .to_str()
            .is_ok_and(|v| !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()));
        if !valid {
            return Err(FramingError::BadContentLength);
        }
    }
    if encodings.len() > 1 {
        return Err(FramingError::BadTransferEncoding);
    }
    if let Some(encoding) = encodings.first() {
        let chunked = encoding
            .to_str()
            .is_ok_and(|v| v.trim().eq_ignore_ascii_case("chunked"));
        if !chunked {
            return Err(FramingError::BadTransferEncoding);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn map(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for (name, value) in pairs {
            headers.append(
                HeaderName::from_bytes(name.as_bytes()).unwrap(),
                HeaderValue::from_str(value).unwrap(),
            );
        }
        headers
    }

    #[test]
    fn strips_hop_by_hop_and_what_connection_names() {
        let mut headers = map(&[
            ("connection", "keep-alive, X-Secret-Hop"),
            ("x-secret-hop", "1"),
            ("keep-alive", "timeout=5"),
            ("proxy-authorization", "Basic abc"),
            ("proxy-connection", "keep-alive"),
            ("te", "trailers"),
            ("trailer", "x"),
            ("upgrade", "websocket"),
            ("accept", "*/*"),
            ("authorization", "Bearer tool-set"),
        ]);
        strip_hop_by_hop(&mut headers);
        let mut left: Vec<&str> = headers.keys().map(|k| k.as_str()).collect();
        left.sort_unstable();
        assert_eq!(left, vec!["accept", "authorization"]);
    }

    #[test]
    fn framing_checks() {
        let check = |pairs: &[(&str, &str)], expected: Result<(), FramingError>| {
            assert_eq!(check_framing(&map(pairs)), expected, "{pairs:?}");
        };
        check(&[], Ok(()));
        check(&[("content-length", "10")], Ok(()));
        check(&[("transfer-encoding", "chunked")], Ok(()));
        check(&[("transfer-encoding", " Chunked ")], Ok(()));
        check(
            &[("content-length", "10"), ("transfer-encoding", "chunked")],
            Err(FramingError::LengthAndChunked),
        );
        check(
            &[("content-length", "10"), ("content-length", "11")],
            Err(FramingError::BadContentLength),
        );
        check(
            &[("content-length", "+10")],
            Err(FramingError::BadContentLength),
        );
        check(
            &[("content-length", "1 0")],
            Err(FramingError::BadContentLength),
        );
        check(
            &[("content-length", "")],
            Err(FramingError::BadContentLength),
        );
        check(
            &[("transfer-encoding", "gzip, chunked")],
            Err(FramingError::BadTransferEncoding),
        );
        check(
            &[
                ("transfer-encoding", "chunked"),
                ("transfer-encoding", "chunked"),
            ],
            Err(FramingError::BadTransferEncoding),
        );
        check(
            &[("transfer-encoding", "xchunked")],
            Err(FramingError::BadTransferEncoding),
        );
    }
}
