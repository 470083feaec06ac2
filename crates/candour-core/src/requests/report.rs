//! Figures about requests: the daily digest's lists (overdue, and due within seven working
//! days) and the reports (requests by type and month, how many were answered on time, the
//! median days to answer). Pure: the cases, today and the bank holidays are passed in.
//!
//! A case counts as answered when it was answered or refused (both are the organisation's
//! answer); it was on time when its UK closing date is on or before its due date.

use time::{Date, Month, OffsetDateTime};

use super::case::Kind;
use super::deadline::Due;
use super::holidays::BankHolidays;
use super::record::Case;
use crate::uk_time;

/// Working days after `from` up to and including `to` (0 when `to` is not after `from`).
pub fn working_days_until(from: Date, to: Date, holidays: &BankHolidays) -> i64 {
    let mut n = 0;
    let mut day = from;
    while day < to {
        let Some(next) = day.next_day() else {
            break;
        };
        day = next;
        if holidays.is_working_day(day) {
            n += 1;
        }
    }
    n
}

/// The working days the digest looks ahead.
pub const DIGEST_WORKING_DAYS: i64 = 7;

/// An open case the digest names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DigestLine {
    pub id: i64,
    pub kind: Kind,
    pub due: Date,
}

/// What the digest says: overdue cases, and those due within [`DIGEST_WORKING_DAYS`]
/// working days, each soonest first. Empty lists: nothing to say.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Digest {
    pub overdue: Vec<DigestLine>,
    pub due_soon: Vec<DigestLine>,
}

impl Digest {
    pub fn of(cases: &[Case], today: Date, holidays: &BankHolidays) -> Digest {
        let mut out = Digest::default();
        for case in cases.iter().filter(|c| c.status.is_open()) {
            let Due::By { date, .. } = case.timeline.due(holidays) else {
                continue;
            };
            let line = DigestLine {
                id: case.id,
                kind: case.kind,
                due: date,
            };
            if date < today {
                out.overdue.push(line);
            } else if working_days_until(today, date, holidays) <= DIGEST_WORKING_DAYS {
                out.due_soon.push(line);
            }
        }
        out.overdue.sort_by_key(|l| (l.due, l.id));
        out.due_soon.sort_by_key(|l| (l.due, l.id));
        out
    }

    pub fn is_empty(&self) -> bool {
        self.overdue.is_empty() && self.due_soon.is_empty()
    }
}

/// One month of the report (or the whole range, `month` `None`).
#[derive(Debug, Clone, PartialEq)]
pub struct ReportRow {
    /// The year and month the requests were received in.
    pub month: Option<(i32, Month)>,
    /// Requests received, by kind in [`Kind::ALL`]'s order.
    pub by_kind: [u32; 7],
    pub total: u32,
    /// Of those, answered or refused.
    pub answered: u32,
    pub on_time: u32,
    /// Calendar days from the day received to the day answered, the median.
    pub median_days: Option<f64>,
}

impl ReportRow {
    /// The share answered on time, in whole percent; `None` before any was answered.
    pub fn on_time_percent(&self) -> Option<u32> {
        (self.answered > 0).then(|| {
            let p = f64::from(self.on_time) * 100.0 / f64::from(self.answered);
            // At most 100: the cast cannot overflow.
            p.round() as u32
        })
    }

    /// "March 2026", or "All" for the whole range.
    pub fn label(&self) -> String {
        match self.month {
            Some((year, month)) => format!("{month} {year}"),
            None => "All".to_owned(),
        }
    }
}

fn median(mut days: Vec<i64>) -> Option<f64> {
    if days.is_empty() {
        return None;
    }
    days.sort_unstable();
    let mid = days.len() / 2;
    // Day counts are small: f64 holds them exactly.
    Some(if days.len() % 2 == 1 {
        days[mid] as f64
    } else {
        (days[mid - 1] + days[mid]) as f64 / 2.0
    })
}

