//! The durable writer: open checks, group commit, seal, rotation and retention.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;

use time::OffsetDateTime;

use crate::chain::{GENESIS, Hash, Seal, format_ts, line_hash};
use crate::error::AuditError;
use crate::event::{Event, EventKind};
use crate::layout::{BackwardLines, Layout, read_all, stamp_time};

/// Where and how the log is written. Mirrors `security.auditLog` of `ironclaw.json`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditConfig {
    path: PathBuf,
    max_size_bytes: u64,
    keep_days: u32,
    compress: bool,
    commit_delay: std::time::Duration,
}

impl AuditConfig {
    /// A config for the live log file at `path` with the defaults: rotate at 100 MB,
    /// keep rotated files 90 days, gzip them, no commit delay.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self {
            path: path.into(),
            max_size_bytes: 100 * 1024 * 1024,
            keep_days: 90,
            compress: true,
            commit_delay: std::time::Duration::ZERO,
        }
    }

    /// `maxSizeMb`: rotate the live file once it reaches this many MiB.
    ///
    /// Default 100. 0 disables rotation (the file grows without bound). Cost: a rename
    /// and a directory fsync per rotation, paid by the writer that crosses the limit.
    pub fn max_size_mb(mut self, mb: u64) -> Self {
        self.max_size_bytes = mb.saturating_mul(1024 * 1024);
        self
    }

    /// Like [`AuditConfig::max_size_mb`] in bytes, for embedders and tests.
    pub fn max_size_bytes(mut self, bytes: u64) -> Self {
        self.max_size_bytes = bytes;
        self
    }

    /// `keepDays`: delete rotated files whose rotation time is older than this.
    ///
    /// Default 90. 0 keeps rotated files forever. Retention runs at open and after each
    /// rotation. Deleting old files is indistinguishable, for `verify`, from an
    /// attacker deleting the oldest files: verify reports where the chain starts.
    pub fn keep_days(mut self, days: u32) -> Self {
        self.keep_days = days;
        self
    }

    /// `compress`: gzip rotated files in a background thread. Default `true`.
    pub fn compress(mut self, compress: bool) -> Self {
        self.compress = compress;
        self
    }

    /// How long a sync leader waits for more lines once concurrent writers have
    /// been seen (a lone writer never waits), so one sync covers more events.
    ///
    /// Default 0 (off), as PostgreSQL's `commit_delay`: on a loaded machine the
    /// sleep overshoots and costs more than it gains; on a quiet one 100 µs can raise
    /// throughput with 8 or more writers (`cargo xtask bench audit` shows both).
    /// Cost: up to this much added latency per event under concurrency.
    pub fn commit_delay(mut self, delay: std::time::Duration) -> Self {
        self.commit_delay = delay;
        self
    }

    /// The same settings for another live file.
    pub fn with_path(mut self, path: impl Into<PathBuf>) -> Self {
        self.path = path.into();
        self
    }

    /// The live log file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// Something found when opening the log that the operator should hear about; the
/// log is usable. Returned by [`AuditLog::warnings`].
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OpenWarning {
    /// The existing file is readable or writable by group or others.
    LooseMode {
        /// The log file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// The file ended in an incomplete line (a write interrupted by a crash, never
    /// acknowledged); those bytes were cut off so the chain continues cleanly.
    TornTail {
        /// The log file.
        path: PathBuf,
        /// How many bytes were removed.
        bytes: u64,
    },
    /// The live file is shorter than, or differs from, what the seal says was durably
    /// written: lines were removed while no writer ran. An `AUDIT_INTEGRITY` event
    /// was recorded so that `verify` keeps reporting it.
    SealMismatch {
        /// The log file.
        path: PathBuf,
        /// The length the seal recorded.
        sealed_bytes: u64,
        /// The length found.
        found_bytes: u64,
    },
}

impl std::fmt::Display for OpenWarning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::LooseMode { path, mode } => write!(
                f,
                "audit log {}: mode {mode:o} lets other users read or write it; run chmod 600",
                path.display()
            ),
            Self::TornTail { path, bytes } => write!(
                f,
                "audit log {}: removed an incomplete last line of {bytes} bytes left by a crash",
                path.display()
            ),
            Self::SealMismatch {
                path,
                sealed_bytes,
                found_bytes,
            } => write!(
                f,
                "audit log {}: truncated or altered while closed (sealed {sealed_bytes} bytes, found {found_bytes})",
                path.display()
            ),
        }
    }
}

