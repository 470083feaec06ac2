//! Acting on a request's case: erasure with the person's account, correction, restriction,
//! outcomes on the history, and the cases reports count.

use candour_core::account::{Postcode, Role};
use candour_core::people::{Method, Source};
use candour_core::purposes::Channel;
use candour_core::requests::templates::Wording;
use candour_core::requests::{Confirmation, Kind, NewCase};
use candour_core::session::SecretHash;
use candour_core::store::{Lifted, StoreError, Stores};
use time::macros::date;
use time::{Date, Duration};

use crate::T0;
use crate::campaigns::{draft, subscriber};
use crate::people::{change, purposes};
use crate::requests::{new_request, verified};

fn received_on(kind: Kind, address: &str, person: Option<i64>, day: Date) -> NewCase {
    NewCase {
        confirmation: Confirmation::Verified { received_on: day },
        ..verified(kind, address, person)
    }
}

pub async fn a_case_erases_its_person_with_their_account_and_keeps_itself(s: &Stores) {
    let account = crate::account(s, "robin@example.org", None).await;
    let person = s
        .people
        .ensure_person(&crate::email("robin@example.org"), Source::Request, T0)
        .await
        .unwrap();
    assert_eq!(person.account, Some(account));
    s.sessions
        .create_session(&SecretHash([5; 32]), account, T0)
        .await
        .unwrap();
    let p = purposes();
    s.ledger
        .append_consents(change(
            person.id,
            &[],
            &[(Channel::Email, Method::Request { request: 1 })],
            &p,
            0,
        ))
        .await
        .unwrap();
    // Someone else, untouched.
    let other = subscriber(s, "other@example.org", false).await;
    let id = s
        .requests
        .create_request(&verified(
            Kind::Erasure,
            "robin@example.org",
            Some(person.id),
        ))
        .await
        .unwrap();
    let at = T0 + Duration::days(3);
    s.request_actions
        .erase_for_request(id, 9, at)
        .await
        .unwrap();

    assert!(s.people.person(person.id).await.unwrap().is_none());
    assert!(s.accounts.account(account).await.unwrap().is_none());
    assert!(
        s.sessions
            .session(&SecretHash([5; 32]))
            .await
            .unwrap()
            .is_none(),
        "signed out everywhere"
    );
    assert!(s.subjects.export_person(person.id).await.unwrap().is_none());
    // The objection holds; the case stays as the record, unlinked, with the erasure on it.
    assert_eq!(
        s.ledger
            .suppressed_channels(&crate::email("robin@example.org"))
            .await
            .unwrap(),
        [Channel::Email]
    );
    let case = s.requests.request(id).await.unwrap().unwrap();
    assert_eq!(case.person, None);
    let last = s.requests.request_events(id).await.unwrap().pop().unwrap();
    assert_eq!(
        (last.action.as_str(), last.actor, last.at),
        ("erased", Some(9), at)
    );
    assert!(s.people.person(other).await.unwrap().is_some());
    // Nobody left to erase.
    assert!(matches!(
        s.request_actions.erase_for_request(id, 9, at).await,
        Err(StoreError::Refused(_))
    ));
}

pub async fn a_case_never_erases_a_member_of_staff(s: &Stores) {
    let account = crate::account(s, "dpo@example.org", Some(Role::PrivacyOfficer)).await;
    let person = s
        .people
        .ensure_person(&crate::email("dpo@example.org"), Source::Request, T0)
        .await
        .unwrap();
    let id = s
        .requests
        .create_request(&verified(Kind::Erasure, "dpo@example.org", Some(person.id)))
        .await
        .unwrap();
    assert!(matches!(
        s.request_actions.erase_for_request(id, 9, T0).await,
        Err(StoreError::Refused(_))
    ));
    assert!(s.people.person(person.id).await.unwrap().is_some());
    assert!(s.accounts.account(account).await.unwrap().is_some());
    assert_eq!(s.requests.request_events(id).await.unwrap().len(), 2);
}

