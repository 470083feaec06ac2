//! Site statistics on SQLite, the writing side: the day's salt, waiting hits, and the fold
//! that turns them into totals (`stats::fold` decides; this file only reads and writes).
//! Times are Unix seconds, UK days `YYYY-MM-DD`.

use std::collections::{HashMap, HashSet};

use async_trait::async_trait;
use candour_core::stats::fold::{self, OpenVisit};
use candour_core::stats::{Folded, Hit, IMPORTED, IMPORTED_PAGE, VisitorHash, span, uk_day};
use candour_core::store::{StatsIngestStore, StoreError, StoreResult};
use candour_core::uk_time::{ISO_DATE, uk_start_of_day};
use sqlx::sqlite::SqliteRow;
use sqlx::{Acquire, Connection, QueryBuilder, Row, Sqlite, SqliteConnection, SqliteExecutor};
use time::{Date, OffsetDateTime};

use crate::{SqliteStore, db, from_unix, stats_waiting, unix};

/// Rows per multi-row statement, under SQLite's 32,766 bound parameters.
const ROWS: usize = 2000;

fn iso(d: Date) -> String {
    d.format(ISO_DATE).unwrap_or_default()
}

fn visitor_of(bytes: &[u8]) -> StoreResult<VisitorHash> {
    VisitorHash::from_stored(bytes)
        .ok_or_else(|| StoreError::Corrupt("a visitor hash is not 16 bytes".to_owned()))
}

const VISIT_COLUMNS: &str = "visitor, day, started, last_seen, entry, exit, pageviews, events, \
     source, utm_source, utm_medium, utm_campaign, browser, os, device, country";

fn visit_from_row(r: &SqliteRow) -> StoreResult<OpenVisit> {
    let visitor: Vec<u8> = r.try_get("visitor").map_err(db)?;
    Ok(OpenVisit {
        visitor: visitor_of(&visitor)?,
        started: from_unix(r.try_get("started").map_err(db)?)?,
        last_seen: from_unix(r.try_get("last_seen").map_err(db)?)?,
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
    conn: &mut SqliteConnection,
    hits: &[Hit],
    now: OffsetDateTime,
) -> StoreResult<Vec<OpenVisit>> {
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    let wanted: Vec<VisitorHash> = hits
        .iter()
        .map(|h| h.visitor)
        .collect::<HashSet<_>>()
        .into_iter()
        .collect();
    for chunk in wanted.chunks(ROWS) {
        let mut q = QueryBuilder::<Sqlite>::new(format!(
            "SELECT {VISIT_COLUMNS} FROM stats_visits WHERE visitor IN ("
        ));
        let mut list = q.separated(", ");
        for v in chunk {
            list.push_bind(v.0.to_vec());
        }
        q.push(")");
        for r in q.build().fetch_all(&mut *conn).await.map_err(db)? {
            let v = visit_from_row(&r)?;
            if seen.insert(v.visitor) {
                out.push(v);
            }
        }
    }
    // Both bounds on the `last_seen` index: a fold reads the visits that end, not all open.
    let (idle, day_start) = fold::ended_by(now);
    let ended = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {VISIT_COLUMNS} FROM stats_visits WHERE last_seen <= ? OR last_seen < ?"
    )))
    .bind(unix(idle))
    .bind(unix(day_start))
    .fetch_all(&mut *conn)
    .await
    .map_err(db)?;
    for r in ended {
        let v = visit_from_row(&r)?;
        if seen.insert(v.visitor) {
            out.push(v);
        }
    }
    Ok(out)
}

