//! `ironclaw scan leaks|injection`: run the safety scanners over a file or stdin.
//!
//! Contract (other tools script against it):
//! - `ironclaw scan leaks [--known FILE] [--json|--jsonl] [PATH|-]`
//! - `ironclaw scan injection [--json|--jsonl] [PATH|-]`
//! - `PATH` may also be a directory: every regular file below it (symlinks are not
//!   followed) is scanned as its own text, in path order. Human-readable findings are
//!   prefixed with `path:`, and `--json` prints one object for the whole run whose
//!   findings also carry `"path"`. `--jsonl` takes a file or stdin only.
//! - Without `--jsonl` the whole input is one text. With `--jsonl` every input line
//!   is an object with a string field `text`, and one object is printed per line, in
//!   order: `{"findings":[{"kind"|"category":..,"severity":..,"start":N,"end":N}]}`.
//! - `start`/`end` are byte offsets into the text (for `--jsonl`, into the decoded
//!   `text` string, not the JSON line).
//! - Exit 0 when clean, 1 when anything is found, 2 on error (a malformed JSONL line
//!   is an error naming its line number).
//!
//! - Injection scanning reads the input as UTF-8; invalid sequences are replaced
//!   with U+FFFD first (offsets then refer to the replaced text).
//!
//! Secret values are never printed: leak findings show a masked preview only.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use ironclaw_safety::{InjectionScanner, LeakDetector, LeakFinding};
use serde_json::{Map, Value, json};

use crate::home::Home;

/// Arguments of `ironclaw scan`.
#[derive(Debug, Args)]
pub(crate) struct ScanArgs {
    #[command(subcommand)]
    command: ScanCommand,
}

#[derive(Debug, Subcommand)]
enum ScanCommand {
    /// Find leaked credentials (built-in formats and known secret values).
    Leaks {
        /// File with one known secret value per line, matched raw and encoded.
        #[arg(long, value_name = "FILE")]
        known: Option<PathBuf>,
        #[command(flatten)]
        output: Output,
    },
    /// Find prompt-injection attempts.
    Injection {
        #[command(flatten)]
        output: Output,
    },
}

#[derive(Debug, Args)]
struct Output {
    /// Print one JSON object for the whole input.
    #[arg(long, conflicts_with = "jsonl")]
    json: bool,
    /// Read JSON Lines (objects with a string field `text`); print one object per line.
    #[arg(long)]
    jsonl: bool,
    /// Input file, directory (every file below it), or `-` (default) for stdin.
    #[arg(value_name = "PATH|-")]
    path: Option<PathBuf>,
}

/// Runs `ironclaw scan`.
pub(crate) fn run(_home: &Home, args: ScanArgs) -> Result<ExitCode> {
    match args.command {
        ScanCommand::Leaks { known, output } => {
            let mut builder = LeakDetector::builder();
            if let Some(path) = &known {
                builder = builder.known_secrets(read_known(path)?);
            }
            let detector = builder
                .build()
                .with_context(|| known_context(known.as_deref()))?;
            scan(
                &output,
                |text| detector.scan(text).iter().map(leak_json).collect(),
                |text| {
                    let lines = LineIndex::new(text);
                    detector
                        .scan(text)
                        .iter()
                        .map(|f| {
                            format!("{}: {}", lines.location(f.span().start), describe_leak(f))
                        })
                        .collect()
                },
            )
        }
        ScanCommand::Injection { output } => {
            let scanner = InjectionScanner::new()?;
            let utf8 = |text: &[u8]| String::from_utf8_lossy(text).into_owned();
            scan(
                &output,
                |text| {
                    let text = utf8(text);
                    scanner
                        .scan(&text)
                        .findings()
                        .iter()
                        .map(|f| {
                            let mut o = Map::new();
                            o.insert("category".into(), json!(f.category().as_str()));
                            o.insert("severity".into(), json!(f.severity().as_str()));
                            o.insert("start".into(), json!(f.span().start));
                            o.insert("end".into(), json!(f.span().end));
                            o
                        })
                        .collect()
                },
                |text| {
                    let s = utf8(text);
                    let lines = LineIndex::new(text);
                    scanner
                        .scan(&s)
                        .findings()
                        .iter()
                        .map(|f| {
                            format!(
                                "{}: {} ({}, {}) bytes {}..{}",
                                lines.location(f.span().start),
                                f.category(),
                                f.severity(),
                                f.pattern_id(),
                                f.span().start,
                                f.span().end
                            )
                        })
                        .collect()
                },
            )
        }
    }
}