pub async fn a_case_corrects_and_restricts_its_person(s: &Stores) {
    let person = subscriber(s, "robin@example.org", false).await;
    let id = s
        .requests
        .create_request(&verified(
            Kind::Correction,
            "robin@example.org",
            Some(person),
        ))
        .await
        .unwrap();
    let mut details = s.people.person(person).await.unwrap().unwrap().details;
    details.postcode = Some(Postcode::parse("NM1 2AB").unwrap());
    let at = T0 + Duration::hours(5);
    s.request_actions
        .correct_for_request(id, &details, 9, "Postcode changed", at)
        .await
        .unwrap();
    let after = s.people.person(person).await.unwrap().unwrap();
    assert_eq!(after.details, details);
    assert_eq!(after.updated_at, at);
    let last = s.requests.request_events(id).await.unwrap().pop().unwrap();
    assert_eq!(
        (last.action.as_str(), last.detail.as_str()),
        ("correction-accepted", "Postcode changed")
    );

    // Restricted: kept, but in no campaign's audience.
    let news = draft("News");
    assert_eq!(s.campaigns.count_audience(&news, at).await.unwrap(), 1);
    assert_eq!(
        s.request_actions.restricted_since(person).await.unwrap(),
        None
    );
    s.request_actions
        .restrict_for_request(id, 9, at)
        .await
        .unwrap();
    // Restricting again keeps the first time.
    s.request_actions
        .restrict_for_request(id, 9, at + Duration::hours(1))
        .await
        .unwrap();
    assert_eq!(
        s.request_actions.restricted_since(person).await.unwrap(),
        Some(at)
    );
    assert_eq!(s.campaigns.count_audience(&news, at).await.unwrap(), 0);
    assert!(s.people.person(person).await.unwrap().is_some());

    s.request_actions
        .record_outcome(id, None, "objection-applied", "email post", at)
        .await
        .unwrap();
    let last = s.requests.request_events(id).await.unwrap().pop().unwrap();
    assert_eq!(
        (last.action.as_str(), last.actor, last.detail.as_str()),
        ("objection-applied", None, "email post")
    );

    // A case with no person has nothing to correct or restrict.
    let nobody = s
        .requests
        .create_request(&verified(Kind::Correction, "nobody@example.org", None))
        .await
        .unwrap();
    assert!(matches!(
        s.request_actions
            .correct_for_request(nobody, &details, 9, "x", at)
            .await,
        Err(StoreError::Refused(_))
    ));
    assert!(matches!(
        s.request_actions.restrict_for_request(nobody, 9, at).await,
        Err(StoreError::Refused(_))
    ));
}

pub async fn cases_are_counted_by_the_day_they_were_received(s: &Stores) {
    let days = [
        date!(2026 - 01 - 31),
        date!(2026 - 02 - 01),
        date!(2026 - 02 - 28),
        date!(2026 - 03 - 01),
    ];
    let mut ids = Vec::new();
    for (n, day) in days.iter().enumerate() {
        let address = format!("p{n}@example.org");
        ids.push(
            s.requests
                .create_request(&received_on(Kind::Access, &address, None, *day))
                .await
                .unwrap(),
        );
    }
    // Not confirmed: no day received, never counted.
    s.requests
        .create_request(&NewCase {
            request: new_request(Kind::Access, "link@example.org"),
            person: None,
            at: T0,
            confirmation: Confirmation::ByLink {
                hash: SecretHash([8; 32]),
                expires: T0 + Duration::days(1),
            },
        })
        .await
        .unwrap();
    let february = s
        .request_actions
        .cases_received_between(date!(2026 - 02 - 01), date!(2026 - 02 - 28))
        .await
        .unwrap();
    assert_eq!(february.iter().map(|c| c.id).collect::<Vec<_>>(), ids[1..3]);
    let all = s
        .request_actions
        .cases_received_between(date!(2025 - 01 - 01), date!(2027 - 01 - 01))
        .await
        .unwrap();
    assert_eq!(all.iter().map(|c| c.id).collect::<Vec<_>>(), ids);
    assert!(
        s.request_actions
            .cases_received_between(date!(2026 - 03 - 02), date!(2026 - 02 - 01))
            .await
            .unwrap()
            .is_empty()
    );
}

