//! Site statistics on PostgreSQL, the writing side: the day's salt, waiting hits, and the
//! fold that turns them into totals (`stats::fold` decides; this file only reads and
//! writes). Instances fold one at a time (a transaction-scoped advisory lock); totals are
//! added to, never overwritten, so what every instance folds adds up.

use std::collections::{HashMap, HashSet};

use async_trait::async_trait;
use candour_core::stats::fold::{self, OpenVisit};
use candour_core::stats::{
    Device, Folded, Hit, HitKind, IMPORTED, IMPORTED_PAGE, VisitorHash, span, uk_day,
};
use candour_core::store::{StatsIngestStore, StoreError, StoreResult};
use candour_core::uk_time::uk_start_of_day;
use sqlx::postgres::PgRow;
use sqlx::{Acquire, PgConnection, PgExecutor, Row};
use time::{Date, OffsetDateTime};

use crate::{PgStore, db, lift_statement_timeout};

/// The advisory lock key the fold holds for its transaction ("stats" in ASCII).
const FOLD_LOCK: i64 = 0x0073_7461_7473;

fn visitor_of(bytes: &[u8]) -> StoreResult<VisitorHash> {
    VisitorHash::from_stored(bytes)
        .ok_or_else(|| StoreError::Corrupt("a visitor hash is not 16 bytes".to_owned()))
}

fn hit_from_row(r: &PgRow) -> StoreResult<Hit> {
    let event: String = r.try_get("event").map_err(db)?;
    let device: Option<String> = r.try_get("device").map_err(db)?;
    let visitor: Vec<u8> = r.try_get("visitor").map_err(db)?;
    Ok(Hit {
        at: r.try_get("at").map_err(db)?,
        kind: if event.is_empty() {
            HitKind::PageView
        } else {
            HitKind::Event(event)
        },
        path: r.try_get("path").map_err(db)?,
        visitor: visitor_of(&visitor)?,
        referrer: r.try_get("referrer").map_err(db)?,
        utm_source: r.try_get("utm_source").map_err(db)?,
        utm_medium: r.try_get("utm_medium").map_err(db)?,
        utm_campaign: r.try_get("utm_campaign").map_err(db)?,
        browser: r.try_get("browser").map_err(db)?,
        os: r.try_get("os").map_err(db)?,
        device: device.as_deref().and_then(Device::parse),
        country: r.try_get("country").map_err(db)?,
    })
}

const VISIT_COLUMNS: &str = "visitor, day, started, last_seen, entry, exit, pageviews, events, \
     source, utm_source, utm_medium, utm_campaign, browser, os, device, country";

fn visit_from_row(r: &PgRow) -> StoreResult<OpenVisit> {
    let visitor: Vec<u8> = r.try_get("visitor").map_err(db)?;
    Ok(OpenVisit {
        visitor: visitor_of(&visitor)?,
        started: r.try_get("started").map_err(db)?,
        last_seen: r.try_get("last_seen").map_err(db)?,
        entry: r.try_get("entry").map_err(db)?,
        exit: r.try_get("exit").map_err(db)?,
        pageviews: r.try_get("pageviews").map_err(db)?,
        events: r.try_get("events").map_err(db)?,
        source: r.try_get("source").map_err(db)?,
        utm_source: r.try_get("utm_source").map_err(db)?,
        utm_medium: r.try_get("utm_medium").map_err(db)?,
        utm_campaign: r.try_get("utm_campaign").map_err(db)?,
        browser: r.try_get("browser").map_err(db)?,
        os: r.try_get("os").map_err(db)?,
        device: r.try_get("device").map_err(db)?,
        country: r.try_get("country").map_err(db)?,
    })
}

