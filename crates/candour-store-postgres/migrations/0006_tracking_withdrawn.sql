-- When a person withdraws their consent to email tracking, their opens and clicks stop being
-- theirs at once: they are added to each campaign's totals (as the retention reduction does
-- for everyone later) and their rows are deleted, in the transaction that records the
-- withdrawal, whichever way it came.
--
-- The totals become rows that add up (a campaign's figures are the sum of its rows), so a
-- withdrawal and the later reduction each add rows of their own: the key on
-- (campaign, kind, link) goes.
ALTER TABLE campaign_totals DROP CONSTRAINT campaign_totals_pkey;
CREATE INDEX campaign_totals_campaign ON campaign_totals (campaign_id);

CREATE FUNCTION tracking_consent_withdrawn() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- The campaigns first, as the reduction and the tracking insert lock them: a reduction
    -- under way finishes (and took these events) before the statements below look, and one
    -- that starts later waits for this transaction and finds the events gone.
    PERFORM 1 FROM campaigns
    WHERE id IN (SELECT campaign_id FROM tracking_events WHERE person_id = NEW.person_id)
    ORDER BY id FOR UPDATE;
    INSERT INTO campaign_totals
        (campaign_id, kind, link, events, reliable_events, recipients, reliable_recipients)
    SELECT t.campaign_id, k.kind, -1,
           count(*) FILTER (WHERE t.kind = k.kind),
           count(*) FILTER (WHERE t.kind = k.kind AND NOT t.machine),
           count(DISTINCT t.delivery_id) FILTER (WHERE k.kind = 'open' OR t.kind = k.kind),
           count(DISTINCT t.delivery_id)
               FILTER (WHERE NOT t.machine AND (k.kind = 'open' OR t.kind = k.kind))
    FROM tracking_events t CROSS JOIN (VALUES ('open'), ('click')) AS k (kind)
    WHERE t.person_id = NEW.person_id
    GROUP BY t.campaign_id, k.kind;
    INSERT INTO campaign_totals
        (campaign_id, kind, link, events, reliable_events, recipients, reliable_recipients)
    SELECT campaign_id, 'click', link, count(*), count(*) FILTER (WHERE NOT machine),
           count(DISTINCT delivery_id), count(DISTINCT delivery_id) FILTER (WHERE NOT machine)
    FROM tracking_events WHERE person_id = NEW.person_id AND kind = 'click'
    GROUP BY campaign_id, link;
    DELETE FROM tracking_events WHERE person_id = NEW.person_id;
    RETURN NULL;
END;
$$;
CREATE TRIGGER tracking_consent_withdrawn AFTER INSERT ON consent_events
    FOR EACH ROW WHEN (NEW.purpose = 'email-tracking' AND NEW.channel IS NULL AND NOT NEW.granted)
    EXECUTE FUNCTION tracking_consent_withdrawn();
