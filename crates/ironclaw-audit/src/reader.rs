//! Reading the log: the live file and rotated (gzip) files, last N from the end,
//! filters, time ranges, follow, and export.

use std::collections::BTreeSet;
use std::fs::File;
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use serde_json::{Map, Value};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::chain::{Hash, format_ts, line_hash};
use crate::error::AuditError;
use crate::event::EventKind;
use crate::layout::{BackwardLines, Layout};

/// One line of the log, parsed.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditRecord {
    line: String,
    fields: Map<String, Value>,
}

impl AuditRecord {
    /// Parses one line; `None` if it is not a JSON object.
    pub fn parse(line: &str) -> Option<Self> {
        match serde_json::from_str::<Value>(line) {
            Ok(Value::Object(fields)) => Some(Self {
                line: line.to_owned(),
                fields,
            }),
            _ => None,
        }
    }

    /// The line exactly as stored (without the newline).
    pub fn raw(&self) -> &str {
        &self.line
    }

    /// All fields in their stored order.
    pub fn fields(&self) -> &Map<String, Value> {
        &self.fields
    }

    /// One field.
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.fields.get(name)
    }

    /// The hex SHA-256 of the line: what the next line's `prev` holds. Unique
    /// within a chain, so it identifies a record.
    pub fn hash(&self) -> String {
        hex::encode(line_hash(self.line.as_bytes()))
    }

    /// The `ts` field, as stored.
    pub fn ts(&self) -> &str {
        self.str_field("ts")
    }

    /// The `event` field, as stored.
    pub fn event(&self) -> &str {
        self.str_field("event")
    }

    fn str_field(&self, name: &str) -> &str {
        self.fields.get(name).and_then(Value::as_str).unwrap_or("")
    }
}

/// Which records to return. The default returns everything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Query {
    last: Option<usize>,
    kinds: Option<BTreeSet<String>>,
    /// `"event":"NAME"` for each kind, to test raw lines before parsing them.
    patterns: Vec<String>,
    since: Option<String>,
    until: Option<String>,
}

impl Query {
    /// Everything, oldest first.
    pub fn new() -> Self {
        Self::default()
    }

    /// Only the last `n` matching records (still returned oldest first).
    pub fn last(mut self, n: usize) -> Self {
        self.last = Some(n);
        self
    }

    /// Only these event types.
    pub fn kinds(mut self, kinds: impl IntoIterator<Item = EventKind>) -> Self {
        let kinds: BTreeSet<String> = kinds.into_iter().map(|k| k.as_str().to_owned()).collect();
        self.patterns = kinds.iter().map(|k| format!("\"event\":\"{k}\"")).collect();
        self.kinds = Some(kinds);
        self
    }

    /// Only the event types in a comma-separated list such as
    /// `ALLOWLIST_VIOLATION,NETWORK_BLOCK` (case-insensitive, spaces ignored).
    ///
    /// # Errors
    /// [`AuditError::InvalidQuery`] for an unknown name, so a typo never silently
    /// matches nothing.
    pub fn filter(self, list: &str) -> Result<Self, AuditError> {
        let mut kinds = Vec::new();
        for name in list.split(',').map(str::trim).filter(|n| !n.is_empty()) {
            kinds.push(name.to_ascii_uppercase().parse::<EventKind>()?);
        }
        if kinds.is_empty() {
            return Err(AuditError::InvalidQuery {
                what: "filter",
                value: list.to_owned(),
                reason: "no event type given".to_owned(),
            });
        }
        Ok(self.kinds(kinds))
    }

    /// Only records at or after this RFC 3339 time.
    ///
    /// # Errors
    /// [`AuditError::InvalidQuery`] when `time` is not RFC 3339.
    pub fn since(mut self, time: &str) -> Result<Self, AuditError> {
        self.since = Some(normalize_time("since", time)?);
        Ok(self)
    }

    /// Only records at or before this RFC 3339 time.
    ///
    /// # Errors
    /// [`AuditError::InvalidQuery`] when `time` is not RFC 3339.
    pub fn until(mut self, time: &str) -> Result<Self, AuditError> {
        self.until = Some(normalize_time("until", time)?);
        Ok(self)
    }

