//! The audit log over HTTP, as a data protection officer uses it: who looked at a person's
//! record and when, by staff member, action and dates, in pages, and exported as CSV.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use candour_core::account::{EmailAddress, Role};
use candour_core::audit::AuditEntry;
use candour_core::people::Source;
use common::{TestApp, assert_field_error, spawn_app};
use time::Duration;

fn email(s: &str) -> EmailAddress {
    EmailAddress::parse(s).unwrap()
}

async fn person(app: &TestApp, address: &str) -> i64 {
    app.stores
        .people
        .ensure_person(&email(address), Source::Staff, app.clock.now_at())
        .await
        .unwrap()
        .id
}

/// The page's text with the entities the templates write turned back into characters.
fn text(html: &str) -> String {
    html.replace("&#39;", "'")
        .replace("&#x27;", "'")
        .replace("&amp;", "&")
        .replace("&#38;", "&")
        .replace("&#34;", "\"")
        .replace("&quot;", "\"")
}

/// The rows of the log's table (not the filter form, which lists every staff member).
fn table(html: &str) -> String {
    let html = text(html);
    match (html.find("<tbody>"), html.find("</tbody>")) {
        (Some(start), Some(end)) => html[start..end].to_owned(),
        _ => String::new(),
    }
}

fn rows(html: &str) -> usize {
    table(html).matches("<tr>").count()
}

/// The `href` of the link whose text is `label`.
fn link(html: &str, label: &str) -> Option<String> {
    let html = text(html);
    let at = html.find(&format!(">{label}<"))?;
    let start = html[..at].rfind("href=\"")? + 6;
    let end = start + html[start..].find('"')?;
    Some(html[start..end].to_owned())
}

/// Open a page of the log, or export from it (a POST, for internal use, as the page's form
/// sends it); `cookie` empty for no one signed in.
async fn open(app: &TestApp, path: &str, cookie: &str) -> reqwest::Response {
    if !path.starts_with("/admin/audit.csv") {
        return if cookie.is_empty() {
            app.get(path).await
        } else {
            app.get_with_cookie(path, cookie).await
        };
    }
    let token = if cookie.is_empty() {
        app.csrf().await
    } else {
        app.page("/admin", cookie).await.2
    };
    let form = [
        ("csrf", token.as_str()),
        ("for", "internal"),
        ("for_purpose", "Reviewing staff access"),
    ];
    if cookie.is_empty() {
        app.post_form(path, &form, &[]).await
    } else {
        app.post_form(path, &form, &[("cookie", cookie)]).await
    }
}

async fn view(app: &TestApp, cookie: &str, person: i64) {
    let res = app
        .get_with_cookie(&format!("/admin/people/{person}"), cookie)
        .await;
    assert_eq!(res.status(), 200);
}

