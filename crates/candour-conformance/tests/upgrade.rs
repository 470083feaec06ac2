#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code
//! Upgrades: a database made by the previous release, kept as a fixture for each backend,
//! is migrated to the current schema and read back through the store traits.
//!
//! The fixtures are made by `make_fixtures` below, at each release (see the README's
//! "Upgrades" section): `CANDOUR_MAKE_FIXTURES=1 cargo test -p candour-conformance --test
//! upgrade make_fixtures -- --ignored` with `CANDOUR_TEST_POSTGRES_URL` set.

use std::path::{Path, PathBuf};
use std::process::Command;

use candour_conformance::upgrade::{TABLES, check, populate};
use candour_store_postgres::PgStore;
use candour_store_sqlite::SqliteStore;

fn fixtures(store_crate: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(store_crate)
        .join("tests/fixtures")
}

fn sqlite_fixture() -> PathBuf {
    fixtures("candour-store-sqlite").join("previous-release.db")
}

fn postgres_fixture() -> PathBuf {
    fixtures("candour-store-postgres").join("previous-release.sql")
}

/// Every table the fixture filled still has rows after the migrations.
fn assert_rows_kept(counts: &[(String, i64)]) {
    for table in TABLES {
        let n = counts
            .iter()
            .find(|(t, _)| t == table)
            .map(|(_, n)| *n)
            .unwrap_or_else(|| panic!("`{table}` is gone after migrating: {counts:?}"));
        assert!(n > 0, "`{table}` is empty after migrating: {counts:?}");
    }
}

#[tokio::test]
async fn the_previous_releases_sqlite_database_migrates_and_reads_back() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("candour.db");
    std::fs::copy(sqlite_fixture(), &db).unwrap();
    let url = format!("sqlite://{}", db.display());
    let store = SqliteStore::open(&url).await.unwrap();
    assert_rows_kept(&store.row_counts().await.unwrap());
    check(&store.stores()).await;
    store.close().await;
}

fn postgres_url() -> Option<String> {
    std::env::var("CANDOUR_TEST_POSTGRES_URL")
        .ok()
        .filter(|u| !u.is_empty())
}

async fn fresh_database(admin_url: &str) -> (String, String) {
    let name = format!("candour_test_upgrade_{:016x}", rand::random::<u64>());
    let admin = PgStore::admin(admin_url).await.unwrap();
    admin.create_database(&name).await.unwrap();
    admin.close().await;
    let url = PgStore::url_with_database(admin_url, &name);
    (name, url)
}

async fn drop_database(admin_url: &str, name: &str) {
    let admin = PgStore::admin(admin_url).await.unwrap();
    admin.drop_database(name).await.unwrap();
    admin.close().await;
}

#[tokio::test]
#[cfg_attr(
    not(postgres_tests),
    ignore = "needs CANDOUR_TEST_POSTGRES_URL when the tests are built"
)]
async fn the_previous_releases_postgres_database_migrates_and_reads_back() {
    let admin_url = postgres_url().expect("CANDOUR_TEST_POSTGRES_URL");
    let (name, url) = fresh_database(&admin_url).await;
    // Restored the way an operator restores a plain dump.
    let out = Command::new("psql")
        .args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", &url, "-f"])
        .arg(postgres_fixture())
        .output()
        .expect("psql, PostgreSQL's client, on the PATH");
    assert!(
        out.status.success(),
        "psql: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let store = PgStore::connect(&url).await.unwrap();
    assert_rows_kept(&store.row_counts().await.unwrap());
    check(&store.stores()).await;
    store.close().await;
    drop_database(&admin_url, &name).await;
}

/// Makes the fixtures from the current schema: run at a release, never in CI.
#[tokio::test]
#[ignore = "makes the upgrade fixtures; run by hand at a release (see the README)"]
async fn make_fixtures() {
    assert!(
        std::env::var_os("CANDOUR_MAKE_FIXTURES").is_some(),
        "set CANDOUR_MAKE_FIXTURES=1 to overwrite the fixtures"
    );
    // SQLite: one file, without its write-ahead log (it is checkpointed on close).
    let target = sqlite_fixture();
    std::fs::create_dir_all(target.parent().unwrap()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("fixture.db");
    let store = SqliteStore::open(&format!("sqlite://{}", db.display()))
        .await
        .unwrap();
    populate(&store.stores()).await;
    check_all_filled(&store.row_counts().await.unwrap());
    store.close().await;
    let made = candour_store_sqlite::backup(
        &format!("sqlite://{}", db.display()),
        &target,
        true,
        std::time::Duration::from_secs(5),
    )
    .await
    .unwrap();
    println!("wrote {} ({} bytes)", made.path.display(), made.bytes);

    // PostgreSQL: a plain dump with INSERTs, which psql restores.
    let admin_url = postgres_url().expect("CANDOUR_TEST_POSTGRES_URL");
    let (name, url) = fresh_database(&admin_url).await;
    let store = PgStore::connect(&url).await.unwrap();
    populate(&store.stores()).await;
    check_all_filled(&store.row_counts().await.unwrap());
    store.close().await;
    let target = postgres_fixture();
    std::fs::create_dir_all(target.parent().unwrap()).unwrap();
    let status = Command::new("pg_dump")
        .args([
            "--inserts",
            "--no-owner",
            "--no-privileges",
            "--no-comments",
            "-d",
            &url,
            "-f",
        ])
        .arg(&target)
        .status()
        .unwrap();
    assert!(status.success());
    drop_database(&admin_url, &name).await;
    println!("wrote {}", target.display());
}

/// Every table of the schema has a row, and `TABLES` lists exactly them.
fn check_all_filled(counts: &[(String, i64)]) {
    let tables: Vec<&str> = counts
        .iter()
        .map(|(t, _)| t.as_str())
        .filter(|t| *t != "_sqlx_migrations")
        .collect();
    assert_eq!(tables, TABLES, "list every table in upgrade::TABLES");
    let empty: Vec<&str> = counts
        .iter()
        .filter(|(_, n)| *n == 0)
        .map(|(t, _)| t.as_str())
        .collect();
    assert!(empty.is_empty(), "no rows in {empty:?}");
}