    /// Whether a record passes the filter and the time range (not `last`).
    pub fn matches(&self, record: &AuditRecord) -> bool {
        if let Some(kinds) = &self.kinds
            && !kinds.contains(record.event())
        {
            return false;
        }
        self.in_range(record.ts())
    }

    /// Timestamps written by this crate have one fixed format, so comparing them as
    /// strings against a bound in that format compares the times.
    fn in_range(&self, ts: &str) -> bool {
        if self.since.is_none() && self.until.is_none() {
            return true;
        }
        let Some(ts) = canonical_ts(ts) else {
            return false;
        };
        self.since
            .as_deref()
            .is_none_or(|since| ts.as_str() >= since)
            && self
                .until
                .as_deref()
                .is_none_or(|until| ts.as_str() <= until)
    }

    /// A cheap test on raw bytes that rejects most lines of other event types before
    /// they are parsed.
    fn may_match(&self, line: &[u8]) -> bool {
        self.kinds.is_none()
            || self
                .patterns
                .iter()
                .any(|pattern| memchr::memmem::find(line, pattern.as_bytes()).is_some())
    }
}

/// A stored `ts` in the canonical format, or re-formatted if it is other RFC 3339.
fn canonical_ts(ts: &str) -> Option<String> {
    if ts.len() == 24 && ts.ends_with('Z') && ts.as_bytes().get(10) == Some(&b'T') {
        return Some(ts.to_owned());
    }
    OffsetDateTime::parse(ts, &Rfc3339)
        .ok()
        .map(|t| format_ts(t.unix_timestamp_nanos() / 1_000_000))
}

fn normalize_time(what: &'static str, time: &str) -> Result<String, AuditError> {
    OffsetDateTime::parse(time, &Rfc3339)
        .map(|t| format_ts(t.unix_timestamp_nanos() / 1_000_000))
        .map_err(|err| AuditError::InvalidQuery {
            what,
            value: time.chars().take(64).collect(),
            reason: format!("not an RFC 3339 time ({err})"),
        })
}

/// One file of the log, oldest first in [`AuditReader::files`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogFile {
    /// Where it is.
    pub path: PathBuf,
    /// Whether it is gzip-compressed.
    pub gzip: bool,
    /// Whether it is the live file (the one being written).
    pub live: bool,
}

/// Reads a log: its rotated files, oldest first, then the live file. A torn last
/// line of the live file (from a crash) is skipped.
#[derive(Debug, Clone)]
pub struct AuditReader {
    layout: Layout,
}

impl AuditReader {
    /// A reader for the log whose live file is `path`.
    pub fn new(path: impl AsRef<Path>) -> Self {
        Self {
            layout: Layout::new(path.as_ref()),
        }
    }

    /// The files of the log, oldest first, the live file last (if it exists).
    ///
    /// # Errors
    /// [`AuditError::Io`] when the directory cannot be listed.
    pub fn files(&self) -> Result<Vec<LogFile>, AuditError> {
        let mut files: Vec<LogFile> = self
            .layout
            .rotated()?
            .into_iter()
            .map(|r| LogFile {
                path: r.path,
                gzip: r.gzip,
                live: false,
            })
            .collect();
        if self.layout.live().exists() {
            files.push(LogFile {
                path: self.layout.live().to_path_buf(),
                gzip: false,
                live: true,
            });
        }
        Ok(files)
    }

    /// Calls `each` with every matching record, oldest first, streaming (memory does
    /// not grow with the log). With [`Query::last`], reads backwards from the end and
    /// stops once it has enough.
    ///
    /// # Errors
    /// [`AuditError::Io`] on a read failure, or whatever `each` returns.
    pub fn scan(
        &self,
        query: &Query,
        mut each: impl FnMut(AuditRecord) -> Result<(), AuditError>,
    ) -> Result<(), AuditError> {
        if let Some(n) = query.last {
            let mut found = self.last(query, n)?;
            found.reverse();
            return found.into_iter().try_for_each(each);
        }
        for file in self.files()? {
            let reader = open_lines(&file)?;
            for_each_line(reader, &file.path, |line| {
                if query.may_match(line)
                    && let Some(record) =
                        std::str::from_utf8(line).ok().and_then(AuditRecord::parse)
                    && query.matches(&record)
                {
                    each(record)?;
                }
                Ok(())
            })?;
        }
        Ok(())
    }

