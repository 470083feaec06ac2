-- When a person withdraws their consent to email tracking, their opens and clicks stop being
-- theirs at once: they are added to each campaign's totals (as the retention reduction does
-- for everyone later) and their rows are deleted, in the transaction that records the
-- withdrawal, whichever way it came.
--
-- The totals become rows that add up (a campaign's figures are the sum of its rows), so a
-- withdrawal and the later reduction each add rows of their own: the key on
-- (campaign, kind, link) goes.
CREATE TABLE campaign_totals_summed (
    campaign_id          INTEGER NOT NULL REFERENCES campaigns (id),
    kind                 TEXT NOT NULL CHECK (kind IN ('open', 'click')),
    link                 INTEGER NOT NULL,
    events               INTEGER NOT NULL,
    reliable_events      INTEGER NOT NULL,
    recipients           INTEGER NOT NULL,
    reliable_recipients  INTEGER NOT NULL
) STRICT;
INSERT INTO campaign_totals_summed SELECT * FROM campaign_totals;
DROP TABLE campaign_totals;
ALTER TABLE campaign_totals_summed RENAME TO campaign_totals;
CREATE INDEX campaign_totals_campaign ON campaign_totals (campaign_id);

CREATE TRIGGER tracking_consent_withdrawn AFTER INSERT ON consent_events
WHEN NEW.purpose = 'email-tracking' AND NEW.channel IS NULL AND NEW.granted = 0
BEGIN
    INSERT INTO campaign_totals
        (campaign_id, kind, link, events, reliable_events, recipients, reliable_recipients)
    SELECT campaign_id, 'open', -1, coalesce(sum(kind = 'open'), 0),
           coalesce(sum(kind = 'open' AND machine = 0), 0),
           count(DISTINCT delivery_id),
           count(DISTINCT CASE WHEN machine = 0 THEN delivery_id END)
    FROM tracking_events WHERE person_id = NEW.person_id GROUP BY campaign_id;
    INSERT INTO campaign_totals
        (campaign_id, kind, link, events, reliable_events, recipients, reliable_recipients)
    SELECT campaign_id, 'click', -1, count(*), coalesce(sum(machine = 0), 0),
           count(DISTINCT delivery_id),
           count(DISTINCT CASE WHEN machine = 0 THEN delivery_id END)
    FROM tracking_events WHERE person_id = NEW.person_id AND kind = 'click'
    GROUP BY campaign_id;
    INSERT INTO campaign_totals
        (campaign_id, kind, link, events, reliable_events, recipients, reliable_recipients)
    SELECT campaign_id, 'click', link, count(*), coalesce(sum(machine = 0), 0),
           count(DISTINCT delivery_id),
           count(DISTINCT CASE WHEN machine = 0 THEN delivery_id END)
    FROM tracking_events WHERE person_id = NEW.person_id AND kind = 'click'
    GROUP BY campaign_id, link;
    DELETE FROM tracking_events WHERE person_id = NEW.person_id;
END;
