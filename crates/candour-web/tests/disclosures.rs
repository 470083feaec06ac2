//! The register of recipients over HTTP: who may keep it, strict parsing with each field's
//! message, changes and retirement audited, another recipient's number a 404.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use candour_core::Clock;
use candour_core::account::Role;
use candour_core::purposes::LawfulBasis;
use common::*;

async fn add(app: &TestApp, cookie: &str, fields: &[(&str, &str)]) -> reqwest::Response {
    let (_, _, token) = app.page("/admin/disclosures", cookie).await;
    let mut form = vec![("csrf", token.as_str())];
    form.extend_from_slice(fields);
    app.post_form("/admin/disclosures", &form, &[("cookie", cookie)])
        .await
}

#[tokio::test]
async fn privacy_officers_keep_the_register_and_every_change_is_audited() {
    let app = spawn_app().await;
    let officer = app.staff("po@example.org", Role::PrivacyOfficer).await;
    let editor = app.staff("ed@example.org", Role::Editor).await;
    let (status, _, _) = app.page("/admin/disclosures", &editor).await;
    assert_eq!(status, 403, "editors do not keep the register");

    let (status, html, _) = app.page("/admin/disclosures", &officer).await;
    assert_eq!(status, 200);
    assert!(html.contains("No recipients yet"));

    let res = add(
        &app,
        &officer,
        &[
            ("name", "Parcel Couriers Ltd"),
            ("purpose", "Delivering the leaflets people order"),
            ("basis", "legitimate-interests"),
        ],
    )
    .await;
    assert_eq!(res.status(), 303);
    let list = app.stores.disclosures.recipients().await.unwrap();
    assert_eq!(list.len(), 1);
    let id = list[0].id;
    assert_eq!(list[0].basis, LawfulBasis::LegitimateInterests);
    assert!(list[0].active);
    let (_, html, _) = app.page("/admin/disclosures", &officer).await;
    assert!(html.contains("Parcel Couriers Ltd") && html.contains("Legitimate interests"));

    // Change it.
    let (status, html, token) = app
        .page(&format!("/admin/disclosures/{id}"), &officer)
        .await;
    assert_eq!(status, 200);
    assert!(html.contains("value=\"Parcel Couriers Ltd\""));
    let res = app
        .post_form(
            &format!("/admin/disclosures/{id}"),
            &[
                ("csrf", &token),
                ("name", "Parcel Couriers"),
                ("purpose", "Delivering leaflets"),
                ("basis", "consent"),
            ],
            &[("cookie", &officer)],
        )
        .await;
    assert_eq!(res.status(), 303);
    let list = app.stores.disclosures.recipients().await.unwrap();
    assert_eq!(list[0].name, "Parcel Couriers");
    assert_eq!(list[0].basis, LawfulBasis::Consent);

    // Retire it, and bring it back.
    for (active, expected) in [("no", false), ("yes", true), ("no", false)] {
        let (_, _, token) = app.page("/admin/disclosures", &officer).await;
        let res = app
            .post_form(
                &format!("/admin/disclosures/{id}/active"),
                &[("csrf", &token), ("active", active)],
                &[("cookie", &officer)],
            )
            .await;
        assert_eq!(res.status(), 303);
        let list = app.stores.disclosures.recipients().await.unwrap();
        assert_eq!(list[0].active, expected);
    }
    let (_, html, _) = app.page("/admin/disclosures", &officer).await;
    assert!(html.contains("Retired") && html.contains("Bring back"));

    let audit = app.stores.audit.recent(50).await.unwrap();
    for code in [
        "disclosure.recipient-added",
        "disclosure.recipient-changed",
        "disclosure.recipient-retired",
        "disclosure.recipient-restored",
    ] {
        let entry = audit.iter().find(|e| e.action == code).expect(code);
        assert_eq!(entry.target, format!("recipient:{id}"));
        assert_eq!(entry.actor_email, "po@example.org");
    }

    // An unknown recipient is a 404, on every route.
    let other = id + 1000;
    let (status, _, token) = app
        .page(&format!("/admin/disclosures/{other}"), &officer)
        .await;
    assert_eq!(status, 404);
    let token = if token.is_empty() {
        app.page("/admin/disclosures", &officer).await.2
    } else {
        token
    };
    let res = app
        .post_form(
            &format!("/admin/disclosures/{other}/active"),
            &[("csrf", &token), ("active", "no")],
            &[("cookie", &officer)],
        )
        .await;
    assert_eq!(res.status(), 404);
    let res = app
        .post_form(
            &format!("/admin/disclosures/{other}"),
            &[
                ("csrf", &token),
                ("name", "X"),
                ("purpose", "Y"),
                ("basis", "consent"),
            ],
            &[("cookie", &officer)],
        )
        .await;
    assert_eq!(res.status(), 404);
}

