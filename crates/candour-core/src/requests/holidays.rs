//! UK bank holidays, kept as data: a built-in list for the coming years, which a file of the
//! same form can extend (a one-off holiday, or years past the list's end).
//!
//! Each line is a date, the parts of the UK it applies to (comma-separated) and a name,
//! separated by tabs; blank lines and lines starting with `#` are ignored.

use std::collections::BTreeSet;
use std::fmt;

use time::{Date, Duration, Weekday};

use crate::fields::{FieldError, FieldErrors};

/// The built-in list, made from the rules each part of the UK follows (fixed days that fall
/// on a weekend move to the next free weekday).
const BUILT_IN: &str = include_str!("bank_holidays.txt");

/// The part of the UK whose bank holidays count as non-working days.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Region {
    EnglandAndWales,
    Scotland,
    NorthernIreland,
}

impl Region {
    pub const ALL: [Region; 3] = [
        Region::EnglandAndWales,
        Region::Scotland,
        Region::NorthernIreland,
    ];

    /// The name used in configuration and in holiday files.
    pub fn name(self) -> &'static str {
        match self {
            Region::EnglandAndWales => "england-and-wales",
            Region::Scotland => "scotland",
            Region::NorthernIreland => "northern-ireland",
        }
    }

    pub fn parse(s: &str) -> Option<Region> {
        Region::ALL.into_iter().find(|r| r.name() == s.trim())
    }

    /// What configuration accepts, for error messages.
    pub fn allowed() -> String {
        Region::ALL.map(Region::name).join(", ")
    }
}

impl fmt::Display for Region {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One line of a holiday list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holiday {
    pub date: Date,
    pub regions: Vec<Region>,
    pub name: String,
}

/// Reads a holiday list. Errors name the line (`line 3`), what was wrong and what is allowed;
/// nothing is taken from a list with any error.
pub fn parse_list(text: &str) -> Result<Vec<Holiday>, FieldErrors> {
    let mut errors = FieldErrors::new();
    let mut out = Vec::new();
    for (index, line) in text.lines().enumerate() {
        let line = line.trim_end_matches('\r');
        if line.trim().is_empty() || line.trim_start().starts_with('#') {
            continue;
        }
        let field = format!("line {}", index + 1);
        let mut parts = line.split('\t');
        let (Some(date), Some(regions), Some(name), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            errors.push(
                FieldError::new(field, "must have three parts separated by tabs")
                    .with_allowed("a date (YYYY-MM-DD), the parts of the UK, a name"),
            );
            continue;
        };
        let date = match parse_iso_date(date.trim()) {
            Some(date) => date,
            None => {
                errors.push(
                    FieldError::new(field, format!("has {:?}, which is not a date", date.trim()))
                        .with_allowed("a date written YYYY-MM-DD"),
                );
                continue;
            }
        };
        let mut parsed = Vec::new();
        for r in regions.split(',') {
            match Region::parse(r) {
                Some(region) if !parsed.contains(&region) => parsed.push(region),
                Some(_) => {}
                None => errors.push(
                    FieldError::new(
                        field.clone(),
                        format!("names {:?}, which is not a part of the UK", r.trim()),
                    )
                    .with_allowed(Region::allowed()),
                ),
            }
        }
        let name = name.trim();
        if name.is_empty() || name.chars().any(char::is_control) || name.chars().count() > 100 {
            errors.push(
                FieldError::new(field, "has no usable name")
                    .with_allowed("1 to 100 characters, no control characters"),
            );
            continue;
        }
        if !parsed.is_empty() {
            out.push(Holiday {
                date,
                regions: parsed,
                name: name.to_owned(),
            });
        }
    }
    errors.into_result().map(|()| out)
}

fn parse_iso_date(s: &str) -> Option<Date> {
    Date::parse(s, crate::uk_time::ISO_DATE).ok()
}

/// The bank holidays of one part of the UK.
#[derive(Debug, Clone)]
pub struct BankHolidays {
    region: Region,
    days: BTreeSet<Date>,
}

impl BankHolidays {
    /// The built-in list for `region`, with `extra` added (from a configured file).
    pub fn new(region: Region, extra: &[Holiday]) -> BankHolidays {
        let built_in = parse_list(BUILT_IN).unwrap_or_default();
        let days = built_in
            .iter()
            .chain(extra)
            .filter(|h| h.regions.contains(&region))
            .map(|h| h.date)
            .collect();
        BankHolidays { region, days }
    }

    pub fn region(&self) -> Region {
        self.region
    }

    /// The last year the list knows: past it, only weekends are known to be non-working
    /// days, and configuration check says so well before.
    pub fn last_year(&self) -> Option<i32> {
        self.days.last().map(|d| d.year())
    }

    pub fn is_holiday(&self, date: Date) -> bool {
        self.days.contains(&date)
    }

    pub fn is_working_day(&self, date: Date) -> bool {
        !matches!(date.weekday(), Weekday::Saturday | Weekday::Sunday) && !self.is_holiday(date)
    }

