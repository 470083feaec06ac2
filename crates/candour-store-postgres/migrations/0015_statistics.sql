-- Cookieless site statistics. UK days are dates; buckets are timestamptz.
-- No table holds an address. The day hashes (visitor, and the marks derived from it) are
-- deleted with their day's salt once the day is over.

-- The day's random salt for visitors' day hashes.
CREATE TABLE stats_salts (
    day date PRIMARY KEY,
    salt bytea NOT NULL
);

-- Hits waiting to be folded into totals (seconds to minutes).
CREATE TABLE stats_hits (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at timestamptz NOT NULL,
    -- '' for a page view, else the event's name.
    event TEXT NOT NULL DEFAULT '',
    path TEXT NOT NULL,
    visitor bytea NOT NULL CHECK (octet_length(visitor) = 16),
    referrer TEXT,
    utm_source TEXT,
    utm_medium TEXT,
    utm_campaign TEXT,
    browser TEXT,
    os TEXT,
    device TEXT,
    country TEXT
);
CREATE INDEX stats_hits_at ON stats_hits (at);

-- Visits not yet ended, one per visitor's day hash.
CREATE TABLE stats_visits (
    visitor bytea PRIMARY KEY CHECK (octet_length(visitor) = 16),
    day date NOT NULL,
    started timestamptz NOT NULL,
    last_seen timestamptz NOT NULL,
    entry TEXT NOT NULL,
    exit TEXT NOT NULL,
    pageviews bigint NOT NULL,
    events bigint NOT NULL,
    source TEXT NOT NULL,
    utm_source TEXT,
    utm_medium TEXT,
    utm_campaign TEXT,
    browser TEXT,
    os TEXT,
    device TEXT,
    country TEXT
);
CREATE INDEX stats_visits_last_seen ON stats_visits (last_seen);

-- "Already counted": a hash of (visitor's day hash, bucket, row) per unique visitor counted.
CREATE TABLE stats_seen (
    day date NOT NULL,
    mark bytea NOT NULL,
    PRIMARY KEY (day, mark)
);

-- Totals per hour (UTC) and per UK day (bucket = its start), per dimension
-- value; dimension '' with value '' is the whole site. The key serves "a range of one
-- dimension, summed by value".
CREATE TABLE stats_totals (
    grain TEXT NOT NULL CHECK (grain IN ('hour', 'day')),
    dimension TEXT NOT NULL,
    bucket timestamptz NOT NULL,
    value TEXT NOT NULL,
    visitors bigint NOT NULL DEFAULT 0,
    visits bigint NOT NULL DEFAULT 0,
    pageviews bigint NOT NULL DEFAULT 0,
    bounces bigint NOT NULL DEFAULT 0,
    duration_seconds bigint NOT NULL DEFAULT 0,
    events bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (grain, dimension, bucket, value)
);

-- Daily figures of one dimension's values among what matches another's value: a filtered
-- panel is read from here, not from hits.
CREATE TABLE stats_pairs (
    filter_dimension TEXT NOT NULL,
    filter_value TEXT NOT NULL,
    dimension TEXT NOT NULL,
    day timestamptz NOT NULL,
    value TEXT NOT NULL,
    visitors bigint NOT NULL DEFAULT 0,
    visits bigint NOT NULL DEFAULT 0,
    pageviews bigint NOT NULL DEFAULT 0,
    bounces bigint NOT NULL DEFAULT 0,
    duration_seconds bigint NOT NULL DEFAULT 0,
    events bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (filter_dimension, filter_value, dimension, day, value)
);
-- Retention deletes by day.
CREATE INDEX stats_pairs_day ON stats_pairs (day);
CREATE INDEX stats_totals_bucket ON stats_totals (bucket);
