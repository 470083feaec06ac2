-- Daily pairs keyed by their day first (stats::fold, stats_report).
--
-- A fold adds to the pairs of the day it folds. Keyed by filter first, a day's entries lay
-- scattered across the whole key index, a page touched for almost every row added; keyed by
-- day first they lie together at its end. A filtered panel now seeks each day of its range
-- (`day = ANY(...)`), and retention deletes a prefix of the key.
ALTER TABLE stats_pairs DROP CONSTRAINT stats_pairs_pkey;
ALTER TABLE stats_pairs ADD CONSTRAINT stats_pairs_pkey
    PRIMARY KEY (day, filter_dimension, filter_value, dimension, value);
DROP INDEX IF EXISTS stats_pairs_day;