/// The stored mark sets of the fold's visitor-days, counting the new marks, and the sets
/// that grew written back.
async fn settle_marks(conn: &mut SqliteConnection, f: &mut fold::Fold) -> StoreResult<()> {
    let keys = f.seen_keys();
    let mut stored = HashMap::with_capacity(keys.len());
    for chunk in keys.chunks(ROWS) {
        // By the key's first column; the days are matched below.
        let mut q = QueryBuilder::<Sqlite>::new(
            "SELECT visitor, day, marks FROM stats_seen WHERE visitor IN (",
        );
        let mut list = q.separated(", ");
        let mut visitors: Vec<&VisitorHash> = chunk.iter().map(|(v, _)| v).collect();
        visitors.dedup();
        for v in visitors {
            list.push_bind(v.0.to_vec());
        }
        q.push(")");
        for r in q.build().fetch_all(&mut *conn).await.map_err(db)? {
            let visitor: Vec<u8> = r.try_get("visitor").map_err(db)?;
            let day: String = r.try_get("day").map_err(db)?;
            let Ok(day) = Date::parse(&day, ISO_DATE) else {
                return Err(StoreError::Corrupt(format!(
                    "a marks day is not a date: {day}"
                )));
            };
            let key = (visitor_of(&visitor)?, day);
            if chunk.binary_search(&key).is_ok() {
                stored.insert(key, r.try_get("marks").map_err(db)?);
            }
        }
    }
    let grown = f.settle(&stored);
    for chunk in grown.chunks(ROWS) {
        let mut q = QueryBuilder::<Sqlite>::new("INSERT INTO stats_seen (visitor, day, marks) ");
        q.push_values(chunk, |mut b, ((v, d), marks)| {
            b.push_bind(v.0.to_vec())
                .push_bind(iso(*d))
                .push_bind(marks.clone());
        });
        q.push(" ON CONFLICT (visitor, day) DO UPDATE SET marks = excluded.marks");
        q.build().execute(&mut *conn).await.map_err(db)?;
    }
    Ok(())
}

const ADD_METRICS: &str = " DO UPDATE SET visitors = visitors + excluded.visitors, \
     visits = visits + excluded.visits, pageviews = pageviews + excluded.pageviews, \
     bounces = bounces + excluded.bounces, \
     duration_seconds = duration_seconds + excluded.duration_seconds, \
     events = events + excluded.events";

/// Add pair rows into their week's and month's rows (`grain` and `bucket` given per row).
async fn add_pair_spans(
    conn: &mut SqliteConnection,
    rows: &[(&'static str, OffsetDateTime, fold::PairRow<'_>)],
) -> StoreResult<()> {
    for chunk in rows.chunks(ROWS) {
        let mut q = QueryBuilder::<Sqlite>::new(
            "INSERT INTO stats_pair_spans (grain, bucket, filter_dimension, filter_value, \
             dimension, value, visitors, visits, pageviews, bounces, duration_seconds, events) ",
        );
        q.push_values(chunk, |mut b, (grain, bucket, k)| {
            let m = &k.metrics;
            b.push_bind(*grain)
                .push_bind(unix(*bucket))
                .push_bind(k.filter_dimension.code())
                .push_bind(k.filter_value)
                .push_bind(k.dimension.code())
                .push_bind(k.value)
                .push_bind(m.visitors)
                .push_bind(m.visits)
                .push_bind(m.pageviews)
                .push_bind(m.bounces)
                .push_bind(m.duration_seconds)
                .push_bind(m.events);
        });
        q.push(" ON CONFLICT (grain, bucket, filter_dimension, filter_value, dimension, value)");
        q.push(ADD_METRICS);
        q.build().execute(&mut *conn).await.map_err(db)?;
    }
    Ok(())
}

/// The first UK day whose pairs are not yet in `stats_pair_spans` (`None` before the first
/// fold that rolls any).
pub(crate) async fn pairs_rolled(conn: impl SqliteExecutor<'_>) -> StoreResult<Option<Date>> {
    let until: Option<String> =
        sqlx::query_scalar("SELECT until FROM stats_pairs_rolled WHERE id = 1")
            .fetch_optional(conn)
            .await
            .map_err(db)?;
    until
        .map(|d| {
            Date::parse(&d, ISO_DATE)
                .map_err(|_| StoreError::Corrupt(format!("the pairs rolled up to {d:?}")))
        })
        .transpose()
}

