//! Cases for what a request's bundle reads: a person's rows of each mapped table, a page at
//! a time.

use candour_core::account::EmailAddress;
use candour_core::people::{Method, Source};
use candour_core::purposes::Channel;
use candour_core::session::SecretHash;
use candour_core::store::{ExportPage, StoreError, Stores};
use time::Duration;

use crate::T0;
use crate::people::{change, event, purposes};

/// Every page of `table` for `subject`, read `limit` at a time.
async fn paged(s: &Stores, table: &str, subject: i64, limit: u32) -> (ExportPage, u32) {
    let (mut all, mut after, mut pages) = (ExportPage::default(), None, 0);
    loop {
        let page = s
            .subjects
            .export_page(table, subject, after, limit)
            .await
            .unwrap();
        pages += 1;
        all.rows.extend(page.rows);
        match page.next {
            Some(next) => after = Some(next),
            None => return (all, pages),
        }
    }
}

pub async fn export_pages_cover_every_row_once_as_the_export_shows_it(s: &Stores) {
    let p = purposes();
    let kim = s
        .people
        .ensure_person(
            &EmailAddress::parse("kim@example.org").unwrap(),
            Source::Staff,
            T0,
        )
        .await
        .unwrap();
    let other = s
        .people
        .ensure_person(
            &EmailAddress::parse("lee@example.org").unwrap(),
            Source::Staff,
            T0,
        )
        .await
        .unwrap();
    for (n, who) in [
        kim.id, other.id, kim.id, kim.id, other.id, kim.id, kim.id, kim.id,
    ]
    .into_iter()
    .enumerate()
    {
        let grant = [event(Channel::Email, n % 2 == 0, Method::PreferenceCentre)];
        s.ledger
            .append_consents(change(who, &grant, &[], &p, n as i64))
            .await
            .unwrap();
    }
    for n in 1..=2u8 {
        s.ledger
            .create_preference_link(&SecretHash([n; 32]), kim.id, T0 + Duration::hours(1))
            .await
            .unwrap();
    }
    let export = s.subjects.export_person(kim.id).await.unwrap().unwrap();
    // Six of Kim's events in pages of four: two pages, in id order, as the export has them.
    let held = |table: &str| export[table].as_array().unwrap().clone();
    let (all, pages) = paged(s, "consent_events", kim.id, 4).await;
    assert_eq!(all.rows.len(), 6);
    assert_eq!(pages, 2);
    assert_eq!(all.rows, held("consent_events"));
    // A page exactly full is followed by an empty one, not by a lost row.
    let (all, pages) = paged(s, "consent_events", kim.id, 3).await;
    assert_eq!(all.rows, held("consent_events"));
    assert_eq!(pages, 3);
    // A table without ids comes whole, its secrets withheld as in the export.
    let (links, pages) = paged(s, "preference_links", kim.id, 1).await;
    assert_eq!(pages, 1);
    assert_eq!(links.rows, held("preference_links"));
    assert_eq!(links.rows.len(), 2);
    let (mine, _) = paged(s, "people", kim.id, 10).await;
    assert_eq!(mine.rows, held("people"));
    // No one else's rows, and nothing for a table outside the data map.
    let (theirs, _) = paged(s, "consent_events", other.id, 100).await;
    assert_eq!(theirs.rows.len(), 2);
    for table in ["server_keys", "people; DROP TABLE people", "audit_log"] {
        assert!(matches!(
            s.subjects.export_page(table, kim.id, None, 10).await,
            Err(StoreError::Refused(_))
        ));
    }
}
