//! Candour's stores on SQLite: the embedded default, one file and no set-up.
//!
//! Architecture invariant: one writer connection (SQLite allows one writer at a time, so a
//! pool of writers would only queue on the file lock) and a pool of read-only connections,
//! in WAL mode so readers never wait for the writer.

#![cfg_attr(not(test), deny(unused_crate_dependencies))]

mod accounts;
mod answers;
mod audit;
mod backup;
mod campaigns;
mod deliveries;
mod disclosures;
mod forms;
mod imports;
mod ledger;
mod people;
mod polls;
mod rate_limits;
mod request_actions;
mod request_digests;
mod request_items;
mod request_templates;
mod requests;
mod sessions;
mod stats_ingest;
mod stats_report;
mod stats_waiting;
mod subjects;
mod tracking;

pub use backup::{BackupError, BackupMade, backup};

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use candour_core::config::{ConsentMode, DatabaseSettings};
use candour_core::consent::{Choice, Method, Receipt, ReceiptId, Tally};
use candour_core::health::PoolUse;
use candour_core::media::AlwaysLoad;
use candour_core::store::{ConsentStore, HealthStore, KeyStore, StoreError, StoreResult, Stores};
use sqlx::Row;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteRow,
    SqliteSynchronous,
};
use time::OffsetDateTime;

/// The SQLite backend: a writer and a read pool on one file.
#[derive(Clone)]
pub struct SqliteStore {
    writer: SqlitePool,
    reader: SqlitePool,
    /// The anonymous voters the writer has seen (see `polls::Voters`).
    voters: Arc<polls::Voters>,
}

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

impl SqliteStore {
    /// Open (creating if needed) the database at `url` (`sqlite://PATH`) and migrate it, with
    /// the default time limits.
    pub async fn open(url: &str) -> StoreResult<SqliteStore> {
        SqliteStore::open_with(url, &DatabaseSettings::default()).await
    }

    /// Open the database at `url` with these time limits: a statement waits at most
    /// `statement_timeout_ms` for the file's write lock, and a request at most
    /// `acquire_timeout_ms` for a connection (the one writer is busy), before giving up.
    pub async fn open_with(url: &str, limits: &DatabaseSettings) -> StoreResult<SqliteStore> {
        let acquire_timeout = Duration::from_millis(limits.acquire_timeout_ms);
        let options = SqliteConnectOptions::from_str(url)
            .map_err(unavailable)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // Every commit is on disk before it is acknowledged.
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(Duration::from_millis(limits.statement_timeout_ms))
            // Statements that need a scratch table (a batch's `VALUES` joined to other
            // tables) keep it in memory instead of creating and unlinking a file each time.
            .pragma("temp_store", "memory");
        let voters = Arc::new(polls::Voters::default());
        let opened = voters.clone();
        // A local file needs no liveness check before each use (the pool's default).
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .after_connect(move |_, _| {
                opened.connection_opened();
                Box::pin(async { Ok(()) })
            })
            .test_before_acquire(false)
            .acquire_timeout(acquire_timeout)
            .connect_with(
                options
                    .clone()
                    // Every write goes through this connection: a 16 MiB page cache keeps the
                    // pages it touches (the indexes above all) instead of reading them again.
                    .pragma("cache_size", "-16384")
                    // Checkpoint every 10,000 pages (about 40 MiB of WAL) rather than every
                    // 1,000: a page written many times between checkpoints is copied into the
                    // database once, and the writer stops to checkpoint a tenth as often.
                    .pragma("wal_autocheckpoint", "10000"),
            )
            .await
            .map_err(unavailable)?;
        MIGRATOR
            .run(&writer)
            .await
            .map_err(|e| StoreError::Other(Box::new(e)))?;
        let reader = SqlitePoolOptions::new()
            .max_connections(4)
            .test_before_acquire(false)
            .acquire_timeout(acquire_timeout)
            .connect_with(options.read_only(true))
            .await
            .map_err(unavailable)?;
        Ok(SqliteStore {
            writer,
            reader,
            voters,
        })
    }

    /// For upgrade tests and fixtures: every table with its number of rows, by name.
    #[doc(hidden)]
    pub async fn row_counts(&self) -> StoreResult<Vec<(String, i64)>> {
        let tables: Vec<String> = sqlx::query_scalar(
            "SELECT name FROM sqlite_master
             WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name",
        )
        .fetch_all(&self.reader)
        .await
        .map_err(db)?;
        let mut out = Vec::with_capacity(tables.len());
        for table in tables {
            // The name comes from the catalog, quoted as an identifier.
            let sql = format!("SELECT COUNT(*) FROM \"{}\"", table.replace('"', "\"\""));
            let n: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
                .fetch_one(&self.reader)
                .await
                .map_err(db)?;
            out.push((table, n));
        }
        Ok(out)
    }

