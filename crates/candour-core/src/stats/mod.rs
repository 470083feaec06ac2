//! Cookieless site statistics: what one counted hit is, the dimensions the totals are kept
//! by, and the shapes the dashboard reads.
//!
//! A hit names its visitor only by a day hash: a keyed hash (`signer::Purpose::StatsVisitor`,
//! further keyed by the day's random salt) of the client address and user agent. The salt is
//! deleted when its day is over, so no hash can be linked to a person or to another day.
//! Raw hits wait minutes at most before [`fold`] turns them into totals per hour and per UK
//! day; the dashboard reads only the totals.

pub mod agent;
pub mod figures;
pub mod fold;
pub mod history;
pub mod range;
pub mod request;
pub mod span;

use std::fmt;

use time::{Date, OffsetDateTime};

use crate::uk_time;

/// A visit ends after this long without a hit from its visitor.
pub const VISIT_IDLE: time::Duration = time::Duration::minutes(30);

/// The live count covers the visitors seen in this last stretch.
pub const LIVE_WINDOW: time::Duration = time::Duration::minutes(5);

/// The longest path, referrer host, campaign tag or event name kept, in characters.
pub const MAX_VALUE_CHARS: usize = 300;

/// The dimensions under which history imported from an earlier analytics service is kept
/// in the daily totals: the whole site's page views, and each page's. They are apart from
/// what Candour counted, so an import can replace its own days without touching those.
pub const IMPORTED: &str = "imported";
pub const IMPORTED_PAGE: &str = "imported_page";

/// The source of a visit that came with no referrer and no `utm_source`.
pub const DIRECT: &str = "(direct)";

/// The day hash that stands for a visitor during one UK day (16 bytes of a keyed hash).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct VisitorHash(pub [u8; 16]);

impl fmt::Debug for VisitorHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("VisitorHash([redacted])")
    }
}

impl VisitorHash {
    /// The first 16 bytes of a keyed digest.
    pub fn from_digest(digest: &[u8; 32]) -> VisitorHash {
        let mut out = [0; 16];
        out.copy_from_slice(&digest[..16]);
        VisitorHash(out)
    }

    /// A hash read back from the database; `None` when it has the wrong length.
    pub fn from_stored(bytes: &[u8]) -> Option<VisitorHash> {
        <[u8; 16]>::try_from(bytes).ok().map(VisitorHash)
    }
}

/// What a hit records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HitKind {
    PageView,
    /// A named event: an outbound link click, a download, a goal such as a poll vote.
    Event(String),
}

/// The class of device a user agent names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Device {
    Desktop,
    Mobile,
    Tablet,
    Other,
}

impl Device {
    pub fn code(self) -> &'static str {
        match self {
            Device::Desktop => "desktop",
            Device::Mobile => "mobile",
            Device::Tablet => "tablet",
            Device::Other => "other",
        }
    }

    pub fn parse(code: &str) -> Option<Device> {
        [
            Device::Desktop,
            Device::Mobile,
            Device::Tablet,
            Device::Other,
        ]
        .into_iter()
        .find(|d| d.code() == code)
    }
}

/// One counted page view or event, as it waits to be folded into totals.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hit {
    pub at: OffsetDateTime,
    pub kind: HitKind,
    /// The page's path, without its query string.
    pub path: String,
    pub visitor: VisitorHash,
    /// The referring site's host; `None` for none or the site itself.
    pub referrer: Option<String>,
    pub utm_source: Option<String>,
    pub utm_medium: Option<String>,
    pub utm_campaign: Option<String>,
    pub browser: Option<String>,
    pub os: Option<String>,
    pub device: Option<Device>,
    /// ISO 3166-1 alpha-2, when a location database is configured.
    pub country: Option<String>,
}

impl Hit {
    /// Where the visit this hit opens came from: the campaign's `utm_source` (a link the
    /// organisation tagged says more than the webmail it was clicked in), else the
    /// referrer's host, else [`DIRECT`].
    pub fn source(&self) -> String {
        self.utm_source
            .clone()
            .or_else(|| self.referrer.clone())
            .unwrap_or_else(|| DIRECT.to_owned())
    }
}

/// `s` cut to [`MAX_VALUE_CHARS`] characters, with control characters removed.
pub fn clip(s: &str) -> String {
    s.chars()
        .filter(|c| !c.is_control())
        .take(MAX_VALUE_CHARS)
        .collect()
}