#[tokio::test]
async fn a_bad_recipient_is_refused_field_by_field_and_nothing_is_stored() {
    let app = spawn_app().await;
    let officer = app.staff("po@example.org", Role::PrivacyOfficer).await;
    let res = add(
        &app,
        &officer,
        &[
            ("name", "  "),
            ("purpose", "a\u{1b}b"),
            ("basis", "because"),
        ],
    )
    .await;
    assert_eq!(res.status(), 422);
    let html = res.text().await.unwrap();
    assert!(html.contains("There is a problem"));
    assert!(html.contains("id=\"name-error\"") && html.contains("Enter the recipient&#39;s name"));
    assert!(html.contains("id=\"purpose-error\""));
    assert!(html.contains("Choose the lawful basis"));
    assert!(
        app.stores
            .disclosures
            .recipients()
            .await
            .unwrap()
            .is_empty()
    );

    let good = [
        ("name", "Printers"),
        ("purpose", "Printing"),
        ("basis", "public-task"),
    ];
    assert_eq!(add(&app, &officer, &good).await.status(), 303);
    let res = add(&app, &officer, &good).await;
    assert_eq!(res.status(), 422, "the same name twice");
    assert!(
        res.text()
            .await
            .unwrap()
            .contains("already in the register")
    );
    let res = add(&app, &officer, &[("name", "No basis"), ("purpose", "p")]).await;
    assert_eq!(res.status(), 422);
    assert_eq!(app.stores.disclosures.recipients().await.unwrap().len(), 1);

    // Unknown fields and a bad retire value are refused too.
    let (_, _, token) = app.page("/admin/disclosures", &officer).await;
    let id = app.stores.disclosures.recipients().await.unwrap()[0].id;
    let res = app
        .post_form(
            &format!("/admin/disclosures/{id}/active"),
            &[("csrf", &token), ("active", "maybe")],
            &[("cookie", &officer)],
        )
        .await;
    assert_eq!(res.status(), 422);
    assert!(app.stores.disclosures.recipients().await.unwrap()[0].active);
}

async fn recipient(app: &TestApp, name: &str, basis: LawfulBasis) -> i64 {
    app.stores
        .disclosures
        .add_recipient(
            &candour_core::disclosures::RecipientDraft {
                name: name.into(),
                purpose: format!("{name} does work for us"),
                basis,
            },
            app.clock.now(),
        )
        .await
        .unwrap()
}

