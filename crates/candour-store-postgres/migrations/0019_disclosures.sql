-- The register of recipients personal data may be passed to, and each export of personal
-- data from the console (a disclosure). A recipient once used is retired, never deleted
-- (the reference below has no ON DELETE, so a delete fails). Staff are named by account id
-- without a reference, as in the audit log. The people a disclosure covered are its child
-- rows: erasing a person deletes theirs, and people_count keeps how many it covered.
CREATE TABLE disclosure_recipients (
    id          bigserial PRIMARY KEY,
    name        text NOT NULL UNIQUE,
    purpose     text NOT NULL,
    basis       text NOT NULL,
    active      boolean NOT NULL DEFAULT true,
    created_at  timestamptz NOT NULL
);

CREATE TABLE disclosures (
    id            bigserial PRIMARY KEY,
    recipient_id  bigint REFERENCES disclosure_recipients (id),
    actor_id      bigint NOT NULL,
    kind          text NOT NULL,
    description   text NOT NULL,
    people_count  bigint NOT NULL,
    at            timestamptz NOT NULL
);
CREATE INDEX disclosures_recipient ON disclosures (recipient_id);

CREATE TABLE disclosure_people (
    disclosure_id  bigint NOT NULL REFERENCES disclosures (id) ON DELETE CASCADE,
    person_id      bigint NOT NULL REFERENCES people (id) ON DELETE CASCADE,
    PRIMARY KEY (disclosure_id, person_id)
);
CREATE INDEX disclosure_people_person ON disclosure_people (person_id);
