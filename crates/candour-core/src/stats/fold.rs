//! Folding raw hits into totals: a pure function that both backends call inside the one
//! transaction that reads the hits and writes what it returns.
//!
//! Each metric is counted in the bucket of the moment it is about: a page view or an event
//! when it happened, a visit (and its bounce, length and exit page) when it began. Visits
//! begun are counted as they begin; bounces, lengths and exit pages when the visit ends
//! ([`super::VISIT_IDLE`] without a hit, or the end of its UK day).
//!
//! Unique visitors are exact per bucket: for every (bucket, row) a hit counts in, the fold
//! names a *mark*, eight bytes of a hash of the bucket and the row. A visitor's marks of one
//! UK day are kept together as one sorted set in `stats_seen` (one row per visitor and day,
//! not one per mark: a new visit names about a hundred marks). The store reads the sets of
//! the batch's visitors ([`Fold::seen_keys`]), [`Fold::settle`] counts a visitor for each
//! mark not yet in its set and returns the sets grown, and the store writes them back. Marks
//! are deleted with the day's salt.
//!
//! The daily totals are also added into week and month rows ([`super::span`]), which
//! [`Fold::total_rows`] returns beside the hour and day rows.

use std::collections::{BTreeMap, HashMap};
use std::hash::{BuildHasherDefault, Hasher};

use time::{Date, OffsetDateTime};

use super::span::Span;
use super::{Dimension, Grain, Hit, HitKind, Metrics, VISIT_IDLE, VisitorHash, uk_day};

/// A visit that has not ended, as `stats_visits` keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenVisit {
    pub visitor: VisitorHash,
    pub started: OffsetDateTime,
    pub last_seen: OffsetDateTime,
    pub entry: String,
    pub exit: String,
    pub pageviews: i64,
    pub events: i64,
    /// What the first hit said, kept for the visit's rows.
    pub source: String,
    pub utm_source: Option<String>,
    pub utm_medium: Option<String>,
    pub utm_campaign: Option<String>,
    pub browser: Option<String>,
    pub os: Option<String>,
    pub device: Option<String>,
    pub country: Option<String>,
}

impl OpenVisit {
    fn begin(hit: &Hit) -> OpenVisit {
        OpenVisit {
            visitor: hit.visitor,
            started: hit.at,
            last_seen: hit.at,
            entry: hit.path.clone(),
            exit: hit.path.clone(),
            pageviews: 0,
            events: 0,
            source: hit.source(),
            utm_source: hit.utm_source.clone(),
            utm_medium: hit.utm_medium.clone(),
            utm_campaign: hit.utm_campaign.clone(),
            browser: hit.browser.clone(),
            os: hit.os.clone(),
            device: hit.device.map(|d| d.code().to_owned()),
            country: hit.country.clone(),
        }
    }

    /// The UK day the visit belongs to (its salt's day). Its last hit fell on the same day:
    /// a hit on another day begins another visit.
    pub fn day(&self) -> Date {
        uk_day(self.started)
    }

    /// Whether a hit at `at` can no longer belong to this visit.
    fn over_by(&self, at: OffsetDateTime) -> bool {
        at - self.last_seen >= VISIT_IDLE || uk_day(at) != self.day()
    }

    /// The rows the visit counts in: the whole site first, then its visit-level values.
    fn elements(&self) -> Vec<Element<'_>> {
        let mut out = vec![
            (None, ""),
            (Some(Dimension::EntryPage), self.entry.as_str()),
        ];
        attributes(
            &mut out,
            &self.source,
            [
                (Dimension::UtmSource, self.utm_source.as_deref()),
                (Dimension::UtmMedium, self.utm_medium.as_deref()),
                (Dimension::UtmCampaign, self.utm_campaign.as_deref()),
                (Dimension::Browser, self.browser.as_deref()),
                (Dimension::Os, self.os.as_deref()),
                (Dimension::Device, self.device.as_deref()),
                (Dimension::Country, self.country.as_deref()),
            ],
        );
        out
    }
}

