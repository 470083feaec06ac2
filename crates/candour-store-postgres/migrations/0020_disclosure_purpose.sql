-- An export made for the organisation's own use says what for (`internal_purpose`), and an
-- export from the command line has no account (`actor_id` NULL).
ALTER TABLE disclosures ADD COLUMN internal_purpose text NOT NULL DEFAULT '';
ALTER TABLE disclosures ALTER COLUMN actor_id DROP NOT NULL;
