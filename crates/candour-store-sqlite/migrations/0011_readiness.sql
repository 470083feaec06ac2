-- One row that `/readyz` overwrites: a committed write is the only proof that the file can be
-- written (a read-only file or a full disk answers reads but refuses this).
CREATE TABLE readiness (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    checked_at INTEGER NOT NULL
) STRICT;
