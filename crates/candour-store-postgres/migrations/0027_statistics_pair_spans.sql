-- Week and month pairs (stats::span::pair_pieces, stats_ingest::roll_pairs).
--
-- Once a UK day is over (no hit of it waits and no visit begun on it is open), its daily pairs
-- are added into the pairs of its week (Monday first) and its month, so a filtered panel over
-- a long range reads a few buckets per value instead of every day. Keyed by bucket first, as
-- the daily pairs are by day; the counts ride in the key's index for index-only reads.
CREATE TABLE stats_pair_spans (
    grain TEXT NOT NULL CHECK (grain IN ('week', 'month')),
    bucket timestamptz NOT NULL,
    filter_dimension TEXT NOT NULL,
    filter_value TEXT NOT NULL,
    dimension TEXT NOT NULL,
    value TEXT NOT NULL,
    visitors bigint NOT NULL DEFAULT 0,
    visits bigint NOT NULL DEFAULT 0,
    pageviews bigint NOT NULL DEFAULT 0,
    bounces bigint NOT NULL DEFAULT 0,
    duration_seconds bigint NOT NULL DEFAULT 0,
    events bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (grain, bucket, filter_dimension, filter_value, dimension, value)
        INCLUDE (visitors, visits, pageviews, bounces, duration_seconds, events)
);

-- The first UK day whose pairs are not yet in stats_pair_spans: every day before it is. No
-- row until the first fold after this migration, which adds every day kept so far.
CREATE TABLE stats_pairs_rolled (
    id integer PRIMARY KEY CHECK (id = 1),
    until date NOT NULL
);
