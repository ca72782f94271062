//! Leak detector behaviour: built-in kinds, known secrets in every encoding,
//! placeholders and public material, streaming, redaction and policy.

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use ironclaw_safety::{LeakAction, LeakDetector, SafetyErrorKind, SecretEncoding};

fn detector() -> LeakDetector {
    LeakDetector::with_builtin_patterns().unwrap()
}

/// Kinds found in `input`, in order.
fn kinds(d: &LeakDetector, input: &str) -> Vec<&'static str> {
    d.scan_str(input).iter().map(|f| f.kind()).collect()
}

fn check(input: &str, expected: &[&str]) {
    assert_eq!(kinds(&detector(), input), expected, "{input:?}");
}

/// Random-looking alphanumerics of length `n` (deterministic, high entropy).
fn rnd(n: usize, seed: u64) -> String {
    const ALPHA: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut x = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            char::from(ALPHA[(x % ALPHA.len() as u64) as usize])
        })
        .collect()
}

fn upper_b32(n: usize, seed: u64) -> String {
    rnd(n * 3, seed)
        .chars()
        .filter(|c| c.is_ascii_uppercase() || ('2'..='7').contains(c))
        .take(n)
        .collect()
}

fn hexs(n: usize, seed: u64) -> String {
    rnd(n * 4, seed)
        .chars()
        .filter(char::is_ascii_hexdigit)
        .map(|c| c.to_ascii_lowercase())
        .take(n)
        .collect()
}

#[test]
fn builtin_kinds() {
    let b64 = STANDARD.encode(format!("user:{}", rnd(12, 9)));
    let cases: Vec<(String, &str)> = vec![
        (format!("AKIA{}", upper_b32(16, 1)), "aws_access_key_id"),
        (format!("token: ghp_{}", rnd(36, 2)), "github_pat_classic"),
        (
            format!("github_pat_{}_{}", rnd(22, 3), rnd(59, 4)),
            "github_pat_fine_grained",
        ),
        (format!("gho_{}", rnd(36, 5)), "github_oauth"),
        (format!("ghs_{}", rnd(36, 6)), "github_app_token"),
        (format!("glpat-{}", rnd(20, 7)), "gitlab_token"),
        (
            format!("xoxb-{}-{}-{}", "1234567890", "1234567890123", rnd(24, 8)),
            "slack_token",
        ),
        (
            format!(
                "https://hooks.slack.com/services/T{}/B{}/{}",
                upper_b32(8, 1),
                upper_b32(8, 2),
                rnd(24, 3)
            ),
            "slack_webhook",
        ),
        (format!("sk-proj-{}", rnd(48, 10)), "openai_api_key"),
        (
            format!("sk-ant-api03-{}-{}AA", rnd(60, 11), rnd(31, 12)),
            "anthropic_api_key",
        ),
        (format!("sk_live_{}", rnd(24, 13)), "stripe_secret_key"),
        (format!("AIza{}", rnd(35, 14)), "google_api_key"),
        (
            format!("SG.{}.{}", rnd(22, 15), rnd(43, 16)),
            "sendgrid_api_key",
        ),
        (format!("SK{}", hexs(32, 17)), "twilio_api_key"),
        (format!("key-{}", hexs(32, 18)), "mailgun_api_key"),
        (format!("npm_{}", rnd(36, 19)), "npm_token"),
        (format!("pypi-AgEIcHlwaS5vcmc{}", rnd(60, 20)), "pypi_token"),
        (
            format!(
                "hf_{}",
                rnd(60, 21)
                    .chars()
                    .filter(char::is_ascii_alphabetic)
                    .take(34)
                    .collect::<String>()
            ),
            "huggingface_token",
        ),
        (
            format!("bot 123456789:AA{}", rnd(33, 22)),
            "telegram_bot_token",
        ),
        (
            format!(
                "https://discord.com/api/webhooks/123456789012345678/{}",
                rnd(68, 23)
            ),
            "discord_webhook",
        ),
        (format!("dop_v1_{}", hexs(64, 24)), "digitalocean_token"),
        (format!("shpat_{}", hexs(32, 25)), "shopify_token"),
        (
            format!(
                "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.{}",
                rnd(43, 26)
            ),
            "jwt",
        ),
        (
            format!(
                "-----BEGIN RSA PRIVATE KEY-----\nMIIE{}\n-----END RSA PRIVATE KEY-----",
                rnd(64, 27)
            ),
            "pem_private_key",
        ),
        (
            format!(
                "-----BEGIN OPENSSH PRIVATE KEY-----\nb3Bl{}\n-----END OPENSSH PRIVATE KEY-----",
                rnd(64, 28)
            ),
            "pem_private_key",
        ),
        (
            format!("-----BEGIN EC PRIVATE KEY-----\nMHcC{}", rnd(64, 29)),
            "pem_private_key",
        ),
        (
            format!(
                "-----BEGIN PRIVATE KEY-----\nMIIE{}\n-----END PRIVATE KEY-----",
                rnd(64, 30)
            ),
            "pem_private_key",
        ),
        (
            format!("postgres://admin:{}@db.internal:5432/app", rnd(16, 31)),
            "url_password",
        ),
        (format!("Authorization: Basic {b64}"), "http_basic_auth"),
        (
            format!("curl -u admin:{} https://api.example.com", rnd(14, 32)),
            "http_basic_auth",
        ),
        (
            format!(
                "DefaultEndpointsProtocol=https;AccountName=x;AccountKey={}==",
                rnd(86, 33)
            ),
            "azure_storage_key",
        ),
    ];
    let d = detector();
    for (input, kind) in &cases {
        assert_eq!(kinds(&d, input), [*kind], "{input}");
        // Case of the surrounding text does not matter; the kind is stable.
        let wrapped = format!("prefix text\n{input}\nsuffix");
        assert_eq!(kinds(&d, &wrapped), [*kind], "{wrapped}");
    }
}

