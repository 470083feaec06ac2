-- Accounts for the public and for staff.
CREATE TABLE accounts (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    email           text NOT NULL UNIQUE,
    email_verified  boolean NOT NULL DEFAULT false,
    password_hash   text NOT NULL,
    role            text CHECK (role IN ('admin', 'editor', 'privacy-officer')),
    name            text NOT NULL DEFAULT '',
    job_title       text NOT NULL DEFAULT '',
    phone           text,
    postal_address  text NOT NULL DEFAULT '',
    postcode        text,
    interests       text[] NOT NULL DEFAULT '{}',
    totp_secret     bytea,
    totp_last_step  bigint,
    created_at      timestamptz NOT NULL
);

-- Sign-in sessions: only the SHA-256 of the cookie's secret is stored.
CREATE TABLE sessions (
    hash          bytea PRIMARY KEY,
    account_id    bigint NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    created_at    timestamptz NOT NULL,
    last_seen_at  timestamptz NOT NULL
);
CREATE INDEX sessions_account ON sessions (account_id);
CREATE INDEX sessions_last_seen ON sessions (last_seen_at);

-- Single-use links sent by email: only the SHA-256 of the secret is stored.
CREATE TABLE email_links (
    hash        bytea PRIMARY KEY,
    purpose     text NOT NULL CHECK (purpose IN ('verify-email', 'reset-password', 'change-email')),
    account_id  bigint NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    new_email   text,
    expires_at  timestamptz NOT NULL,
    used_at     timestamptz
);
CREATE INDEX email_links_account ON email_links (account_id);

-- Recovery codes for the second factor: hashes only; a used code is deleted.
CREATE TABLE recovery_codes (
    account_id  bigint NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    hash        bytea NOT NULL,
    PRIMARY KEY (account_id, hash)
);

-- What staff did. No foreign key: the log outlives the accounts it names.
CREATE TABLE audit_log (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at           timestamptz NOT NULL,
    actor_id     bigint,
    actor_email  text NOT NULL,
    action       text NOT NULL,
    target       text NOT NULL,
    detail       text NOT NULL
);
CREATE INDEX audit_log_at ON audit_log (at);

-- Fixed-window counters for rate limits, shared by every instance.
CREATE TABLE rate_limits (
    key           text NOT NULL,
    window_start  timestamptz NOT NULL,
    count         integer NOT NULL,
    PRIMARY KEY (key, window_start)
);