/// Where a store finds the stored visits that may have ended by `now`, through its index on
/// `last_seen` rather than by reading every open visit: those last seen at or before the
/// first moment (idle for [`VISIT_IDLE`]), and those last seen before the second (today's
/// start in London), which are exactly the visits begun on an earlier UK day, since a
/// visit's last hit falls on its own day ([`OpenVisit::day`]).
pub fn ended_by(now: OffsetDateTime) -> (OffsetDateTime, OffsetDateTime) {
    (
        now - VISIT_IDLE,
        crate::uk_time::uk_start_of_day(uk_day(now)),
    )
}

/// A row of totals: `None` is the whole site (stored as dimension `''`, value `''`).
type Element<'a> = (Option<Dimension>, &'a str);

fn attributes<'a>(
    out: &mut Vec<Element<'a>>,
    source: &'a str,
    optional: [(Dimension, Option<&'a str>); 7],
) {
    out.push((Some(Dimension::Source), source));
    for (d, v) in optional {
        if let Some(v) = v {
            out.push((Some(d), v));
        }
    }
}

/// The rows of a hit with no visit to take them from (an event before any page view).
fn hit_attributes<'a>(hit: &'a Hit, source: &'a str) -> Vec<Element<'a>> {
    let mut out = vec![(None, "")];
    attributes(
        &mut out,
        source,
        [
            (Dimension::UtmSource, hit.utm_source.as_deref()),
            (Dimension::UtmMedium, hit.utm_medium.as_deref()),
            (Dimension::UtmCampaign, hit.utm_campaign.as_deref()),
            (Dimension::Browser, hit.browser.as_deref()),
            (Dimension::Os, hit.os.as_deref()),
            (Dimension::Device, hit.device.map(|d| d.code())),
            (Dimension::Country, hit.country.as_deref()),
        ],
    );
    out
}

/// A hasher for the fold's own maps, whose keys are small numbers and short text made by
/// the server: the multiply-and-rotate of the Rust compiler's `FxHasher`, far cheaper than
/// the default SipHash, which guards against keys chosen to collide. A visitor can choose a
/// path, but a fold's maps hold one batch, and collisions only slow it down.
#[derive(Default, Clone, Copy)]
struct Quick(u64);

impl Hasher for Quick {
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let mut w = [0; 8];
            w.copy_from_slice(c);
            self.add(u64::from_le_bytes(w));
        }
        for b in chunks.remainder() {
            self.add(u64::from(*b));
        }
    }

    fn write_u8(&mut self, n: u8) {
        self.add(u64::from(n));
    }

    fn write_u32(&mut self, n: u32) {
        self.add(u64::from(n));
    }

    fn write_u64(&mut self, n: u64) {
        self.add(n);
    }

    fn write_i64(&mut self, n: i64) {
        self.add(n as u64);
    }

    fn write_usize(&mut self, n: usize) {
        self.add(n as u64);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

impl Quick {
    fn add(&mut self, w: u64) {
        self.0 = (self.0.rotate_left(5) ^ w).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
}

type QuickMap<K, V> = HashMap<K, V, BuildHasherDefault<Quick>>;

/// A stable 64-bit hash of some bytes (FNV-1a, then the final mix of MurmurHash3): the
/// same in every process and release, as marks stored during a day must be.
fn stable_hash(parts: &[&[u8]]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for part in parts {
        for b in (part.len() as u64).to_le_bytes().iter().chain(part.iter()) {
            h ^= u64::from(*b);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    mix(h)
}

/// MurmurHash3's 64-bit finaliser: every input bit moves about half the output bits.
fn mix(mut h: u64) -> u64 {
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    h ^ (h >> 33)
}

/// Every row a fold counts in, numbered once, so the many additions of a fold are made
/// with numbers and the text is copied and hashed once per row. Number 0 is the whole site.
#[derive(Debug)]
struct Names {
    /// Each row's dimension, value and stable hash (for its marks).
    list: Vec<(Option<Dimension>, String, u64)>,
    index: QuickMap<Option<Dimension>, QuickMap<String, Id>>,
}

type Id = u32;

/// The whole site's row: never part of a pair.
const SITE: Id = 0;

impl Default for Names {
    fn default() -> Names {
        let mut names = Names {
            list: Vec::new(),
            index: QuickMap::default(),
        };
        names.id((None, ""));
        names
    }
}

impl Names {
    fn id(&mut self, (d, v): Element<'_>) -> Id {
        if let Some(id) = self.index.get(&d).and_then(|m| m.get(v)) {
            return *id;
        }
        let id = Id::try_from(self.list.len()).unwrap_or(Id::MAX);
        let hash = stable_hash(&[d.map_or("", Dimension::code).as_bytes(), v.as_bytes()]);
        self.list.push((d, v.to_owned(), hash));
        self.index.entry(d).or_default().insert(v.to_owned(), id);
        id
    }

    fn ids(&mut self, els: &[Element<'_>]) -> Vec<Id> {
        els.iter().map(|e| self.id(*e)).collect()
    }

    fn get(&self, id: Id) -> (Option<Dimension>, &str) {
        self.list
            .get(id as usize)
            .map_or((None, ""), |(d, v, _)| (*d, v.as_str()))
    }

    fn hash(&self, id: Id) -> u64 {
        self.list.get(id as usize).map_or(0, |(_, _, h)| *h)
    }

    /// Each row's place in the order of the tables' keys: by dimension name, then value.
    fn ranks(&self) -> Vec<u32> {
        let mut order: Vec<Id> = (0..self.list.len())
            .map(|i| Id::try_from(i).unwrap_or(Id::MAX))
            .collect();
        order.sort_by(|a, b| {
            let (ad, av) = self.get(*a);
            let (bd, bv) = self.get(*b);
            (ad.map_or("", Dimension::code), av).cmp(&(bd.map_or("", Dimension::code), bv))
        });
        let mut rank = vec![0; self.list.len()];
        for (r, id) in order.into_iter().enumerate() {
            if let Some(slot) = rank.get_mut(id as usize) {
                *slot = u32::try_from(r).unwrap_or(u32::MAX);
            }
        }
        rank
    }
}

/// The buckets of one moment, worked out once, as Unix seconds.
#[derive(Debug, Clone, Copy)]
struct When {
    hour: i64,
    day: i64,
    date: Date,
}

impl When {
    fn of(at: OffsetDateTime) -> When {
        When {
            hour: Grain::Hour.bucket(at).unix_timestamp(),
            day: Grain::Day.bucket(at).unix_timestamp(),
            date: uk_day(at),
        }
    }

    fn bucket(&self, grain: Grain) -> i64 {
        match grain {
            Grain::Hour => self.hour,
            Grain::Day => self.day,
        }
    }
}

/// A bucket start kept as Unix seconds, back as a time (it was one).
fn at(unix: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(unix).unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

/// One row of `stats_totals`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TotalKey {
    pub grain: Grain,
    pub bucket: OffsetDateTime,
    /// `None` for the whole site.
    pub dimension: Option<Dimension>,
    pub value: String,
}

impl TotalKey {
    /// The stored dimension name: `''` for the whole site.
    pub fn dimension_code(&self) -> &'static str {
        self.dimension.map_or("", Dimension::code)
    }
}

/// One row of `stats_pairs`: the figures of a panel's value among the hits and visits that
/// match a filter's value, per UK day.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PairKey {
    pub day: OffsetDateTime,
    pub filter_dimension: Dimension,
    pub filter_value: String,
    pub dimension: Dimension,
    pub value: String,
}

/// A visitor's marks of one UK day are stored under this key.
pub type SeenKey = (VisitorHash, Date);

/// One row of `stats_totals` to add to, with its grain's stored code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TotalRow<'a> {
    pub grain: &'static str,
    pub bucket: OffsetDateTime,
    pub dimension: &'static str,
    pub value: &'a str,
    pub metrics: Metrics,
}

/// A stored set of marks: eight bytes each, in ascending order. Trailing bytes short of a
/// mark are ignored; the set is sorted again in case it was written out of order.
fn decode_marks(bytes: &[u8]) -> Vec<u64> {
    let mut out: Vec<u64> = bytes
        .chunks_exact(8)
        .filter_map(|c| <[u8; 8]>::try_from(c).ok().map(u64::from_be_bytes))
        .collect();
    if !out.is_sorted() {
        out.sort_unstable();
    }
    out.dedup();
    out
}

fn encode_marks(set: &[u64]) -> Vec<u8> {
    set.iter().flat_map(|m| m.to_be_bytes()).collect()
}

/// What a new mark counts a visitor in (buckets as Unix seconds).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Target {
    Total(Grain, i64, Id),
    Pair(i64, Id, Id),
}

/// One row of `stats_pairs` to add to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PairRow<'a> {
    pub day: OffsetDateTime,
    pub filter_dimension: Dimension,
    pub filter_value: &'a str,
    pub dimension: Dimension,
    pub value: &'a str,
    pub metrics: Metrics,
}

