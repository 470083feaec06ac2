#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code
//! Site statistics, counted as pages go out: what is counted, what never is, the objection
//! page, and what is left in the database afterwards.

mod common;

use common::{TestApp, TestStore, cookie_pair, set_cookie_header, spawn_app};
use time::Duration;

const FIREFOX: &str = "Mozilla/5.0 (X11; Linux x86_64; rv:140.0) Gecko/20100101 Firefox/140.";

/// A browser's user agent, different for each `n`, so each is a visitor of its own.
fn browser(n: u32) -> String {
    format!("{FIREFOX}{n}")
}

async fn visit(
    app: &TestApp,
    path: &str,
    agent: &str,
    extra: &[(&str, &str)],
) -> reqwest::Response {
    let mut req = app
        .client
        .get(format!("{}{path}", app.url))
        .header("user-agent", agent);
    for (k, v) in extra {
        req = req.header(*k, *v);
    }
    req.send().await.unwrap()
}

/// Visitors seen in the last hour, counted and not yet folded or folded.
async fn visitors(app: &TestApp) -> u64 {
    app.flush_queues().await;
    app.stores
        .stats_ingest
        .live_visitors(app.clock.now() - Duration::hours(1))
        .await
        .unwrap()
}

use candour_core::Clock as _;

#[tokio::test]
async fn a_page_is_counted_and_sets_no_cookie() {
    let app = spawn_app().await;
    let res = visit(&app, "/", &browser(1), &[]).await;
    assert_eq!(res.status(), 200);
    assert!(
        res.headers().get("set-cookie").is_none(),
        "counting sets nothing on the visitor's device"
    );
    assert_eq!(visitors(&app).await, 1);
    // The same browser again is the same visitor; another browser is another.
    visit(&app, "/about", &browser(1), &[]).await;
    visit(&app, "/about", &browser(2), &[]).await;
    assert_eq!(visitors(&app).await, 2);
    // Folded, the visits are still seen as live.
    assert!(app.state.fold_statistics().await.unwrap() >= 3);
    assert_eq!(visitors(&app).await, 2);
}

