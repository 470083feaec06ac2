//! People, forms, the consent ledger, the preference centre and imports, over HTTP.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use candour_core::Clock;
use candour_core::account::{EmailAddress, Role};
use candour_core::config::{Config, MarketingConsent, PurposeConfig, Topic};
use candour_core::forms::{Field, FieldKind, FormDefinition, PersonAttr};
use candour_core::people::{Method, has_consent};
use candour_core::purposes::{Channel, LawfulBasis};
use common::*;

fn with_purposes(c: &mut Config) {
    c.purposes = vec![
        PurposeConfig {
            id: "news".into(),
            name: "News and appeals".into(),
            description: "Emails about our work.".into(),
            data: "Your email address.".into(),
            lawful_basis: LawfulBasis::Consent,
            retention_days: 730,
            channels: vec![Channel::Email, Channel::Post],
            direct_marketing: true,
            consent_label: "Send me news and appeals".into(),
        },
        PurposeConfig {
            id: "records".into(),
            name: "Records".into(),
            description: "Keeping a record.".into(),
            data: "What you send.".into(),
            lawful_basis: LawfulBasis::PublicTask,
            retention_days: 365,
            channels: vec![],
            direct_marketing: false,
            consent_label: String::new(),
        },
    ];
    c.topics = vec![
        Topic {
            id: "road-safety".into(),
            label: "Road safety".into(),
        },
        Topic {
            id: "fraud".into(),
            label: "Fraud".into(),
        },
    ];
}

fn q(key: &str, label: &str, kind: FieldKind) -> Field {
    Field {
        key: key.into(),
        label: label.into(),
        hint: String::new(),
        kind,
        required: false,
        choices: vec![],
        saves_to: None,
        purpose: None,
    }
}

fn signup() -> FormDefinition {
    FormDefinition {
        title: "Stay in touch".into(),
        intro: "Tell us how to reach you.".into(),
        fields: vec![
            Field {
                required: true,
                saves_to: Some(PersonAttr::Email),
                ..q("q1", "Email address", FieldKind::Email)
            },
            Field {
                saves_to: Some(PersonAttr::Name),
                ..q("q2", "Name", FieldKind::ShortText)
            },
            Field {
                saves_to: Some(PersonAttr::Postcode),
                ..q("q3", "Postcode", FieldKind::Postcode)
            },
            Field {
                saves_to: Some(PersonAttr::Phone),
                ..q("q4", "Telephone", FieldKind::Phone)
            },
            Field {
                purpose: Some("news".into()),
                ..q("q5", "News", FieldKind::Consent)
            },
            Field {
                required: true,
                choices: vec!["Yes".into(), "No".into()],
                ..q("q6", "Have you met us?", FieldKind::SingleChoice)
            },
        ],
        purposes: vec!["records".into(), "news".into()],
    }
}

async fn app_with_form() -> (TestApp, i64) {
    let app = spawn_with(with_purposes).await;
    let id = app
        .stores
        .forms
        .create_form(&signup(), app.clock.now())
        .await
        .unwrap();
    (app, id)
}

fn email(s: &str) -> EmailAddress {
    EmailAddress::parse(s).unwrap()
}

impl TestApp {
    async fn submit(&self, form: i64, fields: &[(&str, &str)]) -> (u16, String) {
        let (status, html, token) = self.page(&format!("/forms/{form}"), "").await;
        assert_eq!(status, 200, "{html}");
        let version = hidden(&html, "version").unwrap();
        let mut body = vec![("csrf", token.as_str()), ("version", version.as_str())];
        body.extend_from_slice(fields);
        let res = self.post_form(&format!("/forms/{form}"), &body, &[]).await;
        (res.status().as_u16(), res.text().await.unwrap())
    }

    /// Submit, then confirm the consent from the emailed link, as the address's owner would.
    async fn submit_confirmed(&self, form: i64, fields: &[(&str, &str)]) {
        let before = self.sink.messages().await.len();
        let (status, page) = self.submit(form, fields).await;
        assert_eq!(status, 200, "{page}");
        let (status, page) = self.confirm_from_email(before).await;
        assert_eq!(status, 200, "{page}");
    }

    /// Open the confirmation link in the first email after the `before` already received and
    /// press its button; returns the answer's status and page.
    async fn confirm_from_email(&self, before: usize) -> (u16, String) {
        let link = self.emailed_link(before, "http://").await;
        assert!(link.contains("/preferences/confirm?token="), "{link}");
        // Opening the link only shows a button: a scanner that follows it confirms nothing.
        let (status, html, token) = self.page(&path_of(&link), "").await;
        assert_eq!(status, 200);
        assert!(html.contains("Confirm what you agreed to"));
        let secret = hidden(&html, "token").unwrap();
        let res = self
            .post_form(
                "/preferences/confirm",
                &[("csrf", &token), ("token", &secret)],
                &[],
            )
            .await;
        (res.status().as_u16(), res.text().await.unwrap())
    }

    async fn person(&self, address: &str) -> Option<candour_core::people::Person> {
        self.stores
            .people
            .person_by_email(&email(address))
            .await
            .unwrap()
    }
}

#[tokio::test]
async fn a_form_stores_the_person_their_answers_and_only_ticked_consents() {
    let (app, form) = app_with_form().await;
    let (_, html, _) = app.page(&format!("/forms/{form}"), "").await;
    // Opt-in boxes are never ticked for the visitor.
    assert!(html.contains("Send me news and appeals by email"));
    assert!(!html.contains("checked"), "no box is ticked by default");
    assert!(html.contains("autocomplete=\"email\""));
    let (status, page) = app
        .submit(
            form,
            &[
                ("q1", "Jo@Example.org"),
                ("q2", "Jo Bloggs"),
                ("q3", "sw1a 1aa"),
                ("q4", "01632 960 001"),
                ("q5", "post"),
                ("q6", "Yes"),
            ],
        )
        .await;
    assert_eq!(status, 200, "{page}");
    assert!(
        page.contains("We have sent an email to jo@example.org"),
        "{page}"
    );
    let jo = app.person("jo@example.org").await.unwrap();
    assert_eq!(jo.details.name, "Jo Bloggs");
    assert_eq!(jo.details.postcode.unwrap().as_str(), "SW1A 1AA");
    // Anyone could have typed the address: nothing counts until the address confirms it.
    let events = app.stores.ledger.consent_events(jo.id).await.unwrap();
    assert!(events.is_empty(), "{events:?}");
    let mail = app.sink.wait_for(1).await;
    assert_eq!(mail[0].to, vec!["jo@example.org".to_owned()]);
    let text = decode_qp(&mail[0].data);
    assert!(text.contains("  - News and appeals, by post\r\n"), "{text}");
    assert!(text.contains("\r\nTo confirm that it was you, open this link within 7 days"));
    let submitted = app.clock.now();
    let (status, done) = app.confirm_from_email(0).await;
    assert_eq!(status, 200, "{done}");
    assert!(done.contains("You have confirmed what you agreed to"));
    let events = app.stores.ledger.consent_events(jo.id).await.unwrap();
    assert_eq!(events.len(), 1);
    assert!(has_consent(&events, "news", Some(Channel::Post)));
    assert!(!has_consent(&events, "news", Some(Channel::Email)));
    assert_eq!(
        events[0].method,
        Method::FormConfirmed {
            form,
            version: 1,
            submitted: submitted.unix_timestamp(),
        }
    );
    assert_eq!(
        events[0].wording.as_ref().unwrap().text,
        "Send me news and appeals by post"
    );
    // The link works once.
    let (status, again) = app.confirm_from_email(0).await;
    assert_eq!(status, 400);
    assert!(again.contains("cannot be used"));
    assert_eq!(
        app.stores.ledger.consent_events(jo.id).await.unwrap().len(),
        1
    );
    let responses = app.stores.forms.responses(form).await.unwrap();
    assert_eq!(responses.len(), 1);
    assert_eq!(responses[0].person, Some(jo.id));
}