/// Add the daily pairs of every UK day that is over, and not yet added, into its week's and
/// month's rows (at most [`span::ROLL_DAYS_PER_FOLD`] days at a time). A day is over once `now` is past it, none of its hits waits and no visit
/// begun on it is open; pairs added to a day after that (a hit late from another instance)
/// are added to its spans as they are written ([`write_fold`]).
async fn roll_pairs(
    conn: &mut SqliteConnection,
    now: OffsetDateTime,
    rolled: Option<Date>,
) -> StoreResult<()> {
    let waiting = stats_waiting::earliest(conn).await?;
    // The earliest open visit's day is its last hit's (`OpenVisit::day`), found on the index.
    let open: Option<i64> = sqlx::query_scalar("SELECT MIN(last_seen) FROM stats_visits")
        .fetch_one(&mut *conn)
        .await
        .map_err(db)?;
    let mut settled = uk_day(now);
    for at in [waiting, open].into_iter().flatten() {
        settled = settled.min(uk_day(from_unix(at)?));
    }
    let start = match rolled {
        Some(day) => day,
        None => {
            let first: Option<i64> = sqlx::query_scalar("SELECT MIN(day) FROM stats_pairs")
                .fetch_one(&mut *conn)
                .await
                .map_err(db)?;
            first
                .map(|d| from_unix(d).map(uk_day))
                .transpose()?
                .unwrap_or(settled)
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
                "INSERT INTO stats_pair_spans (grain, bucket, filter_dimension, filter_value,
                     dimension, value, visitors, visits, pageviews, bounces, duration_seconds,
                     events)
                 SELECT ?, ?, filter_dimension, filter_value, dimension, value, visitors,
                     visits, pageviews, bounces, duration_seconds, events
                 FROM stats_pairs WHERE day = ?
                 ON CONFLICT (grain, bucket, filter_dimension, filter_value, dimension, value)
                 {ADD_METRICS}"
            )))
            .bind(grain)
            .bind(unix(bucket))
            .bind(unix(uk_start_of_day(day)))
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
            "INSERT INTO stats_pairs_rolled (id, until) VALUES (1, ?)
             ON CONFLICT (id) DO UPDATE SET until = excluded.until",
        )
        .bind(iso(until))
        .execute(&mut *conn)
        .await
        .map_err(db)?;
    }
    Ok(())
}

