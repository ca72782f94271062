//! Built-in credential formats: stable kind names, anchoring literals and regexes.
//!
//! Every pattern is anchored by one or more literals that must occur inside any
//! match. The detector finds anchors with the sampled prefilter (see `gram`) and runs
//! a pattern's regex only in a bounded window around an anchor hit, so clean text
//! costs about one table lookup per two bytes. The window bounds (`back`, `fwd`) also
//! bound the length of a match, which is what makes streaming exact.

use crate::Severity;

/// How the secret part of a match is validated after the regex matched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Check {
    /// A fixed-format token: reject placeholders and one-character fillers.
    Token,
    /// A free-form value (password, generic secret): also require some entropy and
    /// reject references such as `${VAR}`, `$VAR`, `<your-key>` and `os.getenv(...)`.
    FreeForm,
    /// A value whose context (a URL's userinfo, a `curl -u`, a connection string)
    /// already says it is a password: reject only placeholders and references.
    Context,
    /// An opaque token after an auth scheme (`Authorization: Bearer ...`): reject
    /// placeholders and references, require variety and a digit or symbol.
    Opaque,
    /// A PEM block: a complete block needs a body, a truncated one is enough.
    Pem,
    /// Structure alone is enough.
    #[allow(dead_code)]
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
            "glagent-",
            "GR1348941"
        ],
        r"(?-u:\b)(?P<s>(?:gl(?:pat|dt|rt|soat|ft)-|GR1348941)[A-Za-z0-9_.-]{20,64}|glptt-[0-9a-f]{40}|glimt-[0-9A-Za-z_-]{25}|gloas-[0-9A-Za-z_-]{64}|glcbt-[0-9a-fA-F]{1,5}_[0-9A-Za-z_-]{20}|glagent-[0-9A-Za-z_-]{50,64})(?:[^0-9A-Za-z_-]|$)",
        80
    ),
    token!(
        "slack_token",
        High,
        [
            "xoxa-", "xoxb-", "xoxp-", "xoxo-", "xoxs-", "xoxr-", "xoxe-", "xoxe.", "xapp-"
        ],
        r"(?-u:\b)(?P<s>xox[abposre]-[0-9]{6,16}-(?:[0-9]{6,16}-)*[A-Za-z0-9]{8,64}|xoxe(?:\.xox[bp])?-[0-9]-[A-Za-z0-9]{100,250}|xapp-[0-9]-[A-Z0-9]{6,16}-[0-9]{6,16}-[A-Za-z0-9]{32,80}|xapp-[0-9]{6,16}-[A-Za-z0-9/+]{16,64})(?:[^0-9A-Za-z_-]|$)",
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
        r"(?-u:\b)(?P<s>sk-ant-(?:api|admin|sid)[0-9]{2}-[A-Za-z0-9_-]{80,120}AA)(?:[^0-9A-Za-z_-]|$)",
        140
    ),
    token!(
        "openai_api_key",
        Critical,
        ["sk-"],
        r"(?-u:\b)(?P<s>sk-(?:(?:proj|svcacct|admin|None)-)?[A-Za-z0-9_-]{10,160}T3BlbkFJ[A-Za-z0-9_-]{10,160}|sk-(?:(?:proj|svcacct|admin)-)?[A-Za-z0-9]{40,64}|sk-(?:proj|svcacct|admin)-[A-Za-z0-9_-]{80,250})(?:[^0-9A-Za-z_-]|$)",
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
        r"(?-u:\b)(?P<s>AIza[0-9A-Za-z_-]{35})(?:[^0-9A-Za-z_-]|$)",
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
        r"(?-u:\b)(?P<s>dckr_pat_[A-Za-z0-9_-]{27})(?:[^0-9A-Za-z_-]|$)",
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
        r"(?-u:\b)(?P<s>eyJ[A-Za-z0-9_-]{8,2000}\.eyJ[A-Za-z0-9_-]{4,6000}(?:\.[A-Za-z0-9_-]{0,1000})?)",
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
        check: Check::Pem,
        public_prefix: false,
    },
    PatternSpec {
        kind: "url_password",
        severity: Severity::High,
        anchors: &["://"],
        anchors_any_case: false,
        regex: r"[A-Za-z][A-Za-z0-9+.-]{0,30}://[^\s:@/?#'`\x22]{0,128}:(?P<s>[^\s@/?#'`\x22]{3,256})@[A-Za-z0-9\[]",
        back: 32,
        fwd: 400,
        check: Check::Context,
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
        regex: r"(?-u:\b)curl(?:\s(?:[^\n]|\\\r?\n){0,300}?)?\s(?:-u\s?|--user[\s=])[\x22']?[^\s:\x22']{0,64}[\x22']?:[\x22']?(?P<s>[^\s\x22']{3,128})",
        back: 1,
        fwd: 520,
        check: Check::Context,
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
        check: Check::Opaque,
        public_prefix: false,
    },
    PatternSpec {
        kind: "http_auth_header",
        severity: Severity::High,
        anchors: &[
            "authorization",
            "apikey",
            "api-key",
            "api_key",
            "auth-token",
            "api-token",
            "access-token",
        ],
        anchors_any_case: true,
        regex: r"(?i:authorization|x-[a-z-]{0,20}api-?key|apikey|api-key|api_key|x-auth-token|x-api-token|x-access-token)[\x22']?[ \t]*:[ \t]*[\x22']?(?:(?i:token|api-token|ssws|key|apikey|sha256~?)[ \t]+)?(?P<s>[A-Za-z0-9._~+/=@-]{16,512})",
        back: 24,
        fwd: 560,
        check: Check::Opaque,
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
        kind: "azure_ad_client_secret",
        severity: Severity::High,
        anchors: &["Q~"],
        anchors_any_case: false,
        regex: r"(?:^|[^A-Za-z0-9_~.-])(?P<s>[A-Za-z0-9_~.]{3}[0-9]Q~[A-Za-z0-9_~.-]{31,34})(?:[^A-Za-z0-9_~.-]|$)",
        back: 6,
        fwd: 40,
        check: Check::Token,
        public_prefix: false,
    },
    token!(
        "sourcegraph_token",
        High,
        ["sgp_"],
        r"(?-u:\b)(?P<s>sgp_(?:[a-fA-F0-9]{16}_|local_)?[a-fA-F0-9]{40})(?-u:\b)",
        66
    ),
    PatternSpec {
        kind: "password_hash",
        severity: Severity::Medium,
        anchors: &["$2a$", "$2b$", "$2y$", "$2x$", "$5$", "$6$", "$1$"],
        anchors_any_case: false,
        regex: r"(?P<s>\$2[abxy]\$[0-9]{2}\$[./A-Za-z0-9]{53}|\$[56]\$(?:rounds=[0-9]{4,9}\$)?[./A-Za-z0-9]{1,16}\$[./A-Za-z0-9]{43,86}|\$1\$[./A-Za-z0-9]{1,8}\$[./A-Za-z0-9]{22})(?:[^./A-Za-z0-9]|$)",
        back: 0,
        fwd: 130,
        check: Check::Token,
        public_prefix: false,
    },
    token!(
        "age_secret_key",
        Critical,
        ["AGE-SECRET-KEY-1"],
        r"(?P<s>AGE-SECRET-KEY-1[QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L]{58})(?-u:\b)",
        76
    ),
    PatternSpec {
        kind: "microsoft_teams_webhook",
        severity: Severity::High,
        anchors: &["office.com/webhook", "office365.com/webhook"],
        anchors_any_case: false,
        regex: r"(?P<s>https://[A-Za-z0-9.-]{0,40}office(?:365)?\.com/webhook(?:b2)?/[A-Za-z0-9-]{36}@[A-Za-z0-9-]{36}/IncomingWebhook/[A-Za-z0-9]{32}/[A-Za-z0-9-]{36}(?:/[A-Za-z0-9-]{10,60})?)",
        back: 48,
        fwd: 260,
        check: Check::Token,
        public_prefix: false,
    },
    token!(
        "twitch_stream_key",
        High,
        ["live_"],
        r"(?-u:\b)(?P<s>live_[0-9]{6,12}_[A-Za-z0-9]{30})(?-u:\b)",
        50
    ),
    token!(
        "databricks_token",
        High,
        ["dapi"],
        r"(?-u:\b)(?P<s>dapi[a-f0-9]{32}(?:-[0-9])?)(?-u:\b)",
        40
    ),
    token!(
        "doppler_token",
        High,
        [
            "dp.pt.",
            "dp.st.",
            "dp.sa.",
            "dp.ct.",
            "dp.scim.",
            "dp.audit."
        ],
        r"(?-u:\b)(?P<s>dp\.(?:pt|st|sa|ct|scim|audit)\.[A-Za-z0-9]{40,44})(?-u:\b)",
        55
    ),
    token!(
        "heroku_api_key",
        High,
        ["HRKU-AA"],
        r"(?-u:\b)(?P<s>HRKU-AA[0-9A-Za-z_-]{58})(?:[^0-9A-Za-z_-]|$)",
        66
    ),
    token!(
        "new_relic_key",
        High,
        ["NRAK-", "NRJS-", "NRII-", "NRAA-"],
        r"(?-u:\b)(?P<s>NRAK-[A-Z0-9]{27}|NRJS-[a-f0-9]{19}|NRII-[A-Za-z0-9_-]{32}|NRAA-[a-f0-9]{27})(?:[^0-9A-Za-z_-]|$)",
        38
    ),
    token!(
        "postman_api_key",
        High,
        ["PMAK-"],
        r"(?-u:\b)(?P<s>PMAK-[a-f0-9]{24}-[a-f0-9]{34})(?-u:\b)",
        64
    ),
    token!(
        "tavily_api_key",
        High,
        ["tvly-"],
        r"(?-u:\b)(?P<s>tvly-(?:dev-|prod-)?[A-Za-z0-9]{32})(?-u:\b)",
        44
    ),
    token!(
        "jina_api_key",
        High,
        ["jina_"],
        r"(?-u:\b)(?P<s>jina_[a-f0-9]{32}[A-Za-z0-9_-]{28,40})(?:[^0-9A-Za-z_-]|$)",
        80
    ),
    token!(
        "rubygems_api_key",
        High,
        ["rubygems_"],
        r"(?-u:\b)(?P<s>rubygems_[a-f0-9]{48})(?-u:\b)",
        60
    ),
    token!(
        "nuget_api_key",
        High,
        ["oy2"],
        r"(?-u:\b)(?P<s>oy2[a-z0-9]{43})(?-u:\b)",
        48
    ),
    token!(
        "brevo_api_key",
        High,
        ["xkeysib-", "xsmtpsib-"],
        r"(?-u:\b)(?P<s>x(?:key|smtp)sib-[a-f0-9]{64}-[A-Za-z0-9]{16})(?-u:\b)",
        92
    ),
    token!(
        "flyio_token",
        High,
        ["fo1_", "FlyV1 fm"],
        r"(?-u:\b)(?P<s>fo1_[A-Za-z0-9_-]{43}|FlyV1 fm[0-9]_[A-Za-z0-9+/=,_-]{100,800})(?:[^A-Za-z0-9+/=,_-]|$)",
        810
    ),
    token!(
        "adafruit_io_key",
        High,
        ["aio_"],
        r"(?-u:\b)(?P<s>aio_[A-Za-z0-9]{28})(?-u:\b)",
        34
    ),
    token!(
        "dependency_track_api_key",
        High,
        ["odt_"],
        r"(?-u:\b)(?P<s>odt_[A-Za-z0-9]{32,40})(?-u:\b)",
        46
    ),
    PatternSpec {
        kind: "mailchimp_api_key",
        severity: Severity::High,
        anchors: &["-us"],
        anchors_any_case: false,
        regex: r"(?-u:\b)(?P<s>[0-9a-f]{32}-us[0-9]{1,2})(?-u:\b)",
        back: 33,
        fwd: 6,
        check: Check::Token,
        public_prefix: false,
    },
    PatternSpec {
        kind: "onepassword_secret_key",
        severity: Severity::Critical,
        anchors: &["A3-"],
        anchors_any_case: false,
        regex: r"(?-u:\b)(?P<s>A3-[A-Z0-9]{6}-(?:[A-Z0-9]{11}|[A-Z0-9]{6}-[A-Z0-9]{5})-[A-Z0-9]{5}-[A-Z0-9]{5}-[A-Z0-9]{5})(?-u:\b)",
        back: 1,
        fwd: 45,
        check: Check::Token,
        public_prefix: false,
    },
    PatternSpec {
        kind: "sidekiq_secret",
        severity: Severity::High,
        anchors: &["__contribsys__com"],
        anchors_any_case: true,
        regex: r"(?i:bundle_(?:enterprise|gems)__contribsys__com)[\x22']?[ \t]*[:=][ \t]*[\x22']?(?P<s>[a-f0-9]{8}:[a-f0-9]{8})(?-u:\b)",
        back: 18,
        fwd: 50,
        check: Check::Context,
        public_prefix: false,
    },
    PatternSpec {
        kind: "psexec_password",
        severity: Severity::High,
        anchors: &["psexec"],
        anchors_any_case: true,
        regex: r"(?i:psexec)(?:\.exe)?[ \t](?:[^\n]{0,200}?[ \t])?-u[ \t]+[^\s]+[ \t]+-p[ \t]+(?P<s>[^\s\x22']{3,128})",
        back: 0,
        fwd: 420,
        check: Check::Context,
        public_prefix: false,
    },
    PatternSpec {
        kind: "connection_string_password",
        severity: Severity::High,
        anchors: &["password=", "pwd=", "password =", "pwd ="],
        anchors_any_case: true,
        regex: r"(?i:user ?id|uid|server|data source|provider|database|initial catalog|host)[ \t]*=[^;\n]{0,100};[^\n]{0,300}?(?i:password|pwd)[ \t]*=[ \t]*(?P<s>[^;\x22'\s]{3,128})",
        back: 420,
        fwd: 140,
        check: Check::Context,
        public_prefix: false,
    },
    PatternSpec {
        kind: "netrc_password",
        severity: Severity::High,
        anchors: &["password"],
        anchors_any_case: false,
        regex: r"(?-u:\b)machine[ \t]+[^\s]+\s+login[ \t]+[^\s]+\s+password[ \t]+(?P<s>[^\s]{3,128})",
        back: 300,
        fwd: 140,
        check: Check::Context,
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
        // The key must end with the secret word (plus a plural or `_key`/`_value`):
        // `token_url`, `passwordLabel` and `credentialId` name something else. A
        // `:` assignment needs a space or a quote after it (`group:artifact` and
        // `host:port` are not assignments), and an unquoted value must end at a
        // delimiter (a truncated `abc..[Redacted]` is not a value).
        regex: r"(?i:[a-z0-9_.-]{0,40}(?:password|passwd|pwd|secret|token|api_?key|api-key|access_?key|auth_?key|private_?key|credentials?|passphrase)(?:[_.-]?(?:key|value|str|string))?s?)[\x22'\]]?[ \t]{0,4}(?:(?::{1,3}=|\?=|=>|==|!=|=)[ \t]{0,4}(?:[\x22'`](?P<s>[^\x22'`\s\\$<>{}]{8,200})[\x22'`]|(?P<s2>[A-Za-z0-9+/_.~!@#%^&*=-]{8,200})(?:[\s,;)}\]\x22'`]|$))|:(?:[ \t]{0,4}[\x22'`](?P<s3>[^\x22'`\s\\$<>{}]{8,200})[\x22'`]|[ \t]{1,4}(?P<s4>[A-Za-z0-9+/_.~!@#%^&*=-]{8,200})(?:[\s,;)}\]\x22'`]|$)))",
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
    "&lt;",
    "&gt;",
    "..",
    "#{",
    "%{",
    "[",
    "]",
];

