//! Job identities: who is talking to the proxy, proven by a per-job token.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, RwLock};

use base64::Engine as _;
use http::HeaderMap;
use http::header::PROXY_AUTHORIZATION;
use ring::digest::{SHA256, digest};
use subtle::ConstantTimeEq;

use crate::error::ProxyError;
use crate::job::JobState;

/// A job's bearer token for the proxy. Debug and Display never show it.
#[derive(Clone)]
pub struct JobToken(Arc<str>);

impl JobToken {
    /// Shortest token accepted from a caller, in bytes.
    pub const MIN_LEN: usize = 16;

    /// Wraps a token chosen by the caller (for example the orchestrator's per-job
    /// token). Refused: an empty token, one shorter than [`JobToken::MIN_LEN`] bytes
    /// (guessable), one with white space at either end (a client's header would never
    /// match it) or with control characters (it could not be sent in a header).
    pub fn new(token: impl Into<String>) -> Result<Self, ProxyError> {
        let token = token.into();
        let bad = |reason| Err(ProxyError::InvalidToken { reason });
        if token.trim().is_empty() {
            return bad("a job token must not be empty or white space");
        }
        if token.trim() != token {
            return bad("a job token must not start or end with white space");
        }
        if token.chars().any(char::is_control) {
            return bad("a job token must not contain control characters");
        }
        if token.len() < Self::MIN_LEN {
            return bad("a job token must be at least 16 bytes");
        }
        Ok(Self(Arc::from(token)))
    }

    /// A fresh random token: 32 bytes from the operating system's generator, hex encoded.
    pub fn generate() -> Result<Self, ProxyError> {
        use ring::rand::SecureRandom as _;
        let mut bytes = [0u8; 32];
        ring::rand::SystemRandom::new()
            .fill(&mut bytes)
            .map_err(|_| ProxyError::Random)?;
        let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        Ok(Self(Arc::from(hex)))
    }

    /// The token text, for handing to the job (its `HTTP_PROXY` URL). Never log it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    fn fingerprint(&self) -> [u8; 32] {
        fingerprint(self.0.as_bytes())
    }
}

impl fmt::Debug for JobToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("JobToken([REDACTED])")
    }
}

impl fmt::Display for JobToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[REDACTED]")
    }
}

fn fingerprint(token: &[u8]) -> [u8; 32] {
    let mut out = [0u8; 32];
    out.copy_from_slice(digest(&SHA256, token).as_ref());
    out
}

/// The token a request presents in `Proxy-Authorization`: `Basic` (the password is the
/// token; the user name is ignored, so `http://job:TOKEN@proxy:port` works for every
/// client) or `Bearer TOKEN`.
pub(crate) fn presented_token(headers: &HeaderMap) -> Option<Vec<u8>> {
    let mut values = headers.get_all(PROXY_AUTHORIZATION).iter();
    let value = values.next()?;
    if values.next().is_some() {
        // Two credentials on one request: ambiguous, refuse.
        return None;
    }
    let value = value.to_str().ok()?.trim();
    let (scheme, rest) = value.split_once(' ')?;
    let rest = rest.trim();
    let token = if scheme.eq_ignore_ascii_case("bearer") {
        rest.as_bytes().to_vec()
    } else if scheme.eq_ignore_ascii_case("basic") {
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(rest)
            .ok()?;
        let colon = decoded.iter().position(|&b| b == b':')?;
        decoded[colon + 1..].to_vec()
    } else {
        return None;
    };
    // An empty or blank token never authenticates, whatever is registered.
    if token.iter().all(u8::is_ascii_whitespace) {
        return None;
    }
    Some(token)
}

/// Every job the proxy knows, by token fingerprint.
///
/// Lookup hashes the presented token with SHA-256 and then compares the fingerprint in
/// constant time, so neither the map lookup nor the comparison reveals how much of a
/// guessed token was right.
#[derive(Debug, Default)]
pub(crate) struct JobRegistry {
    jobs: RwLock<HashMap<[u8; 32], Arc<JobState>>>,
}

impl JobRegistry {
    pub(crate) fn insert(&self, token: &JobToken, job: Arc<JobState>) {
        let mut jobs = self.jobs.write().unwrap_or_else(|e| e.into_inner());
        jobs.insert(token.fingerprint(), job);
    }

    /// Removes every token of the job; returns the states removed.
    pub(crate) fn remove_job(&self, job_id: &str) -> Vec<Arc<JobState>> {
        let mut jobs = self.jobs.write().unwrap_or_else(|e| e.into_inner());
        let mut removed = Vec::new();
        jobs.retain(|_, job| {
            let keep = job.id() != job_id;
            if !keep {
                removed.push(Arc::clone(job));
            }
            keep
        });
        removed
    }

    pub(crate) fn authenticate(&self, presented: &[u8]) -> Option<Arc<JobState>> {
        let wanted = fingerprint(presented);
        let jobs = self.jobs.read().unwrap_or_else(|e| e.into_inner());
        let (stored, job) = jobs.get_key_value(&wanted)?;
        bool::from(stored.ct_eq(&wanted)).then(|| Arc::clone(job))
    }

    pub(crate) fn find(&self, job_id: &str) -> Option<Arc<JobState>> {
        let jobs = self.jobs.read().unwrap_or_else(|e| e.into_inner());
        jobs.values().find(|job| job.id() == job_id).cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn token_of(value: &str) -> Option<Vec<u8>> {
        let mut headers = HeaderMap::new();
        headers.insert(PROXY_AUTHORIZATION, HeaderValue::from_str(value).unwrap());
        presented_token(&headers)
    }

    #[test]
    fn tokens_are_read_from_basic_and_bearer() {
        let basic = base64::engine::general_purpose::STANDARD.encode("job-1:s3cret:with:colons");
        assert_eq!(
            token_of(&format!("Basic {basic}")).unwrap(),
            b"s3cret:with:colons"
        );
        assert_eq!(
            token_of(&format!("basic  {basic}")).unwrap(),
            b"s3cret:with:colons"
        );
        assert_eq!(token_of("Bearer abc").unwrap(), b"abc");
        assert_eq!(token_of("Digest abc"), None);
        assert_eq!(token_of("Basic not-base64!"), None);
        let no_colon = base64::engine::general_purpose::STANDARD.encode("justuser");
        assert_eq!(token_of(&format!("Basic {no_colon}")), None);
    }

    #[test]
    fn two_credentials_are_refused() {
        let mut headers = HeaderMap::new();
        headers.append(PROXY_AUTHORIZATION, HeaderValue::from_static("Bearer a"));
        headers.append(PROXY_AUTHORIZATION, HeaderValue::from_static("Bearer b"));
        assert_eq!(presented_token(&headers), None);
    }

    #[test]
    fn blank_tokens_are_never_presented() {
        for header in [
            "Bearer  ",
            "Basic Og==",
            "Basic am9iOg==",
            "Basic am9iOiAgIA==",
        ] {
            assert_eq!(token_of(header), None, "{header}");
        }
    }

    #[test]
    fn tokens_never_print() {
        let token = JobToken::new("super-secret-token").unwrap();
        assert!(!format!("{token:?} {token}").contains("super-secret"));
        let generated = JobToken::generate().unwrap();
        assert_eq!(generated.expose().len(), 64);
    }
}
