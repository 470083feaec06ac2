-- Acting on requests about personal data. A correction may name the part of the record it
-- changes (its value is kept in `correction`, read with the profile's rules); an objection
-- to direct marketing names its channels (codes separated by spaces), applied to the
-- suppression list when the request is confirmed. A person whose record is restricted
-- (UK GDPR Art 18) is left out of every campaign's audience from `restricted_since`.
ALTER TABLE data_requests ADD COLUMN correction_field text;
ALTER TABLE data_requests ADD COLUMN marketing_channels text;
ALTER TABLE people ADD COLUMN restricted_since timestamptz;
CREATE INDEX data_requests_received ON data_requests (received_on) WHERE received_on IS NOT NULL;

-- The wording of the requests room's emails, where a privacy officer changed the built-in
-- one (a step with no row uses the default). `updated_by` names staff by account id, as
-- the audit log does.
CREATE TABLE request_templates (
    step        text PRIMARY KEY,
    subject     text NOT NULL,
    body        text NOT NULL,
    updated_at  timestamptz NOT NULL,
    updated_by  bigint NOT NULL
);

-- The days whose digest of due requests was sent: the instance that inserts the day's row
-- sends it, so several instances send it once.
CREATE TABLE request_digests (
    day         date PRIMARY KEY,
    claimed_at  timestamptz NOT NULL
);