/// The UK date a case was closed on.
fn closed_on(at: OffsetDateTime) -> Date {
    uk_time::uk_local(at).date()
}

/// One row per month that received requests, in order, then the row for them all.
pub fn report(cases: &[Case], holidays: &BankHolidays) -> Vec<ReportRow> {
    let mut months: Vec<(i32, Month)> = cases
        .iter()
        .filter_map(|c| c.timeline.received)
        .map(|d| (d.year(), d.month()))
        .collect();
    months.sort_by_key(|(y, m)| (*y, *m as u8));
    months.dedup();
    let row = |month: Option<(i32, Month)>| {
        let mut by_kind = [0u32; 7];
        let mut answered = 0;
        let mut on_time = 0;
        let mut days = Vec::new();
        for case in cases {
            let Some(received) = case.timeline.received else {
                continue;
            };
            if month.is_some_and(|m| m != (received.year(), received.month())) {
                continue;
            }
            if let Some(k) = Kind::ALL.iter().position(|k| *k == case.kind) {
                by_kind[k] += 1;
            }
            let Some(closed) = case.closed_at.filter(|_| !case.status.is_open()) else {
                continue;
            };
            let closed = closed_on(closed);
            answered += 1;
            days.push((closed - received).whole_days());
            if let Due::By { date, .. } = case.timeline.due(holidays)
                && closed <= date
            {
                on_time += 1;
            }
        }
        ReportRow {
            month,
            by_kind,
            total: by_kind.iter().sum(),
            answered,
            on_time,
            median_days: median(days),
        }
    };
    let mut out: Vec<ReportRow> = months.into_iter().map(|m| row(Some(m))).collect();
    out.push(row(None));
    out
}

