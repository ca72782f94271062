//! The PostgreSQL sink: ships the lines of the log file into `audit_events`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use deadpool_postgres::{Manager, Pool};
use serde_json::Value;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use tokio_postgres::NoTls;

use crate::chain::{Hash, line_hash};
use crate::error::AuditError;
use crate::layout::BackwardLines;
use crate::reader::{AuditReader, open_file};

/// The schema the sink writes (`migrations/0001_audit.sql` of the workspace).
pub const MIGRATION_SQL: &str = include_str!("../../../migrations/0001_audit.sql");

/// Lines per insert statement (and per transaction) unless configured otherwise.
pub const DEFAULT_BATCH: usize = 500;

/// Mirrors an audit log file into PostgreSQL.
///
/// The file is the source of truth: the writer never waits for the database. The
/// sink reads lines the database does not have yet (after the cursor: the hash of
/// the last line shipped, kept in `audit_sink_cursor` per source) and inserts them in
/// batches. Each batch and its cursor update are one transaction, and `line_hash` is
/// unique, so a crash or an outage loses and duplicates nothing: the next
/// [`PgSink::sync`] resumes from the cursor, and a lost or stale cursor only causes
/// re-reads that `ON CONFLICT DO NOTHING` absorbs.
///
/// Limits: the lines to ship after an outage are held in memory (about 250 bytes
/// each); a cursor that names a line no longer in any file (rotated away and
/// deleted by retention) restarts from the oldest file present.
#[derive(Debug, Clone)]
pub struct PgSink {
    pool: Pool,
    log: PathBuf,
    source: String,
    batch: usize,
}

impl PgSink {
    /// A sink for the log whose live file is `log`, into the database named by a
    /// libpq-style connection string. Connects lazily, so this succeeds while the
    /// database is down.
    ///
    /// # Errors
    /// [`AuditError::Database`] when the connection string is invalid.
    pub fn new(connection: &str, log: impl Into<PathBuf>) -> Result<Self, AuditError> {
        let mut config: tokio_postgres::Config =
            connection.parse().map_err(|err| AuditError::Database {
                op: "parse connection string",
                source: Box::new(err),
            })?;
        config.connect_timeout(Duration::from_secs(5));
        let pool = Pool::builder(Manager::new(config, NoTls))
            .max_size(2)
            .build()
            .map_err(|err| AuditError::Database {
                op: "build pool",
                source: Box::new(err),
            })?;
        let log = log.into();
        let source = log.display().to_string();
        Ok(Self {
            pool,
            log,
            source,
            batch: DEFAULT_BATCH,
        })
    }

    /// Lines per insert (default [`DEFAULT_BATCH`]).
    pub fn batch_size(mut self, lines: usize) -> Self {
        self.batch = lines.max(1);
        self
    }

    /// The key of this log in `audit_sink_cursor` (default: the live file's path).
    /// Give each replica's log its own source.
    pub fn source(mut self, source: impl Into<String>) -> Self {
        self.source = source.into();
        self
    }

    /// Creates the tables and indexes if they do not exist.
    ///
    /// # Errors
    /// [`AuditError::Database`] when the database is unreachable or refuses.
    pub async fn migrate(&self) -> Result<(), AuditError> {
        let client = self.client().await?;
        client
            .batch_execute(MIGRATION_SQL)
            .await
            .map_err(|err| AuditError::Database {
                op: "migrate",
                source: Box::new(err),
            })
    }

