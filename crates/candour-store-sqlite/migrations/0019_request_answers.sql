-- The answer to a case for a copy of a person's data: the bundle staff built (a file in the
-- bundle folder, named here), and the download link it was released with. Only the SHA-256
-- of the link's secret is kept; the link is bound to `email`, the case's confirmed address,
-- and works once, before `link_expires_at`.
CREATE TABLE request_answers (
    request_id       INTEGER PRIMARY KEY REFERENCES data_requests (id) ON DELETE CASCADE,
    person_id        INTEGER REFERENCES people (id) ON DELETE SET NULL,
    file             TEXT NOT NULL,
    bytes            INTEGER NOT NULL,
    rows_held        INTEGER NOT NULL,
    built_at         INTEGER NOT NULL,
    built_by         INTEGER NOT NULL,
    link_hash        BLOB UNIQUE,
    link_expires_at  INTEGER,
    released_at      INTEGER,
    downloaded_at    INTEGER
) STRICT;
CREATE INDEX request_answers_person ON request_answers (person_id);