#[tokio::test]
async fn a_privacy_officer_finds_who_looked_at_a_persons_record() {
    let app = spawn_app().await;
    let xena = person(&app, "xena@example.org").await;
    let yusuf = person(&app, "yusuf@example.org").await;
    let alice = app
        .staff("alice@testshire.example", Role::PrivacyOfficer)
        .await;
    let bob = app.staff("bob@testshire.example", Role::Admin).await;
    let dpo = app
        .staff("dpo@testshire.example", Role::PrivacyOfficer)
        .await;
    let bob_id = app.account_id("bob@testshire.example").await;

    // 09:00 UTC on 1 June is 10:00am in the UK (summer time).
    view(&app, &alice, xena).await;
    app.clock.advance(Duration::minutes(5));
    view(&app, &bob, yusuf).await;

    // From the person's record, a link to the log filtered by that person.
    let (status, html, _) = app.page(&format!("/admin/people/{xena}"), &dpo).await;
    assert_eq!(status, 200);
    let who = link(&html, "Who has seen this record").expect("a link to the log");
    assert_eq!(who, format!("/admin/audit?person={xena}"));

    let (status, html, _) = app.page(&who, &dpo).await;
    assert_eq!(status, 200, "{html}");
    let rows_text = table(&html);
    assert!(rows_text.contains("alice@testshire.example"), "{rows_text}");
    assert!(rows_text.contains("dpo@testshire.example"), "{rows_text}");
    assert!(!rows_text.contains("bob@testshire.example"), "{rows_text}");
    assert!(
        rows_text.contains("Viewed a person's record"),
        "{rows_text}"
    );
    assert!(!rows_text.contains("person.viewed"), "words, not the code");
    assert!(rows_text.contains("1 June 2026 at 10:00am"), "{rows_text}");
    assert!(rows_text.contains("1 June 2026 at 10:05am"), "{rows_text}");
    assert!(
        rows_text.contains(&format!(
            "<a href=\"/admin/people/{xena}\">Person {xena}</a>"
        )),
        "{rows_text}"
    );
    assert!(text(&html).contains("2 entries"), "{html}");
    // The newest first: the officer's own look comes before Alice's.
    assert!(
        rows_text.find("dpo@testshire.example").unwrap()
            < rows_text.find("alice@testshire.example").unwrap()
    );
    // The filter is kept in the form.
    assert!(html.contains(&format!(
        "name=\"person\" type=\"text\" spellcheck=\"false\" value=\"{xena}\""
    )));

    // The person can be asked for by their email address too; the page answers under their
    // record number, so the address stays out of addresses, logs and history.
    let res = app
        .get_with_cookie("/admin/audit?person=Xena%40example.org", &dpo)
        .await;
    assert_eq!(res.status(), 303);
    let location = res.headers()["location"].to_str().unwrap().to_owned();
    assert_eq!(location, format!("/admin/audit?person={xena}"));
    let (status, by_email, _) = app.page(&location, &dpo).await;
    assert_eq!(status, 200, "{by_email}");
    assert!(!by_email.contains("Xena%40example.org"));
    assert_eq!(table(&by_email), table(&html));

    // By staff member: Bob looked only at Yusuf.
    let (status, html, _) = app
        .page(&format!("/admin/audit?staff={bob_id}"), &dpo)
        .await;
    assert_eq!(status, 200);
    let rows_text = table(&html);
    assert_eq!(rows(&html), 1, "{rows_text}");
    assert!(rows_text.contains(&format!("Person {yusuf}")));
    assert!(text(&html).contains(&format!(
        "<option value=\"{bob_id}\" selected>bob@testshire.example</option>"
    )));

    // By action, with the person: only views of Xena.
    let (_, html, _) = app
        .page(
            &format!("/admin/audit?action=person.viewed&person={xena}&staff={bob_id}"),
            &dpo,
        )
        .await;
    assert_eq!(rows(&html), 0);
    assert!(text(&html).contains("No entries match"));
    let (_, html, _) = app.page("/admin/audit?action=person.viewed", &dpo).await;
    assert_eq!(rows(&html), 3, "Alice, Bob and the officer");
    assert!(
        text(&html)
            .contains("<option value=\"person.viewed\" selected>Viewed a person's record</option>")
    );
}

