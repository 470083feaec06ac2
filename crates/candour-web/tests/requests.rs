//! Requests about personal data over HTTP: the front door, confirmation by link, the status
//! page, and the privacy officer's steps with the emails they send.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use candour_core::Clock;
use candour_core::account::Role;
use candour_core::requests::{Due, Status};
use common::*;
use time::macros::date;

const ASK: &[(&str, &str)] = &[
    ("kind", "access"),
    ("name", "Robin Example"),
    ("email", "robin@example.org"),
    ("details", "Everything since 2024"),
];

async fn ask(app: &TestApp, fields: &[(&str, &str)], cookie: &str) -> (u16, String) {
    let (_, _, token) = app.page("/requests", cookie).await;
    let mut form = vec![("csrf", token.as_str())];
    form.extend_from_slice(fields);
    let res = app
        .post_form("/requests", &form, &[("cookie", cookie)])
        .await;
    let status = res.status().as_u16();
    (status, res.text().await.unwrap())
}

/// Confirm the request from the emailed link (message number `index`); returns the status
/// link from the acknowledgement that follows.
async fn confirm(app: &TestApp, index: usize) -> String {
    let link = app.emailed_link(index, "http").await;
    assert!(link.contains("/requests/confirm?token="), "{link}");
    let res = app.press_link_button(&link, "/requests/confirm").await;
    assert_eq!(res.status(), 200);
    assert!(
        res.text()
            .await
            .unwrap()
            .contains("We have received your request")
    );
    app.emailed_link(index + 1, "http").await
}

#[tokio::test]
async fn a_request_is_a_case_once_its_address_confirms_it_and_its_link_works_once() {
    let app = spawn_app().await;
    let (status, html) = ask(&app, ASK, "").await;
    assert_eq!(status, 200);
    assert!(html.contains("Check your email"), "{html}");
    assert!(
        app.stores
            .requests
            .open_requests()
            .await
            .unwrap()
            .is_empty()
    );

    let status_link = confirm(&app, 0).await;
    assert!(
        status_link.contains("/requests/status?token="),
        "{status_link}"
    );
    let open = app.stores.requests.open_requests().await.unwrap();
    assert_eq!(open.len(), 1);
    assert_eq!(open[0].timeline.received, Some(date!(2026 - 06 - 01)));
    let mail = app.sink.messages().await;
    assert_eq!(mail[1].to, vec!["robin@example.org".to_owned()]);
    assert!(
        decode_qp(&mail[1].data).contains("1 July 2026"),
        "{}",
        mail[1].data
    );

    let (status, page, _) = app.page(&path_of(&status_link), "").await;
    assert_eq!(status, 200);
    assert!(page.contains("A copy of the data you hold about me"));
    assert!(page.contains("Due 1 July 2026"), "{page}");

    // The link works once.
    let link = app.emailed_link(0, "http").await;
    let again = app.press_link_button(&link, "/requests/confirm").await;
    assert_eq!(again.status(), 400);
    assert_eq!(app.stores.requests.open_requests().await.unwrap().len(), 1);
}

#[tokio::test]
async fn bad_input_names_each_field_and_stores_nothing() {
    let app = spawn_app().await;
    let (status, html) = ask(
        &app,
        &[
            ("kind", "bribe"),
            ("name", ""),
            ("email", "not an address"),
            ("details", "bell\u{7}"),
        ],
        "",
    )
    .await;
    assert_eq!(status, 422);
    for anchor in ["#kind", "#name", "#email", "#details"] {
        assert!(
            html.contains(&format!("href=\"{anchor}\"")),
            "{anchor} in {html}"
        );
    }
    assert!(html.contains("Choose what you are asking for"));
    // A field the form does not have is refused too.
    let (status, _) = ask(&app, &[("kind", "access"), ("role", "admin")], "").await;
    assert_eq!(status, 422);
    app.flush_queues().await;
    assert!(app.sink.messages().await.is_empty(), "nothing was sent");
    assert!(
        app.stores.requests.request(1).await.unwrap().is_none(),
        "nothing was stored"
    );
}

