//! Longer buckets of the daily totals, so that a long range reads few rows.
//!
//! Every daily row of `stats_totals` is also added into the row of its UK week (Monday
//! first) and of its UK calendar month. Unique visitors are exact per day and a range's
//! visitors are the sum of its days' (a day hash dies with its day), so a week's or a
//! month's row is exactly the sum of its days' rows. A range of whole UK days is then read
//! in at most seven pieces: days and whole weeks up to the first whole month, the whole
//! months, then whole weeks and days. Thirty days read at most fifteen buckets per value
//! instead of thirty; a calendar month one.

use time::{Date, Duration, Month, OffsetDateTime, Weekday};

use crate::uk_time;

use super::{Grain, Range, uk_day};

/// A bucket longer than a day that the daily totals are also kept in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Span {
    /// A UK week, Monday to Sunday.
    Week,
    /// A UK calendar month.
    Month,
}

impl Span {
    pub const ALL: [Span; 2] = [Span::Week, Span::Month];

    /// The name stored in `stats_totals.grain`.
    pub fn code(self) -> &'static str {
        match self {
            Span::Week => "week",
            Span::Month => "month",
        }
    }

    /// The first day of the span that `day` falls in.
    pub fn start(self, day: Date) -> Date {
        match self {
            Span::Week => day - Duration::days(i64::from(day.weekday().number_days_from_monday())),
            Span::Month => day.replace_day(1).unwrap_or(day),
        }
    }

    /// The first day of the next span after the one starting on `start`.
    fn next(self, start: Date) -> Date {
        match self {
            Span::Week => start + Duration::days(7),
            Span::Month => {
                let (year, month) = match start.month() {
                    Month::December => (start.year() + 1, Month::January),
                    m => (start.year(), m.next()),
                };
                Date::from_calendar_date(year, month, 1).unwrap_or(Date::MAX)
            }
        }
    }

    /// The first span start on or after `day`.
    fn first_from(self, day: Date) -> Date {
        let s = self.start(day);
        if s == day { s } else { self.next(s) }
    }
}

/// One piece of a range as it is read: rows of `grain` (a [`Grain`] or [`Span`] code) whose
/// bucket starts on a day from `from` up to (not including) `to`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Piece {
    pub grain: &'static str,
    pub from: Date,
    pub to: Date,
}

impl Piece {
    /// The piece's bucket bounds in UTC: `bucket >= from AND bucket < to`.
    pub fn bounds(&self) -> (OffsetDateTime, OffsetDateTime) {
        (
            uk_time::uk_start_of_day(self.from),
            uk_time::uk_start_of_day(self.to),
        )
    }
}

/// The UK days from `from` up to (not including) `to` cut into the fewest whole months,
/// whole weeks and days, in order. Empty when `to` is not after `from`.
pub fn pieces(from: Date, to: Date) -> Vec<Piece> {
    let mut out = Vec::new();
    if from >= to {
        return out;
    }
    let m0 = Span::Month.first_from(from);
    let m1 = Span::Month.start(to);
    if m0 < m1 {
        weeks_and_days(from, m0, &mut out);
        out.push(Piece {
            grain: Span::Month.code(),
            from: m0,
            to: m1,
        });
        weeks_and_days(m1, to, &mut out);
    } else {
        weeks_and_days(from, to, &mut out);
    }
    out
}

fn weeks_and_days(from: Date, to: Date, out: &mut Vec<Piece>) {
    if from >= to {
        return;
    }
    let day_piece = |a: Date, b: Date| {
        (a < b).then_some(Piece {
            grain: Grain::Day.code(),
            from: a,
            to: b,
        })
    };
    let w0 = Span::Week.first_from(from);
    let w1 = Span::Week.start(to);
    if w0 < w1 {
        out.extend(day_piece(from, w0));
        out.push(Piece {
            grain: Span::Week.code(),
            from: w0,
            to: w1,
        });
        out.extend(day_piece(w1, to));
    } else {
        out.extend(day_piece(from, to));
    }
}

