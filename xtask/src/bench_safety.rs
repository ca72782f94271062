//! `cargo xtask bench safety`: IronClaw's leak scanner against `ripsecrets` (crates.io)
//! and `detect-secrets` (PyPI) on the same corpus, whole-process, in one run.
//!
//! The corpus is generated deterministically (fixed seed): about 100 MB of code, logs
//! and prose written as a directory of files in a temporary directory, with
//! credentials of the built-in kinds planted on known lines and look-alikes that are
//! not secrets (hashes, commit ids, UUIDs, SRI digests, public keys, placeholders)
//! mixed in. All three tools get that directory: `ironclaw scan leaks --json DIR`
//! (which walks it file by file, on one thread), `ripsecrets DIR` (which walks it in
//! parallel, one thread per core) and `detect-secrets scan --all-files .` run in DIR.
//!
//! For each tool it prints wall time, MB/s, findings, how many planted secrets were
//! reported (a secret counts when the tool reports a line it occupies) and how many
//! other lines were reported, then per-kind recall and the speed ratios.
//!
//! Peers are installed when missing: `cargo install ripsecrets --locked` and a venv
//! with `pip install detect-secrets`, both under `<target>/bench-tools/`. A tool
//! already on `PATH` is used as it is.

use std::collections::{BTreeMap, HashSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Instant;

use anyhow::{Context, Result, bail};
use serde_json::Value;

/// Corpus size in bytes (decimal MB, as MB/s is reported).
const CORPUS_BYTES: usize = 100_000_000;
/// Size of one corpus file.
const FILE_BYTES: usize = 256 * 1024;
/// Mean distance between planted secrets, in bytes.
const SECRET_EVERY: u64 = 64 * 1024;
/// Mean distance between look-alikes that are not secrets, in bytes.
const DECOY_EVERY: u64 = 8 * 1024;

pub(crate) fn run(root: &Path) -> Result<()> {
    let ironclaw = crate::release_cli(root)?;
    let tools = crate::target_dir(root).join("bench-tools");
    let ripsecrets = ensure_ripsecrets(&tools)?;
    let detect_secrets = ensure_detect_secrets(&tools)?;

    let work = std::env::temp_dir().join(format!("ironclaw-bench-safety-{}", std::process::id()));
    std::fs::create_dir_all(&work)?;
    let result = run_in(&work, &ironclaw, &ripsecrets, &detect_secrets);
    let _ = std::fs::remove_dir_all(&work);
    result
}

fn run_in(work: &Path, ironclaw: &Path, ripsecrets: &Path, detect_secrets: &Path) -> Result<()> {
    let corpus_dir = work.join("corpus");
    let started = Instant::now();
    let corpus = Corpus::generate(&corpus_dir)?;
    let kinds: HashSet<&str> = corpus.planted.iter().map(|p| p.kind).collect();
    println!(
        "bench safety: corpus {:.1} MB in {} files (code, logs, prose; seed fixed), \
         {} secrets of {} kinds planted, {} look-alikes; generated in {:.1} s",
        corpus.bytes as f64 / 1e6,
        corpus.files.len(),
        corpus.planted.len(),
        kinds.len(),
        corpus.decoys,
        started.elapsed().as_secs_f64()
    );
    // Warm the page cache so the first tool does not pay for the disk.
    for file in &corpus.files {
        std::fs::read(corpus_dir.join(file))?;
    }
    let home = work.join("home");
    std::fs::create_dir_all(&home)?;
    let cores = std::thread::available_parallelism().map_or(1, usize::from);

    let mut results = Vec::new();
    let dir = corpus_dir.to_string_lossy().into_owned();
    let (secs, out) = timed(
        Command::new(ironclaw)
            .arg("--home")
            .arg(&home)
            .args(["scan", "leaks", "--json", &dir]),
        "ironclaw scan leaks",
    )?;
    results.push(Measured::new(
        "ironclaw",
        "1 thread",
        secs,
        ironclaw_lines(&out.stdout, &corpus_dir)?,
    ));
    let (secs, out) = timed(Command::new(ripsecrets).arg(&dir), "ripsecrets")?;
    results.push(Measured::new(
        "ripsecrets",
        if cores == 1 { "1 thread" } else { "parallel" },
        secs,
        ripsecrets_lines(&out.stdout, &corpus_dir),
    ));
    let (secs, out) = timed(
        Command::new(detect_secrets)
            .args(["scan", "--all-files", "."])
            .current_dir(&corpus_dir),
        "detect-secrets scan",
    )?;
    results.push(Measured::new(
        "detect-secrets",
        "1 thread",
        secs,
        detect_secrets_lines(&out.stdout)?,
    ));

    let mb = corpus.bytes as f64 / 1e6;
    println!(
        "{:<15} {:>9} {:>9} {:>9} {:>9} {:>16} {:>12}",
        "tool", "threads", "wall s", "MB/s", "findings", "planted found", "other lines"
    );
    let mut per_kind: BTreeMap<&str, Vec<(usize, usize)>> = BTreeMap::new();
    for m in &results {
        let (found, other) = corpus.score(&m.lines, &mut per_kind);
        println!(
            "{:<15} {:>9} {:>9.2} {:>9.1} {:>9} {:>9}/{:<6} {:>12}",
            m.name,
            m.threads,
            m.secs,
            mb / m.secs,
            m.lines.len(),
            found,
            corpus.planted.len(),
            other
        );
    }
    let mut line = String::from("recall per kind (ironclaw / ripsecrets / detect-secrets):");
    for (kind, counts) in &per_kind {
        let n = counts.first().map_or(0, |c| c.1);
        let hits: Vec<String> = counts.iter().map(|c| c.0.to_string()).collect();
        let _ = write!(line, "\n  {kind:<26} {} of {n}", hits.join(" / "));
    }
    println!("{line}");
    let ours = &results[0];
    for peer in &results[1..] {
        println!(
            "ironclaw vs {}: {:.1}x the throughput ({:.1} vs {:.1} MB/s)",
            peer.name,
            peer.secs / ours.secs,
            mb / ours.secs,
            mb / peer.secs
        );
    }
    Ok(())
}

/// Runs a command to completion and times it; exit 0 (clean) and 1 (found) are
/// both success for these scanners.
fn timed(cmd: &mut Command, what: &str) -> Result<(f64, Output)> {
    let started = Instant::now();
    let out = cmd.output().with_context(|| format!("cannot run {what}"))?;
    let secs = started.elapsed().as_secs_f64();
    if !matches!(out.status.code(), Some(0 | 1)) {
        bail!(
            "{what} failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok((secs, out))
}

struct Measured {
    name: &'static str,
    threads: &'static str,
    secs: f64,
    /// Reported (file relative to the corpus, 1-based line) pairs.
    lines: HashSet<(String, usize)>,
}

impl Measured {
    fn new(
        name: &'static str,
        threads: &'static str,
        secs: f64,
        lines: HashSet<(String, usize)>,
    ) -> Self {
        Self {
            name,
            threads,
            secs: secs.max(1e-6),
            lines,
        }
    }
}

fn relative(path: &str, corpus: &Path) -> String {
    let p = Path::new(path);
    let p = p.strip_prefix(corpus).unwrap_or(p);
    let p = p.strip_prefix(".").unwrap_or(p);
    p.to_string_lossy().into_owned()
}

/// `{"findings":[{"path","start",...}]}`: byte offsets mapped to lines.
fn ironclaw_lines(stdout: &[u8], corpus: &Path) -> Result<HashSet<(String, usize)>> {
    let v: Value = serde_json::from_slice(stdout).context("ironclaw printed invalid JSON")?;
    let mut cache: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    let mut out = HashSet::new();
    for f in v["findings"].as_array().into_iter().flatten() {
        let (Some(path), Some(start)) = (f["path"].as_str(), f["start"].as_u64()) else {
            bail!("ironclaw finding without path or start: {f}");
        };
        let rel = relative(path, corpus);
        if !cache.contains_key(&rel) {
            let data = std::fs::read(corpus.join(&rel))?;
            let newlines = memchr_all(&data);
            cache.insert(rel.clone(), newlines);
        }
        let newlines = &cache[&rel];
        let line = newlines.partition_point(|&n| n < start as usize) + 1;
        out.insert((rel, line));
    }
    Ok(out)
}

fn memchr_all(data: &[u8]) -> Vec<usize> {
    data.iter()
        .enumerate()
        .filter(|(_, b)| **b == b'\n')
        .map(|(i, _)| i)
        .collect()
}

/// grep-style `path:line:text` lines.
fn ripsecrets_lines(stdout: &[u8], corpus: &Path) -> HashSet<(String, usize)> {
    let text = String::from_utf8_lossy(stdout);
    let mut out = HashSet::new();
    for line in text.lines() {
        let mut parts = line.splitn(3, ':');
        let (Some(path), Some(n)) = (parts.next(), parts.next()) else {
            continue;
        };
        if let Ok(n) = n.parse::<usize>() {
            out.insert((relative(path, corpus), n));
        }
    }
    out
}

/// The baseline JSON: `{"results": {path: [{"line_number": N, ...}]}}`.
fn detect_secrets_lines(stdout: &[u8]) -> Result<HashSet<(String, usize)>> {
    let v: Value = serde_json::from_slice(stdout).context("detect-secrets printed invalid JSON")?;
    let mut out = HashSet::new();
    let Some(results) = v["results"].as_object() else {
        bail!("detect-secrets output has no `results` object");
    };
    for (path, list) in results {
        let rel = relative(path, Path::new("."));
        for r in list.as_array().into_iter().flatten() {
            if let Some(n) = r["line_number"].as_u64() {
                out.insert((rel.clone(), n as usize));
            }
        }
    }
    Ok(out)
}

// ---------------------------------------------------------------------------------
// Peers.

fn on_path(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join(name))
            .find(|p| p.is_file())
    })
}

