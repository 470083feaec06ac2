//! Cases for the statistics' reading side: hits go in through the real ingest methods and
//! folding, and the report reads the totals back.

use candour_core::stats::{
    Device, Dimension, Filter, Grain, HistoryRow, Hit, HitKind, Metrics, Range, VisitorHash,
};
use candour_core::store::Stores;
use candour_core::uk_time::uk_start_of_day;
use time::macros::{date, datetime};
use time::{Date, Duration, OffsetDateTime};

/// A page view by visitor `v` at `at`, from `source` (a referrer host) in `browser`.
fn view(v: u8, at: OffsetDateTime, path: &str, source: Option<&str>, browser: &str) -> Hit {
    Hit {
        at,
        kind: HitKind::PageView,
        path: path.to_owned(),
        visitor: VisitorHash([v; 16]),
        referrer: source.map(str::to_owned),
        utm_source: None,
        utm_medium: None,
        utm_campaign: None,
        browser: Some(browser.to_owned()),
        os: Some("Linux".to_owned()),
        device: Some(Device::Desktop),
        country: None,
    }
}

fn days(first: Date, last: Date) -> Range {
    Range {
        from: uk_start_of_day(first),
        to: uk_start_of_day(last.next_day().unwrap()),
    }
}

/// Two UK days in winter. Day one: visitor 1 reads three pages from search.example in
/// Firefox (a visit of 10 minutes), visitor 2 reads one page directly in Safari (a bounce),
/// and visitor 1 comes back in the afternoon (a second visit, one page). Day two: visitor 3
/// reads /news from social.example in Firefox.
async fn fill(s: &Stores) {
    let d1 = datetime!(2026-11-10 09:00 UTC);
    let d2 = datetime!(2026-11-11 15:00 UTC);
    let hits = vec![
        view(1, d1, "/", Some("search.example"), "Firefox"),
        view(
            1,
            d1 + Duration::minutes(4),
            "/news",
            Some("search.example"),
            "Firefox",
        ),
        view(
            1,
            d1 + Duration::minutes(10),
            "/contact",
            Some("search.example"),
            "Firefox",
        ),
        view(2, d1 + Duration::minutes(1), "/news", None, "Safari"),
        view(1, d1 + Duration::hours(5), "/news", None, "Firefox"),
        view(3, d2, "/news", Some("social.example"), "Firefox"),
    ];
    s.stats_ingest.record_hits(&hits).await.unwrap();
    // Well after the last hit, so every visit has ended.
    let mut later = d2 + Duration::hours(2);
    loop {
        let done = s.stats_ingest.fold_hits(later, 1000).await.unwrap();
        if done.hits == 0 {
            break;
        }
        later += Duration::seconds(1);
    }
}

pub async fn stats_summary_sums_the_days_and_gives_a_series_at_each_grain(s: &Stores) {
    fill(s).await;
    let both = days(date!(2026 - 11 - 10), date!(2026 - 11 - 11));
    let all = s
        .stats_report
        .stats_summary(both, Grain::Day, None)
        .await
        .unwrap();
    assert_eq!(
        all.totals,
        Metrics {
            // Each day's uniques, added.
            visitors: 3,
            visits: 4,
            pageviews: 6,
            bounces: 3,
            duration_seconds: 600,
            events: 0,
        }
    );
    let buckets: Vec<_> = all.series.iter().map(|p| p.bucket).collect();
    assert_eq!(
        buckets,
        [
            datetime!(2026-11-10 00:00 UTC),
            datetime!(2026-11-11 00:00 UTC)
        ]
    );
    assert_eq!(all.series[0].metrics.pageviews, 5);
    assert_eq!(all.series[0].metrics.visitors, 2);

    // One day, by the hour: the day's figures come from the day, the points from its hours.
    let one = days(date!(2026 - 11 - 10), date!(2026 - 11 - 10));
    let day = s
        .stats_report
        .stats_summary(one, Grain::Hour, None)
        .await
        .unwrap();
    assert_eq!(day.totals.visitors, 2);
    assert_eq!(day.totals.pageviews, 5);
    let hours: Vec<_> = day
        .series
        .iter()
        .map(|p| (p.bucket, p.metrics.pageviews))
        .collect();
    assert_eq!(
        hours,
        [
            (datetime!(2026-11-10 09:00 UTC), 4),
            (datetime!(2026-11-10 14:00 UTC), 1)
        ]
    );

    // Filtered: only what matches the value, read from that value's own totals.
    let firefox = Filter {
        dimension: Dimension::Browser,
        value: "Firefox".to_owned(),
    };
    let f = s
        .stats_report
        .stats_summary(both, Grain::Day, Some(&firefox))
        .await
        .unwrap();
    assert_eq!(
        (f.totals.visitors, f.totals.visits, f.totals.pageviews),
        (2, 3, 5)
    );
    let news = Filter {
        dimension: Dimension::Page,
        value: "/news".to_owned(),
    };
    let f = s
        .stats_report
        .stats_summary(both, Grain::Day, Some(&news))
        .await
        .unwrap();
    assert_eq!((f.totals.visitors, f.totals.pageviews), (3, 4));

    // A range with nothing in it.
    let empty = days(date!(2026 - 11 - 12), date!(2026 - 11 - 20));
    let none = s
        .stats_report
        .stats_summary(empty, Grain::Day, None)
        .await
        .unwrap();
    assert!(none.totals.is_zero() && none.series.is_empty());
}

