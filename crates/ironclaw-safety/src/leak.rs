//! The leak detector: registered secrets (raw and encoded) plus built-in credential
//! formats, one-shot and streaming, with redaction and a caller-applied policy.

use std::fmt;
use std::ops::Range;

use regex::bytes::{Regex, RegexBuilder};

use crate::encode::{SecretEncoding, variants};
use crate::gram::{self, AnchorSampler, GramSet};
use crate::patterns::{BUILTIN, Check, PatternSpec, plausible};
use crate::{SafetyError, Severity};

/// Registered secrets shorter than this many bytes are refused: they would match
/// ordinary text.
pub const MIN_SECRET_LEN: usize = 8;

/// Anchors shorter than a gram are entered with every byte that may follow them; for
/// two-byte anchors (`SK`, `Q~`) those are the token characters their patterns
/// require next (at least two).
const TOKEN_BYTES: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-.~+/=";
/// Most registered-secret gram offsets per encoded form (bounds the sampling step).
const MAX_STEP: usize = 32;
/// Most gram entries for registered secrets; beyond it the sampling step shrinks.
const MAX_SECRET_GRAMS: usize = 4 << 20;

/// Kind name of a finding that matched a registered secret.
pub const KNOWN_SECRET: &str = "known_secret";

/// One detected leak. It holds the kind, the byte span and a masked preview, never
/// the matched value, so it is safe to log, print and serialize.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeakFinding {
    kind: &'static str,
    severity: Severity,
    span: Range<usize>,
    preview: String,
    encoding: Option<SecretEncoding>,
    secret_index: Option<usize>,
}

impl LeakFinding {
    /// Stable kind name, for example `aws_access_key_id`, `github_pat_classic`,
    /// `jwt`, `pem_private_key`, `url_password` or [`KNOWN_SECRET`].
    pub fn kind(&self) -> &'static str {
        self.kind
    }
    /// How serious the exposure is.
    pub fn severity(&self) -> Severity {
        self.severity
    }
    /// Byte offsets of the secret in the scanned text (absolute stream offsets for
    /// [`LeakStream`]). For valid UTF-8 input both ends are char boundaries.
    pub fn span(&self) -> Range<usize> {
        self.span.clone()
    }
    /// A masked preview such as `ghp_****` or `****`; it never contains more than a
    /// public format prefix.
    pub fn preview(&self) -> &str {
        &self.preview
    }
    /// For a registered secret, how it was encoded in the text.
    pub fn encoding(&self) -> Option<SecretEncoding> {
        self.encoding
    }
    /// For a registered secret, its position in registration order.
    pub fn secret_index(&self) -> Option<usize> {
        self.secret_index
    }
}

impl fmt::Display for LeakFinding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} ({}) at bytes {}..{}: {}",
            self.kind, self.severity, self.span.start, self.span.end, self.preview
        )
    }
}

/// What the caller does when a leak is found (the seed's three actions). The
/// detector only reports; the caller applies the action and writes the audit record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LeakAction {
    /// Refuse to send or return the content (default: fail closed).
    #[default]
    Block,
    /// Let the content pass and record a security event.
    Log,
    /// Return an error to the caller that asked for the transfer.
    Error,
}

impl LeakAction {
    /// The stable lowercase name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Block => "block",
            Self::Log => "log",
            Self::Error => "error",
        }
    }
}

/// Builds a [`LeakDetector`]. Built-in patterns are on by default.
///
/// ```
/// let detector = ironclaw_safety::LeakDetector::builder()
///     .known_secret("hunter2-but-longer")
///     .build()?;
/// assert!(!detector.scan(b"token=aHVudGVyMi1idXQtbG9uZ2Vy").is_empty());
/// # Ok::<(), ironclaw_safety::SafetyError>(())
/// ```
#[derive(Default)]
pub struct LeakDetectorBuilder {
    secrets: Vec<Vec<u8>>,
    builtin: bool,
    action: LeakAction,
}

impl fmt::Debug for LeakDetectorBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LeakDetectorBuilder")
            .field("secrets", &self.secrets.len())
            .field("builtin", &self.builtin)
            .field("action", &self.action)
            .finish()
    }
}