/// The pair rows of UK days before `rolled`, whose pairs were already added into their weeks'
/// and months (`stats_pair_spans`, see [`super::span::pair_buckets`]): what each adds to
/// those spans' rows, one entry per row (rows of several days of one week are added
/// together), as `(grain code, bucket, row)` with the row's `day` set to the bucket.
pub fn late_pair_spans<'a>(
    rows: &[PairRow<'a>],
    rolled: Date,
) -> Vec<(&'static str, OffsetDateTime, PairRow<'a>)> {
    type Key<'a> = (
        &'static str,
        OffsetDateTime,
        Dimension,
        &'a str,
        Dimension,
        &'a str,
    );
    let mut sums: BTreeMap<Key<'a>, Metrics> = BTreeMap::new();
    for k in rows.iter().filter(|k| uk_day(k.day) < rolled) {
        for (grain, bucket) in super::span::pair_buckets(uk_day(k.day)) {
            let key = (
                grain,
                bucket,
                k.filter_dimension,
                k.filter_value,
                k.dimension,
                k.value,
            );
            sums.entry(key).or_default().add(&k.metrics);
        }
    }
    sums.into_iter()
        .map(|((grain, bucket, fd, fv, d, v), metrics)| {
            let row = PairRow {
                day: bucket,
                filter_dimension: fd,
                filter_value: fv,
                dimension: d,
                value: v,
                metrics,
            };
            (grain, bucket, row)
        })
        .collect()
}

