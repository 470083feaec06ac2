-- Email campaigns. A campaign's text never changes once it is scheduled; its messages are
-- one row each in `deliveries`, the queue the workers claim from.
CREATE TABLE campaigns (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    name             TEXT NOT NULL,
    subject          TEXT NOT NULL,
    preheader        TEXT NOT NULL DEFAULT '',
    body             TEXT NOT NULL,
    purpose          TEXT NOT NULL,
    interests        TEXT NOT NULL DEFAULT '',
    postcode_areas   TEXT NOT NULL DEFAULT '',
    follow_up_of     INTEGER REFERENCES campaigns (id),
    follow_up_days   INTEGER,
    state            TEXT NOT NULL CHECK (state IN ('draft', 'scheduled', 'sending', 'sent')),
    scheduled_at     INTEGER,
    links            TEXT NOT NULL DEFAULT '[]',
    created_at       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL,
    started_at       INTEGER,
    finished_at      INTEGER,
    reduced_at       INTEGER
) STRICT;
CREATE INDEX campaigns_due ON campaigns (state, scheduled_at);

-- One message to one person. The address is read from `people` when it is sent, so an
-- erased person leaves only an unlinked row (the count stays right).
CREATE TABLE deliveries (
    id               INTEGER PRIMARY KEY,
    campaign_id      INTEGER NOT NULL REFERENCES campaigns (id),
    person_id        INTEGER REFERENCES people (id) ON DELETE SET NULL,
    state            TEXT NOT NULL CHECK (state IN ('queued', 'sending', 'sent', 'failed', 'skipped')),
    attempts         INTEGER NOT NULL DEFAULT 0,
    queued_at        INTEGER NOT NULL,
    next_attempt_at  INTEGER NOT NULL,
    lease_until      INTEGER,
    worker           TEXT,
    reclaimed        INTEGER NOT NULL DEFAULT 0,
    sent_at          INTEGER,
    tracked          INTEGER NOT NULL DEFAULT 0 CHECK (tracked IN (0, 1)),
    bounced          INTEGER NOT NULL DEFAULT 0 CHECK (bounced IN (0, 1)),
    outcome          TEXT NOT NULL DEFAULT '',
    unsubscribed_at  INTEGER,
    UNIQUE (campaign_id, person_id)
) STRICT;
CREATE INDEX deliveries_due ON deliveries (state, next_attempt_at);
CREATE INDEX deliveries_person ON deliveries (person_id);

-- Opens and clicks, kept per recipient (only those who consented to tracking) until the
-- campaign's events are reduced to `campaign_totals`.
CREATE TABLE tracking_events (
    id           INTEGER PRIMARY KEY,
    delivery_id  INTEGER NOT NULL REFERENCES deliveries (id),
    campaign_id  INTEGER NOT NULL,
    person_id    INTEGER REFERENCES people (id) ON DELETE SET NULL,
    kind         TEXT NOT NULL CHECK (kind IN ('open', 'click')),
    link         INTEGER NOT NULL DEFAULT 0,
    at           INTEGER NOT NULL,
    machine      INTEGER NOT NULL CHECK (machine IN (0, 1))
) STRICT;
CREATE INDEX tracking_events_campaign ON tracking_events (campaign_id, kind, at);
CREATE INDEX tracking_events_delivery ON tracking_events (delivery_id);
CREATE INDEX tracking_events_person ON tracking_events (person_id);

-- Opens and clicks of campaigns whose per-recipient events were reduced: per link, and
-- with `link` -1 for all opens and for all clicks.
CREATE TABLE campaign_totals (
    campaign_id          INTEGER NOT NULL REFERENCES campaigns (id),
    kind                 TEXT NOT NULL CHECK (kind IN ('open', 'click')),
    link                 INTEGER NOT NULL,
    events               INTEGER NOT NULL,
    reliable_events      INTEGER NOT NULL,
    recipients           INTEGER NOT NULL,
    reliable_recipients  INTEGER NOT NULL,
    PRIMARY KEY (campaign_id, kind, link)
) STRICT;