impl LeakDetectorBuilder {
    /// Registers one secret value; it is matched raw and in its common encodings.
    /// Values shorter than [`MIN_SECRET_LEN`] make [`build`](Self::build) fail.
    pub fn known_secret(mut self, value: impl AsRef<[u8]>) -> Self {
        self.secrets.push(value.as_ref().to_vec());
        self
    }
    /// Registers many secret values.
    pub fn known_secrets<I, S>(mut self, values: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<[u8]>,
    {
        self.secrets
            .extend(values.into_iter().map(|v| v.as_ref().to_vec()));
        self
    }
    /// Turns the built-in credential patterns on or off (default on; off leaves only
    /// registered secrets, which removes pattern false positives and cost).
    pub fn builtin_patterns(mut self, on: bool) -> Self {
        self.builtin = on;
        self
    }
    /// The action callers should apply when something is found (default `Block`).
    pub fn action(mut self, action: LeakAction) -> Self {
        self.action = action;
        self
    }
    /// Compiles the matchers. The registered values are kept only inside the
    /// matcher; the detector's `Debug` output shows counts only.
    pub fn build(self) -> Result<LeakDetector, SafetyError> {
        LeakDetector::compile(self)
    }
}

/// One pattern anchor, lower case (matched case-insensitively; the regex decides).
struct Anchor {
    bytes: Vec<u8>,
    pattern: usize,
}

struct Variant {
    bytes: Vec<u8>,
    secret: usize,
    encoding: SecretEncoding,
}

struct Compiled {
    spec: &'static PatternSpec,
    regex: Regex,
}

/// Scans bytes for leaked credentials. Cheap to share (`&self` everywhere).
pub struct LeakDetector {
    anchors: Vec<Anchor>,
    /// The sampled prefilter over every anchor (value: the anchor's index).
    anchor_grams: Option<AnchorSampler>,
    variants: Vec<Variant>,
    /// Grams of the registered secrets' forms → `variant << 5 | offset`.
    secret_grams: Option<GramSet>,
    secret_q: usize,
    secret_step: usize,
    patterns: Vec<Compiled>,
    window: usize,
    action: LeakAction,
}

impl fmt::Debug for LeakDetector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LeakDetector")
            .field("variants", &self.variants.len())
            .field("patterns", &self.patterns.len())
            .field("window", &self.window)
            .field("action", &self.action)
            .finish_non_exhaustive()
    }
}

#[derive(Debug)]
struct Candidate {
    start: usize,
    end: usize,
    rank: usize,
    kind: &'static str,
    severity: Severity,
    encoding: Option<SecretEncoding>,
    secret: Option<usize>,
    public_prefix: usize,
}

impl LeakDetector {
    /// A builder with built-in patterns on and no registered secrets.
    pub fn builder() -> LeakDetectorBuilder {
        LeakDetectorBuilder {
            builtin: true,
            ..LeakDetectorBuilder::default()
        }
    }

    /// A detector with the built-in patterns only.
    pub fn with_builtin_patterns() -> Result<Self, SafetyError> {
        Self::builder().build()
    }

