-- What staff add to a case's bundle and leave out of it before it is released.
-- Files from other systems: the row says what the file is (the person's data, in the data
-- map); its bytes are kept beside it and deleted with it.
CREATE TABLE request_files (
    id          INTEGER PRIMARY KEY,
    request_id  INTEGER NOT NULL REFERENCES data_requests (id) ON DELETE CASCADE,
    person_id   INTEGER REFERENCES people (id) ON DELETE CASCADE,
    name        TEXT NOT NULL,
    bytes       INTEGER NOT NULL,
    added_by    INTEGER NOT NULL,
    added_at    INTEGER NOT NULL
) STRICT;
CREATE INDEX request_files_request ON request_files (request_id, id);
CREATE INDEX request_files_person ON request_files (person_id);
CREATE TABLE request_file_contents (
    file_id  INTEGER PRIMARY KEY REFERENCES request_files (id) ON DELETE CASCADE,
    content  BLOB NOT NULL
) STRICT;
-- Items left out of a case's bundle: a whole kind (row_id NULL) or one row of it by id; a
-- row of request_files is an added file. The ground is a code of requests::items::Ground.
CREATE TABLE request_withholdings (
    id          INTEGER PRIMARY KEY,
    request_id  INTEGER NOT NULL REFERENCES data_requests (id) ON DELETE CASCADE,
    person_id   INTEGER REFERENCES people (id) ON DELETE SET NULL,
    table_name  TEXT NOT NULL,
    row_id      INTEGER,
    ground      TEXT NOT NULL,
    note        TEXT NOT NULL,
    withheld_by INTEGER NOT NULL,
    withheld_at INTEGER NOT NULL
) STRICT;
CREATE UNIQUE INDEX request_withholdings_item
    ON request_withholdings (request_id, table_name, coalesce(row_id, 0));
CREATE INDEX request_withholdings_person ON request_withholdings (person_id);
-- How many changes a case's items have had, and at which its bundle was last built.
CREATE TABLE request_item_versions (
    request_id  INTEGER PRIMARY KEY REFERENCES data_requests (id) ON DELETE CASCADE,
    version     INTEGER NOT NULL,
    built       INTEGER
) STRICT;
