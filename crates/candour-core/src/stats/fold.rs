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

use sha2::{Digest, Sha256};
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

    /// The UK day the visit belongs to (its salt's day).
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

/// Every row a fold counts in, numbered once, so the many additions of a fold are made
/// with numbers and the text is copied once per row.
#[derive(Debug, Default)]
struct Names {
    list: Vec<(Option<Dimension>, String)>,
    index: HashMap<Option<Dimension>, HashMap<String, Id>>,
}

type Id = u32;

impl Names {
    fn id(&mut self, (d, v): Element<'_>) -> Id {
        if let Some(id) = self.index.get(&d).and_then(|m| m.get(v)) {
            return *id;
        }
        let id = Id::try_from(self.list.len()).unwrap_or(Id::MAX);
        self.list.push((d, v.to_owned()));
        self.index.entry(d).or_default().insert(v.to_owned(), id);
        id
    }

    fn ids(&mut self, els: &[Element<'_>]) -> Vec<Id> {
        els.iter().map(|e| self.id(*e)).collect()
    }

    fn get(&self, id: Id) -> (Option<Dimension>, &str) {
        self.list
            .get(id as usize)
            .map_or((None, ""), |(d, v)| (*d, v.as_str()))
    }
}

/// The buckets of one moment, worked out once.
#[derive(Clone, Copy)]
struct When {
    hour: OffsetDateTime,
    day: OffsetDateTime,
    date: Date,
}

impl When {
    fn of(at: OffsetDateTime) -> When {
        When {
            hour: Grain::Hour.bucket(at),
            day: Grain::Day.bucket(at),
            date: uk_day(at),
        }
    }

    fn bucket(&self, grain: Grain) -> OffsetDateTime {
        match grain {
            Grain::Hour => self.hour,
            Grain::Day => self.day,
        }
    }
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
    out.sort_unstable();
    out.dedup();
    out
}

fn encode_marks(set: &[u64]) -> Vec<u8> {
    set.iter().flat_map(|m| m.to_be_bytes()).collect()
}

/// What a new mark counts a visitor in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Target {
    Total(Grain, OffsetDateTime, Id),
    Pair(OffsetDateTime, Id, Id),
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

/// What one fold writes: deltas to add to totals and pairs, the marks to try, the visits to
/// keep and the visits that ended.
#[derive(Debug, Default)]
pub struct Fold {
    names: Names,
    totals: HashMap<(Grain, OffsetDateTime, Id), Metrics>,
    pairs: HashMap<(OffsetDateTime, Id, Id), Metrics>,
    /// Each visitor's marks of the day, with what a new mark counts a visitor in.
    marks: HashMap<SeenKey, HashMap<u64, Target>>,
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
                    bucket: *bucket,
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

