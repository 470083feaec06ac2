-- One row that `/readyz` overwrites: a committed write is the only proof that the database can
-- be written (a standby after a fail-over, or a full disk, answers reads but refuses this).
CREATE TABLE readiness (
    id         integer PRIMARY KEY CHECK (id = 1),
    checked_at timestamptz NOT NULL
);
