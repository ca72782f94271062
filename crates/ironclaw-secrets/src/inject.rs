//! Credential injection into outgoing HTTP requests at the host boundary.
//!
//! The mapping types mirror `capabilities.json`:
//!
//! ```json
//! "credentials": {
//!   "github": { "secret_name": "github_token", "location": { "type": "bearer" },
//!               "host_patterns": ["api.github.com"] }
//! }
//! ```
//!
//! Locations: `bearer` (`Authorization: Bearer <v>`), `basic` with
//! `username` (`Authorization: Basic base64(username:v)`), `header` with
//! `name`, and `query` with `param` (percent-encoded). Whatever the tool set
//! at that location is removed first (every `Authorization` header, every
//! header of that name in any case, every query parameter of that name in any
//! case or encoding), so a credential is never duplicated or shadowed.

use std::collections::BTreeSet;

use base64::Engine as _;
use http::header::{AUTHORIZATION, HeaderName, HeaderValue};
use http::uri::{PathAndQuery, Uri};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::error::{Error, Result};
use crate::store::SecretStore;
use crate::value::SecretValue;

/// Everything but the RFC 3986 unreserved characters is encoded in a query value.
const QUERY_VALUE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Headers a credential may never be written to: they frame the request or
/// route it, so controlling them would let a value smuggle a request.
const FORBIDDEN_HEADERS: &[&str] = &[
    "host",
    "content-length",
    "transfer-encoding",
    "connection",
    "upgrade",
    "te",
    "trailer",
    "keep-alive",
    "proxy-connection",
    "expect",
    "content-type",
    "cookie",
];

/// Where a credential goes in a request (`location` in capabilities.json).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase", deny_unknown_fields)]
pub enum CredentialLocation {
    /// `Authorization: Bearer <value>`.
    Bearer,
    /// `Authorization: Basic base64(<username>:<value>)`.
    Basic {
        /// The user name; may not contain `:`.
        username: String,
    },
    /// `<name>: <value>`.
    Header {
        /// The header name (matched case-insensitively).
        name: String,
    },
    /// `?<param>=<value>`, percent-encoded.
    Query {
        /// The query parameter name.
        param: String,
    },
}

/// One credential a tool may have injected (an entry of `credentials`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CredentialMapping {
    /// The secret to inject.
    pub secret_name: String,
    /// Where to put it.
    pub location: CredentialLocation,
    /// Hosts it may be sent to: exact names (case-insensitive) or `*.suffix`
    /// (subdomains only). Empty means nowhere.
    #[serde(default)]
    pub host_patterns: Vec<String>,
}

/// The secret names a caller may have injected (`secrets.allowed_names`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SecretGrant {
    names: BTreeSet<String>,
}

impl SecretGrant {
    /// A grant of exactly these names.
    pub fn new<I, S>(names: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Self {
            names: names.into_iter().map(Into::into).collect(),
        }
    }

    /// Whether `name` is granted (exact, case-sensitive).
    pub fn allows(&self, name: &str) -> bool {
        self.names.contains(name)
    }
}

impl CredentialMapping {
    /// Whether the mapping allows sending its credential to `host`.
    pub fn allows_host(&self, host: &str) -> bool {
        let host = normalize_host(host);
        if host.is_empty() {
            return false;
        }
        self.host_patterns.iter().any(|pattern| {
            let pattern = normalize_host(pattern);
            match pattern.strip_prefix("*.") {
                Some(suffix) if !suffix.is_empty() => {
                    host.len() > suffix.len() + 1
                        && host.ends_with(suffix)
                        && host.as_bytes()[host.len() - suffix.len() - 1] == b'.'
                }
                Some(_) => false,
                None => !pattern.is_empty() && pattern == host,
            }
        })
    }
}

fn normalize_host(host: &str) -> String {
    host.trim_end_matches('.').to_ascii_lowercase()
}

impl SecretStore {
    /// Injects the credential `mapping` from `namespace` into `request`.
    ///
    /// Checks, in order: the grant names the secret ([`Error::NotGranted`]
    /// before the store is touched), the request's host matches the
    /// mapping's host patterns ([`Error::HostNotAllowed`]), then reads the
    /// secret and places it.
    pub fn inject<B>(
        &self,
        namespace: &str,
        grant: &SecretGrant,
        mapping: &CredentialMapping,
        request: &mut http::Request<B>,
    ) -> Result<()> {
        if !grant.allows(&mapping.secret_name) {
            return Err(Error::NotGranted {
                name: mapping.secret_name.clone(),
            });
        }
        let host = request.uri().host().unwrap_or_default();
        if !mapping.allows_host(host) {
            return Err(Error::HostNotAllowed {
                name: mapping.secret_name.clone(),
                host: host.to_owned(),
            });
        }
        let value = self.get(namespace, &mapping.secret_name)?;
        apply_credential(request, &mapping.secret_name, &mapping.location, &value)
    }
}

