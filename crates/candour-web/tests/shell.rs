//! The site shell: health, headers, errors, limits and content pages, over real HTTP.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::{Duration, Instant};

use common::{
    Relay, TestStore, fresh_database_url, postgres_server, spawn_app, spawn_on, spawn_with,
    with_postgres_server,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[tokio::test]
async fn health_and_readiness() {
    let app = spawn_app().await;
    assert_eq!(app.get("/healthz").await.status(), 200);
    assert_eq!(app.get("/readyz").await.status(), 200);
    // With the database gone, the process is alive but not ready.
    app.store.close().await;
    assert_eq!(app.get("/healthz").await.status(), 200);
    assert_eq!(app.get("/readyz").await.status(), 503);
}

/// A database that answers reads but refuses writes (here SQLite's writer refusing them, as
/// it does on a file it could open only for reading) is not ready, and pages that write
/// answer 503, not 500.
#[tokio::test]
async fn readiness_needs_a_database_that_takes_writes() {
    let app = spawn_app().await;
    if !matches!(app.store, TestStore::Sqlite(_)) {
        return; // PostgreSQL: see readiness_needs_a_postgres_server_that_takes_writes.
    }
    let token = app.csrf().await;
    assert_eq!(app.get("/readyz").await.status(), 200);
    app.store.refuse_writes(true).await;
    assert_eq!(app.get("/readyz").await.status(), 503);
    let res = app
        .post_form(
            "/cookies/consent",
            &[("csrf", &token), ("choice", "accept"), ("return_to", "/")],
            &[],
        )
        .await;
    assert_eq!(res.status(), 503);
    app.store.refuse_writes(false).await;
    assert_eq!(app.get("/readyz").await.status(), 200);
}

/// PostgreSQL that answers reads but refuses writes (as a standby does after a fail-over)
/// is not ready, and pages that write answer 503.
#[tokio::test]
async fn readiness_needs_a_postgres_server_that_takes_writes() {
    let Ok(admin_url) = std::env::var("CANDOUR_TEST_POSTGRES_URL") else {
        return;
    };
    let app = spawn_app().await;
    if !matches!(app.store, TestStore::Postgres(_)) {
        return; // SQLite: see readiness_needs_a_database_that_takes_writes.
    }
    let name = app.db_url.rsplit('/').next().unwrap().to_owned();
    let admin = candour_store_postgres::PgStore::admin(&admin_url)
        .await
        .unwrap();
    let token = app.csrf().await;
    assert_eq!(app.get("/readyz").await.status(), 200);
    admin.set_read_only(&name, true).await.unwrap();
    assert_eq!(app.get("/readyz").await.status(), 503);
    let res = app
        .post_form(
            "/cookies/consent",
            &[("csrf", &token), ("choice", "accept"), ("return_to", "/")],
            &[],
        )
        .await;
    assert_eq!(res.status(), 503);
    admin.set_read_only(&name, false).await.unwrap();
    assert_eq!(app.get("/readyz").await.status(), 200);
    admin.close().await;
}

/// With the PostgreSQL server gone (the network to it cut: its port closed and every
/// connection ended), a page that needs the database and `/readyz` answer 503 within the
/// configured wait for a connection, not after ten seconds or more.
#[tokio::test]
async fn pages_and_readiness_fail_fast_when_postgres_is_gone() {
    if std::env::var("CANDOUR_TEST_BACKEND").as_deref() != Ok("postgres") {
        return; // Only a server over the network can go away like this.
    }
    let dir = std::sync::Arc::new(tempfile::tempdir().unwrap());
    let db_url = fresh_database_url(dir.path()).await;
    let relay = Relay::start(postgres_server(&db_url)).await;
    let through_relay = with_postgres_server(&db_url, relay.addr);
    let bound_ms = 500;
    let bound = Duration::from_millis(bound_ms);
    let app = spawn_on(dir, through_relay, |c| {
        c.database.acquire_timeout_ms = bound_ms;
    })
    .await;
    let token = app.csrf().await;
    assert_eq!(app.get("/readyz").await.status(), 200);

    relay.cut().await;
    let started = Instant::now();
    let res = app
        .post_form(
            "/cookies/consent",
            &[("csrf", &token), ("choice", "accept"), ("return_to", "/")],
            &[],
        )
        .await;
    let took = started.elapsed();
    assert_eq!(res.status(), 503);
    assert!(res.text().await.unwrap().contains("unavailable"));
    assert!(took < bound + Duration::from_secs(1), "took {took:?}");

    let started = Instant::now();
    assert_eq!(app.get("/readyz").await.status(), 503);
    let took = started.elapsed();
    assert!(took < bound + Duration::from_secs(1), "took {took:?}");
    // Pages that need no database still answer.
    assert_eq!(app.get("/healthz").await.status(), 200);
}

#[tokio::test]
async fn every_page_carries_the_security_headers() {
    let app = spawn_app().await;
    for path in ["/", "/about", "/cookies", "/privacy", "/no-such-page"] {
        let res = app.get(path).await;
        let h = res.headers();
        let csp = h["content-security-policy"].to_str().unwrap();
        assert!(!csp.contains("unsafe-inline"), "{path}: {csp}");
        assert!(csp.contains("default-src 'none'"), "{path}: {csp}");
        assert!(csp.contains("frame-ancestors 'none'"), "{path}: {csp}");
        assert!(!csp.contains("http"), "no other origin by default: {csp}");
        assert_eq!(h["x-content-type-options"], "nosniff");
        assert_eq!(h["referrer-policy"], "same-origin");
        assert_eq!(h["x-frame-options"], "DENY");
        assert_eq!(h["cross-origin-opener-policy"], "same-origin");
        assert_eq!(h["x-request-id"].len(), 16);
        assert!(h.get("strict-transport-security").is_none());
    }
}

#[tokio::test]
async fn https_sites_send_hsts_and_allow_their_configured_script_origins() {
    let app = spawn_with(|c| {
        c.public_url = Some("https://police.example".parse().unwrap());
        c.scripts.push(candour_core::config::GatedScript {
            src: "https://stats.example.net/s.js".parse().unwrap(),
            category: candour_core::cookies::Category::Statistics,
        });
    })
    .await;
    let res = app.get("/").await;
    assert!(
        res.headers()["strict-transport-security"]
            .to_str()
            .unwrap()
            .contains("max-age=")
    );
    let csp = res.headers()["content-security-policy"].to_str().unwrap();
    assert!(
        csp.contains("script-src 'self' https://stats.example.net;"),
        "{csp}"
    );
}

#[tokio::test]
async fn content_pages_render_sanitised_with_the_site_frame() {
    let app = spawn_app().await;
    let res = app.get("/about").await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["cache-control"], "private, no-store");
    let html = res.text().await.unwrap();
    assert!(html.contains("<title>About us – Testshire Police</title>"));
    assert!(html.contains("<meta name=\"description\" content=\"Who we are &#38; what we do\">"));
    assert!(html.contains("<a href=\"#main\" class=\"skip-link\">"));
    assert!(html.contains("<main id=\"main\""));
    assert!(html.contains("aria-current=\"page\""), "nav marks the page");
    assert!(!html.contains("<script>alert"), "raw HTML is sanitised");
    assert!(html.contains("(on another website)"));
    assert!(html.contains("href=\"/privacy\"") && html.contains("href=\"/cookies\""));
    assert!(
        html.contains("web@testshire.example"),
        "footer contact details"
    );
    assert!(html.contains("1 Test Street"));
    assert_eq!(app.get("/about/").await.status(), 200);
}

