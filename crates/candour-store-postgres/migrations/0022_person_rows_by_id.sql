-- A person's rows in id order, for the bundle's pages (`WHERE person_id = $1 AND id > $2
-- ORDER BY id LIMIT $3`): an index on (person_id, id) finds each page in order, where one on
-- person_id alone reads every remaining row of the person and sorts them, page after page.
-- It serves every lookup by person_id the old index did. (SQLite needs none: its index on
-- person_id already holds the rowid, which is id, in order.)
DROP INDEX form_responses_person;
CREATE INDEX form_responses_person ON form_responses (person_id, id);
DROP INDEX deliveries_person;
CREATE INDEX deliveries_person ON deliveries (person_id, id);
DROP INDEX tracking_events_person;
CREATE INDEX tracking_events_person ON tracking_events (person_id, id);