pub async fn stats_breakdown_ranks_values_and_filters_through_the_pairs(s: &Stores) {
    fill(s).await;
    let both = days(date!(2026 - 11 - 10), date!(2026 - 11 - 11));
    let pages = s
        .stats_report
        .stats_breakdown(both, Dimension::Page, None, 10)
        .await
        .unwrap();
    let ranked: Vec<_> = pages
        .iter()
        .map(|r| (r.value.as_str(), r.metrics.visitors, r.metrics.pageviews))
        .collect();
    assert_eq!(ranked, [("/news", 3, 4), ("/", 1, 1), ("/contact", 1, 1)]);
    let top = s
        .stats_report
        .stats_breakdown(both, Dimension::Page, None, 1)
        .await
        .unwrap();
    assert_eq!(top.len(), 1);

    let sources = s
        .stats_report
        .stats_breakdown(both, Dimension::Source, None, 10)
        .await
        .unwrap();
    let ranked: Vec<_> = sources
        .iter()
        .map(|r| (r.value.as_str(), r.metrics.visits))
        .collect();
    assert_eq!(
        ranked,
        [
            ("(direct)", 2),
            ("search.example", 1),
            ("social.example", 1)
        ]
    );

    // Pages among the visits from search.example only.
    let search = Filter {
        dimension: Dimension::Source,
        value: "search.example".to_owned(),
    };
    let pages = s
        .stats_report
        .stats_breakdown(both, Dimension::Page, Some(&search), 10)
        .await
        .unwrap();
    let mut seen: Vec<_> = pages.iter().map(|r| r.value.as_str()).collect();
    seen.sort_unstable();
    assert_eq!(seen, ["/", "/contact", "/news"]);
    assert!(pages.iter().all(|r| r.metrics.pageviews == 1));
    // The filter's own panel holds only its value.
    let own = s
        .stats_report
        .stats_breakdown(both, Dimension::Source, Some(&search), 10)
        .await
        .unwrap();
    assert_eq!(own.len(), 1);
    assert_eq!(own[0].value, "search.example");
    // Only the range's days count.
    let second = days(date!(2026 - 11 - 11), date!(2026 - 11 - 11));
    let pages = s
        .stats_report
        .stats_breakdown(second, Dimension::Page, None, 10)
        .await
        .unwrap();
    assert_eq!(pages.len(), 1);
    assert_eq!(pages[0].value, "/news");
}

pub async fn imported_history_is_kept_apart_and_importing_again_replaces_it(s: &Stores) {
    fill(s).await;
    let rows = [
        HistoryRow {
            day: date!(2026 - 11 - 09),
            path: "/".to_owned(),
            pageviews: 40,
        },
        HistoryRow {
            day: date!(2026 - 11 - 09),
            path: "/news".to_owned(),
            pageviews: 2,
        },
        // A day Candour also counted: the imported views join the counted ones.
        HistoryRow {
            day: date!(2026 - 11 - 10),
            path: "/news".to_owned(),
            pageviews: 10,
        },
    ];
    assert_eq!(s.stats_report.import_history(&rows).await.unwrap(), 3);
    let range = days(date!(2026 - 11 - 09), date!(2026 - 11 - 11));
    let check = |expect_total: i64, expect_imported: i64| async move {
        let sum = s
            .stats_report
            .stats_summary(range, Grain::Day, None)
            .await
            .unwrap();
        assert_eq!(sum.totals.pageviews, expect_total);
        // Imported days add no visitors: the export has none.
        assert_eq!(sum.totals.visitors, 3);
        assert_eq!(
            s.stats_report.imported_pageviews(range).await.unwrap(),
            expect_imported
        );
    };
    check(6 + 52, 52).await;
    // The same file again changes nothing.
    s.stats_report.import_history(&rows).await.unwrap();
    check(6 + 52, 52).await;
    let pages = s
        .stats_report
        .stats_breakdown(range, Dimension::Page, None, 10)
        .await
        .unwrap();
    let news = pages.iter().find(|r| r.value == "/news").unwrap();
    assert_eq!(news.metrics.pageviews, 4 + 12);
    // A corrected day replaces what was imported for it, page by page.
    s.stats_report
        .import_history(&[HistoryRow {
            day: date!(2026 - 11 - 09),
            path: "/".to_owned(),
            pageviews: 30,
        }])
        .await
        .unwrap();
    check(6 + 42, 42).await;
    let first = days(date!(2026 - 11 - 09), date!(2026 - 11 - 09));
    let series = s
        .stats_report
        .stats_summary(first, Grain::Day, None)
        .await
        .unwrap();
    assert_eq!(series.series.len(), 1);
    assert_eq!(series.series[0].metrics.pageviews, 32);
    // A page's filter finds its imported views too.
    let f = Filter {
        dimension: Dimension::Page,
        value: "/".to_owned(),
    };
    let only = s
        .stats_report
        .stats_summary(first, Grain::Day, Some(&f))
        .await
        .unwrap();
    assert_eq!(only.totals.pageviews, 30);
    // Nothing imported outside the range.
    let later = days(date!(2026 - 11 - 11), date!(2026 - 11 - 30));
    assert_eq!(s.stats_report.imported_pageviews(later).await.unwrap(), 0);
}