#[tokio::test]
async fn bad_answers_are_named_and_what_was_typed_is_kept() {
    let (app, form) = app_with_form().await;
    let (status, html) = app
        .submit(
            form,
            &[
                ("q1", "not-an-email"),
                ("q2", "Sam <b>Smith</b>"),
                ("q3", "XYZ 123"),
                ("q4", "call me"),
                ("q5", "email"),
            ],
        )
        .await;
    assert_eq!(status, 422);
    assert!(html.contains("There is a problem"));
    assert!(
        html.contains("href=\"#q1\""),
        "the summary links to the field"
    );
    assert!(
        html.contains("href=\"#q6-0\""),
        "a choice error links to its first box"
    );
    assert!(html.contains("Enter an email address in the correct format"));
    assert!(html.contains("Enter a real UK postcode"));
    assert!(html.contains("Enter a telephone number"));
    assert!(html.contains("value=\"not-an-email\""));
    assert!(html.contains("Sam &#60;b&#62;Smith&#60;/b&#62;") || html.contains("Sam &lt;b&gt;"));
    assert!(
        html.contains("value=\"email\" checked"),
        "the ticked box stays ticked"
    );
    assert!(html.starts_with("<!DOCTYPE html>") || html.contains("<title>Error:"));
    assert_eq!(app.stores.people.count_people().await.unwrap(), 0);
    assert!(app.stores.forms.responses(form).await.unwrap().is_empty());
}

#[tokio::test]
async fn closed_changed_unknown_and_forged_submissions_store_nothing() {
    let (app, form) = app_with_form().await;
    let (_, html, token) = app.page(&format!("/forms/{form}"), "").await;
    assert!(html.contains("name=\"version\" value=\"1\""));
    let good = |t: &str| {
        vec![
            ("csrf".to_owned(), t.to_owned()),
            ("version".to_owned(), "1".to_owned()),
            ("q1".to_owned(), "kit@example.org".to_owned()),
            ("q6".to_owned(), "No".to_owned()),
        ]
    };
    let post = |body: Vec<(String, String)>| {
        let app = &app;
        async move {
            let pairs: Vec<(&str, &str)> =
                body.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            app.post_form(&format!("/forms/{form}"), &pairs, &[])
                .await
                .status()
                .as_u16()
        }
    };
    // No form token, or a wrong one.
    assert_eq!(post(good("")).await, 403);
    assert_eq!(post(good("forged")).await, 403);
    // A field the form does not have.
    let mut extra = good(&token);
    extra.push(("role".into(), "admin".into()));
    assert_eq!(post(extra).await, 422);
    // The form changed after it was shown: a response exists, so saving makes version 2.
    app.stores
        .forms
        .submit_response(&candour_core::forms::NewResponse {
            form,
            version: 1,
            answers: &[],
            email: None,
            patch: &Default::default(),
            consents: &[],
            pending: None,
            purposes: &[],
            at: app.clock.now(),
        })
        .await
        .unwrap();
    let mut v2 = signup();
    v2.title = "Stay in touch (new)".into();
    app.stores
        .forms
        .save_form(form, &v2, app.clock.now())
        .await
        .unwrap();
    assert_eq!(post(good(&token)).await, 409);
    // Closed.
    app.stores.forms.set_form_open(form, false).await.unwrap();
    let mut current = good(&token);
    current[1].1 = "2".into();
    assert_eq!(post(current).await, 410);
    assert_eq!(app.get(&format!("/forms/{form}")).await.status(), 410);
    // Unknown.
    assert_eq!(app.get("/forms/999").await.status(), 404);
    assert_eq!(app.get("/forms/abc").await.status(), 404);
    assert!(app.person("kit@example.org").await.is_none());
    assert_eq!(app.stores.forms.responses(form).await.unwrap().len(), 1);
}

#[tokio::test]
async fn a_signed_in_person_with_a_confirmed_address_needs_no_extra_step() {
    let (app, form) = app_with_form().await;
    app.register_verified("pat@example.org", PASSWORD).await;
    let cookie = app.sign_in("pat@example.org", PASSWORD).await;
    let sent = app.sink.messages().await.len();
    let (status, html, token) = app.page(&format!("/forms/{form}"), &cookie).await;
    assert_eq!(status, 200);
    let version = hidden(&html, "version").unwrap();
    // Their own address: it counts at once.
    let res = app
        .post_form(
            &format!("/forms/{form}"),
            &[
                ("csrf", &token),
                ("version", &version),
                ("q1", "pat@example.org"),
                ("q5", "email"),
                ("q6", "Yes"),
            ],
            &[("cookie", &cookie)],
        )
        .await;
    assert_eq!(res.status(), 200);
    assert!(
        res.text()
            .await
            .unwrap()
            .contains("We have recorded what you agreed to")
    );
    let pat = app.person("pat@example.org").await.unwrap();
    let events = app.stores.ledger.consent_events(pat.id).await.unwrap();
    assert!(has_consent(&events, "news", Some(Channel::Email)));
    assert_eq!(events[0].method, Method::Form { form, version: 1 });
    // Someone else's address, even when signed in: the other address confirms.
    let res = app
        .post_form(
            &format!("/forms/{form}"),
            &[
                ("csrf", &token),
                ("version", &version),
                ("q1", "friend@example.org"),
                ("q5", "email"),
                ("q6", "Yes"),
            ],
            &[("cookie", &cookie)],
        )
        .await;
    assert_eq!(res.status(), 200);
    let friend = app.person("friend@example.org").await.unwrap();
    assert!(
        app.stores
            .ledger
            .consent_events(friend.id)
            .await
            .unwrap()
            .is_empty()
    );
    let mail = app.sink.wait_for(sent + 1).await;
    assert_eq!(mail[sent].to, vec!["friend@example.org".to_owned()]);
}

