-- Week and month pairs (stats::span::pair_pieces, stats_ingest::roll_pairs).
--
-- Once a UK day is over (no hit of it waits and no visit begun on it is open), its daily pairs
-- are added into the pairs of its week (Monday first) and its month, so a filtered panel over
-- a long range reads a few buckets per value instead of every day. Keyed by bucket first, as
-- the daily pairs are by day: a day's rows are added into one stretch of the key.
CREATE TABLE stats_pair_spans (
    grain TEXT NOT NULL CHECK (grain IN ('week', 'month')),
    bucket INTEGER NOT NULL,
    filter_dimension TEXT NOT NULL,
    filter_value TEXT NOT NULL,
    dimension TEXT NOT NULL,
    value TEXT NOT NULL,
    visitors INTEGER NOT NULL DEFAULT 0,
    visits INTEGER NOT NULL DEFAULT 0,
    pageviews INTEGER NOT NULL DEFAULT 0,
    bounces INTEGER NOT NULL DEFAULT 0,
    duration_seconds INTEGER NOT NULL DEFAULT 0,
    events INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (grain, bucket, filter_dimension, filter_value, dimension, value)
) WITHOUT ROWID;

-- The first UK day ('YYYY-MM-DD') whose pairs are not yet in stats_pair_spans: every day
-- before it is. No row until the first fold after this migration, which adds every day kept
-- so far.
CREATE TABLE stats_pairs_rolled (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    until TEXT NOT NULL
);