/// How to read `range` from `stats_totals`: `(grain, from, to)` bucket bounds per piece
/// (`bucket >= from AND bucket < to`). A range of whole UK days is cut by [`pieces`]; any
/// other is read from its day rows as it is.
pub fn scans(range: Range) -> Vec<(&'static str, OffsetDateTime, OffsetDateTime)> {
    let (from, to) = (uk_day(range.from), uk_day(range.to));
    let whole =
        uk_time::uk_start_of_day(from) == range.from && uk_time::uk_start_of_day(to) == range.to;
    if !whole {
        return vec![(Grain::Day.code(), range.from, range.to)];
    }
    pieces(from, to)
        .into_iter()
        .map(|p| {
            let (a, b) = p.bounds();
            (p.grain, a, b)
        })
        .collect()
}

/// What retention keeps of the week and month rows when totals before `cutoff` go: for each
/// span, the start of the one row that began before `cutoff` but ends after it (`None` when
/// no span straddles the cutoff), and the bound under which that span's rows are deleted.
/// The straddling row stays, less the days deleted from it (the store subtracts them), so
/// it is again the sum of the days it still holds.
pub fn kept_at(cutoff: OffsetDateTime) -> [(Span, Option<OffsetDateTime>, OffsetDateTime); 2] {
    Span::ALL.map(|span| {
        let start = uk_time::uk_start_of_day(span.start(uk_day(cutoff)));
        if start < cutoff {
            (span, Some(start), start)
        } else {
            (span, None, cutoff)
        }
    })
}

/// The most days a filtered panel seeks one by one in the daily pairs; a longer range is
/// read as one stretch of the key.
pub const MAX_DAY_SEEKS: usize = 800;

/// The start of every UK day whose start lies in `range`, in order: the days a range reads
/// of the daily pairs. `None` when there are more than [`MAX_DAY_SEEKS`].
pub fn day_starts(range: Range) -> Option<Vec<OffsetDateTime>> {
    let mut out = Vec::new();
    let mut day = uk_day(range.from);
    loop {
        let start = uk_time::uk_start_of_day(day);
        if start >= range.to {
            return Some(out);
        }
        if start >= range.from {
            if out.len() == MAX_DAY_SEEKS {
                return None;
            }
            out.push(start);
        }
        day = day.next_day()?;
    }
}

/// The most UK days one fold adds into their week and month pairs: a backlog (after an
/// upgrade, or a long pause) is worked off over several folds.
pub const ROLL_DAYS_PER_FOLD: usize = 31;