/// Retention for a table of week and month rows (`table`, keyed by grain, bucket and
/// `keys`) when rows before `cutoff` go: a week (or month) begun before the cutoff keeps its
/// row less the days that go (the sums of `days`, an SQL `FROM` … `WHERE` over `?1` to
/// `?2`, from the span's start up to `days_to`), so a range that reads it counts only days
/// still kept, and a row left at zero goes; the rows of spans begun earlier are deleted.
async fn forget_spans(
    conn: &mut SqliteConnection,
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
                 WHERE s.grain = ?3 AND s.bucket = ?1 AND {}",
                less.join(", "),
                sums.join(", "),
                same.join(" AND ")
            )))
            .bind(unix(start))
            .bind(unix(days_to))
            .bind(span.code())
            .execute(&mut *conn)
            .await
            .map_err(db)?;
            gone += sqlx::query(sqlx::AssertSqlSafe(format!(
                "DELETE FROM {table} WHERE grain = ? AND bucket = ? AND {}",
                zero.join(" AND ")
            )))
            .bind(span.code())
            .bind(unix(start))
            .execute(&mut *conn)
            .await
            .map_err(db)?
            .rows_affected();
        }
        gone += sqlx::query(sqlx::AssertSqlSafe(format!(
            "DELETE FROM {table} WHERE grain = ? AND bucket < ?"
        )))
        .bind(span.code())
        .bind(unix(keep_from))
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
    conn: &mut SqliteConnection,
    f: &fold::Fold,
    rolled: Option<Date>,
) -> StoreResult<()> {
    let totals = f.total_rows();
    for chunk in totals.chunks(ROWS) {
        let mut q = QueryBuilder::<Sqlite>::new(
            "INSERT INTO stats_totals (grain, dimension, bucket, value, visitors, visits, \
             pageviews, bounces, duration_seconds, events) ",
        );
        q.push_values(chunk, |mut b, row| {
            let m = &row.metrics;
            b.push_bind(row.grain)
                .push_bind(row.dimension)
                .push_bind(unix(row.bucket))
                .push_bind(row.value)
                .push_bind(m.visitors)
                .push_bind(m.visits)
                .push_bind(m.pageviews)
                .push_bind(m.bounces)
                .push_bind(m.duration_seconds)
                .push_bind(m.events);
        });
        q.push(" ON CONFLICT (grain, dimension, bucket, value)");
        q.push(ADD_METRICS);
        q.build().execute(&mut *conn).await.map_err(db)?;
    }
    let pairs = f.pair_rows();
    for chunk in pairs.chunks(ROWS) {
        let mut q = QueryBuilder::<Sqlite>::new(
            "INSERT INTO stats_pairs (filter_dimension, filter_value, dimension, day, value, \
             visitors, visits, pageviews, bounces, duration_seconds, events) ",
        );
        q.push_values(chunk, |mut b, k| {
            let m = &k.metrics;
            b.push_bind(k.filter_dimension.code())
                .push_bind(k.filter_value)
                .push_bind(k.dimension.code())
                .push_bind(unix(k.day))
                .push_bind(k.value)
                .push_bind(m.visitors)
                .push_bind(m.visits)
                .push_bind(m.pageviews)
                .push_bind(m.bounces)
                .push_bind(m.duration_seconds)
                .push_bind(m.events);
        });
        q.push(" ON CONFLICT (filter_dimension, filter_value, dimension, day, value)");
        q.push(ADD_METRICS);
        q.build().execute(&mut *conn).await.map_err(db)?;
    }
    if let Some(rolled) = rolled {
        add_pair_spans(conn, &fold::late_pair_spans(&pairs, rolled)).await?;
    }
    for chunk in f.closed.chunks(ROWS) {
        let mut q = QueryBuilder::<Sqlite>::new("DELETE FROM stats_visits WHERE visitor IN (");
        let mut list = q.separated(", ");
        for v in chunk {
            list.push_bind(v.0.to_vec());
        }
        q.push(")");
        q.build().execute(&mut *conn).await.map_err(db)?;
    }
    for chunk in f.open.chunks(ROWS) {
        let mut q = QueryBuilder::<Sqlite>::new(format!(
            "INSERT OR REPLACE INTO stats_visits ({VISIT_COLUMNS}) "
        ));
        q.push_values(chunk, |mut b, v| {
            b.push_bind(v.visitor.0.to_vec())
                .push_bind(iso(v.day()))
                .push_bind(unix(v.started))
                .push_bind(unix(v.last_seen))
                .push_bind(v.entry.clone())
                .push_bind(v.exit.clone())
                .push_bind(v.pageviews)
                .push_bind(v.events)
                .push_bind(v.source.clone())
                .push_bind(v.utm_source.clone())
                .push_bind(v.utm_medium.clone())
                .push_bind(v.utm_campaign.clone())
                .push_bind(v.browser.clone())
                .push_bind(v.os.clone())
                .push_bind(v.device.clone())
                .push_bind(v.country.clone());
        });
        q.build().execute(&mut *conn).await.map_err(db)?;
    }
    Ok(())
}