fn ensure_ripsecrets(tools: &Path) -> Result<PathBuf> {
    if let Some(p) = on_path("ripsecrets") {
        return Ok(p);
    }
    let bin = tools.join("bin/ripsecrets");
    if bin.is_file() {
        return Ok(bin);
    }
    println!("xtask: installing ripsecrets into {}", tools.display());
    let status = Command::new(env!("CARGO"))
        .args(["install", "ripsecrets", "--locked", "--root"])
        .arg(tools)
        .status()
        .context("cannot run cargo install")?;
    if !status.success() || !bin.is_file() {
        bail!(
            "cannot install ripsecrets (`cargo install ripsecrets --locked --root {}` failed); \
             install it yourself and put it on PATH",
            tools.display()
        );
    }
    Ok(bin)
}

fn ensure_detect_secrets(tools: &Path) -> Result<PathBuf> {
    if let Some(p) = on_path("detect-secrets") {
        return Ok(p);
    }
    let venv = tools.join("detect-secrets-venv");
    let bin = venv.join("bin/detect-secrets");
    if bin.is_file() {
        return Ok(bin);
    }
    println!("xtask: installing detect-secrets into {}", venv.display());
    let status = Command::new("python3")
        .args(["-m", "venv"])
        .arg(&venv)
        .status()
        .context("cannot run python3 (needed for detect-secrets)")?;
    if !status.success() {
        bail!(
            "cannot create a Python venv at {} (is python3-venv installed?)",
            venv.display()
        );
    }
    let status = Command::new(venv.join("bin/pip"))
        .args(["install", "-q", "detect-secrets"])
        .status()
        .context("cannot run pip in the venv")?;
    if !status.success() || !bin.is_file() {
        bail!(
            "cannot install detect-secrets with pip into {}; install it yourself and put it on PATH",
            venv.display()
        );
    }
    Ok(bin)
}