#[tokio::test]
async fn the_old_tick_to_refuse_box_is_available_and_records_what_it_said() {
    let app = spawn_with(|c| {
        with_purposes(c);
        c.people.marketing_consent = MarketingConsent::OptOutBox;
    })
    .await;
    let form = app
        .stores
        .forms
        .create_form(&signup(), app.clock.now())
        .await
        .unwrap();
    let (_, html, _) = app.page(&format!("/forms/{form}"), "").await;
    assert!(html.contains("do NOT want"));
    app.submit_confirmed(
        form,
        &[("q1", "al@example.org"), ("q5", "email"), ("q6", "No")],
    )
    .await;
    let al = app.person("al@example.org").await.unwrap();
    let events = app.stores.ledger.consent_events(al.id).await.unwrap();
    assert!(!has_consent(&events, "news", Some(Channel::Email)));
    assert!(has_consent(&events, "news", Some(Channel::Post)));
    let post = events
        .iter()
        .find(|e| e.channel == Some(Channel::Post))
        .unwrap();
    assert!(post.wording.as_ref().unwrap().text.contains("do NOT want"));
}

#[tokio::test]
async fn the_database_going_away_gives_a_clear_page_and_writes_nothing() {
    let (app, form) = app_with_form().await;
    let (_, _, token) = app.page(&format!("/forms/{form}"), "").await;
    app.store.close().await;
    let res = app
        .post_form(
            &format!("/forms/{form}"),
            &[
                ("csrf", &token),
                ("version", "1"),
                ("q1", "down@example.org"),
                ("q6", "No"),
            ],
            &[],
        )
        .await;
    assert_eq!(res.status(), 503);
    let html = res.text().await.unwrap();
    assert!(html.contains("unavailable for a moment"), "{html}");
    // A second instance on the same database finds nothing half-written.
    let again = spawn_on(app.dir.clone(), app.db_url.clone(), with_purposes).await;
    assert!(again.person("down@example.org").await.is_none());
    assert!(again.stores.forms.responses(form).await.unwrap().is_empty());
}

/// Open the preference centre from an emailed link; returns the visit cookie pair.
async fn open_from_email(app: &TestApp, address: &str) -> String {
    let before = app.sink.messages().await.len();
    let (_, _, token) = app.page("/preferences", "").await;
    let res = app
        .post_form(
            "/preferences/link",
            &[("csrf", &token), ("email", address)],
            &[],
        )
        .await;
    assert_eq!(res.status(), 200);
    assert!(res.text().await.unwrap().contains("Check your email"));
    let link = app.emailed_link(before, "http://").await;
    assert!(link.contains("/preferences/open?token="));
    // Opening the link only shows a button: a scanner that follows it uses nothing up.
    let (status, html, token) = app.page(&path_of(&link), "").await;
    assert_eq!(status, 200);
    let secret = hidden(&html, "token").unwrap();
    let res = app
        .post_form(
            "/preferences/open",
            &[("csrf", &token), ("token", &secret)],
            &[],
        )
        .await;
    assert_eq!(res.status(), 303);
    let cookie = cookie_pair(&res, "candour_preferences").expect("a visit cookie");
    let header = set_cookie_header(&res, "candour_preferences").unwrap();
    assert!(
        header.contains("HttpOnly") && header.contains("Max-Age=1800"),
        "{header}"
    );
    // The link works once.
    let res = app
        .post_form(
            "/preferences/open",
            &[("csrf", &token), ("token", &secret)],
            &[],
        )
        .await;
    assert_eq!(res.status(), 400);
    assert!(res.text().await.unwrap().contains("cannot be used"));
    cookie
}

#[tokio::test]
async fn an_emailed_link_opens_the_preference_centre_where_withdrawing_is_one_click() {
    let (app, form) = app_with_form().await;
    app.submit_confirmed(
        form,
        &[("q1", "jo@example.org"), ("q5", "email"), ("q6", "Yes")],
    )
    .await;
    // An unknown address gets the same answer and no email.
    let (_, _, token) = app.page("/preferences", "").await;
    let before = app.sink.messages().await.len();
    let res = app
        .post_form(
            "/preferences/link",
            &[("csrf", &token), ("email", "nobody@example.org")],
            &[],
        )
        .await;
    assert!(res.text().await.unwrap().contains("Check your email"));
    let res = app
        .post_form(
            "/preferences/link",
            &[("csrf", &token), ("email", "not an address")],
            &[],
        )
        .await;
    assert_eq!(res.status(), 422);
    let cookie = open_from_email(&app, "jo@example.org").await;
    assert_eq!(app.sink.messages().await.len(), before + 1);
    let (status, html, token) = app.page("/preferences", &cookie).await;
    assert_eq!(status, 200);
    assert!(html.contains("jo@example.org"));
    assert!(html.contains("Agreed since"));
    assert!(
        html.contains(
            "Withdraw<span class=\"visually-hidden\">: Send me news and appeals by email"
        )
    );
    let res = app
        .post_form(
            "/preferences/consent",
            &[
                ("csrf", &token),
                ("purpose", "news"),
                ("channel", "email"),
                ("grant", "no"),
            ],
            &[("cookie", &cookie)],
        )
        .await;
    assert_eq!(res.status(), 303);
    let jo = app.person("jo@example.org").await.unwrap();
    let events = app.stores.ledger.consent_events(jo.id).await.unwrap();
    assert_eq!(events.len(), 2);
    assert!(!has_consent(&events, "news", Some(Channel::Email)));
    assert_eq!(events[1].method, Method::PreferenceCentre);
    let (_, html, _) = app.page("/preferences?done=withdrawn", &cookie).await;
    assert!(html.contains("Your consent has been withdrawn"));
    assert!(html.contains("Preference centre"), "the history says how");
    // Interests, from the topics only.
    let res = app
        .post_form(
            "/preferences/interests",
            &[("csrf", &token), ("interests", "fraud")],
            &[("cookie", &cookie)],
        )
        .await;
    assert_eq!(res.status(), 303);
    let jo = app.person("jo@example.org").await.unwrap();
    assert_eq!(jo.details.interests, vec!["fraud".to_owned()]);
    let res = app
        .post_form(
            "/preferences/interests",
            &[("csrf", &token), ("interests", "<script>")],
            &[("cookie", &cookie)],
        )
        .await;
    assert_eq!(res.status(), 422);
    // Purposes without consent, channels a purpose does not use, and forged visits: refused.
    for (purpose, channel) in [("records", ""), ("news", "fax"), ("nope", "email")] {
        let res = app
            .post_form(
                "/preferences/consent",
                &[
                    ("csrf", &token),
                    ("purpose", purpose),
                    ("channel", channel),
                    ("grant", "yes"),
                ],
                &[("cookie", &cookie)],
            )
            .await;
        assert_eq!(res.status(), 422, "{purpose} {channel}");
    }
    let forged = cookie.replace(&format!("={}.", jo.id), &format!("={}.", jo.id + 1));
    let (_, html, _) = app.page("/preferences", &forged).await;
    assert!(
        html.contains("Email me a link"),
        "a forged visit is no visit"
    );
    let (_, html, _) = app.page("/preferences/open?token=garbage", "").await;
    assert!(html.contains("cannot be used"));
}