/// The audit log, open for appending. Cheap to clone; clones share one file.
///
/// [`AuditLog::record`] blocks until the event is on disk (`fdatasync`). Concurrent
/// callers share a sync (group commit): the first caller to find no sync in progress
/// writes every pending line and syncs once; the others wait on a condition variable.
///
/// From async code, call it through `tokio::task::spawn_blocking` (the clone is
/// `Send + Sync + 'static`), or use a dedicated thread; never call it directly on a
/// runtime worker thread, because a sync takes milliseconds.
///
/// When a write or sync fails the log closes (fail closed): that call returns the
/// I/O error and every later call returns [`AuditError::Closed`], because a line that
/// may not be durable must never be acknowledged. Reopen to continue.
#[derive(Debug, Clone)]
pub struct AuditLog {
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    config: AuditConfig,
    layout: Layout,
    state: Mutex<State>,
    flushed: Condvar,
    sink: Mutex<Sink>,
    /// The seal file; its `flock` serialises writers across processes.
    seal: File,
    warnings: Vec<OpenWarning>,
    background: Mutex<Vec<JoinHandle<()>>>,
    /// Held by the maintenance thread, so that two of them never compress the same
    /// file at once.
    maintenance: Arc<Mutex<()>>,
}

#[derive(Debug)]
struct State {
    /// Events accepted but not yet written.
    pending: Vec<Event>,
    /// Count of events accepted since open, and of those durable.
    appended: u64,
    durable: u64,
    flushing: bool,
    failed: bool,
    /// Events in the previous batch: more than one means concurrent writers.
    last_batch: u64,
}

/// The open live file and what this process knows of its end. Only the sync
/// leader touches it, under the cross-process lock on the seal file.
#[derive(Debug)]
struct Sink {
    file: File,
    ino: u64,
    size: u64,
    /// The hash of the last line in the file (what the next line chains to).
    last: Hash,
    last_ms: i128,
}

