//! Conformance cases for people, the consent ledger, suppression, forms, imports and the
//! data map.

use candour_core::account::EmailAddress;
use candour_core::config::{Config, MarketingConsent, PurposeConfig};
use candour_core::datamap;
use candour_core::forms::{
    self, Answer, Field, FieldKind, FormDefinition, PersonAttr, PersonPatch,
};
use candour_core::forms::{NewResponse, PendingConsents};
use candour_core::import::ImportEvidence;
use candour_core::import::ImportRow;
use candour_core::people::ConsentChange;
use candour_core::people::{
    ConsentRefused, Evidence, Method, NewConsent, PendingGrant, Source, has_consent,
};
use candour_core::purposes::{Channel, LawfulBasis, Purpose, registry};
use candour_core::session::SecretHash;
use candour_core::store::{StoreError, Stores};
use time::Duration;

use crate::T0;

pub(crate) fn purposes() -> Vec<Purpose> {
    let mut c = Config::default();
    c.purposes.push(PurposeConfig {
        id: "news".to_owned(),
        name: "News".to_owned(),
        description: "News and appeals".to_owned(),
        data: "Email address".to_owned(),
        lawful_basis: LawfulBasis::Consent,
        retention_days: 730,
        channels: vec![Channel::Email, Channel::Post],
        direct_marketing: true,
        consent_label: "Send me news".to_owned(),
    });
    registry(&c)
}

fn email(s: &str) -> EmailAddress {
    EmailAddress::parse(s).unwrap()
}

pub(crate) fn event(channel: Channel, granted: bool, method: Method) -> NewConsent {
    NewConsent {
        purpose: "news".to_owned(),
        channel: Some(channel),
        granted,
        method,
        wording: None,
        actor: None,
        note: String::new(),
    }
}

pub(crate) fn change<'a>(
    person: i64,
    events: &'a [NewConsent],
    objections: &'a [(Channel, Method)],
    purposes: &'a [Purpose],
    minutes: i64,
) -> ConsentChange<'a> {
    ConsentChange {
        person,
        events,
        objections,
        actor: None,
        purposes,
        at: T0 + Duration::minutes(minutes),
    }
}

const STAFF_CALL: Method = Method::Staff {
    evidence: Evidence::Call,
};

pub async fn the_data_map_lists_every_table(s: &Stores) {
    let schema = s.subjects.schema().await.unwrap();
    assert!(schema.iter().any(|t| t.name == "people"), "{schema:?}");
    for table in &schema {
        assert!(
            datamap::is_listed(&table.name),
            "the table `{}` is not in the data map (candour_core::datamap): say whose data it holds, or why it holds none",
            table.name
        );
        for (column, target) in &table.references {
            if target == "people" || target == "accounts" {
                let mapped = datamap::mapped(&table.name).unwrap_or_else(|| {
                    panic!(
                        "`{}.{column}` refers to {target}, so `{}` must be in datamap::PERSONAL",
                        table.name, table.name
                    )
                });
                // A subject's own table (mapped by `id`) may link to the other subject.
                assert!(
                    mapped.column == column || mapped.column == "id",
                    "`{}` is mapped by `{}`, but refers to {target} by `{column}`",
                    table.name,
                    mapped.column
                );
            }
        }
    }
    for m in datamap::PERSONAL {
        assert!(
            schema.iter().any(|t| t.name == m.table),
            "the data map lists `{}`, which the schema does not have",
            m.table
        );
    }
    for (t, _) in datamap::NOT_PERSONAL {
        assert!(schema.iter().any(|s| s.name == *t), "stale entry `{t}`");
    }
}

pub async fn people_are_unique_by_email_and_editable(s: &Stores) {
    let a = s
        .people
        .ensure_person(&email("Jo@Example.org"), Source::Staff, T0)
        .await
        .unwrap();
    let b = s
        .people
        .ensure_person(&email("jo@example.org"), Source::PreferenceCentre, T0)
        .await
        .unwrap();
    assert_eq!(a.id, b.id);
    assert_eq!(b.source, Source::Staff, "the first source is kept");
    let mut details = a.details.clone();
    details.name = "Jo <b>Bloggs</b>".to_owned();
    details.interests = vec!["roads".to_owned()];
    s.people
        .update_person(a.id, &details, T0 + Duration::minutes(1))
        .await
        .unwrap();
    let p = s.people.person(a.id).await.unwrap().unwrap();
    assert_eq!(p.details, details);
    assert_eq!(p.updated_at, T0 + Duration::minutes(1));
    let found = s.people.search_people("BLOGGS", 10).await.unwrap();
    assert_eq!(found.len(), 1);
    assert!(s.people.search_people("%", 10).await.unwrap().is_empty());
    assert_eq!(s.people.count_people().await.unwrap(), 1);
}