/// What the totals are kept by. Each has its rows in `stats_totals`; the whole site is the
/// row with dimension `''` and value `''`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Dimension {
    Page,
    EntryPage,
    ExitPage,
    /// The `utm_source`, or the referrer's host when there was none.
    Source,
    UtmSource,
    UtmMedium,
    UtmCampaign,
    Browser,
    Os,
    Device,
    Country,
    /// Named events and goals.
    Goal,
}

impl Dimension {
    pub const ALL: [Dimension; 12] = [
        Dimension::Page,
        Dimension::EntryPage,
        Dimension::ExitPage,
        Dimension::Source,
        Dimension::UtmSource,
        Dimension::UtmMedium,
        Dimension::UtmCampaign,
        Dimension::Browser,
        Dimension::Os,
        Dimension::Device,
        Dimension::Country,
        Dimension::Goal,
    ];

    /// The name stored in the `dimension` columns.
    pub fn code(self) -> &'static str {
        match self {
            Dimension::Page => "page",
            Dimension::EntryPage => "entry_page",
            Dimension::ExitPage => "exit_page",
            Dimension::Source => "source",
            Dimension::UtmSource => "utm_source",
            Dimension::UtmMedium => "utm_medium",
            Dimension::UtmCampaign => "utm_campaign",
            Dimension::Browser => "browser",
            Dimension::Os => "os",
            Dimension::Device => "device",
            Dimension::Country => "country",
            Dimension::Goal => "goal",
        }
    }

    pub fn parse(code: &str) -> Option<Dimension> {
        Dimension::ALL.into_iter().find(|d| d.code() == code)
    }

    /// What a row of the dimension counts by, as the privacy notice says it.
    pub fn described(self) -> &'static str {
        match self {
            Dimension::Page => "the pages viewed",
            Dimension::EntryPage => "the page a visit began on",
            Dimension::ExitPage => "the page a visit ended on",
            Dimension::Source => "the website that linked here (its name only, not the page)",
            Dimension::UtmSource | Dimension::UtmMedium | Dimension::UtmCampaign => {
                "the campaign named in the link followed (its utm_ tags), such as one of our emails"
            }
            Dimension::Browser => "the kind of browser",
            Dimension::Os => "the kind of operating system",
            Dimension::Device => "whether the device is a computer, phone or tablet",
            Dimension::Country => {
                "the country, worked out from the internet address, which is then discarded"
            }
            Dimension::Goal => {
                "actions such as voting in a poll, sending a form, following a share link, downloading a file or following a link to another site"
            }
        }
    }

    /// Whether the dimension describes a whole visit (taken from its first hit, or its last
    /// for the exit page), so its rows count visits, bounces and duration. Page and goal
    /// rows count visitors, page views and events only.
    pub fn is_visit_level(self) -> bool {
        !matches!(self, Dimension::Page | Dimension::Goal)
    }
}

/// How long a bucket of totals is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Grain {
    /// A UTC hour.
    Hour,
    /// A UK day (midnight to midnight on UK clocks).
    Day,
}

impl Grain {
    pub fn code(self) -> &'static str {
        match self {
            Grain::Hour => "hour",
            Grain::Day => "day",
        }
    }

    pub fn parse(code: &str) -> Option<Grain> {
        match code {
            "hour" => Some(Grain::Hour),
            "day" => Some(Grain::Day),
            _ => None,
        }
    }

    /// The start of the bucket `t` falls in.
    pub fn bucket(self, t: OffsetDateTime) -> OffsetDateTime {
        match self {
            Grain::Hour => {
                let secs = t.unix_timestamp();
                let start = secs - secs.rem_euclid(3600);
                OffsetDateTime::from_unix_timestamp(start).unwrap_or(t)
            }
            Grain::Day => uk_time::uk_start_of_day(uk_day(t)),
        }
    }
}

/// The UK date of `t`: the day a salt, a visit and a day's uniques belong to.
pub fn uk_day(t: OffsetDateTime) -> Date {
    uk_time::uk_local(t).date()
}

/// The counts of one row of totals (or their sum over a range).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Metrics {
    /// Unique visitors, exact within each bucket; a range's figure is the sum of its days'.
    pub visitors: i64,
    /// Visits begun.
    pub visits: i64,
    pub pageviews: i64,
    /// Visits of exactly one page view (counted when the visit ends).
    pub bounces: i64,
    /// The visits' lengths, first hit to last (counted when the visit ends).
    pub duration_seconds: i64,
    pub events: i64,
}

impl Metrics {
    pub fn add(&mut self, other: &Metrics) {
        self.visitors += other.visitors;
        self.visits += other.visits;
        self.pageviews += other.pageviews;
        self.bounces += other.bounces;
        self.duration_seconds += other.duration_seconds;
        self.events += other.events;
    }