/// Each dimension's place in the order of the stored names (`entry_page` before `page`).
fn code_rank(d: Option<Dimension>) -> u8 {
    match d {
        None => 0,
        Some(Dimension::Browser) => 1,
        Some(Dimension::Country) => 2,
        Some(Dimension::Device) => 3,
        Some(Dimension::EntryPage) => 4,
        Some(Dimension::ExitPage) => 5,
        Some(Dimension::Goal) => 6,
        Some(Dimension::Os) => 7,
        Some(Dimension::Page) => 8,
        Some(Dimension::Source) => 9,
        Some(Dimension::UtmCampaign) => 10,
        Some(Dimension::UtmMedium) => 11,
        Some(Dimension::UtmSource) => 12,
    }
}

/// What one fold writes: deltas to add to totals and pairs, the marks to try, the visits to
/// keep and the visits that ended.
#[derive(Debug, Default)]
pub struct Fold {
    names: Names,
    totals: QuickMap<(Grain, i64, Id), Metrics>,
    pairs: QuickMap<(i64, Id, Id), Metrics>,
    /// Each visitor's marks of the day, with what a new mark counts a visitor in.
    marks: QuickMap<SeenKey, Vec<(u64, Target)>>,
    /// Additions not yet spread over their rows and pairs, by hour and rows: hits alike
    /// (one busy page, the same visit's attributes) add up here first and are spread once.
    pending: QuickMap<(i64, Vec<Id>), (When, Metrics)>,
    /// Page views within a visit already marked in this fold, by visitor, visit start, hour
    /// and page: another such view names the same marks.
    marked: std::collections::HashSet<(VisitorHash, i64, i64, Id), BuildHasherDefault<Quick>>,
    /// Visits still open after the fold, to be written over what is stored.
    pub open: Vec<OpenVisit>,
    /// Visitors whose stored visit ended (deleted before `open` is written).
    pub closed: Vec<VisitorHash>,
}

