//! Test helper for the crash test: writes events from many threads and prints each
//! event's id on stdout only after `record` returned, until it is killed.
//!
//! Usage: `crash_writer LOG_PATH THREADS MAX_SIZE_BYTES`
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Write;
use std::sync::Arc;

use ironclaw_audit::{AuditConfig, AuditLog, Event, EventKind};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let path = &args[0];
    let threads: usize = args[1].parse().unwrap();
    let max_size: u64 = args[2].parse().unwrap();
    let run = std::process::id();
    let log = Arc::new(AuditLog::open(AuditConfig::new(path).max_size_bytes(max_size)).unwrap());
    let workers: Vec<_> = (0..threads)
        .map(|t| {
            let log = Arc::clone(&log);
            std::thread::spawn(move || {
                for seq in 0u64.. {
                    let id = format!("{run}-{t}-{seq}");
                    let event = Event::builder(EventKind::SkillCall)
                        .skill("crash")
                        .field("id", id.as_str())
                        .build()
                        .unwrap();
                    log.record(event).unwrap();
                    let mut out = std::io::stdout().lock();
                    writeln!(out, "{id}").unwrap();
                    out.flush().unwrap();
                }
            })
        })
        .collect();
    for worker in workers {
        worker.join().unwrap();
    }
}