/// A breakdown over a long range is read from week and month rows; it must be exactly the
/// sum of the range's single days (each read from day rows), across the change to summer
/// time and month ends, for every panel kept by visit and by hit.
pub async fn stats_breakdown_over_weeks_and_months_equals_its_days(s: &Stores) {
    // 70 UK days from 9 February 2026, summer time from 29 March: each day a few visitors,
    // one of them twice (a second visit), over three pages and two browsers.
    let first = date!(2026 - 02 - 09);
    for i in 0..70_i64 {
        let day = first + Duration::days(i);
        let noon = uk_start_of_day(day) + Duration::hours(12);
        let mut hits = Vec::new();
        for v in 0..(2 + i % 4) {
            let path = format!("/p{}", (i + v) % 3);
            let browser = if v % 2 == 0 { "Firefox" } else { "Safari" };
            let at = noon + Duration::minutes(v * 3);
            hits.push(view(v as u8, at, &path, None, browser));
            hits.push(view(
                v as u8,
                at + Duration::minutes(1),
                "/p0",
                None,
                browser,
            ));
        }
        hits.push(view(
            0,
            noon + Duration::hours(3),
            "/p2",
            Some("search.example"),
            "Firefox",
        ));
        s.stats_ingest.record_hits(&hits).await.unwrap();
        while s
            .stats_ingest
            .fold_hits(noon + Duration::hours(5), 1000)
            .await
            .unwrap()
            .hits
            > 0
        {}
    }
    s.stats_ingest
        .fold_hits(uk_start_of_day(first + Duration::days(71)), 1000)
        .await
        .unwrap();
    let by_days = |from: Date, to: Date, d: Dimension| async move {
        let mut sum: std::collections::BTreeMap<String, Metrics> = Default::default();
        let mut day = from;
        while day <= to {
            for r in s
                .stats_report
                .stats_breakdown(days(day, day), d, None, 100)
                .await
                .unwrap()
            {
                sum.entry(r.value).or_default().add(&r.metrics);
            }
            day = day.next_day().unwrap();
        }
        sum
    };
    for (from, to) in [
        (date!(2026 - 03 - 01), date!(2026 - 03 - 31)),
        (date!(2026 - 02 - 11), date!(2026 - 04 - 16)),
        (date!(2026 - 03 - 17), date!(2026 - 04 - 15)),
        (date!(2026 - 02 - 09), date!(2026 - 02 - 15)),
    ] {
        for d in [
            Dimension::Page,
            Dimension::EntryPage,
            Dimension::Source,
            Dimension::Browser,
        ] {
            let whole: std::collections::BTreeMap<String, Metrics> = s
                .stats_report
                .stats_breakdown(days(from, to), d, None, 100)
                .await
                .unwrap()
                .into_iter()
                .map(|r| (r.value, r.metrics))
                .collect();
            assert!(!whole.is_empty());
            assert_eq!(
                whole,
                by_days(from, to, d).await,
                "{d:?} from {from} to {to}"
            );
        }
        // The filter's own value is read the same way.
        let firefox = Filter {
            dimension: Dimension::Browser,
            value: "Firefox".to_owned(),
        };
        let own = s
            .stats_report
            .stats_breakdown(days(from, to), Dimension::Browser, Some(&firefox), 10)
            .await
            .unwrap();
        assert_eq!(own.len(), 1);
        assert_eq!(
            Some(&own[0].metrics),
            by_days(from, to, Dimension::Browser).await.get("Firefox")
        );
        // A filtered panel reads the pairs of the days rolled into weeks and months: the
        // same as its single days' pairs.
        filtered_equal_their_days(s, from, to).await;
    }
    // A hit arriving late for a day already rolled into its week and month is counted in
    // both.
    let late = uk_start_of_day(date!(2026 - 03 - 04)) + Duration::hours(20);
    s.stats_ingest
        .record_hits(&[view(9, late, "/p1", Some("search.example"), "Safari")])
        .await
        .unwrap();
    s.stats_ingest
        .fold_hits(uk_start_of_day(first + Duration::days(72)), 1000)
        .await
        .unwrap();
    let search = Filter {
        dimension: Dimension::Source,
        value: "search.example".to_owned(),
    };
    let march = s
        .stats_report
        .stats_breakdown(
            days(date!(2026 - 03 - 01), date!(2026 - 03 - 31)),
            Dimension::Browser,
            Some(&search),
            10,
        )
        .await
        .unwrap();
    assert!(
        march
            .iter()
            .any(|r| r.value == "Safari" && r.metrics.visitors == 1),
        "the late visitor is in March's pairs: {march:?}"
    );
    filtered_equal_their_days(s, date!(2026 - 03 - 01), date!(2026 - 03 - 31)).await;
}

