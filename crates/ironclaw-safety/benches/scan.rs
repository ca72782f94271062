#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]
//! Scanning throughput on one thread.
//!
//! Targets: leak scanning of clean text with 1,000 registered secrets plus every
//! built-in pattern at 1 GB/s or more; injection scanning of clean text at 400 MB/s
//! or more. The corpus is deterministic: code, logs and prose in equal parts.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use ironclaw_safety::{InjectionScanner, LeakDetector};

#[path = "corpus.rs"]
mod corpus;
use corpus::{corpus, mixed, secrets};

/// Bytes of text per measured iteration.
const CORPUS: usize = 4 << 20;
/// Registered secrets in the "known secrets" detector.
const SECRETS: usize = 1_000;

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
    let mixed = mixed(&ascii);
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
