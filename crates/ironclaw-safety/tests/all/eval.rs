//! Detection quality on the public evaluation sets in `<repo>/../shared/evalsets`.
//!
//! Prints recall and false-positive rates per set and asserts floors a little below
//! what the detectors achieve, so a regression fails the build. The floors are
//! general quality bars, not a fit to individual lines.

use std::collections::BTreeMap;
use std::path::PathBuf;

use ironclaw_safety::{InjectionScanner, LeakDetector};
use serde_json::Value;

fn evalsets() -> PathBuf {
    // `<repo>/../shared` (CI, main checkout); worktrees sit one level deeper.
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let dir = ["../../../shared/evalsets", "../../../../shared/evalsets"]
        .iter()
        .map(|rel| manifest.join(rel))
        .find(|d| d.is_dir())
        .unwrap_or_else(|| manifest.join("../../../shared/evalsets"));
    assert!(
        dir.is_dir(),
        "evaluation sets not found at {}: clone the repository beside `shared/` (as CI does)",
        dir.display()
    );
    dir
}

fn rows(rel: &str) -> Vec<Value> {
    let path = evalsets().join(rel);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// With `EVAL_SHOW=1` in the environment, misses and false positives are printed
/// (truncated) for inspection.
fn show(what: &str, text: &str, detail: &str) {
    if std::env::var_os("EVAL_SHOW").is_some() {
        let short: String = text.chars().take(160).collect();
        println!("{what}: {detail} {short:?}");
    }
}

fn rate(hit: usize, n: usize) -> f64 {
    if n == 0 { 0.0 } else { hit as f64 / n as f64 }
}

#[test]
fn secrets_evalset() {
    let detector = LeakDetector::with_builtin_patterns().unwrap();
    let mut by_conf: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    for row in rows("secrets/positives.jsonl") {
        let text = row["text"].as_str().unwrap();
        let conf = row["label_confidence"].as_str().unwrap_or("?").to_string();
        let e = by_conf.entry(conf).or_default();
        e.1 += 1;
        if !detector.scan_str(text).is_empty() {
            e.0 += 1;
        } else {
            let kind = row["kind"].as_str().unwrap_or("?");
            show(&format!("FN {}", row["label_confidence"]), text, kind);
        }
    }
    let mut neg = BTreeMap::<String, (usize, usize)>::new();
    for (file, label) in [
        ("secrets/negatives.jsonl", "negatives"),
        ("secrets/negatives_ambiguous.jsonl", "negatives_ambiguous"),
    ] {
        for row in rows(file) {
            let text = row["text"].as_str().unwrap();
            let e = neg.entry(label.to_string()).or_default();
            e.1 += 1;
            let found = detector.scan_str(text);
            if !found.is_empty() {
                e.0 += 1;
                let kinds: Vec<&str> = found.iter().map(|f| f.kind()).collect();
                show(&format!("FP {label}"), text, &kinds.join(","));
            }
        }
    }
    for (conf, (hit, n)) in &by_conf {
        println!(
            "secrets positives [{conf}]: recall {:.3} ({hit}/{n})",
            rate(*hit, *n)
        );
    }
    for (set, (hit, n)) in &neg {
        println!(
            "secrets {set}: false-positive rate {:.3} ({hit}/{n})",
            rate(*hit, *n)
        );
    }
    let (hit, n) = by_conf["format_valid"];
    assert!(
        rate(hit, n) >= RECALL_FLOOR,
        "format-valid recall fell: {hit}/{n}"
    );
    let (hit, n) = neg["negatives"];
    assert!(
        rate(hit, n) <= FPR_CEILING,
        "false-positive rate rose: {hit}/{n}"
    );
}

const RECALL_FLOOR: f64 = 0.77;
const FPR_CEILING: f64 = 0.02;

#[test]
fn prompt_injection_evalset() {
    let scanner = InjectionScanner::new().unwrap();
    let mut by_subset: BTreeMap<(String, String), (usize, usize)> = BTreeMap::new();
    let mut totals: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    for row in rows("prompt_injection/prompt_injection.jsonl") {
        let text = row["text"].as_str().unwrap();
        let label = row["label"].as_str().unwrap().to_string();
        let subset = row["subset"].as_str().unwrap().to_string();
        let report = scanner.scan(text);
        let flagged = !report.is_clean();
        if flagged != (label == "injection") {
            let ids: Vec<&str> = report.findings().iter().map(|f| f.pattern_id()).collect();
            show(&format!("MISS {label}/{subset}"), text, &ids.join(","));
        }
        for e in [
            by_subset.entry((label.clone(), subset)).or_default(),
            totals.entry(label).or_default(),
        ] {
            e.1 += 1;
            e.0 += usize::from(flagged);
        }
    }
    for ((label, subset), (hit, n)) in &by_subset {
        let what = if label == "injection" {
            "recall"
        } else {
            "false-positive rate"
        };
        println!(
            "prompt_injection {label}/{subset}: {what} {:.3} ({hit}/{n})",
            rate(*hit, *n)
        );
    }
    let (hit, n) = totals["injection"];
    println!(
        "prompt_injection all injection: recall {:.3} ({hit}/{n})",
        rate(hit, n)
    );
    assert!(
        rate(hit, n) >= INJECTION_RECALL_FLOOR,
        "injection recall fell: {hit}/{n}"
    );
    let (hit, n) = totals["benign"];
    println!(
        "prompt_injection all benign: false-positive rate {:.3} ({hit}/{n})",
        rate(hit, n)
    );
    assert!(
        rate(hit, n) <= INJECTION_FPR_CEILING,
        "injection false positives rose: {hit}/{n}"
    );
}

const INJECTION_RECALL_FLOOR: f64 = 0.71;
const INJECTION_FPR_CEILING: f64 = 0.002;