    pub fn is_zero(&self) -> bool {
        *self == Metrics::default()
    }
}

/// "Only what matches": one dimension's value, as a row clicked on the dashboard.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Filter {
    pub dimension: Dimension,
    pub value: String,
}

/// A span of buckets: `from` (inclusive) to `to` (exclusive), both bucket starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Range {
    pub from: OffsetDateTime,
    pub to: OffsetDateTime,
}

/// One point of a time series.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Point {
    pub bucket: OffsetDateTime,
    pub metrics: Metrics,
}

/// The figures over a range, with their time series.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Summary {
    pub totals: Metrics,
    pub series: Vec<Point>,
}

/// One value of a dimension with its figures over a range.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    pub value: String,
    pub metrics: Metrics,
}

/// A day of page views of one page from an earlier analytics service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryRow {
    pub day: Date,
    pub path: String,
    pub pageviews: i64,
}

/// What one run of the folder did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Folded {
    pub hits: u64,
    pub visits_closed: u64,
}

/// What the privacy notice, `/privacy.json` and the objection page say about the
/// statistics, from the same facts the counting follows.
#[derive(Debug, Clone, serde::Serialize)]
pub struct StatisticsFacts {
    /// What the totals are kept by, in words, once each.
    pub counted: Vec<&'static str>,
    /// How long the totals are kept, in months.
    pub retention_months: u32,
    /// Where a visitor turns the statistics off for their browser.
    pub objection_page: &'static str,
    /// The browser signals that count as an objection.
    pub objection_signals: [&'static str; 2],
    /// Other sites of the organisation whose pages are counted too.
    pub other_sites: Vec<String>,
}

impl StatisticsFacts {
    pub fn new(countries: bool, retention_months: u32, other_sites: Vec<String>) -> Self {
        let mut counted: Vec<&'static str> = Vec::new();
        for d in Dimension::ALL {
            let words = d.described();
            if (d != Dimension::Country || countries) && !counted.contains(&words) {
                counted.push(words);
            }
        }
        StatisticsFacts {
            counted,
            retention_months,
            objection_page: "/statistics/object",
            objection_signals: ["Global Privacy Control (Sec-GPC)", "Do Not Track (DNT)"],
            other_sites,
        }
    }
}

/// The start (UTC) of the oldest UK day whose totals are kept for `months`: the first day
/// of the month `months` before the UK month of `now`.
pub fn totals_kept_from(now: OffsetDateTime, months: u32) -> OffsetDateTime {
    let today = uk_day(now);
    let index =
        i64::from(today.year()) * 12 + i64::from(u8::from(today.month())) - 1 - i64::from(months);
    let year = i32::try_from(index.div_euclid(12)).unwrap_or(i32::MIN);
    let month = u8::try_from(index.rem_euclid(12) + 1).unwrap_or(1);
    let first = time::Month::try_from(month)
        .ok()
        .and_then(|m| Date::from_calendar_date(year, m, 1).ok())
        .unwrap_or(Date::MIN);
    uk_time::uk_start_of_day(first)
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use super::*;

    #[test]
    fn totals_are_kept_from_the_first_of_a_month() {
        assert_eq!(
            totals_kept_from(datetime!(2026-12-02 10:00 UTC), 25),
            datetime!(2024-11-01 00:00 UTC)
        );
        // 1 July 2026 on UK clocks (summer time) begins at 23:00 UTC the day before.
        assert_eq!(
            totals_kept_from(datetime!(2026-08-31 23:30 UTC), 2),
            datetime!(2026-06-30 23:00 UTC)
        );
        assert_eq!(
            totals_kept_from(datetime!(2026-03-15 12:00 UTC), 3),
            datetime!(2025-12-01 00:00 UTC)
        );
    }

    #[test]
    fn day_buckets_are_uk_days_and_hours_are_utc() {
        let t = datetime!(2026-06-10 23:30 UTC); // 00:30 on 11 June in London
        assert_eq!(Grain::Day.bucket(t), datetime!(2026-06-10 23:00 UTC));
        assert_eq!(Grain::Hour.bucket(t), datetime!(2026-06-10 23:00 UTC));
        let w = datetime!(2026-01-10 09:59:59 UTC);
        assert_eq!(Grain::Day.bucket(w), datetime!(2026-01-10 00:00 UTC));
        assert_eq!(Grain::Hour.bucket(w), datetime!(2026-01-10 09:00 UTC));
    }
}