#[test]
fn lookalikes_are_not_flagged() {
    let cases = [
        "commit 3f786850e387550fdab836ed7e6dc881de23001b",
        "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        "id = 123e4567-e89b-12d3-a456-426614174000",
        "img src=\"data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==\"",
        "-----BEGIN PUBLIC KEY-----\nMIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA\n-----END PUBLIC KEY-----",
        "-----BEGIN CERTIFICATE-----\nMIIDdzCCAl+gAwIBAgIEAgAAuTANBgkqhkiG9w0BAQUFADBa\n-----END CERTIFICATE-----",
        "password = ${DB_PASSWORD}",
        "api_key: <your-api-key>",
        "token = os.getenv(\"GITHUB_TOKEN\")",
        "aws_access_key_id = AKIAIOSFODNN7EXAMPLE",
        "ghp_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
        "postgres://user:${PASSWORD}@localhost/db",
        "https://example.com/path?query=1",
        "let password = read_password()?;",
        "fn token(&self) -> &str { &self.token }",
        "integrity sha512-z4PhNX7vuL3xVChQ1m2AB9Yg5AULVxXcg/SpIdNs6c5H0NE8XYXysP+DGNKHfuwvY7kxvUR6yTHvi4aR4xUGIg==",
    ];
    for input in cases {
        check(input, &[]);
    }
}

#[test]
fn known_secret_in_every_encoding() {
    let secret = "s3cr3t/Val+ue?with&chars";
    let d = LeakDetector::builder()
        .builtin_patterns(false)
        .known_secret(secret)
        .build()
        .unwrap();
    let pct = "s3cr3t%2FVal%2Bue%3Fwith%26chars";
    let hex: String = secret.bytes().map(|b| format!("{b:02x}")).collect();
    let cases = [
        (secret.to_string(), SecretEncoding::Raw),
        (STANDARD.encode(secret), SecretEncoding::Base64),
        (
            STANDARD.encode(format!("x{secret}")),
            SecretEncoding::Base64,
        ),
        (
            STANDARD.encode(format!("xy{secret}z")),
            SecretEncoding::Base64,
        ),
        (
            URL_SAFE_NO_PAD.encode(format!("ab{secret}")),
            SecretEncoding::Base64Url,
        ),
        (pct.to_string(), SecretEncoding::Percent),
        (
            pct.replace("%2F", "%2f")
                .replace("%2B", "%2b")
                .replace("%3F", "%3f"),
            SecretEncoding::Percent,
        ),
        (hex.clone(), SecretEncoding::HexLower),
        (hex.to_uppercase(), SecretEncoding::HexUpper),
        (
            "s3cr3t\\/Val+ue?with&chars".to_string(),
            SecretEncoding::JsonEscaped,
        ),
    ];
    for (encoded, enc) in cases {
        let text = format!("header {encoded} trailer");
        let f = d.scan_str(&text);
        assert_eq!(f.len(), 1, "{encoded}");
        assert_eq!(f[0].kind(), "known_secret");
        assert_eq!(f[0].secret_index(), Some(0));
        // Base64 matches at different alignments may come from either alphabet.
        if !matches!(enc, SecretEncoding::Base64 | SecretEncoding::Base64Url) {
            assert_eq!(f[0].encoding(), Some(enc), "{encoded}");
        }
        assert!(!format!("{:?} {}", f[0], f[0]).contains("Val"));
        assert!(
            !d.redact(&text).contains(&encoded[2..encoded.len() - 3]),
            "{encoded}"
        );
    }
    // A near miss is not a match.
    assert!(
        d.scan_str("s3cr3t/Val+ue?with&charz").is_empty()
            || d.scan_str("s3cr3t/Val+ue?with&charz")[0].span().end <= 23
    );
    assert!(d.scan_str("S3CR3T/VAL+UE?WITH&CHARS").is_empty());
}