#[tokio::test]
async fn a_signed_in_person_is_verified_at_once_and_only_a_genuine_status_link_opens() {
    let app = spawn_app().await;
    app.register_verified("robin@example.org", PASSWORD).await;
    let cookie = app.sign_in("robin@example.org", PASSWORD).await;
    let before = app.sink.messages().await.len();
    let (status, html) = ask(&app, ASK, &cookie).await;
    assert_eq!(status, 200);
    assert!(html.contains("We have received your request"), "{html}");
    let open = app.stores.requests.open_requests().await.unwrap();
    assert_eq!(open.len(), 1);
    let robin = app.account_id("robin@example.org").await;
    let person = app
        .stores
        .people
        .person_for_account(robin)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(open[0].person, Some(person.id));
    let link = app.emailed_link(before, "http").await;
    assert!(link.contains("/requests/status?token="));
    let (status, _, _) = app.page(&path_of(&link), "").await;
    assert_eq!(status, 200);
    // Their account lists it, with the same link.
    let (status, mine, _) = app.page("/requests/mine", &cookie).await;
    assert_eq!(status, 200);
    assert!(
        mine.contains(&path_of(&link).replace('&', "&amp;")) || mine.contains(&path_of(&link)),
        "{mine}"
    );
    assert!(mine.contains("A copy of the data you hold about me"));
    // Signed out, the list is behind sign-in.
    let res = app.get("/requests/mine").await;
    assert_eq!(res.status(), 303);

    // Someone else's request cannot be reached by changing the number, or with no token.
    let token = link.split("token=").nth(1).unwrap();
    let forged = token.replacen(&open[0].id.to_string(), &(open[0].id + 1).to_string(), 1);
    for path in [
        format!("/requests/status?token={forged}"),
        "/requests/status?token=1".to_owned(),
        "/requests/status".to_owned(),
    ] {
        assert_eq!(app.get(&path).await.status(), 404, "{path}");
    }
}

/// Post one step on case `id` with a fresh form token; returns the status.
async fn step(app: &TestApp, id: i64, cookie: &str, fields: &[(&str, &str)]) -> u16 {
    let (_, _, token) = app.page(&format!("/admin/requests/{id}"), cookie).await;
    let mut form: Vec<(&str, &str)> = vec![("csrf", token.as_str())];
    form.extend_from_slice(fields);
    let res = app
        .post_form(
            &format!("/admin/requests/{id}/change"),
            &form,
            &[("cookie", cookie)],
        )
        .await;
    let status = res.status().as_u16();
    if status == 303 {
        let to = res.headers()["location"].to_str().unwrap().to_owned();
        assert!(
            to.starts_with(&format!("/admin/requests/{id}?done=")),
            "{to}"
        );
    }
    status
}

