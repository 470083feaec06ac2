//! Site statistics, the writing side: hits folded into totals on each backend alike.

use candour_core::stats::{
    Device, Dimension, Filter, Folded, Grain, Hit, HitKind, Metrics, Range, VisitorHash, uk_day,
};
use candour_core::store::Stores;
use time::{Duration, OffsetDateTime, macros::datetime};

/// 10:00 in London on a summer day.
const MORNING: OffsetDateTime = datetime!(2026-06-10 09:00 UTC);

fn page(who: u8, at: OffsetDateTime, path: &str) -> Hit {
    Hit {
        at,
        kind: HitKind::PageView,
        path: path.to_owned(),
        visitor: VisitorHash([who; 16]),
        referrer: None,
        utm_source: None,
        utm_medium: None,
        utm_campaign: None,
        browser: Some("Firefox".to_owned()),
        os: Some("Linux".to_owned()),
        device: Some(Device::Desktop),
        country: None,
    }
}

fn from(mut hit: Hit, referrer: &str) -> Hit {
    hit.referrer = Some(referrer.to_owned());
    hit
}

/// The UK day of `t`, as a range of daily buckets.
fn day_of(t: OffsetDateTime) -> Range {
    let from = Grain::Day.bucket(t);
    Range {
        from,
        to: Grain::Day.bucket(from + Duration::hours(30)),
    }
}

async fn day_totals(s: &Stores, t: OffsetDateTime) -> Metrics {
    s.stats_report
        .stats_summary(day_of(t), Grain::Day, None)
        .await
        .unwrap()
        .totals
}

/// One fold at `now` of up to 1,000 waiting hits.
async fn fold_at(s: &Stores, now: OffsetDateTime) -> Folded {
    s.stats_ingest.fold_hits(now, 1000).await.unwrap()
}

async fn fold_all(s: &Stores, now: OffsetDateTime) {
    while fold_at(s, now).await.hits > 0 {}
}

async fn panel(
    s: &Stores,
    t: OffsetDateTime,
    d: Dimension,
    f: Option<&Filter>,
) -> Vec<(String, Metrics)> {
    s.stats_report
        .stats_breakdown(day_of(t), d, f, 100)
        .await
        .unwrap()
        .into_iter()
        .map(|r| (r.value, r.metrics))
        .collect()
}

pub async fn stats_salt_is_stored_once_per_day(s: &Stores) {
    let day = uk_day(MORNING);
    let first = s.stats_ingest.stats_salt(day, &[1; 32]).await.unwrap();
    assert_eq!(first, vec![1; 32]);
    let again = s.stats_ingest.stats_salt(day, &[2; 32]).await.unwrap();
    assert_eq!(again, first, "a day's salt is never replaced");
    let next = s
        .stats_ingest
        .stats_salt(day.next_day().unwrap(), &[3; 32])
        .await
        .unwrap();
    assert_eq!(next, vec![3; 32]);
}

pub async fn stats_fold_counts_visitors_visits_bounces_and_duration(s: &Stores) {
    let m = MORNING;
    s.stats_ingest
        .record_hits(&[
            page(1, m, "/"),
            page(1, m + Duration::minutes(10), "/news"),
            // 40 minutes after the last: a second visit, one page, a bounce.
            page(1, m + Duration::minutes(50), "/news"),
            from(
                page(2, m + Duration::minutes(1), "/polls/1"),
                "search.example",
            ),
        ])
        .await
        .unwrap();
    // Folded before the visits end: visits and views count at once, bounces later.
    let folded = fold_at(s, m + Duration::minutes(52)).await;
    assert_eq!(folded.hits, 4);
    let early = day_totals(s, m).await;
    assert_eq!((early.visitors, early.visits, early.pageviews), (2, 3, 4));
    assert_eq!(
        early.bounces, 1,
        "only the visit from search has ended: {early:?}"
    );
    assert_eq!(early.duration_seconds, 600);

    assert_eq!(
        fold_at(s, m + Duration::hours(2)).await.visits_closed,
        1,
        "the second visit ends; the other two ended in the first fold"
    );
    let day = day_totals(s, m).await;
    assert_eq!(
        day,
        Metrics {
            visitors: 2,
            visits: 3,
            pageviews: 4,
            bounces: 2,
            duration_seconds: 600,
            events: 0
        }
    );
    let entries = panel(s, m, Dimension::EntryPage, None).await;
    let entry = |p: &str| {
        entries
            .iter()
            .find(|(v, _)| v == p)
            .map(|(_, m)| *m)
            .unwrap()
    };
    assert_eq!(
        (entry("/").visits, entry("/").pageviews, entry("/").bounces),
        (1, 2, 0)
    );
    assert_eq!((entry("/news").visits, entry("/news").bounces), (1, 1));
    let exits = panel(s, m, Dimension::ExitPage, None).await;
    let exit_news = exits.iter().find(|(v, _)| v == "/news").unwrap().1;
    assert_eq!((exit_news.visits, exit_news.visitors), (2, 1));
    let pages = panel(s, m, Dimension::Page, None).await;
    let news = pages.iter().find(|(v, _)| v == "/news").unwrap().1;
    assert_eq!(
        (news.pageviews, news.visitors),
        (2, 1),
        "uniques are exact per day"
    );
    let sources = panel(s, m, Dimension::Source, None).await;
    assert_eq!(
        sources
            .iter()
            .map(|(v, m)| (v.as_str(), m.visits))
            .collect::<Vec<_>>(),
        vec![("(direct)", 2), ("search.example", 1)]
    );
}