    /// The matching records, oldest first (see [`AuditReader::scan`]).
    ///
    /// # Errors
    /// [`AuditError::Io`] on a read failure.
    pub fn query(&self, query: &Query) -> Result<Vec<AuditRecord>, AuditError> {
        let mut out = Vec::new();
        self.scan(query, |record| {
            out.push(record);
            Ok(())
        })?;
        Ok(out)
    }

    /// The last `n` matches, newest first, reading backwards.
    fn last(&self, query: &Query, n: usize) -> Result<Vec<AuditRecord>, AuditError> {
        let mut found = Vec::new();
        if n == 0 {
            return Ok(found);
        }
        for file in self.files()?.into_iter().rev() {
            let mut keep = |line: &[u8]| -> bool {
                if query.may_match(line)
                    && let Some(record) =
                        std::str::from_utf8(line).ok().and_then(AuditRecord::parse)
                {
                    // Lines are in time order, so once before `since` nothing older matches.
                    if let (Some(since), Some(ts)) = (&query.since, canonical_ts(record.ts()))
                        && ts.as_str() < since.as_str()
                    {
                        return false;
                    }
                    if query.matches(&record) {
                        found.push(record);
                    }
                }
                found.len() < n
            };
            let (handle, gzip) = open_file(&file)?;
            if gzip {
                let mut bytes = Vec::new();
                flate2::read::MultiGzDecoder::new(handle)
                    .read_to_end(&mut bytes)
                    .map_err(|e| AuditError::io(&file.path, "read", e))?;
                let complete = bytes.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
                for line in bytes[..complete].split(|b| *b == b'\n').rev().skip(1) {
                    if !keep(line) {
                        return Ok(found);
                    }
                }
            } else {
                let len = handle
                    .metadata()
                    .map_err(|e| AuditError::io(&file.path, "stat", e))?
                    .len();
                let read_err = |e| AuditError::io(&file.path, "read", e);
                let (mut back, _torn) = BackwardLines::new(&handle, len).map_err(read_err)?;
                while let Some((_, line)) = back.next_line().map_err(read_err)? {
                    if !keep(&line) {
                        return Ok(found);
                    }
                }
            }
        }
        Ok(found)
    }

    /// Follows the log from its current end, like `tail -f`, across rotations.
    ///
    /// # Errors
    /// [`AuditError::Io`] when the live file cannot be opened.
    pub fn follow(&self, query: Query) -> Result<Follower, AuditError> {
        let mut follower = Follower {
            layout: self.layout.clone(),
            query,
            current: None,
            partial: Vec::new(),
            last: None,
            at_start: false,
        };
        follower.open_live(true)?;
        Ok(follower)
    }
}

/// The `prev` field of a line.
fn line_prev(line: &[u8]) -> Option<String> {
    let record = AuditRecord::parse(std::str::from_utf8(line).ok()?)?;
    record
        .get("prev")
        .and_then(Value::as_str)
        .map(str::to_owned)
}

/// Opens a log file; a rotated plain file compressed meanwhile is opened as `.gz`.
pub(crate) fn open_file(file: &LogFile) -> Result<(File, bool), AuditError> {
    match File::open(&file.path) {
        Ok(handle) => Ok((handle, file.gzip)),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound && !file.live && !file.gzip => {
            let mut gz = file.path.as_os_str().to_owned();
            gz.push(".gz");
            let gz = PathBuf::from(gz);
            File::open(&gz)
                .map(|h| (h, true))
                .map_err(|e| AuditError::io(&gz, "open", e))
        }
        Err(err) => Err(AuditError::io(&file.path, "open", err)),
    }
}

