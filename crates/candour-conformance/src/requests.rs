//! Requests about personal data: the front door's confirmation, the case's changes and
//! history, and how erasure treats a case.

use candour_core::account::EmailAddress;
use candour_core::people::Source;
use candour_core::requests::deadline::Due;
use candour_core::requests::{
    BankHolidays, Change, Confirmation, Kind, NewCase, NewRequest, Region, Status, Wait, case,
};
use candour_core::session::SecretHash;
use candour_core::store::{StoreError, Stores};
use time::macros::date;
use time::{Date, Duration};

use crate::T0;

pub(crate) fn new_request(kind: Kind, address: &str) -> NewRequest {
    NewRequest {
        kind,
        name: "Robin Example".to_owned(),
        email: EmailAddress::parse(address).unwrap(),
        details: "Everything you hold about me".to_owned(),
        correction: (kind == Kind::Correction).then(|| "My surname is Example".to_owned()),
        correction_field: None,
        marketing: Vec::new(),
        elsewhere: false,
    }
}

fn by_link(kind: Kind, address: &str, hash: u8) -> NewCase {
    NewCase {
        request: new_request(kind, address),
        person: None,
        at: T0,
        confirmation: Confirmation::ByLink {
            hash: SecretHash([hash; 32]),
            expires: T0 + Duration::days(1),
        },
    }
}

/// A request made while signed in: a case at once, received on `RECEIVED`.
pub(crate) fn verified(kind: Kind, address: &str, person: Option<i64>) -> NewCase {
    NewCase {
        request: new_request(kind, address),
        person,
        at: T0,
        confirmation: Confirmation::Verified {
            received_on: RECEIVED,
        },
    }
}

const RECEIVED: Date = date!(2026 - 03 - 02);

fn holidays() -> BankHolidays {
    BankHolidays::new(Region::EnglandAndWales, &[])
}

pub async fn a_request_becomes_a_case_only_through_its_link_once_and_before_it_expires(s: &Stores) {
    let known = s
        .people
        .ensure_person(
            &EmailAddress::parse("robin@example.org").unwrap(),
            Source::Staff,
            T0,
        )
        .await
        .unwrap();
    let id = s
        .requests
        .create_request(&by_link(Kind::Access, "robin@example.org", 1))
        .await
        .unwrap();
    let late = s
        .requests
        .create_request(&by_link(Kind::Erasure, "late@example.org", 2))
        .await
        .unwrap();
    assert!(
        s.requests.open_requests().await.unwrap().is_empty(),
        "unconfirmed is no case"
    );
    let waiting = s.requests.request(id).await.unwrap().unwrap();
    assert_eq!(waiting.confirmed_at, None);
    assert_eq!(waiting.timeline.received, None);
    assert_eq!(waiting.person, None);

    let at = T0 + Duration::hours(2);
    assert_eq!(
        s.requests
            .confirm_request(&SecretHash([9; 32]), at, RECEIVED)
            .await
            .unwrap(),
        None,
        "an unknown link confirms nothing"
    );
    assert_eq!(
        s.requests
            .confirm_request(&SecretHash([1; 32]), at, RECEIVED)
            .await
            .unwrap(),
        Some(id)
    );
    assert_eq!(
        s.requests
            .confirm_request(&SecretHash([1; 32]), at, RECEIVED)
            .await
            .unwrap(),
        None,
        "a link works once"
    );
    let after = T0 + Duration::days(1);
    assert_eq!(
        s.requests
            .confirm_request(&SecretHash([2; 32]), after, RECEIVED)
            .await
            .unwrap(),
        None,
        "an expired link confirms nothing"
    );

    let case = s.requests.request(id).await.unwrap().unwrap();
    assert_eq!(case.status, Status::Received);
    assert_eq!(case.confirmed_at, Some(at));
    assert_eq!(case.timeline.received, Some(RECEIVED));
    assert_eq!(
        case.person,
        Some(known.id),
        "linked to the record with its address"
    );
    assert_eq!(case.email, "robin@example.org");
    assert_eq!(case.kind, Kind::Access);
    let open = s.requests.open_requests().await.unwrap();
    assert_eq!(open.iter().map(|c| c.id).collect::<Vec<_>>(), vec![id]);
    let history: Vec<_> = s
        .requests
        .request_events(id)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.action)
        .collect();
    assert_eq!(history, ["submitted", "confirmed"]);

    assert_eq!(s.requests.purge_unconfirmed_requests(T0).await.unwrap(), 0);
    assert_eq!(
        s.requests.purge_unconfirmed_requests(after).await.unwrap(),
        1
    );
    assert!(s.requests.request(late).await.unwrap().is_none());
    assert!(
        s.requests.request(id).await.unwrap().is_some(),
        "a case is kept"
    );
}

