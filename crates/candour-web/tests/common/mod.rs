//! `spawn_app()`: the real router on a loopback port with a fresh SQLite database, and small
//! helpers for talking to it over HTTP.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

pub mod mmdb;

use std::net::SocketAddr;
use std::sync::Arc;

use candour_core::clock::ManualClock;
use candour_core::config::{Config, DatabaseSettings, DeclaredCookie, GatedScript};
use candour_core::cookies::Category;
use candour_core::store::Stores;
use candour_mail::test_sink::TestSink;
use candour_store_sqlite::SqliteStore;
use time::macros::datetime;

pub struct TestApp {
    pub clock: Arc<ManualClock>,
    pub sink: TestSink,
    pub url: String,
    pub addr: SocketAddr,
    pub client: reqwest::Client,
    pub store: TestStore,
    pub stores: Stores,
    pub db_url: String,
    pub dir: Arc<tempfile::TempDir>,
    /// The campaign delivery worker of this instance; tests run its rounds by hand.
    pub sender: candour_mail::campaigns::CampaignSender,
    /// The app's state, for waiting on its background writers (`flush_queues`).
    pub state: candour_web::AppState,
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
        "---\nnav: 2\ntopics: road-safety\ndescription: Who we are & what we do\n---\n# About us\n\nRead [the law](https://www.legislation.gov.uk/) <script>alert(1)</script>\n",
    )
    .unwrap();
    std::fs::write(content.join("static/stats.js"), "/* counts visits */\n").unwrap();
    std::fs::write(
        content.join("vote.md"),
        "# Have your say\n\n[[poll:1]]\n\n[[poll:999]]\n\nThank you.\n",
    )
    .unwrap();
    let mut config = Config {
        content_dir: Some(content),
        ..Config::default()
    };
    config.organisation.name = "Testshire Police".into();
    config.organisation.phone = "101".into();
    config.organisation.email = "web@testshire.example".into();
    config.organisation.postal_address = vec!["1 Test Street".into(), "TS1 1TS".into()];
    config.scripts = vec![GatedScript {
        src: "/static/stats.js".parse().unwrap(),
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

/// The backend under test: SQLite unless `CANDOUR_TEST_BACKEND=postgres`, when each app
/// gets a fresh database on the server named by `CANDOUR_TEST_POSTGRES_URL`.
pub enum TestStore {
    Sqlite(SqliteStore),
    Postgres(candour_store_postgres::PgStore),
}

impl TestStore {
    async fn open(url: &str, limits: &DatabaseSettings) -> TestStore {
        if url.starts_with("postgres") {
            TestStore::Postgres(
                candour_store_postgres::PgStore::connect_with(url, limits)
                    .await
                    .unwrap(),
            )
        } else {
            TestStore::Sqlite(SqliteStore::open_with(url, limits).await.unwrap())
        }
    }

    pub fn stores(&self) -> Stores {
        match self {
            TestStore::Sqlite(s) => s.stores(),
            TestStore::Postgres(s) => s.stores(),
        }
    }

    /// Take the database away, as an outage would.
    pub async fn close(&self) {
        match self {
            TestStore::Sqlite(s) => s.close().await,
            TestStore::Postgres(s) => s.close().await,
        }
    }

    /// SQLite only: the writer refuses writes (or takes them again), as on a file SQLite
    /// could open only for reading.
    pub async fn refuse_writes(&self, refuse: bool) {
        match self {
            TestStore::Sqlite(s) => s.refuse_writes(refuse).await.unwrap(),
            TestStore::Postgres(_) => panic!("refuse_writes is for SQLite"),
        }
    }
}

/// A TCP relay on loopback to `target`, standing in for the network between the app and its
/// PostgreSQL server: `cut` closes its port and every connection through it, as a stopped
/// server does.
pub struct Relay {
    pub addr: SocketAddr,
    accepting: tokio::task::JoinHandle<()>,
}

impl Relay {
    pub async fn start(target: String) -> Relay {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let accepting = tokio::spawn(async move {
            // Dropped with this task when the relay is cut, ending every connection.
            let mut connections = tokio::task::JoinSet::new();
            loop {
                let Ok((mut inbound, _)) = listener.accept().await else {
                    continue;
                };
                let target = target.clone();
                connections.spawn(async move {
                    if let Ok(mut outbound) = tokio::net::TcpStream::connect(&target).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
            }
        });
        Relay { addr, accepting }
    }

    /// Close the port and every connection through it.
    pub async fn cut(self) {
        self.accepting.abort();
        let _ = self.accepting.await;
    }
}

/// Where the server's `host:port` is in a `postgres://` URL.
fn server_span(url: &str) -> (usize, usize) {
    let start = url.find("://").unwrap() + 3;
    let end = url[start..]
        .find(['/', '?'])
        .map_or(url.len(), |i| start + i);
    let host_start = url[start..end].rfind('@').map_or(start, |i| start + i + 1);
    (host_start, end)
}

/// The `host:port` a `postgres://` URL names.
pub fn postgres_server(url: &str) -> String {
    let (start, end) = server_span(url);
    let server = &url[start..end];
    if server.contains(':') {
        server.to_owned()
    } else {
        format!("{server}:5432")
    }
}

/// The `postgres://` URL with its server replaced by `with`.
pub fn with_postgres_server(url: &str, with: SocketAddr) -> String {
    let (start, end) = server_span(url);
    format!("{}{with}{}", &url[..start], &url[end..])
}

pub async fn fresh_database_url(dir: &std::path::Path) -> String {
    if std::env::var("CANDOUR_TEST_BACKEND").as_deref() != Ok("postgres") {
        return format!("sqlite://{}", dir.join("test.db").display());
    }
    let admin_url = std::env::var("CANDOUR_TEST_POSTGRES_URL")
        .expect("CANDOUR_TEST_BACKEND=postgres needs CANDOUR_TEST_POSTGRES_URL");
    let name = format!("candour_test_{:016x}", rand::random::<u64>());
    let admin = candour_store_postgres::PgStore::admin(&admin_url)
        .await
        .unwrap();
    admin.create_database(&name).await.unwrap();
    admin.close().await;
    candour_store_postgres::PgStore::url_with_database(&admin_url, &name)
}

pub async fn spawn_with(tweak: impl FnOnce(&mut Config)) -> TestApp {
    let dir = Arc::new(tempfile::tempdir().unwrap());
    let db_url = fresh_database_url(dir.path()).await;
    spawn_on(dir, db_url, tweak).await
}

/// Another app on the same database (as a second instance, or after a config change).
pub async fn spawn_on(
    dir: Arc<tempfile::TempDir>,
    db_url: String,
    tweak: impl FnOnce(&mut Config),
) -> TestApp {
    let sink = TestSink::start().await;
    let mut config = site_config(dir.path());
    config.database_url = db_url.parse().unwrap();
    config.mail.smtp_url = Some(sink.url().parse().unwrap());
    config.mail.from = "Testshire Police <noreply@testshire.example>".into();
    config.http.trusted_proxies = vec!["127.0.0.1".parse().unwrap()];
    config.topics = vec![
        candour_core::config::Topic {
            id: "road-safety".into(),
            label: "Road safety".into(),
        },
        candour_core::config::Topic {
            id: "fraud".into(),
            label: "Fraud".into(),
        },
    ];
    tweak(&mut config);
    let store = TestStore::open(&db_url, &config.database).await;
    let stores = store.stores();
    let clock = Arc::new(ManualClock::starting_at(datetime!(2026-06-01 09:00 UTC)));
    let state = candour_web::AppState::new(config, stores.clone(), clock.clone())
        .await
        .unwrap();
    let sender = state.campaign_sender();
    let app = candour_web::router(state.clone());
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
        clock,
        sink,
        url: format!("http://{addr}"),
        addr,
        client,
        store,
        stores,
        db_url,
        dir,
        sender,
        state,
    }
}

impl TestApp {
    /// The account registered under `address`; panics when there is none.
    pub async fn account(&self, address: &str) -> candour_core::account::Account {
        let email = candour_core::account::EmailAddress::parse(address).unwrap();
        self.stores
            .accounts
            .account_by_email(&email)
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("no account for {address}"))
    }

    /// The record number of the account registered under `address`.
    pub async fn account_id(&self, address: &str) -> i64 {
        self.account(address).await.id
    }

    /// The first link starting with `prefix` in message number `index` the sink received,
    /// once it has arrived (quoted-printable decoded).
    pub async fn emailed_link(&self, index: usize, prefix: &str) -> String {
        let mail = self.sink.wait_for(index + 1).await;
        link_in(&mail[index].data, prefix)
    }

    /// Wait until every vote and tracking event sent so far is written, so a test reads the
    /// database after the writers rather than sleeping and hoping they were quick.
    pub async fn flush_queues(&self) {
        self.state.flush_queues().await;
    }
}

/// Every `.rs` file under `dir`, in every folder.
pub fn rust_files(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let mut dirs = vec![dir.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|x| x == "rs") {
                out.push(path);
            }
        }
    }
    out.sort();
    out
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

/// Check that `page` is a console page drawn again after a refused form, in the usual
/// pattern: "Error:" in its title, the summary linking to `field` with `words`, the message
/// beside the field (`{field}-error`) and the field described by it and marked invalid.
pub fn assert_field_error(page: &str, field: &str, words: &str) {
    assert!(
        page.contains("<title>Error: "),
        "no Error: in the title: {page}"
    );
    let link = format!("<a href=\"#{field}\">");
    let Some(summary) = page.split(link.as_str()).nth(1) else {
        panic!("the summary does not link to #{field}: {page}");
    };
    assert!(
        summary.split("</a>").next().unwrap_or("").contains(words),
        "the summary's link to #{field} does not say {words:?}: {page}"
    );
    let error_id = format!("id=\"{field}-error\"");
    assert!(
        page.contains(&error_id),
        "no message beside {field}: {page}"
    );
    let marker = format!("id=\"{field}\" name=");
    let Some(tag) = page
        .split(marker.as_str())
        .nth(1)
        .and_then(|rest| rest.split('>').next())
    else {
        panic!("no field {field}: {page}");
    };
    assert!(
        tag.contains(&format!("{field}-error\"")) && tag.contains("aria-invalid=\"true\""),
        "{field} is not described by its error and marked invalid: {tag}"
    );
}

/// The value of the hidden input `name` in a page, if it has one.
pub fn hidden(html: &str, name: &str) -> Option<String> {
    let start = format!("name=\"{name}\" value=\"");
    let rest = html.split(start.as_str()).nth(1)?;
    rest.split('"').next().map(str::to_owned)
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

/// Undo quoted-printable encoding (RFC 2045), as a mail client does before showing a message.
pub fn decode_qp(text: &str) -> String {
    let joined = text.replace("=\r\n", "").replace("=\n", "");
    let bytes = joined.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'='
            && i + 2 < bytes.len()
            && let Ok(b) = u8::from_str_radix(&joined[i + 1..i + 3], 16)
        {
            out.push(b);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The first link in `text` (a raw message, decoded here) that starts with `prefix`.
pub fn link_in(text: &str, prefix: &str) -> String {
    let text = &decode_qp(text);
    let start = text
        .find(prefix)
        .unwrap_or_else(|| panic!("no {prefix} link in {text}"));
    let end = text[start..]
        .find(|c: char| c.is_whitespace())
        .map_or(text.len(), |e| start + e);
    text[start..end].to_owned()
}

/// The path and query of a full link, to request it from the test server.
pub fn path_of(link: &str) -> String {
    let after_scheme = link.find("://").map_or(0, |i| i + 3);
    link[after_scheme..]
        .find('/')
        .map_or("/".to_owned(), |i| link[after_scheme + i..].to_owned())
}

impl TestApp {
    /// GET with a cookie, returning the page's form token too.
    pub async fn page(&self, path: &str, cookie: &str) -> (u16, String, String) {
        let res = self.get_with_cookie(path, cookie).await;
        let status = res.status().as_u16();
        let html = res.text().await.unwrap();
        let token = html
            .find("name=\"csrf\" value=\"")
            .map(|_| csrf_in(&html))
            .unwrap_or_default();
        (status, html, token)
    }

    /// Register and confirm an account; returns nothing (sign in afterwards).
    pub async fn register_verified(&self, email: &str, password: &str) {
        let before = self.sink.messages().await.len();
        let (_, _, token) = self.page("/account/register", "").await;
        let res = self
            .post_form(
                "/account/register",
                &[
                    ("csrf", &token),
                    ("name", "Jo Bloggs"),
                    ("email", email),
                    ("password", password),
                ],
                &[],
            )
            .await;
        assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
        let link = self.emailed_link(before, "http://").await;
        let res = self.press_link_button(&link, "/account/verify").await;
        assert_eq!(res.status(), 200);
    }

    /// Open an emailed single-use link, which only shows a button (so a mail scanner that
    /// follows it uses nothing up), and press the button: a POST to `action` with the page's
    /// form token and the link's secret.
    pub async fn press_link_button(&self, link: &str, action: &str) -> reqwest::Response {
        let (status, html, token) = self.page(&path_of(link), "").await;
        assert_eq!(status, 200, "{link}");
        let secret = hidden(&html, "token").expect("the link's secret in the page");
        self.post_form(action, &[("csrf", &token), ("token", &secret)], &[])
            .await
    }

    /// Sign in; returns the `clientvars=…` pair.
    pub async fn sign_in(&self, email: &str, password: &str) -> String {
        let (_, _, token) = self.page("/account/sign-in", "").await;
        let res = self
            .post_form(
                "/account/sign-in",
                &[("csrf", &token), ("email", email), ("password", password)],
                &[],
            )
            .await;
        assert_eq!(res.status(), 303, "{}", res.text().await.unwrap());
        cookie_pair(&res, "clientvars").expect("a session cookie")
    }
}

pub const PASSWORD: &str = "lantern orbit cabbage";

impl TestApp {
    /// A signed-in account with a staff role; returns the session cookie pair.
    pub async fn staff(&self, email: &str, role: candour_core::account::Role) -> String {
        self.register_verified(email, PASSWORD).await;
        let cookie = self.sign_in(email, PASSWORD).await;
        let a = self
            .stores
            .accounts
            .account_by_email(&candour_core::account::EmailAddress::parse(email).unwrap())
            .await
            .unwrap()
            .unwrap();
        self.stores
            .accounts
            .set_role(a.id, Some(role))
            .await
            .unwrap();
        cookie
    }
}