pub async fn the_ledger_derives_state_from_appended_events(s: &Stores) {
    let p = purposes();
    let jo = s
        .people
        .ensure_person(&email("jo@example.org"), Source::Staff, T0)
        .await
        .unwrap();
    let grant = [
        event(Channel::Email, true, Method::PreferenceCentre),
        event(Channel::Post, true, Method::PreferenceCentre),
    ];
    s.ledger
        .append_consents(change(jo.id, &grant, &[], &p, 0))
        .await
        .unwrap();
    let withdraw = [event(Channel::Email, false, Method::PreferenceCentre)];
    s.ledger
        .append_consents(change(jo.id, &withdraw, &[], &p, 5))
        .await
        .unwrap();
    let events = s.ledger.consent_events(jo.id).await.unwrap();
    assert_eq!(events.len(), 3, "every event is kept");
    assert!(!has_consent(&events, "news", Some(Channel::Email)));
    assert!(has_consent(&events, "news", Some(Channel::Post)));
    // A refused change writes nothing.
    let bad = [
        event(Channel::Email, true, Method::PreferenceCentre),
        NewConsent {
            purpose: "no-such-purpose".to_owned(),
            ..event(Channel::Email, true, Method::PreferenceCentre)
        },
    ];
    let e = s
        .ledger
        .append_consents(change(jo.id, &bad, &[], &p, 6))
        .await
        .unwrap_err();
    assert!(matches!(
        e,
        StoreError::Consent(ConsentRefused::UnknownPurpose(_))
    ));
    assert_eq!(s.ledger.consent_events(jo.id).await.unwrap().len(), 3);
}

pub async fn an_objection_is_absolute_except_to_the_person(s: &Stores) {
    let p = purposes();
    let addr = email("al@example.org");
    let al = s
        .people
        .ensure_person(&addr, Source::Staff, T0)
        .await
        .unwrap();
    let grant = [event(Channel::Email, true, Method::PreferenceCentre)];
    s.ledger
        .append_consents(change(al.id, &grant, &[], &p, 0))
        .await
        .unwrap();
    s.ledger
        .append_consents(change(
            al.id,
            &[],
            &[(Channel::Email, Method::Unsubscribe)],
            &p,
            1,
        ))
        .await
        .unwrap();
    let events = s.ledger.consent_events(al.id).await.unwrap();
    assert!(!has_consent(&events, "news", Some(Channel::Email)));
    assert_eq!(events.last().unwrap().method, Method::Unsubscribe);
    assert_eq!(
        s.ledger.suppressed_channels(&addr).await.unwrap(),
        vec![Channel::Email]
    );
    // Staff cannot consent for them, whatever the evidence.
    let by_staff = [event(Channel::Email, true, STAFF_CALL)];
    let e = s
        .ledger
        .append_consents(change(al.id, &by_staff, &[], &p, 2))
        .await
        .unwrap_err();
    assert!(matches!(
        e,
        StoreError::Consent(ConsentRefused::Suppressed(Channel::Email))
    ));
    // Post is another channel: staff may record consent to it.
    let post = [event(Channel::Post, true, STAFF_CALL)];
    s.ledger
        .append_consents(change(al.id, &post, &[], &p, 3))
        .await
        .unwrap();
    // The person can agree again; that lifts the objection.
    s.ledger
        .append_consents(change(al.id, &grant, &[], &p, 4))
        .await
        .unwrap();
    assert!(
        s.ledger
            .suppressed_channels(&addr)
            .await
            .unwrap()
            .is_empty()
    );
    let events = s.ledger.consent_events(al.id).await.unwrap();
    assert!(has_consent(&events, "news", Some(Channel::Email)));
}

fn signup_form() -> FormDefinition {
    let q = |key: &str, kind: FieldKind| Field {
        key: key.to_owned(),
        label: format!("Question {key}"),
        hint: String::new(),
        kind,
        required: false,
        choices: Vec::new(),
        saves_to: None,
        purpose: None,
    };
    let mut e = q("q1", FieldKind::Email);
    e.required = true;
    e.saves_to = Some(PersonAttr::Email);
    let mut name = q("q2", FieldKind::ShortText);
    name.saves_to = Some(PersonAttr::Name);
    let mut c = q("q3", FieldKind::Consent);
    c.purpose = Some("news".to_owned());
    FormDefinition {
        title: "Stay in touch".to_owned(),
        intro: String::new(),
        fields: vec![e, name, c],
        purposes: vec!["news".to_owned()],
    }
}