/// The stored visits of the batch's visitors, and every stored visit that may have ended.
async fn visits_to_fold(
    conn: &mut PgConnection,
    hits: &[Hit],
    now: OffsetDateTime,
) -> StoreResult<Vec<OpenVisit>> {
    let wanted: Vec<Vec<u8>> = hits
        .iter()
        .map(|h| h.visitor)
        .collect::<HashSet<_>>()
        .into_iter()
        .map(|v| v.0.to_vec())
        .collect();
    // Every term on an index: a fold reads the visits it needs, not all open.
    let (idle, day_start) = fold::ended_by(now);
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {VISIT_COLUMNS} FROM stats_visits
         WHERE visitor = ANY($1) OR last_seen <= $2 OR last_seen < $3"
    )))
    .bind(wanted)
    .bind(idle)
    .bind(day_start)
    .fetch_all(&mut *conn)
    .await
    .map_err(db)?;
    rows.iter().map(visit_from_row).collect()
}

/// The stored mark sets of the fold's visitor-days, counting the new marks, and the sets
/// that grew written back.
async fn settle_marks(conn: &mut PgConnection, f: &mut fold::Fold) -> StoreResult<()> {
    let keys = f.seen_keys();
    let rows = sqlx::query(
        "SELECT s.visitor, s.day, s.marks FROM stats_seen s
         JOIN UNNEST($1::bytea[], $2::date[]) AS k (visitor, day)
           ON s.visitor = k.visitor AND s.day = k.day",
    )
    .bind(keys.iter().map(|(v, _)| v.0.to_vec()).collect::<Vec<_>>())
    .bind(keys.iter().map(|(_, d)| *d).collect::<Vec<_>>())
    .fetch_all(&mut *conn)
    .await
    .map_err(db)?;
    let mut stored = HashMap::with_capacity(rows.len());
    for r in &rows {
        let visitor: Vec<u8> = r.try_get("visitor").map_err(db)?;
        let day: Date = r.try_get("day").map_err(db)?;
        stored.insert(
            (visitor_of(&visitor)?, day),
            r.try_get("marks").map_err(db)?,
        );
    }
    let grown = f.settle(&stored);
    sqlx::query(
        "INSERT INTO stats_seen (visitor, day, marks)
         SELECT * FROM UNNEST($1::bytea[], $2::date[], $3::bytea[])
         ON CONFLICT (visitor, day) DO UPDATE SET marks = excluded.marks",
    )
    .bind(
        grown
            .iter()
            .map(|((v, _), _)| v.0.to_vec())
            .collect::<Vec<_>>(),
    )
    .bind(grown.iter().map(|((_, d), _)| *d).collect::<Vec<_>>())
    .bind(grown.into_iter().map(|(_, m)| m).collect::<Vec<_>>())
    .execute(&mut *conn)
    .await
    .map_err(db)?;
    Ok(())
}

const ADD_METRICS: &str = " DO UPDATE SET visitors = t.visitors + excluded.visitors, \
     visits = t.visits + excluded.visits, pageviews = t.pageviews + excluded.pageviews, \
     bounces = t.bounces + excluded.bounces, \
     duration_seconds = t.duration_seconds + excluded.duration_seconds, \
     events = t.events + excluded.events";

/// The six counts of some rows, one array each.
#[derive(Default)]
struct Counts {
    visitors: Vec<i64>,
    visits: Vec<i64>,
    pageviews: Vec<i64>,
    bounces: Vec<i64>,
    duration_seconds: Vec<i64>,
    events: Vec<i64>,
}

impl Counts {
    fn push(&mut self, m: &candour_core::stats::Metrics) {
        self.visitors.push(m.visitors);
        self.visits.push(m.visits);
        self.pageviews.push(m.pageviews);
        self.bounces.push(m.bounces);
        self.duration_seconds.push(m.duration_seconds);
        self.events.push(m.events);
    }
}