impl Fold {
    /// The hour and day rows to add to, by key.
    pub fn totals(&self) -> BTreeMap<TotalKey, Metrics> {
        self.totals
            .iter()
            .map(|((grain, bucket, id), m)| {
                let (dimension, value) = self.names.get(*id);
                let key = TotalKey {
                    grain: *grain,
                    bucket: at(*bucket),
                    dimension,
                    value: value.to_owned(),
                };
                (key, *m)
            })
            .collect()
    }

    /// The pair rows to add to, by key.
    pub fn pairs(&self) -> BTreeMap<PairKey, Metrics> {
        self.pair_rows()
            .into_iter()
            .map(|r| {
                let key = PairKey {
                    day: r.day,
                    filter_dimension: r.filter_dimension,
                    filter_value: r.filter_value.to_owned(),
                    dimension: r.dimension,
                    value: r.value.to_owned(),
                };
                (key, r.metrics)
            })
            .collect()
    }

    /// The pair rows to add to, in the order of `stats_pairs`' key (day, filter, panel).
    pub fn pair_rows(&self) -> Vec<PairRow<'_>> {
        let rank = self.names.ranks();
        let r = |id: &Id| rank.get(*id as usize).copied().unwrap_or(u32::MAX);
        let mut keys: Vec<(&(i64, Id, Id), &Metrics)> = self.pairs.iter().collect();
        keys.sort_by_cached_key(|((day, a, b), _)| {
            (*day, r(a), code_rank(self.names.get(*b).0), r(b))
        });
        keys.into_iter()
            .filter_map(|((day, a, b), m)| {
                let (Some(fd), fv) = self.names.get(*a) else {
                    return None;
                };
                let (Some(d), v) = self.names.get(*b) else {
                    return None;
                };
                Some(PairRow {
                    day: at(*day),
                    filter_dimension: fd,
                    filter_value: fv,
                    dimension: d,
                    value: v,
                    metrics: *m,
                })
            })
            .collect()
    }

    /// The visitor-days whose stored marks the fold needs, sorted.
    pub fn seen_keys(&self) -> Vec<SeenKey> {
        let mut keys: Vec<SeenKey> = self.marks.keys().copied().collect();
        keys.sort();
        keys
    }

    /// Given the stored sets of [`Fold::seen_keys`] (a missing one is empty, a malformed
    /// one is read as far as it is whole), count a visitor for each mark not in its set, and
    /// return the sets that grew, to be written over what is stored.
    pub fn settle(&mut self, stored: &HashMap<SeenKey, Vec<u8>>) -> Vec<(SeenKey, Vec<u8>)> {
        let one = Metrics {
            visitors: 1,
            ..Metrics::default()
        };
        let mut grown = Vec::new();
        let mut marks: Vec<(SeenKey, Vec<(u64, Target)>)> =
            std::mem::take(&mut self.marks).into_iter().collect();
        marks.sort_unstable_by_key(|(k, _)| *k);
        for (key, mut wanted) in marks {
            // The first target named for a mark is the one it counts in (they are alike).
            wanted.sort_by_key(|(m, _)| *m);
            wanted.dedup_by_key(|(m, _)| *m);
            let set = stored
                .get(&key)
                .map(|b| decode_marks(b))
                .unwrap_or_default();
            // Merge the two ascending lists; a wanted mark not in the set is new.
            let mut merged = Vec::with_capacity(set.len() + wanted.len());
            let mut old = set.iter().copied().peekable();
            let mut fresh = 0;
            for (mark, target) in wanted {
                while let Some(o) = old.next_if(|o| *o < mark) {
                    merged.push(o);
                }
                if old.next_if_eq(&mark).is_some() {
                    merged.push(mark);
                    continue;
                }
                merged.push(mark);
                fresh += 1;
                match target {
                    Target::Total(grain, bucket, id) => {
                        self.totals
                            .entry((grain, bucket, id))
                            .or_default()
                            .add(&one);
                    }
                    Target::Pair(day, a, b) => {
                        self.pairs.entry((day, a, b)).or_default().add(&one);
                    }
                }
            }
            merged.extend(old);
            if fresh > 0 {
                grown.push((key, encode_marks(&merged)));
            }
        }
        grown
    }

    /// Every row of `stats_totals` the fold adds to: its hour and day rows, and each day
    /// row again in its week's and its month's row (`grain` is a [`Grain`] or [`Span`]
    /// code), in the order of the table's key. Call after [`Fold::settle`], so the visitors
    /// are in.
    pub fn total_rows(&self) -> Vec<TotalRow<'_>> {
        let mut spans: QuickMap<(Span, i64, Id), Metrics> = QuickMap::default();
        let mut starts: QuickMap<(Span, i64), i64> = QuickMap::default();
        let mut keys: Vec<(&'static str, i64, Id, Metrics)> =
            Vec::with_capacity(self.totals.len() * 2);
        for ((grain, bucket, id), m) in &self.totals {
            keys.push((grain.code(), *bucket, *id, *m));
            if *grain == Grain::Day {
                for span in Span::ALL {
                    let start = *starts.entry((span, *bucket)).or_insert_with(|| {
                        let day = uk_day(at(*bucket));
                        crate::uk_time::uk_start_of_day(span.start(day)).unix_timestamp()
                    });
                    spans.entry((span, start, *id)).or_default().add(m);
                }
            }
        }
        for ((span, bucket, id), m) in spans {
            keys.push((span.code(), bucket, id, m));
        }
        let rank = self.names.ranks();
        let r = |id: Id| rank.get(id as usize).copied().unwrap_or(u32::MAX);
        keys.sort_by_cached_key(|(grain, bucket, id, _)| {
            (*grain, code_rank(self.names.get(*id).0), *bucket, r(*id))
        });
        keys.into_iter()
            .map(|(grain, bucket, id, metrics)| {
                let (dimension, value) = self.names.get(id);
                TotalRow {
                    grain,
                    bucket: at(bucket),
                    dimension: dimension.map_or("", Dimension::code),
                    value,
                    metrics,
                }
            })
            .collect()
    }

    fn total(&mut self, w: When, e: Id, m: &Metrics) {
        for grain in [Grain::Hour, Grain::Day] {
            self.totals
                .entry((grain, w.bucket(grain), e))
                .or_default()
                .add(m);
        }
    }

    fn pair(&mut self, w: When, filter: Id, panel: Id, m: &Metrics) {
        if filter != SITE && panel != SITE {
            self.pairs.entry((w.day, filter, panel)).or_default().add(m);
        }
    }

    /// Add `m` to every row of `els` and to every ordered pair of them, once the fold's
    /// hits are all read ([`Fold::spread_pending`]).
    fn spread(&mut self, w: When, els: Vec<Id>, m: &Metrics) {
        self.pending
            .entry((w.hour, els))
            .or_insert((w, Metrics::default()))
            .1
            .add(m);
    }

    /// Spread every addition left pending.
    fn spread_pending(&mut self) {
        for ((_, els), (w, m)) in std::mem::take(&mut self.pending) {
            self.spread_now(w, &els, &m);
        }
    }

    fn spread_now(&mut self, w: When, els: &[Id], m: &Metrics) {
        for (i, a) in els.iter().enumerate() {
            self.total(w, *a, m);
            for (j, b) in els.iter().enumerate() {
                if i != j {
                    self.pair(w, *a, *b, m);
                }
            }
        }
    }

    /// Add `m` to `one`'s row and to its pairs with each of `others`, both ways.
    fn spread_one(&mut self, w: When, one: Id, others: &[Id], m: &Metrics) {
        self.total(w, one, m);
        for o in others {
            self.pair(w, one, *o, m);
            self.pair(w, *o, one, m);
        }
    }

    fn mark(&mut self, visitor: &VisitorHash, w: When, target: Target) {
        // Stable in every process: a mark names a bucket and a row (or two) for the day.
        let mark = match target {
            Target::Total(grain, bucket, id) => {
                mix(self.names.hash(id) ^ mix((bucket as u64) ^ (grain as u64 + 1).rotate_left(56)))
            }
            Target::Pair(day, a, b) => mix(self.names.hash(a).rotate_left(23)
                ^ self.names.hash(b)
                ^ mix((day as u64) ^ 0x7061_6972_0000_0000)),
        };
        self.marks
            .entry((*visitor, w.date))
            .or_default()
            .push((mark, target));
    }

    fn mark_row(&mut self, visitor: &VisitorHash, w: When, e: Id, grains: &[Grain]) {
        for &grain in grains {
            self.mark(visitor, w, Target::Total(grain, w.bucket(grain), e));
        }
    }

    fn mark_pair(&mut self, visitor: &VisitorHash, w: When, a: Id, b: Id) {
        if a != SITE && b != SITE {
            self.mark(visitor, w, Target::Pair(w.day, a, b));
        }
    }

    /// Marks for rows a hit counts in: `fresh` (new to this visit) get their day's marks and
    /// pairs with every row; the visit's rows (`known`) get an hour mark when the hit is in
    /// a later hour than the visit began.
    fn mark_hit(
        &mut self,
        visitor: &VisitorHash,
        w: When,
        started: OffsetDateTime,
        known: &[Id],
        fresh: &[Id],
    ) {
        for e in fresh {
            self.mark_row(visitor, w, *e, &[Grain::Hour, Grain::Day]);
        }
        if w.hour != Grain::Hour.bucket(started).unix_timestamp() {
            for e in known {
                self.mark_row(visitor, w, *e, &[Grain::Hour]);
            }
        }
        for (i, a) in fresh.iter().enumerate() {
            for b in known {
                self.mark_pair(visitor, w, *a, *b);
                self.mark_pair(visitor, w, *b, *a);
            }
            for b in &fresh[i + 1..] {
                self.mark_pair(visitor, w, *a, *b);
                self.mark_pair(visitor, w, *b, *a);
            }
        }
    }

    fn page_view(&mut self, hit: &Hit, visit: &OpenVisit, els: &[Id], opened: bool) {
        let w = When::of(hit.at);
        let page = self.names.id((Some(Dimension::Page), &hit.path));
        let views = Metrics {
            pageviews: 1,
            ..Metrics::default()
        };
        let mut all = Vec::with_capacity(els.len() + 1);
        all.extend_from_slice(els);
        all.push(page);
        if opened {
            let begun = Metrics {
                visits: 1,
                ..Metrics::default()
            };
            self.spread(w, els.to_vec(), &begun);
            self.mark_hit(&hit.visitor, w, visit.started, &[], &all);
        } else if self
            .marked
            .insert((hit.visitor, visit.started.unix_timestamp(), w.hour, page))
        {
            self.mark_hit(&hit.visitor, w, visit.started, els, &[page]);
        }
        self.spread(w, all, &views);
    }

    fn event(&mut self, hit: &Hit, name: &str, visit: Option<(&OpenVisit, &[Id])>) {
        let w = When::of(hit.at);
        let own = [
            self.names.id((Some(Dimension::Page), &hit.path)),
            self.names.id((Some(Dimension::Goal), name)),
        ];
        let one = Metrics {
            events: 1,
            ..Metrics::default()
        };
        let source = hit.source();
        let (els, started) = match visit {
            Some((v, els)) => (els.to_vec(), v.started),
            None => (self.names.ids(&hit_attributes(hit, &source)), hit.at),
        };
        let mut all = els.clone();
        all.extend(own);
        if visit.is_some() {
            self.mark_hit(&hit.visitor, w, started, &els, &own);
        } else {
            self.mark_hit(&hit.visitor, w, started, &[], &all);
        }
        self.spread(w, all, &one);
    }

    /// The rows a visit counts in, numbered.
    fn visit_ids(&mut self, visit: &OpenVisit) -> Vec<Id> {
        self.names.ids(&visit.elements())
    }

    fn close(&mut self, visit: &OpenVisit, els: &[Id]) {
        let w = When::of(visit.started);
        let bounced = i64::from(visit.pageviews == 1);
        let length = (visit.last_seen - visit.started).whole_seconds().max(0);
        let ended = Metrics {
            bounces: bounced,
            duration_seconds: length,
            ..Metrics::default()
        };
        self.spread(w, els.to_vec(), &ended);
        let exit = self.names.id((Some(Dimension::ExitPage), &visit.exit));
        let whole = Metrics {
            visitors: 0,
            visits: 1,
            pageviews: visit.pageviews,
            bounces: bounced,
            duration_seconds: length,
            events: visit.events,
        };
        self.spread_one(w, exit, els, &whole);
        self.mark_row(&visit.visitor, w, exit, &[Grain::Hour, Grain::Day]);
        for e in els {
            self.mark_pair(&visit.visitor, w, exit, *e);
            self.mark_pair(&visit.visitor, w, *e, exit);
        }
        self.closed.push(visit.visitor);
    }
}

