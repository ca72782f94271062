//! Shared by the criterion bench and the `bench_report` example: the naive writer to
//! compare against, the concurrent load driver, and the large-log generator.
#![allow(
    dead_code,
    missing_debug_implementations,
    clippy::unwrap_used,
    clippy::expect_used
)]

use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ironclaw_audit::{AuditConfig, AuditLog, Event, EventKind};

/// The obvious durable writer: one `write` and one `fdatasync` per event, under a lock.
pub(crate) struct NaiveWriter {
    file: Mutex<File>,
}

impl NaiveWriter {
    pub(crate) fn open(path: &Path) -> Self {
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .unwrap();
        Self {
            file: Mutex::new(file),
        }
    }

    pub(crate) fn record(&self, line: &[u8]) {
        let mut file = self.file.lock().unwrap();
        file.write_all(line).unwrap();
        file.sync_data().unwrap();
    }
}

pub(crate) fn event(i: u64) -> Event {
    Event::builder(EventKind::SkillCall)
        .session_id("sess_bench")
        .skill("github")
        .action("invoke")
        .resource("api.github.com:443")
        .field("n", i)
        .build()
        .unwrap()
}

/// Runs `writers` threads for about `duration`; returns durable events per second.
pub(crate) fn run_load(
    writers: usize,
    duration: Duration,
    record: Arc<dyn Fn(u64) + Send + Sync>,
) -> f64 {
    let start = Instant::now();
    let deadline = start + duration;
    let threads: Vec<_> = (0..writers)
        .map(|_| {
            let record = Arc::clone(&record);
            std::thread::spawn(move || {
                let mut count = 0u64;
                while Instant::now() < deadline {
                    record(count);
                    count += 1;
                }
                count
            })
        })
        .collect();
    let total: u64 = threads.into_iter().map(|t| t.join().unwrap()).sum();
    total as f64 / start.elapsed().as_secs_f64()
}

/// Events per second of the group-commit writer with `writers` threads.
pub(crate) fn ours(dir: &Path, writers: usize, duration: Duration) -> f64 {
    ours_with(dir, writers, duration, AuditConfig::new(dir.join("unused")))
}

/// Like [`ours`] with the settings of `config` (its path is replaced).
pub(crate) fn ours_with(
    dir: &Path,
    writers: usize,
    duration: Duration,
    config: AuditConfig,
) -> f64 {
    let path = dir.join(format!("ours-{writers}.log"));
    let _ = std::fs::remove_file(&path);
    let log = AuditLog::open(config.with_path(&path).max_size_mb(0)).unwrap();
    let rate = run_load(
        writers,
        duration,
        Arc::new(move |i| log.record(event(i)).unwrap()),
    );
    let _ = std::fs::remove_file(&path);
    rate
}

/// Events per second of [`NaiveWriter`] with `writers` threads.
pub(crate) fn naive(dir: &Path, writers: usize, duration: Duration) -> f64 {
    let path = dir.join(format!("naive-{writers}.log"));
    let writer = NaiveWriter::open(&path);
    let line = br#"{"ts":"2026-04-06T11:23:01.447Z","event":"SKILL_CALL","sessionId":"sess_bench","skill":"github","action":"invoke","resource":"api.github.com:443","granted":[],"blocked":false,"n":1,"prev":"0000000000000000000000000000000000000000000000000000000000000000"}
"#;
    let rate = run_load(writers, duration, Arc::new(move |_| writer.record(line)));
    let _ = std::fs::remove_file(&path);
    rate
}

/// Writes a chained log of at least `bytes` directly (no fsync per line), where one
/// line in 50 is a NETWORK_BLOCK. Returns the number of lines.
pub(crate) fn generate_log(path: &Path, bytes: u64) -> u64 {
    let mut out = BufWriter::with_capacity(1 << 20, File::create(path).unwrap());
    let mut prev = [0u8; 32];
    let mut written = 0u64;
    let mut lines = 0u64;
    let base_ms: i64 = 1_775_000_000_000;
    while written < bytes {
        let event = if lines % 50 == 49 {
            "NETWORK_BLOCK"
        } else {
            "SKILL_CALL"
        };
        let ms = base_ms + (lines as i64);
        let ts =
            time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000).unwrap();
        let line = format!(
            "{{\"ts\":\"{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z\",\"event\":\"{event}\",\"sessionId\":\"sess_{}\",\"skill\":\"github\",\"action\":\"network\",\"resource\":\"api.github.com:443\",\"granted\":[\"api.github.com:443\"],\"blocked\":false,\"n\":{lines},\"prev\":\"{}\"}}",
            ts.year(),
            u8::from(ts.month()),
            ts.day(),
            ts.hour(),
            ts.minute(),
            ts.second(),
            ts.millisecond(),
            lines % 1000,
            hex::encode(prev)
        );
        prev.copy_from_slice(ring::digest::digest(&ring::digest::SHA256, line.as_bytes()).as_ref());
        out.write_all(line.as_bytes()).unwrap();
        out.write_all(b"\n").unwrap();
        written += line.len() as u64 + 1;
        lines += 1;
    }
    out.flush().unwrap();
    lines
}