#[tokio::test]
async fn unknown_paths_get_a_404_page_or_json_with_the_request_id() {
    let app = spawn_app().await;
    let res = app.get("/nowhere").await;
    assert_eq!(res.status(), 404);
    let id = res.headers()["x-request-id"].to_str().unwrap().to_owned();
    let html = res.text().await.unwrap();
    assert!(html.contains("Page not found"));
    assert!(html.contains(&id), "the page quotes the request id");

    let res = app
        .client
        .get(format!("{}/nowhere", app.url))
        .header("accept", "application/json")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["status"], 404);
    assert_eq!(body["error"], "Page not found");
    assert_eq!(body["request_id"].as_str().unwrap().len(), 16);
}

/// Sends a raw request line, so no client can normalise the path first.
async fn raw_status(app: &common::TestApp, request: &str) -> u16 {
    let mut s = tokio::net::TcpStream::connect(app.addr).await.unwrap();
    s.write_all(request.as_bytes()).await.unwrap();
    let mut buf = vec![0; 64];
    let n = s.read(&mut buf).await.unwrap();
    let head = String::from_utf8_lossy(&buf[..n]);
    head.split_whitespace().nth(1).unwrap().parse().unwrap()
}

#[tokio::test]
async fn traversal_and_overlong_addresses_are_4xx() {
    let app = spawn_app().await;
    for path in [
        "/../../etc/passwd",
        "/static/../../etc/passwd",
        "/%2e%2e/%2e%2e/etc/passwd",
        "/static/%2e%2e/index.md",
    ] {
        let status = raw_status(
            &app,
            &format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"),
        )
        .await;
        assert_eq!(status, 404, "{path}");
    }
    let long = format!("/{}", "a".repeat(3000));
    assert_eq!(app.get(&long).await.status(), 414);
}

