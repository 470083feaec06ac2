//! A few weeks of the demo site's visits, counted through the real ingest methods and folded
//! into totals as the server folds them, so the statistics dashboard has something to show.
//! The visits are made up from a fixed seed: the same every time the demo starts.

use candour_core::stats::{Device, HistoryRow, Hit, HitKind, VisitorHash};
use candour_core::store::Stores;
use time::{Duration, OffsetDateTime};

/// Pages of the demo site, the most read first.
const PAGES: [&str; 7] = [
    "/",
    "/news",
    "/news/road-safety-week",
    "/report",
    "/news/open-day",
    "/contact",
    "/polls",
];
/// Where visits come from: a referring host, or `None` for a typed address or bookmark.
const SOURCES: [Option<&str>; 5] = [
    None,
    Some("www.google.com"),
    Some("www.bing.com"),
    Some("www.facebook.com"),
    Some("northmoor-news.example"),
];
const BROWSERS: [(&str, &str, Device); 5] = [
    ("Chrome", "Android", Device::Mobile),
    ("Safari", "iOS", Device::Mobile),
    ("Chrome", "Windows", Device::Desktop),
    ("Edge", "Windows", Device::Desktop),
    ("Safari", "iPadOS", Device::Tablet),
];

/// A small deterministic generator (a 64-bit linear congruential one): enough for made-up
/// visits, and the same on every start.
struct Seeded(u64);

impl Seeded {
    fn next(&mut self, below: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) % below.max(1)
    }

    /// An index into a list of `n`, the first items far likelier than the last.
    fn skewed(&mut self, n: usize) -> usize {
        let n = n as u64;
        let a = self.next(n);
        let b = self.next(n);
        usize::try_from(a.min(b)).unwrap_or(0)
    }
}

/// Fill 28 days before `now` with visits, fold them, and import a month of older history as
/// if from Google Analytics.
pub async fn fill(stores: &Stores, now: OffsetDateTime) -> anyhow::Result<()> {
    let mut rng = Seeded(0x5eed_cafe);
    let mut hits = Vec::new();
    let mut visitor: u32 = 0;
    for days_ago in (1..=28i64).rev() {
        let date = candour_core::uk_time::uk_local(now - Duration::days(days_ago)).date();
        let day = candour_core::uk_time::uk_start_of_day(date);
        // Weekdays are busier than weekends.
        let weekend = matches!(
            date.weekday(),
            time::Weekday::Saturday | time::Weekday::Sunday
        );
        let visits = if weekend { 8 } else { 14 } + rng.next(8);
        for _ in 0..visits {
            visitor += 1;
            let mut id = [0u8; 16];
            id[..4].copy_from_slice(&visitor.to_be_bytes());
            let (browser, os, device) = BROWSERS[rng.skewed(BROWSERS.len())];
            let source = SOURCES[rng.skewed(SOURCES.len())];
            let campaign = (rng.next(12) == 0).then_some("road-safety-week");
            // Between 7am and 9pm.
            let start =
                day + Duration::minutes(i64::try_from(7 * 60 + rng.next(14 * 60)).unwrap_or(0));
            let pages = 1 + rng.skewed(4);
            let mut at = start;
            for _ in 0..pages {
                hits.push(Hit {
                    at,
                    kind: HitKind::PageView,
                    path: PAGES[rng.skewed(PAGES.len())].to_owned(),
                    visitor: VisitorHash(id),
                    referrer: source.map(str::to_owned),
                    utm_source: campaign.map(|_| "candour".to_owned()),
                    utm_medium: campaign.map(|_| "email".to_owned()),
                    utm_campaign: campaign.map(str::to_owned),
                    browser: Some(browser.to_owned()),
                    os: Some(os.to_owned()),
                    device: Some(device),
                    country: Some("GB".to_owned()),
                });
                at += Duration::seconds(20 + i64::try_from(rng.next(200)).unwrap_or(0));
            }
            if rng.next(8) == 0 {
                hits.push(Hit {
                    at,
                    kind: HitKind::Event("Poll vote".to_owned()),
                    path: "/polls".to_owned(),
                    visitor: VisitorHash(id),
                    referrer: None,
                    utm_source: None,
                    utm_medium: None,
                    utm_campaign: None,
                    browser: Some(browser.to_owned()),
                    os: Some(os.to_owned()),
                    device: Some(device),
                    country: Some("GB".to_owned()),
                });
            }
        }
    }
    hits.sort_by_key(|h| h.at);
    for chunk in hits.chunks(2000) {
        stores.stats_ingest.record_hits(chunk).await?;
    }
    while stores.stats_ingest.fold_hits(now, 5000).await?.hits > 0 {}

    // The month before, from the old analytics service: page views only.
    let mut history = Vec::new();
    for days_ago in 29..=60i64 {
        let day = candour_core::uk_time::uk_local(now - Duration::days(days_ago)).date();
        for (rank, page) in PAGES.iter().enumerate() {
            let base = 120 / (rank as u64 + 1);
            history.push(HistoryRow {
                day,
                path: (*page).to_owned(),
                pageviews: i64::try_from(base + rng.next(base / 2 + 1)).unwrap_or(0),
            });
        }
    }
    stores.stats_report.import_history(&history).await?;
    Ok(())
}
