//! Where the files of one log live: the live file, its rotated siblings and its seal,
//! plus reading lines backwards from the end of a file.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use time::OffsetDateTime;

use crate::error::AuditError;

/// The names of the files that make up one log.
#[derive(Debug, Clone)]
pub(crate) struct Layout {
    live: PathBuf,
    dir: PathBuf,
    stem: String,
    ext: String,
}

/// One rotated file, plain or compressed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Rotated {
    pub(crate) path: PathBuf,
    /// The timestamp part of the name, `YYYYMMDDTHHMMSS.ffffffZ`; sorts chronologically.
    pub(crate) stamp: String,
    pub(crate) gzip: bool,
}

impl Layout {
    pub(crate) fn new(live: &Path) -> Self {
        let dir = match live.parent() {
            Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let name = live
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let (stem, ext) = match name.rsplit_once('.') {
            Some((stem, ext)) if !stem.is_empty() => (stem.to_owned(), ext.to_owned()),
            _ => (name.clone(), "log".to_owned()),
        };
        Self {
            live: live.to_path_buf(),
            dir,
            stem,
            ext,
        }
    }

    pub(crate) fn live(&self) -> &Path {
        &self.live
    }

    pub(crate) fn dir(&self) -> &Path {
        &self.dir
    }

    /// The seal: the length and last-line hash of the live file after the last
    /// durable write, so that a truncated live file can be noticed.
    pub(crate) fn seal(&self) -> PathBuf {
        let mut name = self.live.as_os_str().to_owned();
        name.push(".seal");
        PathBuf::from(name)
    }

    /// A fresh name for rotating the live file at `now`, not yet taken.
    pub(crate) fn rotated_name(&self, now: OffsetDateTime) -> PathBuf {
        let mut nanos = now.unix_timestamp_nanos();
        loop {
            let at = OffsetDateTime::from_unix_timestamp_nanos(nanos).unwrap_or(now);
            let stamp = format!(
                "{:04}{:02}{:02}T{:02}{:02}{:02}.{:06}Z",
                at.year(),
                u8::from(at.month()),
                at.day(),
                at.hour(),
                at.minute(),
                at.second(),
                at.microsecond()
            );
            let plain = self.dir.join(format!("{}-{stamp}.{}", self.stem, self.ext));
            let gz = self
                .dir
                .join(format!("{}-{stamp}.{}.gz", self.stem, self.ext));
            if !plain.exists() && !gz.exists() {
                return plain;
            }
            nanos += 1_000;
        }
    }

    /// The rotated files, oldest first. When both `X.log` and `X.log.gz` exist
    /// (compression was interrupted), the plain file is the one used.
    pub(crate) fn rotated(&self) -> Result<Vec<Rotated>, AuditError> {
        let entries = match std::fs::read_dir(&self.dir) {
            Ok(entries) => entries,
            Err(err) => return Err(AuditError::io(&self.dir, "list directory", err)),
        };
        let prefix = format!("{}-", self.stem);
        let plain_suffix = format!(".{}", self.ext);
        let gz_suffix = format!(".{}.gz", self.ext);
        let mut found: Vec<Rotated> = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|err| AuditError::io(&self.dir, "list directory", err))?;
            let name = entry.file_name();
            let Some(name) = name.to_str() else { continue };
            let Some(rest) = name.strip_prefix(&prefix) else {
                continue;
            };
            let (stamp, gzip) = if let Some(stamp) = rest.strip_suffix(&gz_suffix) {
                (stamp, true)
            } else if let Some(stamp) = rest.strip_suffix(&plain_suffix) {
                (stamp, false)
            } else {
                continue;
            };
            if !is_stamp(stamp) {
                continue;
            }
            found.push(Rotated {
                path: entry.path(),
                stamp: stamp.to_owned(),
                gzip,
            });
        }
        found.sort_by(|a, b| a.stamp.cmp(&b.stamp).then(a.gzip.cmp(&b.gzip)));
        found.dedup_by(|later, earlier| later.stamp == earlier.stamp);
        Ok(found)
    }
}