fn open_lines(file: &LogFile) -> Result<Box<dyn BufRead>, AuditError> {
    let (handle, gzip) = open_file(file)?;
    let file = &LogFile {
        gzip,
        ..file.clone()
    };
    Ok(if file.gzip {
        Box::new(BufReader::with_capacity(
            256 * 1024,
            flate2::read::MultiGzDecoder::new(handle),
        ))
    } else {
        Box::new(BufReader::with_capacity(256 * 1024, handle))
    })
}

/// Calls `each` with every complete line (newline stripped); a final line without
/// a newline is torn and skipped. Returns the length of the torn tail.
pub(crate) fn for_each_line(
    mut reader: impl BufRead,
    path: &Path,
    mut each: impl FnMut(&[u8]) -> Result<(), AuditError>,
) -> Result<u64, AuditError> {
    let mut line = Vec::with_capacity(512);
    loop {
        line.clear();
        let read = reader
            .read_until(b'\n', &mut line)
            .map_err(|e| AuditError::io(path, "read", e))?;
        if read == 0 {
            return Ok(0);
        }
        if line.last() != Some(&b'\n') {
            return Ok(line.len() as u64);
        }
        line.pop();
        each(&line)?;
    }
}

/// Follows the live file; see [`AuditReader::follow`].
#[derive(Debug)]
pub struct Follower {
    layout: Layout,
    query: Query,
    current: Option<(File, u64)>,
    partial: Vec<u8>,
    /// The hash of the last complete line read, used to find where to resume after
    /// one or more rotations between two polls.
    last: Option<Hash>,
    /// The next line read is the first line of the current file.
    at_start: bool,
}

impl Follower {
    fn open_live(&mut self, at_end: bool) -> Result<(), AuditError> {
        let live = self.layout.live();
        self.partial.clear();
        self.at_start = !at_end;
        match File::open(live) {
            Ok(mut file) => {
                let meta = file
                    .metadata()
                    .map_err(|e| AuditError::io(live, "stat", e))?;
                if at_end {
                    // Start after the last complete line; remember its hash.
                    let (mut back, torn) = BackwardLines::new(&file, meta.len())
                        .map_err(|e| AuditError::io(live, "read", e))?;
                    self.last = back
                        .next_line()
                        .map_err(|e| AuditError::io(live, "read", e))?
                        .map(|(_, line)| line_hash(&line));
                    file.seek(SeekFrom::Start(meta.len() - torn))
                        .map_err(|e| AuditError::io(live, "seek", e))?;
                }
                self.current = Some((file, meta.ino()));
                Ok(())
            }
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
                self.current = None;
                Ok(())
            }
            Err(err) => Err(AuditError::io(live, "open", err)),
        }
    }

    /// The matching records appended since the last call (possibly none). Call it
    /// in a loop with a short sleep.
    ///
    /// After a rotation the rest of the old file is read first. When the first line
    /// of a new live file does not chain to the last line read (more rotations
    /// happened between two polls), the rotated files in between are read first,
    /// found through the hash chain. So nothing is skipped.
    ///
    /// # Errors
    /// [`AuditError::Io`] on a read failure.
    pub fn poll(&mut self) -> Result<Vec<AuditRecord>, AuditError> {
        let mut out = Vec::new();
        let live = self.layout.live().to_path_buf();
        // Decide whether the live path still names our file before draining it: if it
        // was rotated, the old file is final, so reading it to the end misses nothing.
        let rotated = match (&self.current, std::fs::metadata(&live)) {
            (Some((_, ino)), Ok(meta)) => meta.ino() != *ino,
            (Some(_), Err(_)) => true,
            (None, Ok(_)) => true,
            (None, Err(_)) => false,
        };
        self.drain(&mut out)?;
        if rotated {
            self.open_live(false)?;
            self.drain(&mut out)?;
        }
        Ok(out)
    }

    /// Reads the complete lines appended to the current file.
    fn drain(&mut self, out: &mut Vec<AuditRecord>) -> Result<(), AuditError> {
        let live = self.layout.live().to_path_buf();
        let Some((file, _)) = &mut self.current else {
            return Ok(());
        };
        let mut chunk = Vec::new();
        file.read_to_end(&mut chunk)
            .map_err(|e| AuditError::io(&live, "read", e))?;
        self.partial.extend_from_slice(&chunk);
        let complete = self
            .partial
            .iter()
            .rposition(|b| *b == b'\n')
            .map_or(0, |i| i + 1);
        let rest = self.partial.split_off(complete);
        let lines = std::mem::replace(&mut self.partial, rest);
        for line in lines.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
            if std::mem::take(&mut self.at_start)
                && let Some(last) = self.last
                && line_prev(line).is_some_and(|prev| prev != hex::encode(last))
            {
                self.catch_up(out)?;
            }
            self.emit(line, out);
        }
        Ok(())
    }

    /// Emits every line of the rotated files that follow the last line read.
    ///
    /// The rotated file that follows is the one whose first line chains to it.
    fn catch_up(&mut self, out: &mut Vec<AuditRecord>) -> Result<(), AuditError> {
        let Some(last) = self.last else { return Ok(()) };
        let rotated = self.layout.rotated()?;
        let wanted = hex::encode(last);
        let mut start = None;
        for (index, file) in rotated.iter().enumerate().rev() {
            let bytes = read_rotated(file)?;
            let first = bytes.split(|b| *b == b'\n').next().unwrap_or_default();
            if line_prev(first).as_deref() == Some(wanted.as_str()) {
                start = Some(index);
                break;
            }
        }
        let Some(start) = start else { return Ok(()) };
        for file in &rotated[start..] {
            let bytes = read_rotated(file)?;
            let complete = bytes.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
            for line in bytes[..complete]
                .split(|b| *b == b'\n')
                .filter(|l| !l.is_empty())
            {
                self.emit(line, out);
            }
        }
        Ok(())
    }

    fn emit(&mut self, line: &[u8], out: &mut Vec<AuditRecord>) {
        self.last = Some(line_hash(line));
        if let Some(record) = std::str::from_utf8(line).ok().and_then(AuditRecord::parse)
            && self.query.matches(&record)
        {
            out.push(record);
        }
    }
}