#[tokio::test]
async fn staff_take_a_case_through_its_steps_and_the_person_is_told() {
    let app = spawn_app().await;
    ask(&app, ASK, "").await;
    confirm(&app, 0).await;
    let id = app.stores.requests.open_requests().await.unwrap()[0].id;
    let officer = app.staff("dpo@example.org", Role::PrivacyOfficer).await;
    let editor = app.staff("editor@example.org", Role::Editor).await;
    assert_eq!(
        app.get_with_cookie("/admin/requests", &editor)
            .await
            .status(),
        403
    );

    let (status, queue, _) = app.page("/admin/requests", &officer).await;
    assert_eq!(status, 200);
    assert!(queue.contains("Due 1 July 2026"), "{queue}");
    assert!(queue.contains(&format!("/admin/requests/{id}")));

    let case_path = format!("/admin/requests/{id}");
    let (status, _, _) = app.page(&case_path, &officer).await;
    assert_eq!(status, 200);
    // A question with no words is refused, naming the field.
    assert_eq!(
        step(
            &app,
            id,
            &officer,
            &[("action", "ask-clarification"), ("question", " ")]
        )
        .await,
        422
    );
    let sent = app.sink.messages().await.len();
    assert_eq!(
        step(
            &app,
            id,
            &officer,
            &[
                ("action", "ask-clarification"),
                ("question", "Which years?")
            ]
        )
        .await,
        303
    );
    let mail = app.sink.wait_for(sent + 1).await;
    assert!(decode_qp(&mail[sent].data).contains("Which years?"));
    let case = app.stores.requests.request(id).await.unwrap().unwrap();
    assert_eq!(case.status, Status::AwaitingClarification);

    app.clock.advance(time::Duration::days(5));
    // Days later: a new sign-in.
    let officer = app.sign_in("dpo@example.org", PASSWORD).await;
    assert_eq!(
        step(&app, id, &officer, &[("action", "clarified")]).await,
        303
    );
    let case = app.stores.requests.request(id).await.unwrap().unwrap();
    assert_eq!(case.status, Status::InProgress);
    // Three months is not an extension the law allows; two is.
    assert_eq!(
        step(
            &app,
            id,
            &officer,
            &[
                ("action", "extend"),
                ("months", "3"),
                ("reasons", "Many systems")
            ]
        )
        .await,
        422
    );
    assert_eq!(
        step(
            &app,
            id,
            &officer,
            &[
                ("action", "extend"),
                ("months", "2"),
                ("reasons", "Records in three systems")
            ]
        )
        .await,
        303
    );
    let case = app.stores.requests.request(id).await.unwrap().unwrap();
    let holidays = candour_core::requests::BankHolidays::new(
        candour_core::requests::Region::EnglandAndWales,
        &[],
    );
    // Received 1 June; three months and the five days it stood: 6 September 2026, a
    // Sunday, so Monday 7 September.
    assert_eq!(
        case.timeline.due(&holidays),
        Due::By {
            date: date!(2026 - 09 - 07),
            extended: true
        }
    );
    assert_eq!(
        step(
            &app,
            id,
            &officer,
            &[("action", "refuse"), ("reasons", "Manifestly excessive")]
        )
        .await,
        303
    );
    // Seven messages: the confirmation link, the acknowledgement, two staff registrations,
    // the question, the extension and the refusal.
    let mail = app.sink.wait_for(7).await;
    let to_robin: Vec<String> = mail
        .iter()
        .filter(|m| m.to == ["robin@example.org"])
        .map(|m| decode_qp(&m.data))
        .collect();
    assert_eq!(to_robin.len(), 5);
    assert!(
        to_robin
            .iter()
            .any(|t| t.contains("Records in three systems"))
    );
    let refusal = to_robin
        .iter()
        .find(|t| t.contains("Manifestly excessive"))
        .expect("the refusal");
    assert!(refusal.contains("Information Commissioner"), "{refusal}");
    let case = app.stores.requests.request(id).await.unwrap().unwrap();
    assert_eq!(case.status, Status::Refused);
    assert_eq!(case.closed_at, Some(app.clock.now()));
    // A closed case takes no more steps.
    assert_eq!(step(&app, id, &officer, &[("action", "answer")]).await, 422);
    assert!(
        app.stores
            .requests
            .open_requests()
            .await
            .unwrap()
            .is_empty()
    );

    let audit = app.stores.audit.recent(50).await.unwrap();
    for code in [
        "request.viewed",
        "request.clarification-asked",
        "request.extended",
        "request.refused",
    ] {
        assert!(audit.iter().any(|e| e.action == code), "{code}");
    }
    let (_, page, _) = app.page(&case_path, &officer).await;
    assert!(page.contains("Records in three systems"));
    assert!(page.contains("Asked the person to clarify"));
}

#[tokio::test]
async fn an_unconfirmed_request_is_no_case_for_staff() {
    let app = spawn_app().await;
    ask(&app, ASK, "").await;
    app.sink.wait_for(1).await;
    let officer = app.staff("dpo@example.org", Role::PrivacyOfficer).await;
    let res = app.get_with_cookie("/admin/requests/1", &officer).await;
    assert_eq!(res.status(), 404);
    assert_eq!(
        app.get_with_cookie("/admin/requests/999", &officer)
            .await
            .status(),
        404
    );
}

#[tokio::test]
async fn the_case_page_offers_an_extension_only_while_the_first_month_runs() {
    let app = spawn_app().await;
    ask(&app, ASK, "").await;
    confirm(&app, 0).await;
    let id = app.stores.requests.open_requests().await.unwrap()[0].id;
    let officer = app.staff("dpo@example.org", Role::PrivacyOfficer).await;
    let case_path = format!("/admin/requests/{id}");
    let (_, page, _) = app.page(&case_path, &officer).await;
    assert!(page.contains("Extend the time"), "{page}");
    assert!(page.contains("Start work on it"));
    // Received 1 June: the first month ends on 1 July.
    app.clock.advance(time::Duration::days(31));
    let officer = app.sign_in("dpo@example.org", PASSWORD).await;
    let (_, page, _) = app.page(&case_path, &officer).await;
    assert!(!page.contains("Extend the time"), "{page}");
    assert!(page.contains("1 day overdue"), "{page}");
    assert!(page.contains("Mark as answered"));
}

