//! Site statistics on SQLite, the reading side: every figure is summed from `stats_totals`
//! or `stats_pairs` over a range of their keys, never read from hits, so a dashboard costs
//! the same at a thousand events as at ten million.
//!
//! History imported from an earlier analytics service lives in the same daily totals under
//! dimensions of its own (`imported` for the whole site, `imported_page` per page), so it is
//! told apart from what Candour counted, re-importing a day replaces it, and retention
//! treats it as any other day.

use std::collections::{BTreeMap, BTreeSet};

use async_trait::async_trait;
use candour_core::stats::{
    Dimension, Filter, Grain, HistoryRow, IMPORTED, IMPORTED_PAGE, Metrics, Point, Range, Row,
    Summary, span,
};
use candour_core::store::{StatsReportStore, StoreResult};
use candour_core::uk_time::uk_start_of_day;
use sqlx::sqlite::SqliteRow;
use sqlx::{QueryBuilder, Row as _, Sqlite};

use crate::{SqliteStore, db, from_unix, unix};

const SUMS: &str = "SUM(visitors) AS visitors, SUM(visits) AS visits, \
    SUM(pageviews) AS pageviews, SUM(bounces) AS bounces, \
    SUM(duration_seconds) AS duration_seconds, SUM(events) AS events";

fn metrics(r: &SqliteRow) -> StoreResult<Metrics> {
    let get = |c: &str| -> StoreResult<i64> {
        Ok(r.try_get::<Option<i64>, _>(c).map_err(db)?.unwrap_or(0))
    };
    Ok(Metrics {
        visitors: get("visitors")?,
        visits: get("visits")?,
        pageviews: get("pageviews")?,
        bounces: get("bounces")?,
        duration_seconds: get("duration_seconds")?,
        events: get("events")?,
    })
}

/// The rows of `stats_totals` that stand for the whole site, or for what a filter matches:
/// the filter's own row. Imported history joins the whole site's and a page's.
fn totals_rows(filter: Option<&Filter>) -> (Vec<&'static str>, String) {
    match filter {
        None => (vec!["", IMPORTED], String::new()),
        Some(f) if f.dimension == Dimension::Page => {
            (vec![Dimension::Page.code(), IMPORTED_PAGE], f.value.clone())
        }
        Some(f) => (vec![f.dimension.code()], f.value.clone()),
    }
}

