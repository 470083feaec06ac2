-- The answer to a case for a copy of a person's data: the bundle staff built (a file in the
-- bundle folder, named here), and the download link it was released with. Only the SHA-256
-- of the link's secret is kept; the link works once, before `link_expires_at`.
CREATE TABLE request_answers (
    request_id       BIGINT PRIMARY KEY REFERENCES data_requests (id) ON DELETE CASCADE,
    person_id        BIGINT REFERENCES people (id) ON DELETE SET NULL,
    file             TEXT NOT NULL,
    bytes            BIGINT NOT NULL,
    rows_held        BIGINT NOT NULL,
    built_at         TIMESTAMPTZ NOT NULL,
    built_by         BIGINT NOT NULL,
    link_hash        BYTEA UNIQUE,
    link_expires_at  TIMESTAMPTZ,
    released_at      TIMESTAMPTZ,
    downloaded_at    TIMESTAMPTZ
);
CREATE INDEX request_answers_person ON request_answers (person_id);