#[tokio::test]
async fn an_objection_is_absolute_until_the_person_agrees_again() {
    let (app, form) = app_with_form().await;
    app.submit_confirmed(
        form,
        &[("q1", "al@example.org"), ("q5", "email"), ("q6", "No")],
    )
    .await;
    let cookie = open_from_email(&app, "al@example.org").await;
    let (_, html, token) = app.page("/preferences", &cookie).await;
    assert!(html.contains("No marketing by email"));
    let res = app
        .post_form(
            "/preferences/object",
            &[("csrf", &token), ("channel", "email")],
            &[("cookie", &cookie)],
        )
        .await;
    assert_eq!(res.status(), 303);
    let al = app.person("al@example.org").await.unwrap();
    assert_eq!(
        app.stores
            .ledger
            .suppressed_channels(&al.email)
            .await
            .unwrap(),
        vec![Channel::Email]
    );
    assert!(!has_consent(
        &app.stores.ledger.consent_events(al.id).await.unwrap(),
        "news",
        Some(Channel::Email)
    ));
    // Staff cannot sign them up again, whatever they were told.
    let staff = app
        .staff("officer@testshire.example", Role::PrivacyOfficer)
        .await;
    let (_, html, token) = app.page(&format!("/admin/people/{}", al.id), &staff).await;
    assert!(html.contains("Objections to marketing</dt><dd>email"));
    let res = app
        .post_form(
            &format!("/admin/people/{}/consent", al.id),
            &[
                ("csrf", &token),
                ("consent", "news|email"),
                ("grant", "yes"),
                ("evidence", "call"),
                ("note", "Call log 42"),
            ],
            &[("cookie", &staff)],
        )
        .await;
    assert_eq!(res.status(), 409);
    let html = res.text().await.unwrap();
    assert!(html.contains("objected to direct marketing by email"));
    assert!(
        html.contains("value=\"Call log 42\""),
        "what was typed is kept"
    );
    assert!(html.contains("value=\"news|email\" selected"));
    assert!(html.contains("value=\"yes\" checked"));
    // Nor can anyone who types the address into a public form: the tick is dropped, the
    // objection stands, and the page says nothing that would reveal it.
    let (status, page) = app
        .submit(
            form,
            &[
                ("q1", "al@example.org"),
                ("q2", "Not Al"),
                ("q5", "email"),
                ("q6", "No"),
            ],
        )
        .await;
    assert_eq!(status, 200);
    assert!(!page.contains("objected"));
    assert_eq!(
        app.stores
            .ledger
            .suppressed_channels(&al.email)
            .await
            .unwrap(),
        vec![Channel::Email]
    );
    let events = app.stores.ledger.consent_events(al.id).await.unwrap();
    assert!(!has_consent(&events, "news", Some(Channel::Email)));
    // A form fills in what the record lacks, and changes nothing already held.
    assert_eq!(
        app.person("al@example.org").await.unwrap().details.name,
        "Not Al"
    );
    app.submit(
        form,
        &[
            ("q1", "al@example.org"),
            ("q2", "Someone Else"),
            ("q6", "No"),
        ],
    )
    .await;
    assert_eq!(
        app.person("al@example.org").await.unwrap().details.name,
        "Not Al"
    );
    // The person, in the preference centre reached through their own inbox, can agree again.
    let cookie = open_from_email(&app, "al@example.org").await;
    let (_, _, token) = app.page("/preferences", &cookie).await;
    let res = app
        .post_form(
            "/preferences/consent",
            &[
                ("csrf", &token),
                ("purpose", "news"),
                ("channel", "email"),
                ("grant", "yes"),
            ],
            &[("cookie", &cookie)],
        )
        .await;
    assert_eq!(res.status(), 303);
    assert!(
        app.stores
            .ledger
            .suppressed_channels(&al.email)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(has_consent(
        &app.stores.ledger.consent_events(al.id).await.unwrap(),
        "news",
        Some(Channel::Email)
    ));
}

#[tokio::test]
async fn confirming_an_account_links_the_record_held_for_its_address() {
    let (app, form) = app_with_form().await;
    app.submit(form, &[("q1", "kim@example.org"), ("q6", "No")])
        .await;
    assert_eq!(app.person("kim@example.org").await.unwrap().account, None);
    app.register_verified("kim@example.org", PASSWORD).await;
    assert!(
        app.person("kim@example.org")
            .await
            .unwrap()
            .account
            .is_some()
    );
}

#[tokio::test]
async fn signed_in_people_use_the_preference_centre_without_a_link() {
    let app = spawn_with(with_purposes).await;
    app.register_verified("sam@example.org", PASSWORD).await;
    let cookie = app.sign_in("sam@example.org", PASSWORD).await;
    let (status, html, token) = app.page("/preferences", &cookie).await;
    assert_eq!(status, 200);
    assert!(html.contains("sam@example.org"));
    assert!(!html.contains("Finish"), "no visit to end when signed in");
    let res = app
        .post_form(
            "/preferences/consent",
            &[
                ("csrf", &token),
                ("purpose", "news"),
                ("channel", "post"),
                ("grant", "yes"),
            ],
            &[("cookie", &cookie)],
        )
        .await;
    assert_eq!(res.status(), 303);
    let sam = app.person("sam@example.org").await.unwrap();
    assert!(sam.account.is_some(), "linked to the account");
    assert!(has_consent(
        &app.stores.ledger.consent_events(sam.id).await.unwrap(),
        "news",
        Some(Channel::Post)
    ));
}

#[tokio::test]
async fn staff_views_changes_and_exports_are_audited_and_erasure_keeps_only_the_objection() {
    let (app, form) = app_with_form().await;
    app.submit(
        form,
        &[
            ("q1", "erin@example.org"),
            ("q2", "=HYPERLINK(\"http://evil.example\")"),
            ("q6", "No"),
        ],
    )
    .await;
    let erin = app.person("erin@example.org").await.unwrap();
    let editor = app.staff("editor@testshire.example", Role::Editor).await;
    assert_eq!(
        app.get_with_cookie(&format!("/admin/people/{}", erin.id), &editor)
            .await
            .status(),
        403,
        "editors build forms; they do not browse people"
    );
    let staff = app
        .staff("officer@testshire.example", Role::PrivacyOfficer)
        .await;
    assert_eq!(
        app.get_with_cookie("/admin/forms/new", &staff)
            .await
            .status(),
        403,
        "privacy officers read responses; they do not build forms"
    );
    let (status, html, _) = app.page("/admin/people?q=ERIN", &staff).await;
    assert_eq!(status, 200);
    assert!(html.contains("erin@example.org"));
    let (status, html, token) = app
        .page(&format!("/admin/people/{}", erin.id), &staff)
        .await;
    assert_eq!(status, 200);
    assert!(
        html.contains("=HYPERLINK(&#34;http://evil.example&#34;)")
            || html.contains("=HYPERLINK(&quot;")
    );
    let res = app
        .post_form(
            &format!("/admin/people/{}", erin.id),
            &[
                ("csrf", &token),
                ("name", "Erin Jones"),
                ("job_title", ""),
                ("phone", "0800 not"),
                ("postal_address", ""),
                ("postcode", ""),
            ],
            &[("cookie", &staff)],
        )
        .await;
    assert_eq!(res.status(), 422);
    assert!(
        res.text()
            .await
            .unwrap()
            .contains("Enter a telephone number")
    );
    let res = app
        .post_form(
            &format!("/admin/people/{}", erin.id),
            &[
                ("csrf", &token),
                ("name", "Erin Jones"),
                ("job_title", "Farmer"),
                ("phone", ""),
                ("postal_address", ""),
                ("postcode", "nm1 2ab"),
                ("interests", "road-safety"),
            ],
            &[("cookie", &staff)],
        )
        .await;
    assert_eq!(res.status(), 303);
    let res = app
        .post_form(
            &format!("/admin/people/{}/object", erin.id),
            &[
                ("csrf", &token),
                ("channel", "post"),
                ("evidence", "letter"),
                ("note", "Letter of 3 March, ref NM-7"),
            ],
            &[("cookie", &staff)],
        )
        .await;
    assert_eq!(res.status(), 303);
    let res = app
        .post_form(
            &format!("/admin/people/{}/export", erin.id),
            &[
                ("csrf", &token),
                ("for", "internal"),
                ("for_purpose", "Checking the record"),
            ],
            &[("cookie", &staff)],
        )
        .await;
    assert_eq!(res.status(), 200);
    assert!(
        res.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .contains("attachment")
    );
    let export: serde_json::Value = res.json().await.unwrap();
    assert_eq!(export["people"][0]["name"], "Erin Jones");
    assert_eq!(export["form_responses"].as_array().unwrap().len(), 1);
    // Everything the person would receive, reviewed once: both backends must give exactly this.
    insta::assert_snapshot!(
        "a_persons_export",
        serde_json::to_string_pretty(&export).unwrap()
    );
    // Erasure needs the box ticked.
    let res = app
        .post_form(
            &format!("/admin/people/{}/erase", erin.id),
            &[("csrf", &token)],
            &[("cookie", &staff)],
        )
        .await;
    assert_eq!(res.status(), 422);
    let res = app
        .post_form(
            &format!("/admin/people/{}/erase", erin.id),
            &[("csrf", &token), ("confirm", "yes")],
            &[("cookie", &staff)],
        )
        .await;
    assert_eq!(res.status(), 303);
    assert!(app.person("erin@example.org").await.is_none());
    assert_eq!(
        app.stores
            .ledger
            .suppressed_channels(&email("erin@example.org"))
            .await
            .unwrap(),
        vec![Channel::Post]
    );
    let actions: Vec<String> = app
        .stores
        .audit
        .recent(50)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.action)
        .collect();
    for a in [
        "people.searched",
        "person.viewed",
        "person.changed",
        "person.objection-recorded",
        "person.exported",
        "person.erased",
    ] {
        assert!(actions.iter().any(|x| x == a), "{a} is not in {actions:?}");
    }
}

