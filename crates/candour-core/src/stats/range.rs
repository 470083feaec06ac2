//! The date ranges the statistics dashboard offers, in whole UK days, and the period each is
//! compared with.
//!
//! A range is a first and a last UK date, both included. Its instants are the UK midnights
//! that bound it ([`uk_start_of_day`]), so a day across a change of the clocks is 23 or 25
//! hours long, as a UK reader counts it. One day is shown by the hour, anything longer by
//! the day.

use time::{Date, Duration, OffsetDateTime};

use super::{Grain, Range};
use crate::fields::FieldErrors;
use crate::uk_time::{DateParts, parse_date_input, uk_start_of_day};

/// The longest custom range, in days: a little over the default 25 months that totals are
/// kept, so any stretch of kept history can be asked for at once.
pub const LONGEST_RANGE_DAYS: i64 = 800;

/// The ranges offered, as the dashboard's choice names them in its query string.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Preset {
    Today,
    SevenDays,
    ThirtyDays,
    ThisMonth,
    LastMonth,
    Custom,
}

impl Preset {
    pub const ALL: [Preset; 6] = [
        Preset::Today,
        Preset::SevenDays,
        Preset::ThirtyDays,
        Preset::ThisMonth,
        Preset::LastMonth,
        Preset::Custom,
    ];

    /// The value in the query string.
    pub fn code(self) -> &'static str {
        match self {
            Preset::Today => "today",
            Preset::SevenDays => "7d",
            Preset::ThirtyDays => "30d",
            Preset::ThisMonth => "month",
            Preset::LastMonth => "last-month",
            Preset::Custom => "custom",
        }
    }

    /// The words of the choice.
    pub fn label(self) -> &'static str {
        match self {
            Preset::Today => "Today",
            Preset::SevenDays => "Last 7 days",
            Preset::ThirtyDays => "Last 30 days",
            Preset::ThisMonth => "This month",
            Preset::LastMonth => "Last month",
            Preset::Custom => "Custom dates",
        }
    }

    pub fn from_code(code: &str) -> Option<Preset> {
        Preset::ALL.into_iter().find(|p| p.code() == code)
    }
}

/// UK dates from `first` to `last`, both included.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DateRange {
    pub first: Date,
    pub last: Date,
}

impl DateRange {
    /// The range of the days between two dates, in either order.
    pub fn new(a: Date, b: Date) -> DateRange {
        DateRange {
            first: a.min(b),
            last: a.max(b),
        }
    }

    /// How many days the range holds.
    pub fn days(&self) -> i64 {
        (self.last - self.first).whole_days() + 1
    }

    /// The instant the first day begins on UK clocks.
    pub fn start(&self) -> OffsetDateTime {
        uk_start_of_day(self.first)
    }

    /// The instant after the last day ends on UK clocks.
    pub fn end(&self) -> OffsetDateTime {
        uk_start_of_day(self.last.next_day().unwrap_or(self.last))
    }

    pub fn grain(&self) -> Grain {
        if self.first == self.last {
            Grain::Hour
        } else {
            Grain::Day
        }
    }

    /// The start of each bucket of the time series, in order: every UK hour of a single day
    /// (23 to 25 of them), or the start of every day.
    pub fn buckets(&self) -> Vec<OffsetDateTime> {
        match self.grain() {
            Grain::Hour => {
                let (start, end) = (self.start(), self.end());
                let mut out = Vec::with_capacity(25);
                let mut t = start;
                while t < end {
                    out.push(t);
                    t += Duration::HOUR;
                }
                out
            }
            Grain::Day => {
                let mut out = Vec::new();
                let mut d = Some(self.first);
                while let Some(day) = d.filter(|d| *d <= self.last) {
                    out.push(uk_start_of_day(day));
                    d = day.next_day();
                }
                out
            }
        }
    }

