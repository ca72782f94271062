//! The PostgreSQL backend (feature `postgres`).
//!
//! Tables (see `migrations/0002_secrets.sql`): `ironclaw_secrets` holds one
//! row per secret with plain, queryable metadata (`namespace`, `name`,
//! `version`, `created`, `updated`, `last_used`) and the value only as
//! ciphertext; `ironclaw_secrets_key` holds the key generation and
//! fingerprint. Every write is one transaction; a put takes a share lock on
//! the key row and a rotation an exclusive one, so a put can never land under
//! a key that a concurrent rotation just replaced.
//!
//! The API is blocking, like every [`Backend`]: the backend owns a small
//! tokio runtime and blocks on it. Do not call it from inside an async task;
//! use `tokio::task::spawn_blocking` there.

use std::fmt;

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use time::OffsetDateTime;
use tokio_postgres::{NoTls, Row};

use crate::backend::{Backend, Checkpoint, KeyHeader, Rewrite, SealedSecret};
use crate::error::{Error, Result};

const SCHEMA_SQL: &str = include_str!("postgres.sql");

/// The secret store in PostgreSQL.
pub struct PgBackend {
    pool: Pool,
    runtime: tokio::runtime::Runtime,
    location: String,
}

impl fmt::Debug for PgBackend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PgBackend")
            .field("location", &self.location)
            .finish_non_exhaustive()
    }
}

fn pg(action: &'static str) -> impl FnOnce(tokio_postgres::Error) -> Error {
    move |source| Error::Postgres {
        action,
        source: Box::new(source),
    }
}

impl PgBackend {
    /// Connects with a libpq-style connection string (`host=… user=…` or a
    /// `postgresql://` URL) and creates the tables if they are missing.
    pub fn connect(config: &str) -> Result<Self> {
        Self::connect_in_schema(config, None)
    }

    /// Like [`PgBackend::connect`], with every table in `schema` (created if
    /// missing; `a-z`, `0-9` and `_` only), for example one per test.
    pub fn connect_in_schema(config: &str, schema: Option<&str>) -> Result<Self> {
        let mut pg_config: tokio_postgres::Config =
            config.parse().map_err(pg("invalid connection string"))?;
        if let Some(schema) = schema {
            let valid = !schema.is_empty()
                && schema.len() <= 63
                && schema
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
            if !valid {
                return Err(Error::InvalidName {
                    what: "schema",
                    name: schema.to_owned(),
                    reason: "only a-z, 0-9 and '_' are allowed, at most 63",
                });
            }
            pg_config.options(format!("-c search_path={schema}"));
        }
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .map_err(|err| Error::io("cannot start the postgres runtime", "tokio", err))?;
        let manager = Manager::from_config(
            pg_config,
            NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(4)
            .build()
            .map_err(|err| Error::Postgres {
                action: "cannot build the connection pool",
                source: Box::new(err),
            })?;
        let location = match schema {
            Some(schema) => format!("postgres table {schema}.ironclaw_secrets"),
            None => "postgres table ironclaw_secrets".to_owned(),
        };
        let backend = Self {
            pool,
            runtime,
            location,
        };
        backend.runtime.block_on(async {
            let mut client = backend.client().await?;
            if let Some(schema) = schema {
                client
                    .batch_execute(&format!("CREATE SCHEMA IF NOT EXISTS {schema}"))
                    .await
                    .map_err(pg("cannot create the schema"))?;
            }
            let tx = client.transaction().await.map_err(pg("cannot begin"))?;
            // Serialize concurrent migrations: CREATE TABLE IF NOT EXISTS
            // races on the catalog otherwise.
            tx.execute("SELECT pg_advisory_xact_lock(7421000002)", &[])
                .await
                .map_err(pg("cannot lock for migration"))?;
            tx.batch_execute(SCHEMA_SQL)
                .await
                .map_err(pg("cannot create the tables"))?;
            tx.commit().await.map_err(pg("cannot commit the migration"))
        })?;
        Ok(backend)
    }

    async fn client(&self) -> Result<deadpool_postgres::Client> {
        self.pool.get().await.map_err(|err| Error::Postgres {
            action: "cannot get a connection",
            source: Box::new(err),
        })
    }
}

const COLUMNS: &str = "namespace, name, version, key_generation, salt, nonce, ciphertext, created, updated, last_used";

fn to_secret(row: &Row) -> Result<SealedSecret> {
    let version: i64 = row.get(2);
    let generation: i32 = row.get(3);
    let corrupted = |reason: &str| Error::Corrupted {
        location: "postgres table ironclaw_secrets".to_owned(),
        reason: reason.to_owned(),
    };
    Ok(SealedSecret {
        namespace: row.get(0),
        name: row.get(1),
        version: u64::try_from(version).map_err(|_| corrupted("negative version"))?,
        key_generation: u32::try_from(generation)
            .map_err(|_| corrupted("negative key generation"))?,
        salt: row.get(4),
        nonce: row.get(5),
        ciphertext: row.get(6),
        created: row.get(7),
        updated: row.get(8),
        last_used: row.get(9),
    })
}

fn to_header(row: &Row) -> Result<KeyHeader> {
    let generation: i32 = row.get(0);
    Ok(KeyHeader {
        generation: u32::try_from(generation).map_err(|_| Error::Corrupted {
            location: "postgres table ironclaw_secrets_key".to_owned(),
            reason: "negative key generation".to_owned(),
        })?,
        check: row.get(1),
    })
}

fn sql_int(value: u32) -> Result<i32> {
    i32::try_from(value).map_err(|_| Error::KeyChanged)
}

fn sql_bigint(value: u64) -> Result<i64> {
    i64::try_from(value).map_err(|_| Error::Corrupted {
        location: "postgres table ironclaw_secrets".to_owned(),
        reason: "version out of range".to_owned(),
    })
}

impl Backend for PgBackend {
    fn location(&self) -> String {
        self.location.clone()
    }

