//! `candour backup` on a live SQLite database: a copy taken while the server takes writes
//! holds every write acknowledged before the backup started, and a restored copy serves.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{candour, free_port};

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use candour_core::consent::ReceiptId;

/// A site with one optional cookie, so the banner (and its form token) is on every page.
fn write_config(dir: &Path, port: u16, db: &Path) -> std::path::PathBuf {
    let path = dir.join("candour.toml");
    std::fs::write(
        &path,
        format!(
            "listen = \"127.0.0.1:{port}\"\ndatabase_url = \"sqlite://{}\"\n\n\
             [[cookies.declared]]\nname = \"_stats\"\ncategory = \"statistics\"\n\
             purpose = \"Counts visits.\"\nlifetime_days = 30\n",
            db.display()
        ),
    )
    .unwrap();
    path
}

fn serve(config: &Path) -> Child {
    candour()
        .arg("--config")
        .arg(config)
        .arg("serve")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

async fn wait_ready(client: &reqwest::Client, base: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if let Ok(r) = client.get(format!("{base}/readyz")).send().await
            && r.status() == 200
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the server did not become ready");
}

fn stop(child: &mut Child) {
    let pid = child.id().to_string();
    Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while child.try_wait().unwrap().is_none() {
        assert!(Instant::now() < deadline, "no clean stop within 20 s");
        std::thread::sleep(Duration::from_millis(50));
    }
}

async fn form_token(client: &reqwest::Client, base: &str) -> String {
    let page = client.get(format!("{base}/")).send().await.unwrap();
    let page = page.text().await.unwrap();
    let at = page
        .find(r#"name="csrf" value=""#)
        .expect("the banner's form")
        + 19;
    page[at..].split('"').next().unwrap().to_owned()
}

/// Writes consent receipts until `stop`: each acknowledged one with when its answer came.
async fn write_receipts(
    client: reqwest::Client,
    base: String,
    csrf: String,
    count: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
) -> Vec<(Instant, String)> {
    let mut acked = Vec::new();
    while !stop.load(Ordering::Relaxed) {
        let res = client
            .post(format!("{base}/cookies/consent"))
            .header("accept", "application/json")
            .header("origin", &base)
            .form(&[("csrf", csrf.as_str()), ("choice", "accept")])
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        let body: serde_json::Value = res.json().await.unwrap();
        acked.push((Instant::now(), body["receipt"].as_str().unwrap().to_owned()));
        count.fetch_add(1, Ordering::Relaxed);
    }
    acked
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_backup_under_write_load_holds_every_acknowledged_write() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("live.db");
    let port = free_port();
    let config = write_config(dir.path(), port, &db);
    let mut server = serve(&config);
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    wait_ready(&client, &base).await;
    let csrf = form_token(&client, &base).await;

    let count = Arc::new(AtomicUsize::new(0));
    let done = Arc::new(AtomicBool::new(false));
    let writers: Vec<_> = (0..4)
        .map(|_| {
            tokio::spawn(write_receipts(
                client.clone(),
                base.clone(),
                csrf.clone(),
                count.clone(),
                done.clone(),
            ))
        })
        .collect();
    // Let writes pile up, then back up while they go on.
    while count.load(Ordering::Relaxed) < 300 {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let backup = dir.path().join("backup.db");
    let started = Instant::now();
    let out = tokio::task::spawn_blocking({
        let config = config.clone();
        let backup = backup.clone();
        move || {
            candour()
                .arg("--config")
                .arg(&config)
                .arg("backup")
                .arg(&backup)
                .output()
                .unwrap()
        }
    })
    .await
    .unwrap();
    let finished = Instant::now();
    tokio::time::sleep(Duration::from_millis(200)).await;
    done.store(true, Ordering::Relaxed);
    let mut acked = Vec::new();
    for w in writers {
        acked.extend(w.await.unwrap());
    }
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("a consistent copy"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let before: Vec<&String> = acked
        .iter()
        .filter(|(at, _)| *at < started)
        .map(|(_, id)| id)
        .collect();
    let during = acked
        .iter()
        .filter(|(at, _)| *at >= started && *at <= finished)
        .count();
    eprintln!(
        "backup: {} ms; {} writes acknowledged before it started, {during} while it ran, {} in all",
        (finished - started).as_millis(),
        before.len(),
        acked.len()
    );
    assert!(before.len() >= 300);
    assert!(during > 0, "the server took writes while the backup ran");
    // No partial file is left beside it.
    let names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(!names.iter().any(|n| n.contains("partial")), "{names:?}");

    // A second backup to the same file is refused, and leaves the first alone.
    let size = std::fs::metadata(&backup).unwrap().len();
    let again = candour()
        .arg("--config")
        .arg(&config)
        .arg("backup")
        .arg(&backup)
        .output()
        .unwrap();
    assert!(!again.status.success());
    assert!(
        String::from_utf8_lossy(&again.stderr).contains("--force"),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );
    assert_eq!(std::fs::metadata(&backup).unwrap().len(), size);
    stop(&mut server);

    // Restore as the README says: the copy in the database's place, with no WAL beside it.
    let restored = dir.path().join("restored.db");
    std::fs::copy(&backup, &restored).unwrap();
    let store =
        candour_store_sqlite::SqliteStore::open(&format!("sqlite://{}", restored.display()))
            .await
            .unwrap();
    let stores = store.stores();
    for id in &before {
        let id = ReceiptId::parse(id).unwrap();
        assert!(
            stores.consent.find_receipt(&id).await.unwrap().is_some(),
            "receipt {} was acknowledged before the backup started but is not in it",
            id.as_str()
        );
    }
    // Nothing that was never acknowledged: every receipt in the copy was answered.
    let tally = stores
        .consent
        .tally_since(time::macros::datetime!(2000-01-01 0:00 UTC))
        .await
        .unwrap();
    let total = tally.receipts;
    assert!(total as usize >= before.len());
    assert!(total as usize <= acked.len(), "{total} > {}", acked.len());
    store.close().await;

    // The restored file serves.
    let port = free_port();
    let config = write_config(dir.path(), port, &restored);
    let mut server = serve(&config);
    let base = format!("http://127.0.0.1:{port}");
    wait_ready(&client, &base).await;
    stop(&mut server);
}

#[test]
fn a_missing_database_is_an_error_not_an_empty_backup() {
    let dir = tempfile::tempdir().unwrap();
    let out = candour()
        .arg("backup")
        .arg(dir.path().join("copy.db"))
        .arg("--database-url")
        .arg(format!("sqlite://{}", dir.path().join("none.db").display()))
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(!dir.path().join("copy.db").exists());
    assert!(!dir.path().join("none.db").exists(), "never created");
}

#[test]
fn on_postgresql_it_explains_pg_dump_and_fails() {
    let dir = tempfile::tempdir().unwrap();
    let out = candour()
        .arg("backup")
        .arg(dir.path().join("copy.db"))
        .arg("--database-url")
        .arg("postgres://candour@127.0.0.1:1/candour")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("pg_dump") && err.contains("pg_restore"),
        "{err}"
    );
    assert!(!dir.path().join("copy.db").exists());
}
