//! Times as people in the UK read and type them: UK local time (Europe/London, with the
//! clocks' change handled) in the GOV.UK style, and the GOV.UK three-field date input.

use time::format_description::BorrowedFormatItem;
use time::macros::{format_description, offset, time};
use time::{Date, Duration, Month, OffsetDateTime, PrimitiveDateTime, UtcOffset};

/// A calendar date as `YYYY-MM-DD` (ISO 8601), as holiday files and the SQLite store keep
/// UK dates.
pub const ISO_DATE: &[BorrowedFormatItem<'static>] = format_description!("[year]-[month]-[day]");

/// The last Sunday of `month` (March or October: both have 31 days) in `year`.
fn last_sunday(year: i32, month: Month) -> Option<Date> {
    let last = Date::from_calendar_date(year, month, 31).ok()?;
    let back = last.weekday().number_days_from_sunday();
    last.checked_sub(Duration::days(i64::from(back)))
}

/// Whether UK clocks are on British Summer Time at `t`: from 01:00 UTC on the last Sunday
/// of March until 01:00 UTC on the last Sunday of October.
pub fn is_british_summer_time(t: OffsetDateTime) -> bool {
    let t = t.to_offset(UtcOffset::UTC);
    let at_one = |d: Date| d.with_time(time!(01:00));
    match (
        last_sunday(t.year(), Month::March),
        last_sunday(t.year(), Month::October),
    ) {
        (Some(start), Some(end)) => {
            let now = t.date().with_time(t.time());
            now >= at_one(start) && now < at_one(end)
        }
        _ => false,
    }
}

/// `t` on UK clocks (Europe/London): GMT in winter, BST (an hour ahead) in summer.
pub fn uk_local(t: OffsetDateTime) -> OffsetDateTime {
    let offset = if is_british_summer_time(t) {
        offset!(+1)
    } else {
        UtcOffset::UTC
    };
    t.to_offset(offset)
}

/// The UTC instant at which `date` begins on UK clocks. Clocks change at 01:00 UTC, so a
/// UK midnight is never skipped or repeated.
pub fn uk_start_of_day(date: Date) -> OffsetDateTime {
    let utc_midnight = date.midnight().assume_utc();
    let summer = utc_midnight - Duration::hours(1);
    if is_british_summer_time(summer) {
        summer
    } else {
        utc_midnight
    }
}

/// `t` as people in the UK read it, in the GOV.UK style: "2 December 2026 at 9:00am",
/// with "midnight" and "midday" for those two times.
pub fn readable_uk(t: OffsetDateTime) -> String {
    let local = uk_local(t);
    let date = format!(
        "{} {} {}",
        local.day(),
        month_name(local.month()),
        local.year()
    );
    let (hour, minute) = (local.hour(), local.minute());
    let clock = match (hour, minute) {
        (0, 0) => "midnight".to_owned(),
        (12, 0) => "midday".to_owned(),
        _ => {
            let suffix = if hour < 12 { "am" } else { "pm" };
            let twelve = match hour % 12 {
                0 => 12,
                h => h,
            };
            format!("{twelve}:{minute:02}{suffix}")
        }
    };
    format!("{date} at {clock}")
}

/// The date of `t` on UK clocks, in the GOV.UK style: "2 December 2026".
pub fn uk_date(t: OffsetDateTime) -> String {
    let local = uk_local(t);
    format!(
        "{} {} {}",
        local.day(),
        month_name(local.month()),
        local.year()
    )
}

/// A time typed on UK clocks (a `datetime-local` field) as an instant. A time the spring
/// change skips (01:00 to 02:00) is read an hour later, as the clocks would show it; one the
/// autumn change repeats is read as its first occurrence (summer time).
pub fn from_uk_local(local: PrimitiveDateTime) -> OffsetDateTime {
    let summer = local.assume_offset(offset!(+1)).to_offset(UtcOffset::UTC);
    if is_british_summer_time(summer) {
        summer
    } else {
        local.assume_utc()
    }
}

/// `t` on UK clocks as a `datetime-local` field's value: `2026-12-02T09:00`.
pub fn uk_input_value(t: OffsetDateTime) -> String {
    let local = uk_local(t);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}",
        local.year(),
        u8::from(local.month()),
        local.day(),
        local.hour(),
        local.minute()
    )
}