// ---------------------------------------------------------------------------------
// The corpus.

/// SplitMix64: small, fast and the same everywhere, so the corpus is reproducible.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }
    fn chars(&mut self, alphabet: &[u8], n: usize) -> String {
        (0..n)
            .map(|_| char::from(alphabet[self.below(alphabet.len())]))
            .collect()
    }
    /// A gap around `mean`: uniform in [mean/2, 3*mean/2].
    fn gap(&mut self, mean: u64) -> u64 {
        mean / 2 + self.next() % mean.max(1)
    }
}

const ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
const UPPER_B32: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
const LETTERS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
const HEX: &[u8] = b"0123456789abcdef";
const DIGITS: &[u8] = b"0123456789";
const B64: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const B64URL: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

fn base64(data: &[u8], alphabet: &[u8], pad: bool) -> String {
    let mut out = String::new();
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..=chunk.len() {
            out.push(char::from(alphabet[((n >> (18 - 6 * i)) & 63) as usize]));
        }
        if pad {
            for _ in chunk.len()..3 {
                out.push('=');
            }
        }
    }
    out
}

/// The credential kinds planted, each with a line of context (the secret may span
/// several lines: PEM keys).
const KINDS: &[&str] = &[
    "aws_access_key_id",
    "github_pat_classic",
    "github_pat_fine_grained",
    "gitlab_token",
    "slack_token",
    "slack_webhook",
    "openai_api_key",
    "anthropic_api_key",
    "stripe_secret_key",
    "google_api_key",
    "sendgrid_api_key",
    "twilio_api_key",
    "mailgun_api_key",
    "npm_token",
    "pypi_token",
    "huggingface_token",
    "telegram_bot_token",
    "discord_webhook",
    "digitalocean_token",
    "shopify_token",
    "jwt",
    "pem_private_key",
    "url_password",
    "http_basic_auth",
    "azure_storage_key",
];