#[tokio::test]
async fn a_persons_export_says_for_whom_and_records_a_disclosure_of_them() {
    let app = spawn_app().await;
    let officer = app.staff("po@example.org", Role::PrivacyOfficer).await;
    let kim = app
        .stores
        .people
        .ensure_person(
            &candour_core::account::EmailAddress::parse("kim@example.org").unwrap(),
            candour_core::people::Source::Staff,
            app.clock.now(),
        )
        .await
        .unwrap()
        .id;
    let council = recipient(&app, "County council", LawfulBasis::PublicTask).await;
    let retired = recipient(&app, "Old printer", LawfulBasis::Consent).await;
    app.stores
        .disclosures
        .set_recipient_active(retired, false)
        .await
        .unwrap();
    let (status, page, token) = app.page(&format!("/admin/people/{kim}"), &officer).await;
    assert_eq!(status, 200);
    assert!(page.contains(&format!(
        "<option value=\"{council}\">County council</option>"
    )));
    assert!(
        !page.contains("Old printer"),
        "a retired recipient is not offered"
    );
    let export = |fields: Vec<(&'static str, String)>| {
        let mut body = vec![("csrf", token.clone())];
        body.extend(fields);
        let app = &app;
        let officer = officer.clone();
        async move {
            let body: Vec<(&str, &str)> = body.iter().map(|(k, v)| (*k, v.as_str())).collect();
            app.post_form(
                &format!("/admin/people/{kim}/export"),
                &body,
                &[("cookie", &officer)],
            )
            .await
        }
    };
    // Refused: the person's page again, the problem beside the field, what was chosen kept.
    for (fields, field, words) in [
        (vec![], "for", "Choose who the export is for"),
        (
            vec![("for", retired.to_string())],
            "for",
            "not an active one in the register",
        ),
        (
            vec![("for", "someone".to_owned())],
            "for",
            "not an active one in the register",
        ),
        (
            vec![("for", "internal".into()), ("for_purpose", " ".into())],
            "for_purpose",
            "Say what the export is for",
        ),
    ] {
        let res = export(fields).await;
        assert_eq!(res.status(), 422);
        assert!(res.headers().get("content-disposition").is_none());
        let page = res.text().await.unwrap();
        assert!(page.contains("Person: kim@example.org"), "{page}");
        assert_field_error(&page, field, words);
        if field == "for_purpose" {
            assert!(
                page.contains("<option value=\"internal\" selected>"),
                "{page}"
            );
        }
    }
    assert!(
        app.stores
            .disclosures
            .latest_disclosures(5)
            .await
            .unwrap()
            .is_empty(),
        "a refused export records nothing"
    );

    let res = export(vec![("for", council.to_string())]).await;
    assert_eq!(res.status(), 200);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["people"][0]["email"], "kim@example.org");
    let res = export(vec![
        ("for", "internal".into()),
        ("for_purpose", "Checking a complaint".into()),
    ])
    .await;
    assert_eq!(res.status(), 200);
    let made = app.stores.disclosures.latest_disclosures(5).await.unwrap();
    assert_eq!(made.len(), 2);
    let officer_id = app.account_id("po@example.org").await;
    assert_eq!(made[1].recipient, Some(council));
    assert_eq!(made[0].recipient, None);
    assert_eq!(made[0].internal_purpose, "Checking a complaint");
    for d in &made {
        assert_eq!(d.kind, "person");
        assert_eq!(d.actor, Some(officer_id));
        assert_eq!(
            app.stores.disclosures.disclosed_people(d.id).await.unwrap(),
            [kim]
        );
    }
    // The register lists them.
    let (_, html, _) = app.page("/admin/disclosures", &officer).await;
    assert!(
        html.contains("Internal use: Checking a complaint"),
        "{html}"
    );
    let audit = app.stores.audit.recent(10).await.unwrap();
    let exported: Vec<&str> = audit
        .iter()
        .filter(|e| e.action == "person.exported")
        .map(|e| e.detail.as_str())
        .collect();
    assert_eq!(exported.len(), 2);
    assert!(
        exported
            .iter()
            .any(|d| d.contains("internal use: Checking a complaint"))
    );
}

#[tokio::test]
async fn the_privacy_notice_lists_the_registers_active_recipients() {
    let app = spawn_app().await;
    let json: serde_json::Value = app.get("/privacy.json").await.json().await.unwrap();
    assert_eq!(json["disclosure_recipients"], serde_json::json!([]));
    assert_eq!(
        json["organisation"]["name"], "Testshire Police",
        "the policy is still there"
    );
    let html = app.get("/privacy").await.text().await.unwrap();
    assert!(html.contains("We do not pass personal data to anyone outside our organisation"));

    recipient(&app, "County council", LawfulBasis::PublicTask).await;
    let retired = recipient(&app, "Old printer", LawfulBasis::Consent).await;
    app.stores
        .disclosures
        .set_recipient_active(retired, false)
        .await
        .unwrap();
    let json: serde_json::Value = app.get("/privacy.json").await.json().await.unwrap();
    assert_eq!(
        json["disclosure_recipients"],
        serde_json::json!([{
            "name": "County council",
            "purpose": "County council does work for us",
            "lawful_basis": "public-task",
            "lawful_basis_in_words": "a task carried out in the public interest",
        }])
    );
    let html = app.get("/privacy").await.text().await.unwrap();
    assert!(html.contains("<td>County council</td><td>County council does work for us</td><td>a task carried out in the public interest</td>"), "{html}");
    assert!(!html.contains("Old printer"));
}
