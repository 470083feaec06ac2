-- Consent given on a public form waits here until the address confirms it through an
-- emailed link; only the SHA-256 of the link's secret is stored. Confirming moves the grants
-- into the ledger and deletes the row; retention deletes the rows that expired.
CREATE TABLE consent_confirmations (
    hash          bytea PRIMARY KEY,
    person_id     bigint NOT NULL REFERENCES people (id) ON DELETE CASCADE,
    form_id       bigint NOT NULL,
    form_version  bigint NOT NULL,
    grants        text NOT NULL,
    submitted_at  timestamptz NOT NULL,
    expires_at    timestamptz NOT NULL
);
CREATE INDEX consent_confirmations_person ON consent_confirmations (person_id);
CREATE INDEX consent_confirmations_expiry ON consent_confirmations (expires_at);
