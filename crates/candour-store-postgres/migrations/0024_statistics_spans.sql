-- Statistics at scale (stats::span, stats::fold).
--
-- 1. stats_totals also keeps week (Monday first) and month rows, each the sum of its UK days'
--    rows, so a long range reads a few buckets per value; built here from the day rows
--    already kept. Imported history stays in day rows only.
ALTER TABLE stats_totals DROP CONSTRAINT IF EXISTS stats_totals_grain_check;
ALTER TABLE stats_totals ADD CONSTRAINT stats_totals_grain_check
    CHECK (grain IN ('hour', 'day', 'week', 'month'));
INSERT INTO stats_totals (grain, dimension, bucket, value, visitors, visits, pageviews,
                          bounces, duration_seconds, events)
SELECT s.grain, t.dimension,
       date_trunc(s.unit, t.bucket AT TIME ZONE 'Europe/London') AT TIME ZONE 'Europe/London',
       t.value, SUM(t.visitors), SUM(t.visits), SUM(t.pageviews), SUM(t.bounces),
       SUM(t.duration_seconds), SUM(t.events)
FROM stats_totals t
CROSS JOIN (VALUES ('week', 'week'), ('month', 'month')) AS s (grain, unit)
WHERE t.grain = 'day' AND t.dimension NOT IN ('imported', 'imported_page')
GROUP BY 1, 2, 3, 4;

-- The dashboard's panels sum a range of one dimension by value: with the counts carried in
-- the key's index, that is an index-only scan once the table is vacuumed.
ALTER TABLE stats_totals DROP CONSTRAINT stats_totals_pkey;
ALTER TABLE stats_totals ADD CONSTRAINT stats_totals_pkey
    PRIMARY KEY (grain, dimension, bucket, value)
    INCLUDE (visitors, visits, pageviews, bounces, duration_seconds, events);

-- 2. "Already counted" marks: one row per visitor's day hash and UK day holding its marks
--    (8 bytes each, ascending), read and rewritten once per fold, instead of one row per
--    mark. Marks written before this change cannot be carried over: a visitor already
--    counted on the day of the upgrade may be counted once more that day.
DROP TABLE stats_seen;
CREATE TABLE stats_seen (
    visitor bytea NOT NULL CHECK (length(visitor) = 16),
    day date NOT NULL,
    marks bytea NOT NULL,
    PRIMARY KEY (visitor, day)
);
