//! Built-in credential formats: stable kind names, anchoring literals and regexes.
//!
//! Every pattern is anchored by one or more literals that must occur inside any
//! match. The detector looks for all anchors with one Aho-Corasick pass and runs a
//! pattern's regex only in a bounded window around an anchor hit, so clean text costs
//! one automaton pass. The window bounds (`back`, `fwd`) also bound the length of a
//! match, which is what makes streaming exact.

use crate::Severity;

/// How the secret part of a match is validated after the regex matched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Check {
    /// A fixed-format token: reject placeholders and one-character fillers.
    Token,
    /// A free-form value (password, generic secret): also require some entropy and
    /// reject references such as `${VAR}`, `$VAR`, `<your-key>` and `os.getenv(...)`.
    FreeForm,
    /// Structure alone is enough (PEM headers).
    None,
}

/// One built-in pattern.
#[derive(Debug)]
pub(crate) struct PatternSpec {
    pub(crate) kind: &'static str,
    pub(crate) severity: Severity,
    /// Literals, one of which occurs in every match.
    pub(crate) anchors: &'static [&'static str],
    /// The anchors may appear in any case (documentation; the prefilter is
    /// case-insensitive for every anchor and the regex decides).
    #[allow(dead_code)]
    pub(crate) anchors_any_case: bool,
    /// The regex; a capture group named `s` marks the secret part (the reported span).
    pub(crate) regex: &'static str,
    /// Bytes before the anchor's start where a match may begin.
    pub(crate) back: usize,
    /// Bytes after the anchor's start where a match may end.
    pub(crate) fwd: usize,
    pub(crate) check: Check,
    /// The preview may show the anchor (a public prefix such as `ghp_`).
    pub(crate) public_prefix: bool,
}

macro_rules! token {
    ($kind:expr, $sev:ident, [$($a:expr),+], $re:expr, $fwd:expr) => {
        PatternSpec {
            kind: $kind,
            severity: Severity::$sev,
            anchors: &[$($a),+],
            anchors_any_case: false,
            regex: $re,
            back: 1,
            fwd: $fwd,
            check: Check::Token,
            public_prefix: true,
        }
    };
}