    /// Every store, on this database.
    pub fn stores(&self) -> Stores {
        let me = Arc::new(self.clone());
        Stores {
            backend: "sqlite",
            health: me.clone(),
            keys: me.clone(),
            consent: me.clone(),
            accounts: me.clone(),
            second_factor: me.clone(),
            sessions: me.clone(),
            links: me.clone(),
            audit: me.clone(),
            rate_limits: me.clone(),
            polls: me.clone(),
            votes: me.clone(),
            people: me.clone(),
            ledger: me.clone(),
            imports: me.clone(),
            subjects: me.clone(),
            forms: me.clone(),
            campaigns: me.clone(),
            deliveries: me.clone(),
            tracking: me.clone(),
            requests: me.clone(),
            stats_ingest: me.clone(),
            stats_report: me.clone(),
            request_actions: me.clone(),
            request_templates: me.clone(),
            request_digests: me.clone(),
            disclosures: me.clone(),
            request_items: me.clone(),
            answers: me,
        }
    }

    pub async fn close(&self) {
        self.reader.close().await;
        self.writer.close().await;
    }

    /// For tests: make the writer refuse every write (`PRAGMA query_only`), as SQLite does
    /// on a file it could open only for reading; `false` lifts it.
    #[doc(hidden)]
    pub async fn refuse_writes(&self, refuse: bool) -> StoreResult<()> {
        let pragma = if refuse {
            "PRAGMA query_only = ON"
        } else {
            "PRAGMA query_only = OFF"
        };
        sqlx::query(pragma)
            .execute(&self.writer)
            .await
            .map_err(db)?;
        Ok(())
    }
}

pub(crate) fn unavailable(e: sqlx::Error) -> StoreError {
    StoreError::Unavailable(Box::new(e))
}

pub(crate) fn db(e: sqlx::Error) -> StoreError {
    match e {
        sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) => {
            StoreError::Unavailable(Box::new(e))
        }
        sqlx::Error::Database(ref d) if d.code().is_some_and(|c| is_unavailable_code(&c)) => {
            StoreError::Unavailable(Box::new(e))
        }
        other => StoreError::Other(Box::new(other)),
    }
}

/// Result codes that mean the file cannot be used for now, not that the request was wrong:
/// busy or locked past the busy timeout, read-only, an I/O error, a full disk, a file that
/// cannot be opened.
fn is_unavailable_code(code: &str) -> bool {
    // The code is SQLite's extended result code; its low byte is the primary code.
    code.parse::<i32>()
        .is_ok_and(|c| matches!(c & 0xff, 5 | 6 | 8 | 10 | 13 | 14))
}

/// The row counts a batch statement is prepared for. A batch is bound into the smallest that
/// holds it and padded with rows of NULLs, which the statement's joins drop; so each batch
/// statement has only these few texts, each prepared once and kept in the statement cache,
/// however the batch sizes vary. Each is twice the one before, so padding never more than
/// doubles a batch.
pub(crate) const BATCH_SHAPES: [usize; 7] = [16, 32, 64, 128, 256, 512, 1024];

/// How many rows to bind for a batch of `n` (at most the largest shape: split bigger ones).
pub(crate) fn batch_shape(n: usize) -> usize {
    BATCH_SHAPES
        .into_iter()
        .find(|&s| s >= n)
        .unwrap_or(BATCH_SHAPES[BATCH_SHAPES.len() - 1])
}

pub(crate) fn unix(t: OffsetDateTime) -> i64 {
    t.unix_timestamp()
}

pub(crate) fn from_unix(s: i64) -> StoreResult<OffsetDateTime> {
    OffsetDateTime::from_unix_timestamp(s).map_err(|e| StoreError::Corrupt(e.to_string()))
}

#[async_trait]
impl HealthStore for SqliteStore {
    async fn ping(&self) -> StoreResult<()> {
        sqlx::query("SELECT 1")
            .execute(&self.reader)
            .await
            .map_err(db)?;
        Ok(())
    }

    async fn check_write(&self, now: OffsetDateTime) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO readiness (id, checked_at) VALUES (1, ?)
             ON CONFLICT (id) DO UPDATE SET checked_at = excluded.checked_at",
        )
        .bind(unix(now))
        .execute(&self.writer)
        .await
        .map_err(db)?;
        Ok(())
    }

    fn pool_use(&self) -> Vec<PoolUse> {
        vec![
            pool_use("writer", &self.writer),
            pool_use("reader", &self.reader),
        ]
    }
}

fn pool_use(name: &'static str, pool: &SqlitePool) -> PoolUse {
    PoolUse {
        pool: name,
        size: pool.size(),
        idle: u32::try_from(pool.num_idle()).unwrap_or(u32::MAX),
        max: pool.options().get_max_connections(),
    }
}

#[async_trait]
impl KeyStore for SqliteStore {
    async fn key_or_insert(&self, name: &str, fresh: &[u8]) -> StoreResult<Vec<u8>> {
        sqlx::query(
            "INSERT INTO server_keys (name, key) VALUES (?, ?) ON CONFLICT (name) DO NOTHING",
        )
        .bind(name)
        .bind(fresh)
        .execute(&self.writer)
        .await
        .map_err(db)?;
        sqlx::query_scalar("SELECT key FROM server_keys WHERE name = ?")
            .bind(name)
            .fetch_one(&self.writer)
            .await
            .map_err(db)
    }
}

