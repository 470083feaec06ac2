//! The statistics dashboard, its CSV exports, the public statistics page and the import of
//! Google Analytics history, over HTTP against the real app. Hits go in through the real
//! ingest methods and are folded into totals as the server folds them.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use candour_core::account::Role;
use candour_core::stats::{Device, Hit, HitKind, VisitorHash};
use common::{TestApp, spawn_app, spawn_with};
use time::{Duration, OffsetDateTime};

/// A page view by visitor `v`.
fn view(v: u8, at: OffsetDateTime, path: &str, source: Option<&str>) -> Hit {
    Hit {
        at,
        kind: HitKind::PageView,
        path: path.to_owned(),
        visitor: VisitorHash([v; 16]),
        referrer: source.map(str::to_owned),
        utm_source: None,
        utm_medium: None,
        utm_campaign: None,
        browser: Some("Firefox".to_owned()),
        os: Some("Linux".to_owned()),
        device: Some(Device::Desktop),
        country: None,
    }
}

impl TestApp {
    async fn fold(&self, hits: Vec<Hit>) {
        self.stores.stats_ingest.record_hits(&hits).await.unwrap();
        let later = candour_core::Clock::now(&*self.clock) + Duration::hours(1);
        while self
            .stores
            .stats_ingest
            .fold_hits(later, 10_000)
            .await
            .unwrap()
            .hits
            > 0
        {}
    }

    /// Yesterday (UK): 12 visitors read /news from search.example, 3 read /contact directly;
    /// one read the page whose campaign tag is a formula.
    async fn yesterday(&self) {
        let at = candour_core::Clock::now(&*self.clock) - Duration::days(1);
        let mut hits: Vec<Hit> = (1..=12)
            .map(|v| {
                view(
                    v,
                    at + Duration::minutes(i64::from(v)),
                    "/news",
                    Some("search.example"),
                )
            })
            .collect();
        hits.extend((20..23).map(|v| view(v, at, "/contact", None)));
        let mut tagged = view(30, at, "/news", None);
        tagged.utm_campaign = Some("=HYPERLINK(\"http://evil.example\")".to_owned());
        tagged.utm_source = Some("newsletter".to_owned());
        hits.push(tagged);
        self.fold(hits).await;
    }

    async fn text(&self, path: &str, cookie: &str) -> (u16, String) {
        let res = self.get_with_cookie(path, cookie).await;
        (res.status().as_u16(), res.text().await.unwrap())
    }
}

#[tokio::test]
async fn the_dashboard_is_for_staff_and_importing_for_administrators() {
    let app = spawn_app().await;
    let res = app.get("/admin/statistics").await;
    assert!(res.status().is_redirection(), "anonymous: {}", res.status());
    app.register_verified("member@testshire.example", common::PASSWORD)
        .await;
    let member = app
        .sign_in("member@testshire.example", common::PASSWORD)
        .await;
    assert_eq!(app.text("/admin/statistics", &member).await.0, 403);
    for (email, role) in [
        ("editor@testshire.example", Role::Editor),
        ("dpo@testshire.example", Role::PrivacyOfficer),
    ] {
        let cookie = app.staff(email, role).await;
        let (status, html) = app.text("/admin/statistics", &cookie).await;
        assert_eq!(status, 200, "{email}");
        assert!(html.contains("Site statistics"));
        assert!(!html.contains("/admin/statistics/import"), "{email}");
        assert_eq!(app.text("/admin/statistics/import", &cookie).await.0, 403);
        let (_, home) = app.text("/admin", &cookie).await;
        assert!(home.contains("href=\"/admin/statistics\""), "{email}");
    }
    let admin = app.staff("admin@testshire.example", Role::Admin).await;
    let (_, html) = app.text("/admin/statistics", &admin).await;
    assert!(html.contains("/admin/statistics/import"));
    assert_eq!(app.text("/admin/statistics/import", &admin).await.0, 200);
    let res = app.get_with_cookie("/admin/statistics/live", &admin).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.text().await.unwrap(), r#"{"visitors":0}"#);
}