/// A stored visit ends with its UK day, in a fold with no hit of its own, before it has been
/// idle for thirty minutes (the idle rule is checked by
/// `stats_fold_counts_visitors_visits_bounces_and_duration`).
pub async fn stats_stored_visits_end_at_midnight(s: &Stores) {
    let late = datetime!(2026-06-10 22:40 UTC); // 23:40 in London
    s.stats_ingest
        .record_hits(&[
            page(1, late, "/"),
            page(2, late + Duration::minutes(12), "/"),
            page(2, late + Duration::minutes(14), "/news"),
        ])
        .await
        .unwrap();
    let kept = fold_at(s, late + Duration::minutes(15)).await;
    assert_eq!((kept.hits, kept.visits_closed), (3, 0));
    // 23:58: nothing is idle for thirty minutes yet, and the day is not over.
    let early = fold_at(s, late + Duration::minutes(18)).await;
    assert_eq!(early.visits_closed, 0);
    // 00:05: both visits began yesterday; neither has been idle for thirty minutes.
    let after = fold_at(s, late + Duration::minutes(25)).await;
    assert_eq!(after.visits_closed, 2, "yesterday's visits end at midnight");
    let day = day_totals(s, late).await;
    assert_eq!((day.visits, day.bounces, day.duration_seconds), (2, 1, 120));
}

pub async fn stats_uniques_hold_across_folds_and_hours(s: &Stores) {
    let m = MORNING + Duration::minutes(50);
    s.stats_ingest
        .record_hits(&[page(7, m, "/a")])
        .await
        .unwrap();
    fold_all(s, m).await;
    s.stats_ingest
        .record_hits(&[page(7, m + Duration::minutes(15), "/a")])
        .await
        .unwrap();
    fold_all(s, m + Duration::minutes(16)).await;
    let day = day_totals(s, m).await;
    assert_eq!((day.visitors, day.visits, day.pageviews), (1, 1, 2));
    let hours = s
        .stats_report
        .stats_summary(day_of(m), Grain::Hour, None)
        .await
        .unwrap();
    let by_hour: Vec<(i64, i64)> = hours
        .series
        .iter()
        .map(|p| (p.metrics.visitors, p.metrics.pageviews))
        .collect();
    assert_eq!(
        by_hour,
        vec![(1, 1), (1, 1)],
        "one visitor in each hour it was seen"
    );
    assert_eq!(hours.series[0].bucket, datetime!(2026-06-10 09:00 UTC));
}

pub async fn stats_events_count_as_goals(s: &Stores) {
    let m = MORNING;
    let mut vote = page(3, m + Duration::seconds(30), "/polls/1");
    vote.kind = HitKind::Event("Poll vote".to_owned());
    s.stats_ingest
        .record_hits(&[page(3, m, "/polls/1"), vote])
        .await
        .unwrap();
    fold_all(s, m + Duration::hours(1)).await;
    let goals = panel(s, m, Dimension::Goal, None).await;
    assert_eq!(goals.len(), 1);
    assert_eq!(goals[0].0, "Poll vote");
    assert_eq!((goals[0].1.events, goals[0].1.visitors), (1, 1));
    let day = day_totals(s, m).await;
    assert_eq!((day.events, day.bounces, day.duration_seconds), (1, 1, 30));
}