fn receipt_from_row(row: &SqliteRow) -> StoreResult<Receipt> {
    let corrupt = |what: &str| StoreError::Corrupt(format!("consent_receipts.{what}"));
    let id: String = row.try_get("id").map_err(db)?;
    let mode: String = row.try_get("mode").map_err(db)?;
    let method: String = row.try_get("method").map_err(db)?;
    Ok(Receipt {
        id: ReceiptId::parse(&id).ok_or_else(|| corrupt("id"))?,
        recorded_at: from_unix(row.try_get("recorded_at").map_err(db)?)?,
        policy_version: row.try_get("policy_version").map_err(db)?,
        mode: match mode.as_str() {
            "opt-in" => ConsentMode::OptIn,
            "implied" => ConsentMode::Implied,
            _ => return Err(corrupt("mode")),
        },
        method: Method::parse(&method).ok_or_else(|| corrupt("method"))?,
        gpc: row.try_get("gpc").map_err(db)?,
        choice: Choice {
            preferences: row.try_get("preferences").map_err(db)?,
            statistics: row.try_get("statistics").map_err(db)?,
            marketing: row.try_get("marketing").map_err(db)?,
            always_load: AlwaysLoad::parse_slugs(
                &row.try_get::<String, _>("always_load").map_err(db)?,
            )
            .ok_or_else(|| corrupt("always_load"))?,
        },
    })
}

#[async_trait]
impl ConsentStore for SqliteStore {
    async fn record_receipt(&self, r: &Receipt) -> StoreResult<()> {
        let result = sqlx::query(
            "INSERT INTO consent_receipts
               (id, recorded_at, policy_version, mode, method, gpc, preferences, statistics, marketing, always_load)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(r.id.as_str())
        .bind(unix(r.recorded_at))
        .bind(&r.policy_version)
        .bind(r.mode.as_str())
        .bind(r.method.as_str())
        .bind(r.gpc)
        .bind(r.choice.preferences)
        .bind(r.choice.statistics)
        .bind(r.choice.marketing)
        .bind(r.choice.always_load.slugs())
        .execute(&self.writer)
        .await;
        match result {
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
                Err(StoreError::Duplicate("a consent receipt with this id"))
            }
            other => other.map(drop).map_err(db),
        }
    }

    async fn find_receipt(&self, id: &ReceiptId) -> StoreResult<Option<Receipt>> {
        let row = sqlx::query("SELECT * FROM consent_receipts WHERE id = ?")
            .bind(id.as_str())
            .fetch_optional(&self.reader)
            .await
            .map_err(db)?;
        row.as_ref().map(receipt_from_row).transpose()
    }

    async fn tally_since(&self, since: OffsetDateTime) -> StoreResult<Tally> {
        let row = sqlx::query(
            "SELECT count(*) AS n, coalesce(sum(preferences), 0) AS p,
                    coalesce(sum(statistics), 0) AS s, coalesce(sum(marketing), 0) AS m
             FROM consent_receipts WHERE recorded_at >= ?",
        )
        .bind(unix(since))
        .fetch_one(&self.reader)
        .await
        .map_err(db)?;
        let get = |c: &str| -> StoreResult<u64> {
            let v: i64 = row.try_get(c).map_err(db)?;
            u64::try_from(v).map_err(|e| StoreError::Corrupt(e.to_string()))
        };
        Ok(Tally {
            receipts: get("n")?,
            preferences: get("p")?,
            statistics: get("s")?,
            marketing: get("m")?,
        })
    }

    async fn purge_receipts_before(&self, cutoff: OffsetDateTime) -> StoreResult<u64> {
        let done = sqlx::query("DELETE FROM consent_receipts WHERE recorded_at < ?")
            .bind(unix(cutoff))
            .execute(&self.writer)
            .await
            .map_err(db)?;
        Ok(done.rows_affected())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use candour_core::store::RateLimitStore;
    use sqlx::{Connection, SqliteConnection};

    /// A write that cannot have the file (another process holds its write lock) gives up
    /// after the configured statement time, as "unavailable" (a 503), not a 500 after five
    /// seconds.
    #[tokio::test]
    async fn a_write_behind_another_writer_gives_up_within_the_bound() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("t.db").display());
        let limits = DatabaseSettings {
            acquire_timeout_ms: 1_000,
            statement_timeout_ms: 300,
        };
        let store = SqliteStore::open_with(&url, &limits).await.unwrap();
        let mut other = SqliteConnection::connect(&url).await.unwrap();
        sqlx::query("BEGIN IMMEDIATE")
            .execute(&mut other)
            .await
            .unwrap();
        let started = std::time::Instant::now();
        let err = store
            .hit("k", OffsetDateTime::UNIX_EPOCH)
            .await
            .unwrap_err();
        let took = started.elapsed();
        assert!(matches!(err, StoreError::Unavailable(_)), "{err:?}");
        assert!(took >= Duration::from_millis(300), "{took:?}");
        assert!(took < Duration::from_millis(1_300), "{took:?}");
        sqlx::query("ROLLBACK").execute(&mut other).await.unwrap();
        assert_eq!(store.hit("k", OffsetDateTime::UNIX_EPOCH).await.unwrap(), 1);
    }
}
