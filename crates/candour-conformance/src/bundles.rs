//! Cases for what a request's bundle reads: a person's rows of each mapped table, a page at
//! a time or streamed table by table.

use candour_core::account::EmailAddress;
use candour_core::datamap;
use candour_core::export::{EXPORT_BATCH, ExportRows, ExportSink};
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

/// What `export_subject` handed over: each call's table and rows.
#[derive(Default)]
struct Taken {
    calls: Vec<(&'static str, Vec<serde_json::Value>)>,
    /// Stop after this many calls.
    stop_after: Option<usize>,
}

#[async_trait::async_trait]
impl ExportSink for Taken {
    async fn rows(&mut self, table: &'static str, rows: ExportRows) -> bool {
        self.calls.push((table, rows.objects()));
        self.stop_after != Some(self.calls.len())
    }
}

pub async fn a_streamed_export_holds_every_table_in_order_as_the_export_shows_it(s: &Stores) {
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
    // More of Kim's events than a batch holds, with someone else's between them.
    let events = EXPORT_BATCH + 3;
    for n in 0..events {
        let grant = [event(Channel::Email, n % 2 == 0, Method::PreferenceCentre)];
        s.ledger
            .append_consents(change(kim.id, &grant, &[], &p, n as i64))
            .await
            .unwrap();
        if n % 100 == 0 {
            s.ledger
                .append_consents(change(other.id, &grant, &[], &p, n as i64))
                .await
                .unwrap();
        }
    }
    for n in 1..=2u8 {
        s.ledger
            .create_preference_link(&SecretHash([n; 32]), kim.id, T0 + Duration::hours(1))
            .await
            .unwrap();
    }
    let export = s.subjects.export_person(kim.id).await.unwrap().unwrap();
    let mut taken = Taken::default();
    s.subjects
        .export_subject(Some(kim.id), None, &mut taken)
        .await
        .unwrap();
    // Every table of the data map, in its order; a table's batches one after another.
    let mut tables: Vec<&str> = taken.calls.iter().map(|(t, _)| *t).collect();
    tables.dedup();
    let mapped: Vec<&str> = datamap::PERSONAL.iter().map(|m| m.table).collect();
    assert_eq!(tables, mapped);
    assert!(
        taken
            .calls
            .iter()
            .all(|(_, rows)| rows.len() <= EXPORT_BATCH)
    );
    let events_batches = taken
        .calls
        .iter()
        .filter(|(t, _)| *t == "consent_events")
        .count();
    assert_eq!(events_batches, 2);
    // The rows joined are the export's, table by table; the account's tables are empty
    // (Kim has no account) and listed all the same.
    for m in datamap::PERSONAL {
        let rows: Vec<serde_json::Value> = taken
            .calls
            .iter()
            .filter(|(t, _)| *t == m.table)
            .flat_map(|(_, rows)| rows.iter().cloned())
            .collect();
        match export.get(m.table) {
            Some(held) => assert_eq!(&serde_json::Value::Array(rows), held, "{}", m.table),
            None => assert!(rows.is_empty(), "{}", m.table),
        }
    }
    let kims = |t: &str| {
        taken
            .calls
            .iter()
            .filter(|(table, _)| *table == t)
            .map(|(_, rows)| rows.len())
            .sum::<usize>()
    };
    assert_eq!(kims("consent_events"), events);
    assert_eq!(kims("preference_links"), 2);
    assert_eq!(kims("people"), 1);

    // A sink that stops is asked for nothing more.
    let mut taken = Taken {
        stop_after: Some(1),
        ..Taken::default()
    };
    s.subjects
        .export_subject(Some(kim.id), None, &mut taken)
        .await
        .unwrap();
    assert_eq!(taken.calls.len(), 1);
    // No subject at all: every table listed, none with rows.
    let mut taken = Taken::default();
    s.subjects
        .export_subject(None, None, &mut taken)
        .await
        .unwrap();
    assert_eq!(taken.calls.len(), datamap::PERSONAL.len());
    assert!(taken.calls.iter().all(|(_, rows)| rows.is_empty()));
}
