//! The cookie banner, the settings page, receipts and Global Privacy Control, over HTTP and
//! without JavaScript (as a browser with scripts off would use them).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use candour_core::consent::ReceiptId;
use common::{cookie_pair, csrf_in, set_cookie_header, spawn_app, spawn_on, spawn_with};
use time::macros::datetime;

const BANNER: &str = "id=\"cookie-banner\"";

#[tokio::test]
async fn a_fresh_visit_shows_the_banner_and_sets_nothing() {
    let app = spawn_app().await;
    for path in ["/", "/about", "/privacy", "/cookies"] {
        let res = app.get(path).await;
        assert!(res.headers().get("set-cookie").is_none(), "{path}");
        let html = res.text().await.unwrap();
        assert!(html.contains(BANNER), "{path}");
        assert!(
            html.contains("data-consent=\"\""),
            "nothing optional runs: {path}"
        );
        assert!(html.contains("value=\"accept\">Accept optional cookies</button>"));
        assert!(html.contains("value=\"reject\">Reject optional cookies</button>"));
        assert!(
            html.contains("<script type=\"text/plain\" data-consent-category=\"statistics\" src=\"/static/stats.js\">"),
            "gated scripts stay inert"
        );
    }
}

#[tokio::test]
async fn account_pages_never_carry_gated_scripts() {
    let app = spawn_app().await;
    let token = app.csrf().await;
    let res = app
        .post_form(
            "/cookies/consent",
            &[("csrf", &token), ("choice", "accept")],
            &[],
        )
        .await;
    let cookie = cookie_pair(&res, "candour_consent").unwrap();
    let html = app
        .get_with_cookie("/about", &cookie)
        .await
        .text()
        .await
        .unwrap();
    assert!(html.contains("data-consent-category=\"statistics\""));
    for path in [
        "/account/sign-in",
        "/account/reset-password?token=x",
        "/account/register",
    ] {
        let html = app
            .get_with_cookie(path, &cookie)
            .await
            .text()
            .await
            .unwrap();
        assert!(!html.contains("data-consent-category"), "{path}");
    }
}

#[tokio::test]
async fn accepting_without_javascript_records_a_receipt_and_returns_to_the_page() {
    let app = spawn_app().await;
    let html = app.get("/about?x=1").await.text().await.unwrap();
    assert!(html.contains("name=\"return_to\" value=\"/about?x=1\""));
    let token = csrf_in(&html);
    let res = app
        .post_form(
            "/cookies/consent",
            &[
                ("csrf", &token),
                ("choice", "accept"),
                ("return_to", "/about?x=1"),
            ],
            &[],
        )
        .await;
    assert_eq!(res.status(), 303);
    assert_eq!(res.headers()["location"], "/about?x=1&cookies=saved");
    let header = set_cookie_header(&res, "candour_consent").unwrap();
    assert!(header.contains("Max-Age=31536000"), "{header}");
    assert!(
        header.contains("SameSite=Lax") && header.contains("Path=/"),
        "{header}"
    );
    assert!(!header.contains("Secure"), "plain http in tests");
    let cookie = cookie_pair(&res, "candour_consent").unwrap();

    let html = app
        .get_with_cookie("/about?x=1&cookies=saved", &cookie)
        .await
        .text()
        .await
        .unwrap();
    assert!(html.contains("You’ve accepted optional cookies."));
    assert!(
        html.contains("href=\"/about?x=1\" data-hide-banner"),
        "Hide returns to the page"
    );
    assert!(html.contains("data-consent=\"preferences statistics marketing\""));

    let html = app
        .get_with_cookie("/about", &cookie)
        .await
        .text()
        .await
        .unwrap();
    assert!(!html.contains(BANNER), "no banner once chosen");

    let t = app
        .stores
        .consent
        .tally_since(datetime!(2026-01-01 0:00 UTC))
        .await
        .unwrap();
    assert_eq!((t.receipts, t.statistics, t.marketing), (1, 1, 1));
}