/// The boundary that must precede a token: start of text or a non-token byte.
/// (Written into each regex as `(?:^|[^A-Za-z0-9_])` would shift the match start;
/// the regexes use `\b`-free lookbehind emulation through a leading optional group
/// instead, so each token regex starts with `(?-u:\b)` where the token starts with
/// a word character.)
pub(crate) const BUILTIN: &[PatternSpec] = &[
    token!(
        "aws_access_key_id",
        High,
        ["AKIA", "ASIA", "ABIA", "ACCA", "A3T"],
        r"(?-u:\b)(?P<s>(?:AKIA|ASIA|ABIA|ACCA|A3T[A-Z0-9])[A-Z2-7]{16})(?-u:\b)",
        22
    ),
    token!(
        "github_pat_classic",
        High,
        ["ghp_"],
        r"(?-u:\b)(?P<s>ghp_[A-Za-z0-9]{36})(?-u:\b)",
        42
    ),
    token!(
        "github_pat_fine_grained",
        High,
        ["github_pat_"],
        r"(?-u:\b)(?P<s>github_pat_[A-Za-z0-9_]{60,255})(?-u:\b)",
        268
    ),
    token!(
        "github_oauth",
        High,
        ["gho_"],
        r"(?-u:\b)(?P<s>gho_[A-Za-z0-9]{36})(?-u:\b)",
        42
    ),
    token!(
        "github_app_token",
        High,
        ["ghu_", "ghs_", "ghr_"],
        r"(?-u:\b)(?P<s>gh[usr]_[A-Za-z0-9]{36,76})(?-u:\b)",
        82
    ),
    token!(
        "gitlab_token",
        High,
        [
            "glpat-",
            "glptt-",
            "gldt-",
            "glrt-",
            "glsoat-",
            "glcbt-",
            "glimt-",
            "glft-",
            "gloas-",
            "GR1348941"
        ],
        r"(?-u:\b)(?P<s>(?:gl(?:pat|ptt|dt|rt|soat|cbt|imt|ft|oas)-|GR1348941)[A-Za-z0-9_.-]{20,64})(?-u:\b)",
        80
    ),
    token!(
        "slack_token",
        High,
        [
            "xoxa-", "xoxb-", "xoxp-", "xoxo-", "xoxs-", "xoxr-", "xoxe-", "xoxe.", "xapp-"
        ],
        r"(?-u:\b)(?P<s>(?:xox[abposr]-|xoxe(?:\.xox[bp])?-|xapp-)[A-Za-z0-9-]{10,250})",
        262
    ),
    PatternSpec {
        kind: "slack_webhook",
        severity: Severity::High,
        anchors: &["hooks.slack.com/"],
        anchors_any_case: false,
        regex: r"(?P<s>(?:https?://)?hooks\.slack\.com/(?:services|workflows|triggers)/[A-Za-z0-9+/_-]{20,200})",
        back: 8,
        fwd: 240,
        check: Check::Token,
        public_prefix: false,
    },
    token!(
        "anthropic_api_key",
        Critical,
        ["sk-ant-"],
        r"(?-u:\b)(?P<s>sk-ant-(?:api|admin|sid)[0-9]{2}-[A-Za-z0-9_-]{80,120})",
        140
    ),
    token!(
        "openai_api_key",
        Critical,
        ["sk-"],
        r"(?-u:\b)(?P<s>sk-(?:(?:proj|svcacct|admin|None)-[A-Za-z0-9_-]{20,200}|[A-Za-z0-9]{20}T3BlbkFJ[A-Za-z0-9]{20}|[A-Za-z0-9]{40,64}))(?-u:\b)",
        220
    ),
    token!(
        "stripe_secret_key",
        High,
        ["sk_live_", "sk_test_", "rk_live_", "rk_test_", "whsec_"],
        r"(?-u:\b)(?P<s>(?:(?:sk|rk)_(?:live|test)_|whsec_)[A-Za-z0-9]{16,247})(?-u:\b)",
        260
    ),
    token!(
        "google_api_key",
        High,
        ["AIza"],
        r"(?P<s>AIza[0-9A-Za-z_-]{35})(?-u:\b)",
        40
    ),
    token!(
        "sendgrid_api_key",
        High,
        ["SG."],
        r"(?-u:\b)(?P<s>SG\.[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{43})",
        70
    ),
    token!(
        "twilio_api_key",
        High,
        ["SK"],
        r"(?-u:\b)(?P<s>SK[0-9a-f]{32})(?-u:\b)",
        35
    ),
    token!(
        "mailgun_api_key",
        High,
        ["key-"],
        r"(?-u:\b)(?P<s>key-[0-9a-f]{32})(?-u:\b)",
        37
    ),
    token!(
        "npm_token",
        High,
        ["npm_"],
        r"(?-u:\b)(?P<s>npm_[A-Za-z0-9]{36})(?-u:\b)",
        41
    ),
    token!(
        "pypi_token",
        High,
        ["pypi-AgE"],
        r"(?-u:\b)(?P<s>pypi-AgE[A-Za-z0-9_-]{50,300})",
        310
    ),
    token!(
        "huggingface_token",
        High,
        ["hf_", "api_org_"],
        r"(?-u:\b)(?P<s>(?:hf_|api_org_)[A-Za-z]{34})(?-u:\b)",
        43
    ),
    PatternSpec {
        kind: "telegram_bot_token",
        severity: Severity::High,
        anchors: &[":AA"],
        anchors_any_case: false,
        regex: r"(?-u:\b)(?P<s>[0-9]{8,10}:AA[A-Za-z0-9_-]{33})(?-u:\b)",
        back: 11,
        fwd: 37,
        check: Check::Token,
        public_prefix: false,
    },
    PatternSpec {
        kind: "discord_webhook",
        severity: Severity::High,
        anchors: &["discord.com/api/webhooks/", "discordapp.com/api/webhooks/"],
        anchors_any_case: false,
        regex: r"(?P<s>(?:https?://)?(?:ptb\.|canary\.)?discord(?:app)?\.com/api/webhooks/[0-9]{17,20}/[A-Za-z0-9_-]{60,68})",
        back: 16,
        fwd: 130,
        check: Check::Token,
        public_prefix: false,
    },
    token!(
        "digitalocean_token",
        High,
        ["dop_v1_", "doo_v1_", "dor_v1_"],
        r"(?-u:\b)(?P<s>do[opr]_v1_[a-f0-9]{64})(?-u:\b)",
        72
    ),
    token!(
        "shopify_token",
        High,
        ["shpat_", "shpca_", "shppa_", "shpss_"],
        r"(?-u:\b)(?P<s>shp(?:at|ca|pa|ss)_[a-fA-F0-9]{32})(?-u:\b)",
        39
    ),
    token!(
        "docker_hub_token",
        High,
        ["dckr_pat_"],
        r"(?-u:\b)(?P<s>dckr_pat_[A-Za-z0-9_-]{27})(?-u:\b)",
        37
    ),
    token!(
        "sentry_token",
        High,
        ["sntrys_", "sntryu_"],
        r"(?-u:\b)(?P<s>sntry[su]_[A-Za-z0-9_=+/-]{40,200})",
        210
    ),
    token!(
        "grafana_token",
        High,
        ["glc_", "glsa_"],
        r"(?-u:\b)(?P<s>(?:glc_[A-Za-z0-9+/]{32,400}={0,2}|glsa_[A-Za-z0-9]{32}_[A-Fa-f0-9]{8}))",
        410
    ),
    token!(
        "vault_token",
        High,
        ["hvs.", "hvb."],
        r"(?-u:\b)(?P<s>hv[sb]\.[A-Za-z0-9_-]{24,300})",
        310
    ),
    token!(
        "onepassword_service_account_token",
        Critical,
        ["ops_eyJ"],
        r"(?-u:\b)(?P<s>ops_eyJ[A-Za-z0-9+/]{100,2000}={0,3})",
        2010
    ),
    token!(
        "linear_api_key",
        High,
        ["lin_api_"],
        r"(?-u:\b)(?P<s>lin_api_[A-Za-z0-9]{40})(?-u:\b)",
        49
    ),
    token!(
        "notion_token",
        High,
        ["ntn_", "secret_"],
        r"(?-u:\b)(?P<s>(?:ntn_[0-9]{11}[A-Za-z0-9]{35}|secret_[A-Za-z0-9]{43}))(?-u:\b)",
        51
    ),
    token!(
        "square_token",
        High,
        ["sq0atp-", "sq0csp-", "EAAA"],
        r"(?-u:\b)(?P<s>(?:sq0atp-|sq0csp-)[A-Za-z0-9_-]{22,43}|EAAA[A-Za-z0-9_+=-]{60})(?-u:\b)",
        66
    ),
    token!(
        "atlassian_api_token",
        High,
        ["ATATT3"],
        r"(?-u:\b)(?P<s>ATATT3[A-Za-z0-9_=-]{180,190})",
        200
    ),
    token!(
        "jwt",
        High,
        ["eyJ"],
        r"(?-u:\b)(?P<s>eyJ[A-Za-z0-9_-]{8,2000}\.eyJ[A-Za-z0-9_-]{4,6000}\.[A-Za-z0-9_-]{0,1000})",
        9012
    ),
    PatternSpec {
        kind: "pem_private_key",
        severity: Severity::Critical,
        anchors: &["PRIVATE KEY-----", "PRIVATE KEY BLOCK-----"],
        anchors_any_case: false,
        regex: r"(?P<s>-----BEGIN[ A-Z0-9]{0,24}PRIVATE KEY(?: BLOCK)?-----(?:[\s\S]{1,8192}?-----END[ A-Z0-9]{0,24}PRIVATE KEY(?: BLOCK)?-----|[^-]{0,8192}))",
        back: 40,
        fwd: 8270,
        check: Check::None,
        public_prefix: false,
    },
    PatternSpec {
        kind: "url_password",
        severity: Severity::High,
        anchors: &["://"],
        anchors_any_case: false,
        regex: r"[A-Za-z][A-Za-z0-9+.-]{0,30}://[^\s:@/?#'`]{0,128}:(?P<s>[^\s@/?#'`]{3,256})@[A-Za-z0-9\[]",
        back: 32,
        fwd: 400,
        check: Check::FreeForm,
        public_prefix: false,
    },
    PatternSpec {
        kind: "http_basic_auth",
        severity: Severity::High,
        anchors: &["basic "],
        anchors_any_case: true,
        regex: r"(?i:authorization|auth|proxy-authorization)[\x22']?\s*[:=]\s*[\x22']?(?i:basic)\s+(?P<s>[A-Za-z0-9+/]{8,512}={0,2})",
        back: 40,
        fwd: 540,
        check: Check::FreeForm,
        public_prefix: false,
    },
    PatternSpec {
        kind: "http_basic_auth",
        severity: Severity::High,
        anchors: &["curl "],
        anchors_any_case: false,
        regex: r"(?-u:\b)curl(?:\s[^\n]{0,300}?)?\s(?:-u\s?|--user[\s=])[\x22']?[^\s:\x22']{1,64}:(?P<s>[^\s\x22']{3,128})",
        back: 1,
        fwd: 520,
        check: Check::FreeForm,
        public_prefix: false,
    },
    PatternSpec {
        kind: "http_bearer_token",
        severity: Severity::High,
        anchors: &["bearer "],
        anchors_any_case: true,
        regex: r"(?i:authorization)[\x22']?\s*[:=]\s*[\x22']?(?i:bearer)\s+(?P<s>[A-Za-z0-9._~+/-]{16,2048}=*)",
        back: 40,
        fwd: 2100,
        check: Check::FreeForm,
        public_prefix: false,
    },
    PatternSpec {
        kind: "azure_storage_key",
        severity: Severity::Critical,
        anchors: &["accountkey=", "sharedaccesskey="],
        anchors_any_case: true,
        regex: r"(?i:accountkey|sharedaccesskey)=(?P<s>[A-Za-z0-9+/]{40,100}={0,2})",
        back: 0,
        fwd: 120,
        check: Check::Token,
        public_prefix: false,
    },
    PatternSpec {
        kind: "aws_secret_access_key",
        severity: Severity::Critical,
        anchors: &[
            "secret_access_key",
            "secretaccesskey",
            "secret-access-key",
            "aws_secret",
        ],
        anchors_any_case: true,
        regex: r"(?i:aws_?)?(?i:secret_?access_?key|secret-access-key|secretaccesskey|aws_secret)[\x22'\]]?\s*(?::|=|=>|:=)\s*[\x22']?(?P<s>[A-Za-z0-9/+]{40})(?-u:\b)",
        back: 4,
        fwd: 90,
        check: Check::FreeForm,
        public_prefix: false,
    },
    PatternSpec {
        kind: "generic_secret",
        severity: Severity::Medium,
        anchors: &[
            "password",
            "passwd",
            "pwd",
            "secret",
            "token",
            "api_key",
            "apikey",
            "api-key",
            "access_key",
            "auth_key",
            "private_key",
            "client_secret",
            "credential",
            "passphrase",
        ],
        anchors_any_case: true,
        regex: r"(?i:[a-z0-9_.-]{0,40}(?:password|passwd|pwd|secret|token|api_?key|api-key|access_?key|auth_?key|private_?key|credentials?|passphrase)[a-z0-9_.-]{0,20})[\x22'\]]?\s{0,4}(?::=|=>|=|:)\s{0,4}(?:[\x22'`](?P<s>[^\x22'`\s\\$<>{}]{8,200})[\x22'`]|(?P<s2>[A-Za-z0-9+/_.~!@#%^&*-]{10,200}))",
        back: 41,
        fwd: 300,
        check: Check::FreeForm,
        public_prefix: false,
    },
];