#[tokio::test]
async fn staff_build_forms_and_export_responses_without_formulas() {
    let app = spawn_with(with_purposes).await;
    let editor = app.staff("editor@testshire.example", Role::Editor).await;
    let (status, html, token) = app.page("/admin/forms/new", &editor).await;
    assert_eq!(status, 200);
    assert!(html.contains("name=\"q1.label\""));
    // Only purposes a form's answers can serve are offered, not the site's own running.
    assert!(html.contains("value=\"records\""), "{html}");
    assert!(!html.contains("Running the website securely"), "{html}");
    assert!(!html.contains("value=\"staff-accountability\""));
    // A consent question without a required email question is refused, and kept as typed.
    let res = app
        .post_form(
            "/admin/forms",
            &[
                ("csrf", &token),
                ("title", "Survey <script>alert(1)</script>"),
                ("intro", ""),
                ("purposes", "records"),
                ("q1.label", "Keep me posted"),
                ("q1.kind", "consent"),
                ("q1.purpose", "news"),
                ("q1.position", "1"),
            ],
            &[("cookie", &editor)],
        )
        .await;
    assert_eq!(res.status(), 422);
    let html = res.text().await.unwrap();
    assert!(html.contains("needs a required email question"));
    assert!(html.contains("value=\"Keep me posted\""));
    assert!(!html.contains("<script>alert(1)"));
    let res = app
        .post_form(
            "/admin/forms",
            &[
                ("csrf", &token),
                ("title", "Survey <script>alert(1)</script>"),
                ("intro", ""),
                ("purposes", "records"),
                ("q1.label", "Your email"),
                ("q1.kind", "email"),
                ("q1.saves_to", "email"),
                ("q1.required", "yes"),
                ("q1.position", "1"),
                ("q2.label", "Which?"),
                ("q2.kind", "single-choice"),
                ("q2.choices", "=1+1\nPlain"),
                ("q2.required", "yes"),
                ("q2.position", "2"),
            ],
            &[("cookie", &editor)],
        )
        .await;
    assert_eq!(res.status(), 303, "{}", res.text().await.unwrap());
    let form = app.stores.forms.forms().await.unwrap()[0].clone();
    assert_eq!(form.definition.fields.len(), 2);
    // The preview is the public page, sending nothing, for staff only.
    let (status, preview, _) = app
        .page(&format!("/admin/forms/{}/preview", form.id), &editor)
        .await;
    assert_eq!(status, 200);
    assert!(preview.contains("Nothing sent from this page is stored"));
    assert!(preview.contains("name=\"q2\""), "{preview}");
    assert!(!preview.contains("method=\"post\" action=\"/forms/"));
    assert_eq!(
        app.get(&format!("/admin/forms/{}/preview", form.id))
            .await
            .status(),
        303
    );
    // Three blocks for new questions, so several go in at once.
    let (_, builder, _) = app
        .page(&format!("/admin/forms/{}", form.id), &editor)
        .await;
    assert_eq!(builder.matches("New question").count(), 3, "{builder}");
    let (_, public, _) = app.page(&format!("/forms/{}", form.id), "").await;
    assert!(!public.contains("<script>alert(1)"));
    assert!(public.contains("&#60;script&#62;") || public.contains("&lt;script&gt;"));
    let (status, _) = app
        .submit(form.id, &[("q1", "x@example.org"), ("q2", "=1+1")])
        .await;
    assert_eq!(status, 200);
    let (status, summary, _) = app
        .page(&format!("/admin/forms/{}/responses", form.id), &editor)
        .await;
    assert_eq!(status, 200);
    assert!(summary.contains("1 answer"));
    // Editors see the summaries, not the answers one by one, which can name people, and
    // cannot export them.
    assert!(!summary.contains("x@example.org"), "{summary}");
    assert!(!summary.contains("responses.csv"));
    let (_, _, token) = app
        .page(&format!("/admin/forms/{}/responses", form.id), &editor)
        .await;
    let res = app
        .post_form(
            &format!("/admin/forms/{}/responses.csv", form.id),
            &[
                ("csrf", token.as_str()),
                ("for", "internal"),
                ("for_purpose", "x"),
            ],
            &[("cookie", &editor)],
        )
        .await;
    assert_eq!(res.status(), 403);
    // A privacy officer reads and exports them; both are audited.
    let officer = app
        .staff("dpo@testshire.example", Role::PrivacyOfficer)
        .await;
    let (status, home, _) = app.page("/admin", &officer).await;
    assert_eq!(status, 200);
    assert!(home.contains("href=\"/admin/forms\""), "{home}");
    let (status, answers, _) = app
        .page(&format!("/admin/forms/{}/responses", form.id), &officer)
        .await;
    assert_eq!(status, 200);
    assert!(answers.contains("x@example.org"));
    // Building forms stays with editors and administrators.
    let (status, _, _) = app.page("/admin/forms/new", &officer).await;
    assert_eq!(status, 403);
    let (_, _, token) = app
        .page(&format!("/admin/forms/{}/responses", form.id), &officer)
        .await;
    let res = app
        .post_form(
            &format!("/admin/forms/{}/responses.csv", form.id),
            &[
                ("csrf", token.as_str()),
                ("for", "internal"),
                ("for_purpose", "Reading the survey"),
            ],
            &[("cookie", &officer)],
        )
        .await;
    assert_eq!(res.status(), 200);
    let csv = res.text().await.unwrap();
    assert!(csv.contains("'=1+1"), "{csv}");
    assert!(!csv.contains(",=1+1"));
    // Editing a form with responses makes a new version; the old answers stay.
    let (_, _, token) = app
        .page(&format!("/admin/forms/{}", form.id), &editor)
        .await;
    let res = app
        .post_form(
            &format!("/admin/forms/{}", form.id),
            &[
                ("csrf", &token),
                ("title", "Survey, second edition"),
                ("intro", ""),
                ("purposes", "records"),
                ("q1.label", "Your email"),
                ("q1.kind", "email"),
                ("q1.saves_to", "email"),
                ("q1.required", "yes"),
                ("q1.position", "1"),
                ("q2.label", "Which?"),
                ("q2.kind", "single-choice"),
                ("q2.choices", "=1+1\nPlain"),
                ("q2.remove", "yes"),
            ],
            &[("cookie", &editor)],
        )
        .await;
    assert_eq!(res.status(), 303);
    let record = app.stores.forms.form(form.id).await.unwrap().unwrap();
    assert_eq!(record.version, 2);
    assert_eq!(record.definition.fields.len(), 1);
    assert_eq!(app.stores.forms.responses(form.id).await.unwrap().len(), 1);
    let actions: Vec<String> = app
        .stores
        .audit
        .recent(20)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.action)
        .collect();
    assert!(actions.contains(&"form.responses-exported".to_owned()));
    assert!(actions.contains(&"form.responses-viewed".to_owned()));
    assert!(actions.contains(&"form.changed".to_owned()));
}

