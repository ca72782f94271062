-- Audit events mirrored from the audit log file by ironclaw-audit's Postgres sink.
-- The file stays the source of truth; this table is a queryable, off-host copy.
-- `line` is the exact line from the file, so the hash chain can be re-verified here.
CREATE TABLE IF NOT EXISTS audit_events (
    id          BIGSERIAL PRIMARY KEY,
    line_hash   TEXT        NOT NULL UNIQUE,  -- hex SHA-256 of `line`: the dedup key
    prev        TEXT        NOT NULL,
    ts          TIMESTAMPTZ,                  -- NULL only if a line's ts is unparseable
    event       TEXT        NOT NULL,
    session_id  TEXT,
    skill       TEXT,
    action      TEXT,
    resource    TEXT,
    blocked     BOOLEAN     NOT NULL DEFAULT FALSE,
    fields      JSONB       NOT NULL,
    line        TEXT        NOT NULL
);

CREATE INDEX IF NOT EXISTS audit_events_ts_idx ON audit_events (ts);
CREATE INDEX IF NOT EXISTS audit_events_event_ts_idx ON audit_events (event, ts);
CREATE INDEX IF NOT EXISTS audit_events_skill_ts_idx ON audit_events (skill, ts);

-- How far each log file has been shipped: the hash of the last line inserted.
CREATE TABLE IF NOT EXISTS audit_sink_cursor (
    source      TEXT        PRIMARY KEY,
    last_hash   TEXT        NOT NULL,
    updated_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);
