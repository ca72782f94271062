//! `ironclaw audit tail | show | export | verify`: reading and checking the audit log.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::{Args, Subcommand};
use ironclaw_audit::{AuditReader, AuditRecord, ExportFormat, Query, export, verify};
use serde_json::Value;

use crate::home::Home;

/// Read and check the audit log.
#[derive(Debug, Args)]
pub(crate) struct AuditArgs {
    #[command(subcommand)]
    command: AuditCommand,
}

#[derive(Debug, Subcommand)]
enum AuditCommand {
    /// Print the last events, then follow new ones (across rotations) until interrupted.
    Tail {
        /// How many past events to print first.
        #[arg(long, default_value_t = 10)]
        last: usize,
        #[command(flatten)]
        select: Select,
        /// One JSON object per line, as stored.
        #[arg(long)]
        json: bool,
    },
    /// Print events, oldest first.
    Show {
        /// Only the last N matching events.
        #[arg(long, value_name = "N")]
        last: Option<usize>,
        #[command(flatten)]
        select: Select,
        /// One JSON object per line, as stored.
        #[arg(long)]
        json: bool,
    },
    /// Write events to a file (mode 0600) or stdout.
    Export {
        /// json (one array), jsonl (lines as stored) or csv.
        #[arg(long, default_value = "json")]
        format: String,
        /// The output file; stdout when absent.
        #[arg(long, value_name = "FILE")]
        output: Option<PathBuf>,
        #[command(flatten)]
        select: Select,
    },
    /// Check the hash chain and the seal; exit 1 when the log was tampered with.
    Verify {
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Args)]
struct Select {
    /// Only these event types (comma list, e.g. ALLOWLIST_VIOLATION,NETWORK_BLOCK).
    #[arg(long, value_name = "TYPES")]
    filter: Option<String>,
    /// Only events at or after this RFC 3339 time.
    #[arg(long, value_name = "TIME")]
    since: Option<String>,
    /// Only events at or before this RFC 3339 time.
    #[arg(long, value_name = "TIME")]
    until: Option<String>,
}

impl Select {
    fn query(&self) -> anyhow::Result<Query> {
        let mut query = Query::new();
        if let Some(filter) = &self.filter {
            query = query.filter(filter)?;
        }
        if let Some(since) = &self.since {
            query = query.since(since)?;
        }
        if let Some(until) = &self.until {
            query = query.until(until)?;
        }
        Ok(query)
    }
}

pub(crate) fn run(home: &Home, args: AuditArgs) -> anyhow::Result<ExitCode> {
    let layout = ironclaw_policy::HomeLayout::new(home.root());
    let config = crate::config::audit_config(&layout)?;
    let path = config.path().to_path_buf();
    let reader = AuditReader::new(&path);
    let stdout = std::io::stdout();
    match args.command {
        AuditCommand::Show { last, select, json } => {
            let mut query = select.query()?;
            if let Some(n) = last {
                query = query.last(n);
            }
            let mut out = std::io::BufWriter::new(stdout.lock());
            reader.scan(&query, |record| {
                print_record(&mut out, &record, json);
                Ok(())
            })?;
            out.flush().ok();
        }
        AuditCommand::Tail { last, select, json } => {
            let query = select.query()?;
            // Start following first, so nothing lands between the two reads unseen;
            // a line both in the backlog and followed is printed once (by its hash).
            let mut follower = reader.follow(query.clone())?;
            let mut out = stdout.lock();
            let backlog = reader.query(&query.last(last))?;
            let mut printed: std::collections::HashSet<String> =
                backlog.iter().map(AuditRecord::hash).collect();
            for record in &backlog {
                print_record(&mut out, record, json);
            }
            out.flush().ok();
            loop {
                for record in follower.poll()? {
                    if !printed.is_empty() && printed.remove(&record.hash()) {
                        continue;
                    }
                    print_record(&mut out, &record, json);
                }
                if out.flush().is_err() {
                    // The reader went away (a closed pipe): stop quietly.
                    return Ok(ExitCode::SUCCESS);
                }
                std::thread::sleep(Duration::from_millis(200));
            }
        }
        AuditCommand::Export {
            format,
            output,
            select,
        } => {
            let format: ExportFormat = format.parse()?;
            let query = select.query()?;
            let count = match &output {
                Some(file) => {
                    let handle = std::fs::OpenOptions::new()
                        .write(true)
                        .create(true)
                        .truncate(true)
                        .mode(0o600)
                        .open(file)
                        .with_context(|| format!("cannot write {}", file.display()))?;
                    let mut out = std::io::BufWriter::new(handle);
                    export(&reader, &query, format, &mut out, file)?
                }
                None => {
                    let mut out = std::io::BufWriter::new(stdout.lock());
                    export(
                        &reader,
                        &query,
                        format,
                        &mut out,
                        std::path::Path::new("stdout"),
                    )?
                }
            };
            if let Some(file) = output {
                eprintln!("exported {count} events to {}", file.display());
            }
        }
        AuditCommand::Verify { json } => {
            if !path.exists() {
                anyhow::bail!("audit log {}: does not exist", path.display());
            }
            let report = verify(&path)?;
            if json {
                let value = serde_json::json!({
                    "clean": report.is_clean(),
                    "files": report.files.iter().map(|f| f.display().to_string()).collect::<Vec<_>>(),
                    "lines": report.lines,
                    "incompleteTailBytes": report.incomplete_tail,
                    "startsAfterGenesis": report.starts_after_genesis,
                    "lastHash": report.last_hash,
                    "findings": report.findings.iter().map(|f| serde_json::json!({
                        "kind": format!("{:?}", f.kind),
                        "file": f.file.display().to_string(),
                        "line": f.line,
                        "detail": f.detail,
                    })).collect::<Vec<_>>(),
                });
                println!("{value:#}");
            } else {
                for finding in &report.findings {
                    println!("TAMPERED {finding}");
                }
                if report.incomplete_tail > 0 {
                    println!(
                        "note: the live file ends in an incomplete line of {} bytes (a write interrupted by a crash, never acknowledged)",
                        report.incomplete_tail
                    );
                }
                if report.starts_after_genesis {
                    println!(
                        "note: the oldest rotated files were removed (retention); checked from the oldest file present"
                    );
                }
                let verdict = if report.is_clean() { "ok" } else { "FAILED" };
                println!(
                    "{verdict}: {} lines in {} files; last hash {}",
                    report.lines,
                    report.files.len(),
                    report.last_hash
                );
            }
            if !report.is_clean() {
                return Ok(ExitCode::from(1));
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn print_record(out: &mut impl Write, record: &AuditRecord, json: bool) {
    let line = if json {
        record.raw().to_owned()
    } else {
        human(record)
    };
    // A closed pipe (`| head`) is not an error worth reporting.
    let _ = writeln!(out, "{line}");
}

/// `ts EVENT key=value ...`, with control characters escaped so that a hostile skill
/// name cannot drive the operator's terminal.
fn human(record: &AuditRecord) -> String {
    let mut line = format!("{} {:<20}", record.ts(), record.event());
    for (key, value) in record.fields() {
        if matches!(key.as_str(), "ts" | "event" | "prev") {
            continue;
        }
        let text = match value {
            Value::Null => continue,
            Value::Array(items) if items.is_empty() => continue,
            Value::Bool(false) if key == "blocked" => continue,
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        line.push(' ');
        line.push_str(key);
        line.push('=');
        line.extend(text.chars().flat_map(|c| {
            if c.is_control() {
                c.escape_default().collect::<Vec<_>>()
            } else {
                vec![c]
            }
        }));
    }
    line
}
