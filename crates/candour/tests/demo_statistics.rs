//! The demo's statistics: a few weeks of visits folded through the real store methods, and
//! a month of imported history before them, so the dashboard is not empty on any day.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use candour_core::clock::FixedClock;
use candour_core::stats::range::{DateRange, uk_today};
use candour_core::stats::{Dimension, Grain};
use candour_store_sqlite::SqliteStore;
use time::Duration;
use time::macros::datetime;

#[tokio::test]
async fn the_demo_has_weeks_of_statistics_and_imported_history() {
    let now = datetime!(2026-12-02 09:00 UTC);
    let site = candour::demo::prepare(candour_core::Config::default(), true).unwrap();
    let store = SqliteStore::open(site.config.database_url.expose())
        .await
        .unwrap();
    let stores = store.stores();
    assert!(site.populate(&stores, &FixedClock(now)).await.unwrap());
    let today = uk_today(now);
    let month = DateRange::new(today - Duration::days(28), today - Duration::days(1)).instants();
    let summary = stores
        .stats_report
        .stats_summary(month, Grain::Day, None)
        .await
        .unwrap();
    assert!(summary.totals.visitors > 200, "{:?}", summary.totals);
    assert!(summary.totals.pageviews > summary.totals.visits);
    assert!(summary.totals.bounces > 0 && summary.totals.duration_seconds > 0);
    assert_eq!(summary.series.len(), 28, "every day has visits");
    for (dimension, at_least) in [
        (Dimension::Page, 5),
        (Dimension::Source, 4),
        (Dimension::Browser, 3),
        (Dimension::Device, 3),
        (Dimension::UtmCampaign, 1),
        (Dimension::Goal, 1),
    ] {
        let rows = stores
            .stats_report
            .stats_breakdown(month, dimension, None, 10)
            .await
            .unwrap();
        assert!(rows.len() >= at_least, "{dimension:?}: {rows:?}");
    }
    let before = DateRange::new(today - Duration::days(60), today - Duration::days(29)).instants();
    assert!(
        stores
            .stats_report
            .imported_pageviews(before)
            .await
            .unwrap()
            > 1000
    );
    assert_eq!(
        stores.stats_report.imported_pageviews(month).await.unwrap(),
        0
    );
}
