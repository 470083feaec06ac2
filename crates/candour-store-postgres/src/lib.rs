//! Candour's stores on PostgreSQL: the scale-out backend that several `candour serve`
//! instances share.
//!
//! Migrations take PostgreSQL's advisory lock, so instances that start together migrate once.

#![cfg_attr(not(test), deny(unused_crate_dependencies))]

mod accounts;
mod answers;
mod audit;
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
mod subjects;
mod tracking;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use candour_core::config::{ConsentMode, DatabaseSettings};
use candour_core::consent::{Choice, Method, Receipt, ReceiptId, Tally};
use candour_core::health::PoolUse;
use candour_core::media::AlwaysLoad;
use candour_core::store::{ConsentStore, HealthStore, KeyStore, StoreError, StoreResult, Stores};
use std::str::FromStr;

use sqlx::postgres::{PgConnectOptions, PgConnection, PgPool, PgPoolOptions, PgRow};
use sqlx::{Connection, Row};
use time::OffsetDateTime;

/// The PostgreSQL backend: one pool.
#[derive(Clone)]
pub struct PgStore {
    pool: PgPool,
    /// Whether each data-map table has an `id` column, asked once (the schema is fixed once
    /// migrated): a bundle reads every table a page at a time, and each question is a round trip.
    has_id: Arc<tokio::sync::Mutex<std::collections::HashMap<&'static str, bool>>>,
}

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

impl PgStore {
    /// Connect to `url` and migrate the database, with the default time limits.
    pub async fn connect(url: &str) -> StoreResult<PgStore> {
        PgStore::connect_with(url, &DatabaseSettings::default()).await
    }

    /// Connect to `url` and migrate the database. A request waits at most
    /// `acquire_timeout_ms` for a connection (the pool is busy, or the server is gone) and a
    /// statement runs at most `statement_timeout_ms` (set on each connection as PostgreSQL's
    /// `statement_timeout`) before it gives up.
    pub async fn connect_with(url: &str, limits: &DatabaseSettings) -> StoreResult<PgStore> {
        let options = PgConnectOptions::from_str(url).map_err(unavailable)?;
        // One direct connection first, so an unreachable server is reported with its real
        // cause at once instead of as a pool time-out. Migrations run on it, outside the
        // statement time limit: one may rightly take longer on a large database.
        let mut first = tokio_timeout(PgConnection::connect_with(&options)).await?;
        MIGRATOR
            .run(&mut first)
            .await
            .map_err(|e| StoreError::Other(Box::new(e)))?;
        first.close().await.map_err(unavailable)?;
        let statement_timeout = limits.statement_timeout_ms.to_string();
        let pool = PgPoolOptions::new()
            .max_connections(16)
            .acquire_timeout(Duration::from_millis(limits.acquire_timeout_ms))
            .connect_with(options.options([("statement_timeout", statement_timeout.as_str())]))
            .await
            .map_err(unavailable)?;
        Ok(PgStore {
            pool,
            has_id: Arc::default(),
        })
    }

    /// Every store, on this database.
    pub fn stores(&self) -> Stores {
        let me = Arc::new(self.clone());
        Stores {
            backend: "postgres",
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
        self.pool.close().await;
    }
}

async fn tokio_timeout<T>(
    fut: impl std::future::Future<Output = Result<T, sqlx::Error>>,
) -> StoreResult<T> {
    match tokio::time::timeout(Duration::from_secs(10), fut).await {
        Ok(result) => result.map_err(unavailable),
        Err(elapsed) => Err(StoreError::Unavailable(Box::new(elapsed))),
    }
}

fn unavailable(e: sqlx::Error) -> StoreError {
    StoreError::Unavailable(Box::new(e))
}

pub(crate) fn db(e: sqlx::Error) -> StoreError {
    match e {
        sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) => {
            StoreError::Unavailable(Box::new(e))
        }
        sqlx::Error::Database(ref d) if d.code().is_some_and(|c| is_unavailable_state(&c)) => {
            StoreError::Unavailable(Box::new(e))
        }
        other => StoreError::Other(Box::new(other)),
    }
}