/// Placeholder words that mark an example rather than a credential.
const PLACEHOLDER_WORDS: &[&str] = &[
    "example",
    "sample",
    "dummy",
    "placeholder",
    "changeme",
    "your_",
    "your-",
    "yourkey",
    "redacted",
    "insert",
    "xxxx",
    "****",
    "....",
    "<",
    ">",
    "${",
    "{{",
    "%s",
    "todo",
];

/// Values that look like references to a secret rather than the secret itself.
fn is_reference(value: &[u8]) -> bool {
    let lower: Vec<u8> = value.to_ascii_lowercase();
    let starts = |p: &[u8]| lower.starts_with(p);
    value.first() == Some(&b'$')
        || starts(b"env.")
        || starts(b"process.env")
        || starts(b"os.")
        || starts(b"getenv")
        || starts(b"settings.")
        || starts(b"config.")
        || starts(b"self.")
        || starts(b"this.")
        || lower.ends_with(b")")
        || lower.contains(&b'(')
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    memchr::memmem::find(haystack, needle).is_some()
}

/// Shannon entropy in bits per byte.
pub(crate) fn entropy(value: &[u8]) -> f64 {
    if value.is_empty() {
        return 0.0;
    }
    let mut counts = [0u32; 256];
    for &b in value {
        counts[usize::from(b)] += 1;
    }
    let n = value.len() as f64;
    counts
        .iter()
        .filter(|&&c| c > 0)
        .map(|&c| {
            let p = f64::from(c) / n;
            -p * p.log2()
        })
        .sum()
}

