//! The deterministic clean corpus shared by the criterion bench and the
//! `throughput` example: code, logs and prose in equal parts, no credentials.
#![allow(dead_code)]

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
pub(crate) fn corpus(len: usize) -> String {
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

pub(crate) fn secrets(n: usize) -> Vec<String> {
    let mut rng = Rng(7);
    (0..n)
        .map(|_| format!("s3cr3t-{:016x}{:08x}", rng.next(), rng.next() as u32))
        .collect()
}

/// Mostly ASCII with some accented and CJK text, as in multilingual mail.
pub(crate) fn mixed(ascii: &str) -> String {
    let mut mixed = String::with_capacity(ascii.len() + ascii.len() / 8);
    for (i, line) in ascii.lines().enumerate() {
        mixed.push_str(line);
        if i % 10 == 0 {
            mixed.push_str(" Café déjà vu, naïve résumé — 会议在周三。");
        }
        mixed.push('\n');
    }
    mixed
}
