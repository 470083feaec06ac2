#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code
//! Runs every conformance case on SQLite (always) and PostgreSQL (when
//! `CANDOUR_TEST_POSTGRES_URL` names a server when the tests are built; each test gets a
//! database of its own). Without one, the PostgreSQL cases are listed as ignored, with the
//! reason, and the summary line counts them (see `build.rs`). The cases are not listed here:
//! `build.rs` reads them from the suite's sources.

use candour_store_postgres::PgStore;
use candour_store_sqlite::SqliteStore;

struct SqliteDb {
    _dir: tempfile::TempDir,
    store: SqliteStore,
}

async fn sqlite() -> SqliteDb {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("test.db").display());
    let store = SqliteStore::open(&url).await.unwrap();
    SqliteDb { _dir: dir, store }
}

/// A fresh database on the server named by `CANDOUR_TEST_POSTGRES_URL`, dropped afterwards.
struct PgDb {
    admin_url: String,
    name: String,
    store: PgStore,
}

fn postgres_url() -> Option<String> {
    match std::env::var("CANDOUR_TEST_POSTGRES_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            // In CI the PostgreSQL run must really happen; a silent skip would hide a gap.
            assert!(
                std::env::var("CANDOUR_REQUIRE_POSTGRES").is_err(),
                "CANDOUR_REQUIRE_POSTGRES is set but CANDOUR_TEST_POSTGRES_URL is not"
            );
            None
        }
    }
}

async fn postgres(admin_url: String) -> PgDb {
    use rand::Rng;
    let name = format!("candour_test_{:016x}", rand::rng().random::<u64>());
    let admin = PgStore::admin(&admin_url).await.unwrap();
    admin.create_database(&name).await.unwrap();
    admin.close().await;
    let url = PgStore::url_with_database(&admin_url, &name);
    let store = PgStore::connect(&url).await.unwrap();
    PgDb {
        admin_url,
        name,
        store,
    }
}

impl PgDb {
    async fn drop_database(self) {
        self.store.close().await;
        let admin = PgStore::admin(&self.admin_url).await.unwrap();
        admin.drop_database(&self.name).await.unwrap();
        admin.close().await;
    }
}

/// A fresh PostgreSQL database, or `None` (saying so) when no server is named.
async fn postgres_db() -> Option<PgDb> {
    let Some(url) = postgres_url() else {
        eprintln!("CANDOUR_TEST_POSTGRES_URL is not set: PostgreSQL case not run");
        return None;
    };
    Some(postgres(url).await)
}

impl SqliteDb {
    /// A second store on the same file, as another process would open it.
    async fn another(&self) -> SqliteStore {
        let url = format!("sqlite://{}", self._dir.path().join("test.db").display());
        SqliteStore::open(&url).await.unwrap()
    }
}

impl PgDb {
    /// A second store on the same database, as another instance would open it.
    async fn another(&self) -> PgStore {
        PgStore::connect(&PgStore::url_with_database(&self.admin_url, &self.name))
            .await
            .unwrap()
    }
}

macro_rules! conformance {
    ($($case:ident),* $(,)?) => {
        mod sqlite_backend {
            $(
                #[tokio::test]
                async fn $case() {
                    let db = super::sqlite().await;
                    candour_conformance::$case(&db.store.stores()).await;
                    db.store.close().await;
                }
            )*
        }
        mod postgres_backend {
            $(
                #[tokio::test]
                #[cfg_attr(not(postgres_tests), ignore = "set CANDOUR_TEST_POSTGRES_URL to run it on PostgreSQL")]
                async fn $case() {
                    let Some(db) = super::postgres_db().await else { return };
                    candour_conformance::$case(&db.store.stores()).await;
                    db.drop_database().await;
                }
            )*
        }
    };
}

/// Cases for two instances on one database.
macro_rules! conformance_two_instances {
    ($($case:ident),* $(,)?) => {
        mod sqlite_two_instances {
            $(
                #[tokio::test]
                async fn $case() {
                    let db = super::sqlite().await;
                    let other = db.another().await;
                    candour_conformance::$case(&db.store.stores(), &other.stores()).await;
                    other.close().await;
                    db.store.close().await;
                }
            )*
        }
        mod postgres_two_instances {
            $(
                #[tokio::test]
                #[cfg_attr(not(postgres_tests), ignore = "set CANDOUR_TEST_POSTGRES_URL to run it on PostgreSQL")]
                async fn $case() {
                    let Some(db) = super::postgres_db().await else { return };
                    let other = db.another().await;
                    candour_conformance::$case(&db.store.stores(), &other.stores()).await;
                    other.close().await;
                    db.drop_database().await;
                }
            )*
        }
    };
}

// Every `pub async fn` of the suite, listed by `build.rs`.
include!(concat!(env!("OUT_DIR"), "/cases.rs"));