impl AuditLog {
    /// Opens (creating with mode 0600 if needed) the live log of `config`.
    ///
    /// Checks the parent directory and the file, cuts off a torn last line, checks
    /// the seal, compresses rotated files left uncompressed and applies retention.
    ///
    /// # Errors
    /// [`AuditError::ParentMissing`], [`AuditError::NotWritable`] or
    /// [`AuditError::NotAFile`] naming the path when the log cannot be written;
    /// [`AuditError::Io`] when reading its current state fails.
    pub fn open(config: AuditConfig) -> Result<Self, AuditError> {
        let path = config.path.clone();
        let layout = Layout::new(&path);
        let mut warnings = Vec::new();
        match std::fs::metadata(layout.dir()) {
            Ok(meta) if meta.is_dir() => {}
            _ => return Err(AuditError::ParentMissing { path }),
        }
        if let Ok(meta) = std::fs::symlink_metadata(&path) {
            if !meta.file_type().is_file() {
                return Err(AuditError::NotAFile { path });
            }
            let mode = meta.permissions().mode() & 0o777;
            if mode & 0o077 != 0 {
                warnings.push(OpenWarning::LooseMode {
                    path: path.clone(),
                    mode,
                });
            }
        }
        let seal_path = layout.seal();
        let seal_file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .custom_flags(libc_o_nofollow())
            .open(&seal_path)
            .map_err(|source| AuditError::NotWritable {
                path: seal_path.clone(),
                source,
            })?;
        let _guard = FileLockGuard::acquire(&seal_file, &seal_path)?;
        let file = open_live(&path)?;

        let mut size = file
            .metadata()
            .map_err(|err| AuditError::io(&path, "stat", err))?
            .len();
        let ino = file
            .metadata()
            .map_err(|err| AuditError::io(&path, "stat", err))?
            .ino();
        let (mut last, torn) = last_line_hash(&file, size, &path)?;
        if torn > 0 {
            size -= torn;
            cut_torn_tail(&file, size, &path)?;
            warnings.push(OpenWarning::TornTail {
                path: path.clone(),
                bytes: torn,
            });
        }
        let seal = Seal::read(&seal_path)?;
        if size == 0 {
            last = empty_file_anchor(&layout, seal)?;
        }
        let mismatch = match &seal {
            Some(seal) => !seal_matches(seal, &file, size, last, &layout, &path)?,
            None => false,
        };
        if mismatch {
            let sealed = seal.map_or(0, |s| s.bytes);
            warnings.push(OpenWarning::SealMismatch {
                path: path.clone(),
                sealed_bytes: sealed,
                found_bytes: size,
            });
        }
        Seal { bytes: size, last }.write(&seal_file, &seal_path)?;
        drop(_guard);
        let last_ms = last_line_ms(&file, size);
        let sink = Sink {
            file,
            ino,
            size,
            last,
            last_ms,
        };

        let log = Self {
            shared: Arc::new(Shared {
                layout,
                state: Mutex::new(State {
                    pending: Vec::new(),
                    appended: 0,
                    durable: 0,
                    flushing: false,
                    failed: false,
                    last_batch: 0,
                }),
                flushed: Condvar::new(),
                sink: Mutex::new(sink),
                seal: seal_file,
                warnings,
                background: Mutex::new(Vec::new()),
                maintenance: Arc::new(Mutex::new(())),
                config,
            }),
        };
        if let Some(OpenWarning::SealMismatch {
            sealed_bytes,
            found_bytes,
            ..
        }) = log
            .shared
            .warnings
            .iter()
            .find(|w| matches!(w, OpenWarning::SealMismatch { .. }))
        {
            let event = Event::builder(EventKind::AuditIntegrity)
                .action("open")
                .resource(path.display().to_string())
                .field("sealedBytes", *sealed_bytes)
                .field("foundBytes", *found_bytes)
                .build()?;
            log.record(event)?;
        }
        log.start_maintenance();
        Ok(log)
    }

    /// What [`AuditLog::open`] found that the operator should be told.
    pub fn warnings(&self) -> &[OpenWarning] {
        &self.shared.warnings
    }

    /// The live log file.
    pub fn path(&self) -> &Path {
        self.shared.config.path()
    }

    /// Appends `event` and returns once it is durable (after `fdatasync`).
    ///
    /// Blocks the calling thread; see the type documentation for async callers.
    ///
    /// # Errors
    /// [`AuditError::Io`] when writing or syncing failed (the log closes), and
    /// [`AuditError::Closed`] for every call after that.
    pub fn record(&self, event: Event) -> Result<(), AuditError> {
        let shared = &*self.shared;
        let mut state = lock(&shared.state);
        if state.failed {
            return Err(AuditError::Closed {
                path: shared.config.path.clone(),
            });
        }
        state.pending.push(event);
        state.appended += 1;
        let mine = state.appended;

        loop {
            if state.durable >= mine {
                return Ok(());
            }
            if state.failed {
                return Err(AuditError::Closed {
                    path: shared.config.path.clone(),
                });
            }
            if state.flushing {
                state = shared
                    .flushed
                    .wait(state)
                    .unwrap_or_else(PoisonError::into_inner);
                continue;
            }
            // Become the leader: write everything pending with one sync.
            state.flushing = true;
            if state.last_batch > 1 && !shared.config.commit_delay.is_zero() {
                // Other writers are active: give the ones just woken by the previous
                // sync a moment to append, so that one sync covers them too
                // (PostgreSQL's commit_delay). A lone writer never waits.
                drop(state);
                std::thread::sleep(shared.config.commit_delay);
                state = lock(&shared.state);
            }
            let batch = std::mem::take(&mut state.pending);
            state.last_batch = batch.len() as u64;
            let target = state.appended;
            drop(state);
            let result = self.write_batch(&batch);
            state = lock(&shared.state);
            state.flushing = false;
            match result {
                Ok(()) => state.durable = target,
                Err(err) => {
                    state.failed = true;
                    shared.flushed.notify_all();
                    return Err(err);
                }
            }
            shared.flushed.notify_all();
        }
    }

