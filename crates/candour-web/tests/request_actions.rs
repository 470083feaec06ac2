//! Acting on requests over HTTP: erasure (with and without a legal duty to keep), a named
//! correction accepted or rejected, an objection to marketing put on the suppression list
//! when the request is confirmed, restriction, and the emails each sends.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use candour_core::account::{EmailAddress, Role};
use candour_core::purposes::Channel;
use common::*;

/// Make a request from a signed-in person (a case at once); returns its number.
async fn ask_signed_in(app: &TestApp, cookie: &str, fields: &[(&str, &str)]) -> (u16, String) {
    let (_, _, token) = app.page("/requests", cookie).await;
    let mut form = vec![
        ("csrf", token.as_str()),
        ("name", "Robin Example"),
        ("email", "robin@example.org"),
    ];
    form.extend_from_slice(fields);
    let res = app
        .post_form("/requests", &form, &[("cookie", cookie)])
        .await;
    let status = res.status().as_u16();
    (status, res.text().await.unwrap())
}

/// The newest open case.
async fn newest(app: &TestApp) -> candour_core::requests::Case {
    let mut open = app.stores.requests.open_requests().await.unwrap();
    open.sort_by_key(|c| c.id);
    open.pop().expect("an open case")
}

/// Post on the case's action page with a fresh form token; returns the status and the
/// page (or the redirect's target).
async fn act(app: &TestApp, id: i64, cookie: &str, fields: &[(&str, &str)]) -> (u16, String) {
    let path = format!("/admin/requests/{id}/act");
    let (status, _, token) = app.page(&path, cookie).await;
    assert_eq!(status, 200);
    let mut form = vec![("csrf", token.as_str())];
    form.extend_from_slice(fields);
    let res = app.post_form(&path, &form, &[("cookie", cookie)]).await;
    let status = res.status().as_u16();
    if status == 303 {
        (
            status,
            res.headers()["location"].to_str().unwrap().to_owned(),
        )
    } else {
        (status, res.text().await.unwrap())
    }
}

