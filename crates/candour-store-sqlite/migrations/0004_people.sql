-- People whose data the organisation holds, with or without an account. Ids of people, forms
-- and imports are never reused (AUTOINCREMENT): the ledger, the audit log and a preference
-- visit's signed cookie name them.
CREATE TABLE people (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    email           TEXT NOT NULL UNIQUE,
    name            TEXT NOT NULL DEFAULT '',
    job_title       TEXT NOT NULL DEFAULT '',
    phone           TEXT,
    postal_address  TEXT NOT NULL DEFAULT '',
    postcode        TEXT,
    interests       TEXT NOT NULL DEFAULT '',
    source          TEXT NOT NULL,
    account_id      INTEGER REFERENCES accounts (id) ON DELETE SET NULL,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL
) STRICT;
CREATE INDEX people_account ON people (account_id);

-- The exact words of consent boxes, stored once under their SHA-256.
CREATE TABLE consent_wordings (
    hash  BLOB PRIMARY KEY,
    text  TEXT NOT NULL
) STRICT;

-- The consent ledger. Append-only: rows are never changed, and deleted only when their
-- person is erased (the cascade from people).
CREATE TABLE consent_events (
    id            INTEGER PRIMARY KEY,
    person_id     INTEGER NOT NULL REFERENCES people (id) ON DELETE CASCADE,
    purpose       TEXT NOT NULL,
    channel       TEXT CHECK (channel IN ('email', 'phone', 'post', 'fax')),
    granted       INTEGER NOT NULL CHECK (granted IN (0, 1)),
    at            INTEGER NOT NULL,
    method        TEXT NOT NULL,
    wording_hash  BLOB REFERENCES consent_wordings (hash),
    actor_id      INTEGER,
    note          TEXT NOT NULL DEFAULT ''
) STRICT;
CREATE INDEX consent_events_person ON consent_events (person_id, at, id);

CREATE TRIGGER consent_events_append_only_update BEFORE UPDATE ON consent_events
BEGIN
    SELECT RAISE(ABORT, 'the consent ledger is append-only');
END;

CREATE TRIGGER consent_events_append_only_delete BEFORE DELETE ON consent_events
WHEN EXISTS (SELECT 1 FROM people WHERE id = OLD.person_id)
BEGIN
    SELECT RAISE(ABORT, 'the consent ledger is append-only');
END;

-- Objections to direct marketing, per channel, under a one-way code of the address.
CREATE TABLE suppressions (
    email_key  BLOB NOT NULL,
    channel    TEXT NOT NULL CHECK (channel IN ('email', 'phone', 'post', 'fax')),
    at         INTEGER NOT NULL,
    method     TEXT NOT NULL,
    PRIMARY KEY (email_key, channel)
) STRICT;

-- Single-use links to the preference centre: only the SHA-256 of the secret is stored.
CREATE TABLE preference_links (
    hash        BLOB PRIMARY KEY,
    person_id   INTEGER NOT NULL REFERENCES people (id) ON DELETE CASCADE,
    expires_at  INTEGER NOT NULL,
    used_at     INTEGER
) STRICT;
CREATE INDEX preference_links_person ON preference_links (person_id);

CREATE TABLE forms (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    current_version  INTEGER NOT NULL,
    open             INTEGER NOT NULL DEFAULT 1 CHECK (open IN (0, 1)),
    created_at       INTEGER NOT NULL
) STRICT;

-- Each version's questions, as JSON. A version with responses is never changed.
CREATE TABLE form_versions (
    form_id     INTEGER NOT NULL REFERENCES forms (id) ON DELETE CASCADE,
    version     INTEGER NOT NULL,
    definition  TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    PRIMARY KEY (form_id, version)
) STRICT;

CREATE TABLE form_responses (
    id            INTEGER PRIMARY KEY,
    form_id       INTEGER NOT NULL,
    version       INTEGER NOT NULL,
    person_id     INTEGER REFERENCES people (id) ON DELETE CASCADE,
    answers       TEXT NOT NULL,
    submitted_at  INTEGER NOT NULL,
    FOREIGN KEY (form_id, version) REFERENCES form_versions (form_id, version) ON DELETE CASCADE
) STRICT;
CREATE INDEX form_responses_form ON form_responses (form_id, version);
CREATE INDEX form_responses_person ON form_responses (person_id);

-- Files staff uploaded to import people: kept until confirmed (then emptied) or a day old.
CREATE TABLE people_imports (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    actor_id      INTEGER NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    csv           TEXT NOT NULL,
    created_at    INTEGER NOT NULL,
    committed_at  INTEGER
) STRICT;
