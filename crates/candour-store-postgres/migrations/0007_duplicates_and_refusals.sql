-- How many tries of a message may have left a copy with the relay: its final `.` was sent
-- and the answer was 250 or never came (RFC 1047). Two or more make a possible duplicate.
ALTER TABLE deliveries ADD COLUMN handed_over integer NOT NULL DEFAULT 0;

-- Plain "mailbox unavailable" refusals (550, 551 or 553 with no enhanced status) of an
-- address, under the suppression list's one-way code of the address: how many campaigns in
-- a row were refused, and the last of them. A successful delivery to the address deletes
-- the row; reaching two campaigns puts the address on the suppression list and deletes it.
CREATE TABLE mailbox_refusals (
    email_key          bytea PRIMARY KEY,
    campaign_id        bigint NOT NULL REFERENCES campaigns (id),
    refused_campaigns  integer NOT NULL,
    at                 timestamptz NOT NULL
);