    /// The pair rows to add to, in the order of `stats_pairs`' key.
    pub fn pair_rows(&self) -> Vec<PairRow<'_>> {
        let mut out: Vec<PairRow<'_>> = self
            .pairs
            .iter()
            .filter_map(|((day, a, b), m)| {
                let (Some(fd), fv) = self.names.get(*a) else {
                    return None;
                };
                let (Some(d), v) = self.names.get(*b) else {
                    return None;
                };
                Some(PairRow {
                    day: *day,
                    filter_dimension: fd,
                    filter_value: fv,
                    dimension: d,
                    value: v,
                    metrics: *m,
                })
            })
            .collect();
        out.sort_by(|x, y| {
            (
                x.filter_dimension.code(),
                x.filter_value,
                x.dimension.code(),
                x.day,
                x.value,
            )
                .cmp(&(
                    y.filter_dimension.code(),
                    y.filter_value,
                    y.dimension.code(),
                    y.day,
                    y.value,
                ))
        });
        out
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
        let marks = std::mem::take(&mut self.marks);
        let mut keys: Vec<&SeenKey> = marks.keys().collect();
        keys.sort();
        for key in keys {
            let Some(wanted) = marks.get(key) else {
                continue;
            };
            let mut set = stored.get(key).map(|b| decode_marks(b)).unwrap_or_default();
            let before = set.len();
            for (mark, target) in wanted {
                if let Err(at) = set.binary_search(mark) {
                    set.insert(at, *mark);
                    match *target {
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
            }
            if set.len() != before {
                grown.push((*key, encode_marks(&set)));
            }
        }
        grown
    }

    /// Every row of `stats_totals` the fold adds to: its hour and day rows, and each day
    /// row again in its week's and its month's row (`grain` is a [`Grain`] or [`Span`]
    /// code), in the order of the table's key. Call after [`Fold::settle`], so the visitors
    /// are in.
    pub fn total_rows(&self) -> Vec<TotalRow<'_>> {
        let mut spans: HashMap<(Span, OffsetDateTime, Id), Metrics> = HashMap::new();
        let mut out = Vec::with_capacity(self.totals.len() * 2);
        for ((grain, bucket, id), m) in &self.totals {
            let (dimension, value) = self.names.get(*id);
            out.push(TotalRow {
                grain: grain.code(),
                bucket: *bucket,
                dimension: dimension.map_or("", Dimension::code),
                value,
                metrics: *m,
            });
            if *grain == Grain::Day {
                let day = uk_day(*bucket);
                for span in Span::ALL {
                    let start = crate::uk_time::uk_start_of_day(span.start(day));
                    spans.entry((span, start, *id)).or_default().add(m);
                }
            }
        }
        for ((span, bucket, id), metrics) in spans {
            let (dimension, value) = self.names.get(id);
            out.push(TotalRow {
                grain: span.code(),
                bucket,
                dimension: dimension.map_or("", Dimension::code),
                value,
                metrics,
            });
        }
        out.sort_by(|x, y| {
            (x.grain, x.dimension, x.bucket, x.value).cmp(&(
                y.grain,
                y.dimension,
                y.bucket,
                y.value,
            ))
        });
        out
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
        if self.names.get(filter).0.is_some() && self.names.get(panel).0.is_some() {
            self.pairs.entry((w.day, filter, panel)).or_default().add(m);
        }
    }

    /// Add `m` to every row of `els` and to every ordered pair of them.
    fn spread(&mut self, w: When, els: &[Id], m: &Metrics) {
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
        let mut h = Sha256::new();
        h.update(b"candour-stats-mark");
        let mut field = |b: &[u8]| {
            h.update((b.len() as u64).to_be_bytes());
            h.update(b);
        };
        match target {
            Target::Total(grain, bucket, id) => {
                let (d, v) = self.names.get(id);
                field(grain.code().as_bytes());
                field(&bucket.unix_timestamp().to_be_bytes());
                field(d.map_or("", Dimension::code).as_bytes());
                field(v.as_bytes());
            }
            Target::Pair(day, a, b) => {
                let (ad, av) = self.names.get(a);
                let (bd, bv) = self.names.get(b);
                field(b"pair");
                field(&day.unix_timestamp().to_be_bytes());
                field(ad.map_or("", Dimension::code).as_bytes());
                field(av.as_bytes());
                field(bd.map_or("", Dimension::code).as_bytes());
                field(bv.as_bytes());
            }
        }
        let digest = h.finalize();
        let mut mark = [0; 8];
        mark.copy_from_slice(&digest[..8]);
        self.marks
            .entry((*visitor, w.date))
            .or_default()
            .entry(u64::from_be_bytes(mark))
            .or_insert(target);
    }

    fn mark_row(&mut self, visitor: &VisitorHash, w: When, e: Id, grains: &[Grain]) {
        for &grain in grains {
            self.mark(visitor, w, Target::Total(grain, w.bucket(grain), e));
        }
    }

