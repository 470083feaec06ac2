use std::collections::HashMap;

use time::Duration;
use time::macros::datetime;

use super::*;
use crate::stats::Device;

const T0: OffsetDateTime = datetime!(2026-06-01 09:10 UTC);

fn hit(who: u8, at: OffsetDateTime, path: &str) -> Hit {
    Hit {
        at,
        kind: HitKind::PageView,
        path: path.to_owned(),
        visitor: VisitorHash([who; 16]),
        referrer: Some("search.example".to_owned()),
        utm_source: None,
        utm_medium: None,
        utm_campaign: None,
        browser: Some("Firefox".to_owned()),
        os: Some("Linux".to_owned()),
        device: Some(Device::Desktop),
        country: None,
    }
}

/// What a store keeps of the marks: each visitor-day's set.
type Seen = HashMap<SeenKey, Vec<u8>>;

/// Folds as a store would: reads the batch's sets from `seen`, settles, writes them back.
fn run(hits: &[Hit], open: Vec<OpenVisit>, now: OffsetDateTime, seen: &mut Seen) -> Fold {
    let mut f = fold(hits, open, now);
    let wanted: Seen = f
        .seen_keys()
        .into_iter()
        .filter_map(|k| seen.get(&k).map(|v| (k, v.clone())))
        .collect();
    for (k, set) in f.settle(&wanted) {
        seen.insert(k, set);
    }
    f
}

fn day_row(f: &Fold, dimension: Option<Dimension>, value: &str) -> Metrics {
    f.totals()
        .iter()
        .filter(|(k, _)| k.grain == Grain::Day && k.dimension == dimension && k.value == value)
        .fold(Metrics::default(), |mut m, (_, r)| {
            m.add(r);
            m
        })
}

#[test]
fn one_page_visit_is_a_bounce_when_it_ends() {
    let mut seen = Seen::new();
    let f = run(
        &[hit(1, T0, "/a")],
        vec![],
        T0 + Duration::minutes(31),
        &mut seen,
    );
    let site = day_row(&f, None, "");
    assert_eq!(site.visitors, 1);
    assert_eq!(site.visits, 1);
    assert_eq!(site.pageviews, 1);
    assert_eq!(site.bounces, 1);
    assert_eq!(site.duration_seconds, 0);
    assert!(f.open.is_empty());
    assert_eq!(f.closed, vec![VisitorHash([1; 16])]);
    assert_eq!(day_row(&f, Some(Dimension::ExitPage), "/a").visits, 1);
}

#[test]
fn a_visit_spans_hits_within_thirty_minutes_and_ends_after() {
    let mut seen = Seen::new();
    let hits = [
        hit(1, T0, "/a"),
        hit(1, T0 + Duration::minutes(20), "/b"),
        hit(1, T0 + Duration::minutes(45), "/c"),
        // 30 minutes after /c: a new visit.
        hit(1, T0 + Duration::minutes(75), "/a"),
    ];
    let f = run(&hits, vec![], T0 + Duration::minutes(76), &mut seen);
    let site = day_row(&f, None, "");
    assert_eq!(site.visits, 2);
    assert_eq!(site.visitors, 1, "one visitor however many visits in a day");
    assert_eq!(site.pageviews, 4);
    assert_eq!(site.bounces, 0, "the second visit is still open");
    assert_eq!(site.duration_seconds, 45 * 60);
    assert_eq!(day_row(&f, Some(Dimension::EntryPage), "/a").visits, 2);
    assert_eq!(day_row(&f, Some(Dimension::ExitPage), "/c").visits, 1);
    assert_eq!(day_row(&f, Some(Dimension::Page), "/a").pageviews, 2);
    assert_eq!(day_row(&f, Some(Dimension::Page), "/a").visitors, 1);
    assert_eq!(f.open.len(), 1);
    assert_eq!(f.open[0].entry, "/a");
    assert_eq!(f.open[0].pageviews, 1);
}

#[test]
fn a_stored_visit_carries_on_and_uniques_hold_across_folds() {
    let mut seen = Seen::new();
    let first = run(
        &[hit(1, T0, "/a")],
        vec![],
        T0 + Duration::seconds(5),
        &mut seen,
    );
    assert_eq!(first.open.len(), 1);
    let second = run(
        &[hit(1, T0 + Duration::minutes(2), "/a")],
        first.open.clone(),
        T0 + Duration::minutes(3),
        &mut seen,
    );
    let site = day_row(&second, None, "");
    assert_eq!(site.visitors, 0, "already counted today");
    assert_eq!(site.visits, 0, "the same visit");
    assert_eq!(site.pageviews, 1);
    // The visit ends in a later fold with no hits.
    let third = run(&[], second.open.clone(), T0 + Duration::hours(1), &mut seen);
    let site = day_row(&third, None, "");
    assert_eq!(site.bounces, 0);
    assert_eq!(site.duration_seconds, 120);
    assert_eq!(
        day_row(&third, Some(Dimension::ExitPage), "/a").pageviews,
        2
    );
}

