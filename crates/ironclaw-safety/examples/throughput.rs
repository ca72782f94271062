//! Scanning throughput in CPU time of this thread, for a machine that is busy with
//! other work (criterion's wall-clock figures are the reference on a quiet one).
//!
//! `cargo run --release -p ironclaw-safety --example throughput [ROUNDS [NAME]]`
//!
//! Linux only: reads the thread's CPU time from `/proc/thread-self/schedstat`.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::hint::black_box;

use ironclaw_safety::{InjectionScanner, LeakDetector};

#[path = "../benches/corpus.rs"]
mod corpus;

/// Nanoseconds this thread has run on a CPU.
fn cpu_ns() -> u64 {
    let stat = std::fs::read_to_string("/proc/thread-self/schedstat").expect("schedstat");
    stat.split_whitespace().next().unwrap().parse().unwrap()
}

fn report(name: &str, bytes: usize, rounds: usize, mut scan: impl FnMut() -> usize) {
    let only = std::env::args().nth(2).unwrap_or_default();
    if !name.contains(&only) {
        return;
    }
    black_box(scan());
    let start = cpu_ns();
    let mut found = 0;
    for _ in 0..rounds {
        found += scan();
    }
    let ns = (cpu_ns() - start) as f64;
    let mb_s = (bytes * rounds) as f64 / ns * 1e3;
    println!("{name:<28} {mb_s:>8.0} MB/s  ({found} findings)");
}

fn main() {
    let rounds = std::env::args().nth(1).map_or(20, |a| a.parse().unwrap());
    let text = corpus::corpus(4 << 20);
    let mixed = corpus::mixed(&text);
    let builtin = LeakDetector::with_builtin_patterns().unwrap();
    let known = LeakDetector::builder()
        .known_secrets(corpus::secrets(1_000))
        .build()
        .unwrap();
    let built = std::time::Instant::now();
    let injection = InjectionScanner::new().unwrap();
    println!(
        "{:<28} {:>8.1} ms",
        "injection scanner built",
        built.elapsed().as_secs_f64() * 1e3
    );
    let bytes = text.as_bytes();
    report("leak builtin", bytes.len(), rounds, || {
        builtin.scan(bytes).len()
    });
    report("leak builtin + 1000 known", bytes.len(), rounds, || {
        known.scan(bytes).len()
    });
    report("injection ascii", bytes.len(), rounds, || {
        injection.scan(&text).findings().len()
    });
    report("injection mixed unicode", mixed.len(), rounds, || {
        injection.scan(&mixed).findings().len()
    });
}
