//! Properties: scanners never panic, spans are char boundaries, streaming equals
//! one-shot scanning whatever the chunking.

use std::sync::OnceLock;

use ironclaw_safety::{InjectionScanner, LeakDetector, Sanitizer};
use proptest::prelude::*;

fn leaks() -> &'static LeakDetector {
    static D: OnceLock<LeakDetector> = OnceLock::new();
    D.get_or_init(|| {
        LeakDetector::builder()
            .known_secret("prop-secret-value-42")
            .build()
            .unwrap()
    })
}

fn injection() -> &'static InjectionScanner {
    static S: OnceLock<InjectionScanner> = OnceLock::new();
    S.get_or_init(|| InjectionScanner::new().unwrap())
}

/// Text built from fragments that exercise the rules, plus arbitrary characters.
fn texty() -> impl Strategy<Value = String> {
    let fragments = prop::sample::select(vec![
        "ghp_",
        "AKIA",
        "xoxb-",
        "eyJ",
        "://",
        "user:",
        "@",
        "-----BEGIN ",
        "PRIVATE KEY-----",
        "password=",
        "Basic ",
        "prop-secret-value-42",
        "cHJvcC1zZWNyZXQtdmFsdWUtNDI",
        "ignore ",
        "all previous instructions",
        "і",
        "\u{200B}",
        "\u{202E}",
        "忽略",
        "指令",
        " a b c d e ",
        "-",
        "\n",
        "é",
        "🙂",
        "sk-",
        "SG.",
        "AAAAAAAAAA",
        "0123456789abcdef",
        "=",
        "\"",
    ]);
    prop::collection::vec(
        prop_oneof![
            fragments.prop_map(String::from),
            any::<String>(),
            "[A-Za-z0-9+/]{1,40}"
        ],
        0..40,
    )
    .prop_map(|parts| parts.concat())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn leak_scan_never_panics_on_bytes(bytes in prop::collection::vec(any::<u8>(), 0..2000)) {
        let _ = leaks().scan(&bytes);
    }

    #[test]
    fn leak_spans_are_char_boundaries(text in texty()) {
        for f in leaks().scan_str(&text) {
            prop_assert!(f.span().start < f.span().end && f.span().end <= text.len());
            prop_assert!(text.is_char_boundary(f.span().start));
            prop_assert!(text.is_char_boundary(f.span().end));
        }
        let _ = leaks().redact(&text);
    }

    #[test]
    fn streaming_equals_one_shot(text in texty(), cuts in prop::collection::vec(0usize..3000, 0..8)) {
        let bytes = text.as_bytes();
        let one_shot = leaks().scan(bytes);
        let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c.min(bytes.len())).collect();
        cuts.sort_unstable();
        let mut stream = leaks().stream();
        let mut got = Vec::new();
        let mut at = 0;
        for c in cuts.into_iter().chain([bytes.len()]) {
            got.extend(stream.push(&bytes[at..c]));
            at = c;
        }
        got.extend(stream.finish());
        prop_assert_eq!(got, one_shot);
    }

    #[test]
    fn injection_never_panics_and_spans_are_boundaries(text in texty()) {
        let report = injection().scan(&text);
        for f in report.findings() {
            prop_assert!(f.span().start <= f.span().end && f.span().end <= text.len());
            prop_assert!(text.is_char_boundary(f.span().start));
            prop_assert!(text.is_char_boundary(f.span().end));
        }
        let _ = Sanitizer.sanitize(&text, report.findings());
    }

    #[test]
    fn injection_never_panics_on_lossy_bytes(bytes in prop::collection::vec(any::<u8>(), 0..2000)) {
        let text = String::from_utf8_lossy(&bytes);
        let _ = injection().scan(&text);
    }
}

/// Streaming over a long input with the stream's scan block crossed many times.
#[test]
fn streaming_equals_one_shot_on_large_input() {
    let mut text = String::new();
    for i in 0..20_000 {
        text.push_str(&format!(
            "line {i} prop-secret-value-42 ghp_{:036} x://u:p4ssw0rdXYZ@h\n",
            i
        ));
    }
    let one_shot = leaks().scan(text.as_bytes());
    assert!(one_shot.len() >= 20_000);
    let mut stream = leaks().stream();
    let mut got = Vec::new();
    for chunk in text.as_bytes().chunks(10_007) {
        got.extend(stream.push(chunk));
    }
    got.extend(stream.finish());
    assert_eq!(got, one_shot);
}
