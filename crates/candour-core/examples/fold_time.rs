//! Times the pure fold (`stats::fold`, `Fold::settle`, `Fold::total_rows`) on a file of
//! events written by `bench/statistics_events.py`, with the marks kept in memory: the CPU the
//! fold costs apart from the database.
//!
//!   cargo run --release -p candour-core --example fold_time -- EVENTS.tsv [BATCH]

use std::collections::HashMap;
use std::error::Error;
use std::io::BufRead;
use std::time::Instant;

use candour_core::stats::fold::{self, OpenVisit, SeenKey};
use candour_core::stats::{Device, Hit, HitKind, VISIT_IDLE, VisitorHash, uk_day};
use time::OffsetDateTime;

fn hit(line: &str) -> Result<Hit, Box<dyn Error>> {
    let p: Vec<&str> = line.split('\t').collect();
    let [
        ts,
        visitor,
        kind,
        name,
        path,
        referrer,
        us,
        um,
        uc,
        browser,
        os,
        device,
        country,
    ] = p.as_slice()
    else {
        return Err(format!("expected 13 fields: {line}").into());
    };
    let ts: i64 = ts.parse()?;
    let mut h = [0; 16];
    h[..4].copy_from_slice(&((ts / 86400) as u32).to_le_bytes());
    h[4..12].copy_from_slice(&visitor.parse::<u64>()?.to_le_bytes());
    let text = |s: &str| (!s.is_empty()).then(|| s.to_owned());
    Ok(Hit {
        at: OffsetDateTime::from_unix_timestamp(ts)?,
        kind: if *kind == "pageview" {
            HitKind::PageView
        } else {
            HitKind::Event((*name).to_owned())
        },
        path: (*path).to_owned(),
        visitor: VisitorHash(h),
        referrer: text(referrer),
        utm_source: text(us),
        utm_medium: text(um),
        utm_campaign: text(uc),
        browser: text(browser),
        os: text(os),
        device: Device::parse(device),
        country: text(country),
    })
}

fn main() -> Result<(), Box<dyn Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(path) = args.first() else {
        return Err("usage: fold_time EVENTS.tsv [BATCH]".into());
    };
    let batch: usize = args.get(1).map_or(Ok(5000), |b| b.parse())?;
    let file = std::io::BufReader::new(std::fs::File::open(path)?);
    let mut hits = Vec::new();
    for line in file.lines().skip(1) {
        hits.push(hit(&line?)?);
    }
    let mut seen: HashMap<SeenKey, Vec<u8>> = HashMap::new();
    let mut open: HashMap<VisitorHash, OpenVisit> = HashMap::new();
    let (mut rows, mut pairs, mut sets) = (0, 0, 0);
    let started = Instant::now();
    for chunk in hits.chunks(batch.max(1)) {
        let Some(now) = chunk.last().map(|h| h.at) else {
            continue;
        };
        // As the stores do: the batch's visitors' visits and every one that may have ended.
        let mut stored: Vec<OpenVisit> = chunk
            .iter()
            .filter_map(|h| open.remove(&h.visitor))
            .collect();
        let today = uk_day(now);
        let ended: Vec<VisitorHash> = open
            .values()
            .filter(|v| now - v.last_seen >= VISIT_IDLE || v.day() < today)
            .map(|v| v.visitor)
            .collect();
        stored.extend(ended.iter().filter_map(|v| open.remove(v)));
        let mut f = fold::fold(chunk, stored, now);
        let have: HashMap<SeenKey, Vec<u8>> = f
            .seen_keys()
            .into_iter()
            .filter_map(|k| seen.get(&k).map(|v| (k, v.clone())))
            .collect();
        let grown = f.settle(&have);
        sets += grown.len();
        seen.extend(grown);
        rows += f.total_rows().len();
        pairs += f.pair_rows().len();
        open.extend(f.open.drain(..).map(|v| (v.visitor, v)));
    }
    let secs = started.elapsed().as_secs_f64();
    println!(
        "{} hits in batches of {batch}: {secs:.2} s ({:.0} hits/s); rows to write: {rows} totals, {pairs} pairs, {sets} sets of marks",
        hits.len(),
        hits.len() as f64 / secs
    );
    Ok(())
}