#[tokio::test]
async fn ranges_compare_with_the_period_before_and_bad_dates_are_named() {
    let app = spawn_app().await;
    let editor = app.staff("editor@testshire.example", Role::Editor).await;
    app.yesterday().await;
    let (status, html) = app.text("/admin/statistics?range=7d", &editor).await;
    assert_eq!(status, 200);
    assert!(html.contains("26 May to 1 June 2026"), "the last 7 UK days");
    // 16 visitors yesterday, none the week before.
    assert!(html.contains(">16</span>"), "{html}");
    assert!(html.contains("none in the period before"));
    assert!(html.contains("role=\"img\""));
    assert!(html.contains("<title id=\"series-title\">"));
    // Today has nothing yet, by the hour.
    let (_, html) = app.text("/admin/statistics?range=today", &editor).await;
    assert!(html.contains("Figures by hour"));
    assert!(html.contains("down 100% on the period before") || html.contains(">0</span>"));
    // A custom range.
    let (status, html) = app
        .text(
            "/admin/statistics?range=custom&from_day=31&from_month=5&from_year=2026&to_day=31&to_month=5&to_year=2026",
            &editor,
        )
        .await;
    assert_eq!(status, 200);
    assert!(html.contains("<h2 id=\"report-heading\">31 May 2026</h2>"));
    assert!(html.contains("/news"));
    // Wrong dates: each named, nothing else shown.
    let (status, html) = app
        .text(
            "/admin/statistics?range=custom&from_day=31&from_month=2&from_year=2026&to_day=1&to_month=7&to_year=2026",
            &editor,
        )
        .await;
    assert_eq!(status, 422);
    assert!(html.contains("The start date must be a real date"));
    assert!(html.contains("href=\"#from_day\""));
    assert!(!html.contains("report-heading"));
    let (status, html) = app
        .text(
            "/admin/statistics?range=custom&from_day=1&from_month=5&from_year=2026&to_day=1&to_month=7&to_year=2026",
            &editor,
        )
        .await;
    assert_eq!(status, 422);
    assert!(html.contains("The end date must be today or in the past"));
    let (status, html) = app.text("/admin/statistics?range=fortnight", &editor).await;
    assert_eq!(status, 422);
    assert!(html.contains("Choose today, the last 7 days"));
}

#[tokio::test]
async fn a_row_filters_every_panel_until_the_filter_is_removed() {
    let app = spawn_app().await;
    let editor = app.staff("editor@testshire.example", Role::Editor).await;
    app.yesterday().await;
    let (_, html) = app.text("/admin/statistics?range=7d", &editor).await;
    let link = "/admin/statistics?range=7d&#38;filter=source&#38;value=search.example";
    assert!(html.contains(link), "{html}");
    let (status, html) = app.text(&link.replace("&#38;", "&"), &editor).await;
    assert_eq!(status, 200);
    assert!(html.contains("Showing only visits with the source"));
    assert!(html.contains("href=\"/admin/statistics?range=7d\">Remove this filter"));
    // Pages among those visits: /news only.
    let pages = section(&html, "page");
    assert!(
        pages.contains("/news") && !pages.contains("/contact"),
        "{pages}"
    );
    // A filter that is not a panel's row.
    let (status, html) = app
        .text(
            "/admin/statistics?range=7d&filter=postcode&value=x",
            &editor,
        )
        .await;
    assert_eq!(status, 422);
    assert!(html.contains("The filter must be a row of one of the panels"));
}

/// The HTML of the panel with id `panel-{id}`.
fn section<'a>(html: &'a str, id: &str) -> &'a str {
    let start = html.find(&format!("id=\"panel-{id}\"")).unwrap();
    let end = html[start..].find("</section>").unwrap();
    &html[start..start + end]
}

#[tokio::test]
async fn each_panel_exports_as_csv_with_formulas_neutralised_and_small_counts_hidden() {
    let app = spawn_with(|c| c.stats.suppression_threshold = 5).await;
    let editor = app.staff("editor@testshire.example", Role::Editor).await;
    app.yesterday().await;
    let res = app
        .get_with_cookie("/admin/statistics.csv?panel=page&range=7d", &editor)
        .await;
    assert_eq!(res.status(), 200);
    assert!(
        res.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .contains("statistics-page-2026-05-26-to-2026-06-01.csv")
    );
    let csv = res.text().await.unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(
        lines[0],
        "page,visitors,visits,pageviews,bounces,visit_seconds,events"
    );
    assert!(lines[1].starts_with("/news,13,"), "{csv}");
    // Three visitors read /contact: under the threshold of 5.
    assert!(lines[2].starts_with("/contact,fewer than 5,"), "{csv}");
    let campaigns = app
        .get_with_cookie("/admin/statistics.csv?panel=utm_campaign&range=7d", &editor)
        .await
        .text()
        .await
        .unwrap();
    assert!(
        campaigns.contains("\"'=HYPERLINK(\"\"http://evil.example\"\")\""),
        "{campaigns}"
    );
    // The page shows small counts the same way.
    let (_, html) = app.text("/admin/statistics?range=7d", &editor).await;
    assert!(section(&html, "page").contains("fewer than 5"));
    let res = app
        .get_with_cookie("/admin/statistics.csv?panel=postcode&range=7d", &editor)
        .await;
    assert_eq!(res.status(), 400);
}

