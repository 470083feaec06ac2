-- A campaign whose audience is still being queued, and how far: people are queued in
-- ascending id, one chunk per transaction, each chunk moving `after_person` on in the same
-- transaction (instances lock this row, never the campaign's). The row is deleted when the
-- last chunk is queued; until then the campaign is not marked sent.
CREATE TABLE campaign_queuing (
    campaign_id  bigint PRIMARY KEY REFERENCES campaigns (id),
    after_person bigint NOT NULL
);

-- Whether the worker holding a message has begun handing it to the relay (it renews the lease
-- with `begin` first). A message taken over from a worker that died counts as a possible
-- duplicate only if that worker had begun it.
ALTER TABLE deliveries ADD COLUMN begun boolean NOT NULL DEFAULT false;