    /// The period this one is compared with: the same number of days just before, except
    /// that a whole calendar month is compared with the month before it, and the part of a
    /// month so far with the same days of the month before (as many as that month has).
    pub fn previous(&self) -> DateRange {
        if self.first.day() == 1 && self.first.month() == self.last.month() {
            let before = first_of_previous_month(self.first);
            let whole = self.last == last_of_month(self.first);
            let last = if whole {
                last_of_month(before)
            } else {
                let days = u8::try_from(self.days()).unwrap_or(31);
                before
                    .replace_day(days.min(before.month().length(before.year())))
                    .unwrap_or(before)
            };
            return DateRange::new(before, last);
        }
        let len = Duration::days(self.days());
        DateRange::new(self.first - len, self.last - len)
    }

    /// The range's instants, for the store: from the first day's UK midnight to the one
    /// after the last day.
    pub fn instants(&self) -> Range {
        Range {
            from: self.start(),
            to: self.end(),
        }
    }

    /// Whether a day is inside the range.
    pub fn contains(&self, day: Date) -> bool {
        (self.first..=self.last).contains(&day)
    }
}

fn first_of_month(d: Date) -> Date {
    d.replace_day(1).unwrap_or(d)
}

fn last_of_month(d: Date) -> Date {
    d.replace_day(d.month().length(d.year())).unwrap_or(d)
}

fn first_of_previous_month(d: Date) -> Date {
    let first = first_of_month(d);
    let back = first.previous_day().unwrap_or(first);
    first_of_month(back)
}

/// The range a preset stands for on `today` (a UK date); `None` for a custom range.
pub fn preset_range(preset: Preset, today: Date) -> Option<DateRange> {
    let back = |days: i64| DateRange::new(today - Duration::days(days - 1), today);
    match preset {
        Preset::Today => Some(DateRange::new(today, today)),
        Preset::SevenDays => Some(back(7)),
        Preset::ThirtyDays => Some(back(30)),
        Preset::ThisMonth => Some(DateRange::new(first_of_month(today), today)),
        Preset::LastMonth => {
            let first = first_of_previous_month(today);
            Some(DateRange::new(first, last_of_month(first)))
        }
        Preset::Custom => None,
    }
}

/// A custom range's dates as typed in two GOV.UK date inputs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TypedDates {
    pub from: [String; 3],
    pub to: [String; 3],
}

/// What was wrong with the dates typed, field by field, with the parts of each date input
/// to mark.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RangeProblems {
    pub errors: FieldErrors,
    pub from: DateParts,
    pub to: DateParts,
}

/// Read the range asked for: a preset's code (empty is the last 30 days) or `custom` with
/// both dates typed. A custom range must end by `today`, run forwards and be at most
/// [`LONGEST_RANGE_DAYS`] long. Field names are `range`, `from_day`… and `to_day`…
pub fn parse_range(
    code: &str,
    dates: &TypedDates,
    today: Date,
) -> Result<(Preset, DateRange), RangeProblems> {
    let code = code.trim();
    let preset = if code.is_empty() {
        Preset::ThirtyDays
    } else {
        Preset::from_code(code).ok_or_else(|| RangeProblems {
            errors: FieldErrors::one(
                "range",
                "Choose today, the last 7 days, the last 30 days, this month, last month or \
                 custom dates",
            ),
            ..RangeProblems::default()
        })?
    };
    if let Some(range) = preset_range(preset, today) {
        return Ok((preset, range));
    }
    let mut problems = RangeProblems::default();
    let mut read = |name: &str, label: &str, typed: &[String; 3]| -> Option<Date> {
        match parse_date_input(label, &typed[0], &typed[1], &typed[2]) {
            Ok(Some(d)) => Some(d),
            Ok(None) => {
                problems.errors.add(
                    format!("{name}_day"),
                    format!("Enter {}", label.to_lowercase()),
                );
                let all = DateParts {
                    day: true,
                    month: true,
                    year: true,
                };
                if name == "from" {
                    problems.from = all;
                } else {
                    problems.to = all;
                }
                None
            }
            Err(p) => {
                let first = if p.parts.day {
                    "day"
                } else if p.parts.month {
                    "month"
                } else {
                    "year"
                };
                problems.errors.add(format!("{name}_{first}"), p.message);
                if name == "from" {
                    problems.from = p.parts;
                } else {
                    problems.to = p.parts;
                }
                None
            }
        }
    };
    let from = read("from", "The start date", &dates.from);
    let to = read("to", "The end date", &dates.to);
    let all = DateParts {
        day: true,
        month: true,
        year: true,
    };
    if let (Some(from), Some(to)) = (from, to) {
        if to > today {
            problems
                .errors
                .add("to_day", "The end date must be today or in the past");
            problems.to = all;
        } else if to < from {
            problems.errors.add(
                "to_day",
                "The end date must be the same as or after the start date",
            );
            problems.to = all;
        } else if DateRange::new(from, to).days() > LONGEST_RANGE_DAYS {
            problems.errors.add(
                "from_day",
                format!("The dates must be at most {LONGEST_RANGE_DAYS} days apart"),
            );
            problems.from = all;
        } else {
            return Ok((Preset::Custom, DateRange::new(from, to)));
        }
    }
    Err(problems)
}