    fn key_header(&self) -> Result<Option<KeyHeader>> {
        self.runtime.block_on(async {
            let client = self.client().await?;
            let row = client
                .query_opt(
                    "SELECT generation, key_check FROM ironclaw_secrets_key",
                    &[],
                )
                .await
                .map_err(pg("cannot read the key header"))?;
            row.as_ref().map(to_header).transpose()
        })
    }

    fn init_key_header(&self, header: &KeyHeader) -> Result<KeyHeader> {
        self.runtime.block_on(async {
            let client = self.client().await?;
            client
                .execute(
                    "INSERT INTO ironclaw_secrets_key (generation, key_check) VALUES ($1, $2) ON CONFLICT DO NOTHING",
                    &[&sql_int(header.generation)?, &header.check],
                )
                .await
                .map_err(pg("cannot write the key header"))?;
            let row = client
                .query_one("SELECT generation, key_check FROM ironclaw_secrets_key", &[])
                .await
                .map_err(pg("cannot read the key header"))?;
            to_header(&row)
        })
    }

    fn get(&self, namespace: &str, name: &str) -> Result<Option<SealedSecret>> {
        self.runtime.block_on(async {
            let client = self.client().await?;
            let row = client
                .query_opt(
                    &format!(
                        "SELECT {COLUMNS} FROM ironclaw_secrets WHERE namespace = $1 AND name = $2"
                    ),
                    &[&namespace, &name],
                )
                .await
                .map_err(pg("cannot read a secret"))?;
            row.as_ref().map(to_secret).transpose()
        })
    }

    fn put(&self, secret: &SealedSecret) -> Result<()> {
        self.runtime.block_on(async {
            let mut client = self.client().await?;
            let tx = client.transaction().await.map_err(pg("cannot begin"))?;
            let generation: Option<i32> = tx
                .query_opt("SELECT generation FROM ironclaw_secrets_key FOR SHARE", &[])
                .await
                .map_err(pg("cannot lock the key header"))?
                .map(|row| row.get(0));
            if generation != Some(sql_int(secret.key_generation)?) {
                return Err(Error::KeyChanged);
            }
            tx.execute(
                &format!(
                    "INSERT INTO ironclaw_secrets ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) \
                     ON CONFLICT (namespace, name) DO UPDATE SET version = EXCLUDED.version, \
                     key_generation = EXCLUDED.key_generation, salt = EXCLUDED.salt, nonce = EXCLUDED.nonce, \
                     ciphertext = EXCLUDED.ciphertext, updated = EXCLUDED.updated, last_used = EXCLUDED.last_used"
                ),
                &[
                    &secret.namespace,
                    &secret.name,
                    &sql_bigint(secret.version)?,
                    &sql_int(secret.key_generation)?,
                    &secret.salt,
                    &secret.nonce,
                    &secret.ciphertext,
                    &secret.created,
                    &secret.updated,
                    &secret.last_used,
                ],
            )
            .await
            .map_err(pg("cannot write a secret"))?;
            tx.commit().await.map_err(pg("cannot commit"))
        })
    }

