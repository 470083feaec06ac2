-- Consent given on a public form waits here until the address confirms it through an
-- emailed link; only the SHA-256 of the link's secret is stored. Confirming moves the grants
-- into the ledger and deletes the row; retention deletes the rows that expired.
CREATE TABLE consent_confirmations (
    hash          BLOB PRIMARY KEY,
    person_id     INTEGER NOT NULL REFERENCES people (id) ON DELETE CASCADE,
    form_id       INTEGER NOT NULL,
    form_version  INTEGER NOT NULL,
    grants        TEXT NOT NULL,
    submitted_at  INTEGER NOT NULL,
    expires_at    INTEGER NOT NULL
) STRICT;
CREATE INDEX consent_confirmations_person ON consent_confirmations (person_id);
CREATE INDEX consent_confirmations_expiry ON consent_confirmations (expires_at);
