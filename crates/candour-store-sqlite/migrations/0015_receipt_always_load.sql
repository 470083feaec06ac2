-- The providers a visitor chose to load media from always, as slugs separated by spaces.
ALTER TABLE consent_receipts ADD COLUMN always_load TEXT NOT NULL DEFAULT '';