/// Places `value` at `location` in `request`, replacing whatever was there.
/// `name` is the secret's name, used only in errors.
pub fn apply_credential<B>(
    request: &mut http::Request<B>,
    name: &str,
    location: &CredentialLocation,
    value: &SecretValue,
) -> Result<()> {
    let invalid = |reason: &str| Error::Injection {
        name: name.to_owned(),
        reason: reason.to_owned(),
    };
    match location {
        CredentialLocation::Bearer => {
            let mut text = Zeroizing::new(b"Bearer ".to_vec());
            text.extend_from_slice(value.expose());
            set_header(request, AUTHORIZATION, &text)
                .map_err(|()| invalid("the value is not a valid header value"))
        }
        CredentialLocation::Basic { username } => {
            if username.contains(':') || username.chars().any(char::is_control) {
                return Err(invalid(
                    "the basic-auth username contains ':' or a control character",
                ));
            }
            let mut pair = Zeroizing::new(format!("{username}:").into_bytes());
            pair.extend_from_slice(value.expose());
            let mut text = Zeroizing::new(b"Basic ".to_vec());
            text.extend_from_slice(
                base64::engine::general_purpose::STANDARD
                    .encode(&*pair)
                    .as_bytes(),
            );
            set_header(request, AUTHORIZATION, &text)
                .map_err(|()| invalid("the value is not a valid header value"))
        }
        CredentialLocation::Header { name: header } => {
            let header_name = HeaderName::from_bytes(header.as_bytes())
                .map_err(|_| invalid(&format!("{header:?} is not a valid header name")))?;
            if FORBIDDEN_HEADERS.contains(&header_name.as_str())
                || header_name.as_str().starts_with("proxy-")
            {
                return Err(invalid(&format!(
                    "a credential may not be written to the {header_name} header"
                )));
            }
            set_header(request, header_name, value.expose())
                .map_err(|()| invalid("the value is not a valid header value"))
        }
        CredentialLocation::Query { param } => {
            if param.is_empty() {
                return Err(invalid("the query parameter name is empty"));
            }
            set_query(request, param, value).map_err(invalid)
        }
    }
}

fn set_header<B>(request: &mut http::Request<B>, name: HeaderName, value: &[u8]) -> Result<(), ()> {
    // HeaderValue rejects CR, LF and NUL, so a value cannot add a header.
    let mut header = HeaderValue::from_bytes(value).map_err(|_| ())?;
    header.set_sensitive(true);
    // `insert` removes every existing value of the name; names are
    // case-insensitive in `HeaderMap`.
    request.headers_mut().insert(name, header);
    Ok(())
}

