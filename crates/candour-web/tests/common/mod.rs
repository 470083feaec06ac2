//! `spawn_app()`: the real router on a loopback port with a fresh SQLite database, and small
//! helpers for talking to it over HTTP.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::net::SocketAddr;
use std::sync::Arc;

use candour_core::clock::FixedClock;
use candour_core::config::{Config, DeclaredCookie, GatedScript};
use candour_core::cookies::Category;
use candour_core::store::Stores;
use candour_store_sqlite::SqliteStore;
use time::macros::datetime;

pub struct TestApp {
    pub url: String,
    pub addr: SocketAddr,
    pub client: reqwest::Client,
    pub store: SqliteStore,
    pub stores: Stores,
    pub db_url: String,
    pub dir: Arc<tempfile::TempDir>,
}

/// A config like a real site's: a few pages, one gated statistics script and its cookie.
pub fn site_config(dir: &std::path::Path) -> Config {
    let content = dir.join("content");
    std::fs::create_dir_all(content.join("static")).unwrap();
    std::fs::write(
        content.join("index.md"),
        "---\ntitle: Home\nnav: 1\n---\n# Welcome\n\nSee [about](/about).\n",
    )
    .unwrap();
    std::fs::write(
        content.join("about.md"),
        "---\nnav: 2\n---\n# About us\n\nRead [the law](https://www.legislation.gov.uk/) <script>alert(1)</script>\n",
    )
    .unwrap();
    std::fs::write(content.join("static/stats.js"), "/* counts visits */\n").unwrap();
    let mut config = Config {
        content_dir: Some(content),
        ..Config::default()
    };
    config.organisation.name = "Testshire Police".into();
    config.organisation.phone = "101".into();
    config.organisation.email = "web@testshire.example".into();
    config.organisation.postal_address = vec!["1 Test Street".into(), "TS1 1TS".into()];
    config.scripts = vec![GatedScript {
        src: "/static/stats.js".into(),
        category: Category::Statistics,
    }];
    config.cookies.declared = vec![DeclaredCookie {
        name: "site_stats".into(),
        category: Category::Statistics,
        purpose: "Counts visits.".into(),
        lifetime_days: 30,
        provider: String::new(),
    }];
    config
}

pub async fn spawn_app() -> TestApp {
    spawn_with(|_| {}).await
}

pub async fn spawn_with(tweak: impl FnOnce(&mut Config)) -> TestApp {
    let dir = Arc::new(tempfile::tempdir().unwrap());
    let db_url = format!("sqlite://{}", dir.path().join("test.db").display());
    spawn_on(dir, db_url, tweak).await
}

/// Another app on the same database (as a second instance, or after a config change).
pub async fn spawn_on(
    dir: Arc<tempfile::TempDir>,
    db_url: String,
    tweak: impl FnOnce(&mut Config),
) -> TestApp {
    let mut config = site_config(dir.path());
    config.database_url = db_url.clone();
    tweak(&mut config);
    let store = SqliteStore::open(&db_url).await.unwrap();
    let stores = store.stores();
    let clock = Arc::new(FixedClock(datetime!(2026-06-01 09:00 UTC)));
    let state = candour_web::AppState::new(config, stores.clone(), clock)
        .await
        .unwrap();
    let app = candour_web::router(state);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await
        .unwrap();
    });
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    TestApp {
        url: format!("http://{addr}"),
        addr,
        client,
        store,
        stores,
        db_url,
        dir,
    }
}

impl TestApp {
    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client
            .get(format!("{}{path}", self.url))
            .send()
            .await
            .unwrap()
    }

    pub async fn get_with_cookie(&self, path: &str, cookie: &str) -> reqwest::Response {
        self.client
            .get(format!("{}{path}", self.url))
            .header("cookie", cookie)
            .send()
            .await
            .unwrap()
    }

    /// A form POST as a browser on this site sends it.
    pub async fn post_form(
        &self,
        path: &str,
        form: &[(&str, &str)],
        extra: &[(&str, &str)],
    ) -> reqwest::Response {
        let mut req = self
            .client
            .post(format!("{}{path}", self.url))
            .header("origin", &self.url)
            .header("sec-fetch-site", "same-origin")
            .form(form);
        for (k, v) in extra {
            req = req.header(*k, *v);
        }
        req.send().await.unwrap()
    }

    /// A form token from a freshly rendered page.
    pub async fn csrf(&self) -> String {
        let html = self.get("/cookies").await.text().await.unwrap();
        csrf_in(&html)
    }
}

pub fn csrf_in(html: &str) -> String {
    let marker = "name=\"csrf\" value=\"";
    let start = html.find(marker).expect("a form token on the page") + marker.len();
    let end = html[start..].find('"').unwrap();
    html[start..start + end].to_owned()
}

/// `name=value` of the cookie a response sets, for sending back.
pub fn cookie_pair(res: &reqwest::Response, name: &str) -> Option<String> {
    res.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with(&format!("{name}=")))
        .map(|v| v.split(';').next().unwrap().to_owned())
}

pub fn set_cookie_header(res: &reqwest::Response, name: &str) -> Option<String> {
    res.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with(&format!("{name}=")))
        .map(str::to_owned)
}