#[tokio::test]
async fn the_configuration_can_let_editors_read_responses() {
    let app = spawn_with(|c| {
        with_purposes(c);
        c.people.response_readers = vec![Role::Editor];
    })
    .await;
    let form = app
        .stores
        .forms
        .create_form(&signup(), app.clock.now())
        .await
        .unwrap();
    let (status, _) = app
        .submit(
            form,
            &[
                ("q1", "sam@example.org"),
                ("q2", "Sam Jones"),
                ("q6", "Yes"),
            ],
        )
        .await;
    assert_eq!(status, 200);
    let editor = app.staff("editor@testshire.example", Role::Editor).await;
    let (status, answers, _) = app
        .page(&format!("/admin/forms/{form}/responses"), &editor)
        .await;
    assert_eq!(status, 200);
    assert!(answers.contains("Sam Jones"));
    // Privacy officers were left out of the list, so they no longer may.
    let officer = app
        .staff("dpo@testshire.example", Role::PrivacyOfficer)
        .await;
    let (_, _, token) = app.page("/admin", &officer).await;
    let res = app
        .post_form(
            &format!("/admin/forms/{form}/responses.csv"),
            &[
                ("csrf", token.as_str()),
                ("for", "internal"),
                ("for_purpose", "x"),
            ],
            &[("cookie", &officer)],
        )
        .await;
    assert_eq!(res.status(), 403);
}