/// The confirmation link sent to `email`, waiting for it: mail goes out in the background,
/// so two requests' messages may arrive in either order, and some kinds send more once
/// confirmed; it is found by its address rather than its place.
async fn confirmation_link(app: &TestApp, email: &str) -> String {
    for _ in 0..20 {
        let messages = app.sink.messages().await;
        if let Some(at) = messages
            .iter()
            .rposition(|m| m.to == [email.to_owned()] && m.data.contains("/requests/confirm"))
        {
            let link = app.emailed_link(at, "http").await;
            assert!(link.contains("/requests/confirm?token="), "{email}: {link}");
            return link;
        }
        app.sink.wait_for(messages.len() + 1).await;
    }
    panic!("no confirmation email to {email}");
}

#[tokio::test]
async fn every_kind_of_request_becomes_a_case_of_its_kind_once_confirmed() {
    let app = spawn_app().await;
    let kinds: &[(&str, &[(&str, &str)])] = &[
        ("access", &[]),
        (
            "correction",
            &[("correction_field", "postcode"), ("correction", "NM1 2AB")],
        ),
        ("erasure", &[]),
        ("restriction", &[]),
        ("portability", &[]),
        ("objection", &[("marketing", "post")]),
        ("other", &[("details", "Which cameras recorded my car?")]),
    ];
    for (kind, more) in kinds {
        let email = format!("{kind}@example.org");
        let mut fields = vec![("kind", *kind), ("name", "Sam Person"), ("email", &email)];
        fields.extend_from_slice(more);
        let (status, html) = ask(&app, &fields, "").await;
        assert_eq!(status, 200, "{kind}: {html}");
        assert!(html.contains("Check your email"), "{kind}: {html}");
        let link = confirmation_link(&app, &email).await;
        let res = app.press_link_button(&link, "/requests/confirm").await;
        assert_eq!(res.status(), 200, "{kind}");
        let case = app
            .stores
            .requests
            .open_requests()
            .await
            .unwrap()
            .into_iter()
            .find(|c| c.email == email)
            .unwrap_or_else(|| panic!("{kind}: no case"));
        assert_eq!(case.kind.code(), *kind);
        assert_eq!(case.status, candour_core::requests::Status::Received);
    }
    assert_eq!(
        app.stores.requests.open_requests().await.unwrap().len(),
        kinds.len()
    );
}

#[tokio::test]
async fn a_confirmation_link_works_until_it_expires_and_an_expired_one_makes_no_case() {
    let app = spawn_app().await;
    let hours = i64::from(app.state.config().requests.confirm_link_hours);
    ask(&app, ASK, "").await;
    let late = [
        ("kind", "erasure"),
        ("name", "Robin Example"),
        ("email", "robin.late@example.org"),
    ];
    ask(&app, &late, "").await;
    let first = confirmation_link(&app, "robin@example.org").await;
    let second = confirmation_link(&app, "robin.late@example.org").await;
    app.clock.advance(time::Duration::hours(hours - 1));
    let res = app.press_link_button(&first, "/requests/confirm").await;
    assert_eq!(res.status(), 200, "within its time");
    app.clock.advance(time::Duration::hours(2));
    let res = app.press_link_button(&second, "/requests/confirm").await;
    assert_eq!(res.status(), 400);
    assert!(
        res.text()
            .await
            .unwrap()
            .contains("The link has expired, has already been used")
    );
    let open = app.stores.requests.open_requests().await.unwrap();
    assert_eq!(open.len(), 1);
    assert_eq!(open[0].email, "robin@example.org");
}

#[tokio::test]
async fn a_signed_in_person_sees_only_their_own_requests() {
    let app = spawn_app().await;
    app.register_verified("robin@example.org", PASSWORD).await;
    app.register_verified("kim@example.org", PASSWORD).await;
    let robin = app.sign_in("robin@example.org", PASSWORD).await;
    let kim = app.sign_in("kim@example.org", PASSWORD).await;
    let (status, _) = ask(&app, ASK, &robin).await;
    assert_eq!(status, 200);
    let id = app.stores.requests.open_requests().await.unwrap()[0].id;
    let (status, mine, _) = app.page("/requests/mine", &kim).await;
    assert_eq!(status, 200);
    assert!(!mine.contains("/requests/status?token="), "{mine}");
    assert!(
        !mine.contains("A copy of the data you hold about me"),
        "{mine}"
    );
    // Nor does the console open to someone who is not staff.
    let res = app
        .get_with_cookie(&format!("/admin/requests/{id}"), &kim)
        .await;
    assert!(
        matches!(res.status().as_u16(), 403 | 404),
        "{}",
        res.status()
    );
}
