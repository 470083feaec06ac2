-- Anonymous voters are no longer unique by an index: each vote's random hash put a write on
-- a random page of that index, and so one page into the write-ahead log per vote. The one
-- writer keeps the day's hashes of each poll in memory instead (see `polls::Voters`) and
-- loads them through this index, whose new entries go at its end, beside each other.
DROP INDEX poll_votes_anonymous;
CREATE INDEX poll_votes_voters ON poll_votes (poll_id, day) WHERE voter_hash IS NOT NULL;