/// Whether the secret part of a match looks like a real credential.
pub(crate) fn plausible(check: Check, value: &[u8]) -> bool {
    if check == Check::None {
        return true;
    }
    let lower = value.to_ascii_lowercase();
    if PLACEHOLDER_WORDS
        .iter()
        .any(|w| contains(&lower, w.as_bytes()))
    {
        return false;
    }
    let mut distinct = [false; 256];
    for &b in value {
        distinct[usize::from(b)] = true;
    }
    let n_distinct = distinct.iter().filter(|&&d| d).count();
    // A run of one repeated filler character ("AAAAAAAA") is a placeholder.
    let longest_run = value
        .chunk_by(|a, b| a == b)
        .map(<[u8]>::len)
        .max()
        .unwrap_or(0);
    if n_distinct < 6 || longest_run >= 6 {
        return false;
    }
    match check {
        Check::Token => true,
        Check::FreeForm => {
            if is_reference(value) {
                return false;
            }
            let has_digit = value.iter().any(u8::is_ascii_digit);
            let has_alpha = value.iter().any(u8::is_ascii_alphabetic);
            let has_other = value.iter().any(|b| !b.is_ascii_alphanumeric());
            let all_lower_word = value
                .iter()
                .all(|b| b.is_ascii_lowercase() || *b == b'_' || *b == b'-' || *b == b'.');
            !all_lower_word && (has_digit || has_other) && has_alpha && entropy(value) >= 2.8
        }
        Check::None => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_not_plausible() {
        for v in [
            "AKIAIOSFODNN7EXAMPLE",
            "ghp_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
            "${GITHUB_TOKEN}",
            "<your-key-here>",
            "AAAAAAAAAAAAAAAAAAAA",
        ] {
            assert!(!plausible(Check::Token, v.as_bytes()), "{v}");
        }
        for v in ["$PASSWORD", "os.getenv(\"X\")", "changeme!!"] {
            assert!(!plausible(Check::FreeForm, v.as_bytes()), "{v}");
        }
        assert!(plausible(Check::FreeForm, b"Tr0ub4dor&3xQ"));
        assert!(plausible(Check::Token, b"AKIAQYLPMN5HFIQR7XYA"));
    }
}