    fn remove(&self, namespace: &str, name: &str) -> Result<bool> {
        self.runtime.block_on(async {
            let client = self.client().await?;
            let count = client
                .execute(
                    "DELETE FROM ironclaw_secrets WHERE namespace = $1 AND name = $2",
                    &[&namespace, &name],
                )
                .await
                .map_err(pg("cannot delete a secret"))?;
            Ok(count > 0)
        })
    }

    fn list(&self, namespace: &str) -> Result<Vec<SealedSecret>> {
        self.runtime.block_on(async {
            let client = self.client().await?;
            let rows = client
                .query(
                    &format!(
                        "SELECT {COLUMNS} FROM ironclaw_secrets WHERE namespace = $1 ORDER BY name"
                    ),
                    &[&namespace],
                )
                .await
                .map_err(pg("cannot list secrets"))?;
            rows.iter().map(to_secret).collect()
        })
    }

    fn record_use(&self, namespace: &str, name: &str, when: OffsetDateTime) -> Result<()> {
        self.runtime.block_on(async {
            let client = self.client().await?;
            client
                .execute(
                    "UPDATE ironclaw_secrets SET last_used = $3 WHERE namespace = $1 AND name = $2",
                    &[&namespace, &name, &when],
                )
                .await
                .map_err(pg("cannot record a use"))?;
            Ok(())
        })
    }

    fn rewrite_all(&self, rewrite: &mut Rewrite<'_>, checkpoint: &Checkpoint<'_>) -> Result<()> {
        self.runtime.block_on(async {
            let mut client = self.client().await?;
            let tx = client.transaction().await.map_err(pg("cannot begin"))?;
            let header = tx
                .query_opt("SELECT generation, key_check FROM ironclaw_secrets_key FOR UPDATE", &[])
                .await
                .map_err(pg("cannot lock the key header"))?
                .ok_or_else(|| Error::Corrupted {
                    location: self.location.clone(),
                    reason: "the store has no key header to rotate".to_owned(),
                })?;
            let header = to_header(&header)?;
            let rows = tx
                .query(&format!("SELECT {COLUMNS} FROM ironclaw_secrets ORDER BY namespace, name FOR UPDATE"), &[])
                .await
                .map_err(pg("cannot read secrets"))?;
            let secrets = rows.iter().map(to_secret).collect::<Result<Vec<_>>>()?;
            let (new_header, rewritten) = rewrite(&header, secrets)?;
            for secret in &rewritten {
                tx.execute(
                    "UPDATE ironclaw_secrets SET key_generation = $3, salt = $4, nonce = $5, ciphertext = $6 \
                     WHERE namespace = $1 AND name = $2",
                    &[
                        &secret.namespace,
                        &secret.name,
                        &sql_int(secret.key_generation)?,
                        &secret.salt,
                        &secret.nonce,
                        &secret.ciphertext,
                    ],
                )
                .await
                .map_err(pg("cannot rewrite a secret"))?;
            }
            tx.execute(
                "UPDATE ironclaw_secrets_key SET generation = $1, key_check = $2",
                &[&sql_int(new_header.generation)?, &new_header.check],
            )
            .await
            .map_err(pg("cannot write the key header"))?;
            // Dropping the transaction without commit rolls it back, which is
            // what a crash here does.
            checkpoint("store-written")?;
            tx.commit().await.map_err(pg("cannot commit the rotation"))
        })
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn migration_file_matches_embedded_schema() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let migration =
            std::fs::read_to_string(root.join("../../migrations/0002_secrets.sql")).unwrap();
        assert_eq!(migration, super::SCHEMA_SQL);
    }
}
