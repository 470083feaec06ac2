-- Counters follow the votes inserted, in the same statement: the vote writer inserts a
-- batch with one statement and needs no second one to count it.
CREATE TRIGGER poll_votes_count AFTER INSERT ON poll_votes
BEGIN
    UPDATE poll_options SET votes = votes + 1 WHERE id = NEW.option_id;
END;