#[test]
fn hourly_uniques_count_a_visitor_in_each_hour_it_was_seen() {
    let mut seen = Seen::new();
    let hits = [
        hit(1, datetime!(2026-06-01 09:50 UTC), "/a"),
        hit(1, datetime!(2026-06-01 10:05 UTC), "/b"),
    ];
    let f = run(&hits, vec![], datetime!(2026-06-01 10:06 UTC), &mut seen);
    let hours: Vec<i64> = f
        .totals()
        .iter()
        .filter(|(k, _)| k.grain == Grain::Hour && k.dimension.is_none())
        .map(|(_, m)| m.visitors)
        .collect();
    assert_eq!(hours, vec![1, 1]);
    let browser_hours: Vec<i64> = f
        .totals()
        .iter()
        .filter(|(k, _)| k.grain == Grain::Hour && k.dimension == Some(Dimension::Browser))
        .map(|(_, m)| m.visitors)
        .collect();
    assert_eq!(browser_hours, vec![1, 1]);
}

#[test]
fn pairs_answer_a_filtered_panel() {
    let mut seen = Seen::new();
    let mut other = hit(2, T0, "/b");
    other.referrer = None;
    let f = run(&[hit(1, T0, "/a"), other], vec![], T0, &mut seen);
    let pairs = f.pairs();
    let from_search: Vec<(&str, i64)> = pairs
        .iter()
        .filter(|(k, _)| {
            k.filter_dimension == Dimension::Source
                && k.filter_value == "search.example"
                && k.dimension == Dimension::Page
        })
        .map(|(k, m)| (k.value.as_str(), m.visitors))
        .collect();
    assert_eq!(from_search, vec![("/a", 1)]);
    let direct = pairs.keys().any(|k| {
        k.filter_dimension == Dimension::Page
            && k.filter_value == "/b"
            && k.value == crate::stats::DIRECT
    });
    assert!(direct);
}

#[test]
fn an_event_counts_on_its_goal_and_its_visit() {
    let mut seen = Seen::new();
    let mut vote = hit(1, T0 + Duration::minutes(1), "/polls/1");
    vote.kind = HitKind::Event("Poll vote".to_owned());
    let f = run(
        &[hit(1, T0, "/polls/1"), vote],
        vec![],
        T0 + Duration::hours(1),
        &mut seen,
    );
    let goal = day_row(&f, Some(Dimension::Goal), "Poll vote");
    assert_eq!((goal.events, goal.visitors), (1, 1));
    let site = day_row(&f, None, "");
    assert_eq!(site.events, 1);
    assert_eq!(site.bounces, 1, "one page view, whatever the events");
    assert_eq!(site.duration_seconds, 60);
}

#[test]
fn visits_of_an_earlier_day_end_at_midnight() {
    let mut seen = Seen::new();
    let late = datetime!(2026-06-01 22:50 UTC); // 23:50 in London
    let f = run(
        &[hit(1, late, "/a")],
        vec![],
        late + Duration::minutes(15),
        &mut seen,
    );
    assert!(f.closed.contains(&VisitorHash([1; 16])));
    assert!(f.open.is_empty());
}

/// The stores look for ended visits only where [`ended_by`] points: every visit the fold would
/// end must be there, and nothing the fold would keep.
#[test]
fn ended_by_bounds_exactly_the_visits_that_end() {
    let midnight = datetime!(2026-06-01 23:00 UTC); // 00:00 in London
    let visits: Vec<OpenVisit> = (0..40_u8)
        .map(|i| {
            // Begun between 23:00 and 00:55 in London; last seen up to 15 minutes later on
            // the same UK day, as a visit's hits always are.
            let mut v = OpenVisit::begin(&hit(
                i,
                midnight + Duration::minutes(i64::from(i) * 3 - 60),
                "/a",
            ));
            let seen = v.started + Duration::minutes(i64::from(i % 4) * 5);
            if uk_day(seen) == v.day() {
                v.last_seen = seen;
            }
            v
        })
        .collect();
    for minutes in [-50, -20, -1, 0, 1, 10, 29, 30, 31, 45, 90] {
        let now = midnight + Duration::minutes(minutes);
        let (idle, day_start) = ended_by(now);
        let mut bounded: Vec<VisitorHash> = visits
            .iter()
            .filter(|v| v.last_seen <= idle || v.last_seen < day_start)
            .map(|v| v.visitor)
            .collect();
        bounded.sort();
        let f = fold(&[], visits.clone(), now);
        assert_eq!(f.closed, bounded, "at {minutes} minutes from midnight");
    }
}