#[test]
fn short_secret_is_refused_without_echo() {
    let err = LeakDetector::builder()
        .known_secret("abc")
        .build()
        .unwrap_err();
    assert_eq!(err.kind(), SafetyErrorKind::SecretTooShort);
    assert!(!err.to_string().contains("abc"));
    assert!(err.to_string().contains("#0"));
}

#[test]
fn streaming_finds_matches_across_chunks() {
    let token = format!("ghp_{}", rnd(36, 40));
    let d = LeakDetector::builder()
        .known_secret("known-secret-value-123")
        .build()
        .unwrap();
    let mut text = "x".repeat(200_000);
    text.insert_str(70_000, &format!(" {token} "));
    text.insert_str(140_000, "known-secret-value-123");
    let one_shot = d.scan_str(&text);
    assert_eq!(one_shot.len(), 2);
    for chunk in [1usize, 7, 4096, 65_536, 1 << 20] {
        let mut s = d.stream();
        let mut got = Vec::new();
        for part in text.as_bytes().chunks(chunk) {
            got.extend(s.push(part));
        }
        got.extend(s.finish());
        assert_eq!(got, one_shot, "chunk {chunk}");
    }
}

#[test]
fn redact_replaces_every_finding() {
    let d = detector();
    let a = format!("AKIA{}", upper_b32(16, 50));
    let b = format!("ghp_{}", rnd(36, 51));
    let text = format!("é {a} and {b} ü");
    let red = d.redact(&text);
    assert_eq!(
        red,
        "é [REDACTED:aws_access_key_id] and [REDACTED:github_pat_classic] ü"
    );
}

#[test]
fn policy_actions() {
    let text = format!("k=ghp_{}", rnd(36, 60));
    let block = LeakDetector::builder().build().unwrap();
    assert_eq!(block.action(), LeakAction::Block);
    let err = block.check(text.as_bytes()).unwrap_err();
    assert_eq!(err.kind(), SafetyErrorKind::LeakDetected);
    assert!(err.to_string().contains("github_pat_classic"));
    assert!(!err.to_string().contains(&text[6..]));
    let log = LeakDetector::builder()
        .action(LeakAction::Log)
        .build()
        .unwrap();
    assert_eq!(log.check(text.as_bytes()).unwrap().len(), 1);
    let error = LeakDetector::builder()
        .action(LeakAction::Error)
        .build()
        .unwrap();
    assert!(error.check(text.as_bytes()).is_err());
    assert!(error.check(b"clean").unwrap().is_empty());
}

#[test]
fn oversized_and_binary_input() {
    let d = detector();
    let mut big = vec![b'A'; 5_000_000];
    big.extend_from_slice(b"\xff\xfe\x00 ghp_");
    big.extend_from_slice(rnd(36, 70).as_bytes());
    let f = d.scan(&big);
    assert_eq!(f.len(), 1);
    assert_eq!(f[0].kind(), "github_pat_classic");
}

fn hexs_lower(n: usize, seed: u64) -> String {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            char::from(b"0123456789abcdef"[(x % 16) as usize])
        })
        .collect()
}

