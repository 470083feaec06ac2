-- Email campaigns. A campaign's text never changes once it is scheduled; its messages are
-- one row each in `deliveries`, the queue the workers of every instance claim from. Ids come
-- from identity sequences and are never reused: links in sent messages name deliveries and
-- campaigns long after they went out.
CREATE TABLE campaigns (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name             text NOT NULL,
    subject          text NOT NULL,
    preheader        text NOT NULL DEFAULT '',
    body             text NOT NULL,
    purpose          text NOT NULL,
    interests        text[] NOT NULL DEFAULT '{}',
    postcode_areas   text[] NOT NULL DEFAULT '{}',
    follow_up_of     bigint REFERENCES campaigns (id),
    follow_up_days   integer,
    state            text NOT NULL CHECK (state IN ('draft', 'scheduled', 'sending', 'sent')),
    scheduled_at     timestamptz,
    links            text[] NOT NULL DEFAULT '{}',
    created_at       timestamptz NOT NULL,
    updated_at       timestamptz NOT NULL,
    started_at       timestamptz,
    finished_at      timestamptz,
    reduced_at       timestamptz
);
CREATE INDEX campaigns_due ON campaigns (scheduled_at) WHERE state = 'scheduled';

-- One message to one person. The address is read from `people` when it is sent, so an
-- erased person leaves only an unlinked row (the count stays right). `reclaimed` counts the
-- times a worker's lease ran out and another took the message over.
CREATE TABLE deliveries (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    campaign_id      bigint NOT NULL REFERENCES campaigns (id),
    person_id        bigint REFERENCES people (id) ON DELETE SET NULL,
    state            text NOT NULL CHECK (state IN ('queued', 'sending', 'sent', 'failed', 'skipped')),
    attempts         integer NOT NULL DEFAULT 0,
    queued_at        timestamptz NOT NULL,
    next_attempt_at  timestamptz NOT NULL,
    lease_until      timestamptz,
    worker           text,
    reclaimed        integer NOT NULL DEFAULT 0,
    sent_at          timestamptz,
    tracked          boolean NOT NULL DEFAULT false,
    bounced          boolean NOT NULL DEFAULT false,
    outcome          text NOT NULL DEFAULT '',
    unsubscribed_at  timestamptz,
    UNIQUE (campaign_id, person_id)
);
-- The two ways a message becomes due, each with an index the claim can scan: the queue
-- stays small however many messages were ever sent.
CREATE INDEX deliveries_queued ON deliveries (next_attempt_at) WHERE state = 'queued';
CREATE INDEX deliveries_leased ON deliveries (lease_until) WHERE state = 'sending';
CREATE INDEX deliveries_person ON deliveries (person_id);

-- Opens and clicks, kept per recipient (only those who consented to tracking) until the
-- campaign's events are reduced to `campaign_totals`.
CREATE TABLE tracking_events (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    delivery_id  bigint NOT NULL REFERENCES deliveries (id),
    campaign_id  bigint NOT NULL,
    person_id    bigint REFERENCES people (id) ON DELETE SET NULL,
    kind         text NOT NULL CHECK (kind IN ('open', 'click')),
    link         integer NOT NULL DEFAULT 0,
    at           timestamptz NOT NULL,
    machine      boolean NOT NULL
);
CREATE INDEX tracking_events_campaign ON tracking_events (campaign_id, kind, at);
CREATE INDEX tracking_events_delivery ON tracking_events (delivery_id);
CREATE INDEX tracking_events_person ON tracking_events (person_id);

-- Opens and clicks of campaigns whose per-recipient events were reduced: per link, and
-- with `link` -1 for all opens and for all clicks.
CREATE TABLE campaign_totals (
    campaign_id          bigint NOT NULL REFERENCES campaigns (id),
    kind                 text NOT NULL CHECK (kind IN ('open', 'click')),
    link                 integer NOT NULL,
    events               bigint NOT NULL,
    reliable_events      bigint NOT NULL,
    recipients           bigint NOT NULL,
    reliable_recipients  bigint NOT NULL,
    PRIMARY KEY (campaign_id, kind, link)
);
