//! The statutory clock of a request about personal data, by the UK rules.
//!
//! - The answer is due one calendar month after the clock starts: the same date next month,
//!   or that month's last day when the date does not exist (31 January → 28 or 29
//!   February). A due date on a weekend or bank holiday moves to the next working day.
//! - The clock starts when the request is received, or, when the organisation asked for
//!   proof of identity, on the day the proof arrives.
//! - While the organisation waits for a clarification it needs, the clock stands: the days
//!   between asking and the answer arriving do not count.
//! - The time may be extended by up to two further months for a complex request or many
//!   requests, decided while the first month still runs.
//!
//! Dates are UK calendar dates (see [`crate::uk_time`]); everything here is pure.

use time::{Date, Duration, Month};

use super::holidays::BankHolidays;

/// The same date `months` calendar months later, or the last day of that month when the
/// date does not exist in it.
pub fn add_months(date: Date, months: u8) -> Date {
    let index = i32::from(u8::from(date.month())) - 1 + i32::from(months);
    let year = date.year() + index.div_euclid(12);
    let month = Month::try_from((index.rem_euclid(12) + 1) as u8).unwrap_or(Month::December);
    let day = date.day().min(time::util::days_in_month(month, year));
    Date::from_calendar_date(year, month, day).unwrap_or(date)
}

/// A wait on the person: proof of identity, or a clarification. `answered` is the UK date
/// the answer arrived, `None` while still waiting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Wait {
    pub asked: Date,
    pub answered: Option<Date>,
}

/// An extension: when it was decided and by how many months (one or two).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Extension {
    pub decided: Date,
    pub months: u8,
}

/// What moved a case's clock. Both dates of every wait are kept, so the due date can be
/// shown and checked from the record alone.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Timeline {
    pub received: Option<Date>,
    pub identity: Option<Wait>,
    pub clarifications: Vec<Wait>,
    pub extension: Option<Extension>,
}

/// Where a case's clock stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Due {
    /// The clock runs: the answer is due by `date` (a working day).
    By { date: Date, extended: bool },
    /// Waiting for proof of identity: the month starts when it arrives.
    AwaitingIdentity,
    /// Waiting for a clarification: the clock stands with `days_left` when it stopped.
    Paused { days_left: i64 },
}

/// Why an extension cannot be recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ExtensionRefused {
    #[error("an extension is one or two further months")]
    Months,
    #[error("the clock has not started yet")]
    NotStarted,
    #[error("the request already has an extension")]
    AlreadyExtended,
    #[error("an extension must be decided while the first month runs (it ended on {0})")]
    FirstMonthOver(Date),
    #[error("an extension cannot be decided before the clock started ({0})")]
    BeforeStart(Date),
}

impl Timeline {
    pub fn received(date: Date) -> Timeline {
        Timeline {
            received: Some(date),
            ..Timeline::default()
        }
    }

    /// The day the month starts from, once it has started.
    pub fn start(&self) -> Option<Date> {
        let received = self.received?;
        match self.identity {
            None => Some(received),
            Some(Wait { answered, .. }) => answered.map(|a| a.max(received)),
        }
    }

    /// Days the clock stood for answered clarifications after it started and before `until`.
    fn paused_days(&self, start: Date, until: Option<Date>) -> i64 {
        self.clarifications
            .iter()
            .filter_map(|w| {
                let answered = w.answered?;
                let from = w.asked.max(start);
                let to = until.map_or(answered, |u| answered.min(u));
                Some((to - from).whole_days().max(0))
            })
            .sum()
    }

    /// The due date with `months` from the start and the pauses up to `until`.
    fn due_date(
        &self,
        start: Date,
        months: u8,
        until: Option<Date>,
        holidays: &BankHolidays,
    ) -> Date {
        let base = add_months(start, months);
        let shifted = base
            .checked_add(Duration::days(self.paused_days(start, until)))
            .unwrap_or(base);
        holidays.on_or_after(shifted)
    }