    /// Chains, writes and syncs one batch, updates the seal and rotates when the
    /// file is full, all under the cross-process lock: another process (a CLI
    /// command next to the daemon) may append to the same log between two batches,
    /// and the chain then continues from its lines.
    fn write_batch(&self, batch: &[Event]) -> Result<(), AuditError> {
        let shared = &*self.shared;
        let path = shared.layout.live();
        let seal_path = shared.layout.seal();
        let mut sink = lock(&shared.sink);
        let sink = &mut *sink;
        let _guard = FileLockGuard::acquire(&shared.seal, &seal_path)?;
        self.catch_up(sink)?;

        let now_ms = OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000;
        // Timestamps never go backwards within a log, even if the clock does, so
        // that file order and time order agree.
        sink.last_ms = sink.last_ms.max(now_ms);
        let ts = format_ts(sink.last_ms);
        let mut buf = Vec::with_capacity(batch.len() * 320);
        for event in batch {
            let start = buf.len();
            buf.extend_from_slice(b"{\"ts\":\"");
            buf.extend_from_slice(ts.as_bytes());
            buf.extend_from_slice(b"\",");
            buf.extend_from_slice(event.body().as_bytes());
            buf.extend_from_slice(b"\"prev\":\"");
            buf.extend_from_slice(hex::encode(sink.last).as_bytes());
            buf.extend_from_slice(b"\"}");
            sink.last = line_hash(&buf[start..]);
            buf.push(b'\n');
        }
        sink.file
            .write_all(&buf)
            .map_err(|err| AuditError::io(path, "write", err))?;
        sink.file
            .sync_data()
            .map_err(|err| AuditError::io(path, "fsync", err))?;
        sink.size += buf.len() as u64;
        Seal {
            bytes: sink.size,
            last: sink.last,
        }
        .write(&shared.seal, &seal_path)?;
        let max = shared.config.max_size_bytes;
        if max > 0 && sink.size >= max {
            self.rotate(sink)?;
            self.start_maintenance();
        }
        Ok(())
    }

    /// Brings the sink up to date when another process appended to or rotated the
    /// log since this one last wrote (called under the cross-process lock).
    fn catch_up(&self, sink: &mut Sink) -> Result<(), AuditError> {
        let layout = &self.shared.layout;
        let path = layout.live();
        let on_disk = match std::fs::metadata(path) {
            Ok(meta) => Some(meta.ino()),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => None,
            Err(err) => return Err(AuditError::io(path, "stat", err)),
        };
        if on_disk != Some(sink.ino) {
            sink.file = open_live(path)?;
            sink.ino = sink
                .file
                .metadata()
                .map_err(|e| AuditError::io(path, "stat", e))?
                .ino();
        }
        let len = sink
            .file
            .metadata()
            .map_err(|e| AuditError::io(path, "stat", e))?
            .len();
        if on_disk == Some(sink.ino) && len == sink.size {
            return Ok(());
        }
        let (last, torn) = last_line_hash(&sink.file, len, path)?;
        sink.size = len - torn;
        if torn > 0 {
            // Another writer crashed in the middle of a line it never acknowledged.
            cut_torn_tail(&sink.file, sink.size, path)?;
        }
        sink.last = if sink.size == 0 {
            empty_file_anchor(layout, Seal::read(&layout.seal())?)?
        } else {
            last
        };
        sink.last_ms = sink.last_ms.max(last_line_ms(&sink.file, sink.size));
        Ok(())
    }

    /// Renames the live file aside and starts a new one whose first line chains to
    /// the last line of the old one. Nothing is lost: pending events are only
    /// written after this returns.
    fn rotate(&self, sink: &mut Sink) -> Result<(), AuditError> {
        let layout = &self.shared.layout;
        let live = layout.live();
        let rotated = layout.rotated_name(OffsetDateTime::now_utc());
        std::fs::rename(live, &rotated).map_err(|err| AuditError::io(live, "rotate", err))?;
        let file = OpenOptions::new()
            .read(true)
            .append(true)
            .create_new(true)
            .mode(0o600)
            .open(live)
            .map_err(|source| AuditError::NotWritable {
                path: live.to_path_buf(),
                source,
            })?;
        sync_dir(layout.dir())?;
        sink.ino = file
            .metadata()
            .map_err(|e| AuditError::io(live, "stat", e))?
            .ino();
        sink.file = file;
        sink.size = 0;
        Seal {
            bytes: 0,
            last: sink.last,
        }
        .write(&self.shared.seal, &layout.seal())
    }