#[tokio::test]
async fn dates_are_whole_uk_days_and_pages_follow_each_other() {
    let app = spawn_app().await;
    let xena = person(&app, "xena@example.org").await;
    let alice = app
        .staff("alice@testshire.example", Role::PrivacyOfficer)
        .await;
    app.staff("dpo@testshire.example", Role::PrivacyOfficer)
        .await;

    // 1 June 09:00 UTC, then 23:30 UTC, which is 12:30am on 2 June in the UK, then 3 June.
    // Sessions end while the clock moves on; staff sign in again.
    let again = |who: &'static str| app.sign_in(who, common::PASSWORD);
    view(&app, &alice, xena).await;
    app.clock.advance(Duration::minutes(14 * 60 + 30));
    view(&app, &again("alice@testshire.example").await, xena).await;
    app.clock.advance(Duration::days(1));
    view(&app, &again("alice@testshire.example").await, xena).await;
    let dpo = again("dpo@testshire.example").await;

    let range = |from: &str, to: &str| {
        let f: Vec<&str> = from.split(' ').collect();
        let t: Vec<&str> = to.split(' ').collect();
        format!(
            "/admin/audit?person={xena}&from_day={}&from_month={}&from_year={}&to_day={}&to_month={}&to_year={}",
            f[0], f[1], f[2], t[0], t[1], t[2]
        )
    };
    let (status, html, _) = app.page(&range("2 6 2026", "2 6 2026"), &dpo).await;
    assert_eq!(status, 200, "{html}");
    assert_eq!(rows(&html), 1, "{}", table(&html));
    assert!(table(&html).contains("2 June 2026 at 12:30am"));
    let (_, html, _) = app.page(&range("1 6 2026", "2 6 2026"), &dpo).await;
    assert_eq!(rows(&html), 2);
    let (_, html, _) = app.page(&range("3 6 2026", "31 12 2026"), &dpo).await;
    assert_eq!(rows(&html), 1);
    assert!(table(&html).contains("3 June 2026 at 12:30am"));
    // Only one end of the range.
    let (_, html, _) = app
        .page(
            &format!("/admin/audit?person={xena}&to_day=1&to_month=6&to_year=2026"),
            &dpo,
        )
        .await;
    assert_eq!(rows(&html), 1);
    assert!(table(&html).contains("1 June 2026 at 10:00am"));

    // 57 more entries for Xena: pages of 50, newest first, the filter kept between them.
    let alice_id = app.account_id("alice@testshire.example").await;
    for n in 0..57 {
        app.clock.advance(Duration::minutes(1));
        app.stores
            .audit
            .record(&AuditEntry {
                at: app.clock.now_at(),
                actor: Some(alice_id),
                actor_email: "alice@testshire.example".into(),
                action: "person.changed".into(),
                target: format!("person:{xena}"),
                detail: format!("change {n}"),
            })
            .await
            .unwrap();
    }
    let dpo = again("dpo@testshire.example").await;
    let filter = format!("/admin/audit?person={xena}&action=person.changed");
    let (_, first, _) = app.page(&filter, &dpo).await;
    assert_eq!(rows(&first), 50);
    assert!(text(&first).contains("Showing 1 to 50 of 57"));
    assert!(table(&first).contains("change 56"));
    assert!(!table(&first).contains("change 6<"));
    assert!(
        link(
            &first,
            "Previous<span class=\"visually-hidden\"> page</span>"
        )
        .is_none()
    );
    let next =
        link(&first, "Next<span class=\"visually-hidden\"> page</span>").expect("a next page");
    assert_eq!(
        next,
        format!("/admin/audit?person={xena}&action=person.changed&page=2")
    );
    let (status, second, _) = app.page(&next, &dpo).await;
    assert_eq!(status, 200);
    assert_eq!(rows(&second), 7);
    assert!(text(&second).contains("Showing 51 to 57 of 57"));
    assert!(table(&second).contains("change 0<") && table(&second).contains("change 6<"));
    assert!(link(&second, "Next<span class=\"visually-hidden\"> page</span>").is_none());
    let previous = link(
        &second,
        "Previous<span class=\"visually-hidden\"> page</span>",
    )
    .expect("a previous page");
    assert_eq!(
        previous,
        format!("/admin/audit?person={xena}&action=person.changed")
    );
}

