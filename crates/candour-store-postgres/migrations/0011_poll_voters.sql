-- How a poll keeps to one vote per person: per browser (the cookie and a ceiling of votes per
-- address a day) or per account (sign-in required).
ALTER TABLE polls ADD COLUMN voters text NOT NULL DEFAULT 'per-browser'
    CHECK (voters IN ('per-browser', 'per-account'));
