-- ironclaw-secrets: the PostgreSQL backend of the encrypted secret store.
-- Values are stored only as AES-256-GCM ciphertext; metadata is plain and
-- queryable. This file is kept identical to
-- crates/ironclaw-secrets/src/postgres.sql (a test checks it).

-- The master-key fingerprint and generation the store is encrypted under.
CREATE TABLE IF NOT EXISTS ironclaw_secrets_key (
    singleton BOOLEAN PRIMARY KEY DEFAULT TRUE CHECK (singleton),
    generation INTEGER NOT NULL CHECK (generation > 0),
    key_check BYTEA NOT NULL
);

CREATE TABLE IF NOT EXISTS ironclaw_secrets (
    namespace TEXT NOT NULL,
    name TEXT NOT NULL,
    version BIGINT NOT NULL CHECK (version > 0),
    key_generation INTEGER NOT NULL,
    salt BYTEA NOT NULL,
    nonce BYTEA NOT NULL,
    ciphertext BYTEA NOT NULL,
    created TIMESTAMPTZ NOT NULL,
    updated TIMESTAMPTZ NOT NULL,
    last_used TIMESTAMPTZ,
    PRIMARY KEY (namespace, name)
);
