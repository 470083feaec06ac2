-- Daily pairs keyed by their day first (stats::fold, stats_report).
--
-- A fold adds to the pairs of the day it folds. Keyed by filter first, a day's rows lay
-- scattered across the whole table, one page touched (and copied into the WAL) for almost
-- every row added; keyed by day first they lie together at the table's end. A filtered panel
-- now seeks each day of its range (`day IN (...)`), and retention deletes a prefix of the key.
CREATE TABLE stats_pairs_new (
    day INTEGER NOT NULL,
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
    PRIMARY KEY (day, filter_dimension, filter_value, dimension, value)
) WITHOUT ROWID;
INSERT INTO stats_pairs_new (day, filter_dimension, filter_value, dimension, value, visitors,
                             visits, pageviews, bounces, duration_seconds, events)
    SELECT day, filter_dimension, filter_value, dimension, value, visitors, visits, pageviews,
           bounces, duration_seconds, events
    FROM stats_pairs;
DROP TABLE stats_pairs;
ALTER TABLE stats_pairs_new RENAME TO stats_pairs;