    fn compile(b: LeakDetectorBuilder) -> Result<Self, SafetyError> {
        let mut anchors: Vec<Anchor> = Vec::new();
        let mut patterns = Vec::new();
        let mut window = 0usize;
        if b.builtin {
            for spec in BUILTIN {
                let regex = RegexBuilder::new(spec.regex)
                    .size_limit(64 << 20)
                    .build()
                    .map_err(|e| SafetyError::Build {
                        what: "leak pattern",
                        source: Box::new(e),
                    })?;
                let id = patterns.len();
                patterns.push(Compiled { spec, regex });
                window = window.max(spec.back + spec.fwd + 2);
                for anchor in spec.anchors {
                    let bytes = anchor.to_ascii_lowercase().into_bytes();
                    if !anchors.iter().any(|a| a.pattern == id && a.bytes == bytes) {
                        anchors.push(Anchor { bytes, pattern: id });
                    }
                }
            }
        }
        let anchor_grams = (!anchors.is_empty()).then(|| {
            AnchorSampler::new(gram::sampler_entries(
                anchors.iter().map(|a| a.bytes.as_slice()),
                TOKEN_BYTES,
            ))
        });
        let mut variants_out: Vec<Variant> = Vec::new();
        for (index, secret) in b.secrets.iter().enumerate() {
            if secret.len() < MIN_SECRET_LEN {
                return Err(SafetyError::SecretTooShort {
                    index,
                    min: MIN_SECRET_LEN,
                });
            }
            for (bytes, encoding) in variants(secret) {
                window = window.max(bytes.len() + 2);
                variants_out.push(Variant {
                    bytes,
                    secret: index,
                    encoding,
                });
            }
        }
        // Every form is at least MIN_SECRET_LEN (8) bytes long (see `encode`).
        let min_len = variants_out
            .iter()
            .map(|v| v.bytes.len())
            .min()
            .unwrap_or(MIN_SECRET_LEN)
            .max(MIN_SECRET_LEN);
        let secret_q = if min_len >= 16 { 8 } else { 4 };
        let budget = (MAX_SECRET_GRAMS / variants_out.len().max(1)).max(1);
        let secret_step = (min_len - secret_q + 1).min(MAX_STEP).min(budget);
        let secret_grams = (!variants_out.is_empty()).then(|| {
            let mut entries = Vec::with_capacity(variants_out.len() * secret_step);
            for (vid, v) in variants_out.iter().enumerate() {
                for offset in 0..secret_step {
                    let gram = gram::pack(&v.bytes[offset..offset + secret_q]);
                    entries.push((gram, (vid as u32) << 5 | offset as u32));
                }
            }
            GramSet::new(entries)
        });
        Ok(Self {
            anchors,
            anchor_grams,
            variants: variants_out,
            secret_grams,
            secret_q,
            secret_step,
            patterns,
            window: window.max(1),
            action: b.action,
        })
    }

    /// The action callers should apply to content with findings.
    pub fn action(&self) -> LeakAction {
        self.action
    }

    /// The longest match the detector can report, in bytes. A streaming scan keeps
    /// this many bytes of look-behind and look-ahead, so any match of at most this
    /// length is found whatever the chunking.
    pub fn max_match_len(&self) -> usize {
        self.window
    }

    /// Scans one whole text. Findings are ordered by start and never overlap.
    pub fn scan(&self, text: &[u8]) -> Vec<LeakFinding> {
        let mut last_end = 0;
        self.scan_range(text, 0, 0..text.len(), &mut last_end)
    }

    /// Scans a `&str`; same as [`scan`](Self::scan).
    pub fn scan_str(&self, text: &str) -> Vec<LeakFinding> {
        self.scan(text.as_bytes())
    }

    /// Applies the policy: `Ok(findings)` when the content may pass (nothing found,
    /// or action `Log`, where the caller records the findings), and an error for
    /// `Block` and `Error`. Callers that must distinguish those two branch on
    /// [`action`](Self::action).
    pub fn check(&self, text: &[u8]) -> Result<Vec<LeakFinding>, SafetyError> {
        let findings = self.scan(text);
        if findings.is_empty() || self.action == LeakAction::Log {
            return Ok(findings);
        }
        let mut kinds: Vec<&str> = findings.iter().map(LeakFinding::kind).collect();
        kinds.dedup();
        Err(SafetyError::LeakDetected {
            kinds: kinds.join(","),
        })
    }

    /// Returns `text` with every finding replaced by `[REDACTED:<kind>]`.
    pub fn redact(&self, text: &str) -> String {
        let findings = self.scan(text.as_bytes());
        let mut out = String::with_capacity(text.len());
        let mut at = 0;
        for f in &findings {
            let span = f.span();
            // Spans are char boundaries for str input; guard anyway (fail closed:
            // widen to the enclosing boundaries).
            let mut s = span.start;
            while !text.is_char_boundary(s) {
                s -= 1;
            }
            let mut e = span.end;
            while !text.is_char_boundary(e) {
                e += 1;
            }
            if s < at {
                s = at;
            }
            out.push_str(&text[at..s]);
            out.push_str("[REDACTED:");
            out.push_str(f.kind());
            out.push(']');
            at = e.max(at);
        }
        out.push_str(&text[at..]);
        out
    }