pub async fn edited_email_wording_replaces_and_resets(s: &Stores) {
    let t = &s.request_templates;
    assert!(t.request_wordings().await.unwrap().is_empty());
    let first = Wording {
        subject: "Received: {{request_number}}".to_owned(),
        body: "Thanks, {{name}}.\n\n{{status_link}}".to_owned(),
    };
    t.save_request_wording("acknowledgement", &first, 9, T0)
        .await
        .unwrap();
    let second = Wording {
        subject: "Refused".to_owned(),
        body: "{{reasons}}\n{{ico}}".to_owned(),
    };
    t.save_request_wording("refusal", &second, 9, T0)
        .await
        .unwrap();
    let changed = Wording {
        body: "Thank you, {{name}}.".to_owned(),
        ..first.clone()
    };
    t.save_request_wording("acknowledgement", &changed, 10, T0 + Duration::hours(1))
        .await
        .unwrap();
    assert_eq!(
        t.request_wordings().await.unwrap(),
        [
            ("acknowledgement".to_owned(), changed),
            ("refusal".to_owned(), second.clone())
        ]
    );
    assert!(t.reset_request_wording("acknowledgement").await.unwrap());
    assert!(!t.reset_request_wording("acknowledgement").await.unwrap());
    assert_eq!(
        t.request_wordings().await.unwrap(),
        [("refusal".to_owned(), second)]
    );
}

pub async fn a_digest_day_is_claimed_once(s: &Stores) {
    let day = date!(2026 - 06 - 01);
    assert!(s.request_digests.claim_digest_day(day, T0).await.unwrap());
    assert!(!s.request_digests.claim_digest_day(day, T0).await.unwrap());
    assert!(
        s.request_digests
            .claim_digest_day(date!(2026 - 06 - 02), T0)
            .await
            .unwrap()
    );
}

pub async fn two_instances_claim_a_digest_day_once(one: &Stores, two: &Stores) {
    let day = date!(2026 - 06 - 01);
    let (a, b) = tokio::join!(
        one.request_digests.claim_digest_day(day, T0),
        two.request_digests.claim_digest_day(day, T0)
    );
    assert!(
        a.unwrap() ^ b.unwrap(),
        "exactly one instance claims the day"
    );
}

pub async fn a_lifted_restriction_is_written_on_the_case_that_made_it(s: &Stores) {
    let person = subscriber(s, "kit@example.org", false).await;
    let id = s
        .requests
        .create_request(&verified(
            Kind::Restriction,
            "kit@example.org",
            Some(person),
        ))
        .await
        .unwrap();
    let at = T0 + Duration::hours(2);
    // Not restricted: nothing to lift, nothing written.
    assert_eq!(
        s.request_actions
            .lift_restriction(person, 9, at)
            .await
            .unwrap(),
        Lifted::NotRestricted
    );
    assert_eq!(
        s.request_actions
            .lift_restriction(person + 1000, 9, at)
            .await
            .unwrap(),
        Lifted::NotRestricted
    );
    let before = s.requests.request_events(id).await.unwrap().len();
    s.request_actions
        .restrict_for_request(id, 9, at)
        .await
        .unwrap();
    let news = draft("News");
    assert_eq!(s.campaigns.count_audience(&news, at).await.unwrap(), 0);
    let later = at + Duration::days(3);
    assert_eq!(
        s.request_actions
            .lift_restriction(person, 7, later)
            .await
            .unwrap(),
        Lifted::Lifted(Some(id))
    );
    assert_eq!(
        s.request_actions.restricted_since(person).await.unwrap(),
        None
    );
    // Back in the audience, and the lift is on the case's history.
    assert_eq!(s.campaigns.count_audience(&news, later).await.unwrap(), 1);
    let events = s.requests.request_events(id).await.unwrap();
    assert_eq!(events.len(), before + 2);
    let last = events.last().unwrap();
    assert_eq!(
        (last.action.as_str(), last.actor, last.at),
        ("restriction-lifted", Some(7), later)
    );
    // Lifted once only.
    assert_eq!(
        s.request_actions
            .lift_restriction(person, 7, later)
            .await
            .unwrap(),
        Lifted::NotRestricted
    );
}