#[test]
fn a_visitors_marks_of_a_day_are_one_set_that_grows() {
    let mut seen = Seen::new();
    run(
        &[hit(1, T0, "/a")],
        vec![],
        T0 + Duration::hours(1),
        &mut seen,
    );
    assert_eq!(seen.len(), 1, "one set for the visitor's day");
    let key = (VisitorHash([1; 16]), uk_day(T0));
    let first = seen[&key].clone();
    assert_eq!(first.len() % 8, 0);
    let marks: Vec<&[u8]> = first.chunks(8).collect();
    assert!(
        marks.windows(2).all(|w| w[0] < w[1]),
        "ascending, no repeats"
    );
    // Another page later that day adds its marks; the page counts one visitor, the site
    // none (already counted today).
    let f = run(
        &[hit(1, T0 + Duration::hours(2), "/b")],
        vec![],
        T0 + Duration::hours(3),
        &mut seen,
    );
    assert!(seen[&key].len() > first.len());
    assert_eq!(day_row(&f, Some(Dimension::Page), "/b").visitors, 1);
    assert_eq!(day_row(&f, None, "").visitors, 0);
    // A set cut short (a stored value with stray bytes) is read as far as it is whole.
    let mut cut = seen[&key].clone();
    cut.truncate(cut.len() - 3);
    let mut damaged = Seen::from([(key, cut)]);
    let f = run(
        &[hit(1, T0 + Duration::hours(4), "/c")],
        vec![],
        T0 + Duration::hours(5),
        &mut damaged,
    );
    assert_eq!(day_row(&f, Some(Dimension::Page), "/c").visitors, 1);
    assert_eq!(
        day_row(&f, None, "").visitors,
        0,
        "the whole marks are still read"
    );
    assert_eq!(damaged[&key].len() % 8, 0, "written back whole");
}

#[test]
fn day_rows_are_added_into_their_week_and_month() {
    let mut seen = Seen::new();
    // Tuesday 30 June and Wednesday 1 July 2026 (UK summer time): one week, two months.
    let hits = [
        hit(1, datetime!(2026-06-30 09:00 UTC), "/a"),
        hit(2, datetime!(2026-07-01 09:00 UTC), "/a"),
    ];
    let f = run(&hits, vec![], datetime!(2026-07-01 12:00 UTC), &mut seen);
    let rows = f.total_rows();
    let page = |grain: &str| -> Vec<(OffsetDateTime, i64, i64)> {
        rows.iter()
            .filter(|r| r.grain == grain && r.dimension == "page" && r.value == "/a")
            .map(|r| (r.bucket, r.metrics.visitors, r.metrics.pageviews))
            .collect()
    };
    assert_eq!(page("day").len(), 2);
    assert_eq!(page("week"), vec![(datetime!(2026-06-28 23:00 UTC), 2, 2)]);
    assert_eq!(
        page("month"),
        vec![
            (datetime!(2026-05-31 23:00 UTC), 1, 1),
            (datetime!(2026-06-30 23:00 UTC), 1, 1)
        ]
    );
    // Hours are not rolled up.
    let hours = rows.iter().filter(|r| r.grain == "hour").count();
    assert_eq!(
        hours,
        f.totals().keys().filter(|k| k.grain == Grain::Hour).count()
    );
}

#[test]
fn dimensions_rank_as_their_stored_names_sort() {
    let mut by_code: Vec<Option<Dimension>> = Dimension::ALL.iter().copied().map(Some).collect();
    by_code.push(None);
    by_code.sort_by_key(|d| d.map_or("", Dimension::code));
    let ranks: Vec<u8> = by_code.iter().map(|d| code_rank(*d)).collect();
    assert_eq!(ranks, (0..13).collect::<Vec<u8>>());
}

#[test]
fn rows_come_in_the_order_of_the_tables_keys() {
    let mut seen = Seen::new();
    let mut b = hit(2, T0 + Duration::hours(2), "/b");
    b.utm_source = Some("news".to_owned());
    let hits = [hit(1, T0, "/z"), hit(1, T0 + Duration::minutes(3), "/a"), b];
    let f = run(&hits, vec![], T0 + Duration::hours(3), &mut seen);
    let totals: Vec<_> = f
        .total_rows()
        .iter()
        .map(|r| (r.grain, r.dimension, r.bucket, r.value.to_owned()))
        .collect();
    let mut sorted = totals.clone();
    sorted.sort();
    assert_eq!(totals, sorted);
    let pairs: Vec<_> = f
        .pair_rows()
        .iter()
        .map(|r| {
            (
                r.day,
                r.filter_dimension.code(),
                r.filter_value.to_owned(),
                r.dimension.code(),
                r.value.to_owned(),
            )
        })
        .collect();
    let mut sorted = pairs.clone();
    sorted.sort();
    assert_eq!(pairs, sorted);
}
