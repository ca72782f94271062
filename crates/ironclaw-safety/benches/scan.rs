#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]
//! Scanning throughput on one thread.
//!
//! Targets: leak scanning of clean text with 1,000 registered secrets plus every
//! built-in pattern at 1 GB/s or more; injection scanning of clean text at 400 MB/s
//! or more. The corpus is deterministic: code, logs and prose in equal parts.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use ironclaw_safety::{InjectionScanner, LeakDetector};

/// Bytes of text per measured iteration.
const CORPUS: usize = 4 << 20;
/// Registered secrets in the "known secrets" detector.
const SECRETS: usize = 1_000;

/// A small deterministic generator (SplitMix64), so runs compare.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[(self.next() % items.len() as u64) as usize]
    }
}

const WORDS: &[&str] = &[
    "the", "request", "server", "returned", "value", "user", "config", "file", "build", "system",
    "network", "memory", "process", "result", "error", "data", "model", "agent", "message",
    "channel", "policy", "before", "after", "while", "because", "should", "would", "report",
    "update", "window", "history", "service", "customer", "invoice", "payment", "schedule",
    "meeting", "project", "review", "change", "branch", "commit", "release", "version", "feature",
    "support", "answer", "question", "example", "notes",
];

const CODE: &[&str] = &[
    "fn handle(req: &Request) -> Result<Response, Error> {",
    "    let mut buf = Vec::with_capacity(1024);",
    "    for item in items.iter().filter(|i| i.enabled) {",
    "        total += item.price * item.quantity;",
    "    }",
    "    if let Some(user) = session.user() { return Ok(user.id); }",
    "def parse_args(argv):",
    "    parser = argparse.ArgumentParser(description=\"sync tool\")",
    "    return {k: v for k, v in pairs if v is not None}",
    "const response = await fetch(url, { method: 'POST', body });",
    "import { useState, useEffect } from 'react';",
    "SELECT id, name, created_at FROM accounts WHERE region = $1 ORDER BY id;",
    "}",
];

const LOGS: &[&str] = &[
    "INFO  http: GET /api/v1/items 200 12ms",
    "WARN  pool: connection reset by peer, retrying (attempt 2)",
    "DEBUG cache: miss for key user:4821:profile",
    "ERROR worker: job 991 failed: timeout after 30s",
    "INFO  scheduler: next run at 2024-05-01T12:00:00Z",
];

/// Clean mixed text: prose, code and log lines in turn, no credentials.
fn corpus(len: usize) -> String {
    let mut rng = Rng(42);
    let mut out = String::with_capacity(len + 256);
    while out.len() < len {
        match rng.next() % 3 {
            0 => {
                for i in 0..12 {
                    if i > 0 {
                        out.push(' ');
                    }
                    out.push_str(rng.pick(WORDS));
                }
                out.push_str(".\n");
            }
            1 => {
                out.push_str(rng.pick(CODE));
                out.push('\n');
            }
            _ => {
                out.push_str("2024-05-01 12:00:");
                out.push_str(&format!("{:02}", rng.next() % 60));
                out.push(' ');
                out.push_str(rng.pick(LOGS));
                out.push('\n');
            }
        }
    }
    out
}

fn secrets(n: usize) -> Vec<String> {
    let mut rng = Rng(7);
    (0..n)
        .map(|_| format!("s3cr3t-{:016x}{:08x}", rng.next(), rng.next() as u32))
        .collect()
}

fn leaks(c: &mut Criterion) {
    let text = corpus(CORPUS);
    let builtin = LeakDetector::with_builtin_patterns().unwrap();
    let known = LeakDetector::builder()
        .known_secrets(secrets(SECRETS))
        .build()
        .unwrap();
    assert!(
        known.scan(text.as_bytes()).is_empty(),
        "corpus must be clean"
    );
    let mut g = c.benchmark_group("leak_clean");
    g.throughput(Throughput::Bytes(text.len() as u64));
    g.bench_function("builtin", |b| {
        b.iter(|| black_box(builtin.scan(black_box(text.as_bytes()))))
    });
    g.bench_function("builtin_and_1000_known", |b| {
        b.iter(|| black_box(known.scan(black_box(text.as_bytes()))))
    });
    g.bench_function("stream_64k_chunks", |b| {
        b.iter(|| {
            let mut s = known.stream();
            let mut n = 0;
            for chunk in text.as_bytes().chunks(64 * 1024) {
                n += s.push(chunk).len();
            }
            black_box(n + s.finish().len())
        })
    });
    g.finish();
}

fn injection(c: &mut Criterion) {
    let scanner = InjectionScanner::new().unwrap();
    let ascii = corpus(CORPUS);
    assert!(scanner.scan(&ascii).is_clean(), "corpus must be clean");
    // Mostly ASCII with some accented and CJK text, as in multilingual mail.
    let mut mixed = String::with_capacity(CORPUS + 1024);
    for (i, line) in ascii.lines().enumerate() {
        mixed.push_str(line);
        if i % 10 == 0 {
            mixed.push_str(" Café déjà vu, naïve résumé — 会议在周三。");
        }
        mixed.push('\n');
    }
    let mut g = c.benchmark_group("injection_clean");
    g.throughput(Throughput::Bytes(ascii.len() as u64));
    g.bench_function("ascii", |b| {
        b.iter(|| black_box(scanner.scan(black_box(&ascii))))
    });
    g.throughput(Throughput::Bytes(mixed.len() as u64));
    g.bench_function("mixed_unicode", |b| {
        b.iter(|| black_box(scanner.scan(black_box(&mixed))))
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(10);
    targets = leaks, injection
}
criterion_main!(benches);