impl TestApp {
    async fn upload(&self, cookie: &str, name: &str, bytes: Vec<u8>) -> reqwest::Response {
        let (_, _, token) = self.page("/admin/people/import", cookie).await;
        let form = reqwest::multipart::Form::new().text("csrf", token).part(
            "file",
            reqwest::multipart::Part::bytes(bytes).file_name(name.to_owned()),
        );
        self.client
            .post(format!("{}/admin/people/import", self.url))
            .header("origin", &self.url)
            .header("sec-fetch-site", "same-origin")
            .header("cookie", cookie)
            .multipart(form)
            .send()
            .await
            .unwrap()
    }
}

#[tokio::test]
async fn imports_are_previewed_then_confirmed_and_never_resubscribe_an_objector() {
    let app = spawn_with(with_purposes).await;
    let staff = app
        .staff("officer@testshire.example", Role::PrivacyOfficer)
        .await;
    // An address that objected to email marketing.
    let no = app
        .stores
        .people
        .ensure_person(
            &email("no@example.org"),
            candour_core::people::Source::Staff,
            app.clock.now(),
        )
        .await
        .unwrap();
    let purposes = candour_core::purposes::registry(&{
        let mut c = Config::default();
        with_purposes(&mut c);
        c
    });
    app.stores
        .ledger
        .append_consents(candour_core::people::ConsentChange {
            person: no.id,
            events: &[],
            objections: &[(Channel::Email, Method::Unsubscribe)],
            actor: None,
            purposes: &purposes,
            at: app.clock.now(),
        })
        .await
        .unwrap();
    // Files that cannot be used at all: a clear report, nothing stored.
    let res = app
        .upload(&staff, "bad.csv", b"mail,name\nx@example.org,X\n".to_vec())
        .await;
    assert_eq!(res.status(), 422);
    assert!(res.text().await.unwrap().contains("`mail`"));
    let res = app
        .upload(
            &staff,
            "latin1.csv",
            b"email,name\nx@example.org,Ren\xe9\n".to_vec(),
        )
        .await;
    assert_eq!(res.status(), 422);
    assert!(res.text().await.unwrap().contains("not UTF-8"));
    let mut big = String::from("email\n");
    for i in 0..100_000 {
        big.push_str(&format!("p{i}@example.org\n"));
    }
    let res = app.upload(&staff, "big.csv", big.into_bytes()).await;
    assert_eq!(res.status(), 422);
    assert!(res.text().await.unwrap().contains("100000 rows"));
    assert_eq!(app.stores.people.count_people().await.unwrap(), 1);
    // A file with good and bad rows: a preview first.
    let file = "email,name,postcode,interests\n\
                new@example.org,New Person,NM1 2AB,fraud\n\
                no@example.org,Objector,,\n\
                broken,Nobody,,\n\
                odd@example.org,Odd,QQQ,\n";
    let res = app
        .upload(&staff, "people.csv", file.as_bytes().to_vec())
        .await;
    assert_eq!(res.status(), 303);
    let preview = res.headers()["location"].to_str().unwrap().to_owned();
    let (status, html, token) = app.page(&preview, &staff).await;
    assert_eq!(status, 200);
    assert!(html.contains("<strong>2</strong> rows can be imported"));
    assert!(html.contains("<strong>2</strong> have errors"));
    assert!(html.contains("Enter a real UK postcode"));
    assert_eq!(
        app.stores.people.count_people().await.unwrap(),
        1,
        "nothing yet"
    );
    // Claiming consent needs the source said.
    let res = app
        .post_form(
            &preview,
            &[
                ("csrf", &token),
                ("evidence", "consent"),
                ("consents", "news|email"),
            ],
            &[("cookie", &staff)],
        )
        .await;
    assert_eq!(res.status(), 422);
    assert_eq!(app.stores.people.count_people().await.unwrap(), 1);
    let res = app
        .post_form(
            &preview,
            &[
                ("csrf", &token),
                ("evidence", "consent"),
                ("consents", "news|email"),
                ("source", "Sign-up sheets, open day 14 June 2026"),
            ],
            &[("cookie", &staff)],
        )
        .await;
    assert_eq!(res.status(), 200);
    let html = res.text().await.unwrap();
    assert!(html.contains("1 people added and 1 updated"), "{html}");
    assert!(html.contains("1 consents not recorded because the address objected"));
    let fresh = app.person("new@example.org").await.unwrap();
    assert_eq!(fresh.details.interests, vec!["fraud".to_owned()]);
    assert!(has_consent(
        &app.stores.ledger.consent_events(fresh.id).await.unwrap(),
        "news",
        Some(Channel::Email)
    ));
    assert!(!has_consent(
        &app.stores.ledger.consent_events(no.id).await.unwrap(),
        "news",
        Some(Channel::Email)
    ));
    // Confirming twice does nothing more.
    let res = app
        .post_form(
            &preview,
            &[("csrf", &token), ("evidence", "none")],
            &[("cookie", &staff)],
        )
        .await;
    assert_eq!(res.status(), 409);
    // Someone else's upload cannot be confirmed by another staff member.
    let res = app
        .upload(&staff, "p.csv", b"email\nz@example.org\n".to_vec())
        .await;
    let other_preview = res.headers()["location"].to_str().unwrap().to_owned();
    let admin = app.staff("admin@testshire.example", Role::Admin).await;
    assert_eq!(
        app.get_with_cookie(&other_preview, &admin).await.status(),
        403
    );
}

#[tokio::test]
async fn people_without_an_account_are_erased_when_their_purposes_have_run_out() {
    let (app, form) = app_with_form().await;
    app.submit(
        form,
        &[("q1", "gone@example.org"), ("q5", "email"), ("q6", "No")],
    )
    .await;
    let config = {
        let mut c = Config::default();
        with_purposes(&mut c);
        c
    };
    let purge = || candour_core::retention::purge_expired(&app.stores, &config, app.clock.as_ref());
    app.clock.advance(time::Duration::days(729));
    purge().await.unwrap();
    assert!(
        app.person("gone@example.org").await.is_some(),
        "still within two years"
    );
    app.clock.advance(time::Duration::days(2));
    purge().await.unwrap();
    assert!(app.person("gone@example.org").await.is_none());
    let (_, html, _) = app.page("/privacy", "").await;
    assert!(html.contains("we delete them 2 years after you were last in touch"));
}

