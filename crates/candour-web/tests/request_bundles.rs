//! The answer to a request for a copy of one's data, over HTTP: the bundle a signed-in person
//! downloads from their account, checked against the data map and the stored export.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use candour_core::bundle::{DATA_JSON, INDEX_HTML, csv_name, read_stored};
use candour_core::datamap;
use common::*;

/// Make a request while signed in, so the person has a record, a case and its history.
async fn ask_signed_in(app: &TestApp, cookie: &str) {
    let (_, _, token) = app.page("/requests", cookie).await;
    let res = app
        .post_form(
            "/requests",
            &[
                ("csrf", token.as_str()),
                ("kind", "access"),
                ("name", "=Robin Example"),
                ("email", "robin@example.org"),
                ("details", "Everything since 2024"),
            ],
            &[("cookie", cookie)],
        )
        .await;
    assert_eq!(res.status(), 200);
}

async fn download(app: &TestApp, cookie: &str) -> reqwest::Response {
    let (status, html, token) = app.page("/requests/my-data", cookie).await;
    assert_eq!(status, 200);
    assert!(html.contains("Download your data"), "{html}");
    app.post_form(
        "/requests/my-data",
        &[("csrf", &token)],
        &[("cookie", cookie)],
    )
    .await
}

/// An app whose bundles are written to a folder of the test's own, on either backend.
async fn spawn() -> (TestApp, tempfile::TempDir) {
    let bundles = tempfile::tempdir().unwrap();
    let dir = bundles.path().to_path_buf();
    let app = spawn_with(move |c| c.requests.bundle_dir = Some(dir)).await;
    (app, bundles)
}

fn files_in(dir: &tempfile::TempDir) -> Vec<std::path::PathBuf> {
    std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect()
}

#[tokio::test]
async fn a_signed_in_person_downloads_every_table_the_data_map_holds_about_them() {
    let (app, bundles) = spawn().await;
    app.register_verified("robin@example.org", PASSWORD).await;
    let cookie = app.sign_in("robin@example.org", PASSWORD).await;
    ask_signed_in(&app, &cookie).await;
    let robin = app.account_id("robin@example.org").await;
    let person = app
        .stores
        .people
        .person_for_account(robin)
        .await
        .unwrap()
        .unwrap();

    let res = download(&app, &cookie).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "application/zip");
    assert!(
        res.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .starts_with("attachment")
    );
    assert_eq!(res.headers()["cache-control"], "private, no-store");
    // Streamed from the file, whose size is announced first.
    let length: usize = res.headers()["content-length"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    let zip = res.bytes().await.unwrap();
    assert_eq!(zip.len(), length);
    let entries = read_stored(&zip).expect("a whole, readable ZIP");
    let entry = |name: &str| {
        entries
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, d)| String::from_utf8(d.clone()).unwrap())
    };
    let data: serde_json::Value = serde_json::from_str(&entry(DATA_JSON).unwrap()).unwrap();
    assert_eq!(data["person"], person.id);
    assert_eq!(data["account"], robin);

    // Every table of the data map is in the bundle, holding exactly what the export holds:
    // a table added to the map and not to the bundle fails here.
    let tables = data["tables"].as_object().unwrap();
    let export = app
        .stores
        .subjects
        .export_person(person.id)
        .await
        .unwrap()
        .unwrap();
    for m in datamap::PERSONAL {
        let held = tables
            .get(m.table)
            .unwrap_or_else(|| panic!("the bundle leaves out `{}`", m.table));
        assert_eq!(held, &export[m.table], "{}", m.table);
        let rows = held.as_array().unwrap().len();
        // One CSV per kind that holds rows, a header and a line per row.
        match entry(&csv_name(m.table)) {
            Some(csv) => assert_eq!(csv.lines().count(), rows + 1, "{}", m.table),
            None => assert_eq!(rows, 0, "{} has rows but no CSV", m.table),
        }
    }
    assert_eq!(tables.len(), datamap::PERSONAL.len());
    for table in [
        "people",
        "accounts",
        "data_requests",
        "data_request_events",
        "sessions",
    ] {
        assert!(
            !tables[table].as_array().unwrap().is_empty(),
            "{table} should hold Robin's rows"
        );
    }
    // Secrets that sign in are said to be held, never given out.
    let json = entry(DATA_JSON).unwrap();
    assert!(!json.contains("$argon2"));
    assert_eq!(tables["accounts"][0]["password_hash"], datamap::WITHHELD);
    // A cell a spreadsheet would run as a formula is neutralised in the CSV, kept in the JSON.
    assert_eq!(tables["data_requests"][0]["name"], "=Robin Example");
    let csv = entry(&csv_name("data_requests")).unwrap();
    assert!(csv.contains("'=Robin Example"), "{csv}");

    // Art 15's supplementary information, from the same registries as /privacy.
    let extra = &data["supplementary"];
    assert_eq!(extra["controller"], "Testshire Police");
    assert!(!extra["purposes"].as_array().unwrap().is_empty());
    assert!(
        extra["complaint"]
            .as_str()
            .unwrap()
            .contains("Information Commissioner")
    );
    let kinds = extra["categories"].as_array().unwrap();
    assert_eq!(kinds.len(), datamap::PERSONAL.len());
    let index = entry(INDEX_HTML).unwrap();
    assert!(index.contains("<html lang=\"en-GB\">"));
    assert!(index.contains("Your data held by Testshire Police"));
    assert!(index.contains("robin@example.org"));
    assert!(index.contains(&csv_name("data_requests")));
    assert!(index.contains("Information Commissioner"));

    // Audited, and nothing left on disk.
    let audit = app.stores.audit.recent(10).await.unwrap();
    let entry = audit
        .iter()
        .find(|e| e.action == "request.own-data-downloaded")
        .expect("the download is audited");
    assert_eq!(entry.actor, Some(robin));
    assert_eq!(entry.target, format!("person:{}", person.id));
    assert!(files_in(&bundles).is_empty(), "{:?}", files_in(&bundles));
}

