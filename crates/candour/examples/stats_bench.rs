//! The Candour side of `bench/statistics.sh`: raw events through the real store, then the
//! dashboard's panels timed from the totals.
//!
//!   stats_bench load DATABASE_URL EVENTS.tsv
//!     records every event of the file (written by `bench/statistics_events.py`, sorted by
//!     time) with `StatsIngestStore::record_hits` and folds them with `fold_hits`, batch by
//!     batch as the server's folder would, then closes the last visits; prints the rate.
//!   stats_bench panels DATABASE_URL FROM_TS TO_TS ROUNDS [--answers FILE]
//!     answers each panel of the dashboard for the UK days from FROM_TS to TO_TS with
//!     `StatsReportStore` ROUNDS times and prints one JSON line per panel (p50 and p95 in ms)
//!     and one for the whole dashboard, then the same filtered by the busiest page and by the
//!     busiest referrer (panel names end in `[page /]`, `[source www.google.com]`); with --answers, writes the whole site's visitors,
//!     visits and page views and each page's page views and visitors, in the form
//!     `bench/statistics_reference.py` writes DuckDB's.
//!
//! A visitor's day hash is made from the event's day and visitor number: the file holds no
//! addresses, and the fold only needs hashes that differ between visitors.

use std::io::{BufRead, BufReader, Write};
use std::time::Instant;

use anyhow::{Context, bail};
use candour_core::stats::{Device, Dimension, Filter, Grain, Hit, HitKind, Range, VisitorHash};
use candour_core::store::Stores;
use candour_store_postgres::PgStore;
use candour_store_sqlite::SqliteStore;
use time::OffsetDateTime;

/// Hits recorded and folded together: about what the server's folder finds waiting after a
/// few seconds of a busy site.
const BATCH: usize = 5000;

/// Rows asked of each breakdown panel, as the dashboard shows them.
const TOP: u32 = 10;

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        ["load", url, events] => load(&open(url).await?, events).await,
        ["panels", url, from, to, rounds, rest @ ..] => {
            let answers = match rest {
                [] => None,
                ["--answers", file] => Some(*file),
                _ => bail!("after ROUNDS, only --answers FILE"),
            };
            let range = Range {
                from: at(from.parse()?)?,
                to: at(to.parse()?)?,
            };
            panels(&open(url).await?, range, rounds.parse()?, answers).await
        }
        _ => bail!(
            "usage: stats_bench load DATABASE_URL EVENTS.tsv | stats_bench panels DATABASE_URL FROM_TS TO_TS ROUNDS [--answers FILE]"
        ),
    }
}

async fn open(url: &str) -> anyhow::Result<Stores> {
    Ok(if url.starts_with("sqlite:") {
        SqliteStore::open(url).await?.stores()
    } else {
        PgStore::connect(url).await?.stores()
    })
}

fn at(unix: i64) -> anyhow::Result<OffsetDateTime> {
    Ok(OffsetDateTime::from_unix_timestamp(unix)?)
}

fn text(s: &str) -> Option<String> {
    (!s.is_empty()).then(|| s.to_owned())
}

/// One line of the events file as the hit the server would have recorded.
fn hit(line: &str) -> anyhow::Result<Hit> {
    let f: Vec<&str> = line.split('\t').collect();
    let [
        ts,
        visitor,
        kind,
        name,
        path,
        referrer,
        utm_s,
        utm_m,
        utm_c,
        browser,
        os,
        device,
        country,
    ] = f.as_slice()
    else {
        bail!("expected 13 tab-separated fields: {line}");
    };
    let ts: i64 = ts.parse()?;
    let mut hash = [0; 16];
    hash[..4].copy_from_slice(&((ts / 86400) as u32).to_le_bytes());
    hash[4..12].copy_from_slice(&visitor.parse::<u64>()?.to_le_bytes());
    Ok(Hit {
        at: at(ts)?,
        kind: match *kind {
            "pageview" => HitKind::PageView,
            _ => HitKind::Event((*name).to_owned()),
        },
        path: (*path).to_owned(),
        visitor: VisitorHash(hash),
        referrer: text(referrer),
        utm_source: text(utm_s),
        utm_medium: text(utm_m),
        utm_campaign: text(utm_c),
        browser: text(browser),
        os: text(os),
        device: Device::parse(device),
        country: text(country),
    })
}

async fn load(stores: &Stores, events: &str) -> anyhow::Result<()> {
    let file = std::fs::File::open(events).with_context(|| format!("could not open {events}"))?;
    let mut lines = BufReader::new(file).lines();
    lines.next().context("the events file is empty")??;
    let started = Instant::now();
    let mut batch = Vec::with_capacity(BATCH);
    let mut total = 0u64;
    let mut last = None;
    loop {
        let line = lines.next().transpose()?;
        if let Some(line) = &line {
            batch.push(hit(line)?);
        }
        if batch.len() == BATCH || (line.is_none() && !batch.is_empty()) {
            let now = batch.last().map(|h: &Hit| h.at).context("an empty batch")?;
            stores.stats_ingest.record_hits(&batch).await?;
            let folded = stores.stats_ingest.fold_hits(now, BATCH as u32).await?;
            total += folded.hits;
            last = Some(now);
            batch.clear();
        }
        if line.is_none() {
            break;
        }
    }
    // A day later every visit has ended and been counted.
    if let Some(last) = last {
        stores
            .stats_ingest
            .fold_hits(last + time::Duration::days(1), BATCH as u32)
            .await?;
    }
    let secs = started.elapsed().as_secs_f64();
    println!(
        "{{\"loaded\": {total}, \"seconds\": {secs:.1}, \"per_second\": {:.0}}}",
        total as f64 / secs
    );
    Ok(())
}