fn secret_text(kind: &str, r: &mut Rng) -> String {
    match kind {
        "aws_access_key_id" => format!("aws_access_key_id = AKIA{}", r.chars(UPPER_B32, 16)),
        "github_pat_classic" => format!("GITHUB_TOKEN=ghp_{}", r.chars(ALNUM, 36)),
        "github_pat_fine_grained" => format!(
            "export GH_PAT=\"github_pat_11{}_{}\"",
            r.chars(ALNUM, 20),
            r.chars(ALNUM, 59)
        ),
        "gitlab_token" => format!("gitlab_token: glpat-{}", r.chars(ALNUM, 20)),
        "slack_token" => format!(
            "slack.token = \"xoxb-{}-{}-{}\"",
            r.chars(DIGITS, 11),
            r.chars(DIGITS, 13),
            r.chars(ALNUM, 24)
        ),
        "slack_webhook" => format!(
            "webhook_url: \"https://hooks.slack.com/services/T{}/B{}/{}\"",
            r.chars(UPPER_B32, 8),
            r.chars(UPPER_B32, 10),
            r.chars(ALNUM, 24)
        ),
        "openai_api_key" => format!(
            "OPENAI_API_KEY=sk-proj-{}T3BlbkFJ{}",
            r.chars(B64URL, 74),
            r.chars(B64URL, 74)
        ),
        "anthropic_api_key" => format!("ANTHROPIC_API_KEY=sk-ant-api03-{}AA", r.chars(B64URL, 93)),
        "stripe_secret_key" => format!("stripe.api_key = \"sk_live_{}\"", r.chars(ALNUM, 24)),
        "google_api_key" => format!("const mapsKey = \"AIzaSy{}\";", r.chars(B64URL, 33)),
        "sendgrid_api_key" => format!(
            "SENDGRID_API_KEY=SG.{}.{}",
            r.chars(B64URL, 22),
            r.chars(B64URL, 43)
        ),
        "twilio_api_key" => format!("twilio_api_key = \"SK{}\"", r.chars(HEX, 32)),
        "mailgun_api_key" => format!("MAILGUN_API_KEY=key-{}", r.chars(HEX, 32)),
        "npm_token" => format!(
            "//registry.npmjs.org/:_authToken=npm_{}",
            r.chars(ALNUM, 36)
        ),
        "pypi_token" => format!("password = pypi-AgEIcHlwaS5vcmc{}", r.chars(B64URL, 70)),
        "huggingface_token" => format!("HF_TOKEN=hf_{}", r.chars(LETTERS, 34)),
        "telegram_bot_token" => format!(
            "TELEGRAM_BOT_TOKEN={}:AA{}",
            r.chars(DIGITS, 10),
            r.chars(B64URL, 33)
        ),
        "discord_webhook" => format!(
            "url = \"https://discord.com/api/webhooks/{}/{}\"",
            r.chars(DIGITS, 18),
            r.chars(B64URL, 68)
        ),
        "digitalocean_token" => format!("DIGITALOCEAN_TOKEN=dop_v1_{}", r.chars(HEX, 64)),
        "shopify_token" => format!("SHOPIFY_ACCESS_TOKEN=shpat_{}", r.chars(HEX, 32)),
        "jwt" => {
            let payload = format!(
                "{{\"sub\":\"{}\",\"name\":\"{}\",\"iat\":{}}}",
                r.chars(DIGITS, 10),
                r.pick(WORDS),
                1_700_000_000 + r.below(50_000_000)
            );
            format!(
                "Authorization: Bearer eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.{}.{}",
                base64(payload.as_bytes(), B64URL, false),
                r.chars(B64URL, 43)
            )
        }
        "pem_private_key" => {
            let mut s = String::from("-----BEGIN RSA PRIVATE KEY-----\n");
            for _ in 0..12 {
                s.push_str(&r.chars(B64, 64));
                s.push('\n');
            }
            s.push_str("-----END RSA PRIVATE KEY-----");
            s
        }
        "url_password" => format!(
            "DATABASE_URL=postgres://app_user:{}@db-{}.prod.internal:5432/app",
            r.chars(ALNUM, 18),
            r.below(100)
        ),
        "http_basic_auth" => {
            let creds = format!("{}:{}", r.pick(WORDS), r.chars(ALNUM, 16));
            format!(
                "Authorization: Basic {}",
                base64(creds.as_bytes(), B64, true)
            )
        }
        _ => format!(
            "DefaultEndpointsProtocol=https;AccountName=prodstore{};AccountKey={}==;EndpointSuffix=core.windows.net",
            r.below(100),
            r.chars(B64, 86)
        ),
    }
}

