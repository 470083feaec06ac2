-- Receipts also record the providers a visitor chose to load media from always (slugs
-- separated by spaces), and a choice can be made with "Always load" on an embed.
ALTER TABLE consent_receipts ADD COLUMN always_load text NOT NULL DEFAULT '';
ALTER TABLE consent_receipts DROP CONSTRAINT consent_receipts_method_check;
ALTER TABLE consent_receipts
    ADD CONSTRAINT consent_receipts_method_check CHECK (method IN ('banner', 'settings', 'embed'));