pub async fn a_submission_is_stored_whole_or_not_at_all(s: &Stores) {
    let p = purposes();
    let def = signup_form();
    assert!(def.check(&p).is_empty());
    let form = s.forms.create_form(&def, T0).await.unwrap();
    let submit = |pairs: Vec<(&'static str, &'static str)>| {
        forms::parse_submission(form, 1, &def, &p, MarketingConsent::OptIn, move |k| {
            pairs
                .iter()
                .filter(|(n, _)| *n == k)
                .map(|(_, v)| *v)
                .collect()
        })
        .unwrap()
    };
    let sub = submit(vec![
        ("q1", "sam@example.org"),
        ("q2", "Sam"),
        ("q3", "email"),
    ]);
    let response = |sub, version| stored(form, sub, version, &p);
    s.forms.submit_response(&response(&sub, 1)).await.unwrap();
    let sam = s
        .people
        .person_by_email(&email("sam@example.org"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(sam.details.name, "Sam");
    assert_eq!(sam.source, Source::Form { form });
    let events = s.ledger.consent_events(sam.id).await.unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].method, Method::Form { form, version: 1 });
    assert_eq!(
        events[0].wording.as_ref().unwrap().text,
        "Send me news by email"
    );
    // Every change makes a new version; an older one takes no more answers.
    let mut v2 = def.clone();
    v2.title = "Keep in touch".to_owned();
    assert_eq!(s.forms.save_form(form, &v2, T0).await.unwrap(), 2);
    let late = submit(vec![("q1", "late@example.org"), ("q3", "email")]);
    assert!(matches!(
        s.forms.submit_response(&response(&late, 1)).await,
        Err(StoreError::Refused(_))
    ));
    // A consent the ledger refuses takes the person and the answers with it.
    let mut bad = submit(vec![
        ("q1", "kit@example.org"),
        ("q2", "Kit"),
        ("q3", "email"),
    ]);
    bad.consents[0].purpose = "no-such-purpose".to_owned();
    assert!(matches!(
        s.forms.submit_response(&response(&bad, 2)).await,
        Err(StoreError::Consent(_))
    ));
    assert!(
        s.people
            .person_by_email(&email("kit@example.org"))
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        s.people
            .person_by_email(&email("late@example.org"))
            .await
            .unwrap()
            .is_none()
    );
    let stored = s.forms.responses(form).await.unwrap();
    assert_eq!(stored.len(), 1);
    assert_eq!(
        stored[0].answers[1],
        ("q2".to_owned(), Answer::Text("Sam".to_owned()))
    );
    // A closed form takes nothing.
    s.forms.set_form_open(form, false).await.unwrap();
    let closed = submit(vec![("q1", "cal@example.org")]);
    assert!(matches!(
        s.forms.submit_response(&response(&closed, 2)).await,
        Err(StoreError::Refused(_))
    ));
    let record = s.forms.form(form).await.unwrap().unwrap();
    assert_eq!(
        (record.version, record.open, record.responses),
        (2, false, 1)
    );
    let titles: Vec<String> = s
        .forms
        .form_versions(form)
        .await
        .unwrap()
        .into_iter()
        .map(|d| d.title)
        .collect();
    assert_eq!(titles, ["Stay in touch", "Keep in touch"]);
    s.forms.delete_form(form).await.unwrap();
    assert!(s.forms.form(form).await.unwrap().is_none());
    assert_eq!(
        s.ledger.consent_events(sam.id).await.unwrap().len(),
        1,
        "deleting a form keeps the ledger"
    );
}

/// The response to store for a parsed submission.
fn stored<'a>(
    form: i64,
    sub: &'a forms::Submission,
    version: i64,
    purposes: &'a [Purpose],
) -> NewResponse<'a> {
    NewResponse {
        form,
        version,
        answers: &sub.answers,
        email: sub.email.as_ref(),
        patch: &sub.patch,
        consents: &sub.consents,
        pending: None,
        purposes,
        at: T0,
    }
}

pub async fn concurrent_submissions_for_one_address_make_one_person(s: &Stores) {
    let p = purposes();
    let def = signup_form();
    let form = s.forms.create_form(&def, T0).await.unwrap();
    let addr = email("busy@example.org");
    let mut tasks = tokio::task::JoinSet::new();
    for n in 0..12 {
        let forms = s.forms.clone();
        let p = p.clone();
        let addr = addr.clone();
        tasks.spawn(async move {
            let consents = vec![NewConsent {
                method: Method::Form { form, version: 1 },
                ..event(
                    if n % 2 == 0 {
                        Channel::Email
                    } else {
                        Channel::Post
                    },
                    true,
                    Method::PreferenceCentre,
                )
            }];
            let answers = vec![("q1".to_owned(), Answer::Text(addr.as_str().to_owned()))];
            forms
                .submit_response(&NewResponse {
                    form,
                    version: 1,
                    answers: &answers,
                    email: Some(&addr),
                    patch: &PersonPatch::default(),
                    consents: &consents,
                    pending: None,
                    purposes: &p,
                    at: T0,
                })
                .await
        });
    }
    while let Some(t) = tasks.join_next().await {
        t.unwrap().unwrap();
    }
    assert_eq!(s.people.count_people().await.unwrap(), 1);
    let person = s.people.person_by_email(&addr).await.unwrap().unwrap();
    assert_eq!(s.ledger.consent_events(person.id).await.unwrap().len(), 12);
    assert_eq!(s.forms.responses(form).await.unwrap().len(), 12);
}