    /// Compresses rotated files and applies retention in a background thread.
    fn start_maintenance(&self) {
        let config = self.shared.config.clone();
        let layout = self.shared.layout.clone();
        let exclusive = Arc::clone(&self.shared.maintenance);
        let handle = std::thread::Builder::new()
            .name("audit-maintenance".to_owned())
            .spawn(move || {
                let _guard = lock(&exclusive);
                maintain(&config, &layout);
            });
        if let Ok(handle) = handle {
            let mut background = lock(&self.shared.background);
            background.retain(|h| !h.is_finished());
            background.push(handle);
        }
    }

    /// Waits for background compression and retention to finish (for tests and for
    /// a clean shutdown; never needed for durability of recorded events).
    pub fn wait_maintenance(&self) {
        let handles: Vec<_> = lock(&self.shared.background).drain(..).collect();
        for handle in handles {
            let _ = handle.join();
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Refuse to write the log through a symlink planted at its path.
fn libc_o_nofollow() -> i32 {
    libc::O_NOFOLLOW
}

/// Opens the live file for appending, creating it with mode 0600, never through a
/// symlink.
fn open_live(path: &Path) -> Result<File, AuditError> {
    OpenOptions::new()
        .read(true)
        .append(true)
        .create(true)
        .mode(0o600)
        .custom_flags(libc_o_nofollow())
        .open(path)
        .map_err(|source| AuditError::NotWritable {
            path: path.to_path_buf(),
            source,
        })
}

/// Cuts an incomplete last line (never acknowledged) so the next line starts clean.
fn cut_torn_tail(file: &File, size: u64, path: &Path) -> Result<(), AuditError> {
    file.set_len(size)
        .map_err(|err| AuditError::io(path, "truncate torn tail", err))?;
    file.sync_all()
        .map_err(|err| AuditError::io(path, "fsync", err))
}

/// What the first line of an empty live file chains to: the seal's hash right after
/// a rotation, else the last line of the newest rotated file, else genesis.
fn empty_file_anchor(layout: &Layout, seal: Option<Seal>) -> Result<Hash, AuditError> {
    if let Some(seal) = seal.filter(|s| s.bytes == 0) {
        return Ok(seal.last);
    }
    Ok(match layout.rotated()?.last() {
        Some(newest) => {
            let bytes = read_all(&newest.path, newest.gzip)?;
            last_line_of(&bytes).map_or(GENESIS, line_hash)
        }
        None => GENESIS,
    })
}

/// The `ts` of the last complete line before `end`, in ms (0 if none or unparseable).
fn last_line_ms(file: &File, end: u64) -> i128 {
    let Ok((mut back, _)) = BackwardLines::new(file, end) else {
        return 0;
    };
    let Ok(Some((_, line))) = back.next_line() else {
        return 0;
    };
    serde_json::from_slice::<serde_json::Value>(&line)
        .ok()
        .and_then(|v| v.get("ts").and_then(|t| t.as_str()).map(str::to_owned))
        .and_then(|ts| {
            OffsetDateTime::parse(&ts, &time::format_description::well_known::Rfc3339).ok()
        })
        .map_or(0, |t| t.unix_timestamp_nanos() / 1_000_000)
}

/// An exclusive `flock` on the seal file for as long as it lives: serialises writers
/// across processes (threads of one process are already serialised by the leader).
/// The kernel releases it if the process dies.
#[derive(Debug)]
struct FileLockGuard<'a> {
    file: &'a File,
}

impl<'a> FileLockGuard<'a> {
    fn acquire(file: &'a File, path: &Path) -> Result<Self, AuditError> {
        file.lock()
            .map_err(|err| AuditError::io(path, "lock", err))?;
        Ok(Self { file })
    }
}

impl Drop for FileLockGuard<'_> {
    fn drop(&mut self) {
        let _ = self.file.unlock();
    }
}

fn sync_dir(dir: &Path) -> Result<(), AuditError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|err| AuditError::io(dir, "fsync directory", err))
}

