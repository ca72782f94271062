//! The figures behind `cargo xtask bench audit`, in one run: durable events/s of the
//! group-commit writer next to a naive write+fsync-per-event writer at 1, 8 and 64
//! writers, and `show --last 100 --filter NETWORK_BLOCK` on a 1 GB log.
//!
//! Usage: `bench_report [WORK_DIR]` (default: a directory under the system temp dir;
//! the 1 GB log is generated once there and reused).
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../benches/workload/mod.rs"]
mod workload;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use ironclaw_audit::{AuditConfig, AuditReader, Query};

fn main() {
    let work = std::env::args().nth(1).map_or_else(
        || std::env::temp_dir().join("ironclaw-bench-audit"),
        PathBuf::from,
    );
    std::fs::create_dir_all(&work).unwrap();

    println!(
        "durable events/s (fdatasync before acknowledging), {}",
        work.display()
    );
    println!(
        "{:>8} {:>14} {:>14} {:>14} {:>8}",
        "writers", "group commit", "(+100us delay)", "naive", "ratio"
    );
    for writers in [1usize, 8, 64] {
        let ours = workload::ours(&work, writers, Duration::from_secs(3));
        let delayed = workload::ours_with(
            &work,
            writers,
            Duration::from_secs(3),
            AuditConfig::new(&work).commit_delay(Duration::from_micros(100)),
        );
        let naive = workload::naive(&work, writers, Duration::from_secs(3));
        println!(
            "{writers:>8} {ours:>14.0} {delayed:>14.0} {naive:>14.0} {:>7.1}x",
            ours / naive
        );
    }

    let big = work.join("big").join("audit.log");
    std::fs::create_dir_all(big.parent().unwrap()).unwrap();
    let target = 1024 * 1024 * 1024;
    if std::fs::metadata(&big).map_or(true, |m| m.len() < target) {
        let start = Instant::now();
        let lines = workload::generate_log(&big, target);
        println!(
            "generated {lines} lines ({} bytes) in {:.1?}",
            target,
            start.elapsed()
        );
    }
    let size = std::fs::metadata(&big).unwrap().len();
    let reader = AuditReader::new(&big);
    let query = Query::new().last(100).filter("NETWORK_BLOCK").unwrap();
    let mut best = Duration::MAX;
    for _ in 0..5 {
        let start = Instant::now();
        let found = reader.query(&query).unwrap();
        best = best.min(start.elapsed());
        assert_eq!(found.len(), 100);
    }
    println!(
        "show --last 100 --filter NETWORK_BLOCK on {:.2} GB: {:.1?} (best of 5)",
        size as f64 / 1e9,
        best
    );
}
