//! The demo's generated privacy notice, as a reviewed snapshot: any change to what it tells
//! the public shows up in review as a diff.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;

use candour_core::clock::FixedClock;
use candour_store_sqlite::SqliteStore;
use time::macros::datetime;

#[tokio::test]
async fn the_demo_privacy_notice() {
    let site = candour::demo::prepare(candour_core::Config::default(), true).unwrap();
    let store = SqliteStore::open(site.config.database_url.expose())
        .await
        .unwrap();
    let clock = Arc::new(FixedClock(datetime!(2026-06-01 09:00 UTC)));
    let state = candour_web::AppState::new(site.config.clone(), store.stores(), clock)
        .await
        .unwrap();
    let app = candour_web::router(state);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let html = reqwest::get(format!("http://{addr}/privacy"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    // The notice itself; the frame around it carries a per-request form token.
    let start = html.find("<main").unwrap();
    let end = html.find("</main>").unwrap() + "</main>".len();
    insta::assert_snapshot!(&html[start..end]);
}