fn push_dimensions(q: &mut QueryBuilder<Sqlite>, dimensions: &[&'static str]) {
    q.push(" AND dimension IN (");
    let mut list = q.separated(", ");
    for d in dimensions {
        list.push_bind(*d);
    }
    q.push(")");
}

/// The buckets of `range`. One value's day rows (a filter's) are sought day by day, since
/// the key puts every value of a bucket before the next bucket; any other read takes the
/// stretch.
fn push_buckets(q: &mut QueryBuilder<Sqlite>, grain: Grain, range: Range, one_value: bool) {
    if one_value
        && grain == Grain::Day
        && let Some(days) = span::day_starts(range)
        && !days.is_empty()
    {
        q.push(" AND bucket IN (");
        let mut list = q.separated(", ");
        for d in days {
            list.push_bind(unix(d));
        }
        q.push(")");
        return;
    }
    q.push(" AND bucket >= ")
        .push_bind(unix(range.from))
        .push(" AND bucket < ")
        .push_bind(unix(range.to));
}

/// `SELECT value, sums` over `range` of the rows of `dimensions` (only `value`'s when
/// given), read in the fewest buckets: whole months, whole weeks and days
/// (`stats::span::scans`), each piece a range of the key, all added up by value. Imported
/// history is kept in day rows only and read from them.
fn spans_sum(
    dimensions: &[&'static str],
    value: Option<String>,
    range: Range,
) -> QueryBuilder<Sqlite> {
    let mut q = QueryBuilder::<Sqlite>::new(format!("SELECT value, {SUMS} FROM ("));
    let mut first = true;
    for d in dimensions {
        let scans = if *d == IMPORTED || *d == IMPORTED_PAGE {
            vec![(Grain::Day.code(), range.from, range.to)]
        } else {
            span::scans(range)
        };
        for (grain, from, to) in scans {
            if !first {
                q.push(" UNION ALL ");
            }
            first = false;
            q.push(
                "SELECT value, visitors, visits, pageviews, bounces, duration_seconds, events \
                 FROM stats_totals WHERE grain = ",
            )
            .push_bind(grain)
            .push(" AND dimension = ")
            .push_bind(*d)
            .push(" AND bucket >= ")
            .push_bind(unix(from))
            .push(" AND bucket < ")
            .push_bind(unix(to));
            if let Some(v) = &value {
                q.push(" AND value = ").push_bind(v.clone());
            }
        }
    }
    q.push(") AS pieces");
    q
}

/// `SELECT value, sums` of `dimension`'s values among what matches `f` over `range`, from
/// the pairs: each bucket a seek to its rows for the filter and panel (the keys begin with
/// the bucket). Days rolled into weeks and months are read from those
/// (`stats::span::pair_pieces`); a very long range is one stretch of the daily pairs.
fn pairs_sum(
    f: &Filter,
    dimension: Dimension,
    range: Range,
    rolled: Option<time::Date>,
) -> QueryBuilder<Sqlite> {
    let mut q = QueryBuilder::<Sqlite>::new(format!("SELECT value, {SUMS} FROM ("));
    let columns = "SELECT value, visitors, visits, pageviews, bounces, duration_seconds, events";
    let Some(pieces) = span::pair_pieces(range, rolled) else {
        q.push(columns)
            .push(" FROM stats_pairs WHERE day >= ")
            .push_bind(unix(range.from))
            .push(" AND day < ")
            .push_bind(unix(range.to));
        push_pair_filter(&mut q, f, dimension);
        q.push(") AS pieces");
        return q;
    };
    let mut first = true;
    for (grain, starts) in pieces.iter().filter(|(_, s)| !s.is_empty()) {
        if !first {
            q.push(" UNION ALL ");
        }
        first = false;
        q.push(columns);
        if *grain == Grain::Day.code() {
            q.push(" FROM stats_pairs WHERE day IN (");
        } else {
            q.push(" FROM stats_pair_spans WHERE grain = ")
                .push_bind(*grain)
                .push(" AND bucket IN (");
        }
        let mut list = q.separated(", ");
        for start in starts {
            list.push_bind(unix(*start));
        }
        q.push(")");
        push_pair_filter(&mut q, f, dimension);
    }
    if first {
        q.push(columns).push(" FROM stats_pairs WHERE 0");
    }
    q.push(") AS pieces");
    q
}

fn push_pair_filter(q: &mut QueryBuilder<Sqlite>, f: &Filter, dimension: Dimension) {
    q.push(" AND filter_dimension = ")
        .push_bind(f.dimension.code())
        .push(" AND filter_value = ")
        .push_bind(f.value.clone())
        .push(" AND dimension = ")
        .push_bind(dimension.code());
}

#[async_trait]
impl StatsReportStore for SqliteStore {
    async fn stats_summary(
        &self,
        range: Range,
        grain: Grain,
        filter: Option<&Filter>,
    ) -> StoreResult<Summary> {
        let (dimensions, value) = totals_rows(filter);
        // The range's figures always come from its days: uniques add up across days, not
        // across hours.
        let mut q = QueryBuilder::<Sqlite>::new(format!(
            "SELECT {SUMS} FROM stats_totals WHERE grain = 'day'"
        ));
        push_dimensions(&mut q, &dimensions);
        push_buckets(&mut q, Grain::Day, range, filter.is_some());
        q.push(" AND value = ").push_bind(value.clone());
        let row = q.build().fetch_one(&self.reader).await.map_err(db)?;
        let totals = metrics(&row)?;

        let mut q = QueryBuilder::<Sqlite>::new(format!(
            "SELECT bucket, {SUMS} FROM stats_totals WHERE grain = "
        ));
        q.push_bind(grain.code());
        push_dimensions(&mut q, &dimensions);
        push_buckets(&mut q, grain, range, filter.is_some());
        q.push(" AND value = ")
            .push_bind(value)
            .push(" GROUP BY bucket ORDER BY bucket");
        let rows = q.build().fetch_all(&self.reader).await.map_err(db)?;
        let series = rows
            .iter()
            .map(|r| {
                Ok(Point {
                    bucket: from_unix(r.try_get("bucket").map_err(db)?)?,
                    metrics: metrics(r)?,
                })
            })
            .collect::<StoreResult<Vec<_>>>()?;
        Ok(Summary { totals, series })
    }

    async fn stats_breakdown(
        &self,
        range: Range,
        dimension: Dimension,
        filter: Option<&Filter>,
        limit: u32,
    ) -> StoreResult<Vec<Row>> {
        let mut q = match filter {
            // The filter's own dimension: only its value matches.
            Some(f) if f.dimension == dimension => {
                let (dimensions, value) = totals_rows(Some(f));
                spans_sum(&dimensions, Some(value), range)
            }
            Some(f) => {
                let rolled = crate::stats_ingest::pairs_rolled(&self.reader).await?;
                pairs_sum(f, dimension, range, rolled)
            }
            None => {
                let dimensions = if dimension == Dimension::Page {
                    vec![Dimension::Page.code(), IMPORTED_PAGE]
                } else {
                    vec![dimension.code()]
                };
                spans_sum(&dimensions, None, range)
            }
        };
        q.push(
            " GROUP BY value ORDER BY SUM(visitors) DESC, SUM(pageviews) DESC, \
             SUM(events) DESC, value LIMIT ",
        )
        .push_bind(i64::from(limit));
        let rows = q.build().fetch_all(&self.reader).await.map_err(db)?;
        rows.iter()
            .map(|r| {
                Ok(Row {
                    value: r.try_get("value").map_err(db)?,
                    metrics: metrics(r)?,
                })
            })
            .collect()
    }

    async fn import_history(&self, rows: &[HistoryRow]) -> StoreResult<u64> {
        // One row per page and day: rows repeated in one call are added together.
        let mut merged: BTreeMap<(time::Date, &str), i64> = BTreeMap::new();
        for r in rows {
            let n = merged.entry((r.day, r.path.as_str())).or_insert(0);
            *n = n.saturating_add(r.pageviews.max(0));
        }
        let rows: Vec<HistoryRow> = merged
            .into_iter()
            .map(|((day, path), pageviews)| HistoryRow {
                day,
                path: path.to_owned(),
                pageviews,
            })
            .collect();
        let mut tx = self.writer.begin().await.map_err(db)?;
        for chunk in rows.chunks(500) {
            let mut q = QueryBuilder::<Sqlite>::new(
                "INSERT INTO stats_totals (grain, dimension, bucket, value, pageviews) ",
            );
            q.push_values(chunk, |mut b, r| {
                b.push_bind("day")
                    .push_bind(IMPORTED_PAGE)
                    .push_bind(unix(uk_start_of_day(r.day)))
                    .push_bind(&r.path)
                    .push_bind(r.pageviews);
            });
            // A day imported again replaces what it said before.
            q.push(
                " ON CONFLICT (grain, dimension, bucket, value) \
                 DO UPDATE SET pageviews = excluded.pageviews",
            );
            q.build().execute(&mut *tx).await.map_err(db)?;
        }
        let days: BTreeSet<i64> = rows.iter().map(|r| unix(uk_start_of_day(r.day))).collect();
        for day in days {
            sqlx::query(
                "INSERT INTO stats_totals (grain, dimension, bucket, value, pageviews)
                 SELECT 'day', ?, ?, '', COALESCE(SUM(pageviews), 0) FROM stats_totals
                 WHERE grain = 'day' AND dimension = ? AND bucket = ?
                 ON CONFLICT (grain, dimension, bucket, value)
                 DO UPDATE SET pageviews = excluded.pageviews",
            )
            .bind(IMPORTED)
            .bind(day)
            .bind(IMPORTED_PAGE)
            .bind(day)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        }
        tx.commit().await.map_err(db)?;
        Ok(u64::try_from(rows.len()).unwrap_or(u64::MAX))
    }

    async fn imported_pageviews(&self, range: Range) -> StoreResult<i64> {
        let n: Option<i64> = sqlx::query_scalar(
            "SELECT SUM(pageviews) FROM stats_totals
             WHERE grain = 'day' AND dimension = ? AND bucket >= ? AND bucket < ?",
        )
        .bind(IMPORTED)
        .bind(unix(range.from))
        .bind(unix(range.to))
        .fetch_one(&self.reader)
        .await
        .map_err(db)?;
        Ok(n.unwrap_or(0))
    }
}