/// Look-alikes that are not secrets: what a precise scanner stays quiet on.
fn decoy_text(r: &mut Rng) -> String {
    match r.below(9) {
        0 => format!("checksum = \"{}\"", r.chars(HEX, 64)),
        1 => format!("commit {}", r.chars(HEX, 40)),
        2 => format!(
            "\"id\": \"{}-{}-4{}-a{}-{}\",",
            r.chars(HEX, 8),
            r.chars(HEX, 4),
            r.chars(HEX, 3),
            r.chars(HEX, 3),
            r.chars(HEX, 12)
        ),
        3 => format!("\"integrity\": \"sha512-{}==\",", r.chars(B64, 86)),
        4 => "aws_access_key_id = AKIAIOSFODNN7EXAMPLE".to_string(),
        5 => "token = \"${GITHUB_TOKEN}\"".to_string(),
        6 => "password: <your-password-here>".to_string(),
        7 => format!(
            "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI{} deploy@ci",
            r.chars(B64, 43)
        ),
        _ => format!(
            "api_key = os.environ[\"{}_API_KEY\"]",
            r.pick(WORDS).to_uppercase()
        ),
    }
}

const WORDS: &[&str] = &[
    "the", "request", "server", "returned", "value", "user", "config", "file", "build", "system",
    "network", "memory", "process", "result", "error", "data", "model", "agent", "message",
    "channel", "policy", "before", "after", "while", "because", "should", "would", "report",
    "update", "window", "history", "service", "customer", "invoice", "payment", "schedule",
    "meeting", "project", "review", "change", "branch", "commit", "release", "version", "feature",
    "support", "answer", "question", "notes", "cache",
];

fn code_line(r: &mut Rng) -> String {
    let a = r.pick(WORDS);
    let b = r.pick(WORDS);
    let n = r.below(10_000);
    match r.below(12) {
        0 => format!("fn {a}_{b}(input: &[u8]) -> Result<usize, Error> {{"),
        1 => format!("    let {a} = {b}.iter().filter(|x| x.len() > {n}).count();"),
        2 => format!("    if {a}.is_empty() {{ return Err(Error::{b}({n})); }}"),
        3 => format!("def {a}_{b}(self, {a}, limit={n}):"),
        4 => format!("        return [x for x in self.{a} if x.{b} is not None]"),
        5 => format!("const {a} = await fetch(`/api/{b}/${{id}}`, {{ method: 'GET' }});"),
        6 => format!("    // {a} the {b} before the next step, see #{n}"),
        7 => format!("SELECT {a}, {b} FROM {a}s WHERE id = {n};"),
        8 => format!("import {{ {a}, {b} }} from './{a}';"),
        9 => format!("    {a}.insert(\"{b}\".to_string(), {n});"),
        10 => "}".to_string(),
        _ => format!("func {a}{n}(ctx context.Context) error {{ return nil }}"),
    }
}

