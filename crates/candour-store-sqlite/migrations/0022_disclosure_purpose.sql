-- An export made for the organisation's own use says what for (`internal_purpose`), and an
-- export from the command line has no account (`actor_id` NULL). SQLite cannot drop a NOT
-- NULL, so `disclosures` is rebuilt; `disclosure_people` refers to it and is rebuilt with
-- it (dropping `disclosures` first would cascade-delete its rows).
CREATE TABLE disclosures_new (
    id                INTEGER PRIMARY KEY,
    recipient_id      INTEGER REFERENCES disclosure_recipients (id),
    internal_purpose  TEXT NOT NULL DEFAULT '',
    actor_id          INTEGER,
    kind              TEXT NOT NULL,
    description       TEXT NOT NULL,
    people_count      INTEGER NOT NULL,
    at                INTEGER NOT NULL
) STRICT;
INSERT INTO disclosures_new (id, recipient_id, actor_id, kind, description, people_count, at)
SELECT id, recipient_id, actor_id, kind, description, people_count, at FROM disclosures;

CREATE TABLE disclosure_people_new (
    disclosure_id  INTEGER NOT NULL REFERENCES disclosures_new (id) ON DELETE CASCADE,
    person_id      INTEGER NOT NULL REFERENCES people (id) ON DELETE CASCADE,
    PRIMARY KEY (disclosure_id, person_id)
) STRICT, WITHOUT ROWID;
INSERT INTO disclosure_people_new (disclosure_id, person_id)
SELECT disclosure_id, person_id FROM disclosure_people;

DROP TABLE disclosure_people;
DROP TABLE disclosures;
-- Renaming also rewrites the reference in disclosure_people_new.
ALTER TABLE disclosures_new RENAME TO disclosures;
ALTER TABLE disclosure_people_new RENAME TO disclosure_people;
CREATE INDEX disclosures_recipient ON disclosures (recipient_id);
CREATE INDEX disclosure_people_person ON disclosure_people (person_id);