fn set_query<B>(
    request: &mut http::Request<B>,
    param: &str,
    value: &SecretValue,
) -> Result<(), &'static str> {
    let uri = request.uri().clone();
    let path = uri.path();
    let wanted = param.to_lowercase();
    let mut query = String::new();
    if let Some(existing) = uri.query() {
        for pair in existing.split('&').filter(|pair| !pair.is_empty()) {
            let key = pair.split('=').next().unwrap_or_default();
            let decoded = percent_decode_str(&key.replace('+', " "))
                .decode_utf8_lossy()
                .to_lowercase();
            if decoded == wanted {
                continue;
            }
            query.push_str(pair);
            query.push('&');
        }
    }
    let encoded_name = utf8_percent_encode(param, QUERY_VALUE).to_string();
    let encoded_value =
        Zeroizing::new(percent_encoding::percent_encode(value.expose(), QUERY_VALUE).to_string());
    let mut path_and_query = Zeroizing::new(format!("{path}?{query}{encoded_name}="));
    path_and_query.push_str(&encoded_value);
    let mut parts = uri.into_parts();
    parts.path_and_query = Some(
        PathAndQuery::try_from(path_and_query.as_str())
            .map_err(|_| "the request path cannot carry a query")?,
    );
    *request.uri_mut() = Uri::from_parts(parts).map_err(|_| "the request uri cannot be rebuilt")?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(uri: &str, headers: &[(&str, &str)]) -> http::Request<()> {
        let mut builder = http::Request::builder().uri(uri);
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        builder.body(()).unwrap()
    }

    fn check(
        uri: &str,
        headers: &[(&str, &str)],
        location: CredentialLocation,
        value: &str,
        expected_uri: &str,
        expected_headers: &[(&str, &str)],
    ) {
        let mut req = request(uri, headers);
        apply_credential(&mut req, "token", &location, &SecretValue::from(value)).unwrap();
        assert_eq!(req.uri().to_string(), expected_uri, "uri for {location:?}");
        let mut actual: Vec<(String, String)> = req
            .headers()
            .iter()
            .map(|(n, v)| {
                (
                    n.as_str().to_owned(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect();
        actual.sort();
        let mut expected: Vec<(String, String)> = expected_headers
            .iter()
            .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
            .collect();
        expected.sort();
        assert_eq!(actual, expected, "headers for {location:?}");
    }

    fn header(name: &str) -> CredentialLocation {
        CredentialLocation::Header {
            name: name.to_owned(),
        }
    }

    fn query(param: &str) -> CredentialLocation {
        CredentialLocation::Query {
            param: param.to_owned(),
        }
    }

    #[test]
    fn locations() {
        let u = "https://api.example.com/v1/x";
        check(
            u,
            &[],
            CredentialLocation::Bearer,
            "tok",
            u,
            &[("authorization", "Bearer tok")],
        );
        check(
            u,
            &[
                ("Authorization", "Bearer evil"),
                ("authorization", "Basic x"),
            ],
            CredentialLocation::Bearer,
            "tok",
            u,
            &[("authorization", "Bearer tok")],
        );
        check(
            u,
            &[("AUTHORIZATION", "Bearer evil")],
            CredentialLocation::Basic {
                username: "bob".into(),
            },
            "pw",
            u,
            &[("authorization", "Basic Ym9iOnB3")],
        );
        check(
            u,
            &[("X-Api-Key", "mine"), ("x-api-key", "again")],
            header("X-API-KEY"),
            "k",
            u,
            &[("x-api-key", "k")],
        );
        check(
            u,
            &[("x-other", "keep")],
            header("x-api-key"),
            "k",
            u,
            &[("x-api-key", "k"), ("x-other", "keep")],
        );
        check(
            u,
            &[],
            query("api_key"),
            "a b&c=d/é",
            "https://api.example.com/v1/x?api_key=a%20b%26c%3Dd%2F%C3%A9",
            &[],
        );
        check(
            "https://h.example/p?api_key=old&x=1&API_KEY=two&api%5Fkey=three&api+key=4",
            &[],
            query("api_key"),
            "v",
            "https://h.example/p?x=1&api+key=4&api_key=v",
            &[],
        );
        check(
            "https://h.example/p?a=1&&b=2",
            &[],
            query("k"),
            "v",
            "https://h.example/p?a=1&b=2&k=v",
            &[],
        );
        check(
            "https://h.example/p?",
            &[],
            query("k e"),
            "v",
            "https://h.example/p?k%20e=v",
            &[],
        );
    }

    fn check_error(location: CredentialLocation, value: &[u8], fragment: &str) {
        let mut req = request("https://h.example/", &[]);
        let err = apply_credential(
            &mut req,
            "token",
            &location,
            &SecretValue::new(value.to_vec()),
        )
        .unwrap_err();
        let message = err.to_string();
        assert!(message.contains(fragment), "{message}");
        assert!(message.contains("\"token\""), "{message}");
        if value.len() > 3 {
            assert!(
                !message.contains(&*String::from_utf8_lossy(value)),
                "{message}"
            );
        }
        assert!(req.headers().is_empty());
    }

    #[test]
    fn refusals_name_the_secret_not_the_value() {
        check_error(
            CredentialLocation::Bearer,
            b"abc\r\nX-Evil: 1",
            "not a valid header value",
        );
        check_error(
            CredentialLocation::Bearer,
            b"abc\0def",
            "not a valid header value",
        );
        check_error(header("x-key"), b"line\nbreak", "not a valid header value");
        check_error(
            CredentialLocation::Basic {
                username: "a:b".into(),
            },
            b"pw-secret",
            "username",
        );
        check_error(header("bad header"), b"value-1", "not a valid header name");
        for forbidden in [
            "Host",
            "content-length",
            "Transfer-Encoding",
            "proxy-authorization",
            "cookie",
        ] {
            check_error(header(forbidden), b"value-1", "may not be written");
        }
        check_error(query(""), b"value-1", "empty");
    }

    #[test]
    fn host_patterns() {
        let mapping = |patterns: &[&str]| CredentialMapping {
            secret_name: "t".into(),
            location: CredentialLocation::Bearer,
            host_patterns: patterns.iter().map(|p| (*p).to_owned()).collect(),
        };
        let cases: &[(&[&str], &str, bool)] = &[
            (&["api.github.com"], "api.github.com", true),
            (&["api.github.com"], "API.GitHub.com.", true),
            (&["api.github.com"], "evil-api.github.com", false),
            (&["api.github.com"], "api.github.com.evil.com", false),
            (&["*.example.com"], "a.example.com", true),
            (&["*.example.com"], "a.b.example.com", true),
            (&["*.example.com"], "example.com", false),
            (&["*.example.com"], "badexample.com", false),
            (&["*."], "example.com", false),
            (&[], "api.github.com", false),
            (&["api.github.com"], "", false),
        ];
        for (patterns, host, expected) in cases {
            assert_eq!(
                mapping(patterns).allows_host(host),
                *expected,
                "{patterns:?} {host}"
            );
        }
    }

    #[test]
    fn mapping_parses_capabilities_shape() {
        let json = r#"{ "secret_name": "github_token", "location": { "type": "basic", "username": "me" }, "host_patterns": ["api.github.com"] }"#;
        let mapping: CredentialMapping = serde_json::from_str(json).unwrap();
        assert_eq!(
            mapping.location,
            CredentialLocation::Basic {
                username: "me".into()
            }
        );
        for bad in [
            r#"{ "secret_name": "x", "location": { "type": "cookie" } }"#,
            r#"{ "secret_name": "x", "location": { "type": "header" } }"#,
            r#"{ "secret_name": "x", "location": { "type": "query", "name": "p" } }"#,
        ] {
            assert!(
                serde_json::from_str::<CredentialMapping>(bad).is_err(),
                "{bad}"
            );
        }
    }
}