fn known_context(path: Option<&Path>) -> String {
    match path {
        Some(p) => format!("invalid known secrets in {}", p.display()),
        None => "cannot build the leak detector".to_string(),
    }
}

fn read_known(path: &Path) -> Result<Vec<Vec<u8>>> {
    let data = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    let mut out = Vec::new();
    for line in data.split(|&b| b == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if !line.is_empty() {
            out.push(line.to_vec());
        }
    }
    Ok(out)
}

fn leak_json(f: &LeakFinding) -> Map<String, Value> {
    let mut o = Map::new();
    o.insert("kind".into(), json!(f.kind()));
    o.insert("severity".into(), json!(f.severity().as_str()));
    o.insert("start".into(), json!(f.span().start));
    o.insert("end".into(), json!(f.span().end));
    o
}

fn describe_leak(f: &LeakFinding) -> String {
    let mut s = format!(
        "{} ({}) bytes {}..{} {}",
        f.kind(),
        f.severity(),
        f.span().start,
        f.span().end,
        f.preview()
    );
    if let Some(enc) = f.encoding() {
        s.push_str(&format!(
            " [{} form of known secret #{}]",
            enc.as_str(),
            f.secret_index().map_or(0, |i| i + 1)
        ));
    }
    s
}

/// Where each line of a text starts, so that every finding's `line:column` is a
/// binary search rather than a count from the start of the text.
struct LineIndex {
    /// Byte offset of the first byte of each line after the first.
    starts: Vec<usize>,
}

impl LineIndex {
    fn new(text: &[u8]) -> Self {
        let starts = text
            .iter()
            .enumerate()
            .filter(|&(_, &b)| b == b'\n')
            .map(|(i, _)| i + 1)
            .collect();
        Self { starts }
    }

    /// `line:column` (1-based, column in bytes) of a byte offset.
    fn location(&self, offset: usize) -> String {
        let before = self.starts.partition_point(|&start| start <= offset);
        let line_start = if before == 0 {
            0
        } else {
            self.starts[before - 1]
        };
        format!("{}:{}", before + 1, offset - line_start + 1)
    }
}

fn read_input(path: Option<&Path>) -> Result<Vec<u8>> {
    match path {
        None => read_stdin(),
        Some(p) if p == Path::new("-") => read_stdin(),
        Some(p) => std::fs::read(p).with_context(|| format!("cannot read {}", p.display())),
    }
}

fn read_stdin() -> Result<Vec<u8>> {
    let mut buf = Vec::new();
    std::io::stdin()
        .lock()
        .read_to_end(&mut buf)
        .context("cannot read stdin")?;
    Ok(buf)
}

/// Every regular file below `dir`, sorted by path; symlinks are skipped.
fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    let mut entries = std::fs::read_dir(dir)
        .with_context(|| format!("cannot read directory {}", dir.display()))?
        .collect::<std::io::Result<Vec<_>>>()
        .with_context(|| format!("cannot read directory {}", dir.display()))?;
    entries.sort_by_key(std::fs::DirEntry::file_name);
    for entry in entries {
        let path = entry.path();
        let kind = entry
            .file_type()
            .with_context(|| format!("cannot stat {}", path.display()))?;
        if kind.is_dir() {
            walk(&path, out)?;
        } else if kind.is_file() {
            out.push(path);
        }
    }
    Ok(())
}