/// Whole values that stand for a password in documentation.
const PLACEHOLDER_VALUES: &[&str] = &[
    "password", "passwd", "pass", "pwd", "changeme", "secret", "xxx", "***", "...", "user",
    "username", "test", "token", "apikey", "api_key",
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
        || starts(b"arn:")
        || lower.ends_with(b")")
        || lower.contains(&b'(')
        || (value.len() > 2 && value.first() == Some(&b'%') && value.last() == Some(&b'%'))
}

/// Values that name something rather than hold a secret: a constant's name
/// (`ACCESS_TOKEN`, `NEXUS-GPT4-API-KEY`), a path or URL, a selector, a host name.
fn is_identifier_like(value: &[u8]) -> bool {
    let screaming = value
        .iter()
        .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || matches!(b, b'_' | b'-'))
        && value.iter().any(|b| matches!(b, b'_' | b'-'));
    let lower_words = value
        .iter()
        .all(|b| b.is_ascii_lowercase() || matches!(b, b'_' | b'-' | b'.' | b'/' | b'#' | b':'));
    let pathish =
        value.first() == Some(&b'/') || value.starts_with(b"./") || contains(value, b"://");
    let hostish = {
        let host = match value.iter().rposition(|&b| b == b':') {
            Some(i) if value[i + 1..].iter().all(u8::is_ascii_digit) => &value[..i],
            _ => value,
        };
        host.iter().filter(|&&b| b == b'.').count() >= 2
            && host
                .iter()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'-'))
    };
    // A value that starts or ends with syntax was cut out of the surrounding code
    // (`"Password:",next:` read as `Password: ",next:"`).
    let syntax = matches!(value.first(), Some(b',' | b';')) || value.last() == Some(&b':');
    screaming || lower_words || pathish || hostish || syntax
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
    if matches!(check, Check::None | Check::Pem) {
        return true;
    }
    let lower = value.to_ascii_lowercase();
    if PLACEHOLDER_WORDS
        .iter()
        .any(|w| contains(&lower, w.as_bytes()))
    {
        return false;
    }
    if check == Check::Context {
        let trimmed: &[u8] = {
            let t = lower.strip_prefix(b"'").unwrap_or(&lower);
            t.strip_suffix(b"'").unwrap_or(t)
        };
        return value.len() >= 3
            && !is_reference(value)
            && !PLACEHOLDER_VALUES.iter().any(|p| trimmed == p.as_bytes())
            && !value.iter().all(|&b| b == value[0]);
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
        Check::Opaque => {
            let has_digit = value.iter().any(u8::is_ascii_digit);
            let has_other = value.iter().any(|b| !b.is_ascii_alphanumeric());
            !is_reference(value)
                && !is_identifier_like(value)
                && (has_digit || has_other)
                && entropy(value) >= 3.0
        }
        Check::FreeForm => {
            if is_reference(value) || is_identifier_like(value) {
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
        Check::Context | Check::Pem | Check::None => true,
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