pub async fn stats_filtered_panels_come_from_pairs(s: &Stores) {
    let m = MORNING;
    s.stats_ingest
        .record_hits(&[
            from(page(1, m, "/a"), "search.example"),
            page(1, m + Duration::minutes(1), "/b"),
            page(2, m, "/b"),
        ])
        .await
        .unwrap();
    fold_all(s, m + Duration::hours(1)).await;
    let search = Filter {
        dimension: Dimension::Source,
        value: "search.example".to_owned(),
    };
    let pages = panel(s, m, Dimension::Page, Some(&search)).await;
    assert_eq!(
        pages
            .iter()
            .map(|(v, m)| (v.as_str(), m.visitors, m.pageviews))
            .collect::<Vec<_>>(),
        vec![("/a", 1, 1), ("/b", 1, 1)]
    );
    let b = Filter {
        dimension: Dimension::Page,
        value: "/b".to_owned(),
    };
    let sources = panel(s, m, Dimension::Source, Some(&b)).await;
    assert_eq!(
        sources
            .iter()
            .map(|(v, m)| (v.as_str(), m.visitors))
            .collect::<Vec<_>>(),
        vec![("(direct)", 1), ("search.example", 1)]
    );
    let only = s
        .stats_report
        .stats_summary(day_of(m), Grain::Day, Some(&search))
        .await
        .unwrap()
        .totals;
    assert_eq!((only.visitors, only.visits, only.pageviews), (1, 1, 2));
}

pub async fn stats_live_count_sees_folded_and_waiting_hits(s: &Stores) {
    let m = MORNING;
    s.stats_ingest
        .record_hits(&[
            page(1, m - Duration::minutes(20), "/"),
            page(2, m - Duration::minutes(2), "/"),
        ])
        .await
        .unwrap();
    fold_all(s, m).await;
    // One batch with a hit from before the window (visitor 4), which is not live.
    s.stats_ingest
        .record_hits(&[
            page(4, m - Duration::minutes(10), "/"),
            page(3, m - Duration::minutes(1), "/"),
            page(2, m, "/x"),
        ])
        .await
        .unwrap();
    let live = s
        .stats_ingest
        .live_visitors(m - Duration::minutes(5))
        .await
        .unwrap();
    assert_eq!(
        live, 2,
        "visitors 2 and 3; visitor 1 was last seen 20 minutes ago, visitor 4 ten"
    );
}

pub async fn stats_retention_forgets_past_days_and_old_totals(s: &Stores) {
    let old = MORNING - Duration::days(400);
    let yesterday = MORNING - Duration::days(1);
    s.stats_ingest
        .stats_salt(uk_day(yesterday), &[9; 32])
        .await
        .unwrap();
    s.stats_ingest
        .record_hits(&[
            page(1, old, "/old"),
            page(2, yesterday, "/y"),
            page(3, MORNING, "/t"),
        ])
        .await
        .unwrap();
    fold_all(s, MORNING).await;
    let gone = s
        .stats_ingest
        .purge_stats(MORNING - Duration::days(365), uk_day(MORNING))
        .await
        .unwrap();
    assert!(gone > 0);
    assert_eq!(
        day_totals(s, old).await,
        Metrics::default(),
        "old totals are gone"
    );
    assert_eq!(
        day_totals(s, yesterday).await.visitors,
        1,
        "recent totals stay"
    );
    assert_eq!(day_totals(s, MORNING).await.visitors, 1);
    let salt = s
        .stats_ingest
        .stats_salt(uk_day(yesterday), &[8; 32])
        .await
        .unwrap();
    assert_eq!(salt, vec![8; 32], "yesterday's salt was deleted");
    // Today's marks stay: the same visitor again today is not a new unique.
    s.stats_ingest
        .record_hits(&[page(3, MORNING + Duration::minutes(5), "/t")])
        .await
        .unwrap();
    fold_all(s, MORNING + Duration::minutes(6)).await;
    assert_eq!(day_totals(s, MORNING).await.visitors, 1);
    assert_eq!(
        s.stats_ingest.live_visitors(old).await.unwrap(),
        1,
        "only today's visit is open"
    );
}

