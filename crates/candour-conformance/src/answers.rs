//! Answers to requests for a copy of one's data: the bundle recorded for a case, and its
//! link that downloads it once, before it expires.

use candour_core::account::EmailAddress;
use candour_core::people::Source;
use candour_core::requests::{Confirmation, Kind, NewCase, NewRequest};
use candour_core::session::SecretHash;
use candour_core::store::{NewAnswer, Stores, Taken};
use time::Duration;
use time::macros::date;

use crate::T0;

async fn case_of(s: &Stores, address: &str) -> (i64, i64) {
    let email = EmailAddress::parse(address).unwrap();
    let person = s
        .people
        .ensure_person(&email, Source::Staff, T0)
        .await
        .unwrap();
    let id = s
        .requests
        .create_request(&NewCase {
            request: NewRequest {
                kind: Kind::Access,
                name: "Ash Example".to_owned(),
                email,
                details: "A copy of my data".to_owned(),
                correction: None,
                correction_field: None,
                marketing: Vec::new(),
                elsewhere: false,
            },
            person: Some(person.id),
            at: T0,
            confirmation: Confirmation::Verified {
                received_on: date!(2026 - 03 - 02),
            },
        })
        .await
        .unwrap();
    (id, person.id)
}

fn built(request: i64, file: &str) -> NewAnswer {
    NewAnswer {
        request,
        file: file.to_owned(),
        bytes: 1234,
        rows: 7,
        built_at: T0,
        built_by: 99,
    }
}

pub async fn an_answer_link_downloads_once_for_its_own_case(s: &Stores) {
    let (ash, _) = case_of(s, "ash@example.org").await;
    let (other, _) = case_of(s, "bo@example.org").await;
    let link = SecretHash([1; 32]);
    assert!(!s.answers.release_answer(ash, &link, T0, T0).await.unwrap());
    assert_eq!(s.answers.answer(ash).await.unwrap(), None);

    s.answers
        .record_answer(&built(ash, "bundle-a.zip"))
        .await
        .unwrap();
    let a = s.answers.answer(ash).await.unwrap().unwrap();
    assert_eq!(
        (a.file.as_str(), a.bytes, a.rows, a.built_at),
        ("bundle-a.zip", 1234, 7, T0)
    );
    assert_eq!(
        (a.built_by, a.released_at, a.downloaded_at),
        (99, None, None)
    );

    let expires = T0 + Duration::days(7);
    assert!(
        s.answers
            .release_answer(ash, &link, expires, T0)
            .await
            .unwrap()
    );
    let at = T0 + Duration::hours(1);
    // Looking does not spend it; another case's number or another hash finds nothing.
    assert!(matches!(
        s.answers.peek_answer(ash, &link, at).await.unwrap(),
        Taken::Yours(_)
    ));
    assert_eq!(
        s.answers.take_answer(other, &link, at).await.unwrap(),
        Taken::Unknown
    );
    let wrong = SecretHash([2; 32]);
    assert_eq!(
        s.answers.take_answer(ash, &wrong, at).await.unwrap(),
        Taken::Unknown
    );
    match s.answers.take_answer(ash, &link, at).await.unwrap() {
        Taken::Yours(a) => {
            assert_eq!(a.file, "bundle-a.zip");
            assert_eq!(a.downloaded_at, Some(at));
            assert_eq!(a.released_at, Some(T0));
            assert_eq!(a.link_expires_at, Some(expires));
        }
        other => panic!("the first download was refused: {other:?}"),
    }
    let later = at + Duration::minutes(5);
    assert_eq!(
        s.answers.take_answer(ash, &link, later).await.unwrap(),
        Taken::Used(at)
    );
    assert_eq!(
        s.answers.peek_answer(ash, &link, later).await.unwrap(),
        Taken::Used(at)
    );

    // A fresh link replaces the spent one and may be used once again.
    let fresh = SecretHash([3; 32]);
    assert!(
        s.answers
            .release_answer(ash, &fresh, expires, later)
            .await
            .unwrap()
    );
    assert_eq!(
        s.answers.take_answer(ash, &link, later).await.unwrap(),
        Taken::Unknown
    );
    assert!(matches!(
        s.answers.take_answer(ash, &fresh, later).await.unwrap(),
        Taken::Yours(_)
    ));
}

pub async fn an_answer_link_expires_and_a_rebuilt_bundle_drops_it(s: &Stores) {
    let (ash, _) = case_of(s, "ash@example.org").await;
    s.answers
        .record_answer(&built(ash, "bundle-a.zip"))
        .await
        .unwrap();
    let link = SecretHash([4; 32]);
    let expires = T0 + Duration::days(1);
    s.answers
        .release_answer(ash, &link, expires, T0)
        .await
        .unwrap();
    assert_eq!(
        s.answers.take_answer(ash, &link, expires).await.unwrap(),
        Taken::Expired
    );
    assert_eq!(
        s.answers.answer(ash).await.unwrap().unwrap().downloaded_at,
        None
    );

    s.answers
        .release_answer(ash, &link, expires + Duration::days(1), expires)
        .await
        .unwrap();
    let mut again = built(ash, "bundle-b.zip");
    again.built_at = T0 + Duration::days(3);
    s.answers.record_answer(&again).await.unwrap();
    let a = s.answers.answer(ash).await.unwrap().unwrap();
    assert_eq!(
        (a.file.as_str(), a.built_at),
        ("bundle-b.zip", T0 + Duration::days(3))
    );
    assert_eq!((a.released_at, a.link_expires_at), (None, None));
    assert_eq!(
        s.answers.take_answer(ash, &link, expires).await.unwrap(),
        Taken::Unknown
    );
}