/// Add pair rows into their week's and month's rows, at most one per key.
async fn add_pair_spans(
    conn: &mut PgConnection,
    rows: &[(&'static str, OffsetDateTime, fold::PairRow<'_>)],
) -> StoreResult<()> {
    if rows.is_empty() {
        return Ok(());
    }
    let mut counts = Counts::default();
    for (_, _, k) in rows {
        counts.push(&k.metrics);
    }
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "INSERT INTO stats_pair_spans AS t (grain, bucket, filter_dimension, filter_value,
             dimension, value, visitors, visits, pageviews, bounces, duration_seconds, events)
         SELECT * FROM UNNEST($1::text[], $2::timestamptz[], $3::text[], $4::text[],
             $5::text[], $6::text[], $7::bigint[], $8::bigint[], $9::bigint[], $10::bigint[],
             $11::bigint[], $12::bigint[])
         ON CONFLICT (grain, bucket, filter_dimension, filter_value, dimension, value)
         {ADD_METRICS}"
    )))
    .bind(rows.iter().map(|(g, _, _)| *g).collect::<Vec<_>>())
    .bind(rows.iter().map(|(_, b, _)| *b).collect::<Vec<_>>())
    .bind(
        rows.iter()
            .map(|(_, _, k)| k.filter_dimension.code())
            .collect::<Vec<_>>(),
    )
    .bind(
        rows.iter()
            .map(|(_, _, k)| k.filter_value)
            .collect::<Vec<_>>(),
    )
    .bind(
        rows.iter()
            .map(|(_, _, k)| k.dimension.code())
            .collect::<Vec<_>>(),
    )
    .bind(rows.iter().map(|(_, _, k)| k.value).collect::<Vec<_>>())
    .bind(counts.visitors)
    .bind(counts.visits)
    .bind(counts.pageviews)
    .bind(counts.bounces)
    .bind(counts.duration_seconds)
    .bind(counts.events)
    .execute(&mut *conn)
    .await
    .map_err(db)?;
    Ok(())
}

/// The first UK day whose pairs are not yet in `stats_pair_spans` (`None` before the first
/// fold that rolls any).
pub(crate) async fn pairs_rolled(conn: impl PgExecutor<'_>) -> StoreResult<Option<Date>> {
    sqlx::query_scalar("SELECT until FROM stats_pairs_rolled WHERE id = 1")
        .fetch_optional(conn)
        .await
        .map_err(db)
}

/// Add the daily pairs of every UK day that is over, and not yet added, into its week's and
/// month's rows (at most [`span::ROLL_DAYS_PER_FOLD`] days at a time). A day is over once `now` is past it, none of its hits waits and no visit
/// begun on it is open; pairs added to a day after that (a hit late from another instance)
/// are added to its spans as they are written ([`write_fold`]). Called under the fold's lock.
async fn roll_pairs(
    conn: &mut PgConnection,
    now: OffsetDateTime,
    rolled: Option<Date>,
) -> StoreResult<()> {
    // The earliest open visit's day is its last hit's (`OpenVisit::day`), found on the index.
    let (waiting, open): (Option<OffsetDateTime>, Option<OffsetDateTime>) = sqlx::query_as(
        "SELECT (SELECT MIN(at) FROM stats_hits), (SELECT MIN(last_seen) FROM stats_visits)",
    )
    .fetch_one(&mut *conn)
    .await
    .map_err(db)?;
    let mut settled = uk_day(now);
    for at in [waiting, open].into_iter().flatten() {
        settled = settled.min(uk_day(at));
    }
    let start = match rolled {
        Some(day) => day,
        None => {
            let first: Option<OffsetDateTime> =
                sqlx::query_scalar("SELECT MIN(day) FROM stats_pairs")
                    .fetch_one(&mut *conn)
                    .await
                    .map_err(db)?;
            first.map(uk_day).unwrap_or(settled)
        }
    };
    // A long backlog (the first fold after the upgrade that made these rows) is rolled a
    // few weeks per fold, so no fold holds the lock for long.
    let mut day = start;
    let mut days = 0;
    while day < settled && days < span::ROLL_DAYS_PER_FOLD {
        days += 1;
        for (grain, bucket) in span::pair_buckets(day) {
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "INSERT INTO stats_pair_spans AS t (grain, bucket, filter_dimension,
                     filter_value, dimension, value, visitors, visits, pageviews, bounces,
                     duration_seconds, events)
                 SELECT $1, $2, filter_dimension, filter_value, dimension, value, visitors,
                     visits, pageviews, bounces, duration_seconds, events
                 FROM stats_pairs WHERE day = $3
                 ON CONFLICT (grain, bucket, filter_dimension, filter_value, dimension, value)
                 {ADD_METRICS}"
            )))
            .bind(grain)
            .bind(bucket)
            .bind(uk_start_of_day(day))
            .execute(&mut *conn)
            .await
            .map_err(db)?;
        }
        let Some(next) = day.next_day() else { break };
        day = next;
    }
    let until = day;
    if rolled != Some(until) {
        sqlx::query(
            "INSERT INTO stats_pairs_rolled (id, until) VALUES (1, $1)
             ON CONFLICT (id) DO UPDATE SET until = excluded.until",
        )
        .bind(until)
        .execute(&mut *conn)
        .await
        .map_err(db)?;
    }
    Ok(())
}

