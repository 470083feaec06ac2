//! The demo's requests about personal data: made and moved on through the store and the
//! case rules on whatever day the demo starts, so the queue shows each state.
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
    }
}