pub async fn a_signed_in_request_is_a_case_at_once_and_listed_for_its_person(s: &Stores) {
    let person = s
        .people
        .ensure_person(
            &EmailAddress::parse("sam@example.org").unwrap(),
            Source::Staff,
            T0,
        )
        .await
        .unwrap();
    let mut ids = Vec::new();
    for (n, kind) in [Kind::Access, Kind::Correction].into_iter().enumerate() {
        let id = s
            .requests
            .create_request(&NewCase {
                request: new_request(kind, "sam@example.org"),
                person: Some(person.id),
                at: T0 + Duration::minutes(n as i64),
                confirmation: Confirmation::Verified {
                    received_on: RECEIVED,
                },
            })
            .await
            .unwrap();
        ids.push(id);
    }
    let mine = s.requests.person_requests(person.id).await.unwrap();
    assert_eq!(
        mine.iter().map(|c| c.id).collect::<Vec<_>>(),
        vec![ids[1], ids[0]]
    );
    assert_eq!(mine[0].correction.as_deref(), Some("My surname is Example"));
    assert_eq!(mine[0].confirmed_at, Some(T0 + Duration::minutes(1)));
    assert_eq!(mine[0].timeline.received, Some(RECEIVED));
    assert_eq!(s.requests.open_requests().await.unwrap().len(), 2);
    let history = s.requests.request_events(ids[0]).await.unwrap();
    assert_eq!(
        history
            .iter()
            .map(|e| e.action.as_str())
            .collect::<Vec<_>>(),
        ["submitted", "confirmed"]
    );
}

pub async fn a_case_change_is_whole_and_refused_once_the_case_moved(s: &Stores) {
    let h = holidays();
    let id = s
        .requests
        .create_request(&verified(Kind::Access, "kim@example.org", None))
        .await
        .unwrap();
    let step = |case: &candour_core::requests::Case, change: Change, on: Date| {
        case::plan(case.status, &case.timeline, &change, on, &h).unwrap()
    };
    let c = s.requests.request(id).await.unwrap().unwrap();
    let ask = step(&c, Change::AskForIdentity, date!(2026 - 03 - 03));
    s.requests
        .change_request(id, c.status, &ask, 7, T0 + Duration::days(1))
        .await
        .unwrap();
    // A second member of staff working from the old state is refused; nothing is written.
    let stale = step(&c, Change::Start, date!(2026 - 03 - 03));
    match s.requests.change_request(id, c.status, &stale, 8, T0).await {
        Err(StoreError::Refused(_)) => {}
        other => panic!("expected Refused, got {other:?}"),
    }
    let c = s.requests.request(id).await.unwrap().unwrap();
    assert_eq!(c.status, Status::AwaitingIdentity);
    assert_eq!(c.timeline.due(&h), Due::AwaitingIdentity);

    let verified = step(
        &c,
        Change::IdentityVerified {
            how: "Driving licence seen".into(),
        },
        date!(2026 - 03 - 10),
    );
    s.requests
        .change_request(id, c.status, &verified, 7, T0)
        .await
        .unwrap();
    let c = s.requests.request(id).await.unwrap().unwrap();
    let question = Change::AskForClarification {
        question: "Which years?".into(),
    };
    let asked = step(&c, question, date!(2026 - 03 - 12));
    s.requests
        .change_request(id, c.status, &asked, 7, T0)
        .await
        .unwrap();
    let c = s.requests.request(id).await.unwrap().unwrap();
    let answered = step(&c, Change::Clarified, date!(2026 - 03 - 16));
    s.requests
        .change_request(id, c.status, &answered, 7, T0)
        .await
        .unwrap();
    let c = s.requests.request(id).await.unwrap().unwrap();
    let extend = Change::Extend {
        months: 2,
        reasons: "Records in three systems".into(),
    };
    let extended = step(&c, extend, date!(2026 - 04 - 01));
    s.requests
        .change_request(id, c.status, &extended, 7, T0)
        .await
        .unwrap();

    let c = s.requests.request(id).await.unwrap().unwrap();
    assert_eq!(c.status, Status::Extended);
    assert_eq!(
        c.timeline.identity,
        Some(Wait {
            asked: date!(2026 - 03 - 03),
            answered: Some(date!(2026 - 03 - 10))
        })
    );
    assert_eq!(
        c.timeline.clarifications,
        vec![Wait {
            asked: date!(2026 - 03 - 12),
            answered: Some(date!(2026 - 03 - 16))
        }]
    );
    assert_eq!(c.identity_how.as_deref(), Some("Driving licence seen"));
    assert_eq!(
        c.extension_reasons.as_deref(),
        Some("Records in three systems")
    );
    // From the proof's arrival (10 March) three months, plus the four days it stood: 14 June
    // 2026 is a Sunday, so Monday 15 June.
    assert_eq!(
        c.timeline.due(&h),
        Due::By {
            date: date!(2026 - 06 - 15),
            extended: true
        }
    );
    assert_eq!(c.closed_at, None);

    let refuse = Change::Refuse {
        reasons: "Manifestly excessive".into(),
    };
    let refused = step(&c, refuse, date!(2026 - 04 - 02));
    let closed_at = T0 + Duration::days(32);
    s.requests
        .change_request(id, c.status, &refused, 7, closed_at)
        .await
        .unwrap();
    let c = s.requests.request(id).await.unwrap().unwrap();
    assert_eq!(c.status, Status::Refused);
    assert_eq!(c.closed_at, Some(closed_at));
    assert_eq!(c.refusal_reasons.as_deref(), Some("Manifestly excessive"));
    assert!(s.requests.open_requests().await.unwrap().is_empty());
    let history: Vec<_> = s.requests.request_events(id).await.unwrap();
    assert_eq!(
        history
            .iter()
            .map(|e| e.action.as_str())
            .collect::<Vec<_>>(),
        [
            "submitted",
            "confirmed",
            "identity-asked",
            "identity-verified",
            "clarification-asked",
            "clarified",
            "extended",
            "refused"
        ]
    );
    assert_eq!(history[2].actor, Some(7));
    assert_eq!(history[4].detail, "Which years?");
    // A closed case takes no change, even one planned from the state it had.
    match s
        .requests
        .change_request(id, Status::Refused, &refused, 7, closed_at)
        .await
    {
        Err(StoreError::Refused(_)) => {}
        other => panic!("expected Refused, got {other:?}"),
    }
}