/// Formats added for coverage in the wild: each is found raw, in any surrounding
/// case, and when a stream splits it at every byte.
#[test]
fn more_formats_in_the_wild() {
    let cases: Vec<(String, &str)> = vec![
        (
            format!("client_secret = '{}8Q~{}'", &rnd(3, 40), rnd(34, 41)),
            "azure_ad_client_secret",
        ),
        (
            format!("token sgp_{}_{}", hexs_lower(16, 42), hexs_lower(40, 43)),
            "sourcegraph_token",
        ),
        (format!("root:$2b$12${}", rnd(53, 44)), "password_hash"),
        (
            format!("STREAM_KEY=live_126031192_{}", rnd(30, 45)),
            "twitch_stream_key",
        ),
        (
            format!("x dapi{} y", hexs_lower(32, 46)),
            "databricks_token",
        ),
        (format!("k=dp.st.{}", rnd(40, 47)), "doppler_token"),
        (
            format!("PMAK-{}-{}", hexs_lower(24, 48), hexs_lower(34, 49)),
            "postman_api_key",
        ),
        (format!("{}-us12", hexs_lower(32, 50)), "mailchimp_api_key"),
        (
            format!(
                "export BUNDLE_GEMS__CONTRIBSYS__COM=\"{}:{}\"",
                hexs_lower(8, 51),
                hexs_lower(8, 52)
            ),
            "sidekiq_secret",
        ),
        (
            "psexec \\\\10.0.0.5 -u Administrator -p Wint3r!Pass cmd".to_string(),
            "psexec_password",
        ),
        (
            "Server=db1;Database=app;User Id=svc;Password=Qx7!kd93Lp;".to_string(),
            "connection_string_password",
        ),
        (
            "machine api.example.net login bot password 9f8e7d6c5b4a".to_string(),
            "netrc_password",
        ),
        (
            format!("curl -H 'X-Api-Key: {}' https://x", rnd(32, 53)),
            "http_auth_header",
        ),
        (
            "https://cafebabe:deadbeef@gems.contribsys.com/".to_string(),
            "url_password",
        ),
        (
            "curl --user kevin:'pRf7vG2h1L8nQkW9' -X PATCH".to_string(),
            "http_basic_auth",
        ),
        (
            "SNYK_TOKEN = \"4e0cd3b1-8a1c-4a58-9d0b-3f1e7a2c9b6d\"".to_string(),
            "generic_secret",
        ),
    ];
    let d = detector();
    for (input, kind) in &cases {
        assert_eq!(kinds(&d, input), [*kind], "{input}");
        let upper = format!("PREFIX TEXT\n{input}\nSUFFIX");
        assert_eq!(kinds(&d, &upper), [*kind], "{upper}");
        let one_shot = d.scan(upper.as_bytes());
        for cut in 0..upper.len() {
            let mut s = d.stream();
            let mut got = s.push(&upper.as_bytes()[..cut]);
            got.extend(s.push(&upper.as_bytes()[cut..]));
            got.extend(s.finish());
            assert_eq!(got, one_shot, "{upper:?} cut at {cut}");
        }
    }
}

/// Look-alikes of the new and tightened rules stay quiet.
#[test]
fn tightened_rules_refuse_look_alikes() {
    for input in [
        // Placeholders in contexts that otherwise mean a password.
        "curl -u user:password https://x",
        "curl -i -u 'test:test'",
        "postgres://user:password@localhost/db",
        "Server=db;User Id=sa;Password=${DB_PASSWORD};",
        "Server=db;User Id=sa;Password=#{datastore['DBPASSWORD']};",
        // Keys that name something other than the secret.
        "access_token_url='https://github.com/login/oauth/access_token'",
        "passwordLabel:\"Password:\",rememberMeLabel:\"Remember me:\"",
        "CREDENTIALS_ID = \"K8S_CRED\"",
        "secret_length = X25519.secret_length",
        "publicToken = \"9Cnzj4p4WGeKLs1Pt8QuKUpRKfFLfRYC9AIKjbJTWit\"",
        // No value on this line; the next line is another key.
        "GITHUB_API_KEY=\nDYNATRACE_API_KEY=",
        // `group:artifact` and host:port are not assignments.
        "notes = \"Maven - io.jsonwebtoken:jjwt-jackson-0.11.2\"",
        "dev.credentials.url=dev-lb1.api.f4ke.com:5215",
        // Truncated values.
        "export OP_SERVICE_ACCOUNT_TOKEN=ops_eyJzaWduSW5BZGRyZXNzIjoiaHR0cHM6...",
        // Formats with the wrong shape.
        "xoxb-12345-abcd234",
        "xoxp-1234-1234-1234-4ddbc191d40ee098cbaae6f3523ada2d",
        "glptt-hellOworld380_testin",
        "-----BEGIN PRIVATE KEY-----\nanything\n-----END PRIVATE KEY-----",
        "-----BEGIN OPENSSH PRIVATE KEY----------END OPENSSH PRIVATE KEY-----",
        "GWw4hjABFzZCGiRpmlDyDdo87Jn9BN9THUA47muVRNunLxsa82tMAdvmrhOqNkRKiYMEAFbTJAIzaTesb6Tscfcni8vIpWZqNCXF",
    ] {
        check(input, &[]);
    }
    // The Anthropic format ends in `AA`; a different tail is not a key.
    let key = format!("sk-ant-api03-{}-{}", rnd(60, 60), rnd(31, 61));
    check(&format!("{key}BB"), &[]);
    check(&format!("{key}AA"), &["anthropic_api_key"]);
}