/// The UK date of an instant, for "today".
pub fn uk_today(now: OffsetDateTime) -> Date {
    crate::uk_time::uk_local(now).date()
}

/// The month's name and year of a date, as the dashboard titles a month: "November 2026".
pub fn month_title(d: Date) -> String {
    let name = crate::uk_time::month_name(d.month());
    format!("{name} {}", d.year())
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::{date, datetime};

    fn typed(from: [&str; 3], to: [&str; 3]) -> TypedDates {
        TypedDates {
            from: from.map(str::to_owned),
            to: to.map(str::to_owned),
        }
    }

    #[test]
    fn presets_are_whole_uk_days_ending_today() {
        let today = date!(2026 - 12 - 02);
        let r = |p| preset_range(p, today).unwrap();
        assert_eq!(r(Preset::Today), DateRange::new(today, today));
        assert_eq!(r(Preset::SevenDays).first, date!(2026 - 11 - 26));
        assert_eq!(r(Preset::SevenDays).days(), 7);
        assert_eq!(r(Preset::ThirtyDays).first, date!(2026 - 11 - 03));
        assert_eq!(
            r(Preset::ThisMonth),
            DateRange::new(date!(2026 - 12 - 01), today)
        );
        assert_eq!(
            r(Preset::LastMonth),
            DateRange::new(date!(2026 - 11 - 01), date!(2026 - 11 - 30))
        );
        // January's last month is December of the year before.
        assert_eq!(
            preset_range(Preset::LastMonth, date!(2027 - 01 - 15)).unwrap(),
            DateRange::new(date!(2026 - 12 - 01), date!(2026 - 12 - 31))
        );
        assert_eq!(preset_range(Preset::Custom, today), None);
    }

    #[test]
    fn each_range_is_compared_with_the_one_before() {
        let r = DateRange::new(date!(2026 - 11 - 26), date!(2026 - 12 - 02));
        assert_eq!(
            r.previous(),
            DateRange::new(date!(2026 - 11 - 19), date!(2026 - 11 - 25))
        );
        let one = DateRange::new(date!(2026 - 12 - 02), date!(2026 - 12 - 02));
        assert_eq!(
            one.previous(),
            DateRange::new(date!(2026 - 12 - 01), date!(2026 - 12 - 01))
        );
        // A whole month with the whole month before, however long.
        let march = DateRange::new(date!(2026 - 03 - 01), date!(2026 - 03 - 31));
        assert_eq!(
            march.previous(),
            DateRange::new(date!(2026 - 02 - 01), date!(2026 - 02 - 28))
        );
        // The month so far with the same days of the month before, as far as it goes.
        let so_far = DateRange::new(date!(2026 - 03 - 01), date!(2026 - 03 - 30));
        assert_eq!(
            so_far.previous(),
            DateRange::new(date!(2026 - 02 - 01), date!(2026 - 02 - 28))
        );
        let early = DateRange::new(date!(2026 - 12 - 01), date!(2026 - 12 - 02));
        assert_eq!(
            early.previous(),
            DateRange::new(date!(2026 - 11 - 01), date!(2026 - 11 - 02))
        );
    }

    #[test]
    fn a_day_is_cut_by_the_hour_on_uk_clocks_and_longer_ranges_by_the_day() {
        let winter = DateRange::new(date!(2026 - 12 - 02), date!(2026 - 12 - 02));
        assert_eq!(winter.grain(), Grain::Hour);
        let b = winter.buckets();
        assert_eq!(b.len(), 24);
        assert_eq!(b[0], datetime!(2026-12-02 00:00 UTC));
        // The day the clocks go forward has 23 hours; back, 25.
        let spring = DateRange::new(date!(2026 - 03 - 29), date!(2026 - 03 - 29));
        assert_eq!(spring.buckets().len(), 23);
        let autumn = DateRange::new(date!(2026 - 10 - 25), date!(2026 - 10 - 25));
        assert_eq!(autumn.buckets().len(), 25);
        assert_eq!(autumn.start(), datetime!(2026-10-24 23:00 UTC));
        assert_eq!(autumn.end(), datetime!(2026-10-26 00:00 UTC));
        let week = DateRange::new(date!(2026 - 06 - 01), date!(2026 - 06 - 07));
        assert_eq!(week.grain(), Grain::Day);
        let days = week.buckets();
        assert_eq!(days.len(), 7);
        assert_eq!(days[0], datetime!(2026-05-31 23:00 UTC));
        assert_eq!(week.end(), datetime!(2026-06-07 23:00 UTC));
    }

    #[test]
    fn the_range_is_read_from_a_preset_or_two_typed_dates() {
        let today = date!(2026 - 12 - 02);
        let none = TypedDates::default();
        assert_eq!(parse_range("", &none, today).unwrap().0, Preset::ThirtyDays);
        assert_eq!(parse_range("today", &none, today).unwrap().1.days(), 1);
        let e = parse_range("yesterday", &none, today).unwrap_err();
        assert_eq!(e.errors.iter().next().unwrap().field, "range");

        let ok = parse_range(
            "custom",
            &typed(["1", "11", "2026"], ["15", "11", "2026"]),
            today,
        );
        assert_eq!(
            ok.unwrap(),
            (
                Preset::Custom,
                DateRange::new(date!(2026 - 11 - 01), date!(2026 - 11 - 15))
            )
        );
        let missing = parse_range("custom", &none, today).unwrap_err();
        let fields: Vec<_> = missing.errors.iter().map(|e| e.field.clone()).collect();
        assert_eq!(fields, ["from_day", "to_day"]);
        assert!(missing.from.day && missing.to.year);

        let backwards = parse_range(
            "custom",
            &typed(["15", "11", "2026"], ["1", "11", "2026"]),
            today,
        )
        .unwrap_err();
        assert_eq!(
            backwards.errors.iter().next().unwrap().problem,
            "The end date must be the same as or after the start date"
        );
        let future = parse_range(
            "custom",
            &typed(["1", "12", "2026"], ["3", "12", "2026"]),
            today,
        )
        .unwrap_err();
        assert_eq!(
            future.errors.iter().next().unwrap().problem,
            "The end date must be today or in the past"
        );
        let long = parse_range(
            "custom",
            &typed(["1", "1", "2020"], ["1", "12", "2026"]),
            today,
        )
        .unwrap_err();
        assert_eq!(long.errors.iter().next().unwrap().field, "from_day");
        let bad_month = parse_range(
            "custom",
            &typed(["1", "13", "2026"], ["1", "11", "2026"]),
            today,
        )
        .unwrap_err();
        let e = bad_month.errors.iter().next().unwrap();
        assert_eq!(
            (e.field.as_str(), e.problem.as_str()),
            ("from_day", "The start date must be a real date")
        );
    }

    #[test]
    fn today_is_the_uk_date() {
        assert_eq!(
            uk_today(datetime!(2026-06-01 23:30 UTC)),
            date!(2026 - 06 - 02)
        );
        assert_eq!(
            uk_today(datetime!(2026-12-01 23:30 UTC)),
            date!(2026 - 12 - 01)
        );
        assert_eq!(month_title(date!(2026 - 11 - 05)), "November 2026");
    }
}