    /// Starts a streaming scan (for proxies and container output).
    pub fn stream(&self) -> LeakStream<'_> {
        LeakStream {
            detector: self,
            buf: Vec::new(),
            base: 0,
            committed: 0,
            last_end: 0,
        }
    }

    /// Finds all candidates in `hay` (whose first byte is at absolute offset `base`)
    /// and keeps those starting in `keep` (absolute), resolving overlaps greedily
    /// left to right against `last_end`.
    fn scan_range(
        &self,
        hay: &[u8],
        base: usize,
        keep: Range<usize>,
        last_end: &mut usize,
    ) -> Vec<LeakFinding> {
        let cands = self.candidates(hay, false);
        self.resolve(hay, base, keep, last_end, cands)
    }

    /// Every candidate match in `hay`. `exhaustive` skips the prefilters and tries
    /// every registered form and every anchor at every position (the reference the
    /// tests hold the prefilters to).
    fn candidates(&self, hay: &[u8], exhaustive: bool) -> Vec<Candidate> {
        let mut cands: Vec<Candidate> = Vec::new();
        let mut on_form = |start: usize, vid: usize| {
            let v = &self.variants[vid];
            if hay.get(start..start + v.bytes.len()) == Some(v.bytes.as_slice()) {
                cands.push(Candidate {
                    start,
                    end: start + v.bytes.len(),
                    rank: 0,
                    kind: KNOWN_SECRET,
                    severity: Severity::Critical,
                    encoding: Some(v.encoding),
                    secret: Some(v.secret),
                    public_prefix: 0,
                });
            }
        };
        if exhaustive {
            for start in 0..hay.len() {
                for vid in 0..self.variants.len() {
                    on_form(start, vid);
                }
            }
        } else if let Some(set) = &self.secret_grams {
            gram::sampled_hits(set, hay, self.secret_q, self.secret_step, |at, value| {
                if let Some(start) = at.checked_sub((value & 31) as usize) {
                    on_form(start, (value >> 5) as usize);
                }
            });
        }
        {
            let mut evaluated: Vec<(usize, usize)> = Vec::new();
            let mut on_anchor = |h: usize, index: usize| {
                let anchor = &self.anchors[index];
                let found = hay
                    .get(h..h + anchor.bytes.len())
                    .is_some_and(|w| w.eq_ignore_ascii_case(&anchor.bytes));
                if !found || evaluated.contains(&(anchor.pattern, h)) {
                    return;
                }
                evaluated.push((anchor.pattern, h));
                if evaluated.len() > 64 {
                    evaluated.drain(..32);
                }
                self.eval_pattern(anchor.pattern, hay, h, &mut cands);
            };
            if exhaustive {
                for h in 0..hay.len() {
                    for index in 0..self.anchors.len() {
                        on_anchor(h, index);
                    }
                }
            } else if let Some(set) = &self.anchor_grams {
                set.hits(hay, |start, value| on_anchor(start, value as usize));
            }
        }
        cands
    }

    /// Orders the candidates and keeps those starting in `keep` (absolute), resolving
    /// overlaps greedily left to right against `last_end`.
    fn resolve(
        &self,
        hay: &[u8],
        base: usize,
        keep: Range<usize>,
        last_end: &mut usize,
        mut cands: Vec<Candidate>,
    ) -> Vec<LeakFinding> {
        // Left to right; at one start a registered secret wins over a pattern (it is
        // the more exact finding), then the longer match.
        cands.sort_by(|a, b| {
            a.start
                .cmp(&b.start)
                .then((a.rank > 0).cmp(&(b.rank > 0)))
                .then(b.end.cmp(&a.end))
                .then(a.rank.cmp(&b.rank))
        });
        let mut out = Vec::new();
        for c in cands {
            let (start, end) = (c.start + base, c.end + base);
            if !keep.contains(&start) || start < *last_end {
                continue;
            }
            *last_end = end;
            out.push(LeakFinding {
                kind: c.kind,
                severity: c.severity,
                span: start..end,
                preview: preview(&hay[c.start..c.end], c.public_prefix),
                encoding: c.encoding,
                secret_index: c.secret,
            });
        }
        out
    }

    fn eval_pattern(&self, pid: usize, hay: &[u8], h: usize, cands: &mut Vec<Candidate>) {
        let Compiled { spec, regex } = &self.patterns[pid];
        let from = h.saturating_sub(spec.back);
        let to = hay.len().min(h + spec.fwd + 1);
        let window = &hay[..to];
        let mut pos = from;
        while pos <= to {
            let Some(caps) = regex.captures_at(window, pos) else {
                break;
            };
            let Some(whole) = caps.get(0) else { break };
            if whole.end() <= h {
                pos = if whole.end() > whole.start() {
                    whole.end()
                } else {
                    whole.end() + 1
                };
                continue;
            }
            if whole.start() > h {
                break;
            }
            let secret = ["s", "s2", "s3", "s4"]
                .iter()
                .find_map(|n| caps.name(n))
                .unwrap_or(whole);
            if plausible(spec.check, secret.as_bytes())
                && !self.is_public(spec, hay, whole.start(), &secret)
                && (spec.check != Check::Pem || pem_complete(hay, &secret))
            {
                let public_prefix = if spec.public_prefix && secret.start() == h {
                    spec.anchors
                        .iter()
                        .find(|a| hay[h..].starts_with(a.as_bytes()))
                        .map_or(0, |a| a.len())
                } else {
                    0
                };
                cands.push(Candidate {
                    start: secret.start(),
                    end: secret.end(),
                    rank: 1 + pid,
                    kind: spec.kind,
                    severity: spec.severity,
                    encoding: None,
                    secret: None,
                    public_prefix,
                });
            }
            break;
        }
    }

    /// Context that marks a match as public material rather than a credential: a
    /// data URI, or a key that says so (`publicToken`, `csrf_token`: sent to every
    /// browser, not secrets). A UUID or hex value under a secret key is kept: API
    /// keys in those shapes are common (Heroku, Snyk, npm's legacy tokens).
    fn is_public(
        &self,
        spec: &PatternSpec,
        hay: &[u8],
        match_start: usize,
        secret: &regex::bytes::Match<'_>,
    ) -> bool {
        if spec.check != Check::FreeForm {
            return false;
        }
        let key = hay[match_start..secret.start()].to_ascii_lowercase();
        let public_key = ["public", "csrf", "xsrf"]
            .iter()
            .any(|w| memchr::memmem::find(&key, w.as_bytes()).is_some());
        public_key || hay[..secret.start()].ends_with(b"data:")
    }
}