impl Layout {
    /// Half-written compressed files left by a crash during compression: older
    /// than ten minutes, so that another process's compression in progress is
    /// left alone.
    pub(crate) fn stale_temporaries(&self) -> Vec<PathBuf> {
        let prefix = format!("{}-", self.stem);
        let infix = format!(".{}.gz.tmp", self.ext);
        std::fs::read_dir(&self.dir)
            .map(|entries| {
                entries
                    .filter_map(Result::ok)
                    .filter(|e| {
                        e.file_name()
                            .to_str()
                            .is_some_and(|n| n.starts_with(&prefix) && n.contains(&infix))
                            && e.metadata()
                                .and_then(|m| m.modified())
                                .ok()
                                .and_then(|t| t.elapsed().ok())
                                .is_some_and(|age| age.as_secs() > 600)
                    })
                    .map(|e| e.path())
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// `YYYYMMDDTHHMMSS.ffffffZ`.
fn is_stamp(stamp: &str) -> bool {
    let bytes = stamp.as_bytes();
    bytes.len() == 23
        && bytes.iter().enumerate().all(|(i, b)| match i {
            8 => *b == b'T',
            15 => *b == b'.',
            22 => *b == b'Z',
            _ => b.is_ascii_digit(),
        })
}

/// The UTC time a rotated file's stamp names.
pub(crate) fn stamp_time(stamp: &str) -> Option<OffsetDateTime> {
    let format = time::macros::format_description!(
        "[year][month][day]T[hour][minute][second].[subsecond digits:6]Z"
    );
    time::PrimitiveDateTime::parse(stamp, &format)
        .ok()
        .map(|t| t.assume_utc())
}

/// Reads the complete lines of a file backwards, newest first, without reading the
/// whole file. Bytes after the last newline are an incomplete (torn) tail.
#[derive(Debug)]
pub(crate) struct BackwardLines<'a> {
    file: &'a File,
    /// Everything before this offset is still unread.
    pos: u64,
    /// Bytes read but not yet returned, ending at the start of the last returned line.
    pending: Vec<u8>,
    /// Offset of the end (exclusive, newline excluded) of the next line to return.
    done: bool,
}

const CHUNK: usize = 64 * 1024;

impl<'a> BackwardLines<'a> {
    /// Starts at `end`; returns the iterator and the length of the torn tail.
    pub(crate) fn new(file: &'a File, end: u64) -> std::io::Result<(Self, u64)> {
        let mut lines = Self {
            file,
            pos: end,
            pending: Vec::new(),
            done: false,
        };
        // Find the last newline: everything after it is torn.
        let mut torn = 0u64;
        loop {
            if let Some(idx) = lines.pending.iter().rposition(|b| *b == b'\n') {
                torn += (lines.pending.len() - idx - 1) as u64;
                lines.pending.truncate(idx);
                break;
            }
            torn += lines.pending.len() as u64;
            lines.pending.clear();
            if !lines.fill()? {
                lines.done = true;
                break;
            }
        }
        Ok((lines, torn))
    }

    /// Prepends one more chunk; false at the start of the file.
    fn fill(&mut self) -> std::io::Result<bool> {
        if self.pos == 0 {
            return Ok(false);
        }
        let size = CHUNK.min(usize::try_from(self.pos).unwrap_or(CHUNK));
        let start = self.pos - size as u64;
        let mut chunk = vec![0u8; size];
        self.file.read_exact_at(&mut chunk, start)?;
        chunk.extend_from_slice(&self.pending);
        self.pending = chunk;
        self.pos = start;
        Ok(true)
    }

    /// The next line backwards with the offset where it starts.
    pub(crate) fn next_line(&mut self) -> std::io::Result<Option<(u64, Vec<u8>)>> {
        if self.done {
            return Ok(None);
        }
        loop {
            if let Some(idx) = self.pending.iter().rposition(|b| *b == b'\n') {
                let line = self.pending.split_off(idx + 1);
                self.pending.truncate(idx);
                let start = self.pos + idx as u64 + 1;
                return Ok(Some((start, line)));
            }
            if !self.fill()? {
                self.done = true;
                let line = std::mem::take(&mut self.pending);
                return Ok(Some((0, line)));
            }
        }
    }
}

/// Reads a whole file, decompressing `.gz`.
pub(crate) fn read_all(path: &Path, gzip: bool) -> Result<Vec<u8>, AuditError> {
    let file = File::open(path).map_err(|err| AuditError::io(path, "open", err))?;
    let mut bytes = Vec::new();
    let result = if gzip {
        flate2::read::MultiGzDecoder::new(file).read_to_end(&mut bytes)
    } else {
        let mut file = file;
        file.seek(SeekFrom::Start(0))
            .and_then(|_| file.read_to_end(&mut bytes))
    };
    result.map_err(|err| AuditError::io(path, "read", err))?;
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn lines_back(content: &[u8]) -> (Vec<String>, u64) {
        let mut file = tempfile::tempfile().unwrap();
        file.write_all(content).unwrap();
        let (mut back, torn) = BackwardLines::new(&file, content.len() as u64).unwrap();
        let mut out = Vec::new();
        while let Some((start, line)) = back.next_line().unwrap() {
            assert_eq!(
                &content[start as usize..start as usize + line.len()],
                &line[..]
            );
            out.push(String::from_utf8(line).unwrap());
        }
        (out, torn)
    }

    #[test]
    fn backward_lines() {
        assert_eq!(lines_back(b""), (vec![], 0));
        assert_eq!(lines_back(b"abc"), (vec![], 3));
        assert_eq!(lines_back(b"a\nb\n"), (vec!["b".into(), "a".into()], 0));
        assert_eq!(lines_back(b"a\nb\ntorn"), (vec!["b".into(), "a".into()], 4));
        let big: Vec<u8> = (0..50_000)
            .flat_map(|i| format!("line{i}\n").into_bytes())
            .collect();
        let (lines, torn) = lines_back(&big);
        assert_eq!(torn, 0);
        assert_eq!(lines.len(), 50_000);
        assert_eq!(lines[0], "line49999");
        assert_eq!(lines[49_999], "line0");
    }

    #[test]
    fn layout_names() {
        let layout = Layout::new(Path::new("/x/audit.log"));
        assert_eq!(layout.seal(), PathBuf::from("/x/audit.log.seal"));
        let name = layout.rotated_name(OffsetDateTime::UNIX_EPOCH);
        assert_eq!(name, PathBuf::from("/x/audit-19700101T000000.000000Z.log"));
        assert!(is_stamp("19700101T000000.000000Z"));
        assert!(!is_stamp("19700101T000000.000000"));
        assert!(stamp_time("20261123T182100.123456Z").is_some());
    }
}