pub async fn cases_are_assigned_and_noted_in_their_history(s: &Stores) {
    let id = s
        .requests
        .create_request(&verified(Kind::Objection, "lee@example.org", None))
        .await
        .unwrap();
    s.requests
        .assign_request(id, Some(42), 7, T0)
        .await
        .unwrap();
    s.requests
        .note_request(id, 42, "Phoned to check the address", T0)
        .await
        .unwrap();
    s.requests.assign_request(id, None, 7, T0).await.unwrap();
    let c = s.requests.request(id).await.unwrap().unwrap();
    assert_eq!(c.assigned_to, None);
    s.requests
        .assign_request(id, Some(43), 7, T0)
        .await
        .unwrap();
    assert_eq!(
        s.requests.request(id).await.unwrap().unwrap().assigned_to,
        Some(43)
    );
    let history = s.requests.request_events(id).await.unwrap();
    let lines: Vec<_> = history
        .iter()
        .map(|e| (e.action.as_str(), e.actor, e.detail.as_str()))
        .collect();
    assert_eq!(
        lines[2..],
        [
            ("assigned", Some(7), "42"),
            ("note", Some(42), "Phoned to check the address"),
            ("assigned", Some(7), "nobody"),
            ("assigned", Some(7), "43"),
        ]
    );
    for missing in [
        s.requests.assign_request(id + 100, Some(1), 7, T0).await,
        s.requests.note_request(id + 100, 7, "x", T0).await,
    ] {
        assert!(
            matches!(missing, Err(StoreError::Refused(_))),
            "{missing:?}"
        );
    }
}