/// The hash of the last complete line before `end` (genesis if none) and the length
/// of the torn tail after it.
fn last_line_hash(file: &File, end: u64, path: &Path) -> Result<(Hash, u64), AuditError> {
    let (mut back, torn) =
        BackwardLines::new(file, end).map_err(|err| AuditError::io(path, "read", err))?;
    let last = back
        .next_line()
        .map_err(|err| AuditError::io(path, "read", err))?;
    Ok((last.map_or(GENESIS, |(_, line)| line_hash(&line)), torn))
}

fn last_line_of(bytes: &[u8]) -> Option<&[u8]> {
    let end = bytes.iter().rposition(|b| *b == b'\n')?;
    let start = bytes[..end]
        .iter()
        .rposition(|b| *b == b'\n')
        .map_or(0, |i| i + 1);
    Some(&bytes[start..end])
}

/// Whether the live file still holds what the seal says was durably written. A seal
/// for a file just rotated away (a crash between rename and the seal update) matches
/// the newest rotated file instead.
fn seal_matches(
    seal: &Seal,
    file: &File,
    size: u64,
    last: Hash,
    layout: &Layout,
    path: &Path,
) -> Result<bool, AuditError> {
    if seal.bytes == 0 {
        return Ok(true);
    }
    if seal.bytes <= size {
        let (hash, torn) = last_line_hash(file, seal.bytes, path)?;
        return Ok(torn == 0 && hash == seal.last);
    }
    if size == 0
        && let Some(newest) = layout.rotated()?.last()
    {
        let bytes = read_all(&newest.path, newest.gzip)?;
        return Ok(bytes.len() as u64 == seal.bytes && last == seal.last);
    }
    Ok(false)
}

/// Gzips rotated plain files (when configured) and deletes expired ones. Errors are
/// left for the next run: maintenance never affects durability of new events.
fn maintain(config: &AuditConfig, layout: &Layout) {
    for stale in layout.stale_temporaries() {
        let _ = std::fs::remove_file(stale);
    }
    let Ok(rotated) = layout.rotated() else {
        return;
    };
    let now = OffsetDateTime::now_utc();
    for file in rotated {
        let expired = config.keep_days > 0
            && stamp_time(&file.stamp)
                .is_some_and(|at| now - at > time::Duration::days(i64::from(config.keep_days)));
        if expired {
            let _ = std::fs::remove_file(&file.path);
            if !file.gzip {
                let _ = std::fs::remove_file(gz_path(&file.path));
            }
            continue;
        }
        if config.compress && !file.gzip {
            let _ = compress(&file.path);
        }
    }
}

fn gz_path(plain: &Path) -> PathBuf {
    let mut name = plain.as_os_str().to_owned();
    name.push(".gz");
    PathBuf::from(name)
}

/// Writes `X.log.gz.tmp.<pid>`, syncs it, renames it to `X.log.gz`, then removes `X.log`;
/// a crash at any point leaves one complete copy.
fn compress(plain: &Path) -> std::io::Result<()> {
    let gz = gz_path(plain);
    // A name of its own: another process sharing the log may compress the same file
    // at the same time; both copies are complete and the last rename wins.
    let mut tmp_name = gz.as_os_str().to_owned();
    tmp_name.push(format!(".tmp.{}", std::process::id()));
    let tmp = PathBuf::from(tmp_name);
    let input = std::fs::read(plain)?;
    let out = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)?;
    let mut encoder = flate2::write::GzEncoder::new(out, flate2::Compression::default());
    encoder.write_all(&input)?;
    let out = encoder.finish()?;
    out.sync_all()?;
    std::fs::rename(&tmp, &gz)?;
    if let Some(dir) = plain.parent() {
        File::open(dir)?.sync_all()?;
    }
    std::fs::remove_file(plain)?;
    Ok(())
}