/// A path, a user agent and extra headers.
type Case = (&'static str, String, Vec<(&'static str, &'static str)>);

#[tokio::test]
async fn bots_prefetches_objections_errors_and_machine_routes_are_not_counted() {
    let app = spawn_app().await;
    let cases: Vec<Case> = vec![
        (
            "/",
            "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)".into(),
            vec![],
        ),
        ("/", "curl/8.5.0".into(), vec![]),
        ("/", String::new(), vec![]),
        ("/", browser(10), vec![("sec-purpose", "prefetch")]),
        ("/", browser(11), vec![("purpose", "prefetch")]),
        ("/", browser(12), vec![("sec-gpc", "1")]),
        ("/", browser(13), vec![("dnt", "1")]),
        ("/", browser(14), vec![("cookie", "candour_no_stats=1")]),
        ("/no-such-page", browser(15), vec![]),
        ("/healthz", browser(16), vec![]),
        ("/readyz", browser(17), vec![]),
        ("/assets/candour.css", browser(18), vec![]),
        ("/privacy.json", browser(19), vec![]),
        ("/admin", browser(20), vec![]),
        ("/statistics/object", browser(21), vec![]),
    ];
    for (path, agent, headers) in &cases {
        let res = visit(&app, path, agent, headers).await;
        assert!(res.status().as_u16() < 500, "{path}");
    }
    let res = app
        .client
        .post(format!("{}/cookies/consent", app.url))
        .header("user-agent", browser(22))
        .send()
        .await
        .unwrap();
    assert_ne!(res.status(), 200);
    assert_eq!(visitors(&app).await, 0, "none of these is a visit");
    visit(&app, "/", &browser(30), &[]).await;
    assert_eq!(visitors(&app).await, 1, "a plain visit still counts");
}

#[tokio::test]
async fn staff_are_not_counted_and_other_account_holders_are() {
    let app = spawn_app().await;
    let staff = app
        .staff(
            "editor@testshire.example",
            candour_core::account::Role::Editor,
        )
        .await;
    let res = app
        .client
        .get(format!("{}/about", app.url))
        .header("user-agent", browser(1))
        .header("cookie", &staff)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(visitors(&app).await, 0);
    app.register_verified("resident@testshire.example", common::PASSWORD)
        .await;
    let resident = app
        .sign_in("resident@testshire.example", common::PASSWORD)
        .await;
    app.client
        .get(format!("{}/about", app.url))
        .header("user-agent", browser(2))
        .header("cookie", &resident)
        .send()
        .await
        .unwrap();
    assert_eq!(visitors(&app).await, 1);
}

#[tokio::test]
async fn the_objection_page_turns_counting_off_and_on_for_a_browser() {
    let app = spawn_app().await;
    let res = visit(&app, "/statistics/object", &browser(1), &[]).await;
    assert_eq!(res.status(), 200);
    assert!(
        res.headers().get("set-cookie").is_none(),
        "no cookie before objecting"
    );
    let html = res.text().await.unwrap();
    assert!(
        html.contains("Turn off statistics for this browser"),
        "{html}"
    );
    assert!(
        !html.contains("other websites"),
        "no other site is configured"
    );
    let token = common::csrf_in(&html);

    let res = app
        .post_form(
            "/statistics/object",
            &[("csrf", &token), ("statistics", "off")],
            &[("user-agent", &browser(1))],
        )
        .await;
    assert_eq!(res.status(), 303);
    let set = set_cookie_header(&res, "candour_no_stats").expect("the objection cookie");
    assert!(
        set.contains("HttpOnly") && set.contains("Max-Age=31536000"),
        "{set}"
    );
    let objection = cookie_pair(&res, "candour_no_stats").unwrap();

    let res = visit(&app, "/", &browser(1), &[("cookie", &objection)]).await;
    assert_eq!(res.status(), 200);
    assert_eq!(visitors(&app).await, 0, "not counted after objecting");
    let html = visit(
        &app,
        "/statistics/object?saved=off",
        &browser(1),
        &[("cookie", &objection)],
    )
    .await
    .text()
    .await
    .unwrap();
    assert!(
        html.contains("Statistics are off for this browser"),
        "{html}"
    );
    assert!(html.contains("Turn statistics back on"));

    let token = common::csrf_in(&html);
    let res = app
        .post_form(
            "/statistics/object",
            &[("csrf", &token), ("statistics", "on")],
            &[("user-agent", &browser(1)), ("cookie", &objection)],
        )
        .await;
    assert_eq!(res.status(), 303);
    let cleared = set_cookie_header(&res, "candour_no_stats").unwrap();
    assert!(cleared.contains("Max-Age=0"), "{cleared}");
    visit(&app, "/", &browser(1), &[]).await;
    assert_eq!(visitors(&app).await, 1);

    // A browser that sends Global Privacy Control is told it is already not counted.
    let html = visit(&app, "/statistics/object", &browser(2), &[("sec-gpc", "1")])
        .await
        .text()
        .await
        .unwrap();
    assert!(html.contains("Global Privacy Control"), "{html}");
    // A bad answer is refused and sets nothing.
    let res = app
        .post_form(
            "/statistics/object",
            &[("csrf", &token), ("statistics", "maybe")],
            &[],
        )
        .await;
    assert!(res.status().is_client_error());
    assert!(res.headers().get("set-cookie").is_none());
}

#[tokio::test]
async fn a_share_link_followed_is_counted_unless_the_visitor_objects() {
    let app = common::spawn_with(|config| {
        let content = config.content_dir.clone().unwrap();
        std::fs::write(content.join("news.md"), "---\nshare: yes\n---\n# News\n").unwrap();
    })
    .await;
    let share = |agent: String, extra: Option<(&'static str, &'static str)>| {
        let mut req = app
            .client
            .get(format!("{}/share/bluesky?page=/news", app.url))
            .header("user-agent", agent);
        if let Some((k, v)) = extra {
            req = req.header(k, v);
        }
        req.send()
    };
    let res = share(browser(1), Some(("sec-gpc", "1"))).await.unwrap();
    assert_eq!(res.status(), 303);
    assert_eq!(
        visitors(&app).await,
        0,
        "an objecting visitor's share is not counted"
    );
    let res = share(browser(2), None).await.unwrap();
    assert_eq!(res.status(), 303);
    assert_eq!(visitors(&app).await, 1);
}

#[tokio::test]
async fn no_address_is_stored_and_no_day_hash_outlives_its_day() {
    let app = spawn_app().await;
    for n in 0..5 {
        visit(
            &app,
            "/",
            &browser(n),
            &[("x-forwarded-for", "203.0.113.77")],
        )
        .await;
        visit(
            &app,
            "/about",
            &browser(n),
            &[("x-forwarded-for", "203.0.113.77")],
        )
        .await;
    }
    assert_eq!(visitors(&app).await, 5);
    app.state.fold_statistics().await.unwrap();
    let TestStore::Sqlite(store) = &app.store else {
        return; // the byte scan below reads the SQLite file
    };
    // Every byte of the database and its log: no address in text or in binary.
    let mut bytes = Vec::new();
    for entry in std::fs::read_dir(app.dir.path()).unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() {
            bytes.extend(std::fs::read(&path).unwrap());
        }
    }
    assert!(bytes.len() > 10_000, "the database was read");
    for needle in [
        &b"127.0.0.1"[..],
        &[127, 0, 0, 1],
        b"203.0.113.77",
        &[203, 0, 113, 77],
    ] {
        assert!(
            !bytes.windows(needle.len()).any(|w| w == needle),
            "found {needle:?} in the database"
        );
    }
    let counts = |rows: Vec<(String, i64)>, table: &str| {
        rows.iter()
            .find(|(t, _)| t == table)
            .map(|(_, n)| *n)
            .unwrap()
    };
    let rows = store.row_counts().await.unwrap();
    assert_eq!(counts(rows.clone(), "stats_salts"), 1);
    assert!(counts(rows.clone(), "stats_seen") > 0);
    assert_eq!(counts(rows.clone(), "stats_visits"), 5);
    assert!(counts(rows.clone(), "stats_totals") > 0);
    // The next UK day: the visits end, and the day's salt, marks and visits are deleted.
    app.clock.advance(Duration::days(1));
    app.state.fold_statistics().await.unwrap();
    let rows = store.row_counts().await.unwrap();
    for table in ["stats_salts", "stats_seen", "stats_visits", "stats_hits"] {
        assert_eq!(
            counts(rows.clone(), table),
            0,
            "{table} after the day ended"
        );
    }
    assert!(counts(rows, "stats_totals") > 0, "the totals stay");
}