    fn mark_pair(&mut self, visitor: &VisitorHash, w: When, a: Id, b: Id) {
        if self.names.get(a).0.is_some() && self.names.get(b).0.is_some() {
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
        if w.hour != Grain::Hour.bucket(started) {
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

    fn page_view(&mut self, hit: &Hit, visit: &OpenVisit, opened: bool) {
        let w = When::of(hit.at);
        let els = self.names.ids(&visit.elements());
        let page = self.names.id((Some(Dimension::Page), &hit.path));
        let views = Metrics {
            pageviews: 1,
            ..Metrics::default()
        };
        let mut all = els.clone();
        all.push(page);
        self.spread(w, &all, &views);
        if opened {
            let begun = Metrics {
                visits: 1,
                ..Metrics::default()
            };
            self.spread(w, &els, &begun);
            self.mark_hit(&hit.visitor, w, visit.started, &[], &all);
        } else {
            self.mark_hit(&hit.visitor, w, visit.started, &els, &[page]);
        }
    }

    fn event(&mut self, hit: &Hit, name: &str, visit: Option<&OpenVisit>) {
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
            Some(v) => (self.names.ids(&v.elements()), v.started),
            None => (self.names.ids(&hit_attributes(hit, &source)), hit.at),
        };
        let mut all = els.clone();
        all.extend(own);
        self.spread(w, &all, &one);
        if visit.is_some() {
            self.mark_hit(&hit.visitor, w, started, &els, &own);
        } else {
            self.mark_hit(&hit.visitor, w, started, &[], &all);
        }
    }

    fn close(&mut self, visit: &OpenVisit) {
        let w = When::of(visit.started);
        let els = self.names.ids(&visit.elements());
        let bounced = i64::from(visit.pageviews == 1);
        let length = (visit.last_seen - visit.started).whole_seconds().max(0);
        let ended = Metrics {
            bounces: bounced,
            duration_seconds: length,
            ..Metrics::default()
        };
        self.spread(w, &els, &ended);
        let exit = self.names.id((Some(Dimension::ExitPage), &visit.exit));
        let whole = Metrics {
            visitors: 0,
            visits: 1,
            pageviews: visit.pageviews,
            bounces: bounced,
            duration_seconds: length,
            events: visit.events,
        };
        self.spread_one(w, exit, &els, &whole);
        self.mark_row(&visit.visitor, w, exit, &[Grain::Hour, Grain::Day]);
        for e in &els {
            self.mark_pair(&visit.visitor, w, exit, *e);
            self.mark_pair(&visit.visitor, w, *e, exit);
        }
        self.closed.push(visit.visitor);
    }
}

/// Fold `hits` (any order) into totals, given the stored open visits of their visitors and
/// every stored visit that may have ended by `now`. Visits idle for [`VISIT_IDLE`] at `now`,
/// or begun on an earlier UK day, end.
pub fn fold(hits: &[Hit], open: Vec<OpenVisit>, now: OffsetDateTime) -> Fold {
    let mut visits: HashMap<VisitorHash, OpenVisit> =
        open.into_iter().map(|v| (v.visitor, v)).collect();
    let mut touched: Vec<VisitorHash> = Vec::new();
    let mut order: Vec<&Hit> = hits.iter().collect();
    order.sort_by_key(|h| h.at);
    let mut f = Fold::default();
    for hit in order {
        if visits.get(&hit.visitor).is_some_and(|v| v.over_by(hit.at))
            && let Some(v) = visits.remove(&hit.visitor)
        {
            f.close(&v);
        }
        match &hit.kind {
            HitKind::PageView => {
                let opened = !visits.contains_key(&hit.visitor);
                let v = visits
                    .entry(hit.visitor)
                    .or_insert_with(|| OpenVisit::begin(hit));
                v.pageviews += 1;
                v.exit = hit.path.clone();
                v.last_seen = v.last_seen.max(hit.at);
                let snapshot = v.clone();
                f.page_view(hit, &snapshot, opened);
            }
            HitKind::Event(name) => {
                let snapshot = visits.get_mut(&hit.visitor).map(|v| {
                    v.events += 1;
                    v.last_seen = v.last_seen.max(hit.at);
                    v.clone()
                });
                f.event(hit, name, snapshot.as_ref());
            }
        }
        touched.push(hit.visitor);
    }
    let today = uk_day(now);
    let mut ended: Vec<VisitorHash> = visits
        .values()
        .filter(|v| now - v.last_seen >= VISIT_IDLE || v.day() < today)
        .map(|v| v.visitor)
        .collect();
    ended.sort();
    for visitor in ended {
        if let Some(v) = visits.remove(&visitor) {
            f.close(&v);
        }
    }
    touched.sort();
    touched.dedup();
    f.open = touched
        .into_iter()
        .filter_map(|t| visits.remove(&t))
        .collect();
    f
}

#[cfg(test)]
mod tests;