/// The text of the first email to `to` whose subject contains `subject`, waiting for it.
async fn mail_about(app: &TestApp, to: &str, subject: &str) -> String {
    for _ in 0..200 {
        let found = app
            .sink
            .messages()
            .await
            .into_iter()
            .find(|m| m.to.iter().any(|t| t == to) && decode_qp(&m.data).contains(subject));
        if let Some(m) = found {
            return decode_qp(&m.data);
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    panic!("no email to {to} about {subject:?}");
}

async fn audited(app: &TestApp, code: &str) -> bool {
    let audit = app.stores.audit.recent(100).await.unwrap();
    audit.iter().any(|e| e.action == code)
}

/// Where most tests start: the app, a privacy officer and an editor (made first, so their
/// registration emails come before any a request sends), and Robin, registered and signed in.
struct Desk {
    app: TestApp,
    officer: String,
    editor: String,
    robin: String,
}

async fn desk_with(tweak: impl FnOnce(&mut candour_core::config::Config)) -> Desk {
    let app = spawn_with(tweak).await;
    let officer = app.staff("dpo@example.org", Role::PrivacyOfficer).await;
    let editor = app.staff("editor@example.org", Role::Editor).await;
    app.register_verified("robin@example.org", PASSWORD).await;
    let robin = app.sign_in("robin@example.org", PASSWORD).await;
    Desk {
        app,
        officer,
        editor,
        robin,
    }
}

async fn desk() -> Desk {
    desk_with(|_| {}).await
}

fn robin() -> EmailAddress {
    EmailAddress::parse("robin@example.org").unwrap()
}

#[tokio::test]
async fn an_erasure_erases_the_person_and_their_sign_ins_but_keeps_the_case_and_the_objection() {
    let Desk {
        app,
        officer,
        robin: cookie,
        ..
    } = desk().await;
    // First an objection to marketing by post: applied at once.
    let (status, _) = ask_signed_in(
        &app,
        &cookie,
        &[("kind", "objection"), ("marketing", "post")],
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        app.stores
            .ledger
            .suppressed_channels(&robin())
            .await
            .unwrap(),
        [Channel::Post]
    );
    let (status, _) = ask_signed_in(&app, &cookie, &[("kind", "erasure")]).await;
    assert_eq!(status, 200);
    let case = newest(&app).await;
    let person = case.person.unwrap();

    // The case page leads to the action page; the box must be ticked.
    let (_, page, _) = app
        .page(&format!("/admin/requests/{}", case.id), &officer)
        .await;
    assert!(page.contains(&format!("/admin/requests/{}/act", case.id)));
    let (status, page) = act(
        &app,
        case.id,
        &officer,
        &[("action", "erase"), ("decision", "erase")],
    )
    .await;
    assert_eq!(status, 422);
    assert!(page.contains("href=\"#confirm\""), "{page}");
    assert!(app.stores.people.person(person).await.unwrap().is_some());

    let (status, to) = act(
        &app,
        case.id,
        &officer,
        &[
            ("action", "erase"),
            ("decision", "erase"),
            ("confirm", "yes"),
        ],
    )
    .await;
    assert_eq!(
        (status, to.as_str()),
        (
            303,
            &*format!("/admin/requests/{}/act?done=erased", case.id)
        )
    );
    assert!(app.stores.people.person(person).await.unwrap().is_none());
    assert!(
        app.stores
            .accounts
            .account_by_email(&robin())
            .await
            .unwrap()
            .is_none()
    );
    // Signed out: the old session no longer opens the account page.
    assert_eq!(app.get_with_cookie("/account", &cookie).await.status(), 303);
    // The objection holds; the case stays, unlinked, with the erasure on its history.
    assert_eq!(
        app.stores
            .ledger
            .suppressed_channels(&robin())
            .await
            .unwrap(),
        [Channel::Post]
    );
    let kept = app.stores.requests.request(case.id).await.unwrap().unwrap();
    assert_eq!(kept.person, None);
    let (status, page, _) = app
        .page(&format!("/admin/requests/{}", case.id), &officer)
        .await;
    assert_eq!(status, 200);
    assert!(
        page.contains("The person&#39;s data was erased")
            || page.contains("The person's data was erased"),
        "{page}"
    );
    let mail = mail_about(&app, "robin@example.org", "We have deleted your data").await;
    assert!(mail.contains("/requests/status?token="), "{mail}");
    assert!(audited(&app, "request.erased").await);
    // Nothing is left to erase: the action page says so and a second erasure is refused.
    let (status, page) = act(
        &app,
        case.id,
        &officer,
        &[
            ("action", "erase"),
            ("decision", "erase"),
            ("confirm", "yes"),
        ],
    )
    .await;
    assert_eq!(status, 422);
    assert!(page.contains("nothing here to act on"), "{page}");
}

#[tokio::test]
async fn an_erasure_kept_under_a_legal_duty_needs_the_reason_and_erases_nothing() {
    let Desk {
        app,
        officer,
        editor,
        robin: cookie,
    } = desk().await;
    ask_signed_in(&app, &cookie, &[("kind", "erasure")]).await;
    let case = newest(&app).await;
    let (status, page) = act(
        &app,
        case.id,
        &officer,
        &[("action", "erase"), ("decision", "keep"), ("reason", "  ")],
    )
    .await;
    assert_eq!(status, 422);
    assert!(page.contains("href=\"#reason\""), "{page}");
    let (status, _) = act(
        &app,
        case.id,
        &officer,
        &[
            ("action", "erase"),
            ("decision", "keep"),
            ("reason", "Payment records are kept six years for HMRC"),
        ],
    )
    .await;
    assert_eq!(status, 303);
    assert!(
        app.stores
            .people
            .person(case.person.unwrap())
            .await
            .unwrap()
            .is_some()
    );
    let events = app.stores.requests.request_events(case.id).await.unwrap();
    let last = events.last().unwrap();
    assert_eq!(last.action, "erasure-kept");
    assert!(last.detail.contains("HMRC"));
    let mail = mail_about(&app, "robin@example.org", "We must keep some of your data").await;
    assert!(mail.contains("six years for HMRC"), "{mail}");
    assert!(mail.contains("Information Commissioner"), "{mail}");
    assert!(audited(&app, "request.erasure-kept").await);
    // A member of staff without the permission cannot act; another kind of case has no
    // action page; an unknown case is a 404.
    let path = format!("/admin/requests/{}/act", case.id);
    assert_eq!(app.get_with_cookie(&path, &editor).await.status(), 403);
    ask_signed_in(&app, &cookie, &[("kind", "access")]).await;
    let access = newest(&app).await;
    let (status, page, _) = app
        .page(&format!("/admin/requests/{}/act", access.id), &officer)
        .await;
    assert_eq!(status, 200);
    assert!(page.contains("No change to the person"), "{page}");
    // Requests are free: no fee form, and a posted fee is refused.
    assert!(!page.contains("Record a fee"), "{page}");
    let (status, page) = act(
        &app,
        access.id,
        &officer,
        &[
            ("action", "fee"),
            ("amount", "10"),
            ("ground", "excessive"),
            ("reason", "x"),
        ],
    )
    .await;
    assert_eq!(status, 422);
    assert!(page.contains("Requests are free here"), "{page}");
    assert_eq!(
        app.get_with_cookie("/admin/requests/999/act", &officer)
            .await
            .status(),
        404
    );
}

#[tokio::test]
async fn a_named_correction_is_read_with_the_profiles_rules_then_accepted_or_rejected() {
    let Desk {
        app,
        officer,
        robin: cookie,
        ..
    } = desk().await;
    // A postcode that is not one is refused on its field, and nothing is stored.
    let (status, page) = ask_signed_in(
        &app,
        &cookie,
        &[
            ("kind", "correction"),
            ("correction_field", "postcode"),
            ("correction", "nowhere"),
        ],
    )
    .await;
    assert_eq!(status, 422);
    assert!(page.contains("href=\"#correction\""), "{page}");
    let (status, page) = ask_signed_in(
        &app,
        &cookie,
        &[
            ("kind", "correction"),
            ("correction_field", "shoe-size"),
            ("correction", "9"),
        ],
    )
    .await;
    assert_eq!(status, 422);
    assert!(page.contains("href=\"#correction_field\""), "{page}");
    assert!(
        app.stores
            .requests
            .open_requests()
            .await
            .unwrap()
            .is_empty()
    );

    let (status, _) = ask_signed_in(
        &app,
        &cookie,
        &[
            ("kind", "correction"),
            ("correction_field", "postcode"),
            ("correction", "nm12ab"),
        ],
    )
    .await;
    assert_eq!(status, 200);
    let case = newest(&app).await;
    assert_eq!(case.correction.as_deref(), Some("NM1 2AB"));
    let (status, page, _) = app
        .page(&format!("/admin/requests/{}/act", case.id), &officer)
        .await;
    assert_eq!(status, 200);
    assert!(
        page.contains("Postcode") && page.contains("NM1 2AB"),
        "{page}"
    );
    let (status, _) = act(
        &app,
        case.id,
        &officer,
        &[("action", "correct"), ("decision", "accept")],
    )
    .await;
    assert_eq!(status, 303);
    let person = app
        .stores
        .people
        .person(case.person.unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        person.details.postcode.as_ref().map(|p| p.as_str()),
        Some("NM1 2AB")
    );
    let mail = mail_about(&app, "robin@example.org", "We have corrected your data").await;
    assert!(mail.contains("NM1 2AB"), "{mail}");
    assert!(audited(&app, "request.corrected").await);

    // A second proposal, rejected with a reason.
    ask_signed_in(
        &app,
        &cookie,
        &[
            ("kind", "correction"),
            ("correction_field", "name"),
            ("correction", "Robyn Example"),
        ],
    )
    .await;
    let second = newest(&app).await;
    let (status, _) = act(
        &app,
        second.id,
        &officer,
        &[("action", "correct"), ("decision", "reject")],
    )
    .await;
    assert_eq!(status, 422);
    let (status, _) = act(
        &app,
        second.id,
        &officer,
        &[
            ("action", "correct"),
            ("decision", "reject"),
            ("reason", "Our records match your passport"),
        ],
    )
    .await;
    assert_eq!(status, 303);
    let unchanged = app.stores.people.person(person.id).await.unwrap().unwrap();
    assert_eq!(unchanged.details.name, person.details.name);
    let mail = mail_about(&app, "robin@example.org", "We have not changed your data").await;
    assert!(mail.contains("match your passport"), "{mail}");
    // A step for another kind of request is refused, naming the field.
    let (status, page) = act(
        &app,
        second.id,
        &officer,
        &[("action", "restrict"), ("confirm", "yes")],
    )
    .await;
    assert_eq!(status, 422);
    assert!(page.contains("href=\"#action\""), "{page}");
}

/// Sam Example objects, from the front door, to marketing on `channels`.
async fn object_to_marketing(app: &TestApp, channels: &[&str]) -> reqwest::Response {
    let (_, _, token) = app.page("/requests", "").await;
    let mut form = vec![
        ("csrf", token.as_str()),
        ("kind", "objection"),
        ("name", "Sam Example"),
        ("email", "sam@example.org"),
    ];
    form.extend(channels.iter().map(|c| ("marketing", *c)));
    app.post_form("/requests", &form, &[]).await
}

#[tokio::test]
async fn an_objection_to_marketing_is_applied_when_the_emailed_link_confirms_it() {
    let app = spawn_app().await;
    let res = object_to_marketing(&app, &["email", "phone"]).await;
    assert_eq!(res.status(), 200);
    let sam = EmailAddress::parse("sam@example.org").unwrap();
    // Nothing until the address confirms it.
    assert!(
        app.stores
            .ledger
            .suppressed_channels(&sam)
            .await
            .unwrap()
            .is_empty()
    );
    let link = app.emailed_link(0, "http").await;
    let res = app.press_link_button(&link, "/requests/confirm").await;
    assert_eq!(res.status(), 200);
    assert_eq!(
        app.stores.ledger.suppressed_channels(&sam).await.unwrap(),
        [Channel::Email, Channel::Phone]
    );
    let case = newest(&app).await;
    let events = app.stores.requests.request_events(case.id).await.unwrap();
    assert!(
        events
            .iter()
            .any(|e| e.action == "objection-applied" && e.detail == "email phone"),
        "{events:?}"
    );
    let mail = mail_about(&app, "sam@example.org", "We will not send you marketing").await;
    assert!(mail.contains("email, telephone"), "{mail}");
    // An unknown channel is refused on its field.
    let res = object_to_marketing(&app, &["pigeon"]).await;
    assert_eq!(res.status(), 422);
    assert!(res.text().await.unwrap().contains("href=\"#marketing\""));
}

#[tokio::test]
async fn a_restriction_marks_the_record_and_says_so() {
    let Desk {
        app,
        officer,
        robin: cookie,
        ..
    } = desk().await;
    ask_signed_in(&app, &cookie, &[("kind", "restriction")]).await;
    let case = newest(&app).await;
    let person = case.person.unwrap();
    let (status, _) = act(&app, case.id, &officer, &[("action", "restrict")]).await;
    assert_eq!(status, 422);
    assert_eq!(
        app.stores
            .request_actions
            .restricted_since(person)
            .await
            .unwrap(),
        None
    );
    let (status, _) = act(
        &app,
        case.id,
        &officer,
        &[("action", "restrict"), ("confirm", "yes")],
    )
    .await;
    assert_eq!(status, 303);
    assert!(
        app.stores
            .request_actions
            .restricted_since(person)
            .await
            .unwrap()
            .is_some()
    );
    let (_, page, _) = app
        .page(&format!("/admin/requests/{}/act", case.id), &officer)
        .await;
    assert!(page.contains("left out of every campaign"), "{page}");
    mail_about(
        &app,
        "robin@example.org",
        "We have restricted the use of your data",
    )
    .await;
    assert!(audited(&app, "request.restricted").await);
}

/// Post the template form of `step`; returns the status and the page or redirect target.
async fn template(
    app: &TestApp,
    step: &str,
    cookie: &str,
    fields: &[(&str, &str)],
) -> (u16, String) {
    let path = format!("/admin/requests/templates/{step}");
    let (status, _, token) = app.page(&path, cookie).await;
    assert_eq!(status, 200);
    let mut form = vec![("csrf", token.as_str())];
    form.extend_from_slice(fields);
    let res = app.post_form(&path, &form, &[("cookie", cookie)]).await;
    let status = res.status().as_u16();
    if status == 303 {
        (
            status,
            res.headers()["location"].to_str().unwrap().to_owned(),
        )
    } else {
        (status, res.text().await.unwrap())
    }
}

#[tokio::test]
async fn an_edited_wording_is_checked_previewed_used_by_the_next_email_and_reset() {
    let app = spawn_app().await;
    let officer = app.staff("dpo@example.org", Role::PrivacyOfficer).await;
    let (status, list, _) = app.page("/admin/requests/templates", &officer).await;
    assert_eq!(status, 200);
    assert!(
        list.contains("/admin/requests/templates/acknowledgement"),
        "{list}"
    );
    let (status, page, _) = app
        .page("/admin/requests/templates/acknowledgement", &officer)
        .await;
    assert_eq!(status, 200);
    assert!(page.contains("We have received your request"), "{page}");
    assert_eq!(
        app.get_with_cookie("/admin/requests/templates/bribe", &officer)
            .await
            .status(),
        404
    );

    // A placeholder that is not one, or not this email's, is refused on its field.
    let (status, page) = template(
        &app,
        "acknowledgement",
        &officer,
        &[
            ("action", "save"),
            ("subject", "Got it {{password}}"),
            ("body", "Thanks {{name}}"),
        ],
    )
    .await;
    assert_eq!(status, 422);
    assert!(page.contains("href=\"#subject\""), "{page}");
    assert!(page.contains("{{password}}"), "{page}");
    let (status, page) = template(
        &app,
        "refusal",
        &officer,
        &[
            ("action", "save"),
            ("subject", "No"),
            ("body", "Because {{reasons}}"),
        ],
    )
    .await;
    assert_eq!(status, 422);
    assert!(page.contains("{{ico}}"), "{page}");
    assert!(
        app.stores
            .request_templates
            .request_wordings()
            .await
            .unwrap()
            .is_empty()
    );

    // A preview fills in made-up values and saves nothing.
    let edit = [
        ("subject", "Request {{request_number}} is with us"),
        (
            "body",
            "Dear {{name}}, we have your request. {{due}}.\n{{status_link}}",
        ),
    ];
    let mut fields = vec![("action", "preview")];
    fields.extend_from_slice(&edit);
    let (status, page) = template(&app, "acknowledgement", &officer, &fields).await;
    assert_eq!(status, 200);
    assert!(page.contains("Request 123 is with us"), "{page}");
    assert!(
        app.stores
            .request_templates
            .request_wordings()
            .await
            .unwrap()
            .is_empty()
    );
    fields[0] = ("action", "save");
    let (status, to) = template(&app, "acknowledgement", &officer, &fields).await;
    assert_eq!(
        (status, to.as_str()),
        (303, "/admin/requests/templates/acknowledgement?done=saved")
    );
    assert!(audited(&app, "request.template-saved").await);

    // The next acknowledgement uses it.
    app.register_verified("robin@example.org", PASSWORD).await;
    let cookie = app.sign_in("robin@example.org", PASSWORD).await;
    ask_signed_in(&app, &cookie, &[("kind", "access")]).await;
    let case = newest(&app).await;
    let mail = mail_about(
        &app,
        "robin@example.org",
        &format!("Request {} is with us", case.id),
    )
    .await;
    assert!(
        mail.contains("Dear Robin Example, we have your request. Due"),
        "{mail}"
    );

    // Back to the built-in wording.
    let (status, _) = template(&app, "acknowledgement", &officer, &[("action", "reset")]).await;
    assert_eq!(status, 303);
    assert!(
        app.stores
            .request_templates
            .request_wordings()
            .await
            .unwrap()
            .is_empty()
    );
    assert!(audited(&app, "request.template-reset").await);
    // Only privacy officers edit them.
    let editor = app.staff("editor@example.org", Role::Editor).await;
    assert_eq!(
        app.get_with_cookie("/admin/requests/templates", &editor)
            .await
            .status(),
        403
    );
}

#[tokio::test]
async fn the_digest_goes_to_privacy_officers_once_a_day_and_never_empty() {
    let Desk { app, robin, .. } = desk().await;
    // Nothing open: nothing to say.
    assert_eq!(app.state.send_request_digest().await.unwrap(), 0);
    ask_signed_in(&app, &robin, &[("kind", "access")]).await;
    let case = newest(&app).await;
    // Received Monday 1 June, due Wednesday 1 July: not within 7 working days yet.
    assert_eq!(app.state.send_request_digest().await.unwrap(), 0);
    let before = app.sink.wait_for(4).await.len();

    // Wednesday 24 June, 07:00 UK time: five working days left, but before the hour.
    app.clock
        .advance(time::Duration::days(23) - time::Duration::hours(3));
    assert_eq!(app.state.send_request_digest().await.unwrap(), 0);
    // 08:00 UK time: sent, to the privacy officer only, and only once that day.
    app.clock.advance(time::Duration::hours(1));
    assert_eq!(app.state.send_request_digest().await.unwrap(), 1);
    assert_eq!(app.state.send_request_digest().await.unwrap(), 0);
    let mail = app.sink.wait_for(before + 1).await;
    assert_eq!(mail.len(), before + 1);
    let digest = &mail[before];
    assert_eq!(digest.to, vec!["dpo@example.org".to_owned()]);
    let text = decode_qp(&digest.data);
    assert!(text.contains("Due within 7 working days (1)"), "{text}");
    assert!(
        text.contains(&format!("/admin/requests/{}", case.id)),
        "{text}"
    );
    assert!(text.contains("due 1 July 2026"), "{text}");
    assert!(!text.contains("Overdue"), "{text}");

    // Thursday 2 July: overdue, and a new day's digest.
    app.clock.advance(time::Duration::days(8));
    assert_eq!(app.state.send_request_digest().await.unwrap(), 1);
    let mail = app.sink.wait_for(before + 2).await;
    let text = decode_qp(&mail[before + 1].data);
    assert!(text.contains("Overdue (1)"), "{text}");
}

#[tokio::test]
async fn reports_count_a_known_set_of_cases_by_month_with_on_time_and_median() {
    use candour_core::requests::{Change, Confirmation, NewCase, NewRequest, case};
    use time::macros::{date, datetime};
    let app = spawn_app().await;
    let officer = app.staff("dpo@example.org", Role::PrivacyOfficer).await;
    let holidays = candour_core::requests::BankHolidays::new(
        candour_core::requests::Region::EnglandAndWales,
        &[],
    );
    let made = |kind: &str, received| NewCase {
        request: NewRequest::parse(kind, "Ann", "ann@example.org", "Everything", "", false)
            .unwrap(),
        person: None,
        at: datetime!(2026-02-01 9:00 UTC),
        confirmation: Confirmation::Verified {
            received_on: received,
        },
    };
    let answer = async |id: i64, at: time::OffsetDateTime| {
        let c = app.stores.requests.request(id).await.unwrap().unwrap();
        let planned =
            case::plan(c.status, &c.timeline, &Change::Answer, at.date(), &holidays).unwrap();
        app.stores
            .requests
            .change_request(id, c.status, &planned, 1, at)
            .await
            .unwrap();
    };
    // Due Monday 2 March: one answered in 10 days, one late in 36.
    let a = app
        .stores
        .requests
        .create_request(&made("access", date!(2026 - 02 - 02)))
        .await
        .unwrap();
    answer(a, datetime!(2026-02-12 10:00 UTC)).await;
    let b = app
        .stores
        .requests
        .create_request(&made("erasure", date!(2026 - 02 - 02)))
        .await
        .unwrap();
    answer(b, datetime!(2026-03-10 10:00 UTC)).await;
    app.stores
        .requests
        .create_request(&made("access", date!(2026 - 03 - 02)))
        .await
        .unwrap();
    // Outside the range.
    app.stores
        .requests
        .create_request(&made("other", date!(2026 - 04 - 01)))
        .await
        .unwrap();

    let path = "/admin/requests/reports?from=2026-02-01&to=2026-03-31";
    let (status, page, _) = app.page(path, &officer).await;
    assert_eq!(status, 200);
    assert!(page.contains("February 2026"), "{page}");
    assert!(page.contains("50% (1)"), "{page}");
    let res = app
        .get_with_cookie(&format!("{path}&format=csv"), &officer)
        .await;
    assert_eq!(res.status(), 200);
    assert!(
        res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    let csv = res.text().await.unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 4, "{csv}");
    assert_eq!(lines[1], "2026-02,1,0,1,0,0,0,0,2,2,1,50,23");
    assert_eq!(lines[2], "2026-03,1,0,0,0,0,0,0,1,0,0,,");
    assert_eq!(lines[3], "all,2,0,1,0,0,0,0,3,2,1,50,23");

    // A bad range names its field.
    for (query, field) in [
        ("from=2026-13-01", "from"),
        ("from=2026-03-01&to=2026-02-01", "to"),
    ] {
        let (status, page, _) = app
            .page(&format!("/admin/requests/reports?{query}"), &officer)
            .await;
        assert_eq!(status, 422, "{query}");
        assert!(page.contains(&format!("href=\"#{field}\"")), "{page}");
    }
    let editor = app.staff("editor@example.org", Role::Editor).await;
    assert_eq!(
        app.get_with_cookie("/admin/requests/reports", &editor)
            .await
            .status(),
        403
    );
}

#[tokio::test]
async fn where_configured_a_fee_is_recorded_only_with_its_lawful_ground_and_reason() {
    let Desk {
        app,
        officer,
        robin: cookie,
        ..
    } = desk_with(|c| c.requests.fee_for_manifestly_unfounded = true).await;
    ask_signed_in(&app, &cookie, &[("kind", "access")]).await;
    let case = newest(&app).await;
    let (status, page) = act(
        &app,
        case.id,
        &officer,
        &[("action", "fee"), ("amount", "lots"), ("reason", "")],
    )
    .await;
    assert_eq!(status, 422);
    for field in ["#amount", "#ground", "#reason"] {
        assert!(
            page.contains(&format!("href=\"{field}\"")),
            "{field} in {page}"
        );
    }
    let (status, _) = act(
        &app,
        case.id,
        &officer,
        &[
            ("action", "fee"),
            ("amount", "25"),
            ("ground", "excessive"),
            ("reason", "The sixth copy of the same data this month"),
        ],
    )
    .await;
    assert_eq!(status, 303);
    let last = app
        .stores
        .requests
        .request_events(case.id)
        .await
        .unwrap()
        .pop()
        .unwrap();
    assert_eq!(last.action, "fee");
    assert_eq!(
        last.detail,
        "£25.00 (manifestly excessive): The sixth copy of the same data this month"
    );
    assert!(audited(&app, "request.fee-recorded").await);
    // The person is told, in the fee step's wording.
    let mail = mail_about(&app, "robin@example.org", "A fee for your request").await;
    assert!(mail.contains("£25.00 (manifestly excessive)"), "{mail}");
    assert!(
        mail.contains("The sixth copy of the same data this month"),
        "{mail}"
    );
    assert!(mail.contains("Information Commissioner"), "{mail}");
}

#[tokio::test]
async fn a_restriction_shows_on_the_person_page_and_is_lifted_with_the_person_told() {
    let Desk {
        app,
        officer,
        editor,
        robin: cookie,
    } = desk().await;
    ask_signed_in(&app, &cookie, &[("kind", "restriction")]).await;
    let case = newest(&app).await;
    let person = case.person.unwrap();
    let page_of = format!("/admin/people/{person}");
    let lift = format!("/admin/people/{person}/lift-restriction");
    // Not restricted: the page says so, and there is nothing to lift.
    let (status, page, token) = app.page(&page_of, &officer).await;
    assert_eq!(status, 200);
    assert!(page.contains("<dt>Restricted</dt><dd>No</dd>"), "{page}");
    assert!(!page.contains(&lift));
    let res = app
        .post_form(&lift, &[("csrf", token.as_str())], &[("cookie", &officer)])
        .await;
    assert_eq!(res.status(), 409);

    let (status, _) = act(
        &app,
        case.id,
        &officer,
        &[("action", "restrict"), ("confirm", "yes")],
    )
    .await;
    assert_eq!(status, 303);
    let (_, page, token) = app.page(&page_of, &officer).await;
    assert!(page.contains("Restricted since"), "{page}");
    assert!(page.contains(&lift), "{page}");

    // An editor cannot lift it (nor see the person).
    let res = app
        .post_form(&lift, &[("csrf", token.as_str())], &[("cookie", &editor)])
        .await;
    assert_eq!(res.status(), 403);
    // Without a form token, nothing happens.
    let res = app
        .post_form(&lift, &[("csrf", "forged")], &[("cookie", &officer)])
        .await;
    assert_ne!(res.status(), 303);
    assert!(
        app.stores
            .request_actions
            .restricted_since(person)
            .await
            .unwrap()
            .is_some()
    );

    let res = app
        .post_form(&lift, &[("csrf", token.as_str())], &[("cookie", &officer)])
        .await;
    assert_eq!(res.status(), 303);
    assert_eq!(
        res.headers()["location"],
        format!("{page_of}?done=restriction-lifted").as_str()
    );
    assert_eq!(
        app.stores
            .request_actions
            .restricted_since(person)
            .await
            .unwrap(),
        None
    );
    let (_, page, _) = app
        .page(&format!("{page_of}?done=restriction-lifted"), &officer)
        .await;
    assert!(page.contains("<dt>Restricted</dt><dd>No</dd>"), "{page}");
    assert!(page.contains("The restriction has been lifted"), "{page}");
    let mail = mail_about(
        &app,
        "robin@example.org",
        "We are lifting the restriction on your data",
    )
    .await;
    assert!(mail.contains(&format!("request {}", case.id)), "{mail}");
    assert!(audited(&app, "person.restriction-lifted").await);
    let last = app
        .stores
        .requests
        .request_events(case.id)
        .await
        .unwrap()
        .pop()
        .unwrap();
    assert_eq!(last.action, "restriction-lifted");
    // Lifted once: a second press finds nothing to lift.
    let (_, _, token) = app.page(&page_of, &officer).await;
    let res = app
        .post_form(&lift, &[("csrf", token.as_str())], &[("cookie", &officer)])
        .await;
    assert_eq!(res.status(), 409);
    // An unknown person is a 404.
    let res = app
        .post_form(
            &format!("/admin/people/{}/lift-restriction", person + 100),
            &[("csrf", token.as_str())],
            &[("cookie", &officer)],
        )
        .await;
    assert_eq!(res.status(), 404);
}