const SITE: &str = "https://cms.testshire.example";

async fn spawn_with_site() -> TestApp {
    common::spawn_with(|config| config.stats.sites = vec![SITE.to_owned()]).await
}

async fn beacon(app: &TestApp, origin: Option<&str>, body: Vec<u8>) -> reqwest::Response {
    let mut req = app
        .client
        .post(format!("{}/statistics/hit", app.url))
        .header("user-agent", browser(1))
        .header("content-type", "text/plain;charset=UTF-8")
        .body(body);
    if let Some(o) = origin {
        req = req.header("origin", o);
    }
    req.send().await.unwrap()
}

#[tokio::test]
async fn the_script_is_small_and_keeps_nothing_in_the_browser() {
    let app = spawn_with_site().await;
    let res = app.get("/statistics/s.js").await;
    assert_eq!(res.status(), 200);
    assert!(
        res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/javascript")
    );
    assert!(res.headers().get("set-cookie").is_none());
    let script = res.text().await.unwrap();
    assert!(script.len() < 1024, "{} bytes", script.len());
    assert!(script.contains("sendBeacon"));
    for kept in ["cookie", "localStorage", "sessionStorage", "indexedDB"] {
        assert!(!script.contains(kept), "the script names {kept}");
    }
}

#[tokio::test]
async fn beacons_are_taken_only_from_configured_sites() {
    let app = spawn_with_site().await;
    let body = br#"{"p":"/news?utm_source=newsletter","r":"https://search.example/q"}"#.to_vec();
    for origin in [
        None,
        Some("https://evil.example"),
        Some("http://cms.testshire.example"),
    ] {
        let res = beacon(&app, origin, body.clone()).await;
        assert_eq!(res.status(), 403, "{origin:?}");
        assert!(res.headers().get("access-control-allow-origin").is_none());
    }
    assert_eq!(
        visitors(&app).await,
        0,
        "nothing stored from a refused origin"
    );
    let res = beacon(&app, Some(SITE), body).await;
    assert_eq!(res.status(), 204);
    assert_eq!(res.headers()["access-control-allow-origin"], SITE);
    assert_eq!(visitors(&app).await, 1);
    let event = br#"{"p":"/news","e":"File download: report.pdf"}"#.to_vec();
    assert_eq!(beacon(&app, Some(SITE), event).await.status(), 204);
    app.state.fold_statistics().await.unwrap();
    assert_eq!(visitors(&app).await, 1, "the same visitor");
}

