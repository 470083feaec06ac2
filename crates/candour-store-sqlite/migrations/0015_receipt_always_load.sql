-- Receipts also record the providers a visitor chose to load media from always (slugs
-- separated by spaces), and a choice can be made with "Always load" on an embed. SQLite
-- cannot change a CHECK, so the table is rebuilt with its rows.
CREATE TABLE consent_receipts_new (
    id              TEXT PRIMARY KEY NOT NULL,
    recorded_at     INTEGER NOT NULL,
    policy_version  TEXT NOT NULL,
    mode            TEXT NOT NULL CHECK (mode IN ('opt-in', 'implied')),
    method          TEXT NOT NULL CHECK (method IN ('banner', 'settings', 'embed')),
    gpc             INTEGER NOT NULL CHECK (gpc IN (0, 1)),
    preferences     INTEGER NOT NULL CHECK (preferences IN (0, 1)),
    statistics      INTEGER NOT NULL CHECK (statistics IN (0, 1)),
    marketing       INTEGER NOT NULL CHECK (marketing IN (0, 1)),
    always_load     TEXT NOT NULL DEFAULT ''
) STRICT;

INSERT INTO consent_receipts_new
    (id, recorded_at, policy_version, mode, method, gpc, preferences, statistics, marketing)
SELECT id, recorded_at, policy_version, mode, method, gpc, preferences, statistics, marketing
FROM consent_receipts;

DROP TABLE consent_receipts;
ALTER TABLE consent_receipts_new RENAME TO consent_receipts;
CREATE INDEX consent_receipts_recorded_at ON consent_receipts (recorded_at);