/// An open visit during a fold, with its rows numbered once.
struct Open {
    visit: OpenVisit,
    ids: Option<Vec<Id>>,
}

impl Open {
    fn ids(&mut self, f: &mut Fold) -> Vec<Id> {
        match &self.ids {
            Some(ids) => ids.clone(),
            None => {
                let ids = f.visit_ids(&self.visit);
                self.ids = Some(ids.clone());
                ids
            }
        }
    }
}

fn close_open(f: &mut Fold, mut o: Open) {
    let ids = o.ids(f);
    f.close(&o.visit, &ids);
}

/// Fold `hits` (any order) into totals, given the stored open visits of their visitors and
/// every stored visit that may have ended by `now`. Visits idle for [`VISIT_IDLE`] at `now`,
/// or begun on an earlier UK day, end.
pub fn fold(hits: &[Hit], open: Vec<OpenVisit>, now: OffsetDateTime) -> Fold {
    let mut visits: QuickMap<VisitorHash, Open> = open
        .into_iter()
        .map(|v| {
            (
                v.visitor,
                Open {
                    visit: v,
                    ids: None,
                },
            )
        })
        .collect();
    let mut touched: Vec<VisitorHash> = Vec::new();
    let mut order: Vec<&Hit> = hits.iter().collect();
    order.sort_by_key(|h| h.at);
    let mut f = Fold::default();
    for hit in order {
        if visits
            .get(&hit.visitor)
            .is_some_and(|v| v.visit.over_by(hit.at))
            && let Some(v) = visits.remove(&hit.visitor)
        {
            close_open(&mut f, v);
        }
        match &hit.kind {
            HitKind::PageView => {
                let opened = !visits.contains_key(&hit.visitor);
                let o = visits.entry(hit.visitor).or_insert_with(|| Open {
                    visit: OpenVisit::begin(hit),
                    ids: None,
                });
                o.visit.pageviews += 1;
                o.visit.exit.clone_from(&hit.path);
                o.visit.last_seen = o.visit.last_seen.max(hit.at);
                let ids = o.ids(&mut f);
                f.page_view(hit, &o.visit, &ids, opened);
            }
            HitKind::Event(name) => match visits.get_mut(&hit.visitor) {
                Some(o) => {
                    o.visit.events += 1;
                    o.visit.last_seen = o.visit.last_seen.max(hit.at);
                    let ids = o.ids(&mut f);
                    f.event(hit, name, Some((&o.visit, &ids)));
                }
                None => f.event(hit, name, None),
            },
        }
        touched.push(hit.visitor);
    }
    let today = uk_day(now);
    let mut ended: Vec<VisitorHash> = visits
        .values()
        .filter(|o| now - o.visit.last_seen >= VISIT_IDLE || o.visit.day() < today)
        .map(|o| o.visit.visitor)
        .collect();
    ended.sort();
    for visitor in ended {
        if let Some(o) = visits.remove(&visitor) {
            close_open(&mut f, o);
        }
    }
    f.spread_pending();
    touched.sort();
    touched.dedup();
    f.open = touched
        .into_iter()
        .filter_map(|t| visits.remove(&t).map(|o| o.visit))
        .collect();
    f
}

#[cfg(test)]
mod tests;
