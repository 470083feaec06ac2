-- Requests people make about their own data (access, correction, erasure, …). A request made
-- without signing in waits for its address to confirm it through an emailed link (only the
-- SHA-256 of the link's secret is kept, and cleared once used); then it is a case, received
-- on `received_on` (a UK date). The clock's record is kept whole: the dates identity was
-- asked for and arrived, each clarification (in data_request_waits) and the extension, so
-- the due date can always be worked out again from the row.
-- Staff are named by account id without a reference, as in the audit log. The waits and the
-- history carry the case's person too, so a person's export and erasure reach them.
CREATE TABLE data_requests (
    id                    bigserial PRIMARY KEY,
    kind                  text NOT NULL,
    status                text NOT NULL,
    name                  text NOT NULL,
    email                 text NOT NULL,
    details               text NOT NULL,
    correction            text,
    elsewhere             boolean NOT NULL,
    person_id             bigint REFERENCES people (id) ON DELETE SET NULL,
    submitted_at          timestamptz NOT NULL,
    confirm_hash          bytea UNIQUE,
    confirm_expires_at    timestamptz,
    confirmed_at          timestamptz,
    received_on           date,
    identity_asked_on     date,
    identity_answered_on  date,
    identity_how          text,
    extension_decided_on  date,
    extension_months      smallint,
    extension_reasons     text,
    refusal_reasons       text,
    assigned_to           bigint,
    closed_at             timestamptz
);
CREATE INDEX data_requests_open ON data_requests (status) WHERE closed_at IS NULL;
CREATE INDEX data_requests_person ON data_requests (person_id);
CREATE INDEX data_requests_assigned ON data_requests (assigned_to);
CREATE INDEX data_requests_unconfirmed ON data_requests (confirm_expires_at)
    WHERE confirmed_at IS NULL;

-- The clarifications asked of the person, in order: the clock stands from asking to answer.
CREATE TABLE data_request_waits (
    request_id   bigint NOT NULL REFERENCES data_requests (id) ON DELETE CASCADE,
    person_id    bigint REFERENCES people (id) ON DELETE SET NULL,
    position     integer NOT NULL,
    asked_on     date NOT NULL,
    answered_on  date,
    PRIMARY KEY (request_id, position)
);

-- A case's history: every change, assignment and note, with who made it.
CREATE TABLE data_request_events (
    id          bigserial PRIMARY KEY,
    request_id  bigint NOT NULL REFERENCES data_requests (id) ON DELETE CASCADE,
    person_id   bigint REFERENCES people (id) ON DELETE SET NULL,
    at          timestamptz NOT NULL,
    actor_id    bigint,
    action      text NOT NULL,
    detail      text NOT NULL
);
CREATE INDEX data_request_events_request ON data_request_events (request_id, id);
CREATE INDEX data_request_waits_person ON data_request_waits (person_id);
CREATE INDEX data_request_events_person ON data_request_events (person_id);