pub async fn erasure_unlinks_a_persons_requests_and_keeps_each_case(s: &Stores) {
    let h = holidays();
    let address = EmailAddress::parse("erase.requests@example.org").unwrap();
    let person = s
        .people
        .ensure_person(&address, Source::Staff, T0)
        .await
        .unwrap();
    let id = s
        .requests
        .create_request(&by_link(Kind::Erasure, address.as_str(), 5))
        .await
        .unwrap();
    s.requests
        .confirm_request(&SecretHash([5; 32]), T0, RECEIVED)
        .await
        .unwrap()
        .unwrap();
    let c = s.requests.request(id).await.unwrap().unwrap();
    let question = Change::AskForClarification {
        question: "Which records?".into(),
    };
    let asked = case::plan(c.status, &c.timeline, &question, RECEIVED, &h).unwrap();
    s.requests
        .change_request(id, c.status, &asked, 7, T0)
        .await
        .unwrap();

    let export = s.subjects.export_person(person.id).await.unwrap().unwrap();
    let rows = |t: &str| export[t].as_array().map_or(0, Vec::len);
    assert_eq!(rows("data_requests"), 1);
    assert_eq!(rows("data_request_waits"), 1);
    assert_eq!(rows("data_request_events"), 3, "{export}");
    assert_eq!(export["data_requests"][0]["elsewhere"], false);
    assert_eq!(export["data_requests"][0]["received_on"], "2026-03-02");

    assert!(s.subjects.erase_person(person.id).await.unwrap());
    let kept = s.requests.request(id).await.unwrap().unwrap();
    assert_eq!(kept.person, None, "the case stays, no longer linked");
    assert_eq!(kept.status, Status::AwaitingClarification);
    assert_eq!(s.requests.request_events(id).await.unwrap().len(), 3);
}

pub async fn a_person_with_an_open_request_is_never_idle(s: &Stores) {
    let address = EmailAddress::parse("waiting@example.org").unwrap();
    let person = s
        .people
        .ensure_person(&address, Source::Staff, T0)
        .await
        .unwrap();
    let id = s
        .requests
        .create_request(&verified(Kind::Access, address.as_str(), Some(person.id)))
        .await
        .unwrap();
    let years_later = T0 + Duration::days(3 * 365);
    assert!(
        s.subjects
            .people_idle_since(years_later, 10)
            .await
            .unwrap()
            .is_empty(),
        "an open request keeps the person"
    );
    let c = s.requests.request(id).await.unwrap().unwrap();
    let answer = case::plan(
        c.status,
        &c.timeline,
        &Change::Answer,
        RECEIVED,
        &holidays(),
    )
    .unwrap();
    s.requests
        .change_request(id, c.status, &answer, 7, T0)
        .await
        .unwrap();
    assert_eq!(
        s.subjects.people_idle_since(years_later, 10).await.unwrap(),
        vec![person.id],
        "once answered, the request counts as being in touch only when it was made"
    );
    assert!(
        s.subjects
            .people_idle_since(T0, 10)
            .await
            .unwrap()
            .is_empty()
    );
}

pub async fn each_case_in_a_list_carries_its_own_clarifications(s: &Stores) {
    let h = holidays();
    let mut ids = Vec::new();
    for n in 0..3 {
        let id = s
            .requests
            .create_request(&verified(
                Kind::Access,
                &format!("list{n}@example.org"),
                None,
            ))
            .await
            .unwrap();
        ids.push(id);
    }
    // The first case is asked twice (answered in between), the third once; the second never.
    let ask = |question: &str| Change::AskForClarification {
        question: question.into(),
    };
    for (id, steps) in [
        (
            ids[0],
            vec![ask("Which years?"), Change::Clarified, ask("Which town?")],
        ),
        (ids[2], vec![ask("Which records?")]),
    ] {
        for (day, change) in steps.into_iter().enumerate() {
            let c = s.requests.request(id).await.unwrap().unwrap();
            let on = RECEIVED + Duration::days(day as i64);
            let planned = case::plan(c.status, &c.timeline, &change, on, &h).unwrap();
            s.requests
                .change_request(id, c.status, &planned, 7, T0)
                .await
                .unwrap();
        }
    }
    let open = s.requests.open_requests().await.unwrap();
    let waits = |id: i64| {
        open.iter()
            .find(|c| c.id == id)
            .unwrap()
            .timeline
            .clarifications
            .clone()
    };
    assert_eq!(
        waits(ids[0]),
        vec![
            Wait {
                asked: RECEIVED,
                answered: Some(RECEIVED + Duration::days(1))
            },
            Wait {
                asked: RECEIVED + Duration::days(2),
                answered: None
            },
        ]
    );
    assert!(waits(ids[1]).is_empty());
    assert_eq!(
        waits(ids[2]),
        vec![Wait {
            asked: RECEIVED,
            answered: None
        }]
    );
}