fn log_line(r: &mut Rng) -> String {
    let t = format!(
        "2024-0{}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        1 + r.below(9),
        1 + r.below(28),
        r.below(24),
        r.below(60),
        r.below(60),
        r.below(1000)
    );
    let a = r.pick(WORDS);
    match r.below(5) {
        0 => format!(
            "{t} INFO  http: GET /api/v1/{a}/{} 200 {}ms req={}",
            r.below(100_000),
            r.below(900),
            r.chars(HEX, 16)
        ),
        1 => format!(
            "{t} WARN  pool: connection to 10.0.{}.{}:5432 reset, retrying (attempt {})",
            r.below(256),
            r.below(256),
            1 + r.below(5)
        ),
        2 => format!(
            "{t} DEBUG cache: miss for key {a}:{}:profile",
            r.below(1_000_000)
        ),
        3 => format!(
            "{t} ERROR worker: job {} failed: timeout after {}s",
            r.below(100_000),
            r.below(60)
        ),
        _ => format!("{t} INFO  scheduler: {a} queued, {} pending", r.below(500)),
    }
}

fn prose_line(r: &mut Rng) -> String {
    let n = 8 + r.below(16);
    let mut s = String::new();
    for i in 0..n {
        if i > 0 {
            s.push(' ');
        }
        s.push_str(r.pick(WORDS));
    }
    s.push('.');
    s
}

struct Planted {
    file: String,
    first_line: usize,
    last_line: usize,
    kind: &'static str,
}

struct Corpus {
    files: Vec<String>,
    bytes: usize,
    planted: Vec<Planted>,
    decoys: usize,
}

impl Corpus {
    fn generate(dir: &Path) -> Result<Self> {
        let mut r = Rng(0x1c0f_fee5);
        let mut files = Vec::new();
        let mut planted = Vec::new();
        let mut decoys = 0;
        let mut bytes = 0;
        let mut next_secret = r.gap(SECRET_EVERY);
        let mut next_decoy = r.gap(DECOY_EVERY);
        let mut kind_at = 0;
        for sub in ["src", "logs", "docs"] {
            std::fs::create_dir_all(dir.join(sub))?;
        }
        let mut n = 0;
        while bytes < CORPUS_BYTES {
            let (sub, ext) = match n % 3 {
                0 => ("src", "rs"),
                1 => ("logs", "log"),
                _ => ("docs", "md"),
            };
            let name = format!("{sub}/{sub}{n:04}.{ext}");
            let mut text = String::with_capacity(FILE_BYTES + 1024);
            let mut line_no = 1;
            while text.len() < FILE_BYTES {
                let pos = (bytes + text.len()) as u64;
                let line = if pos >= next_secret {
                    next_secret = pos + r.gap(SECRET_EVERY);
                    let kind = KINDS[kind_at % KINDS.len()];
                    kind_at += 1;
                    let s = secret_text(kind, &mut r);
                    let lines = s.matches('\n').count();
                    planted.push(Planted {
                        file: name.clone(),
                        first_line: line_no,
                        last_line: line_no + lines,
                        kind,
                    });
                    s
                } else if pos >= next_decoy {
                    next_decoy = pos + r.gap(DECOY_EVERY);
                    decoys += 1;
                    decoy_text(&mut r)
                } else {
                    match n % 3 {
                        0 => code_line(&mut r),
                        1 => log_line(&mut r),
                        _ => prose_line(&mut r),
                    }
                };
                line_no += line.matches('\n').count() + 1;
                text.push_str(&line);
                text.push('\n');
            }
            std::fs::write(dir.join(&name), &text)
                .with_context(|| format!("cannot write {name}"))?;
            bytes += text.len();
            files.push(name);
            n += 1;
        }
        Ok(Self {
            files,
            bytes,
            planted,
            decoys,
        })
    }

    /// Planted secrets reported, and reported lines that hold no planted secret;
    /// appends each kind's (found, planted) to `per_kind`.
    fn score(
        &self,
        lines: &HashSet<(String, usize)>,
        per_kind: &mut BTreeMap<&'static str, Vec<(usize, usize)>>,
    ) -> (usize, usize) {
        let mut secret_lines = HashSet::new();
        let mut kinds: BTreeMap<&'static str, (usize, usize)> = BTreeMap::new();
        let mut found = 0;
        for p in &self.planted {
            let mut hit = false;
            for l in p.first_line..=p.last_line {
                let key = (p.file.clone(), l);
                hit |= lines.contains(&key);
                secret_lines.insert(key);
            }
            let e = kinds.entry(p.kind).or_default();
            e.1 += 1;
            if hit {
                e.0 += 1;
                found += 1;
            }
        }
        for (kind, c) in kinds {
            per_kind.entry(kind).or_default().push(c);
        }
        let other = lines.iter().filter(|l| !secret_lines.contains(*l)).count();
        (found, other)
    }
}
