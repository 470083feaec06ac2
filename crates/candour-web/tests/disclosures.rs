//! The register of recipients over HTTP: who may keep it, strict parsing with each field's
//! message, changes and retirement audited, another recipient's number a 404.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

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