/// Retention for a table of week and month rows (`table`, keyed by grain, bucket and
/// `keys`) when rows before `cutoff` go: a week (or month) begun before the cutoff keeps its
/// row less the days that go (the sums of `days`, an SQL `FROM` … `WHERE` over `$1` to
/// `$2`, from the span's start up to `days_to`), so a range that reads it counts only days
/// still kept, and a row left at zero goes; the rows of spans begun earlier are deleted.
async fn forget_spans(
    conn: &mut PgConnection,
    table: &str,
    keys: &[&str],
    days: &str,
    cutoff: OffsetDateTime,
    days_to: OffsetDateTime,
) -> StoreResult<u64> {
    let list = keys.join(", ");
    let sums: Vec<String> = METRICS.iter().map(|m| format!("SUM({m}) AS {m}")).collect();
    let less: Vec<String> = METRICS
        .iter()
        .map(|m| format!("{m} = s.{m} - d.{m}"))
        .collect();
    let same: Vec<String> = keys.iter().map(|k| format!("s.{k} = d.{k}")).collect();
    let zero: Vec<String> = METRICS.iter().map(|m| format!("{m} = 0")).collect();
    let mut gone = 0;
    for (span, straddling, keep_from) in span::kept_at(cutoff) {
        if let Some(start) = straddling {
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "UPDATE {table} AS s SET {}
                 FROM (SELECT {list}, {} {days} GROUP BY {list}) AS d
                 WHERE s.grain = $3 AND s.bucket = $1 AND {}",
                less.join(", "),
                sums.join(", "),
                same.join(" AND ")
            )))
            .bind(start)
            .bind(days_to)
            .bind(span.code())
            .execute(&mut *conn)
            .await
            .map_err(db)?;
            gone += sqlx::query(sqlx::AssertSqlSafe(format!(
                "DELETE FROM {table} WHERE grain = $1 AND bucket = $2 AND {}",
                zero.join(" AND ")
            )))
            .bind(span.code())
            .bind(start)
            .execute(&mut *conn)
            .await
            .map_err(db)?
            .rows_affected();
        }
        gone += sqlx::query(sqlx::AssertSqlSafe(format!(
            "DELETE FROM {table} WHERE grain = $1 AND bucket < $2"
        )))
        .bind(span.code())
        .bind(keep_from)
        .execute(&mut *conn)
        .await
        .map_err(db)?
        .rows_affected();
    }
    Ok(gone)
}

/// The counts every row of totals and pairs carries.
const METRICS: [&str; 6] = [
    "visitors",
    "visits",
    "pageviews",
    "bounces",
    "duration_seconds",
    "events",
];