#[async_trait]
impl StatsIngestStore for SqliteStore {
    async fn stats_salt(&self, day: Date, fresh: &[u8]) -> StoreResult<Vec<u8>> {
        sqlx::query_scalar(
            "INSERT INTO stats_salts (day, salt) VALUES (?, ?)
             ON CONFLICT (day) DO UPDATE SET salt = salt RETURNING salt",
        )
        .bind(iso(day))
        .bind(fresh)
        .fetch_one(&self.writer)
        .await
        .map_err(db)
    }

    async fn record_hits(&self, hits: &[Hit]) -> StoreResult<()> {
        stats_waiting::record(&self.writer, hits).await
    }

    async fn fold_hits(&self, now: OffsetDateTime, limit: u32) -> StoreResult<Folded> {
        let mut conn = self.writer.acquire().await.map_err(db)?;
        // The file's write lock from the start: another process on the same file cannot
        // add or fold hits between this read and its writes.
        let mut tx = conn.begin_with("BEGIN IMMEDIATE").await.map_err(db)?;
        let hits = stats_waiting::take(&mut tx, limit).await?;
        let open = visits_to_fold(&mut tx, &hits, now).await?;
        let mut folded = fold::fold(&hits, open, now);
        let rolled = pairs_rolled(&mut *tx).await?;
        settle_marks(&mut tx, &mut folded).await?;
        write_fold(&mut tx, &folded, rolled).await?;
        roll_pairs(&mut tx, now, rolled).await?;
        tx.commit().await.map_err(db)?;
        Ok(Folded {
            hits: hits.len() as u64,
            visits_closed: folded.closed.len() as u64,
        })
    }

    async fn live_visitors(&self, since: OffsetDateTime) -> StoreResult<u64> {
        let n: i64 = sqlx::query_scalar(
            // Waiting hits hold their visitor in hex (see `stats_waiting`).
            "SELECT COUNT(*) FROM (
                 SELECT lower(hex(visitor)) FROM stats_visits WHERE last_seen >= ?1
                 UNION SELECT h.value ->> 3 FROM stats_hits AS b, json_each(b.hits) AS h
                     WHERE b.last_at >= ?1 AND h.value ->> 0 >= ?1)",
        )
        .bind(unix(since))
        .fetch_one(&self.reader)
        .await
        .map_err(db)?;
        Ok(n.max(0) as u64)
    }

    async fn purge_stats(&self, totals_before: OffsetDateTime, today: Date) -> StoreResult<u64> {
        let mut conn = self.writer.acquire().await.map_err(db)?;
        let mut tx = conn.begin().await.map_err(db)?;
        let mut gone = forget_spans(
            &mut tx,
            "stats_totals",
            &["dimension", "value"],
            &format!(
                "FROM stats_totals WHERE grain = 'day' AND bucket >= ?1 AND bucket < ?2 \
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
                "FROM stats_pairs WHERE day >= ?1 AND day < ?2",
                totals_before,
                uk_start_of_day(rolled).min(totals_before),
            )
            .await?;
        }
        for (sql, bound) in [
            (
                "DELETE FROM stats_totals WHERE grain IN ('hour', 'day') AND bucket < ?",
                unix(totals_before),
            ),
            ("DELETE FROM stats_pairs WHERE day < ?", unix(totals_before)),
        ] {
            gone += sqlx::query(sql)
                .bind(bound)
                .execute(&mut *tx)
                .await
                .map_err(db)?
                .rows_affected();
        }
        gone += stats_waiting::forget_before(&mut tx, unix(uk_start_of_day(today))).await?;
        for sql in [
            "DELETE FROM stats_visits WHERE day < ?",
            "DELETE FROM stats_seen WHERE day < ?",
            "DELETE FROM stats_salts WHERE day < ?",
        ] {
            gone += sqlx::query(sql)
                .bind(iso(today))
                .execute(&mut *tx)
                .await
                .map_err(db)?
                .rows_affected();
        }
        tx.commit().await.map_err(db)?;
        Ok(gone)
    }
}