#[tokio::test]
async fn the_export_is_filtered_safe_in_a_spreadsheet_and_itself_audited() {
    let app = spawn_app().await;
    let xena = person(&app, "xena@example.org").await;
    let yusuf = person(&app, "yusuf@example.org").await;
    let alice = app
        .staff("alice@testshire.example", Role::PrivacyOfficer)
        .await;
    let dpo = app
        .staff("dpo@testshire.example", Role::PrivacyOfficer)
        .await;
    view(&app, &alice, xena).await;
    view(&app, &alice, yusuf).await;
    app.clock.advance(Duration::minutes(1));
    // A detail that a spreadsheet would run as a formula.
    app.stores
        .audit
        .record(&AuditEntry {
            at: app.clock.now_at(),
            actor: None,
            actor_email: "command line".into(),
            action: "person.changed".into(),
            target: format!("person:{xena}"),
            detail: "=HYPERLINK(\"http://evil.example\")".into(),
        })
        .await
        .unwrap();

    let (_, html, _) = app.page(&format!("/admin/audit?person={xena}"), &dpo).await;
    let csv_link = format!("/admin/audit.csv?person={xena}");
    assert!(
        html.contains(&format!("<form method=\"post\" action=\"{csv_link}\"")),
        "the export keeps the filter: {html}"
    );
    assert!(html.contains("Who is this export for?"));
    let res = open(&app, &csv_link, &dpo).await;
    assert_eq!(res.status(), 200);
    assert_eq!(
        res.headers()["content-type"].to_str().unwrap(),
        "text/csv; charset=utf-8"
    );
    assert!(
        res.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .starts_with("attachment")
    );
    let body = res.text().await.unwrap();
    let lines: Vec<&str> = body.lines().collect();
    assert_eq!(
        lines[0],
        "time,staff_email,action,action_in_words,target,detail"
    );
    assert_eq!(lines.len(), 3, "{body}");
    assert_eq!(
        lines[1],
        format!(
            "2026-06-01T09:01:00Z,command line,person.changed,Changed a person's record,person:{xena},\"'=HYPERLINK(\"\"http://evil.example\"\")\""
        )
    );
    assert_eq!(
        lines[2],
        format!(
            "2026-06-01T09:00:00Z,alice@testshire.example,person.viewed,Viewed a person's record,person:{xena},"
        )
    );

    // The export is in the log, with who, what filter and how many.
    let dpo_id = app.account_id("dpo@testshire.example").await;
    let exports = app
        .stores
        .audit
        .search(&candour_core::audit::AuditFilter {
            action: Some("audit.exported".into()),
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(exports.total, 1);
    let e = &exports.entries[0];
    assert_eq!(e.actor, Some(dpo_id));
    assert_eq!(e.target, "audit");
    let disclosure = app.stores.disclosures.latest_disclosures(1).await.unwrap();
    assert_eq!(disclosure[0].kind, "audit-log");
    assert_eq!(disclosure[0].internal_purpose, "Reviewing staff access");
    assert_eq!(
        disclosure[0].description,
        format!("2 entries, filter person={xena}")
    );
    assert_eq!(
        app.stores
            .disclosures
            .disclosed_people(disclosure[0].id)
            .await
            .unwrap(),
        [xena],
        "the disclosure covers the person the entries name"
    );
    assert_eq!(
        e.detail,
        format!(
            "2 entries, filter person={xena}, disclosure:{}, internal use: Reviewing staff access",
            disclosure[0].id
        )
    );
    // And shows in words on the page, and in the next export.
    let (_, html, _) = app.page("/admin/audit?action=audit.exported", &dpo).await;
    assert!(table(&html).contains("Exported the audit log"));
    let body = open(&app, "/admin/audit.csv?action=audit.exported", &dpo)
        .await
        .text()
        .await
        .unwrap();
    assert!(
        body.contains(&format!(
            "dpo@testshire.example,audit.exported,Exported the audit log,audit,\"2 entries, filter person={xena}, disclosure:"
        )),
        "{body}"
    );
}

#[tokio::test]
async fn bad_filters_are_named_with_what_is_allowed_and_kept() {
    let app = spawn_app().await;
    let dpo = app
        .staff("dpo@testshire.example", Role::PrivacyOfficer)
        .await;
    let res = app
        .get_with_cookie(
            "/admin/audit?person=abc&staff=someone&action=made.up&from_day=31&from_month=2&from_year=2026&to_day=1&to_month=&to_year=2026",
            &dpo,
        )
        .await;
    assert_eq!(res.status(), 422);
    let html = text(&res.text().await.unwrap());
    assert!(html.contains("<title>Error: Audit log"), "{html}");
    assert!(html.contains("There is a problem"));
    for (anchor, message) in [
        (
            "#person",
            "Person must be an email address or a record number, such as 12",
        ),
        (
            "#staff",
            "Staff member must be one of the staff in the list",
        ),
        ("#action", "Action must be one of the actions in the list"),
        ("#from_day", "The from date must be a real date"),
        ("#to_month", "The to date must include a month"),
    ] {
        assert!(
            html.contains(&format!("<a href=\"{anchor}\">{message}")),
            "{anchor}: {html}"
        );
    }
    // An address no one on record has, and one that is not an address.
    let res = app
        .get_with_cookie("/admin/audit?person=nobody%40example.org", &dpo)
        .await;
    assert_eq!(res.status(), 422);
    let page = text(&res.text().await.unwrap());
    assert!(
        page.contains("<a href=\"#person\">No one on record has that email address. For someone whose record was erased, use their record number"),
        "{page}"
    );
    assert!(page.contains("value=\"nobody@example.org\""));
    let res = app
        .get_with_cookie("/admin/audit?person=a%40b%40c", &dpo)
        .await;
    assert_eq!(res.status(), 422);
    assert!(
        text(&res.text().await.unwrap())
            .contains("Person must be an email address in the correct format, like name@example.org, or a record number")
    );
    // What was typed is shown again, and no entries are.
    assert!(html.contains("value=\"abc\""));
    assert!(html.contains(
        "id=\"from_day\" name=\"from_day\" type=\"text\" inputmode=\"numeric\" value=\"31\""
    ));
    assert!(html.contains(
        "id=\"from_month\" name=\"from_month\" type=\"text\" inputmode=\"numeric\" value=\"2\""
    ));
    assert!(!html.contains("<tbody>"));

    // A range that ends before it starts; a year of two numbers; a page that is not one.
    let res = app
        .get_with_cookie(
            "/admin/audit?from_day=2&from_month=6&from_year=2026&to_day=1&to_month=6&to_year=26",
            &dpo,
        )
        .await;
    assert_eq!(res.status(), 422);
    let html = text(&res.text().await.unwrap());
    assert!(
        html.contains("The to date's year must include 4 numbers"),
        "{html}"
    );
    let res = app
        .get_with_cookie(
            "/admin/audit?from_day=2&from_month=6&from_year=2026&to_day=1&to_month=6&to_year=2026&page=0",
            &dpo,
        )
        .await;
    assert_eq!(res.status(), 422);
    let html = text(&res.text().await.unwrap());
    assert!(
        html.contains("The to date must be the same as or after the from date"),
        "{html}"
    );
    assert!(
        html.contains("<a href=\"#page\">Page must be a whole number from 1 to"),
        "{html}"
    );
    // The summary's link has somewhere to go.
    assert!(html.contains("id=\"page\""), "{html}");

    // The export refuses the same way, and writes nothing to the log.
    let res = open(&app, "/admin/audit.csv?person=-3", &dpo).await;
    assert_eq!(res.status(), 422);
    assert!(
        text(&res.text().await.unwrap())
            .contains("Person must be an email address or a record number")
    );
    let exports = app
        .stores
        .audit
        .search(&candour_core::audit::AuditFilter {
            action: Some("audit.exported".into()),
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(exports.total, 0);
}

#[tokio::test]
async fn only_roles_that_read_the_audit_log_see_or_export_it() {
    let app = spawn_app().await;
    let editor = app.staff("editor@testshire.example", Role::Editor).await;
    let officer = app
        .staff("dpo@testshire.example", Role::PrivacyOfficer)
        .await;
    let admin = app.staff("admin@testshire.example", Role::Admin).await;
    app.register_verified("public@example.org", common::PASSWORD)
        .await;
    let public = app.sign_in("public@example.org", common::PASSWORD).await;
    for path in ["/admin/audit", "/admin/audit.csv", "/admin/audit?person=1"] {
        assert_eq!(
            open(&app, path, "").await.status(),
            303,
            "{path}: sign in first"
        );
        assert_eq!(open(&app, path, &public).await.status(), 403, "{path}");
        assert_eq!(open(&app, path, &editor).await.status(), 403, "{path}");
        assert_eq!(open(&app, path, &officer).await.status(), 200, "{path}");
        assert_eq!(open(&app, path, &admin).await.status(), 200, "{path}");
    }
    // One export each by the officer and the administrator; none by anyone refused.
    let exports = app
        .stores
        .audit
        .search(&candour_core::audit::AuditFilter {
            action: Some("audit.exported".into()),
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(exports.total, 2);
    let mut who: Vec<String> = exports.entries.into_iter().map(|e| e.actor_email).collect();
    who.sort();
    assert_eq!(who, ["admin@testshire.example", "dpo@testshire.example"]);
}

#[tokio::test]
async fn an_export_refused_for_whom_draws_the_filtered_log_again_and_writes_nothing() {
    let app = spawn_app().await;
    let xena = person(&app, "xena@example.org").await;
    let dpo = app
        .staff("dpo@testshire.example", Role::PrivacyOfficer)
        .await;
    view(&app, &dpo, xena).await;
    let token = app.page("/admin", &dpo).await.2;
    let path = format!("/admin/audit.csv?person={xena}");
    for (form, field, words) in [
        (vec![], "for", "Choose who the export is for"),
        (
            vec![("for", "77")],
            "for",
            "not an active one in the register",
        ),
        (
            vec![("for", "internal"), ("for_purpose", "")],
            "for_purpose",
            "Say what the export is for",
        ),
    ] {
        let mut body = vec![("csrf", token.as_str())];
        body.extend(form);
        let res = app.post_form(&path, &body, &[("cookie", &dpo)]).await;
        assert_eq!(res.status(), 422);
        assert!(res.headers().get("content-disposition").is_none());
        let page = res.text().await.unwrap();
        assert_field_error(&page, field, words);
        // The same filtered log, its filter kept and its entries shown under the form.
        assert!(page.contains(&format!("value=\"{xena}\"")), "{page}");
        assert!(table(&page).contains("Viewed a person's record"), "{page}");
    }
    let exports = app
        .stores
        .audit
        .search(&candour_core::audit::AuditFilter {
            action: Some("audit.exported".into()),
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(exports.total, 0);
    assert!(
        app.stores
            .disclosures
            .latest_disclosures(5)
            .await
            .unwrap()
            .is_empty()
    );
}