async fn write_fold(
    conn: &mut PgConnection,
    f: &fold::Fold,
    rolled: Option<Date>,
) -> StoreResult<()> {
    let (mut grains, mut dims, mut buckets, mut values) = (vec![], vec![], vec![], vec![]);
    let mut counts = Counts::default();
    for row in f.total_rows() {
        grains.push(row.grain);
        dims.push(row.dimension);
        buckets.push(row.bucket);
        values.push(row.value);
        counts.push(&row.metrics);
    }
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "INSERT INTO stats_totals AS t (grain, dimension, bucket, value, visitors, visits,
             pageviews, bounces, duration_seconds, events)
         SELECT * FROM UNNEST($1::text[], $2::text[], $3::timestamptz[], $4::text[],
             $5::bigint[], $6::bigint[], $7::bigint[], $8::bigint[], $9::bigint[], $10::bigint[])
         ON CONFLICT (grain, dimension, bucket, value){ADD_METRICS}"
    )))
    .bind(grains)
    .bind(dims)
    .bind(buckets)
    .bind(values)
    .bind(counts.visitors)
    .bind(counts.visits)
    .bind(counts.pageviews)
    .bind(counts.bounces)
    .bind(counts.duration_seconds)
    .bind(counts.events)
    .execute(&mut *conn)
    .await
    .map_err(db)?;

    let (mut fdims, mut fvalues, mut dims, mut days, mut values) =
        (vec![], vec![], vec![], vec![], vec![]);
    let mut counts = Counts::default();
    let pairs = f.pair_rows();
    for k in &pairs {
        fdims.push(k.filter_dimension.code());
        fvalues.push(k.filter_value);
        dims.push(k.dimension.code());
        days.push(k.day);
        values.push(k.value);
        counts.push(&k.metrics);
    }
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "INSERT INTO stats_pairs AS t (filter_dimension, filter_value, dimension, day, value,
             visitors, visits, pageviews, bounces, duration_seconds, events)
         SELECT * FROM UNNEST($1::text[], $2::text[], $3::text[], $4::timestamptz[],
             $5::text[], $6::bigint[], $7::bigint[], $8::bigint[], $9::bigint[], $10::bigint[],
             $11::bigint[])
         ON CONFLICT (filter_dimension, filter_value, dimension, day, value){ADD_METRICS}"
    )))
    .bind(fdims)
    .bind(fvalues)
    .bind(dims)
    .bind(days)
    .bind(values)
    .bind(counts.visitors)
    .bind(counts.visits)
    .bind(counts.pageviews)
    .bind(counts.bounces)
    .bind(counts.duration_seconds)
    .bind(counts.events)
    .execute(&mut *conn)
    .await
    .map_err(db)?;
    if let Some(rolled) = rolled {
        add_pair_spans(conn, &fold::late_pair_spans(&pairs, rolled)).await?;
    }

    let closed: Vec<Vec<u8>> = f.closed.iter().map(|v| v.0.to_vec()).collect();
    sqlx::query("DELETE FROM stats_visits WHERE visitor = ANY($1)")
        .bind(closed)
        .execute(&mut *conn)
        .await
        .map_err(db)?;
    let o = &f.open;
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "INSERT INTO stats_visits ({VISIT_COLUMNS})
         SELECT * FROM UNNEST($1::bytea[], $2::date[], $3::timestamptz[], $4::timestamptz[],
             $5::text[], $6::text[], $7::bigint[], $8::bigint[], $9::text[], $10::text[],
             $11::text[], $12::text[], $13::text[], $14::text[], $15::text[], $16::text[])
         ON CONFLICT (visitor) DO UPDATE SET last_seen = excluded.last_seen,
             exit = excluded.exit, pageviews = excluded.pageviews, events = excluded.events"
    )))
    .bind(o.iter().map(|v| v.visitor.0.to_vec()).collect::<Vec<_>>())
    .bind(o.iter().map(OpenVisit::day).collect::<Vec<_>>())
    .bind(o.iter().map(|v| v.started).collect::<Vec<_>>())
    .bind(o.iter().map(|v| v.last_seen).collect::<Vec<_>>())
    .bind(o.iter().map(|v| v.entry.as_str()).collect::<Vec<_>>())
    .bind(o.iter().map(|v| v.exit.as_str()).collect::<Vec<_>>())
    .bind(o.iter().map(|v| v.pageviews).collect::<Vec<_>>())
    .bind(o.iter().map(|v| v.events).collect::<Vec<_>>())
    .bind(o.iter().map(|v| v.source.as_str()).collect::<Vec<_>>())
    .bind(
        o.iter()
            .map(|v| v.utm_source.as_deref())
            .collect::<Vec<_>>(),
    )
    .bind(
        o.iter()
            .map(|v| v.utm_medium.as_deref())
            .collect::<Vec<_>>(),
    )
    .bind(
        o.iter()
            .map(|v| v.utm_campaign.as_deref())
            .collect::<Vec<_>>(),
    )
    .bind(o.iter().map(|v| v.browser.as_deref()).collect::<Vec<_>>())
    .bind(o.iter().map(|v| v.os.as_deref()).collect::<Vec<_>>())
    .bind(o.iter().map(|v| v.device.as_deref()).collect::<Vec<_>>())
    .bind(o.iter().map(|v| v.country.as_deref()).collect::<Vec<_>>())
    .execute(&mut *conn)
    .await
    .map_err(db)?;
    Ok(())
}