/// Scans every file below `dir`, each as its own text.
fn scan_dir(
    dir: &Path,
    output: &Output,
    as_json: impl Fn(&[u8]) -> Vec<Map<String, Value>>,
    as_text: impl Fn(&[u8]) -> Vec<String>,
) -> Result<ExitCode> {
    if output.jsonl {
        bail!(
            "--jsonl reads one JSON Lines file or stdin, not the directory {}",
            dir.display()
        );
    }
    let mut files = Vec::new();
    walk(dir, &mut files)?;
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let mut found = false;
    let mut all = Vec::new();
    for file in &files {
        let text =
            std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?;
        let name = file.display().to_string();
        if output.json {
            for mut f in as_json(&text) {
                f.insert("path".into(), json!(name));
                all.push(f);
            }
        } else {
            for line in as_text(&text) {
                found = true;
                writeln!(out, "{name}:{line}")?;
            }
        }
    }
    if output.json {
        found = !all.is_empty();
        writeln!(out, "{}", json!({ "findings": all }))?;
    } else if !found {
        writeln!(out, "clean")?;
    }
    out.flush()?;
    Ok(if found {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

fn scan(
    output: &Output,
    as_json: impl Fn(&[u8]) -> Vec<Map<String, Value>>,
    as_text: impl Fn(&[u8]) -> Vec<String>,
) -> Result<ExitCode> {
    if let Some(dir) = output
        .path
        .as_deref()
        .filter(|p| *p != Path::new("-") && p.is_dir())
    {
        return scan_dir(dir, output, as_json, as_text);
    }
    let input = read_input(output.path.as_deref())?;
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let mut found = false;
    if output.jsonl {
        let texts = parse_jsonl(&input)?;
        for text in &texts {
            let findings = as_json(text.as_bytes());
            found |= !findings.is_empty();
            writeln!(out, "{}", json!({ "findings": findings }))?;
        }
    } else if output.json {
        let findings = as_json(&input);
        found = !findings.is_empty();
        writeln!(out, "{}", json!({ "findings": findings }))?;
    } else {
        let lines = as_text(&input);
        found = !lines.is_empty();
        for line in &lines {
            writeln!(out, "{line}")?;
        }
        if !found {
            writeln!(out, "clean")?;
        }
    }
    out.flush()?;
    Ok(if found {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// Parses JSON Lines; every line (a trailing newline ends the last one) must be an
/// object with a string field `text`.
fn parse_jsonl(input: &[u8]) -> Result<Vec<String>> {
    let body = input.strip_suffix(b"\n").unwrap_or(input);
    if body.is_empty() {
        return Ok(Vec::new());
    }
    let mut texts = Vec::new();
    for (n, line) in body.split(|&b| b == b'\n').enumerate() {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let number = n + 1;
        let value: Value = serde_json::from_slice(line)
            .with_context(|| format!("line {number}: not valid JSON"))?;
        match value.get("text") {
            Some(Value::String(s)) => texts.push(s.clone()),
            Some(_) => bail!("line {number}: field `text` is not a string"),
            None => bail!("line {number}: expected an object with a string field `text`"),
        }
    }
    Ok(texts)
}

#[cfg(test)]
mod tests {
    use super::LineIndex;

    #[test]
    fn locations_are_one_based_lines_and_byte_columns() {
        let lines = LineIndex::new(b"ab\ncd\n\nxyz");
        let cases = [(0, "1:1"), (1, "1:2"), (2, "1:3"), (3, "2:1"), (5, "2:3")];
        for (offset, expected) in cases {
            assert_eq!(lines.location(offset), expected, "{offset}");
        }
        assert_eq!(lines.location(6), "3:1");
        assert_eq!(lines.location(7), "4:1");
        assert_eq!(lines.location(9), "4:3");
        assert_eq!(LineIndex::new(b"").location(0), "1:1");
    }
}