#[tokio::test]
async fn dates_are_typed_as_day_month_and_year_with_the_gov_uk_messages() {
    let app = spawn_with(with_purposes).await;
    let form = app
        .stores
        .forms
        .create_form(
            &FormDefinition {
                title: "Report".into(),
                intro: String::new(),
                fields: vec![Field {
                    required: true,
                    ..q("q1", "When was it?", FieldKind::Date)
                }],
                purposes: vec!["records".into()],
            },
            app.clock.now(),
        )
        .await
        .unwrap();
    let (_, html, _) = app.page(&format!("/forms/{form}"), "").await;
    for part in ["q1-day", "q1-month", "q1-year"] {
        assert!(html.contains(&format!("name=\"{part}\"")), "{html}");
    }
    assert!(!html.contains("type=\"date\""));
    for (day, month, year, message, first_wrong) in [
        ("31", "2", "2026", "The date must be a real date", "day"),
        ("1", "", "2026", "The date must include a month", "month"),
        (
            "1",
            "5",
            "26",
            "The date&#39;s year must include 4 numbers",
            "year",
        ),
        ("", "", "", "Enter", "day"),
    ] {
        let (status, page) = app
            .submit(
                form,
                &[("q1-day", day), ("q1-month", month), ("q1-year", year)],
            )
            .await;
        assert_eq!(status, 422, "{day}/{month}/{year}");
        assert!(page.contains(message), "{day}/{month}/{year}: {page}");
        assert!(
            page.contains(&format!("href=\"#q1-{first_wrong}\"")),
            "the summary links to the first wrong part: {page}"
        );
        if first_wrong == "month" {
            // Only the wrong part is marked.
            assert!(page.contains("input--width-2 input--error\" id=\"q1-month\""));
            assert!(page.contains("input--width-2\" id=\"q1-day\""));
        }
        assert!(page.contains(&format!(
            "name=\"q1-day\" type=\"text\" inputmode=\"numeric\" value=\"{day}\""
        )));
    }
    let (status, _) = app
        .submit(
            form,
            &[("q1-day", "1"), ("q1-month", "5"), ("q1-year", "2026")],
        )
        .await;
    assert_eq!(status, 200);
    let responses = app.stores.forms.responses(form).await.unwrap();
    assert_eq!(responses.len(), 1);
    assert_eq!(
        responses[0].answers,
        vec![(
            "q1".to_owned(),
            candour_core::forms::Answer::Text("2026-05-01".to_owned())
        )]
    );
}

#[tokio::test]
async fn a_responses_export_is_a_disclosure_of_those_who_answered() {
    let (app, form) = app_with_form().await;
    for (address, name) in [("ann@example.org", "Ann"), ("bo@example.org", "Bo")] {
        let (status, page) = app
            .submit(form, &[("q1", address), ("q2", name), ("q6", "Yes")])
            .await;
        assert_eq!(status, 200, "{page}");
    }
    let ann = app.person("ann@example.org").await.unwrap().id;
    let bo = app.person("bo@example.org").await.unwrap().id;
    let officer = app
        .staff("dpo@testshire.example", Role::PrivacyOfficer)
        .await;
    let printers = app
        .stores
        .disclosures
        .add_recipient(
            &candour_core::disclosures::RecipientDraft {
                name: "Survey analysts".into(),
                purpose: "Analysing the survey".into(),
                basis: LawfulBasis::LegitimateInterests,
            },
            app.clock.now(),
        )
        .await
        .unwrap();
    let export = |fields: Vec<(&'static str, String)>| {
        let app = &app;
        let officer = officer.clone();
        async move {
            let (status, page, token) = app
                .page(&format!("/admin/forms/{form}/responses"), &officer)
                .await;
            assert_eq!(status, 200);
            let offered = page.contains("Survey analysts");
            let mut body = vec![("csrf", token)];
            body.extend(fields);
            let body: Vec<(&str, &str)> = body.iter().map(|(k, v)| (*k, v.as_str())).collect();
            let res = app
                .post_form(
                    &format!("/admin/forms/{form}/responses.csv"),
                    &body,
                    &[("cookie", &officer)],
                )
                .await;
            (offered, res)
        }
    };
    // No answer, or internal use without saying what for: refused, nothing recorded.
    for (fields, field, words) in [
        (vec![], "for", "Choose who the export is for"),
        (
            vec![("for", "internal".to_owned())],
            "for_purpose",
            "Say what the export is for",
        ),
        (
            vec![("for", (printers + 99).to_string())],
            "for",
            "not an active one in the register",
        ),
    ] {
        let (offered, res) = export(fields).await;
        assert!(offered, "the form offers the register's active recipients");
        assert_eq!(res.status(), 422);
        assert!(res.headers().get("content-disposition").is_none());
        let page = res.text().await.unwrap();
        // The responses page again, with the problem beside the field.
        assert!(page.contains("Responses: "), "{page}");
        assert_field_error(&page, field, words);
    }
    assert!(
        app.stores
            .disclosures
            .latest_disclosures(5)
            .await
            .unwrap()
            .is_empty()
    );
    let (_, res) = export(vec![("for", printers.to_string())]).await;
    assert_eq!(res.status(), 200);
    let csv = res.text().await.unwrap();
    assert!(csv.contains("ann@example.org") && csv.contains("bo@example.org"));
    let made = app.stores.disclosures.latest_disclosures(5).await.unwrap();
    assert_eq!(made.len(), 1);
    assert_eq!(made[0].recipient, Some(printers));
    assert_eq!(made[0].kind, "form-responses");
    assert!(made[0].description.contains("Stay in touch"));
    assert_eq!(
        made[0].actor,
        Some(app.account_id("dpo@testshire.example").await)
    );
    let mut expected = vec![ann, bo];
    expected.sort_unstable();
    assert_eq!(
        app.stores
            .disclosures
            .disclosed_people(made[0].id)
            .await
            .unwrap(),
        expected
    );
    let audit = app.stores.audit.recent(10).await.unwrap();
    let entry = audit
        .iter()
        .find(|e| e.action == "form.responses-exported")
        .unwrap();
    assert!(
        entry.detail.contains(&format!(
            "disclosure:{}, for recipient:{printers}",
            made[0].id
        )),
        "{}",
        entry.detail
    );
    // A recipient retired since is refused.
    app.stores
        .disclosures
        .set_recipient_active(printers, false)
        .await
        .unwrap();
    let (offered, res) = export(vec![("for", printers.to_string())]).await;
    assert!(!offered, "a retired recipient is not offered");
    assert_eq!(res.status(), 422);
    assert_eq!(
        app.stores
            .disclosures
            .latest_disclosures(5)
            .await
            .unwrap()
            .len(),
        1
    );
}
