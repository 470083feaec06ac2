-- Accounts for the public and for staff. Profile fields are what people give us, each with
-- a purpose on the profile page.
CREATE TABLE accounts (
    id              INTEGER PRIMARY KEY,
    email           TEXT NOT NULL UNIQUE,
    email_verified  INTEGER NOT NULL DEFAULT 0 CHECK (email_verified IN (0, 1)),
    password_hash   TEXT NOT NULL,
    role            TEXT CHECK (role IN ('admin', 'editor', 'privacy-officer')),
    name            TEXT NOT NULL DEFAULT '',
    job_title       TEXT NOT NULL DEFAULT '',
    phone           TEXT,
    postal_address  TEXT NOT NULL DEFAULT '',
    postcode        TEXT,
    interests       TEXT NOT NULL DEFAULT '',
    totp_secret     BLOB,
    totp_last_step  INTEGER,
    created_at      INTEGER NOT NULL
) STRICT;

-- Sign-in sessions: only the SHA-256 of the cookie's secret is stored.
CREATE TABLE sessions (
    hash          BLOB PRIMARY KEY,
    account_id    INTEGER NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    created_at    INTEGER NOT NULL,
    last_seen_at  INTEGER NOT NULL
) STRICT;
CREATE INDEX sessions_account ON sessions (account_id);
CREATE INDEX sessions_last_seen ON sessions (last_seen_at);

-- Single-use links sent by email: only the SHA-256 of the secret is stored.
CREATE TABLE email_links (
    hash        BLOB PRIMARY KEY,
    purpose     TEXT NOT NULL CHECK (purpose IN ('verify-email', 'reset-password', 'change-email')),
    account_id  INTEGER NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    new_email   TEXT,
    expires_at  INTEGER NOT NULL,
    used_at     INTEGER
) STRICT;
CREATE INDEX email_links_account ON email_links (account_id);

-- Recovery codes for the second factor: hashes only; a used code is deleted.
CREATE TABLE recovery_codes (
    account_id  INTEGER NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    hash        BLOB NOT NULL,
    PRIMARY KEY (account_id, hash)
) STRICT;

-- What staff did. No foreign key: the log outlives the accounts it names.
CREATE TABLE audit_log (
    id           INTEGER PRIMARY KEY,
    at           INTEGER NOT NULL,
    actor_id     INTEGER,
    actor_email  TEXT NOT NULL,
    action       TEXT NOT NULL,
    target       TEXT NOT NULL,
    detail       TEXT NOT NULL
) STRICT;
CREATE INDEX audit_log_at ON audit_log (at);

-- Fixed-window counters for rate limits, shared by every process.
CREATE TABLE rate_limits (
    key           TEXT NOT NULL,
    window_start  INTEGER NOT NULL,
    count         INTEGER NOT NULL,
    PRIMARY KEY (key, window_start)
) STRICT;