#[tokio::test]
async fn rejecting_keeps_everything_optional_off() {
    let app = spawn_app().await;
    let token = app.csrf().await;
    let res = app
        .post_form(
            "/cookies/consent",
            &[("csrf", &token), ("choice", "reject"), ("return_to", "/")],
            &[],
        )
        .await;
    assert_eq!(res.status(), 303);
    assert_eq!(res.headers()["location"], "/?cookies=saved");
    let cookie = cookie_pair(&res, "candour_consent").unwrap();
    let html = app
        .get_with_cookie("/?cookies=saved", &cookie)
        .await
        .text()
        .await
        .unwrap();
    assert!(html.contains("You’ve rejected optional cookies."));
    assert!(html.contains("data-consent=\"\""));
    let t = app
        .stores
        .consent
        .tally_since(datetime!(2026-01-01 0:00 UTC))
        .await
        .unwrap();
    assert_eq!(
        (t.receipts, t.preferences, t.statistics, t.marketing),
        (1, 0, 0, 0)
    );
}

#[tokio::test]
async fn with_javascript_the_answer_is_json() {
    let app = spawn_app().await;
    let token = app.csrf().await;
    let res = app
        .post_form(
            "/cookies/consent",
            &[("csrf", &token), ("choice", "accept"), ("return_to", "/")],
            &[("accept", "application/json")],
        )
        .await;
    assert_eq!(res.status(), 200);
    assert!(cookie_pair(&res, "candour_consent").is_some());
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(
        body["granted"],
        serde_json::json!(["preferences", "statistics", "marketing"])
    );
    let id = ReceiptId::parse(body["receipt"].as_str().unwrap()).unwrap();
    let receipt = app.stores.consent.find_receipt(&id).await.unwrap().unwrap();
    assert_eq!(receipt.method, candour_core::consent::Method::Banner);
    assert!(!receipt.gpc);
}

#[tokio::test]
async fn the_settings_page_changes_a_choice_per_category() {
    let app = spawn_app().await;
    let html = app.get("/cookies").await.text().await.unwrap();
    // Only categories in use are asked about; the tables list every declared cookie.
    assert!(html.contains("name=\"statistics\" value=\"yes\""));
    assert!(!html.contains("name=\"marketing\""));
    assert!(html.contains("<code>candour_consent</code>"));
    assert!(html.contains("<code>site_stats</code>"));
    assert!(html.contains("id=\"statistics-no\" name=\"statistics\" value=\"no\" checked"));

    let token = csrf_in(&html);
    let res = app
        .post_form("/cookies", &[("csrf", &token), ("statistics", "yes")], &[])
        .await;
    assert_eq!(res.status(), 303);
    assert_eq!(res.headers()["location"], "/cookies?cookies=saved");
    let cookie = cookie_pair(&res, "candour_consent").unwrap();
    let html = app
        .get_with_cookie("/cookies?cookies=saved", &cookie)
        .await
        .text()
        .await
        .unwrap();
    assert!(html.contains("Your cookie settings were saved."));
    assert!(html.contains("id=\"statistics-yes\" name=\"statistics\" value=\"yes\" checked"));
    assert!(html.contains("data-consent=\"statistics\""));
    let start = html.find("id=\"receipt-id\">").unwrap() + "id=\"receipt-id\">".len();
    let id = ReceiptId::parse(&html[start..start + 32]).unwrap();
    let receipt = app.stores.consent.find_receipt(&id).await.unwrap().unwrap();
    assert!(receipt.choice.statistics && !receipt.choice.marketing);
    assert_eq!(receipt.method, candour_core::consent::Method::Settings);

    // Changing back is just as easy.
    let res = app
        .post_form(
            "/cookies",
            &[("csrf", &token), ("statistics", "no")],
            &[("cookie", &cookie)],
        )
        .await;
    let cookie = cookie_pair(&res, "candour_consent").unwrap();
    let html = app
        .get_with_cookie("/", &cookie)
        .await
        .text()
        .await
        .unwrap();
    assert!(html.contains("data-consent=\"\""));
}

#[tokio::test]
async fn a_missing_answer_is_shown_beside_the_question_and_nothing_is_saved() {
    let app = spawn_app().await;
    let token = app.csrf().await;
    let res = app.post_form("/cookies", &[("csrf", &token)], &[]).await;
    assert_eq!(res.status(), 422);
    assert!(res.headers().get("set-cookie").is_none());
    let html = res.text().await.unwrap();
    assert!(html.contains("<title>Error: Cookies"));
    assert!(html.contains("There is a problem"));
    assert!(html.contains("href=\"#statistics-yes\">Select whether you accept statistics cookies"));
    let t = app
        .stores
        .consent
        .tally_since(datetime!(2026-01-01 0:00 UTC))
        .await
        .unwrap();
    assert_eq!(t.receipts, 0);
}

