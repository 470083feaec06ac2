#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Times the pure fold on a file of bench events (not a test: run by hand with
//! FOLD_EVENTS=path cargo test --release -p candour-core --test foldtime -- --ignored --nocapture).
use std::collections::HashMap;
use std::io::BufRead;
use std::time::Instant;

use candour_core::stats::fold::{self, SeenKey};
use candour_core::stats::{Device, Hit, HitKind, VisitorHash};
use time::OffsetDateTime;

#[test]
#[ignore]
fn fold_time() {
    let path = std::env::var("FOLD_EVENTS").unwrap();
    let f = std::io::BufReader::new(std::fs::File::open(path).unwrap());
    let mut hits = Vec::new();
    for line in f.lines().skip(1) {
        let line = line.unwrap();
        let p: Vec<&str> = line.split('\t').collect();
        let ts: i64 = p[0].parse().unwrap();
        let mut h = [0; 16];
        h[..4].copy_from_slice(&((ts / 86400) as u32).to_le_bytes());
        h[4..12].copy_from_slice(&p[1].parse::<u64>().unwrap().to_le_bytes());
        let t = |s: &str| (!s.is_empty()).then(|| s.to_owned());
        hits.push(Hit { at: OffsetDateTime::from_unix_timestamp(ts).unwrap(), kind: if p[2] == "pageview" { HitKind::PageView } else { HitKind::Event(p[3].to_owned()) }, path: p[4].to_owned(), visitor: VisitorHash(h), referrer: t(p[5]), utm_source: t(p[6]), utm_medium: t(p[7]), utm_campaign: t(p[8]), browser: t(p[9]), os: t(p[10]), device: Device::parse(p[11]), country: t(p[12]) });
    }
    let batch: usize = std::env::var("FOLD_BATCH").ok().and_then(|b| b.parse().ok()).unwrap_or(5000);
    let mut seen: HashMap<SeenKey, Vec<u8>> = HashMap::new();
    let mut open = HashMap::new();
    let (mut t_fold, mut t_settle, mut t_rows) = (0.0, 0.0, 0.0);
    let (mut totals, mut pairs, mut marks) = (0usize, 0usize, 0usize);
    for chunk in hits.chunks(batch) {
        let now = chunk.last().unwrap().at;
        let t = Instant::now();
        let mut stored: Vec<fold::OpenVisit> = Vec::new();
        for h in chunk { if let Some(v) = open.remove(&h.visitor) { stored.push(v); } }
        let ended: Vec<VisitorHash> = open.keys().copied().collect();
        for k in ended { stored.push(open.remove(&k).unwrap()); }
        let mut f = fold::fold(chunk, stored, now);
        t_fold += t.elapsed().as_secs_f64();
        let t = Instant::now();
        let keys = f.seen_keys();
        let have: HashMap<SeenKey, Vec<u8>> = keys.iter().filter_map(|k| seen.get(k).map(|v| (*k, v.clone()))).collect();
        let grown = f.settle(&have);
        marks += grown.len();
        for (k, v) in grown { seen.insert(k, v); }
        t_settle += t.elapsed().as_secs_f64();
        let t = Instant::now();
        totals += f.total_rows().len();
        pairs += f.pairs.len();
        t_rows += t.elapsed().as_secs_f64();
        for v in f.open.drain(..) { open.insert(v.visitor, v); }
    }
    println!("{} hits: fold {t_fold:.2}s settle {t_settle:.2}s rows {t_rows:.2}s; rows written: totals {totals} pairs {pairs} seen sets {marks}", hits.len());
}
