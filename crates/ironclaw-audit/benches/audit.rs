//! Durable events/s with 1, 8 and 64 writers, group commit next to a naive
//! write+fsync-per-event writer; and `show --last 100 --filter X` on a large log.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod workload;

use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use ironclaw_audit::{AuditReader, Query};

fn durable_writes(c: &mut Criterion) {
    let dir = tempfile::tempdir_in(std::env::temp_dir()).unwrap();
    let mut group = c.benchmark_group("durable_events");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(3))
        .warm_up_time(Duration::from_millis(500));
    for writers in [1usize, 8, 64] {
        group.throughput(Throughput::Elements(1));
        group.bench_function(format!("group_commit/{writers}_writers"), |b| {
            b.iter_custom(|iters| {
                // One "iteration" is one durable event; time = iters / measured rate.
                let rate = workload::ours(dir.path(), writers, Duration::from_millis(200));
                Duration::from_secs_f64(iters as f64 / rate)
            });
        });
        group.bench_function(format!("naive_fsync_per_event/{writers}_writers"), |b| {
            b.iter_custom(|iters| {
                let rate = workload::naive(dir.path(), writers, Duration::from_millis(200));
                Duration::from_secs_f64(iters as f64 / rate)
            });
        });
    }
    group.finish();
}

fn show_last(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.log");
    workload::generate_log(&path, 64 * 1024 * 1024);
    let reader = AuditReader::new(&path);
    let query = Query::new().last(100).filter("NETWORK_BLOCK").unwrap();
    let mut group = c.benchmark_group("show");
    group.sample_size(20);
    group.bench_function("last_100_filter_network_block_64MB", |b| {
        b.iter(|| {
            let found = reader.query(&query).unwrap();
            assert_eq!(found.len(), 100);
        });
    });
    group.finish();
}

criterion_group!(benches, durable_writes, show_last);
criterion_main!(benches);