/// The English name of a month.
pub fn month_name(m: Month) -> &'static str {
    match m {
        Month::January => "January",
        Month::February => "February",
        Month::March => "March",
        Month::April => "April",
        Month::May => "May",
        Month::June => "June",
        Month::July => "July",
        Month::August => "August",
        Month::September => "September",
        Month::October => "October",
        Month::November => "November",
        Month::December => "December",
    }
}

/// Which of a date input's three fields a problem is in, to mark them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DateParts {
    pub day: bool,
    pub month: bool,
    pub year: bool,
}

/// What is wrong with a three-field date, in the GOV.UK date input's words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DateProblem {
    pub message: String,
    pub parts: DateParts,
}

/// Read a GOV.UK three-field date (day, month, year as typed). All three empty is no date;
/// `name` ("The from date") starts each error message.
pub fn parse_date_input(
    name: &str,
    day: &str,
    month: &str,
    year: &str,
) -> Result<Option<Date>, DateProblem> {
    let (day, month, year) = (day.trim(), month.trim(), year.trim());
    if day.is_empty() && month.is_empty() && year.is_empty() {
        return Ok(None);
    }
    let missing = DateParts {
        day: day.is_empty(),
        month: month.is_empty(),
        year: year.is_empty(),
    };
    if missing.day || missing.month || missing.year {
        let names: Vec<&str> = [
            (missing.day, "day"),
            (missing.month, "month"),
            (missing.year, "year"),
        ]
        .iter()
        .filter(|(m, _)| *m)
        .map(|(_, n)| *n)
        .collect();
        return Err(DateProblem {
            message: format!("{name} must include a {}", names.join(" and ")),
            parts: missing,
        });
    }
    let number = |s: &str| -> Option<u32> {
        if s.chars().all(|c| c.is_ascii_digit()) && s.len() <= 4 {
            s.parse().ok()
        } else {
            None
        }
    };
    let all = DateParts {
        day: true,
        month: true,
        year: true,
    };
    let real = || DateProblem {
        message: format!("{name} must be a real date"),
        parts: all,
    };
    let (Some(d), Some(m), Some(y)) = (number(day), number(month), number(year)) else {
        return Err(real());
    };
    if year.len() != 4 {
        return Err(DateProblem {
            message: format!("{name}'s year must include 4 numbers, for example 2026"),
            parts: DateParts {
                year: true,
                ..DateParts::default()
            },
        });
    }
    let month = u8::try_from(m)
        .ok()
        .and_then(|m| Month::try_from(m).ok())
        .ok_or_else(real)?;
    let day = u8::try_from(d).map_err(|_| real())?;
    let year = i32::try_from(y).map_err(|_| real())?;
    Date::from_calendar_date(year, month, day)
        .map(Some)
        .map_err(|_| real())
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::{date, datetime};

    #[test]
    fn times_typed_on_uk_clocks_are_read_in_uk_time_across_the_changes() {
        // Winter: UK time is UTC.
        assert_eq!(
            from_uk_local(datetime!(2026-12-02 09:00)),
            datetime!(2026-12-02 09:00 UTC)
        );
        // Summer: an hour ahead.
        assert_eq!(
            from_uk_local(datetime!(2026-07-01 09:00)),
            datetime!(2026-07-01 08:00 UTC)
        );
        // 29 March 2026: 01:30 does not exist on UK clocks; it is read as 02:30 BST.
        assert_eq!(
            from_uk_local(datetime!(2026-03-29 01:30)),
            datetime!(2026-03-29 01:30 UTC)
        );
        // 25 October 2026: 01:30 happens twice; the first (BST) is taken.
        assert_eq!(
            from_uk_local(datetime!(2026-10-25 01:30)),
            datetime!(2026-10-25 00:30 UTC)
        );
        for t in [
            datetime!(2026-12-02 09:00 UTC),
            datetime!(2026-07-01 08:00 UTC),
        ] {
            let typed = uk_input_value(t);
            let parsed = PrimitiveDateTime::parse(
                &typed,
                time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]"),
            )
            .unwrap();
            assert_eq!(from_uk_local(parsed), t, "{typed}");
        }
        assert_eq!(
            uk_input_value(datetime!(2026-07-01 08:00 UTC)),
            "2026-07-01T09:00"
        );
        assert_eq!(uk_date(datetime!(2026-07-01 23:30 UTC)), "2 July 2026");
    }

    #[test]
    fn summer_time_starts_and_ends_at_one_in_the_morning_utc_on_the_last_sundays() {
        // 2026: clocks go forward on 29 March and back on 25 October.
        assert!(!is_british_summer_time(datetime!(2026-03-29 00:59:59 UTC)));
        assert!(is_british_summer_time(datetime!(2026-03-29 01:00 UTC)));
        assert!(is_british_summer_time(datetime!(2026-10-25 00:59:59 UTC)));
        assert!(!is_british_summer_time(datetime!(2026-10-25 01:00 UTC)));
        // 2027: 28 March and 31 October (a month ending on a Sunday).
        assert!(is_british_summer_time(datetime!(2027-03-28 01:00 UTC)));
        assert!(is_british_summer_time(datetime!(2027-10-31 00:30 UTC)));
        assert!(!is_british_summer_time(datetime!(2027-10-31 01:00 UTC)));
        assert!(!is_british_summer_time(datetime!(2026-12-02 09:00 UTC)));
    }

    #[test]
    fn times_read_in_uk_local_time_in_the_gov_uk_style() {
        assert_eq!(
            readable_uk(datetime!(2026-12-02 09:00 UTC)),
            "2 December 2026 at 9:00am"
        );
        assert_eq!(
            readable_uk(datetime!(2026-06-01 09:05 UTC)),
            "1 June 2026 at 10:05am"
        );
        assert_eq!(
            readable_uk(datetime!(2026-06-01 23:30 UTC)),
            "2 June 2026 at 12:30am"
        );
        assert_eq!(
            readable_uk(datetime!(2026-01-10 15:45 UTC)),
            "10 January 2026 at 3:45pm"
        );
        assert_eq!(
            readable_uk(datetime!(2026-01-10 00:00 UTC)),
            "10 January 2026 at midnight"
        );
        assert_eq!(
            readable_uk(datetime!(2026-07-10 11:00 UTC)),
            "10 July 2026 at midday"
        );
        // Either side of the clocks going back: 01:30 BST, then 01:30 GMT.
        assert_eq!(
            readable_uk(datetime!(2026-10-25 00:30 UTC)),
            "25 October 2026 at 1:30am"
        );
        assert_eq!(
            readable_uk(datetime!(2026-10-25 01:30 UTC)),
            "25 October 2026 at 1:30am"
        );
    }

    #[test]
    fn a_uk_day_starts_at_its_local_midnight() {
        assert_eq!(
            uk_start_of_day(date!(2026 - 12 - 02)),
            datetime!(2026-12-02 00:00 UTC)
        );
        assert_eq!(
            uk_start_of_day(date!(2026 - 06 - 01)),
            datetime!(2026-05-31 23:00 UTC)
        );
        // The days the clocks change begin on the clocks of the night before.
        assert_eq!(
            uk_start_of_day(date!(2026 - 03 - 29)),
            datetime!(2026-03-29 00:00 UTC)
        );
        assert_eq!(
            uk_start_of_day(date!(2026 - 03 - 30)),
            datetime!(2026-03-29 23:00 UTC)
        );
        assert_eq!(
            uk_start_of_day(date!(2026 - 10 - 25)),
            datetime!(2026-10-24 23:00 UTC)
        );
        assert_eq!(
            uk_start_of_day(date!(2026 - 10 - 26)),
            datetime!(2026-10-26 00:00 UTC)
        );
    }

    #[test]
    fn date_inputs_give_the_gov_uk_messages() {
        let p = |d, m, y| parse_date_input("The from date", d, m, y);
        assert_eq!(p("", "", ""), Ok(None));
        assert_eq!(p(" 2 ", "12", "2026"), Ok(Some(date!(2026 - 12 - 02))));
        assert_eq!(p("29", "2", "2028"), Ok(Some(date!(2028 - 02 - 29))));
        let e = p("31", "2", "2026").unwrap_err();
        assert_eq!(e.message, "The from date must be a real date");
        assert!(e.parts.day && e.parts.month && e.parts.year);
        assert_eq!(
            p("1", "13", "2026").unwrap_err().message,
            "The from date must be a real date"
        );
        assert_eq!(
            p("x", "1", "2026").unwrap_err().message,
            "The from date must be a real date"
        );
        let e = p("1", "", "2026").unwrap_err();
        assert_eq!(e.message, "The from date must include a month");
        assert_eq!(
            e.parts,
            DateParts {
                day: false,
                month: true,
                year: false
            }
        );
        assert_eq!(
            p("", "", "2026").unwrap_err().message,
            "The from date must include a day and month"
        );
        let e = p("1", "1", "26").unwrap_err();
        assert_eq!(
            e.message,
            "The from date's year must include 4 numbers, for example 2026"
        );
        assert!(e.parts.year && !e.parts.day);
    }
}