    /// Ships every line of the file the database does not have yet; returns how many
    /// rows were inserted.
    ///
    /// # Errors
    /// [`AuditError::Database`] when the database is unreachable (nothing is lost:
    /// call again later), [`AuditError::Io`] when the log cannot be read.
    pub async fn sync(&self) -> Result<u64, AuditError> {
        let mut client = self.client().await?;
        let db = |op| {
            move |err: tokio_postgres::Error| AuditError::Database {
                op,
                source: Box::new(err),
            }
        };
        let cursor: Option<String> = client
            .query_opt(
                "SELECT last_hash FROM audit_sink_cursor WHERE source = $1",
                &[&self.source],
            )
            .await
            .map_err(db("read cursor"))?
            .map(|row| row.get(0));
        let cursor = cursor.and_then(|hex_hash| {
            let mut hash = [0u8; 32];
            hex::decode_to_slice(hex_hash, &mut hash)
                .ok()
                .map(|()| hash)
        });
        let log = self.log.clone();
        let lines = tokio::task::spawn_blocking(move || lines_after(&log, cursor))
            .await
            .map_err(|err| AuditError::Database {
                op: "read log",
                source: Box::new(err),
            })??;

        let mut inserted = 0u64;
        for batch in lines.chunks(self.batch) {
            let rows = Rows::from_lines(batch);
            let Some(last) = rows.hash.last().cloned() else {
                continue;
            };
            let tx = client.transaction().await.map_err(db("begin"))?;
            inserted += tx
                .execute(
                    "INSERT INTO audit_events
                         (line_hash, prev, ts, event, session_id, skill, action, resource, blocked, fields, line)
                     SELECT u.h, u.p, u.t::timestamptz, u.e, u.s, u.k, u.a, u.r, u.b, u.l::jsonb, u.l
                     FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[],
                                 $6::text[], $7::text[], $8::text[], $9::bool[], $10::text[])
                          AS u(h, p, t, e, s, k, a, r, b, l)
                     ON CONFLICT (line_hash) DO NOTHING",
                    &[
                        &rows.hash,
                        &rows.prev,
                        &rows.ts,
                        &rows.event,
                        &rows.session,
                        &rows.skill,
                        &rows.action,
                        &rows.resource,
                        &rows.blocked,
                        &rows.line,
                    ],
                )
                .await
                .map_err(db("insert events"))?;
            tx.execute(
                "INSERT INTO audit_sink_cursor (source, last_hash, updated_at) VALUES ($1, $2, now())
                 ON CONFLICT (source) DO UPDATE SET last_hash = excluded.last_hash, updated_at = now()",
                &[&self.source, &last],
            )
            .await
            .map_err(db("update cursor"))?;
            tx.commit().await.map_err(db("commit"))?;
        }
        Ok(inserted)
    }

    /// Calls [`PgSink::sync`] every `interval` forever, passing failures to
    /// `on_error` (the database being down is expected; the next round catches up).
    pub async fn run(&self, interval: Duration, on_error: impl Fn(&AuditError)) {
        loop {
            if let Err(err) = self.sync().await {
                on_error(&err);
            }
            tokio::time::sleep(interval).await;
        }
    }

    async fn client(&self) -> Result<deadpool_postgres::Object, AuditError> {
        self.pool.get().await.map_err(|err| AuditError::Database {
            op: "connect",
            source: Box::new(err),
        })
    }
}

/// Columns of a batch, one vector per column, for `unnest`.
#[derive(Debug, Default)]
struct Rows {
    hash: Vec<String>,
    prev: Vec<String>,
    ts: Vec<Option<String>>,
    event: Vec<String>,
    session: Vec<Option<String>>,
    skill: Vec<Option<String>>,
    action: Vec<Option<String>>,
    resource: Vec<Option<String>>,
    blocked: Vec<bool>,
    line: Vec<String>,
}

impl Rows {
    fn from_lines(lines: &[String]) -> Self {
        let mut rows = Self::default();
        for line in lines {
            let fields: serde_json::Map<String, Value> = match serde_json::from_str(line) {
                Ok(Value::Object(map)) => map,
                // Not JSON: still shipped (as a JSON string) so the copy matches the file.
                _ => {
                    let mut map = serde_json::Map::new();
                    map.insert("unparseable".to_owned(), Value::Bool(true));
                    map
                }
            };
            let text = |name: &str| fields.get(name).and_then(Value::as_str).map(str::to_owned);
            rows.hash.push(hex::encode(line_hash(line.as_bytes())));
            rows.prev.push(text("prev").unwrap_or_default());
            rows.ts
                .push(text("ts").filter(|ts| OffsetDateTime::parse(ts, &Rfc3339).is_ok()));
            rows.event.push(text("event").unwrap_or_default());
            rows.session.push(text("sessionId"));
            rows.skill.push(text("skill"));
            rows.action.push(text("action"));
            rows.resource.push(text("resource"));
            rows.blocked.push(
                fields
                    .get("blocked")
                    .and_then(Value::as_bool)
                    .unwrap_or(false),
            );
            // `fields` holds the line as JSONB; a line that is not JSON is stored as a
            // JSON string instead so the cast cannot fail.
            rows.line
                .push(if serde_json::from_str::<Value>(line).is_ok() {
                    line.clone()
                } else {
                    Value::from(line.as_str()).to_string()
                });
        }
        rows
    }
}

/// The complete lines after the line whose hash is `cursor`, oldest first; every
/// line when `cursor` is `None` or not found.
fn lines_after(live: &Path, cursor: Option<Hash>) -> Result<Vec<String>, AuditError> {
    let reader = AuditReader::new(live);
    let files = reader.files()?;
    let mut newest_first: Vec<String> = Vec::new();
    for file in files.iter().rev() {
        let (handle, gzip) = open_file(file)?;
        let mut found = false;
        let mut visit = |line: &[u8]| -> bool {
            if cursor.is_some_and(|c| line_hash(line) == c) {
                found = true;
                return false;
            }
            newest_first.push(String::from_utf8_lossy(line).into_owned());
            true
        };
        if gzip {
            use std::io::Read;
            let mut bytes = Vec::new();
            flate2::read::MultiGzDecoder::new(handle)
                .read_to_end(&mut bytes)
                .map_err(|e| AuditError::io(&file.path, "read", e))?;
            let complete = bytes.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
            for line in bytes[..complete].split(|b| *b == b'\n').rev().skip(1) {
                if !visit(line) {
                    break;
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
                if !visit(&line) {
                    break;
                }
            }
        }
        if found {
            break;
        }
    }
    newest_first.retain(|line| !line.is_empty());
    newest_first.reverse();
    Ok(newest_first)
}
