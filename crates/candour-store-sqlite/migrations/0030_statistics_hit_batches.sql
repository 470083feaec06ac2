-- Waiting statistics hits are kept a batch to a row: each group commit of the hit queue is
-- one insert, and a fold reads and deletes a few rows instead of one per hit (see
-- src/stats_waiting.rs). `hits` is a JSON array of the batch's hits in arrival order, each
-- [at, event, path, visitor (lowercase hex), referrer, utm_source, utm_medium,
-- utm_campaign, browser, os, device, country]. The few columns before it are read without
-- the JSON: the batch's earliest and latest hit (Unix seconds), and how many hits it holds.
CREATE TABLE stats_hit_batches (
    id INTEGER PRIMARY KEY,
    first_at INTEGER NOT NULL,
    last_at INTEGER NOT NULL,
    count INTEGER NOT NULL CHECK (count > 0),
    hits TEXT NOT NULL
);

-- What was waiting, as one batch in the order it arrived.
INSERT INTO stats_hit_batches (first_at, last_at, count, hits)
SELECT MIN(at), MAX(at), COUNT(*),
       json_group_array(json_array(at, event, path, lower(hex(visitor)), referrer,
           utm_source, utm_medium, utm_campaign, browser, os, device, country) ORDER BY id)
FROM stats_hits
HAVING COUNT(*) > 0;

DROP TABLE stats_hits;
ALTER TABLE stats_hit_batches RENAME TO stats_hits;