#[tokio::test]
async fn bodies_over_the_limit_are_413_and_wrong_methods_405() {
    let app = spawn_app().await;
    let big = "x".repeat(70 * 1024);
    let res = app
        .client
        .post(format!("{}/cookies/consent", app.url))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("csrf={big}"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 413);
    assert!(res.text().await.unwrap().contains("Too much was sent"));
    let res = app.post_form("/about", &[("a", "b")], &[]).await;
    assert_eq!(res.status(), 405);
    assert_eq!(res.headers()["allow"], "GET, HEAD");
}

#[tokio::test]
async fn assets_are_cached_by_version_and_static_files_served() {
    let app = spawn_app().await;
    let html = app.get("/").await.text().await.unwrap();
    let start = html.find("/assets/candour.css?v=").unwrap();
    let end = start + html[start..].find('"').unwrap();
    let res = app.get(&html[start..end]).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "text/css; charset=utf-8");
    assert!(
        res.headers()["cache-control"]
            .to_str()
            .unwrap()
            .contains("immutable")
    );
    let res = app.get("/assets/candour.css?v=old").await;
    assert_eq!(res.headers()["cache-control"], "public, max-age=300");
    assert_eq!(app.get("/assets/other.css").await.status(), 404);
    let res = app.get("/static/stats.js").await;
    assert_eq!(res.status(), 200);
    assert_eq!(
        res.headers()["content-type"],
        "text/javascript; charset=utf-8"
    );
}

#[tokio::test]
async fn a_database_failure_is_an_opaque_503_page() {
    let app = spawn_app().await;
    let token = app.csrf().await;
    app.store.close().await;
    let res = app
        .post_form(
            "/cookies/consent",
            &[("csrf", &token), ("choice", "accept"), ("return_to", "/")],
            &[],
        )
        .await;
    assert_eq!(res.status(), 503);
    assert!(
        res.headers().get("set-cookie").is_none(),
        "no cookie without a receipt"
    );
    let html = res.text().await.unwrap();
    assert!(html.contains("unavailable"));
    assert!(!html.contains("sqlx") && !html.contains("pool"), "{html}");
}

/// Architecture invariant: only the cookie jar module builds a `Set-Cookie` header (and the
/// edge filter reads them). Any other module naming it has bypassed the registry.
#[test]
fn only_the_cookie_jar_names_the_set_cookie_header() {
    let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let files = common::rust_files(&src);
    assert!(files.len() > 20, "the scan finds every module: {files:?}");
    for path in files {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let text = std::fs::read_to_string(&path).unwrap();
        let names_it =
            text.contains("SET_COOKIE") || text.to_ascii_lowercase().contains("\"set-cookie\"");
        if names_it {
            assert!(
                name == "cookie_jar.rs" || name == "edge.rs",
                "{name} names the Set-Cookie header; set cookies through cookie_jar::set"
            );
        }
    }
}

/// A feature switched off in the configuration leaves the console: no section on the
/// console's home page, and its pages answer 404. Switched on, both are there.
#[tokio::test]
async fn switched_off_features_leave_the_console() {
    use candour_core::account::Role;
    for on in [true, false] {
        let app = spawn_with(|c| {
            c.campaigns.enabled = on;
            c.polls.enabled = on;
        })
        .await;
        let admin = app.staff("admin@example.org", Role::Admin).await;
        let (status, home, _) = app.page("/admin", &admin).await;
        assert_eq!(status, 200);
        for path in ["/admin/campaigns", "/admin/polls", "/admin/campaigns/new"] {
            let (status, _, _) = app.page(path, &admin).await;
            assert_eq!(status, if on { 200 } else { 404 }, "{path} with on = {on}");
        }
        for link in ["href=\"/admin/campaigns\"", "href=\"/admin/polls\""] {
            assert_eq!(home.contains(link), on, "{link} with on = {on}");
        }
        // Sections that cannot be switched off stay.
        assert!(home.contains("href=\"/admin/people\""));
    }
}
