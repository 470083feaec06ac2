-- The register of recipients personal data may be passed to, and each export of personal
-- data from the console (a disclosure). A recipient once used is retired, never deleted
-- (the reference below has no ON DELETE, so a delete fails). Staff are named by account id
-- without a reference, as in the audit log. The people a disclosure covered are its child
-- rows: erasing a person deletes theirs, and `people_count` keeps how many it covered.
CREATE TABLE disclosure_recipients (
    id          INTEGER PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    purpose     TEXT NOT NULL,
    basis       TEXT NOT NULL,
    active      INTEGER NOT NULL DEFAULT 1 CHECK (active IN (0, 1)),
    created_at  INTEGER NOT NULL
) STRICT;

CREATE TABLE disclosures (
    id            INTEGER PRIMARY KEY,
    recipient_id  INTEGER REFERENCES disclosure_recipients (id),
    actor_id      INTEGER NOT NULL,
    kind          TEXT NOT NULL,
    description   TEXT NOT NULL,
    people_count  INTEGER NOT NULL,
    at            INTEGER NOT NULL
) STRICT;
CREATE INDEX disclosures_recipient ON disclosures (recipient_id);

CREATE TABLE disclosure_people (
    disclosure_id  INTEGER NOT NULL REFERENCES disclosures (id) ON DELETE CASCADE,
    person_id      INTEGER NOT NULL REFERENCES people (id) ON DELETE CASCADE,
    PRIMARY KEY (disclosure_id, person_id)
) STRICT, WITHOUT ROWID;
CREATE INDEX disclosure_people_person ON disclosure_people (person_id);
