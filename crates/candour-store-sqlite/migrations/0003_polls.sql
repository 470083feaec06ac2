CREATE TABLE polls (
    id          INTEGER PRIMARY KEY,
    question    TEXT NOT NULL,
    opens_at    INTEGER,
    closes_at   INTEGER,
    closed_at   INTEGER,
    results     TEXT NOT NULL CHECK (results IN ('after-voting', 'after-close', 'staff-only')),
    created_at  INTEGER NOT NULL
) STRICT;

CREATE TABLE poll_options (
    id        INTEGER PRIMARY KEY,
    poll_id   INTEGER NOT NULL REFERENCES polls (id) ON DELETE CASCADE,
    position  INTEGER NOT NULL,
    label     TEXT NOT NULL,
    -- Kept in step with poll_votes in the same transaction, so results are one read.
    votes     INTEGER NOT NULL DEFAULT 0,
    UNIQUE (poll_id, position)
) STRICT;

-- One row per vote. A signed-in voter is unique per poll; an anonymous one per poll per day,
-- by a keyed hash that is erased once its day is over.
CREATE TABLE poll_votes (
    id          INTEGER PRIMARY KEY,
    poll_id     INTEGER NOT NULL REFERENCES polls (id) ON DELETE CASCADE,
    option_id   INTEGER NOT NULL REFERENCES poll_options (id) ON DELETE CASCADE,
    account_id  INTEGER REFERENCES accounts (id) ON DELETE SET NULL,
    voter_hash  BLOB,
    day         TEXT NOT NULL,
    created_at  INTEGER NOT NULL
) STRICT;
CREATE UNIQUE INDEX poll_votes_account ON poll_votes (poll_id, account_id) WHERE account_id IS NOT NULL;
CREATE UNIQUE INDEX poll_votes_anonymous ON poll_votes (poll_id, voter_hash, day) WHERE voter_hash IS NOT NULL;

-- The day's salt for anonymous voter hashes; deleted with the hashes when the day is over.
CREATE TABLE poll_salts (
    day   TEXT PRIMARY KEY NOT NULL,
    salt  BLOB NOT NULL
) STRICT;