pub async fn stats_retention_keeps_what_is_left_of_a_straddling_week_and_month(s: &Stores) {
    // Week of Monday 29 June 2026; the cutoff is Thursday 2 July (UK summer time), so the
    // week and July both straddle it. Hits on 30 June and 1 July go; those on 3 July stay.
    let cutoff = datetime!(2026-07-01 23:00 UTC);
    let gone_a = datetime!(2026-06-30 09:00 UTC);
    let gone_b = datetime!(2026-07-01 09:00 UTC);
    let kept = datetime!(2026-07-03 09:00 UTC);
    s.stats_ingest
        .record_hits(&[
            page(1, gone_a, "/gone"),
            page(2, gone_b, "/gone"),
            page(3, kept, "/kept"),
            page(4, kept, "/gone"),
        ])
        .await
        .unwrap();
    fold_all(s, kept + Duration::hours(2)).await;
    // A fold in August: every day of July is over and rolled into the week and month pairs.
    fold_all(s, datetime!(2026-08-03 09:00 UTC)).await;
    s.stats_ingest
        .purge_stats(cutoff, uk_day(kept))
        .await
        .unwrap();
    let week = Range {
        from: datetime!(2026-06-28 23:00 UTC),
        to: datetime!(2026-07-05 23:00 UTC),
    };
    let july = Range {
        from: datetime!(2026-06-30 23:00 UTC),
        to: datetime!(2026-07-31 23:00 UTC),
    };
    let kept_day = day_totals(s, kept).await;
    assert_eq!((kept_day.visitors, kept_day.pageviews), (2, 2));
    for (range, what) in [(week, "the week"), (july, "July")] {
        let rows = s
            .stats_report
            .stats_breakdown(range, Dimension::Page, None, 10)
            .await
            .unwrap();
        let got: Vec<(&str, i64, i64)> = rows
            .iter()
            .map(|r| (r.value.as_str(), r.metrics.visitors, r.metrics.pageviews))
            .collect();
        assert_eq!(
            got,
            vec![("/gone", 1, 1), ("/kept", 1, 1)],
            "{what} counts only the day still kept"
        );
        let site = s
            .stats_report
            .stats_breakdown(range, Dimension::Browser, None, 10)
            .await
            .unwrap();
        assert_eq!(
            site.iter()
                .map(|r| (r.metrics.visitors, r.metrics.visits))
                .collect::<Vec<_>>(),
            vec![(2, 2)],
            "{what}: the browser row less the days that went"
        );
        let firefox = Filter {
            dimension: Dimension::Browser,
            value: "Firefox".to_owned(),
        };
        let pages = s
            .stats_report
            .stats_breakdown(range, Dimension::Page, Some(&firefox), 10)
            .await
            .unwrap();
        assert_eq!(
            pages
                .iter()
                .map(|r| (r.value.as_str(), r.metrics.visitors, r.metrics.pageviews))
                .collect::<Vec<_>>(),
            vec![("/gone", 1, 1), ("/kept", 1, 1)],
            "{what}: the filtered pairs less the days that went"
        );
    }
    // Purging again changes nothing.
    s.stats_ingest
        .purge_stats(cutoff, uk_day(kept))
        .await
        .unwrap();
    let rows = s
        .stats_report
        .stats_breakdown(week, Dimension::Page, None, 10)
        .await
        .unwrap();
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0].metrics.pageviews + rows[1].metrics.pageviews, 2);
}

pub async fn stats_two_instances_add_up(one: &Stores, two: &Stores) {
    let m = MORNING;
    let mut a = Vec::new();
    let mut b = Vec::new();
    for n in 0..40u8 {
        a.push(page(n, m + Duration::seconds(i64::from(n)), "/a"));
        b.push(page(n, m + Duration::seconds(100 + i64::from(n)), "/b"));
        b.push(page(100 + n, m + Duration::seconds(i64::from(n)), "/b"));
    }
    let (r1, r2) = tokio::join!(
        one.stats_ingest.record_hits(&a),
        two.stats_ingest.record_hits(&b)
    );
    r1.unwrap();
    r2.unwrap();
    let now = m + Duration::minutes(5);
    let (f1, f2) = tokio::join!(
        async {
            let mut n = 0;
            loop {
                let f = one.stats_ingest.fold_hits(now, 7).await.unwrap();
                if f.hits == 0 {
                    return n;
                }
                n += f.hits;
            }
        },
        async {
            let mut n = 0;
            loop {
                let f = two.stats_ingest.fold_hits(now, 11).await.unwrap();
                if f.hits == 0 {
                    return n;
                }
                n += f.hits;
            }
        }
    );
    assert_eq!(f1 + f2, 120, "every hit folded once");
    let day = day_totals(one, m).await;
    assert_eq!((day.visitors, day.visits, day.pageviews), (80, 80, 120));
    let pages = panel(two, m, Dimension::Page, None).await;
    let find = |p: &str| pages.iter().find(|(v, _)| v == p).unwrap().1;
    assert_eq!((find("/a").visitors, find("/b").visitors), (40, 80));
}