/// Let the rest of this transaction's statements run past `statement_timeout`: for
/// background work whose size grows with the database (queueing a campaign's audience,
/// reducing its tracking), which no visitor waits for.
pub(crate) async fn lift_statement_timeout(conn: &mut PgConnection) -> StoreResult<()> {
    sqlx::query("SET LOCAL statement_timeout = 0")
        .execute(conn)
        .await
        .map_err(db)?;
    Ok(())
}

/// SQLSTATEs that mean the server cannot serve for now, not that the request was wrong: a
/// lost connection (08), too little disk, memory or connections (53), a shutdown or
/// restart (57P), a statement cancelled at `statement_timeout` (57014), and a server that
/// only reads (25006: a standby, after a fail-over).
fn is_unavailable_state(code: &str) -> bool {
    code.starts_with("08")
        || code.starts_with("53")
        || code.starts_with("57P")
        || code == "57014"
        || code == "25006"
}

#[async_trait]
impl HealthStore for PgStore {
    async fn ping(&self) -> StoreResult<()> {
        sqlx::query("SELECT 1")
            .execute(&self.pool)
            .await
            .map_err(db)?;
        Ok(())
    }

    async fn check_write(&self, now: OffsetDateTime) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO readiness (id, checked_at) VALUES (1, $1)
             ON CONFLICT (id) DO UPDATE SET checked_at = excluded.checked_at",
        )
        .bind(now)
        .execute(&self.pool)
        .await
        .map_err(db)?;
        Ok(())
    }

    fn pool_use(&self) -> Vec<PoolUse> {
        vec![PoolUse {
            pool: "main",
            size: self.pool.size(),
            idle: u32::try_from(self.pool.num_idle()).unwrap_or(u32::MAX),
            max: self.pool.options().get_max_connections(),
        }]
    }
}

#[async_trait]
impl KeyStore for PgStore {
    async fn key_or_insert(&self, name: &str, fresh: &[u8]) -> StoreResult<Vec<u8>> {
        // Two statements, not one: a single statement's snapshot predates a racing
        // instance's insert, so it could neither insert nor see the row. ON CONFLICT waits for
        // that insert to commit, and the second statement's fresh snapshot then sees it.
        let inserted: Option<Vec<u8>> = sqlx::query_scalar(
            "INSERT INTO server_keys (name, key) VALUES ($1, $2)
             ON CONFLICT (name) DO NOTHING RETURNING key",
        )
        .bind(name)
        .bind(fresh)
        .fetch_optional(&self.pool)
        .await
        .map_err(db)?;
        if let Some(key) = inserted {
            return Ok(key);
        }
        sqlx::query_scalar("SELECT key FROM server_keys WHERE name = $1")
            .bind(name)
            .fetch_one(&self.pool)
            .await
            .map_err(db)
    }
}

