-- Keys the server signs with (cookies, links), shared by every instance.
CREATE TABLE server_keys (
    name        text PRIMARY KEY,
    key         bytea NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);

-- One row per cookie choice. No IP address, no account: the id is random.
CREATE TABLE consent_receipts (
    id              text PRIMARY KEY,
    recorded_at     timestamptz NOT NULL,
    policy_version  text NOT NULL,
    mode            text NOT NULL CHECK (mode IN ('opt-in', 'implied')),
    method          text NOT NULL CHECK (method IN ('banner', 'settings')),
    gpc             boolean NOT NULL,
    preferences     boolean NOT NULL,
    statistics      boolean NOT NULL,
    marketing       boolean NOT NULL
);

CREATE INDEX consent_receipts_recorded_at ON consent_receipts (recorded_at);
