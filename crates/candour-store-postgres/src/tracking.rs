//! Opens and clicks on PostgreSQL: recorded in batches on the hot path, reduced to totals later.

use async_trait::async_trait;
use candour_core::campaign::{TRACKING_PURPOSE, TrackingEvent};
use candour_core::store::{StoreResult, TrackingStore};
use time::OffsetDateTime;

use crate::{PgStore, db, lift_statement_timeout};

#[async_trait]
impl TrackingStore for PgStore {
    async fn record_tracking(&self, events: &[TrackingEvent]) -> StoreResult<()> {
        if events.is_empty() {
            return Ok(());
        }
        let deliveries: Vec<i64> = events.iter().map(|e| e.delivery).collect();
        let campaigns: Vec<i64> = events.iter().map(|e| e.campaign).collect();
        let kinds: Vec<&str> = events
            .iter()
            .map(|e| if e.click { "click" } else { "open" })
            .collect();
        let links: Vec<i32> = events.iter().map(|e| i32::from(e.link)).collect();
        let ats: Vec<OffsetDateTime> = events.iter().map(|e| e.at).collect();
        let machines: Vec<bool> = events.iter().map(|e| e.machine).collect();
        // Only messages sent tracked, of campaigns not yet reduced, to people whose consent
        // to tracking still stands: an open after a withdrawal is not recorded at all. The
        // same open or click of a message within a minute is recorded once (a replayed link
        // cannot grow the table at will; the batch itself was de-duplicated). Rows
        // go in in the batch's order, so events at the same time keep it (as on SQLite).
        // FOR SHARE holds the campaign row until this batch commits, so a reduction waits
        // for it (and then deletes its events), or has committed and this batch, re-reading
        // the row, drops them: no per-recipient event outlives the reduction.
        sqlx::query(
            "INSERT INTO tracking_events (delivery_id, campaign_id, person_id, kind, link, at, machine)
             SELECT d.id, d.campaign_id, d.person_id, v.kind, v.link, v.at, v.machine
             FROM UNNEST($1::bigint[], $2::bigint[], $3::text[], $4::integer[],
                         $5::timestamptz[], $6::boolean[]) WITH ORDINALITY
                  AS v (delivery, campaign, kind, link, at, machine, n)
             JOIN deliveries d ON d.id = v.delivery AND d.campaign_id = v.campaign
             JOIN campaigns c ON c.id = d.campaign_id AND c.reduced_at IS NULL
             WHERE d.tracked AND d.person_id IS NOT NULL
               AND (SELECT e.granted FROM consent_events e WHERE e.person_id = d.person_id
                      AND e.purpose = $7 AND e.channel IS NULL
                    ORDER BY e.at DESC, e.id DESC LIMIT 1) IS TRUE
               AND NOT EXISTS (SELECT 1 FROM consent_events w WHERE w.person_id = d.person_id
                      AND w.purpose = $7 AND w.channel IS NULL AND NOT w.granted
                      AND w.at >= d.sent_at)
               AND NOT EXISTS (SELECT 1 FROM tracking_events t WHERE t.delivery_id = d.id
                      AND t.kind = v.kind AND t.link = v.link AND t.machine = v.machine
                      AND t.at > v.at - interval '60 seconds')
             ORDER BY v.n
             FOR SHARE OF c",
        )
        .bind(&deliveries)
        .bind(&campaigns)
        .bind(&kinds)
        .bind(&links)
        .bind(&ats)
        .bind(&machines)
        .bind(TRACKING_PURPOSE)
        .execute(&self.pool)
        .await
        .map_err(db)?;
        Ok(())
    }

    async fn reduce_tracking_before(
        &self,
        cutoff: OffsetDateTime,
        now: OffsetDateTime,
    ) -> StoreResult<u64> {
        let mut tx = self.pool.begin().await.map_err(db)?;
        // Background work over every event of the campaigns: see start_due_campaigns.
        lift_statement_timeout(&mut tx).await?;
        // Marking them first locks the campaigns: an instance racing this one waits, then
        // finds them reduced and leaves them; tracking batches holding a campaign finish
        // first, and the statements below (each with a fresh snapshot) see their events.
        let due: Vec<i64> = sqlx::query_scalar(
            "UPDATE campaigns SET reduced_at = $2
             WHERE state = 'sent' AND finished_at < $1 AND reduced_at IS NULL
             RETURNING id",
        )
        .bind(cutoff)
        .bind(now)
        .fetch_all(&mut *tx)
        .await
        .map_err(db)?;
        if due.is_empty() {
            return Ok(0);
        }
        // Rows of `campaign_totals` add up: a withdrawal of tracking consent may have added
        // rows for a person's events already (migration 0006), and these rows join them.
        for sql in [
            // Opens, and clicks on any link, one row each per campaign (-1), even when
            // there were none. A reliable click counts as a reliable open, as in `report`.
            "INSERT INTO campaign_totals
                 (campaign_id, kind, link, events, reliable_events, recipients, reliable_recipients)
             SELECT c.id, k.kind, -1,
                    count(t.id) FILTER (WHERE t.kind = k.kind),
                    count(t.id) FILTER (WHERE t.kind = k.kind AND NOT t.machine),
                    count(DISTINCT t.delivery_id)
                        FILTER (WHERE k.kind = 'open' OR t.kind = k.kind),
                    count(DISTINCT t.delivery_id)
                        FILTER (WHERE NOT t.machine AND (k.kind = 'open' OR t.kind = k.kind))
             FROM UNNEST($1::bigint[]) AS c (id)
             CROSS JOIN (VALUES ('open'), ('click')) AS k (kind)
             LEFT JOIN tracking_events t ON t.campaign_id = c.id
             GROUP BY c.id, k.kind",
            "INSERT INTO campaign_totals
                 (campaign_id, kind, link, events, reliable_events, recipients, reliable_recipients)
             SELECT campaign_id, 'click', link, count(*), count(*) FILTER (WHERE NOT machine),
                    count(DISTINCT delivery_id),
                    count(DISTINCT delivery_id) FILTER (WHERE NOT machine)
             FROM tracking_events WHERE campaign_id = ANY ($1) AND kind = 'click'
             GROUP BY campaign_id, link",
            "DELETE FROM tracking_events WHERE campaign_id = ANY ($1)",
        ] {
            sqlx::query(sql)
                .bind(&due)
                .execute(&mut *tx)
                .await
                .map_err(db)?;
        }
        tx.commit().await.map_err(db)?;
        Ok(due.len() as u64)
    }
}