#[tokio::test]
async fn unknown_categories_and_choices_are_refused() {
    let app = spawn_app().await;
    let token = app.csrf().await;
    let res = app
        .post_form(
            "/cookies",
            &[("csrf", &token), ("statistics", "yes"), ("tracking", "yes")],
            &[],
        )
        .await;
    assert_eq!(res.status(), 422);
    assert!(
        res.text().await.unwrap().contains("tracking"),
        "names the unknown field"
    );
    let res = app
        .post_form(
            "/cookies",
            &[("csrf", &token), ("statistics", "maybe")],
            &[],
        )
        .await;
    assert_eq!(res.status(), 422);
    let res = app
        .post_form(
            "/cookies/consent",
            &[("csrf", &token), ("choice", "all")],
            &[],
        )
        .await;
    assert_eq!(res.status(), 422);
    let t = app
        .stores
        .consent
        .tally_since(datetime!(2026-01-01 0:00 UTC))
        .await
        .unwrap();
    assert_eq!(t.receipts, 0);
}

#[tokio::test]
async fn forged_missing_and_cross_site_requests_change_nothing() {
    let app = spawn_app().await;
    let token = app.csrf().await;
    let last = if token.ends_with('0') { '1' } else { '0' };
    let forged = format!("{}{last}", &token[..token.len() - 1]);
    type Pairs<'a> = Vec<(&'a str, &'a str)>;
    let cases: Vec<(Pairs, Pairs, u16)> = vec![
        (vec![("choice", "accept")], vec![], 422),
        (vec![("csrf", &forged), ("choice", "accept")], vec![], 403),
        (
            vec![("csrf", "nonsense"), ("choice", "accept")],
            vec![],
            403,
        ),
        (
            vec![("csrf", &token), ("choice", "accept")],
            vec![("sec-fetch-site", "cross-site")],
            403,
        ),
    ];
    for (form, headers, status) in cases {
        let res = app.post_form("/cookies/consent", &form, &headers).await;
        assert_eq!(res.status(), status, "{form:?} {headers:?}");
        assert!(res.headers().get("set-cookie").is_none());
    }
    // A cross-origin POST from a browser that sends Origin but not Sec-Fetch-Site.
    let res = app
        .client
        .post(format!("{}/cookies/consent", app.url))
        .header("origin", "https://evil.example")
        .form(&[("csrf", token.as_str()), ("choice", "accept")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    assert!(res.text().await.unwrap().contains("another website"));
    let t = app
        .stores
        .consent
        .tally_since(datetime!(2026-01-01 0:00 UTC))
        .await
        .unwrap();
    assert_eq!(t.receipts, 0);
}

#[tokio::test]
async fn return_addresses_off_the_site_go_home() {
    let app = spawn_app().await;
    for target in [
        "https://evil.example/",
        "//evil.example/x",
        "/\\evil.example",
        "javascript:alert(1)",
    ] {
        let token = app.csrf().await;
        let res = app
            .post_form(
                "/cookies/consent",
                &[
                    ("csrf", &token),
                    ("choice", "reject"),
                    ("return_to", target),
                ],
                &[],
            )
            .await;
        assert_eq!(res.status(), 303);
        assert_eq!(res.headers()["location"], "/?cookies=saved", "{target}");
    }
}

#[tokio::test]
async fn a_tampered_or_foreign_cookie_counts_as_no_choice() {
    let app = spawn_app().await;
    let token = app.csrf().await;
    let res = app
        .post_form(
            "/cookies/consent",
            &[("csrf", &token), ("choice", "reject")],
            &[],
        )
        .await;
    let cookie = cookie_pair(&res, "candour_consent").unwrap();
    // Flip the choice bits from "none" to "all" without the key.
    let tampered = cookie.replacen(".0.", ".7.", 1);
    assert_ne!(tampered, cookie);
    for bad in [
        tampered.as_str(),
        "candour_consent=garbage",
        "candour_consent=",
        "candour_consent=c1.zz.zz.9.zz",
    ] {
        let res = app.get_with_cookie("/", bad).await;
        assert_eq!(res.status(), 200, "{bad}");
        let html = res.text().await.unwrap();
        assert!(html.contains(BANNER), "{bad}");
        assert!(html.contains("data-consent=\"\""), "{bad}");
    }
    // Two consent cookies at once: neither is trusted.
    let res = app
        .get_with_cookie("/", &format!("{cookie}; {cookie}"))
        .await
        .text()
        .await
        .unwrap();
    assert!(res.contains(BANNER));
}

#[tokio::test]
async fn global_privacy_control_is_a_refusal_until_the_visitor_chooses() {
    let app = spawn_app().await;
    let res = app
        .client
        .get(format!("{}/", app.url))
        .header("sec-gpc", "1")
        .send()
        .await
        .unwrap();
    let html = res.text().await.unwrap();
    assert!(!html.contains(BANNER), "the browser has already said no");
    assert!(html.contains("data-consent=\"\""));
    let res = app
        .client
        .get(format!("{}/cookies", app.url))
        .header("sec-gpc", "1")
        .send()
        .await
        .unwrap();
    let html = res.text().await.unwrap();
    assert!(html.contains("id=\"gpc-notice\""));
    // The visitor may still choose otherwise; the receipt records the signal.
    let token = csrf_in(&html);
    let res = app
        .post_form(
            "/cookies",
            &[("csrf", &token), ("statistics", "yes")],
            &[("sec-gpc", "1")],
        )
        .await;
    let cookie = cookie_pair(&res, "candour_consent").unwrap();
    let res = app
        .client
        .get(format!("{}/cookies", app.url))
        .header("sec-gpc", "1")
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    let html = res.text().await.unwrap();
    assert!(html.contains("data-consent=\"statistics\""));
    let start = html.find("id=\"receipt-id\">").unwrap() + "id=\"receipt-id\">".len();
    let id = ReceiptId::parse(&html[start..start + 32]).unwrap();
    assert!(
        app.stores
            .consent
            .find_receipt(&id)
            .await
            .unwrap()
            .unwrap()
            .gpc
    );
}

#[tokio::test]
async fn a_change_to_the_cookie_list_asks_again() {
    let app = spawn_app().await;
    let token = app.csrf().await;
    let res = app
        .post_form(
            "/cookies/consent",
            &[("csrf", &token), ("choice", "accept")],
            &[],
        )
        .await;
    let cookie = cookie_pair(&res, "candour_consent").unwrap();
    assert!(
        !app.get_with_cookie("/", &cookie)
            .await
            .text()
            .await
            .unwrap()
            .contains(BANNER)
    );
    // The same database (same keys), a new cookie declared: the old choice no longer holds.
    let changed = spawn_on(app.dir.clone(), app.db_url.clone(), |c| {
        c.cookies.declared[0].purpose = "Counts visits and pages.".into();
    })
    .await;
    let html = changed
        .get_with_cookie("/", &cookie)
        .await
        .text()
        .await
        .unwrap();
    assert!(html.contains(BANNER));
    assert!(html.contains("data-consent=\"\""));
}

#[tokio::test]
async fn implied_mode_keeps_the_old_notice_and_treats_browsing_as_agreement() {
    let app = spawn_with(|c| {
        c.cookies.consent_mode = candour_core::config::ConsentMode::Implied;
    })
    .await;
    let html = app.get("/").await.text().await.unwrap();
    assert!(html.contains("By continuing to browse it, you are agreeing"));
    assert!(html.contains("Accept and close"));
    assert!(html.contains("data-consent=\"preferences statistics marketing\""));
    let html = app.get("/privacy").await.text().await.unwrap();
    assert!(html.contains("treats continuing to browse as agreement"));
}

#[tokio::test]
async fn a_site_with_nothing_optional_shows_no_banner() {
    let app = spawn_with(|c| {
        c.scripts.clear();
        c.cookies.declared.clear();
    })
    .await;
    let html = app.get("/").await.text().await.unwrap();
    assert!(!html.contains(BANNER));
    let html = app.get("/cookies").await.text().await.unwrap();
    assert!(html.contains("nothing to choose"));
}

#[tokio::test]
async fn https_sites_mark_the_cookie_secure() {
    let app = spawn_with(|c| c.public_url = Some("https://police.example".parse().unwrap())).await;
    let token = app.csrf().await;
    let res = app
        .client
        .post(format!("{}/cookies/consent", app.url))
        .header("origin", "https://police.example")
        .form(&[("csrf", token.as_str()), ("choice", "accept")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    assert!(
        set_cookie_header(&res, "candour_consent")
            .unwrap()
            .ends_with("; Secure")
    );
    // The origin check compares with the configured public address.
    let res = app
        .client
        .post(format!("{}/cookies/consent", app.url))
        .header("origin", "https://police.example.evil.test")
        .form(&[("csrf", token.as_str()), ("choice", "accept")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
}
