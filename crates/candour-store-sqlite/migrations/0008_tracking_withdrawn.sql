-- When a person withdraws their consent to email tracking, their opens and clicks stop being
-- theirs at once: they are added to each campaign's totals (as the retention reduction does
-- for everyone later) and their rows are deleted, in the transaction that records the
-- withdrawal, whichever way it came.
CREATE TRIGGER tracking_consent_withdrawn AFTER INSERT ON consent_events
WHEN NEW.purpose = 'email-tracking' AND NEW.channel IS NULL AND NEW.granted = 0
BEGIN
    INSERT INTO campaign_totals
        (campaign_id, kind, link, events, reliable_events, recipients, reliable_recipients)
    SELECT campaign_id, 'open', -1, coalesce(sum(kind = 'open'), 0),
           coalesce(sum(kind = 'open' AND machine = 0), 0),
           count(DISTINCT delivery_id),
           count(DISTINCT CASE WHEN machine = 0 THEN delivery_id END)
    FROM tracking_events WHERE person_id = NEW.person_id GROUP BY campaign_id
    ON CONFLICT (campaign_id, kind, link) DO UPDATE SET
        events = events + excluded.events,
        reliable_events = reliable_events + excluded.reliable_events,
        recipients = recipients + excluded.recipients,
        reliable_recipients = reliable_recipients + excluded.reliable_recipients;
    INSERT INTO campaign_totals
        (campaign_id, kind, link, events, reliable_events, recipients, reliable_recipients)
    SELECT campaign_id, 'click', -1, count(*), coalesce(sum(machine = 0), 0),
           count(DISTINCT delivery_id),
           count(DISTINCT CASE WHEN machine = 0 THEN delivery_id END)
    FROM tracking_events WHERE person_id = NEW.person_id AND kind = 'click'
    GROUP BY campaign_id
    ON CONFLICT (campaign_id, kind, link) DO UPDATE SET
        events = events + excluded.events,
        reliable_events = reliable_events + excluded.reliable_events,
        recipients = recipients + excluded.recipients,
        reliable_recipients = reliable_recipients + excluded.reliable_recipients;
    INSERT INTO campaign_totals
        (campaign_id, kind, link, events, reliable_events, recipients, reliable_recipients)
    SELECT campaign_id, 'click', link, count(*), coalesce(sum(machine = 0), 0),
           count(DISTINCT delivery_id),
           count(DISTINCT CASE WHEN machine = 0 THEN delivery_id END)
    FROM tracking_events WHERE person_id = NEW.person_id AND kind = 'click'
    GROUP BY campaign_id, link
    ON CONFLICT (campaign_id, kind, link) DO UPDATE SET
        events = events + excluded.events,
        reliable_events = reliable_events + excluded.reliable_events,
        recipients = recipients + excluded.recipients,
        reliable_recipients = reliable_recipients + excluded.reliable_recipients;
    DELETE FROM tracking_events WHERE person_id = NEW.person_id;
END;