/// The dashboard's panels: the figures with their daily series, then each breakdown.
const PANELS: [(&str, Option<Dimension>); 13] = [
    ("summary", None),
    ("pages", Some(Dimension::Page)),
    ("entry_pages", Some(Dimension::EntryPage)),
    ("exit_pages", Some(Dimension::ExitPage)),
    ("sources", Some(Dimension::Source)),
    ("utm_sources", Some(Dimension::UtmSource)),
    ("utm_mediums", Some(Dimension::UtmMedium)),
    ("utm_campaigns", Some(Dimension::UtmCampaign)),
    ("browsers", Some(Dimension::Browser)),
    ("os", Some(Dimension::Os)),
    ("devices", Some(Dimension::Device)),
    ("countries", Some(Dimension::Country)),
    ("events", Some(Dimension::Goal)),
];

/// The rows clicked to filter every panel: the busiest page and the busiest referrer of the
/// generated events (`bench/statistics_events.py`).
const FILTERS: [(Dimension, &str); 2] = [
    (Dimension::Page, "/"),
    (Dimension::Source, "www.google.com"),
];

async fn panel(
    stores: &Stores,
    range: Range,
    dimension: Option<Dimension>,
    filter: Option<&Filter>,
) -> anyhow::Result<()> {
    let report = &stores.stats_report;
    match dimension {
        None => drop(report.stats_summary(range, Grain::Day, filter).await?),
        Some(d) => drop(report.stats_breakdown(range, d, filter, TOP).await?),
    }
    Ok(())
}

fn percentile(times: &mut [f64], p: f64) -> f64 {
    times.sort_by(f64::total_cmp);
    let i = ((p / 100.0) * (times.len() - 1) as f64).round() as usize;
    times
        .get(i.min(times.len() - 1))
        .copied()
        .unwrap_or(f64::NAN)
}

async fn panels(
    stores: &Stores,
    range: Range,
    rounds: usize,
    answers: Option<&str>,
) -> anyhow::Result<()> {
    // Unfiltered, then each filter: every panel, as a click on a row shows them.
    let mut views: Vec<Option<Filter>> = vec![None];
    views.extend(FILTERS.iter().map(|(dimension, value)| {
        Some(Filter {
            dimension: *dimension,
            value: (*value).to_owned(),
        })
    }));
    for filter in &views {
        let mut times = vec![Vec::with_capacity(rounds); PANELS.len()];
        let mut whole = Vec::with_capacity(rounds);
        // Once to warm the caches, as the references are warmed.
        for (_, d) in PANELS {
            panel(stores, range, d, filter.as_ref()).await?;
        }
        for _ in 0..rounds.max(1) {
            let dashboard = Instant::now();
            for (i, (_, d)) in PANELS.iter().enumerate() {
                let t = Instant::now();
                panel(stores, range, *d, filter.as_ref()).await?;
                times[i].push(t.elapsed().as_secs_f64() * 1000.0);
            }
            whole.push(dashboard.elapsed().as_secs_f64() * 1000.0);
        }
        let suffix = filter
            .as_ref()
            .map(|f| format!(" [{} {}]", f.dimension.code(), f.value))
            .unwrap_or_default();
        for ((name, _), t) in PANELS.iter().zip(times.iter_mut()) {
            println!(
                "{{\"panel\": \"{name}{suffix}\", \"p50_ms\": {:.3}, \"p95_ms\": {:.3}}}",
                percentile(t, 50.0),
                percentile(t, 95.0)
            );
        }
        println!(
            "{{\"panel\": \"dashboard{suffix}\", \"p50_ms\": {:.3}, \"p95_ms\": {:.3}}}",
            percentile(&mut whole, 50.0),
            percentile(&mut whole, 95.0)
        );
    }
    if let Some(file) = answers {
        let report = &stores.stats_report;
        let site = report.stats_summary(range, Grain::Day, None).await?.totals;
        let mut out = std::io::BufWriter::new(std::fs::File::create(file)?);
        writeln!(
            out,
            "site\t{}\t{}\t{}",
            site.visitors, site.visits, site.pageviews
        )?;
        let mut pages = report
            .stats_breakdown(range, Dimension::Page, None, u32::MAX)
            .await?;
        pages.sort_by(|a, b| a.value.cmp(&b.value));
        for row in pages {
            writeln!(
                out,
                "page\t{}\t{}\t{}",
                row.value, row.metrics.pageviews, row.metrics.visitors
            )?;
        }
        out.flush()?;
    }
    Ok(())
}