#[tokio::test]
async fn the_public_page_is_off_by_default_and_hides_small_counts_without_filters() {
    let app = spawn_app().await;
    assert_eq!(app.get("/statistics").await.status(), 404);
    let app = spawn_with(|c| {
        c.stats.public_page = true;
        c.stats.suppression_threshold = 0;
    })
    .await;
    app.yesterday().await;
    let res = app.get("/statistics?range=7d").await;
    assert_eq!(res.status(), 200);
    let html = res.text().await.unwrap();
    assert!(html.contains("Statistics about this website"));
    assert!(html.contains("/news"));
    // Suppression is on even when the configuration says 0.
    assert!(section(&html, "page").contains("fewer than"), "{html}");
    assert!(!html.contains("filter="));
    assert!(!html.contains(".csv"));
    // A filter in the address is ignored.
    let html = app
        .get("/statistics?range=7d&filter=page&value=/contact")
        .await
        .text()
        .await
        .unwrap();
    assert!(!html.contains("Showing only visits"));
    assert!(html.contains("/news"));
}

impl TestApp {
    async fn upload_history(&self, cookie: &str, action: &str, bytes: Vec<u8>) -> (u16, String) {
        let (_, _, token) = self.page("/admin/statistics/import", cookie).await;
        let form = reqwest::multipart::Form::new()
            .text("csrf", token)
            .text("action", action.to_owned())
            .part(
                "file",
                reqwest::multipart::Part::bytes(bytes).file_name("analytics.csv"),
            );
        let res = self
            .client
            .post(format!("{}/admin/statistics/import", self.url))
            .header("origin", &self.url)
            .header("sec-fetch-site", "same-origin")
            .header("cookie", cookie)
            .multipart(form)
            .send()
            .await
            .unwrap();
        (res.status().as_u16(), res.text().await.unwrap())
    }
}

const EXPORT: &str = "\
# ----------------------------------------
# All Web Site Data
# Pages
# 20250101-20250102
# ----------------------------------------

Page,Date,Pageviews,Unique Pageviews
/,20250101,\"1,200\",900
/news,20250101,300,250
/,20250102,800,700

Day Index,Pageviews
01/01/2025,\"1,500\"
";

#[tokio::test]
async fn google_analytics_history_is_checked_then_imported_once_and_audited() {
    let app = spawn_app().await;
    let admin = app.staff("admin@testshire.example", Role::Admin).await;
    let (status, html) = app
        .upload_history(&admin, "check", EXPORT.as_bytes().to_vec())
        .await;
    assert_eq!(status, 200, "{html}");
    assert!(html.contains("What the file holds"));
    assert!(html.contains("2,300"), "the page views: {html}");
    let january = "/admin/statistics?range=custom&from_day=1&from_month=1&from_year=2025&to_day=2&to_month=1&to_year=2025";
    let (_, before) = app.text(january, &admin).await;
    assert!(!before.contains("imported from Google Analytics"));

    for _ in 0..2 {
        let (status, html) = app
            .upload_history(&admin, "import", EXPORT.as_bytes().to_vec())
            .await;
        assert_eq!(status, 200, "{html}");
        assert!(html.contains("Imported 3 rows"), "{html}");
    }
    let (_, after) = app.text(january, &admin).await;
    assert!(after.contains("include 2,300 page views imported from Google Analytics"));
    assert!(
        section(&after, "page").contains("2,000"),
        "imported twice, counted once"
    );
    let (_, log) = app.text("/admin/audit", &admin).await;
    assert!(log.contains("Imported page views from Google Analytics"));

    // A bad file: every problem by line and column, nothing imported.
    let bad = "Page,Date,Pageviews\n/,20250103,12\n/,2025-13-01,5\n/x,20250103,lots\n";
    let (status, html) = app
        .upload_history(&admin, "import", bad.as_bytes().to_vec())
        .await;
    assert_eq!(status, 422);
    assert!(html.contains("line 3"), "{html}");
    assert!(html.contains("column Pageviews must be a whole number"));
    let third = "/admin/statistics?range=custom&from_day=3&from_month=1&from_year=2025&to_day=3&to_month=1&to_year=2025";
    let (_, html) = app.text(third, &admin).await;
    assert!(!html.contains("imported from Google Analytics"));
    let (status, html) = app
        .upload_history(
            &admin,
            "import",
            b"Name,Email\nJo,jo@example.org\n".to_vec(),
        )
        .await;
    assert_eq!(status, 422);
    assert!(html.contains("has no page column"));
    let (status, _) = app.upload_history(&admin, "import", Vec::new()).await;
    assert_eq!(status, 422);
}