#[tokio::test]
async fn bad_beacons_are_refused_and_nothing_is_stored() {
    let app = spawn_with_site().await;
    let mut oversize = br#"{"p":"/"#.to_vec();
    oversize.extend(std::iter::repeat_n(b'a', 4000));
    oversize.extend(br#""}"#);
    let cases: Vec<(Vec<u8>, u16)> = vec![
        (oversize, 413),
        (
            vec![0x7b, 0x22, 0x70, 0x22, 0x3a, 0x22, 0xff, 0xfe, 0x22, 0x7d],
            400,
        ),
        (br#"{"p":5}"#.to_vec(), 400),
        (br#"{"p":"/a","e":["x"]}"#.to_vec(), 400),
        (br#"{"p":"/a","extra":"x"}"#.to_vec(), 400),
        (br#"not json"#.to_vec(), 400),
        (br#"{"r":"/a"}"#.to_vec(), 400),
        (br#"{"p":"https://elsewhere.example/"}"#.to_vec(), 422),
        (br#"{"p":"//elsewhere.example/"}"#.to_vec(), 422),
        (br#"{"p":"/a","e":"   "}"#.to_vec(), 422),
    ];
    for (body, status) in cases {
        let shown = String::from_utf8_lossy(&body[..body.len().min(40)]).into_owned();
        let res = beacon(&app, Some(SITE), body).await;
        assert_eq!(res.status().as_u16(), status, "{shown}");
        let text = res.text().await.unwrap();
        assert!(text.contains("\"errors\""), "{shown}: {text}");
    }
    assert_eq!(visitors(&app).await, 0);
}

#[tokio::test]
async fn the_image_counts_a_page_without_javascript() {
    let app = spawn_with_site().await;
    let get = |referer: &'static str| {
        app.client
            .get(format!("{}/statistics/hit.gif?p=/about-us", app.url))
            .header("user-agent", browser(3))
            .header("referer", referer)
            .send()
    };
    let res = get("https://elsewhere.example/page").await.unwrap();
    assert_eq!(res.status(), 403);
    assert_eq!(visitors(&app).await, 0);
    let res = get("https://cms.testshire.example/about-us").await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "image/gif");
    assert_eq!(res.bytes().await.unwrap().len(), 43);
    assert_eq!(visitors(&app).await, 1);
}

/// The countries panel of today's dashboard as a staff member exports it: (country, visitors).
async fn countries(app: &TestApp) -> Vec<(String, String)> {
    app.flush_queues().await;
    app.state.fold_statistics().await.unwrap();
    let staff = app
        .staff(
            "analyst@testshire.example",
            candour_core::account::Role::Editor,
        )
        .await;
    let res = app
        .get_with_cookie("/admin/statistics.csv?panel=country&range=today", &staff)
        .await;
    assert_eq!(res.status(), 200);
    let csv = res.text().await.unwrap();
    csv.lines()
        .skip(1)
        .map(|l| {
            let mut cells = l.split(',');
            (
                cells.next().unwrap().to_owned(),
                cells.next().unwrap().to_owned(),
            )
        })
        .collect()
}

/// A visit from 127.0.0.1 (the test's own address), one from 203.0.113.9 and one from
/// 198.51.100.7 (the tests trust 127.0.0.1 as a proxy, so `X-Forwarded-For` names the
/// client).
async fn three_visits(app: &TestApp) {
    for (n, forwarded) in [
        (1, None),
        (2, Some("203.0.113.9")),
        (3, Some("198.51.100.7")),
    ] {
        let extra: Vec<(&str, &str)> = forwarded
            .map(|f| ("x-forwarded-for", f))
            .into_iter()
            .collect();
        let res = visit(app, "/", &browser(n), &extra).await;
        assert_eq!(res.status(), 200);
    }
    assert_eq!(visitors(app).await, 3);
}

#[tokio::test]
async fn a_hit_gets_its_country_from_the_configured_database() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("countries.mmdb");
    std::fs::write(
        &path,
        common::mmdb::country_database(&[
            (std::net::Ipv4Addr::new(127, 0, 0, 0), 8, "GB"),
            (std::net::Ipv4Addr::new(203, 0, 113, 0), 24, "FR"),
        ]),
    )
    .unwrap();
    let app = common::spawn_with(|config| {
        config.stats.geoip_database = Some(path.clone());
        config.stats.suppression_threshold = 0;
    })
    .await;
    three_visits(&app).await;
    let mut rows = countries(&app).await;
    rows.sort();
    assert_eq!(
        rows,
        vec![
            ("FR".to_owned(), "1".to_owned()),
            ("GB".to_owned(), "1".to_owned())
        ],
        "198.51.100.7 is in no network of the database, so it has no country"
    );
}

#[tokio::test]
async fn without_a_database_no_country_is_recorded() {
    let app = common::spawn_with(|config| config.stats.suppression_threshold = 0).await;
    three_visits(&app).await;
    assert_eq!(countries(&app).await, vec![]);
}

#[tokio::test]
async fn the_objection_cookie_reaches_beacons_and_the_image_from_the_organisations_sites() {
    let app = spawn_with_site().await;
    // The script's beacon is sent with credentials, so the browser attaches this host's
    // cookies when the organisation's page is on the same site; the answer must name the
    // origin exactly and allow credentials.
    let send = |cookie: Option<&'static str>| {
        let mut req = app
            .client
            .post(format!("{}/statistics/hit", app.url))
            .header("user-agent", browser(1))
            .header("content-type", "text/plain;charset=UTF-8")
            .header("origin", SITE)
            .body(br#"{"p":"/news"}"#.to_vec());
        if let Some(c) = cookie {
            req = req.header("cookie", c);
        }
        req.send()
    };
    let res = send(Some("other=1; candour_no_stats=1")).await.unwrap();
    assert_eq!(res.status(), 204);
    assert_eq!(res.headers()["access-control-allow-origin"], SITE);
    assert_eq!(res.headers()["access-control-allow-credentials"], "true");
    assert!(res.headers()["vary"].to_str().unwrap().contains("Origin"));
    let res = app
        .client
        .get(format!("{}/statistics/hit.gif?p=/about-us", app.url))
        .header("user-agent", browser(2))
        .header("referer", "https://cms.testshire.example/about-us")
        .header("cookie", "candour_no_stats=1")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(
        visitors(&app).await,
        0,
        "an objecting browser is not counted"
    );
    let res = send(Some("other=1")).await.unwrap();
    assert_eq!(res.status(), 204);
    assert_eq!(
        visitors(&app).await,
        1,
        "without the cookie the beacon counts"
    );
    // The objection page tells a visitor which of the other sites the choice reaches.
    let html = visit(&app, "/statistics/object", &browser(3), &[])
        .await
        .text()
        .await
        .unwrap();
    assert!(html.contains("Some of our other websites count their pages here too"));
}

#[tokio::test]
async fn beacons_and_the_image_from_a_browser_that_objects_are_answered_and_not_counted() {
    let app = spawn_with_site().await;
    for (n, objection) in [(1, ("sec-gpc", "1")), (2, ("dnt", "1"))] {
        let res = app
            .client
            .post(format!("{}/statistics/hit", app.url))
            .header("user-agent", browser(n))
            .header("content-type", "text/plain;charset=UTF-8")
            .header("origin", SITE)
            .header(objection.0, objection.1)
            .body(br#"{"p":"/news"}"#.to_vec())
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 204, "{objection:?}");
        let res = app
            .client
            .get(format!("{}/statistics/hit.gif?p=/about-us", app.url))
            .header("user-agent", browser(n + 10))
            .header("referer", "https://cms.testshire.example/about-us")
            .header(objection.0, objection.1)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200, "{objection:?}");
    }
    assert_eq!(
        visitors(&app).await,
        0,
        "an objecting browser is not counted"
    );
    let res = beacon(&app, Some(SITE), br#"{"p":"/news"}"#.to_vec()).await;
    assert_eq!(res.status(), 204);
    assert_eq!(visitors(&app).await, 1, "a browser that does not object is");
}

/// A panel of today's dashboard as staff (signed in as `staff`) export it: (value, visitors).
async fn panel(app: &TestApp, staff: &str, panel: &str) -> Vec<(String, String)> {
    app.flush_queues().await;
    app.state.fold_statistics().await.unwrap();
    let res = app
        .get_with_cookie(
            &format!("/admin/statistics.csv?panel={panel}&range=today"),
            staff,
        )
        .await;
    assert_eq!(res.status(), 200);
    let csv = res.text().await.unwrap();
    csv.lines()
        .skip(1)
        .map(|l| {
            let cells: Vec<&str> = l.split(',').collect();
            (cells[0].to_owned(), cells[1].to_owned())
        })
        .collect()
}

#[tokio::test]
async fn a_page_with_a_long_address_referrer_and_agent_is_counted_from_what_is_kept() {
    let app = common::spawn_with(|config| config.stats.suppression_threshold = 0).await;
    // What counting keeps of a request is cut to a few KiB; the parts a hit uses come first.
    // (An address is at most 2 KiB; the query is kept to 1 KiB.)
    let query = format!("utm_source=newsletter&pad={}", "x".repeat(1800));
    let referrer = format!("https://search.example/q?{}", "y".repeat(4000));
    let agent = format!("{}{}", browser(1), " z".repeat(1000));
    let res = visit(&app, &format!("/about?{query}"), &agent, &[]).await;
    assert_eq!(res.status(), 200);
    // Another browser follows a link with a long address to the same page.
    let res = visit(&app, "/about", &browser(2), &[("referer", &referrer)]).await;
    assert_eq!(res.status(), 200);
    assert_eq!(visitors(&app).await, 2);
    let staff = app
        .staff(
            "panels@testshire.example",
            candour_core::account::Role::Editor,
        )
        .await;
    let mut sources = panel(&app, &staff, "source").await;
    sources.sort();
    assert_eq!(
        sources,
        vec![
            ("newsletter".to_owned(), "1".to_owned()),
            ("search.example".to_owned(), "1".to_owned())
        ],
        "a campaign's source is its tag; a link's is the referrer's host"
    );
    assert_eq!(
        panel(&app, &staff, "utm_source").await,
        vec![("newsletter".to_owned(), "1".to_owned())]
    );
    assert_eq!(
        panel(&app, &staff, "page").await,
        vec![("/about".to_owned(), "2".to_owned())]
    );
}

/// The folder runs on a thread of its own until told to stop; then it writes the hits still
/// in memory and folds them before it says it has stopped.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_folder_folds_what_is_in_memory_before_it_stops() {
    let app = spawn_app().await;
    let (stop, stopping) = tokio::sync::watch::channel(false);
    let stopped = app.state.spawn_statistics_folder(stopping);
    for n in 0..3 {
        assert_eq!(visit(&app, "/", &browser(n), &[]).await.status(), 200);
    }
    // Not flushed: the hits may still be with the counting worker or the write queue.
    stop.send(true).unwrap();
    tokio::time::timeout(std::time::Duration::from_secs(20), stopped)
        .await
        .expect("the folder stops in time")
        .expect("the folder says it has stopped");
    app.flush_queues().await;
    assert_eq!(
        app.state.fold_statistics().await.unwrap(),
        0,
        "nothing was left to fold"
    );
    assert_eq!(visitors(&app).await, 3, "each visitor is still seen once");
}
