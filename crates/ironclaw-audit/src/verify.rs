//! Verifying the hash chain across all files of a log, and the seal of the live file.

use std::fs::File;
use std::io::BufReader;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::chain::{GENESIS, Hash, Seal, line_hash};
use crate::error::AuditError;
use crate::event::EventKind;
use crate::layout::Layout;
use crate::reader::{AuditReader, LogFile, for_each_line, open_file};

/// What kind of problem verify found.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FindingKind {
    /// A line's `prev` is not the hash of the line before it: that line or the one
    /// before was edited, or lines were inserted, deleted or reordered here.
    BrokenChain,
    /// A line is not a JSON object with a `prev` field.
    Unparseable,
    /// The first line of the log does not chain to the genesis hash although no
    /// rotated file precedes it: lines were removed from the start.
    MissingStart,
    /// The live file is shorter than, or ends differently from, what its seal says
    /// was durably written: lines were removed or changed at the end.
    Truncated,
    /// The live file has lines but its seal is missing or unreadable, so truncation
    /// at the end cannot be checked.
    SealMissing,
    /// The writer recorded an `AUDIT_INTEGRITY` event: when it opened the log, the
    /// log no longer matched its seal.
    IntegrityEvent,
}

/// One problem, located at a line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// What was found.
    pub kind: FindingKind,
    /// The file holding the line.
    pub file: PathBuf,
    /// The line number in that file, from 1 (0 for the file as a whole).
    pub line: u64,
    /// A sentence for the operator.
    pub detail: String,
}

impl std::fmt::Display for Finding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}: {}", self.file.display(), self.line, self.detail)
    }
}

/// The result of [`verify`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyReport {
    /// The files checked, oldest first.
    pub files: Vec<PathBuf>,
    /// Complete lines checked.
    pub lines: u64,
    /// The first problem of the chain itself (checking stops there), then any
    /// recorded integrity events and seal problems.
    pub findings: Vec<Finding>,
    /// Bytes of an incomplete last line in the live file: a write interrupted by a
    /// crash, never acknowledged. Not tampering.
    pub incomplete_tail: u64,
    /// The first line chains to a hash other than genesis because older rotated
    /// files were removed (by retention, or by someone): the chain is checked from
    /// there on.
    pub starts_after_genesis: bool,
    /// Hex SHA-256 of the last complete line: write it down elsewhere to anchor the
    /// chain against a rewrite of the whole log.
    pub last_hash: String,
}

impl VerifyReport {
    /// No findings (an incomplete tail and a removed start are not findings).
    pub fn is_clean(&self) -> bool {
        self.findings.is_empty()
    }
}

/// Checks every line of the log whose live file is `path`.
///
/// Detects an edited, inserted, deleted or reordered line (the first break is named
/// by file and line), lines removed from the start of a log that was never rotated,
/// and lines removed from the end of the live file (through the seal, see
/// [`FindingKind::Truncated`]). It cannot detect a consistent rewrite of the whole
/// chain and seal by someone with write access, nor removal of the oldest rotated
/// files (indistinguishable from retention; reported as `starts_after_genesis`).
///
/// # Errors
/// [`AuditError::Io`] when a file cannot be read.
pub fn verify(path: impl AsRef<Path>) -> Result<VerifyReport, AuditError> {
    let path = path.as_ref();
    // A running writer may rotate while the files are opened; then the snapshot is
    // inconsistent and is taken again. Rotations are rare, so this ends quickly.
    let mut attempts = 0;
    loop {
        attempts += 1;
        if let Some(snapshot) = Snapshot::take(path)? {
            return check(path, snapshot);
        }
        if attempts >= 100 {
            return Err(AuditError::io(
                path,
                "verify",
                std::io::Error::other("the log kept rotating while it was being opened"),
            ));
        }
        std::thread::yield_now();
    }
}

/// Every file of the log opened at one moment, with the seal of that moment.
#[derive(Debug)]
struct Snapshot {
    files: Vec<(LogFile, File, bool)>,
    seal: Option<Seal>,
}

impl Snapshot {
    /// `None` when a rotation happened while taking it.
    fn take(path: &Path) -> Result<Option<Self>, AuditError> {
        let layout = Layout::new(path);
        // The live file first: a rotation after this point changes what the path
        // names, which the inode check at the end notices; one before it shows up in
        // the listing of rotated files below.
        let live = match File::open(path) {
            Ok(file) => Some(file),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => None,
            Err(err) => return Err(AuditError::io(path, "open", err)),
        };
        let mut files = Vec::new();
        for file in AuditReader::new(path).files()? {
            if file.live {
                continue;
            }
            match open_file(&file) {
                Ok((handle, gzip)) => files.push((file, handle, gzip)),
                // Compressed and removed between listing and opening: take it again.
                Err(AuditError::Io { source, .. })
                    if source.kind() == std::io::ErrorKind::NotFound =>
                {
                    return Ok(None);
                }
                Err(err) => return Err(err),
            }
        }
        let seal = if live.is_some() {
            Seal::read(&layout.seal())?
        } else {
            None
        };
        if let Some(live) = live {
            let ino = |meta: std::fs::Metadata| meta.ino();
            let ours = live
                .metadata()
                .map(ino)
                .map_err(|e| AuditError::io(path, "stat", e))?;
            match std::fs::metadata(path).map(ino) {
                Ok(now) if now == ours => {}
                _ => return Ok(None),
            }
            let entry = LogFile {
                path: path.to_path_buf(),
                gzip: false,
                live: true,
            };
            files.push((entry, live, false));
        }
        Ok(Some(Self { files, seal }))
    }
}

