CREATE TABLE polls (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    question    text NOT NULL,
    opens_at    timestamptz,
    closes_at   timestamptz,
    closed_at   timestamptz,
    results     text NOT NULL CHECK (results IN ('after-voting', 'after-close', 'staff-only')),
    created_at  timestamptz NOT NULL
);

CREATE TABLE poll_options (
    id        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    poll_id   bigint NOT NULL REFERENCES polls (id) ON DELETE CASCADE,
    position  integer NOT NULL,
    label     text NOT NULL,
    -- Kept in step with poll_votes in the same transaction, so results are one read.
    votes     bigint NOT NULL DEFAULT 0,
    UNIQUE (poll_id, position)
);

-- One row per vote. A signed-in voter is unique per poll; an anonymous one per poll per day,
-- by a keyed hash that is erased once its day is over.
CREATE TABLE poll_votes (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    poll_id     bigint NOT NULL REFERENCES polls (id) ON DELETE CASCADE,
    option_id   bigint NOT NULL REFERENCES poll_options (id) ON DELETE CASCADE,
    account_id  bigint REFERENCES accounts (id) ON DELETE SET NULL,
    voter_hash  bytea,
    day         text NOT NULL,
    created_at  timestamptz NOT NULL
);
CREATE UNIQUE INDEX poll_votes_account ON poll_votes (poll_id, account_id) WHERE account_id IS NOT NULL;
CREATE UNIQUE INDEX poll_votes_anonymous ON poll_votes (poll_id, voter_hash, day) WHERE voter_hash IS NOT NULL;

-- The day's salt for anonymous voter hashes; deleted with the hashes when the day is over.
CREATE TABLE poll_salts (
    day   text PRIMARY KEY,
    salt  bytea NOT NULL
);