fn receipt_from_row(row: &PgRow) -> StoreResult<Receipt> {
    let corrupt = |what: &str| StoreError::Corrupt(format!("consent_receipts.{what}"));
    let id: String = row.try_get("id").map_err(db)?;
    let mode: String = row.try_get("mode").map_err(db)?;
    let method: String = row.try_get("method").map_err(db)?;
    Ok(Receipt {
        id: ReceiptId::parse(&id).ok_or_else(|| corrupt("id"))?,
        recorded_at: row.try_get("recorded_at").map_err(db)?,
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
impl ConsentStore for PgStore {
    async fn record_receipt(&self, r: &Receipt) -> StoreResult<()> {
        let result = sqlx::query(
            "INSERT INTO consent_receipts
               (id, recorded_at, policy_version, mode, method, gpc, preferences, statistics, marketing, always_load)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .bind(r.id.as_str())
        .bind(r.recorded_at)
        .bind(&r.policy_version)
        .bind(r.mode.as_str())
        .bind(r.method.as_str())
        .bind(r.gpc)
        .bind(r.choice.preferences)
        .bind(r.choice.statistics)
        .bind(r.choice.marketing)
        .bind(r.choice.always_load.slugs())
        .execute(&self.pool)
        .await;
        match result {
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
                Err(StoreError::Duplicate("a consent receipt with this id"))
            }
            other => other.map(drop).map_err(db),
        }
    }

    async fn find_receipt(&self, id: &ReceiptId) -> StoreResult<Option<Receipt>> {
        let row = sqlx::query("SELECT * FROM consent_receipts WHERE id = $1")
            .bind(id.as_str())
            .fetch_optional(&self.pool)
            .await
            .map_err(db)?;
        row.as_ref().map(receipt_from_row).transpose()
    }

    async fn tally_since(&self, since: OffsetDateTime) -> StoreResult<Tally> {
        let row = sqlx::query(
            "SELECT count(*) AS n,
                    count(*) FILTER (WHERE preferences) AS p,
                    count(*) FILTER (WHERE statistics) AS s,
                    count(*) FILTER (WHERE marketing) AS m
             FROM consent_receipts WHERE recorded_at >= $1",
        )
        .bind(since)
        .fetch_one(&self.pool)
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
        let done = sqlx::query("DELETE FROM consent_receipts WHERE recorded_at < $1")
            .bind(cutoff)
            .execute(&self.pool)
            .await
            .map_err(db)?;
        Ok(done.rows_affected())
    }
}

impl PgStore {
    /// For upgrade tests and fixtures: every table of the schema with its number of rows,
    /// by name.
    #[doc(hidden)]
    pub async fn row_counts(&self) -> StoreResult<Vec<(String, i64)>> {
        let tables: Vec<String> = sqlx::query_scalar(
            "SELECT table_name::text FROM information_schema.tables
             WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'
             ORDER BY table_name",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(db)?;
        let mut out = Vec::with_capacity(tables.len());
        for table in tables {
            // The name comes from the catalog, quoted as an identifier.
            let sql = format!("SELECT COUNT(*) FROM \"{}\"", table.replace('"', "\"\""));
            let n: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
                .fetch_one(&self.pool)
                .await
                .map_err(db)?;
            out.push((table, n));
        }
        Ok(out)
    }
}

/// A connection to a server's maintenance database, for creating and dropping databases
/// (test suites give each test a database of its own).
pub struct PgAdmin {
    pool: PgPool,
}

fn is_plain_identifier(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 63
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

impl PgStore {
    pub async fn admin(url: &str) -> StoreResult<PgAdmin> {
        let pool = PgPoolOptions::new()
            .max_connections(1)
            .connect(url)
            .await
            .map_err(unavailable)?;
        Ok(PgAdmin { pool })
    }

    /// `url` with its database name replaced by `database`.
    pub fn url_with_database(url: &str, database: &str) -> String {
        let (base, query) = match url.split_once('?') {
            Some((b, q)) => (b, Some(q)),
            None => (url, None),
        };
        let authority_start = base.find("://").map_or(0, |i| i + 3);
        let base = match base[authority_start..].find('/') {
            Some(slash) => &base[..authority_start + slash],
            None => base,
        };
        match query {
            Some(q) => format!("{base}/{database}?{q}"),
            None => format!("{base}/{database}"),
        }
    }
}

impl PgAdmin {
    /// For tests: make every new transaction in database `name` read-only (or writable
    /// again) and end its connections, so that those opened next behave as on a standby
    /// after a fail-over: reads answer, writes are refused.
    #[doc(hidden)]
    pub async fn set_read_only(&self, name: &str, read_only: bool) -> StoreResult<()> {
        if !is_plain_identifier(name) {
            return Err(StoreError::Corrupt(format!(
                "not a plain database name: {name}"
            )));
        }
        let value = if read_only { "on" } else { "off" };
        // The name was checked to be a plain identifier above.
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "ALTER DATABASE {name} SET default_transaction_read_only = {value}"
        )))
        .execute(&self.pool)
        .await
        .map_err(db)?;
        sqlx::query(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
             WHERE datname = $1 AND pid <> pg_backend_pid()",
        )
        .bind(name)
        .execute(&self.pool)
        .await
        .map_err(db)?;
        Ok(())
    }

    pub async fn create_database(&self, name: &str) -> StoreResult<()> {
        if !is_plain_identifier(name) {
            return Err(StoreError::Corrupt(format!(
                "not a plain database name: {name}"
            )));
        }
        // The name was checked to be a plain identifier above.
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&self.pool)
            .await
            .map_err(db)?;
        Ok(())
    }

    pub async fn drop_database(&self, name: &str) -> StoreResult<()> {
        if !is_plain_identifier(name) {
            return Err(StoreError::Corrupt(format!(
                "not a plain database name: {name}"
            )));
        }
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
        )))
        .execute(&self.pool)
        .await
        .map_err(db)?;
        Ok(())
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_names_are_swapped_in_urls() {
        assert_eq!(
            PgStore::url_with_database("postgres://u@127.0.0.1:5432/postgres", "t1"),
            "postgres://u@127.0.0.1:5432/t1"
        );
        assert_eq!(
            PgStore::url_with_database("postgres://u@h/db?sslmode=disable", "t1"),
            "postgres://u@h/t1?sslmode=disable"
        );
        assert_eq!(
            PgStore::url_with_database("postgres://u@h", "t1"),
            "postgres://u@h/t1"
        );
    }
}