#[tokio::test]
async fn an_account_without_a_record_downloads_its_account_data() {
    let (app, _bundles) = spawn().await;
    app.register_verified("sam@example.org", PASSWORD).await;
    let cookie = app.sign_in("sam@example.org", PASSWORD).await;
    let res = download(&app, &cookie).await;
    assert_eq!(res.status(), 200);
    let zip = res.bytes().await.unwrap();
    let entries = read_stored(&zip).unwrap();
    let (_, data) = entries.iter().find(|(n, _)| n == DATA_JSON).unwrap();
    let data: serde_json::Value = serde_json::from_slice(data).unwrap();
    assert_eq!(data["person"], serde_json::Value::Null);
    assert_eq!(data["tables"]["accounts"][0]["email"], "sam@example.org");
    assert_eq!(data["tables"]["people"], serde_json::json!([]));
}

#[tokio::test]
async fn the_download_needs_sign_in_a_form_token_and_is_limited() {
    let (app, _bundles) = spawn().await;
    let res = app.get("/requests/my-data").await;
    assert_eq!(res.status(), 303);
    let res = app
        .post_form("/requests/my-data", &[("csrf", "x")], &[])
        .await;
    assert_ne!(res.status(), 200);
    app.register_verified("kim@example.org", PASSWORD).await;
    let cookie = app.sign_in("kim@example.org", PASSWORD).await;
    let res = app
        .post_form(
            "/requests/my-data",
            &[("csrf", "forged")],
            &[("cookie", &cookie)],
        )
        .await;
    assert_eq!(res.status(), 403);
    for _ in 0..5 {
        assert_eq!(download(&app, &cookie).await.status(), 200);
    }
    let res = download(&app, &cookie).await;
    assert_eq!(res.status(), 429);
    // The account page leads to it.
    let (_, account, _) = app.page("/account", &cookie).await;
    assert!(account.contains("href=\"/requests/my-data\""));
}