/// The week and month pair rows that a UK day's pairs are added into once the day is over:
/// `(grain code, bucket start)`.
pub fn pair_buckets(day: Date) -> [(&'static str, OffsetDateTime); 2] {
    Span::ALL.map(|span| (span.code(), uk_time::uk_start_of_day(span.start(day))))
}

/// How a filtered panel reads `range` of the pairs, given that the pairs of every UK day
/// before `rolled` are also in week and month rows: per piece, its grain code and the start
/// of each bucket to seek. The days before `rolled` are cut into months, weeks and days
/// ([`pieces`]); the days from `rolled` on are read as days. A range that is not whole UK
/// days reads the days that begin in it. `None` when that makes more than
/// [`MAX_DAY_SEEKS`] seeks (the caller reads the daily pairs as one stretch instead).
pub fn pair_pieces(
    range: Range,
    rolled: Option<Date>,
) -> Option<Vec<(&'static str, Vec<OffsetDateTime>)>> {
    let (from, to) = (uk_day(range.from), uk_day(range.to));
    let whole =
        uk_time::uk_start_of_day(from) == range.from && uk_time::uk_start_of_day(to) == range.to;
    if !whole {
        return day_starts(range).map(|days| vec![(Grain::Day.code(), days)]);
    }
    let cut = rolled.unwrap_or(from).clamp(from, to);
    let mut parts = pieces(from, cut);
    parts.extend((cut < to).then_some(Piece {
        grain: Grain::Day.code(),
        from: cut,
        to,
    }));
    let mut out = Vec::with_capacity(parts.len());
    let mut seeks = 0;
    for p in parts {
        let step = |d: Date| match p.grain {
            "week" => Some(Span::Week.next(d)),
            "month" => Some(Span::Month.next(d)),
            _ => d.next_day(),
        };
        let mut starts = Vec::new();
        let mut d = p.from;
        while d < p.to {
            seeks += 1;
            if seeks > MAX_DAY_SEEKS {
                return None;
            }
            starts.push(uk_time::uk_start_of_day(d));
            d = step(d)?;
        }
        out.push((p.grain, starts));
    }
    Some(out)
}

/// Whether `day` begins a week (a Monday), so a week row starts on it.
pub fn starts_week(day: Date) -> bool {
    day.weekday() == Weekday::Monday
}

#[cfg(test)]
mod tests {
    use time::macros::date;

    use super::*;

    /// Every day of the range once, by expanding each piece into its days.
    fn days_of(pieces: &[Piece]) -> Vec<Date> {
        let mut out = Vec::new();
        for p in pieces {
            let mut d = p.from;
            while d < p.to {
                out.push(d);
                d = d.next_day().unwrap_or(Date::MAX);
            }
            match p.grain {
                "week" => {
                    assert!(starts_week(p.from) && starts_week(p.to), "{p:?}");
                }
                "month" => assert!(p.from.day() == 1 && p.to.day() == 1, "{p:?}"),
                "day" => {}
                other => panic!("unexpected grain {other}"),
            }
        }
        out
    }

    #[test]
    fn a_range_is_cut_into_months_weeks_and_days_covering_each_day_once() {
        // The benchmark's thirty days: two days of January, then February whole.
        assert_eq!(
            pieces(date!(2026 - 01 - 30), date!(2026 - 03 - 01)),
            vec![
                Piece {
                    grain: "day",
                    from: date!(2026 - 01 - 30),
                    to: date!(2026 - 02 - 01)
                },
                Piece {
                    grain: "month",
                    from: date!(2026 - 02 - 01),
                    to: date!(2026 - 03 - 01)
                },
            ]
        );
        // Every start and length over two years: the pieces cover each day exactly once,
        // and never more than seven pieces, nor more than fifteen buckets for 31 days.
        let mut start = date!(2025 - 01 - 01);
        while start < date!(2027 - 01 - 01) {
            for len in [0, 1, 6, 7, 8, 13, 30, 31, 45, 90, 400] {
                let end = start + Duration::days(len);
                let p = pieces(start, end);
                assert!(p.len() <= 7, "{start} +{len}: {p:?}");
                if len <= 31 {
                    let buckets: i64 = p
                        .iter()
                        .map(|p| match p.grain {
                            "day" => (p.to - p.from).whole_days(),
                            "week" => (p.to - p.from).whole_days() / 7,
                            _ => (p.to - p.from).whole_days() / 28,
                        })
                        .sum();
                    assert!(buckets <= 15, "{start} +{len}: {p:?}");
                }
                let expected: Vec<Date> = (0..len).map(|i| start + Duration::days(i)).collect();
                assert_eq!(days_of(&p), expected, "{start} +{len}");
            }
            start = start.next_day().unwrap_or(Date::MAX);
        }
    }

    #[test]
    fn a_range_of_whole_uk_days_is_read_in_pieces_and_any_other_as_days() {
        use time::macros::datetime;
        // 1 to 31 March 2026 on UK clocks: summer time begins on the 29th.
        let march = Range {
            from: datetime!(2026-03-01 00:00 UTC),
            to: datetime!(2026-03-31 23:00 UTC),
        };
        assert_eq!(
            scans(march),
            vec![("month", march.from, march.to)],
            "a whole month is one bucket"
        );
        let odd = Range {
            from: datetime!(2026-03-01 05:00 UTC),
            to: datetime!(2026-03-09 00:00 UTC),
        };
        assert_eq!(scans(odd), vec![("day", odd.from, odd.to)]);
    }

    #[test]
    fn retention_keeps_the_week_and_month_that_straddle_the_cutoff() {
        use time::macros::datetime;
        // Wednesday 1 July 2026 (UK summer time): the week began on Monday 29 June; the
        // month begins on the cutoff itself.
        let cutoff = datetime!(2026-06-30 23:00 UTC);
        assert_eq!(
            kept_at(cutoff),
            [
                (
                    Span::Week,
                    Some(datetime!(2026-06-28 23:00 UTC)),
                    datetime!(2026-06-28 23:00 UTC)
                ),
                (Span::Month, None, cutoff),
            ]
        );
        // Monday 2 November 2026: no week straddles, the month does.
        let cutoff = datetime!(2026-11-02 00:00 UTC);
        assert_eq!(
            kept_at(cutoff),
            [
                (Span::Week, None, cutoff),
                (
                    Span::Month,
                    Some(datetime!(2026-11-01 00:00 UTC)),
                    datetime!(2026-11-01 00:00 UTC)
                ),
            ]
        );
    }

    #[test]
    fn a_range_reads_the_days_that_begin_in_it() {
        use time::macros::datetime;
        // 28 March to 1 April 2026: summer time begins on the 29th.
        let days = day_starts(Range {
            from: datetime!(2026-03-28 00:00 UTC),
            to: datetime!(2026-03-31 23:00 UTC),
        });
        assert_eq!(
            days,
            Some(vec![
                datetime!(2026-03-28 00:00 UTC),
                datetime!(2026-03-29 00:00 UTC),
                datetime!(2026-03-29 23:00 UTC),
                datetime!(2026-03-30 23:00 UTC),
            ])
        );
        // A range that starts within a day leaves that day out.
        let days = day_starts(Range {
            from: datetime!(2026-01-10 05:00 UTC),
            to: datetime!(2026-01-12 00:00 UTC),
        });
        assert_eq!(days, Some(vec![datetime!(2026-01-11 00:00 UTC)]));
        let years = day_starts(Range {
            from: datetime!(2020-01-01 00:00 UTC),
            to: datetime!(2026-01-01 00:00 UTC),
        });
        assert_eq!(years, None, "too many days to seek one by one");
    }

    #[test]
    fn filtered_panels_read_rolled_days_in_spans_and_the_rest_as_days() {
        use time::macros::datetime;
        // The benchmark's thirty days, 30 January to 28 February 2026 (GMT).
        let range = Range {
            from: datetime!(2026-01-30 00:00 UTC),
            to: datetime!(2026-03-01 00:00 UTC),
        };
        let all = pair_pieces(range, Some(date!(2026 - 03 - 02))).unwrap();
        assert_eq!(
            all,
            vec![
                (
                    "day",
                    vec![
                        datetime!(2026-01-30 00:00 UTC),
                        datetime!(2026-01-31 00:00 UTC)
                    ]
                ),
                ("month", vec![datetime!(2026-02-01 00:00 UTC)]),
            ]
        );
        // Rolled up to Wednesday 18 February: the three days to Sunday 1 February, the two
        // weeks from Monday 2 February, the 16th and 17th, then every day from the 18th.
        let part = pair_pieces(range, Some(date!(2026 - 02 - 18))).unwrap();
        let grains: Vec<(&str, usize)> = part.iter().map(|(g, s)| (*g, s.len())).collect();
        assert_eq!(
            grains,
            vec![("day", 3), ("week", 2), ("day", 2), ("day", 11)]
        );
        assert_eq!(part[1].1[1], datetime!(2026-02-09 00:00 UTC));
        assert_eq!(part[3].1[0], datetime!(2026-02-18 00:00 UTC));
        // Nothing rolled: every day.
        let none = pair_pieces(range, None).unwrap();
        assert_eq!(none.iter().map(|(_, s)| s.len()).sum::<usize>(), 30);
        assert!(none.iter().all(|(g, _)| *g == "day"));
        // A range that is not whole days reads the days that begin in it.
        let odd = Range {
            from: datetime!(2026-01-30 05:00 UTC),
            to: datetime!(2026-02-02 00:00 UTC),
        };
        assert_eq!(
            pair_pieces(odd, Some(date!(2026 - 03 - 02))),
            Some(vec![(
                "day",
                vec![
                    datetime!(2026-01-31 00:00 UTC),
                    datetime!(2026-02-01 00:00 UTC)
                ]
            )])
        );
        // Summer time: a month's bucket starts at its UK midnight.
        assert_eq!(
            pair_buckets(date!(2026 - 07 - 15)),
            [
                ("week", datetime!(2026-07-12 23:00 UTC)),
                ("month", datetime!(2026-06-30 23:00 UTC))
            ]
        );
    }

    #[test]
    fn a_day_falls_in_its_monday_week_and_its_month() {
        assert_eq!(
            Span::Week.start(date!(2026 - 03 - 01)),
            date!(2026 - 02 - 23)
        );
        assert_eq!(
            Span::Week.start(date!(2026 - 02 - 23)),
            date!(2026 - 02 - 23)
        );
        assert_eq!(
            Span::Month.start(date!(2026 - 12 - 31)),
            date!(2026 - 12 - 01)
        );
        assert_eq!(
            Span::Month.next(date!(2026 - 12 - 01)),
            date!(2027 - 01 - 01)
        );
    }
}
