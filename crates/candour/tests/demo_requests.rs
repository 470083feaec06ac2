//! The demo's requests about personal data: made and moved on through the store and the
//! case rules on whatever day the demo starts, so the queue shows each state; an answer
//! being prepared, and the register of recipients with disclosures.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use candour_core::clock::FixedClock;
use candour_core::requests::{BankHolidays, Due, Region, Status, deadline};
use candour_store_sqlite::SqliteStore;
use time::macros::datetime;

#[tokio::test]
async fn the_demo_has_requests_in_each_state_whatever_the_day() {
    let holidays = BankHolidays::new(Region::EnglandAndWales, &[]);
    // Month ends, a leap day, a bank holiday weekend, the new year.
    for now in [
        datetime!(2026-06-01 09:00 UTC),
        datetime!(2027-01-31 23:30 UTC),
        datetime!(2028-02-29 12:00 UTC),
        datetime!(2026-12-25 08:00 UTC),
        datetime!(2027-01-01 00:10 UTC),
    ] {
        let site = candour::demo::prepare(candour_core::Config::default(), true).unwrap();
        let store = SqliteStore::open(site.config.database_url.expose())
            .await
            .unwrap();
        let stores = store.stores();
        assert!(site.populate(&stores, &FixedClock(now)).await.unwrap());
        let today = candour_core::uk_time::uk_local(now).date();
        let open = stores.requests.open_requests().await.unwrap();
        let status: Vec<Status> = open.iter().map(|c| c.status).collect();
        for wanted in [
            Status::Received,
            Status::AwaitingIdentity,
            Status::Extended,
            Status::InProgress,
        ] {
            assert!(
                status.contains(&wanted),
                "{now}: no {wanted:?} in {status:?}"
            );
        }
        let overdue = open.iter().any(|c| {
            matches!(c.timeline.due(&holidays), Due::By { date, .. } if deadline::days_left(today, date) < 0)
        });
        assert!(overdue, "{now}: no overdue request");
        let mut closed = Vec::new();
        for id in 1..=6 {
            let case = stores.requests.request(id).await.unwrap().unwrap();
            if !case.status.is_open() {
                closed.push(case.status);
            }
        }
        closed.sort_by_key(|s| s.code());
        assert_eq!(closed, [Status::Answered, Status::Refused], "{now}");

        // The open request for a copy is from someone on record, with an answer being
        // prepared: a file added and another withheld as someone else's data.
        let copy = open
            .iter()
            .find(|c| c.name == "Dafydd Rees")
            .expect("the demo's open request for a copy");
        let person = copy.person.expect("from someone on record");
        assert!(
            candour_core::requests::answer::bundle_for(copy).is_ok(),
            "{now}"
        );
        let files = stores.request_items.request_files(copy.id).await.unwrap();
        assert_eq!(files.len(), 2, "{now}");
        let withheld = stores.request_items.withholdings(copy.id).await.unwrap();
        assert_eq!(withheld.len(), 1, "{now}");
        assert_eq!(withheld[0].item.row, Some(files[1].id));
        // The register: two active recipients and a retired one; disclosures about the person.
        let recipients = stores.disclosures.recipients().await.unwrap();
        assert_eq!(recipients.len(), 3);
        assert_eq!(recipients.iter().filter(|r| r.active).count(), 2);
        let about = stores.disclosures.disclosures_about(person).await.unwrap();
        assert_eq!(about.len(), 2, "{now}");
        assert!(about.iter().any(|d| d.recipient.is_some()));
        assert!(about.iter().any(|d| d.recipient.is_none()));
    }
}
