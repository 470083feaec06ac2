-- Statistics at scale (stats::span, stats::fold).
--
-- 1. stats_totals also keeps week (Monday first) and month rows, each the sum of its UK days'
--    rows, so a long range reads a few buckets per value. The grain check is widened (SQLite
--    cannot alter a check: the table is rebuilt), and the week and month rows are built from
--    the day rows already kept. Imported history stays in day rows only.
CREATE TABLE stats_totals_new (
    grain TEXT NOT NULL CHECK (grain IN ('hour', 'day', 'week', 'month')),
    dimension TEXT NOT NULL,
    bucket INTEGER NOT NULL,
    value TEXT NOT NULL,
    visitors INTEGER NOT NULL DEFAULT 0,
    visits INTEGER NOT NULL DEFAULT 0,
    pageviews INTEGER NOT NULL DEFAULT 0,
    bounces INTEGER NOT NULL DEFAULT 0,
    duration_seconds INTEGER NOT NULL DEFAULT 0,
    events INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (grain, dimension, bucket, value)
) WITHOUT ROWID;
INSERT INTO stats_totals_new
    SELECT grain, dimension, bucket, value, visitors, visits, pageviews, bounces,
           duration_seconds, events
    FROM stats_totals;
DROP TABLE stats_totals;
ALTER TABLE stats_totals_new RENAME TO stats_totals;
CREATE INDEX stats_totals_bucket ON stats_totals (bucket);

-- A day bucket starts at UK midnight: 00:00 UTC, or 23:00 UTC the day before in summer time;
-- two hours on is always inside its UK date. A span's start is a UK date, stored as its UK
-- midnight: an hour before UTC midnight when that date is in summer time (after the last
-- Sunday of March, up to and including the last Sunday of October).
WITH days AS (
    SELECT date(bucket + 7200, 'unixepoch') AS d, dimension, value, visitors, visits,
           pageviews, bounces, duration_seconds, events
    FROM stats_totals
    WHERE grain = 'day' AND dimension NOT IN ('imported', 'imported_page')
), spans AS (
    SELECT 'week' AS grain,
           date(d, '-' || ((CAST(strftime('%w', d) AS INTEGER) + 6) % 7) || ' days') AS s,
           dimension, value, visitors, visits, pageviews, bounces, duration_seconds, events
    FROM days
    UNION ALL
    SELECT 'month', date(d, 'start of month'), dimension, value, visitors, visits, pageviews,
           bounces, duration_seconds, events
    FROM days
)
INSERT INTO stats_totals (grain, dimension, bucket, value, visitors, visits, pageviews,
                          bounces, duration_seconds, events)
SELECT grain, dimension,
       CAST(strftime('%s', s) AS INTEGER)
         - CASE WHEN s > date(strftime('%Y', s) || '-03-31', '-6 days', 'weekday 0')
                 AND s <= date(strftime('%Y', s) || '-10-31', '-6 days', 'weekday 0')
           THEN 3600 ELSE 0 END,
       value, SUM(visitors), SUM(visits), SUM(pageviews), SUM(bounces),
       SUM(duration_seconds), SUM(events)
FROM spans
GROUP BY grain, s, dimension, value;

-- 2. "Already counted" marks: one row per visitor's day hash and UK day holding its marks
--    (8 bytes each, ascending), read and rewritten once per fold, instead of one row per
--    mark. Marks written before this change cannot be carried over (they were keyed by the
--    day hash, which is not stored with them): a visitor already counted on the day of the
--    upgrade may be counted once more that day.
DROP TABLE stats_seen;
CREATE TABLE stats_seen (
    visitor BLOB NOT NULL CHECK (length(visitor) = 16),
    day TEXT NOT NULL,
    marks BLOB NOT NULL,
    PRIMARY KEY (visitor, day)
) WITHOUT ROWID;
