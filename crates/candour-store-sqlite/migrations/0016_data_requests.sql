-- Requests people make about their own data (access, correction, erasure, …). A request made
-- without signing in waits for its address to confirm it through an emailed link (only the
-- SHA-256 of the link's secret is kept, and cleared once used); then it is a case, received
-- on `received_on` (a UK date, YYYY-MM-DD). The clock's record is kept whole: the dates
-- identity was asked for and arrived, each clarification (in data_request_waits) and the
-- extension, so the due date can always be worked out again from the row.
-- Staff are named by account id without a reference, as in the audit log. The waits and the
-- history carry the case's person too, so a person's export and erasure reach them.
CREATE TABLE data_requests (
    id                    INTEGER PRIMARY KEY,
    kind                  TEXT NOT NULL,
    status                TEXT NOT NULL,
    name                  TEXT NOT NULL,
    email                 TEXT NOT NULL,
    details               TEXT NOT NULL,
    correction            TEXT,
    elsewhere             INTEGER NOT NULL CHECK (elsewhere IN (0, 1)),
    person_id             INTEGER REFERENCES people (id) ON DELETE SET NULL,
    submitted_at          INTEGER NOT NULL,
    confirm_hash          BLOB UNIQUE,
    confirm_expires_at    INTEGER,
    confirmed_at          INTEGER,
    received_on           TEXT,
    identity_asked_on     TEXT,
    identity_answered_on  TEXT,
    identity_how          TEXT,
    extension_decided_on  TEXT,
    extension_months      INTEGER,
    extension_reasons     TEXT,
    refusal_reasons       TEXT,
    assigned_to           INTEGER,
    closed_at             INTEGER
) STRICT;
CREATE INDEX data_requests_open ON data_requests (status) WHERE closed_at IS NULL;
CREATE INDEX data_requests_person ON data_requests (person_id);
CREATE INDEX data_requests_assigned ON data_requests (assigned_to);
CREATE INDEX data_requests_unconfirmed ON data_requests (confirm_expires_at)
    WHERE confirmed_at IS NULL;

-- The clarifications asked of the person, in order: the clock stands from asking to answer.
CREATE TABLE data_request_waits (
    request_id   INTEGER NOT NULL REFERENCES data_requests (id) ON DELETE CASCADE,
    person_id    INTEGER REFERENCES people (id) ON DELETE SET NULL,
    position     INTEGER NOT NULL,
    asked_on     TEXT NOT NULL,
    answered_on  TEXT,
    PRIMARY KEY (request_id, position)
) STRICT;

-- A case's history: every change, assignment and note, with who made it.
CREATE TABLE data_request_events (
    id          INTEGER PRIMARY KEY,
    request_id  INTEGER NOT NULL REFERENCES data_requests (id) ON DELETE CASCADE,
    person_id   INTEGER REFERENCES people (id) ON DELETE SET NULL,
    at          INTEGER NOT NULL,
    actor_id    INTEGER,
    action      TEXT NOT NULL,
    detail      TEXT NOT NULL
) STRICT;
CREATE INDEX data_request_events_request ON data_request_events (request_id, id);
CREATE INDEX data_request_waits_person ON data_request_waits (person_id);
CREATE INDEX data_request_events_person ON data_request_events (person_id);
