-- People whose data the organisation holds, with or without an account.
CREATE TABLE people (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    email           text NOT NULL UNIQUE,
    name            text NOT NULL DEFAULT '',
    job_title       text NOT NULL DEFAULT '',
    phone           text,
    postal_address  text NOT NULL DEFAULT '',
    postcode        text,
    interests       text[] NOT NULL DEFAULT '{}',
    source          text NOT NULL,
    account_id      bigint REFERENCES accounts (id) ON DELETE SET NULL,
    created_at      timestamptz NOT NULL,
    updated_at      timestamptz NOT NULL
);
CREATE INDEX people_account ON people (account_id);

-- The exact words of consent boxes, stored once under their SHA-256.
CREATE TABLE consent_wordings (
    hash  bytea PRIMARY KEY,
    text  text NOT NULL
);

-- The consent ledger. Append-only: rows are never changed, and deleted only when their
-- person is erased (the cascade from people).
CREATE TABLE consent_events (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    person_id     bigint NOT NULL REFERENCES people (id) ON DELETE CASCADE,
    purpose       text NOT NULL,
    channel       text CHECK (channel IN ('email', 'phone', 'post', 'fax')),
    granted       boolean NOT NULL,
    at            timestamptz NOT NULL,
    method        text NOT NULL,
    wording_hash  bytea REFERENCES consent_wordings (hash),
    actor_id      bigint,
    note          text NOT NULL DEFAULT ''
);
CREATE INDEX consent_events_person ON consent_events (person_id, at, id);

CREATE FUNCTION consent_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' OR EXISTS (SELECT 1 FROM people WHERE id = OLD.person_id) THEN
        RAISE EXCEPTION 'the consent ledger is append-only';
    END IF;
    RETURN OLD;
END;
$$;
CREATE TRIGGER consent_events_append_only BEFORE UPDATE OR DELETE ON consent_events
    FOR EACH ROW EXECUTE FUNCTION consent_events_append_only();

-- Objections to direct marketing, per channel, under a one-way code of the address.
CREATE TABLE suppressions (
    email_key  bytea NOT NULL,
    channel    text NOT NULL CHECK (channel IN ('email', 'phone', 'post', 'fax')),
    at         timestamptz NOT NULL,
    method     text NOT NULL,
    PRIMARY KEY (email_key, channel)
);

-- Single-use links to the preference centre: only the SHA-256 of the secret is stored.
CREATE TABLE preference_links (
    hash        bytea PRIMARY KEY,
    person_id   bigint NOT NULL REFERENCES people (id) ON DELETE CASCADE,
    expires_at  timestamptz NOT NULL,
    used_at     timestamptz
);
CREATE INDEX preference_links_person ON preference_links (person_id);

CREATE TABLE forms (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    current_version  bigint NOT NULL,
    open             boolean NOT NULL DEFAULT true,
    created_at       timestamptz NOT NULL
);

-- Each version's questions, as JSON. A version with responses is never changed.
CREATE TABLE form_versions (
    form_id     bigint NOT NULL REFERENCES forms (id) ON DELETE CASCADE,
    version     bigint NOT NULL,
    definition  text NOT NULL,
    created_at  timestamptz NOT NULL,
    PRIMARY KEY (form_id, version)
);

CREATE TABLE form_responses (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    form_id       bigint NOT NULL,
    version       bigint NOT NULL,
    person_id     bigint REFERENCES people (id) ON DELETE CASCADE,
    answers       text NOT NULL,
    submitted_at  timestamptz NOT NULL,
    FOREIGN KEY (form_id, version) REFERENCES form_versions (form_id, version) ON DELETE CASCADE
);
CREATE INDEX form_responses_form ON form_responses (form_id, version);
CREATE INDEX form_responses_person ON form_responses (person_id);

-- Files staff uploaded to import people: kept until confirmed (then emptied) or a day old.
CREATE TABLE people_imports (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    actor_id      bigint NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    csv           text NOT NULL,
    created_at    timestamptz NOT NULL,
    committed_at  timestamptz
);