/// Reads a whole rotated file, following it to `.gz` if it was compressed meanwhile.
fn read_rotated(file: &crate::layout::Rotated) -> Result<Vec<u8>, AuditError> {
    let (mut handle, gzip) = open_file(&LogFile {
        path: file.path.clone(),
        gzip: file.gzip,
        live: false,
    })?;
    let mut bytes = Vec::new();
    let result = if gzip {
        flate2::read::MultiGzDecoder::new(handle).read_to_end(&mut bytes)
    } else {
        handle.read_to_end(&mut bytes)
    };
    result.map_err(|e| AuditError::io(&file.path, "read", e))?;
    Ok(bytes)
}

/// An export format.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportFormat {
    /// One JSON array of objects.
    Json,
    /// One JSON object per line, exactly as stored (hash chain intact).
    Jsonl,
    /// Comma-separated values with a header; event-specific fields go in `extra` as
    /// JSON. Cells starting with `=`, `+`, `-`, `@`, tab or CR are prefixed with `'`
    /// so a spreadsheet never runs them as formulas (skill names and resources are
    /// attacker-influenced).
    Csv,
}

impl FromStr for ExportFormat {
    type Err = AuditError;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        match name.to_ascii_lowercase().as_str() {
            "json" => Ok(Self::Json),
            "jsonl" => Ok(Self::Jsonl),
            "csv" => Ok(Self::Csv),
            _ => Err(AuditError::InvalidQuery {
                what: "export format",
                value: name.chars().take(32).collect(),
                reason: "expected json, jsonl or csv".to_owned(),
            }),
        }
    }
}

const CSV_COLUMNS: &[&str] = &[
    "ts",
    "event",
    "sessionId",
    "skill",
    "action",
    "resource",
    "granted",
    "blocked",
    "extra",
    "prev",
];