/// The report as CSV: a header, then one line per row.
pub fn report_csv(rows: &[ReportRow]) -> String {
    let mut out = String::from("month");
    for k in Kind::ALL {
        out.push(',');
        out.push_str(k.code());
    }
    out.push_str(",total,answered,answered_on_time,on_time_percent,median_days_to_answer\n");
    for r in rows {
        out.push_str(&match r.month {
            Some((y, m)) => format!("{y}-{:02}", m as u8),
            None => "all".to_owned(),
        });
        for n in r.by_kind {
            out.push_str(&format!(",{n}"));
        }
        out.push_str(&format!(
            ",{},{},{},{},{}\n",
            r.total,
            r.answered,
            r.on_time,
            r.on_time_percent()
                .map(|p| p.to_string())
                .unwrap_or_default(),
            r.median_days.map(|d| d.to_string()).unwrap_or_default(),
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::requests::holidays::Region;
    use crate::requests::{Status, Timeline};
    use time::macros::{date, datetime};

    fn ew() -> BankHolidays {
        BankHolidays::new(Region::EnglandAndWales, &[])
    }

    fn case(id: i64, kind: Kind, received: Date, closed: Option<OffsetDateTime>) -> Case {
        Case {
            id,
            kind,
            status: if closed.is_some() {
                Status::Answered
            } else {
                Status::InProgress
            },
            name: String::new(),
            email: String::new(),
            details: String::new(),
            correction: None,
            correction_field: None,
            marketing: Vec::new(),
            elsewhere: false,
            person: None,
            submitted_at: datetime!(2026-01-01 0:00 UTC),
            confirmed_at: Some(datetime!(2026-01-01 0:00 UTC)),
            timeline: Timeline::received(received),
            identity_how: None,
            extension_reasons: None,
            refusal_reasons: None,
            assigned_to: None,
            closed_at: closed,
        }
    }

    #[test]
    fn working_days_skip_weekends_and_holidays() {
        let h = ew();
        // Friday 18 December 2026 to Tuesday 29 December: Christmas and Boxing Day (moved
        // to Monday 28th) are not working days.
        assert_eq!(
            working_days_until(date!(2026 - 12 - 18), date!(2026 - 12 - 29), &h),
            5
        );
        assert_eq!(
            working_days_until(date!(2026 - 12 - 18), date!(2026 - 12 - 18), &h),
            0
        );
    }

    #[test]
    fn the_digest_names_overdue_and_soon_due_cases_only() {
        let h = ew();
        let today = date!(2026 - 06 - 01);
        let cases = [
            // Due 1 June: today, so due soon, not overdue.
            case(1, Kind::Access, date!(2026 - 05 - 01), None),
            // Due 30 April (received 30 March): overdue.
            case(2, Kind::Erasure, date!(2026 - 03 - 30), None),
            // Due 10 June: 7 working days ahead.
            case(3, Kind::Access, date!(2026 - 05 - 10), None),
            // Due 11 June: 8 working days ahead.
            case(4, Kind::Access, date!(2026 - 05 - 11), None),
            // Closed: never named.
            case(
                5,
                Kind::Access,
                date!(2026 - 03 - 01),
                Some(datetime!(2026-04-20 10:00 UTC)),
            ),
        ];
        let d = Digest::of(&cases, today, &h);
        assert_eq!(d.overdue.iter().map(|l| l.id).collect::<Vec<_>>(), [2]);
        assert_eq!(d.due_soon.iter().map(|l| l.id).collect::<Vec<_>>(), [1, 3]);
        assert!(Digest::of(&cases[3..], today, &h).is_empty());
    }

    #[test]
    fn the_report_counts_by_month_and_kind_with_on_time_and_median() {
        let h = ew();
        let cases = [
            // Due 2 March; answered 10 February: on time, 9 days.
            case(
                1,
                Kind::Access,
                date!(2026 - 02 - 01),
                Some(datetime!(2026-02-10 12:00 UTC)),
            ),
            // Due 2 March; answered 3 March: late, 30 days.
            case(
                2,
                Kind::Erasure,
                date!(2026 - 02 - 01),
                Some(datetime!(2026-03-03 12:00 UTC)),
            ),
            // Open.
            case(3, Kind::Access, date!(2026 - 02 - 20), None),
            // Due 2 April; answered 2 April at 23:30 UK time (22:30 UTC, British Summer
            // Time): on time, 31 days.
            case(
                4,
                Kind::Correction,
                date!(2026 - 03 - 02),
                Some(datetime!(2026-04-02 22:30 UTC)),
            ),
        ];
        let rows = report(&cases, &h);
        assert_eq!(rows.len(), 3);
        assert_eq!(rows[0].label(), "February 2026");
        assert_eq!(rows[0].by_kind, [2, 0, 1, 0, 0, 0, 0]);
        assert_eq!(
            (rows[0].total, rows[0].answered, rows[0].on_time),
            (3, 2, 1)
        );
        assert_eq!(rows[0].on_time_percent(), Some(50));
        assert_eq!(rows[0].median_days, Some(19.5));
        assert_eq!(rows[1].median_days, Some(31.0));
        assert_eq!(rows[1].on_time_percent(), Some(100));
        let all = &rows[2];
        assert_eq!(all.label(), "All");
        assert_eq!((all.total, all.answered, all.on_time), (4, 3, 2));
        assert_eq!(all.on_time_percent(), Some(67));
        assert_eq!(all.median_days, Some(30.0));
        let csv = report_csv(&rows);
        let lines: Vec<&str> = csv.lines().collect();
        assert_eq!(
            lines[0],
            "month,access,correction,erasure,restriction,portability,objection,other,total,answered,answered_on_time,on_time_percent,median_days_to_answer"
        );
        assert_eq!(lines[1], "2026-02,2,0,1,0,0,0,0,3,2,1,50,19.5");
        assert_eq!(lines[3], "all,2,1,1,0,0,0,0,4,3,2,67,30");
        assert_eq!(report(&[], &h).len(), 1);
    }
}