#[cfg(test)]
mod time_limits {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;
    use candour_core::store::{DeliveryStore, RateLimitStore, TrackingStore};

    /// A statement stuck behind a lock is cancelled at the configured statement time and
    /// reported as "unavailable" (a 503), instead of waiting for as long as the lock is held.
    /// Runs when `CANDOUR_TEST_POSTGRES_URL` names a server.
    #[tokio::test]
    #[cfg_attr(
        not(postgres_tests),
        ignore = "set CANDOUR_TEST_POSTGRES_URL to run it on PostgreSQL"
    )]
    async fn a_statement_stuck_behind_a_lock_gives_up_within_the_bound() {
        let Ok(admin_url) = std::env::var("CANDOUR_TEST_POSTGRES_URL") else {
            assert!(
                std::env::var("CANDOUR_REQUIRE_POSTGRES").is_err(),
                "CANDOUR_REQUIRE_POSTGRES is set but CANDOUR_TEST_POSTGRES_URL is not"
            );
            return;
        };
        let name = format!("candour_test_{:016x}", u64::from(std::process::id()) * 7927);
        let admin = PgStore::admin(&admin_url).await.unwrap();
        admin.create_database(&name).await.unwrap();
        let url = PgStore::url_with_database(&admin_url, &name);
        let limits = DatabaseSettings {
            acquire_timeout_ms: 1_000,
            statement_timeout_ms: 300,
        };
        let store = PgStore::connect_with(&url, &limits).await.unwrap();
        let options = PgConnectOptions::from_str(&url).unwrap();
        let mut holder = PgConnection::connect_with(&options).await.unwrap();
        sqlx::query("BEGIN").execute(&mut holder).await.unwrap();
        sqlx::query("LOCK TABLE rate_limits IN ACCESS EXCLUSIVE MODE")
            .execute(&mut holder)
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
        sqlx::query("ROLLBACK").execute(&mut holder).await.unwrap();
        assert_eq!(store.hit("k", OffsetDateTime::UNIX_EPOCH).await.unwrap(), 1);

        // Background work whose size grows with the database is not held to the limit: it
        // waits out a lock held for twice the limit and finishes.
        sqlx::query("BEGIN").execute(&mut holder).await.unwrap();
        sqlx::query("LOCK TABLE campaigns IN ACCESS EXCLUSIVE MODE")
            .execute(&mut holder)
            .await
            .unwrap();
        let release = async {
            tokio::time::sleep(Duration::from_millis(600)).await;
            sqlx::query("ROLLBACK").execute(&mut holder).await.unwrap();
        };
        let now = OffsetDateTime::UNIX_EPOCH;
        let (started, reduced, ()) = tokio::join!(
            store.start_due_campaigns(now, 1000),
            store.reduce_tracking_before(now, now),
            release
        );
        assert_eq!(started.unwrap(), vec![]);
        assert_eq!(reduced.unwrap(), 0);
        holder.close().await.unwrap();
        store.close().await;
        admin.drop_database(&name).await.unwrap();
        admin.close().await;
    }
}