/// Writes the records of `query` to `out` in `format`; returns how many.
///
/// # Errors
/// [`AuditError::Io`] on a read or write failure (`out_name` names the output).
pub fn export(
    reader: &AuditReader,
    query: &Query,
    format: ExportFormat,
    out: &mut dyn Write,
    out_name: &Path,
) -> Result<u64, AuditError> {
    let werr = |e| AuditError::io(out_name, "write", e);
    let mut count = 0u64;
    match format {
        ExportFormat::Json => out.write_all(b"[").map_err(werr)?,
        ExportFormat::Csv => out
            .write_all(format!("{}\n", CSV_COLUMNS.join(",")).as_bytes())
            .map_err(werr)?,
        ExportFormat::Jsonl => {}
    }
    reader.scan(query, |record| {
        match format {
            ExportFormat::Jsonl => writeln!(out, "{}", record.raw()).map_err(werr)?,
            ExportFormat::Json => {
                let sep = if count == 0 { "\n" } else { ",\n" };
                write!(out, "{sep}{}", record.raw()).map_err(werr)?;
            }
            ExportFormat::Csv => out.write_all(csv_row(&record).as_bytes()).map_err(werr)?,
        }
        count += 1;
        Ok(())
    })?;
    if format == ExportFormat::Json {
        out.write_all(if count == 0 { b"]\n" } else { b"\n]\n" })
            .map_err(werr)?;
    }
    out.flush().map_err(werr)?;
    Ok(count)
}

fn csv_row(record: &AuditRecord) -> String {
    let mut extra = Map::new();
    for (key, value) in record.fields() {
        if !CSV_COLUMNS.contains(&key.as_str()) {
            extra.insert(key.clone(), value.clone());
        }
    }
    let cell = |name: &str| -> String {
        match record.get(name) {
            None | Some(Value::Null) => String::new(),
            Some(Value::String(s)) => s.clone(),
            Some(Value::Array(items)) => items
                .iter()
                .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_owned))
                .collect::<Vec<_>>()
                .join(";"),
            Some(other) => other.to_string(),
        }
    };
    let cells: Vec<String> = CSV_COLUMNS
        .iter()
        .map(|name| {
            if *name == "extra" {
                if extra.is_empty() {
                    String::new()
                } else {
                    Value::Object(extra.clone()).to_string()
                }
            } else {
                cell(name)
            }
        })
        .map(|c| csv_escape(&c))
        .collect();
    format!("{}\n", cells.join(","))
}

fn csv_escape(cell: &str) -> String {
    let defused = if cell.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{cell}")
    } else {
        cell.to_owned()
    };
    if defused.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", defused.replace('"', "\"\""))
    } else {
        defused
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_cells() {
        for (input, expected) in [
            ("plain", "plain"),
            ("a,b", "\"a,b\""),
            ("say \"hi\"", "\"say \"\"hi\"\"\""),
            ("=HYPERLINK(\"x\")", "\"'=HYPERLINK(\"\"x\"\")\""),
            ("+1", "'+1"),
            ("-1", "'-1"),
            ("@SUM(A1)", "'@SUM(A1)"),
            ("line\nbreak", "\"line\nbreak\""),
        ] {
            assert_eq!(csv_escape(input), expected, "{input:?}");
        }
    }

    #[test]
    fn query_parsing() {
        assert!(
            Query::new()
                .filter("allowlist_violation, NETWORK_BLOCK")
                .is_ok()
        );
        assert!(Query::new().filter("NOPE").is_err());
        assert!(Query::new().filter(",").is_err());
        assert!(Query::new().since("2026-04-06T00:00:00Z").is_ok());
        assert!(Query::new().since("2026-04-06T02:00:00+02:00").is_ok());
        assert!(Query::new().since("yesterday").is_err());
        assert!(Query::new().until("2026-04-06").is_err());
    }

    #[test]
    fn time_range_compares_times_not_strings() {
        let query = Query::new().since("2026-04-06T13:00:00+02:00").unwrap();
        let at =
            |ts: &str| AuditRecord::parse(&format!("{{\"ts\":\"{ts}\",\"event\":\"X\"}}")).unwrap();
        assert!(query.matches(&at("2026-04-06T11:00:00.000Z")));
        assert!(!query.matches(&at("2026-04-06T10:59:59.999Z")));
        assert!(query.matches(&at("2026-04-06T12:00:00+01:00")));
        assert!(!query.matches(&at("garbage")));
    }
}