fn check(path: &Path, snapshot: Snapshot) -> Result<VerifyReport, AuditError> {
    let layout = Layout::new(path);
    let Snapshot {
        files: opened,
        seal,
    } = snapshot;
    let mut report = VerifyReport {
        files: opened.iter().map(|(f, _, _)| f.path.clone()).collect(),
        lines: 0,
        findings: Vec::new(),
        incomplete_tail: 0,
        starts_after_genesis: false,
        last_hash: hex::encode(GENESIS),
    };
    let mut expected: Option<Hash> = None;
    let mut chain_broken = false;
    // Line ends (offset after the newline) of the live file with the line's hash,
    // kept only for the offset the seal names.
    let mut sealed_line: Option<Hash> = None;
    let mut live_complete_len = 0u64;
    let mut previous_file_last = GENESIS;
    let first_is_rotated = opened.first().is_some_and(|(f, _, _)| !f.live);

    for (file, handle, gzip) in opened {
        let file = &file;
        let reader: Box<dyn std::io::BufRead> = if gzip {
            Box::new(BufReader::with_capacity(
                256 * 1024,
                flate2::read::MultiGzDecoder::new(handle),
            ))
        } else {
            Box::new(BufReader::with_capacity(256 * 1024, handle))
        };
        let mut line_no = 0u64;
        let mut offset = 0u64;
        if file.live {
            previous_file_last = expected.unwrap_or(GENESIS);
        }
        let torn = for_each_line(reader, &file.path, |line| {
            line_no += 1;
            offset += line.len() as u64 + 1;
            if chain_broken {
                return Ok(());
            }
            report.lines += 1;
            let hash = line_hash(line);
            if file.live && seal.is_some_and(|s| s.bytes == offset) {
                sealed_line = Some(hash);
            }
            let finding = |kind, detail: String| Finding {
                kind,
                file: file.path.clone(),
                line: line_no,
                detail,
            };
            let parsed: Option<serde_json::Map<String, Value>> = serde_json::from_slice(line).ok();
            let prev = parsed
                .as_ref()
                .and_then(|m| m.get("prev"))
                .and_then(Value::as_str);
            let Some(prev) = prev else {
                report.findings.push(finding(
                    FindingKind::Unparseable,
                    "not a JSON audit line with a prev field".to_owned(),
                ));
                chain_broken = true;
                return Ok(());
            };
            match expected {
                Some(expected) if prev != hex::encode(expected) => {
                    let before = if line_no == 1 {
                        "the last line of the previous file".to_owned()
                    } else {
                        format!("line {}", line_no - 1)
                    };
                    report.findings.push(finding(
                        FindingKind::BrokenChain,
                        format!(
                            "prev does not match the hash of {before}: that line was edited, or lines were inserted, deleted or reordered here"
                        ),
                    ));
                    chain_broken = true;
                    return Ok(());
                }
                Some(_) => {}
                None if prev == hex::encode(GENESIS) => {}
                None if first_is_rotated => report.starts_after_genesis = true,
                None => {
                    report.findings.push(finding(
                        FindingKind::MissingStart,
                        "the first line does not chain to the genesis hash: lines were removed from the start".to_owned(),
                    ));
                    chain_broken = true;
                    return Ok(());
                }
            }
            if parsed
                .as_ref()
                .and_then(|m| m.get("event"))
                .and_then(Value::as_str)
                == Some(EventKind::AuditIntegrity.as_str())
            {
                report.findings.push(finding(
                    FindingKind::IntegrityEvent,
                    "the writer found this log truncated or altered when it opened it".to_owned(),
                ));
            }
            expected = Some(hash);
            Ok(())
        })?;
        if file.live {
            live_complete_len = offset;
            report.incomplete_tail = torn;
        } else if torn > 0 && !chain_broken {
            report.findings.push(Finding {
                kind: FindingKind::Truncated,
                file: file.path.clone(),
                line: line_no + 1,
                detail: "a rotated file ends in an incomplete line".to_owned(),
            });
            chain_broken = true;
        }
    }
    if let Some(last) = expected {
        report.last_hash = hex::encode(last);
    }
    if chain_broken {
        return Ok(report);
    }

    let live = layout.live().to_path_buf();
    let whole_file = |kind, detail: String| Finding {
        kind,
        file: live.clone(),
        line: 0,
        detail,
    };
    let problem = match seal {
        None if live_complete_len > 0 => Some((
            FindingKind::SealMissing,
            format!(
                "the seal {} is missing or damaged: truncation at the end cannot be checked",
                layout.seal().display()
            ),
        )),
        None => None,
        // Between a rotation and the seal update (or after a crash there) the seal
        // still names the end of the file just rotated away; then it says nothing
        // about the live file, whose lines all come after that end.
        Some(seal)
            if seal.bytes > 0
                && seal.last == previous_file_last
                && previous_file_last != GENESIS =>
        {
            None
        }
        Some(seal)
            if seal.bytes == 0 && live_complete_len == 0 && seal.last != previous_file_last =>
        {
            Some((
                FindingKind::Truncated,
                "the seal does not match the end of the previous file".to_owned(),
            ))
        }
        Some(seal) if seal.bytes == 0 => None,

        Some(seal) if seal.bytes > live_complete_len => Some((
            FindingKind::Truncated,
            format!(
                "the file holds {live_complete_len} complete bytes but {} were durably written: lines were removed from the end",
                seal.bytes
            ),
        )),
        Some(seal) if sealed_line != Some(seal.last) => Some((
            FindingKind::Truncated,
            format!(
                "the line ending at byte {} is not the one durably written there: the end of the file was changed",
                seal.bytes
            ),
        )),
        Some(_) => None,
    };
    if let Some((kind, detail)) = problem {
        report.findings.push(whole_file(kind, detail));
    }
    Ok(report)
}