/// A PEM block with its END line needs a body (`-----BEGIN ... KEY-----` around
/// `anything` or nothing is documentation); a block cut off before its END line is
/// reported, as is an END line alone never is.
fn pem_complete(hay: &[u8], secret: &regex::bytes::Match<'_>) -> bool {
    let v = secret.as_bytes();
    if hay[secret.end()..].starts_with(b"-----END") {
        return false;
    }
    let Some(end) = memchr::memmem::find(v, b"-----END") else {
        return true;
    };
    let header_end = v
        .windows(5)
        .enumerate()
        .skip(10)
        .find(|(_, w)| *w == b"-----")
        .map_or(0, |(i, _)| i + 5);
    let body = &v[header_end.min(end)..end];
    body.iter().filter(|b| !b.is_ascii_whitespace()).count() >= 16
}

fn preview(matched: &[u8], public_prefix: usize) -> String {
    let shown = &matched[..public_prefix.min(matched.len())];
    let mut out = String::from_utf8_lossy(shown).into_owned();
    out.push_str("****");
    out
}

/// A streaming scan: feed chunks with [`push`](Self::push), then call
/// [`finish`](Self::finish). Findings use absolute byte offsets in the stream.
///
/// Bound: a match of at most [`LeakDetector::max_match_len`] bytes is found no
/// matter where chunk boundaries fall, and the findings of a stream equal those of a
/// one-shot [`LeakDetector::scan`] of the concatenated input. The stream buffers at
/// most about twice that window plus one scan block.
pub struct LeakStream<'d> {
    detector: &'d LeakDetector,
    buf: Vec<u8>,
    base: usize,
    committed: usize,
    last_end: usize,
}

impl fmt::Debug for LeakStream<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LeakStream")
            .field("buffered", &self.buf.len())
            .field("base", &self.base)
            .field("committed", &self.committed)
            .finish_non_exhaustive()
    }
}

/// Bytes accumulated beyond the window before a scan pass runs.
const STREAM_BLOCK: usize = 64 * 1024;