/// Every filtered panel over `from` to `to` equals the sum of its single days.
async fn filtered_equal_their_days(s: &Stores, from: Date, to: Date) {
    let filters = [
        (Dimension::Source, "search.example"),
        (Dimension::Page, "/p0"),
        (Dimension::Browser, "Safari"),
    ];
    for (fd, fv) in filters {
        let f = Filter {
            dimension: fd,
            value: fv.to_owned(),
        };
        for d in [Dimension::Page, Dimension::EntryPage, Dimension::Browser] {
            if d == fd {
                continue;
            }
            let whole: std::collections::BTreeMap<String, Metrics> = s
                .stats_report
                .stats_breakdown(days(from, to), d, Some(&f), 100)
                .await
                .unwrap()
                .into_iter()
                .map(|r| (r.value, r.metrics))
                .collect();
            let mut sum: std::collections::BTreeMap<String, Metrics> = Default::default();
            let mut day = from;
            while day <= to {
                for r in s
                    .stats_report
                    .stats_breakdown(days(day, day), d, Some(&f), 100)
                    .await
                    .unwrap()
                {
                    sum.entry(r.value).or_default().add(&r.metrics);
                }
                day = day.next_day().unwrap();
            }
            assert!(!whole.is_empty(), "{d:?} where {fd:?} is {fv}");
            assert_eq!(whole, sum, "{d:?} where {fd:?} is {fv}, {from} to {to}");
        }
    }
}

/// Days folded all at once, long after they ended (a backlog), are rolled into weeks and
/// months a few weeks per fold; filtered panels are right before, between and after.
pub async fn stats_filtered_panels_hold_while_a_backlog_of_days_is_rolled(s: &Stores) {
    let first = date!(2026 - 01 - 05);
    let mut hits = Vec::new();
    for i in 0..45_i64 {
        let noon = uk_start_of_day(first + Duration::days(i)) + Duration::hours(12);
        let browser = if i % 3 == 0 { "Safari" } else { "Firefox" };
        hits.push(view(1, noon, "/p0", Some("search.example"), browser));
        hits.push(view(1, noon + Duration::minutes(2), "/p1", None, browser));
        hits.push(view(2, noon, &format!("/p{}", i % 4), None, "Safari"));
    }
    s.stats_ingest.record_hits(&hits).await.unwrap();
    let later = uk_start_of_day(first + Duration::days(50));
    let (from, to) = (first, first + Duration::days(44));
    for _ in 0..3 {
        s.stats_ingest.fold_hits(later, 1000).await.unwrap();
        filtered_equal_their_days(s, from, to).await;
    }
    let search = Filter {
        dimension: Dimension::Source,
        value: "search.example".to_owned(),
    };
    let pages = s
        .stats_report
        .stats_breakdown(days(from, to), Dimension::Page, Some(&search), 10)
        .await
        .unwrap();
    let got: Vec<(&str, i64, i64)> = pages
        .iter()
        .map(|r| (r.value.as_str(), r.metrics.visitors, r.metrics.pageviews))
        .collect();
    assert_eq!(got, vec![("/p0", 45, 45), ("/p1", 45, 45)]);
}