    /// The end of the first month (pauses counted), which bounds when an extension can be
    /// decided.
    pub fn first_month_due(&self, holidays: &BankHolidays) -> Option<Date> {
        let start = self.start()?;
        Some(self.due_date(start, 1, None, holidays))
    }

    /// Where the clock stands now.
    pub fn due(&self, holidays: &BankHolidays) -> Due {
        let Some(start) = self.start() else {
            return Due::AwaitingIdentity;
        };
        let months = 1 + self.extension.map_or(0, |e| e.months);
        if let Some(open) = self.clarifications.iter().find(|w| w.answered.is_none()) {
            let stopped = open.asked.max(start);
            let date = self.due_date(start, months, Some(stopped), holidays);
            return Due::Paused {
                days_left: (date - stopped).whole_days(),
            };
        }
        Due::By {
            date: self.due_date(start, months, None, holidays),
            extended: self.extension.is_some(),
        }
    }

    /// Whether `extension` may be recorded now.
    pub fn check_extension(
        &self,
        extension: Extension,
        holidays: &BankHolidays,
    ) -> Result<(), ExtensionRefused> {
        if !(1..=2).contains(&extension.months) {
            return Err(ExtensionRefused::Months);
        }
        if self.extension.is_some() {
            return Err(ExtensionRefused::AlreadyExtended);
        }
        let start = self.start().ok_or(ExtensionRefused::NotStarted)?;
        if extension.decided < start {
            return Err(ExtensionRefused::BeforeStart(start));
        }
        let first = self.due_date(start, 1, Some(extension.decided), holidays);
        if extension.decided > first {
            return Err(ExtensionRefused::FirstMonthOver(first));
        }
        Ok(())
    }
}