impl LeakStream<'_> {
    /// Feeds the next chunk; returns the findings that are now final.
    pub fn push(&mut self, chunk: &[u8]) -> Vec<LeakFinding> {
        self.buf.extend_from_slice(chunk);
        let w = self.detector.window;
        let end = self.base + self.buf.len();
        if end < self.committed + 2 * w + STREAM_BLOCK {
            return Vec::new();
        }
        let limit = end - w;
        let found = self.detector.scan_range(
            &self.buf,
            self.base,
            self.committed..limit,
            &mut self.last_end,
        );
        self.committed = limit;
        let new_base = limit - w;
        if new_base > self.base {
            self.buf.drain(..new_base - self.base);
            self.base = new_base;
        }
        found
    }

    /// Ends the stream; returns the remaining findings.
    pub fn finish(mut self) -> Vec<LeakFinding> {
        let end = self.base + self.buf.len();
        self.detector.scan_range(
            &self.buf,
            self.base,
            self.committed..end.max(self.committed),
            &mut self.last_end,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn findings(d: &LeakDetector, hay: &[u8], exhaustive: bool) -> Vec<LeakFinding> {
        let mut last_end = 0;
        d.resolve(
            hay,
            0,
            0..hay.len(),
            &mut last_end,
            d.candidates(hay, exhaustive),
        )
    }

    #[test]
    fn anchors_are_long_enough_for_the_sampler() {
        // Two-byte anchors are completed with two of TOKEN_BYTES: only these two
        // are vetted (their patterns require at least two token characters next). A shorter or a new
        // two-byte anchor needs the same review.
        for spec in BUILTIN {
            for a in spec.anchors {
                assert!(
                    a.len() >= 3 || ["SK", "Q~"].contains(a),
                    "{}: {a:?}",
                    spec.kind
                );
            }
        }
    }

    /// The prefilters (sampled anchor grams, sampled secret grams) find exactly
    /// what trying every anchor and every form at every position finds, on text
    /// dense with anchors in mixed case, real-looking tokens, secrets and their
    /// encodings at every alignment.
    #[test]
    fn prefilters_equal_exhaustive_search() {
        // Short secrets sample four-byte grams at small steps; long ones eight-byte
        // grams at the largest step.
        let short: &[&str] = &["hunter2-but-longer", "Zx9!kQ_7pL#2", "0123456789abcdef0123"];
        let long: &[&str] = &[
            "s3cr3t-0123456789abcdef-0123456789abcdef-xyz",
            "a much longer registered secret value, with spaces!",
        ];
        for secrets in [short, long] {
            let d = LeakDetector::builder()
                .known_secrets(secrets)
                .build()
                .unwrap();
            assert_eq!(d.secret_q, if secrets == long { 8 } else { 4 });
            check_prefilters(&d, secrets);
        }
    }

    fn check_prefilters(d: &LeakDetector, secrets: &[&str]) {
        let mut pieces: Vec<Vec<u8>> = Vec::new();
        for spec in BUILTIN {
            for a in spec.anchors {
                pieces.push(a.as_bytes().to_vec());
                pieces.push(a.to_ascii_uppercase().into_bytes());
            }
        }
        for s in secrets {
            for (form, _) in variants(s.as_bytes()) {
                pieces.push(form);
            }
        }
        let tokens = [
            "ghp_aB3dE5fG7hI9jK1lM3nO5pQ7rS9tU1vW3xY5",
            "AKIAIOSFODNN7EXAMPL2",
            "SK0123456789abcdef0123456789abcdef",
            "https://user:s3cretPass@example.com/",
            "password = \"Tr0ub4dor&3x\"",
            "xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx",
            "1234567890:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw1",
            "abc4Q~abcdefghijklmnopqrstuvwxyz0123456",
        ];
        pieces.extend(tokens.iter().map(|t| t.as_bytes().to_vec()));
        let filler = b" =:_-.\n\"'abcXYZ019$~/";
        let mut below = crate::test_rng(11);
        for round in 0..300 {
            let mut hay = Vec::new();
            for _ in 0..below(12) {
                for _ in 0..below(6) {
                    hay.push(filler[below(filler.len())]);
                }
                hay.extend_from_slice(&pieces[below(pieces.len())]);
            }
            let fast = findings(d, &hay, false);
            let slow = findings(d, &hay, true);
            assert_eq!(
                fast,
                slow,
                "round {round}: {:?}",
                String::from_utf8_lossy(&hay)
            );
        }
    }
}
