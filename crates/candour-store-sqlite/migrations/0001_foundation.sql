-- Keys the server signs with (cookies, links), shared by every process on this file.
CREATE TABLE server_keys (
    name        TEXT PRIMARY KEY NOT NULL,
    key         BLOB NOT NULL,
    created_at  INTEGER NOT NULL DEFAULT (unixepoch())
) STRICT;

-- One row per cookie choice. No IP address, no account: the id is random.
CREATE TABLE consent_receipts (
    id              TEXT PRIMARY KEY NOT NULL,
    recorded_at     INTEGER NOT NULL,
    policy_version  TEXT NOT NULL,
    mode            TEXT NOT NULL CHECK (mode IN ('opt-in', 'implied')),
    method          TEXT NOT NULL CHECK (method IN ('banner', 'settings')),
    gpc             INTEGER NOT NULL CHECK (gpc IN (0, 1)),
    preferences     INTEGER NOT NULL CHECK (preferences IN (0, 1)),
    statistics      INTEGER NOT NULL CHECK (statistics IN (0, 1)),
    marketing       INTEGER NOT NULL CHECK (marketing IN (0, 1))
) STRICT;

CREATE INDEX consent_receipts_recorded_at ON consent_receipts (recorded_at);