pub async fn imports_happen_once_and_never_override_an_objection(s: &Stores) {
    let p = purposes();
    let staff = crate::staff_account(s).await;
    let objector = email("no@example.org");
    let o = s
        .people
        .ensure_person(&objector, Source::Staff, T0)
        .await
        .unwrap();
    s.ledger
        .append_consents(change(
            o.id,
            &[],
            &[(Channel::Email, Method::Unsubscribe)],
            &p,
            0,
        ))
        .await
        .unwrap();
    let id = s
        .imports
        .stage_import(staff, "email\n...", T0)
        .await
        .unwrap();
    let staged = s.imports.staged_import(id).await.unwrap().unwrap();
    assert_eq!((staged.actor, staged.committed_at), (staff, None));
    let rows: Vec<ImportRow> = ["new@example.org", "no@example.org"]
        .iter()
        .enumerate()
        .map(|(i, e)| ImportRow {
            line: i as u64 + 2,
            email: email(e),
            patch: PersonPatch {
                name: Some(format!("Person {i}")),
                ..PersonPatch::default()
            },
        })
        .collect();
    let evidence = ImportEvidence {
        consents: vec![("news".to_owned(), Some(Channel::Email))],
        source: "Sign-up sheet, open day 2026-02-14".to_owned(),
    };
    let out = s
        .imports
        .commit_import(id, &rows, Some(&evidence), &p, T0)
        .await
        .unwrap();
    assert_eq!(
        (
            out.created,
            out.updated,
            out.consents,
            out.suppressed,
            out.kept
        ),
        (1, 1, 1, 1, 0)
    );
    let again = s
        .imports
        .commit_import(id, &rows, Some(&evidence), &p, T0)
        .await;
    assert!(matches!(again, Err(StoreError::Refused(_))));
    let staged = s.imports.staged_import(id).await.unwrap().unwrap();
    assert!(staged.csv.is_empty(), "the file is dropped once imported");
    let events = s.ledger.consent_events(o.id).await.unwrap();
    assert!(!has_consent(&events, "news", Some(Channel::Email)));
    let fresh = s
        .people
        .person_by_email(&email("new@example.org"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(fresh.source, Source::Import { import: id });
    let events = s.ledger.consent_events(fresh.id).await.unwrap();
    assert_eq!(events[0].note, "Sign-up sheet, open day 2026-02-14");
    // Someone who withdrew keeps their choice, whatever an older list says.
    let w = s
        .people
        .ensure_person(&email("withdrew@example.org"), Source::Staff, T0)
        .await
        .unwrap();
    let withdraw = [event(Channel::Email, false, Method::PreferenceCentre)];
    s.ledger
        .append_consents(change(w.id, &withdraw, &[], &p, 0))
        .await
        .unwrap();
    let id4 = s.imports.stage_import(staff, "w", T0).await.unwrap();
    let rows4 = [ImportRow {
        line: 2,
        email: email("withdrew@example.org"),
        patch: PersonPatch::default(),
    }];
    let out = s
        .imports
        .commit_import(id4, &rows4, Some(&evidence), &p, T0)
        .await
        .unwrap();
    assert_eq!((out.consents, out.kept), (0, 1));
    assert!(!has_consent(
        &s.ledger.consent_events(w.id).await.unwrap(),
        "news",
        Some(Channel::Email)
    ));
    // Without evidence, an import records no consent at all.
    let id2 = s.imports.stage_import(staff, "x", T0).await.unwrap();
    let more = [ImportRow {
        line: 2,
        email: email("quiet@example.org"),
        patch: PersonPatch::default(),
    }];
    let out = s
        .imports
        .commit_import(id2, &more, None, &p, T0)
        .await
        .unwrap();
    assert_eq!((out.created, out.consents), (1, 0));
    // Unconfirmed files go after their day.
    let id3 = s.imports.stage_import(staff, "y", T0).await.unwrap();
    assert_eq!(
        s.imports
            .purge_imports_before(T0 + Duration::days(1))
            .await
            .unwrap(),
        1
    );
    assert!(s.imports.staged_import(id3).await.unwrap().is_none());
}

pub async fn a_forms_grants_count_only_once_confirmed_from_the_address(s: &Stores) {
    let p = purposes();
    let def = signup_form();
    let form = s.forms.create_form(&def, T0).await.unwrap();
    let addr = email("kim@example.org");
    let grants = [PendingGrant {
        purpose: "news".to_owned(),
        channel: Some(Channel::Email),
        wording: Some("Send me news by email".to_owned()),
    }];
    let refusal = [NewConsent {
        method: Method::Form { form, version: 1 },
        ..event(Channel::Post, false, Method::PreferenceCentre)
    }];
    let submit = |secret: &'static SecretHash, at| {
        let (grants, refusal, addr, p) = (&grants, &refusal, &addr, &p);
        async move {
            s.forms
                .submit_response(&NewResponse {
                    form,
                    version: 1,
                    answers: &[],
                    email: Some(addr),
                    patch: &PersonPatch::default(),
                    consents: refusal,
                    pending: Some(PendingConsents {
                        secret,
                        grants,
                        expires_at: at + Duration::hours(1),
                    }),
                    purposes: p,
                    at,
                })
                .await
                .unwrap();
        }
    };
    static FIRST: SecretHash = SecretHash([21; 32]);
    static SECOND: SecretHash = SecretHash([22; 32]);
    static THIRD: SecretHash = SecretHash([23; 32]);
    submit(&FIRST, T0).await;
    let kim = s.people.person_by_email(&addr).await.unwrap().unwrap();
    // The refusal is recorded at once; the grant is not in the ledger yet.
    let events = s.ledger.consent_events(kim.id).await.unwrap();
    assert_eq!(events.len(), 1);
    assert!(!events[0].granted);
    assert!(!has_consent(&events, "news", Some(Channel::Email)));
    // Held until confirmed: it is the person's data, so it is exported.
    let export = s.subjects.export_person(kim.id).await.unwrap().unwrap();
    assert_eq!(export["consent_confirmations"].as_array().unwrap().len(), 1);
    let confirmed_at = T0 + Duration::minutes(20);
    assert_eq!(
        s.ledger
            .confirm_consents(&FIRST, &p, confirmed_at)
            .await
            .unwrap(),
        Some(kim.id)
    );
    let events = s.ledger.consent_events(kim.id).await.unwrap();
    assert!(has_consent(&events, "news", Some(Channel::Email)));
    let grant = events.iter().find(|e| e.granted).unwrap();
    assert_eq!(grant.at, confirmed_at);
    assert_eq!(
        grant.method,
        Method::FormConfirmed {
            form,
            version: 1,
            submitted: T0.unix_timestamp(),
        }
    );
    assert_eq!(
        grant.wording.as_ref().unwrap().text,
        "Send me news by email"
    );
    // Once only.
    assert_eq!(
        s.ledger
            .confirm_consents(&FIRST, &p, confirmed_at)
            .await
            .unwrap(),
        None
    );
    // Not after it expired, and retention forgets it.
    submit(&SECOND, T0).await;
    assert_eq!(
        s.ledger
            .confirm_consents(&SECOND, &p, T0 + Duration::hours(2))
            .await
            .unwrap(),
        None
    );
    submit(&THIRD, T0 + Duration::hours(3)).await;
    assert_eq!(
        s.ledger
            .purge_consent_confirmations_before(T0 + Duration::hours(2))
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        s.ledger
            .confirm_consents(&SECOND, &p, T0 + Duration::minutes(30))
            .await
            .unwrap(),
        None,
        "purged"
    );
    // Erasure takes what is still waiting.
    let export = s.subjects.export_person(kim.id).await.unwrap().unwrap();
    assert_eq!(export["consent_confirmations"].as_array().unwrap().len(), 1);
    assert!(s.subjects.erase_person(kim.id).await.unwrap());
    assert_eq!(
        s.ledger
            .confirm_consents(&THIRD, &p, T0 + Duration::hours(3))
            .await
            .unwrap(),
        None
    );
    assert!(s.ledger.consent_events(kim.id).await.unwrap().is_empty());
}

pub async fn preference_links_work_once_before_they_expire(s: &Stores) {
    let jo = s
        .people
        .ensure_person(&email("jo@example.org"), Source::Staff, T0)
        .await
        .unwrap();
    let secret = SecretHash([7; 32]);
    s.ledger
        .create_preference_link(&secret, jo.id, T0 + Duration::hours(1))
        .await
        .unwrap();
    let late = SecretHash([8; 32]);
    s.ledger
        .create_preference_link(&late, jo.id, T0 + Duration::hours(1))
        .await
        .unwrap();
    assert_eq!(
        s.ledger.consume_preference_link(&secret, T0).await.unwrap(),
        Some(jo.id)
    );
    assert_eq!(
        s.ledger.consume_preference_link(&secret, T0).await.unwrap(),
        None
    );
    assert_eq!(
        s.ledger
            .consume_preference_link(&late, T0 + Duration::hours(2))
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        s.ledger
            .consume_preference_link(&SecretHash([9; 32]), T0)
            .await
            .unwrap(),
        None
    );
}

pub async fn expired_preference_links_are_purged(s: &Stores) {
    let jo = s
        .people
        .ensure_person(&email("jo@example.org"), Source::Staff, T0)
        .await
        .unwrap();
    let (soon, later) = (SecretHash([7; 32]), SecretHash([8; 32]));
    s.ledger
        .create_preference_link(&soon, jo.id, T0 + Duration::hours(1))
        .await
        .unwrap();
    s.ledger
        .create_preference_link(&later, jo.id, T0 + Duration::hours(3))
        .await
        .unwrap();
    // A link expiring at the cutoff itself is not yet before it.
    assert_eq!(
        s.ledger
            .purge_preference_links_before(T0 + Duration::hours(1))
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        s.ledger
            .purge_preference_links_before(T0 + Duration::hours(2))
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        s.ledger.consume_preference_link(&soon, T0).await.unwrap(),
        None,
        "a purged link is gone even for a time before it expired"
    );
    assert_eq!(
        s.ledger.consume_preference_link(&later, T0).await.unwrap(),
        Some(jo.id)
    );
}

pub async fn forms_are_listed_newest_first_with_their_current_version(s: &Stores) {
    assert!(s.forms.forms().await.unwrap().is_empty());
    let def = signup_form();
    let first = s.forms.create_form(&def, T0).await.unwrap();
    let second = s
        .forms
        .create_form(&def, T0 + Duration::minutes(1))
        .await
        .unwrap();
    let mut changed = def.clone();
    changed.title = "Keep in touch".to_owned();
    assert_eq!(
        s.forms
            .save_form(first, &changed, T0 + Duration::minutes(2))
            .await
            .unwrap(),
        2
    );
    s.forms.set_form_open(second, false).await.unwrap();
    let listed = s.forms.forms().await.unwrap();
    let ids: Vec<i64> = listed.iter().map(|f| f.id).collect();
    assert_eq!(ids, [second, first]);
    for f in &listed {
        assert_eq!(Some(f), s.forms.form(f.id).await.unwrap().as_ref());
    }
    assert_eq!(
        (listed[1].version, listed[1].definition.title.as_str()),
        (2, "Keep in touch")
    );
    assert!(!listed[0].open);
    s.forms.delete_form(second).await.unwrap();
    let ids: Vec<i64> = s
        .forms
        .forms()
        .await
        .unwrap()
        .iter()
        .map(|f| f.id)
        .collect();
    assert_eq!(ids, [first]);
}

pub async fn a_person_is_linked_to_their_account(s: &Stores) {
    let account = crate::staff_account(s).await;
    let acc = s.accounts.account(account).await.unwrap().unwrap();
    assert!(
        s.people
            .person_for_account(account)
            .await
            .unwrap()
            .is_none()
    );
    let p = s
        .people
        .ensure_person(&acc.email, Source::PreferenceCentre, T0)
        .await
        .unwrap();
    assert_eq!(p.account, Some(account), "linked when created");
    let found = s.people.person_for_account(account).await.unwrap().unwrap();
    assert_eq!(found.id, p.id);
}

pub async fn export_and_erasure_follow_the_data_map(s: &Stores) {
    let p = purposes();
    let def = signup_form();
    let form = s.forms.create_form(&def, T0).await.unwrap();
    let addr = email("erase.me@example.org");
    let consents = [NewConsent {
        method: Method::Form { form, version: 1 },
        wording: Some(candour_core::people::Wording::new("Send me news by email")),
        ..event(Channel::Email, true, Method::PreferenceCentre)
    }];
    let answers = vec![("q2".to_owned(), Answer::Text("Erin".to_owned()))];
    s.forms
        .submit_response(&NewResponse {
            form,
            version: 1,
            answers: &answers,
            email: Some(&addr),
            patch: &PersonPatch {
                name: Some("Erin".to_owned()),
                ..PersonPatch::default()
            },
            consents: &consents,
            pending: None,
            purposes: &p,
            at: T0,
        })
        .await
        .unwrap();
    let erin = s.people.person_by_email(&addr).await.unwrap().unwrap();
    s.ledger
        .create_preference_link(&SecretHash([3; 32]), erin.id, T0 + Duration::hours(1))
        .await
        .unwrap();
    s.ledger
        .append_consents(change(
            erin.id,
            &[],
            &[(Channel::Post, Method::PreferenceCentre)],
            &p,
            1,
        ))
        .await
        .unwrap();
    let other = s
        .people
        .ensure_person(&email("stays@example.org"), Source::Staff, T0)
        .await
        .unwrap();
    let export = s.subjects.export_person(erin.id).await.unwrap().unwrap();
    let rows = |t: &str| export[t].as_array().map_or(0, Vec::len);
    assert_eq!(rows("people"), 1);
    assert_eq!(export["people"][0]["name"], "Erin");
    assert_eq!(rows("consent_events"), 1);
    assert_eq!(rows("form_responses"), 1);
    assert_eq!(rows("preference_links"), 1);
    assert!(s.subjects.erase_person(erin.id).await.unwrap());
    assert!(s.people.person(erin.id).await.unwrap().is_none());
    assert!(s.ledger.consent_events(erin.id).await.unwrap().is_empty());
    assert!(s.forms.responses(form).await.unwrap().is_empty());
    assert_eq!(
        s.ledger.suppressed_channels(&addr).await.unwrap(),
        vec![Channel::Post],
        "an objection outlives erasure"
    );
    assert!(!s.subjects.erase_person(erin.id).await.unwrap());
    assert!(s.subjects.export_person(erin.id).await.unwrap().is_none());
    assert!(s.people.person(other.id).await.unwrap().is_some());
}

pub async fn people_out_of_touch_are_found_for_erasure(s: &Stores) {
    let p = purposes();
    let old = s
        .people
        .ensure_person(&email("old@example.org"), Source::Staff, T0)
        .await
        .unwrap();
    let recent_consent = s
        .people
        .ensure_person(&email("recent@example.org"), Source::Staff, T0)
        .await
        .unwrap();
    let grant = [event(Channel::Post, true, Method::PreferenceCentre)];
    s.ledger
        .append_consents(change(recent_consent.id, &grant, &[], &p, 60 * 24 * 400))
        .await
        .unwrap();
    let with_account = crate::staff_account(s).await;
    let acc = s.accounts.account(with_account).await.unwrap().unwrap();
    s.people
        .ensure_person(&acc.email, Source::Staff, T0)
        .await
        .unwrap();
    let cutoff = T0 + Duration::days(365);
    let idle = s.subjects.people_idle_since(cutoff, 10).await.unwrap();
    assert_eq!(
        idle,
        vec![old.id],
        "only the person out of touch and without an account"
    );
    assert!(
        s.subjects
            .people_idle_since(T0, 10)
            .await
            .unwrap()
            .is_empty()
    );
}

/// Whether `text` is a moment as an export shows it: RFC 3339, in UTC, to the second.
fn reads_as_export_time(text: &str) -> bool {
    use time::format_description::well_known::Rfc3339;
    time::OffsetDateTime::parse(text, &Rfc3339)
        .ok()
        .and_then(|at| at.format(&Rfc3339).ok())
        .is_some_and(|again| again == text && text.ends_with('Z'))
}

pub async fn a_persons_export_has_one_form_on_every_backend(s: &Stores) {
    use candour_core::account::Profile;
    use candour_core::campaign::{
        CampaignDraft, DeliveryResult, FinishedDelivery, TRACKING_PURPOSE, TrackingEvent,
    };
    use candour_core::poll::{NewVote, PollDraft, ResultsShown};
    use candour_core::session::{LinkPurpose, Secret};

    let p = purposes();
    // Their account, with everything an account can hold.
    let account = crate::account(s, "kim@example.org", None).await;
    let acc = s.accounts.account(account).await.unwrap().unwrap();
    s.accounts.mark_email_verified(account).await.unwrap();
    let profile = Profile {
        name: "Kim".to_owned(),
        interests: vec!["parks".to_owned(), "road-safety".to_owned()],
        ..Profile::default()
    };
    s.accounts.update_profile(account, &profile).await.unwrap();
    s.second_factor
        .enable_totp(account, &[0xAB; 20], &[[0xCD; 32]])
        .await
        .unwrap();
    s.sessions
        .create_session(&Secret::from_random([1; 32]).hash(), account, T0)
        .await
        .unwrap();
    s.links
        .create_link(
            &Secret::from_random([2; 32]).hash(),
            LinkPurpose::VerifyEmail,
            account,
            None,
            T0 + Duration::hours(1),
        )
        .await
        .unwrap();
    let poll = PollDraft::parse(
        "Which day?",
        &["Mon", "Tue"],
        None,
        None,
        ResultsShown::AfterVoting,
    )
    .unwrap();
    let poll = s.polls.create_poll(&poll, T0).await.unwrap();
    let option = s.polls.poll(poll).await.unwrap().unwrap().options[0].id;
    s.votes
        .record_votes(&[NewVote {
            poll,
            option,
            account: Some(account),
            voter_hash: None,
            day: "2026-03-01".to_owned(),
            at: T0,
        }])
        .await
        .unwrap();
    s.imports
        .stage_import(account, "email\nsomeone@example.org\n", T0)
        .await
        .unwrap();

    // The person, linked to the account, with a form answer, a consent with its wording, a
    // grant waiting for confirmation and a link to the preference centre.
    let kim = s
        .people
        .ensure_person(&acc.email, Source::PreferenceCentre, T0)
        .await
        .unwrap();
    assert_eq!(kim.account, Some(account));
    s.people.update_person(kim.id, &profile, T0).await.unwrap();
    let form = s.forms.create_form(&signup_form(), T0).await.unwrap();
    let answers = vec![("q2".to_owned(), Answer::Text("Kim".to_owned()))];
    let consents = [
        NewConsent {
            method: Method::Form { form, version: 1 },
            wording: Some(candour_core::people::Wording::new("Send me news by email")),
            ..event(Channel::Email, true, Method::PreferenceCentre)
        },
        NewConsent {
            purpose: TRACKING_PURPOSE.to_owned(),
            channel: None,
            ..event(Channel::Email, true, Method::PreferenceCentre)
        },
    ];
    let grants = [PendingGrant {
        purpose: "news".to_owned(),
        channel: Some(Channel::Post),
        wording: Some("Send me news by post".to_owned()),
    }];
    static PENDING: SecretHash = SecretHash([31; 32]);
    s.forms
        .submit_response(&NewResponse {
            form,
            version: 1,
            answers: &answers,
            email: Some(&acc.email),
            patch: &PersonPatch::default(),
            consents: &consents,
            pending: Some(PendingConsents {
                secret: &PENDING,
                grants: &grants,
                expires_at: T0 + Duration::hours(1),
            }),
            purposes: &p,
            at: T0,
        })
        .await
        .unwrap();
    s.ledger
        .create_preference_link(&SecretHash([32; 32]), kim.id, T0 + Duration::hours(1))
        .await
        .unwrap();

    // A campaign message to them, tracked, opened, and unsubscribed through.
    let draft = CampaignDraft {
        name: "Spring".to_owned(),
        subject: "Spring news".to_owned(),
        preheader: String::new(),
        body: "Hello".to_owned(),
        purpose: "news".to_owned(),
        interests: Vec::new(),
        postcode_areas: Vec::new(),
        follow_up: None,
    };
    let campaign = s.campaigns.create_campaign(&draft, T0).await.unwrap();
    s.campaigns
        .schedule_campaign(campaign, T0, &[])
        .await
        .unwrap();
    let queued = s.deliveries.start_due_campaigns(T0, 100).await.unwrap();
    assert!(queued.iter().all(|q| q.complete), "{queued:?}");
    let claimed = s
        .deliveries
        .claim_deliveries("w", T0, T0 + Duration::minutes(5), 10)
        .await
        .unwrap();
    assert_eq!(claimed.len(), 1, "{claimed:?}");
    let delivery = &claimed[0];
    assert!(delivery.tracking_consent);
    s.deliveries
        .finish_deliveries(
            "w",
            &[FinishedDelivery {
                id: delivery.id,
                result: DeliveryResult::Sent {
                    tracked: true,
                    to: delivery.email.clone().unwrap(),
                },
                handed_over: 1,
            }],
            T0,
        )
        .await
        .unwrap();
    s.tracking
        .record_tracking(&[TrackingEvent {
            delivery: delivery.id,
            campaign,
            click: false,
            link: 0,
            at: T0 + Duration::minutes(7),
            machine: false,
        }])
        .await
        .unwrap();
    assert!(
        s.deliveries
            .mark_unsubscribed(delivery.id, T0 + Duration::minutes(9))
            .await
            .unwrap()
    );

    // A request not yet confirmed (its link's hash is held, first in the export), and one
    // with a clarification awaited.
    {
        use candour_core::requests::{
            BankHolidays, Change, Confirmation, Kind, NewCase, NewRequest, Region, case,
        };
        let request = |kind| NewRequest {
            kind,
            name: "Kim".to_owned(),
            email: EmailAddress::parse("kim@example.org").unwrap(),
            details: "All of it".to_owned(),
            correction: None,
            correction_field: None,
            marketing: Vec::new(),
            elsewhere: true,
        };
        s.requests
            .create_request(&NewCase {
                request: request(Kind::Erasure),
                person: Some(kim.id),
                at: T0,
                confirmation: Confirmation::ByLink {
                    hash: SecretHash([0x44; 32]),
                    expires: T0 + Duration::days(3),
                },
            })
            .await
            .unwrap();
        let received = time::macros::date!(2026 - 03 - 02);
        let id = s
            .requests
            .create_request(&NewCase {
                request: request(Kind::Access),
                person: Some(kim.id),
                at: T0,
                confirmation: Confirmation::Verified {
                    received_on: received,
                },
            })
            .await
            .unwrap();
        let c = s.requests.request(id).await.unwrap().unwrap();
        let holidays = BankHolidays::new(Region::EnglandAndWales, &[]);
        let ask = Change::AskForClarification {
            question: "Which years?".into(),
        };
        let planned = case::plan(c.status, &c.timeline, &ask, received, &holidays).unwrap();
        s.requests
            .change_request(id, c.status, &planned, account, T0)
            .await
            .unwrap();
        s.answers
            .record_answer(&candour_core::store::NewAnswer {
                request: id,
                file: "bundle-kim.zip".into(),
                bytes: 2048,
                rows: 12,
                built_at: T0,
                built_by: account,
            })
            .await
            .unwrap();
        s.answers
            .release_answer(id, &SecretHash([0x45; 32]), T0 + Duration::days(7), T0)
            .await
            .unwrap();
    }
    // An export from the console that covered them.
    s.disclosures
        .record_disclosure(&candour_core::disclosures::NewDisclosure {
            for_whom: candour_core::disclosures::ForWhom::Internal("checking".into()),
            actor: Some(account),
            kind: "people".into(),
            description: "everyone".into(),
            people: vec![kim.id],
            at: T0,
        })
        .await
        .unwrap();
    let export = s.subjects.export_person(kim.id).await.unwrap().unwrap();
    for m in datamap::PERSONAL {
        let rows = export[m.table].as_array().unwrap_or_else(|| {
            panic!("the export has no `{}`: {export:#}", m.table);
        });
        assert!(!rows.is_empty(), "nothing exported from `{}`", m.table);
        for row in rows {
            for (column, value) in row.as_object().unwrap() {
                let at = format!("{}.{column} = {value}", m.table);
                // The rules hold by the column's name too, so a new column the data map does
                // not shape is caught here.
                if column.ends_with("_at") || column.ends_with("_until") || column == "at" {
                    assert!(value.is_null() || value.is_string(), "{at}: not a time");
                }
                if column.contains("hash") || column.contains("secret") {
                    assert!(value.is_null() || value.is_string(), "{at}: not hex");
                }
                if let Some(text) = value.as_str() {
                    assert!(!text.starts_with("\\x"), "{at}: a backend's bytes");
                }
                match datamap::shape(m.table, column) {
                    _ if value.is_null() => {}
                    Some(datamap::Shape::Time) => {
                        assert!(value.as_str().is_some_and(reads_as_export_time), "{at}");
                    }
                    Some(datamap::Shape::Flag) => assert!(value.is_boolean(), "{at}"),
                    Some(datamap::Shape::Words) => assert!(
                        value
                            .as_array()
                            .is_some_and(|w| w.iter().all(|w| w.is_string())),
                        "{at}"
                    ),
                    Some(datamap::Shape::Bytes) => assert!(
                        value.as_str().is_some_and(|h| !h.is_empty()
                            && h.len() % 2 == 0
                            && h.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))),
                        "{at}"
                    ),
                    Some(datamap::Shape::Json) => assert!(!value.is_string(), "{at}"),
                    Some(datamap::Shape::Withheld) => {
                        assert_eq!(value, datamap::WITHHELD, "{at}");
                    }
                    None => assert!(!value.is_array() && !value.is_object(), "{at}"),
                }
            }
        }
    }
    // A few values as the person reads them.
    let person = &export["people"][0];
    assert_eq!(
        person["interests"].to_string(),
        r#"["parks","road-safety"]"#
    );
    assert_eq!(person["created_at"], "2026-03-01T12:00:00Z");
    assert_eq!(export["accounts"][0]["email_verified"], true);
    // Secrets that sign the person in or open a link are said to be held, never given out.
    for (table, column) in [
        ("accounts", "totp_secret"),
        ("accounts", "password_hash"),
        ("recovery_codes", "hash"),
        ("sessions", "hash"),
        ("email_links", "hash"),
        ("preference_links", "hash"),
        ("consent_confirmations", "hash"),
        ("data_requests", "confirm_hash"),
    ] {
        assert_eq!(
            export[table][0][column],
            candour_core::datamap::WITHHELD,
            "{table}.{column}"
        );
    }
    assert_eq!(export["tracking_events"][0]["at"], "2026-03-01T12:07:00Z");
    assert_eq!(export["tracking_events"][0]["machine"], false);
    assert_eq!(export["deliveries"][0]["tracked"], true);
    assert_eq!(
        export["deliveries"][0]["unsubscribed_at"],
        "2026-03-01T12:09:00Z"
    );
    assert_eq!(
        export["form_responses"][0]["answers"].to_string(),
        r#"[["q2","Kim"]]"#
    );
    assert!(export["consent_confirmations"][0]["grants"].is_array());
    let events = export["consent_events"].as_array().unwrap();
    assert_eq!(events.len(), 2);
    assert!(events.iter().all(|e| e["granted"] == true), "{events:?}");
}