/// Calendar days from `today` to `due`: negative once overdue.
pub fn days_left(today: Date, due: Date) -> i64 {
    (due - today).whole_days()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::requests::holidays::Region;
    use proptest::prelude::*;
    use time::macros::date;

    fn ew() -> BankHolidays {
        BankHolidays::new(Region::EnglandAndWales, &[])
    }

    fn due_by(t: &Timeline, h: &BankHolidays) -> Date {
        match t.due(h) {
            Due::By { date, .. } => date,
            other => panic!("not running: {other:?}"),
        }
    }

    #[test]
    fn a_month_ends_on_the_same_date_or_the_months_last_day() {
        assert_eq!(add_months(date!(2027 - 01 - 31), 1), date!(2027 - 02 - 28));
        assert_eq!(add_months(date!(2028 - 01 - 31), 1), date!(2028 - 02 - 29));
        assert_eq!(add_months(date!(2028 - 01 - 29), 1), date!(2028 - 02 - 29));
        assert_eq!(add_months(date!(2026 - 03 - 31), 1), date!(2026 - 04 - 30));
        assert_eq!(add_months(date!(2026 - 12 - 15), 1), date!(2027 - 01 - 15));
        assert_eq!(add_months(date!(2026 - 11 - 30), 3), date!(2027 - 02 - 28));
        assert_eq!(add_months(date!(2026 - 05 - 10), 0), date!(2026 - 05 - 10));
    }

    #[test]
    fn due_dates_by_the_uk_rules() {
        let h = ew();
        // 31 January 2027 → 28 February, a Sunday → Monday 1 March.
        assert_eq!(
            due_by(&Timeline::received(date!(2027 - 01 - 31)), &h),
            date!(2027 - 03 - 01)
        );
        // Leap year: 31 January 2028 → Tuesday 29 February.
        assert_eq!(
            due_by(&Timeline::received(date!(2028 - 01 - 31)), &h),
            date!(2028 - 02 - 29)
        );
        // 6 March 2026 → 6 April, Easter Monday in England → Tuesday 7 April …
        assert_eq!(
            due_by(&Timeline::received(date!(2026 - 03 - 06)), &h),
            date!(2026 - 04 - 07)
        );
        // … but a working day in Scotland.
        let scotland = BankHolidays::new(Region::Scotland, &[]);
        assert_eq!(
            due_by(&Timeline::received(date!(2026 - 03 - 06)), &scotland),
            date!(2026 - 04 - 06)
        );
        // 2 December 2026 → Saturday 2 January → Monday 4 January; in Scotland the 4th is
        // the 2nd of January's substitute day → Tuesday 5 January.
        assert_eq!(
            due_by(&Timeline::received(date!(2026 - 12 - 02)), &h),
            date!(2027 - 01 - 04)
        );
        assert_eq!(
            due_by(&Timeline::received(date!(2026 - 12 - 02)), &scotland),
            date!(2027 - 01 - 05)
        );
        // 17 February 2027 → 17 March: St Patrick's Day only in Northern Ireland.
        let ni = BankHolidays::new(Region::NorthernIreland, &[]);
        assert_eq!(
            due_by(&Timeline::received(date!(2027 - 02 - 17)), &h),
            date!(2027 - 03 - 17)
        );
        assert_eq!(
            due_by(&Timeline::received(date!(2027 - 02 - 17)), &ni),
            date!(2027 - 03 - 18)
        );
    }

    #[test]
    fn the_month_starts_when_proof_of_identity_arrives() {
        let h = ew();
        let mut t = Timeline::received(date!(2026 - 06 - 01));
        t.identity = Some(Wait {
            asked: date!(2026 - 06 - 02),
            answered: None,
        });
        assert_eq!(t.due(&h), Due::AwaitingIdentity);
        t.identity = Some(Wait {
            asked: date!(2026 - 06 - 02),
            answered: Some(date!(2026 - 06 - 10)),
        });
        assert_eq!(due_by(&t, &h), date!(2026 - 07 - 10));
    }

    #[test]
    fn a_clarification_stops_the_clock_and_it_runs_on_when_answered() {
        let h = ew();
        let mut t = Timeline::received(date!(2026 - 06 - 01));
        assert_eq!(due_by(&t, &h), date!(2026 - 07 - 01));
        t.clarifications.push(Wait {
            asked: date!(2026 - 06 - 11),
            answered: None,
        });
        // Twenty days of the month had gone; twenty remain while it stands.
        assert_eq!(t.due(&h), Due::Paused { days_left: 20 });
        t.clarifications[0].answered = Some(date!(2026 - 06 - 16));
        // Five days stood: 1 July + 5 = Monday 6 July.
        assert_eq!(due_by(&t, &h), date!(2026 - 07 - 06));
    }

    #[test]
    fn an_extension_adds_up_to_two_months_only_while_the_first_runs() {
        let h = ew();
        let mut t = Timeline::received(date!(2026 - 06 - 01));
        let first = date!(2026 - 07 - 01);
        assert_eq!(t.first_month_due(&h), Some(first));
        assert_eq!(
            t.check_extension(
                Extension {
                    decided: first,
                    months: 3
                },
                &h
            ),
            Err(ExtensionRefused::Months)
        );
        assert_eq!(
            t.check_extension(
                Extension {
                    decided: date!(2026 - 07 - 02),
                    months: 2
                },
                &h
            ),
            Err(ExtensionRefused::FirstMonthOver(first))
        );
        let extension = Extension {
            decided: first,
            months: 2,
        };
        assert_eq!(t.check_extension(extension, &h), Ok(()));
        t.extension = Some(extension);
        assert_eq!(
            t.due(&h),
            Due::By {
                date: date!(2026 - 09 - 01),
                extended: true
            }
        );
        assert_eq!(
            t.check_extension(extension, &h),
            Err(ExtensionRefused::AlreadyExtended)
        );
    }

    #[test]
    fn days_left_go_negative_once_overdue() {
        assert_eq!(days_left(date!(2026 - 06 - 01), date!(2026 - 06 - 08)), 7);
        assert_eq!(days_left(date!(2026 - 06 - 10), date!(2026 - 06 - 08)), -2);
    }

    fn any_date() -> impl Strategy<Value = Date> {
        // Within the built-in holiday list's years, leaving room for an extension.
        (0i64..(365 * 9)).prop_map(|d| date!(2026 - 01 - 01) + Duration::days(d))
    }

    fn any_region() -> impl Strategy<Value = Region> {
        prop::sample::select(Region::ALL.to_vec())
    }

    proptest! {
        #[test]
        fn a_due_date_is_a_working_day_at_most_four_days_after_the_months_end(
            received in any_date(), region in any_region()
        ) {
            let h = BankHolidays::new(region, &[]);
            let due = due_by(&Timeline::received(received), &h);
            let base = add_months(received, 1);
            prop_assert!(h.is_working_day(due));
            prop_assert!(due >= base);
            prop_assert!((due - base).whole_days() <= 4, "{received} → {due}");
            prop_assert!((base - received).whole_days() >= 28);
            prop_assert!((base - received).whole_days() <= 31);
            prop_assert_eq!(base.day(), received.day().min(time::util::days_in_month(base.month(), base.year())));
        }

        #[test]
        fn a_later_request_is_never_due_earlier(
            a in any_date(), gap in 0i64..40, region in any_region()
        ) {
            let h = BankHolidays::new(region, &[]);
            let b = a + Duration::days(gap);
            prop_assert!(due_by(&Timeline::received(a), &h) <= due_by(&Timeline::received(b), &h));
        }

        #[test]
        fn waiting_for_identity_is_the_same_as_receiving_the_request_on_the_day_it_arrives(
            received in any_date(), wait in 0i64..60, region in any_region()
        ) {
            let h = BankHolidays::new(region, &[]);
            let arrived = received + Duration::days(wait);
            let mut t = Timeline::received(received);
            t.identity = Some(Wait { asked: received, answered: Some(arrived) });
            prop_assert_eq!(due_by(&t, &h), due_by(&Timeline::received(arrived), &h));
        }

        #[test]
        fn a_clarification_moves_the_months_end_by_exactly_the_days_it_stood(
            received in any_date(), at in 0i64..28, stood in 0i64..30, region in any_region()
        ) {
            let h = BankHolidays::new(region, &[]);
            let mut t = Timeline::received(received);
            let asked = received + Duration::days(at);
            t.clarifications.push(Wait { asked, answered: Some(asked + Duration::days(stood)) });
            let expected = h.on_or_after(add_months(received, 1) + Duration::days(stood));
            prop_assert_eq!(due_by(&t, &h), expected);
            // While it stood, the days left were those from the asking to the due date
            // the request had then.
            t.clarifications[0].answered = None;
            let before = due_by(&Timeline::received(received), &h);
            prop_assert_eq!(t.due(&h), Due::Paused { days_left: (before - asked).whole_days() });
        }

        #[test]
        fn an_extension_is_accepted_exactly_while_the_first_month_runs(
            received in any_date(), decided_after in 0i64..45, months in 1u8..=2, region in any_region()
        ) {
            let h = BankHolidays::new(region, &[]);
            let t = Timeline::received(received);
            let first = due_by(&t, &h);
            let decided = received + Duration::days(decided_after);
            let extension = Extension { decided, months };
            let verdict = t.check_extension(extension, &h);
            prop_assert_eq!(verdict.is_ok(), decided <= first);
            if verdict.is_ok() {
                let mut extended = t.clone();
                extended.extension = Some(extension);
                let date = due_by(&extended, &h);
                prop_assert!(date > first);
                prop_assert_eq!(date, h.on_or_after(add_months(received, 1 + months)));
            }
        }
    }
}