#[async_trait]
impl StatsIngestStore for PgStore {
    async fn stats_salt(&self, day: Date, fresh: &[u8]) -> StoreResult<Vec<u8>> {
        sqlx::query_scalar(
            "INSERT INTO stats_salts (day, salt) VALUES ($1, $2)
             ON CONFLICT (day) DO UPDATE SET salt = stats_salts.salt RETURNING salt",
        )
        .bind(day)
        .bind(fresh)
        .fetch_one(&self.pool)
        .await
        .map_err(db)
    }

    async fn record_hits(&self, hits: &[Hit]) -> StoreResult<()> {
        let event = |h: &Hit| match &h.kind {
            HitKind::PageView => String::new(),
            HitKind::Event(name) => name.clone(),
        };
        sqlx::query(
            "INSERT INTO stats_hits (at, event, path, visitor, referrer, utm_source, utm_medium,
                 utm_campaign, browser, os, device, country)
             SELECT * FROM UNNEST($1::timestamptz[], $2::text[], $3::text[], $4::bytea[],
                 $5::text[], $6::text[], $7::text[], $8::text[], $9::text[], $10::text[],
                 $11::text[], $12::text[])",
        )
        .bind(column(hits, |h| h.at))
        .bind(column(hits, event))
        .bind(column(hits, |h| h.path.as_str()))
        .bind(column(hits, |h| h.visitor.0.to_vec()))
        .bind(column(hits, |h| h.referrer.as_deref()))
        .bind(column(hits, |h| h.utm_source.as_deref()))
        .bind(column(hits, |h| h.utm_medium.as_deref()))
        .bind(column(hits, |h| h.utm_campaign.as_deref()))
        .bind(column(hits, |h| h.browser.as_deref()))
        .bind(column(hits, |h| h.os.as_deref()))
        .bind(column(hits, |h| h.device.map(Device::code)))
        .bind(column(hits, |h| h.country.as_deref()))
        .execute(&self.pool)
        .await
        .map_err(db)?;
        Ok(())
    }

    async fn fold_hits(&self, now: OffsetDateTime, limit: u32) -> StoreResult<Folded> {
        let mut conn = self.pool.acquire().await.map_err(db)?;
        let mut tx = conn.begin().await.map_err(db)?;
        // Background work that no visitor waits for; a large batch may take a while.
        lift_statement_timeout(&mut tx).await?;
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(FOLD_LOCK)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        let rows = sqlx::query(
            "SELECT id, at, event, path, visitor, referrer, utm_source, utm_medium,
                 utm_campaign, browser, os, device, country
             FROM stats_hits ORDER BY id LIMIT $1",
        )
        .bind(i64::from(limit))
        .fetch_all(&mut *tx)
        .await
        .map_err(db)?;
        let mut hits = Vec::with_capacity(rows.len());
        let mut ids = Vec::with_capacity(rows.len());
        for r in &rows {
            hits.push(hit_from_row(r)?);
            ids.push(r.try_get::<i64, _>("id").map_err(db)?);
        }
        let open = visits_to_fold(&mut tx, &hits, now).await?;
        let mut folded = fold::fold(&hits, open, now);
        let rolled = pairs_rolled(&mut *tx).await?;
        settle_marks(&mut tx, &mut folded).await?;
        write_fold(&mut tx, &folded, rolled).await?;
        // Ids are not committed in order across instances: delete exactly what was read.
        sqlx::query("DELETE FROM stats_hits WHERE id = ANY($1)")
            .bind(ids)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        roll_pairs(&mut tx, now, rolled).await?;
        tx.commit().await.map_err(db)?;
        Ok(Folded {
            hits: hits.len() as u64,
            visits_closed: folded.closed.len() as u64,
        })
    }

    async fn live_visitors(&self, since: OffsetDateTime) -> StoreResult<u64> {
        let n: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM (
                 SELECT visitor FROM stats_visits WHERE last_seen >= $1
                 UNION SELECT visitor FROM stats_hits WHERE at >= $1) AS live",
        )
        .bind(since)
        .fetch_one(&self.pool)
        .await
        .map_err(db)?;
        Ok(n.max(0) as u64)
    }

    async fn purge_stats(&self, totals_before: OffsetDateTime, today: Date) -> StoreResult<u64> {
        let mut conn = self.pool.acquire().await.map_err(db)?;
        let mut tx = conn.begin().await.map_err(db)?;
        // The fold adds to the week and month rows: hold it off while days leave them.
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(FOLD_LOCK)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        let mut gone = forget_spans(
            &mut tx,
            "stats_totals",
            &["dimension", "value"],
            &format!(
                "FROM stats_totals WHERE grain = 'day' AND bucket >= $1 AND bucket < $2 \
                 AND dimension NOT IN ('{IMPORTED}', '{IMPORTED_PAGE}')"
            ),
            totals_before,
            totals_before,
        )
        .await?;
        // The week and month pairs hold only the days rolled into them.
        if let Some(rolled) = pairs_rolled(&mut *tx).await? {
            gone += forget_spans(
                &mut tx,
                "stats_pair_spans",
                &["filter_dimension", "filter_value", "dimension", "value"],
                "FROM stats_pairs WHERE day >= $1 AND day < $2",
                totals_before,
                uk_start_of_day(rolled).min(totals_before),
            )
            .await?;
        }
        for (sql, bound) in [
            (
                "DELETE FROM stats_totals WHERE grain IN ('hour', 'day') AND bucket < $1",
                totals_before,
            ),
            ("DELETE FROM stats_pairs WHERE day < $1", totals_before),
            (
                "DELETE FROM stats_hits WHERE at < $1",
                uk_start_of_day(today),
            ),
        ] {
            gone += sqlx::query(sql)
                .bind(bound)
                .execute(&mut *tx)
                .await
                .map_err(db)?
                .rows_affected();
        }
        for sql in [
            "DELETE FROM stats_visits WHERE day < $1",
            "DELETE FROM stats_seen WHERE day < $1",
            "DELETE FROM stats_salts WHERE day < $1",
        ] {
            gone += sqlx::query(sql)
                .bind(today)
                .execute(&mut *tx)
                .await
                .map_err(db)?
                .rows_affected();
        }
        tx.commit().await.map_err(db)?;
        Ok(gone)
    }
}

/// One column of `hits`, for binding as a PostgreSQL array.
fn column<'h, T>(hits: &'h [Hit], value: impl Fn(&'h Hit) -> T) -> Vec<T> {
    hits.iter().map(value).collect()
}