    /// `date` itself if it is a working day, or the next one after it.
    pub fn on_or_after(&self, date: Date) -> Date {
        let mut day = date;
        // A run of non-working days is at most a few days long; the bound only guards
        // against a list that marks every day (a file can add days).
        for _ in 0..366 {
            if self.is_working_day(day) {
                return day;
            }
            match day.checked_add(Duration::DAY) {
                Some(next) => day = next,
                None => return day,
            }
        }
        day
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    #[test]
    fn the_built_in_list_reads_without_error_and_covers_ten_years() {
        let list = parse_list(BUILT_IN).unwrap();
        assert!(list.len() > 120, "{}", list.len());
        for region in Region::ALL {
            let holidays = BankHolidays::new(region, &[]);
            assert_eq!(holidays.last_year(), Some(2035), "{region}");
            for year in 2026..=2035 {
                let count = list
                    .iter()
                    .filter(|h| h.date.year() == year && h.regions.contains(&region))
                    .count();
                // Eight in England and Wales, nine in Scotland, ten in Northern Ireland.
                let expected = match region {
                    Region::EnglandAndWales => 8,
                    Region::Scotland => 9,
                    Region::NorthernIreland => 10,
                };
                assert_eq!(count, expected, "{region} {year}");
            }
        }
    }

    #[test]
    fn every_built_in_holiday_is_a_weekday() {
        for h in parse_list(BUILT_IN).unwrap() {
            assert!(
                !matches!(h.date.weekday(), Weekday::Saturday | Weekday::Sunday),
                "{h:?}"
            );
        }
    }

    #[test]
    fn the_parts_of_the_uk_keep_their_own_days() {
        let ew = BankHolidays::new(Region::EnglandAndWales, &[]);
        let scotland = BankHolidays::new(Region::Scotland, &[]);
        let ni = BankHolidays::new(Region::NorthernIreland, &[]);
        // Easter Monday 2026: not in Scotland.
        assert!(ew.is_holiday(date!(2026 - 04 - 06)));
        assert!(!scotland.is_holiday(date!(2026 - 04 - 06)));
        // St Andrew's Day, the 2nd of January: Scotland only.
        assert!(scotland.is_holiday(date!(2026 - 11 - 30)));
        assert!(!ew.is_holiday(date!(2026 - 11 - 30)));
        assert!(scotland.is_holiday(date!(2026 - 01 - 02)));
        // St Patrick's Day and the Twelfth (a Sunday in 2026, so the Monday): Northern Ireland.
        assert!(ni.is_holiday(date!(2026 - 03 - 17)));
        assert!(ni.is_holiday(date!(2026 - 07 - 13)));
        assert!(!ni.is_holiday(date!(2026 - 07 - 12)));
        assert!(!ew.is_holiday(date!(2026 - 07 - 13)));
        // Boxing Day 2026 is a Saturday: the Monday after is the holiday everywhere.
        for h in [&ew, &scotland, &ni] {
            assert!(h.is_holiday(date!(2026 - 12 - 28)));
            assert!(!h.is_working_day(date!(2026 - 12 - 26)));
        }
    }

    #[test]
    fn the_next_working_day_skips_weekends_and_holidays() {
        let ew = BankHolidays::new(Region::EnglandAndWales, &[]);
        // Good Friday 2026 → the Tuesday after Easter Monday.
        assert_eq!(ew.on_or_after(date!(2026 - 04 - 03)), date!(2026 - 04 - 07));
        assert_eq!(ew.on_or_after(date!(2026 - 04 - 07)), date!(2026 - 04 - 07));
        // Christmas 2027 is a Saturday: 27 and 28 December are the substitutes.
        assert_eq!(ew.on_or_after(date!(2027 - 12 - 25)), date!(2027 - 12 - 29));
    }

    #[test]
    fn a_file_adds_days_to_the_parts_it_names() {
        let extra = parse_list(
            "# a one-off\n2027-06-07\tengland-and-wales,scotland\tA special holiday\n\n",
        )
        .unwrap();
        assert!(
            BankHolidays::new(Region::EnglandAndWales, &extra).is_holiday(date!(2027 - 06 - 07))
        );
        assert!(BankHolidays::new(Region::Scotland, &extra).is_holiday(date!(2027 - 06 - 07)));
        assert!(
            !BankHolidays::new(Region::NorthernIreland, &extra).is_holiday(date!(2027 - 06 - 07))
        );
    }

    #[test]
    fn a_bad_file_names_each_line_and_what_is_allowed() {
        let errors = parse_list(
            "2027-02-30\tscotland\tNo such day\n2027-06-07\twales\tWrong part\njust words\n2027-06-08\tscotland\t\n",
        )
        .unwrap_err();
        let fields: Vec<_> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["line 1", "line 2", "line 3", "line 4"]);
        assert!(errors.problem("line 2").unwrap().contains("\"wales\""));
        assert_eq!(
            errors.iter().nth(1).unwrap().allowed.as_deref(),
            Some("england-and-wales, scotland, northern-ireland")
        );
    }
}
