//! Opens and clicks on SQLite: recorded in batches on the hot path, reduced to totals later.

use async_trait::async_trait;
use candour_core::campaign::{TRACKING_PURPOSE, TrackingEvent};
use candour_core::store::{StoreResult, TrackingStore};
use sqlx::{QueryBuilder, Sqlite};
use time::OffsetDateTime;

use crate::{BATCH_SHAPES, SqliteStore, batch_shape, db, unix};

#[async_trait]
impl TrackingStore for SqliteStore {
    async fn record_tracking(&self, events: &[TrackingEvent]) -> StoreResult<()> {
        if events.is_empty() {
            return Ok(());
        }
        let largest = BATCH_SHAPES[BATCH_SHAPES.len() - 1];
        if events.len() <= largest {
            tracking_insert(events)
                .build()
                .execute(&self.writer)
                .await
                .map_err(db)?;
            return Ok(());
        }
        // A batch bigger than a statement takes is still one transaction.
        let mut tx = self.writer.begin().await.map_err(db)?;
        for chunk in events.chunks(largest) {
            tracking_insert(chunk)
                .build()
                .execute(&mut *tx)
                .await
                .map_err(db)?;
        }
        tx.commit().await.map_err(db)
    }

    async fn reduce_tracking_before(
        &self,
        cutoff: OffsetDateTime,
        now: OffsetDateTime,
    ) -> StoreResult<u64> {
        let mut tx = self.writer.begin().await.map_err(db)?;
        let due: Vec<i64> = sqlx::query_scalar(
            "SELECT id FROM campaigns WHERE state = 'sent' AND finished_at < ?
             AND reduced_at IS NULL",
        )
        .bind(unix(cutoff))
        .fetch_all(&mut *tx)
        .await
        .map_err(db)?;
        // Rows of `campaign_totals` add up: a withdrawal of tracking consent may have added
        // rows for a person's events already (migration 0008), and these rows join them.
        for id in &due {
            for sql in [
                "INSERT INTO campaign_totals
                 SELECT ?1, 'open', -1, coalesce(sum(kind = 'open'), 0),
                        coalesce(sum(kind = 'open' AND machine = 0), 0),
                        count(DISTINCT delivery_id),
                        count(DISTINCT CASE WHEN machine = 0 THEN delivery_id END)
                 FROM tracking_events WHERE campaign_id = ?1",
                "INSERT INTO campaign_totals
                 SELECT ?1, 'click', -1, count(*), coalesce(sum(machine = 0), 0),
                        count(DISTINCT delivery_id),
                        count(DISTINCT CASE WHEN machine = 0 THEN delivery_id END)
                 FROM tracking_events WHERE campaign_id = ?1 AND kind = 'click'",
                "INSERT INTO campaign_totals
                 SELECT ?1, 'click', link, count(*), coalesce(sum(machine = 0), 0),
                        count(DISTINCT delivery_id),
                        count(DISTINCT CASE WHEN machine = 0 THEN delivery_id END)
                 FROM tracking_events WHERE campaign_id = ?1 AND kind = 'click' GROUP BY link",
                "DELETE FROM tracking_events WHERE campaign_id = ?1",
            ] {
                sqlx::query(sql)
                    .bind(id)
                    .execute(&mut *tx)
                    .await
                    .map_err(db)?;
            }
            sqlx::query("UPDATE campaigns SET reduced_at = ? WHERE id = ?")
                .bind(unix(now))
                .bind(id)
                .execute(&mut *tx)
                .await
                .map_err(db)?;
        }
        tx.commit().await.map_err(db)?;
        Ok(due.len() as u64)
    }
}

/// One statement that records a chunk of tracking events (bound in a fixed shape, see
/// `BATCH_SHAPES`). Only messages sent tracked, of campaigns not yet reduced, to people whose
/// consent to tracking still stands: an open after a withdrawal is not recorded at all, nor
/// is one of a message sent before a withdrawal, even once consent is given again (the
/// withdrawal turned that message's events into totals, which already count its recipient). The
/// same open or click of a message within a minute is recorded once, so a replayed link
/// cannot grow the table at will (the caller de-duplicates within the chunk).
fn tracking_insert(events: &[TrackingEvent]) -> QueryBuilder<Sqlite> {
    let mut q = QueryBuilder::<Sqlite>::new(
        "INSERT INTO tracking_events (delivery_id, campaign_id, person_id, kind, link, at, machine)
         SELECT d.id, d.campaign_id, d.person_id, j.column3, j.column4, j.column5, j.column6
         FROM (",
    );
    q.push_values(0..batch_shape(events.len()), |mut row, i| {
        match events.get(i) {
            Some(e) => {
                row.push_bind(e.delivery)
                    .push_bind(e.campaign)
                    .push_bind(if e.click { "click" } else { "open" })
                    .push_bind(i64::from(e.link))
                    .push_bind(unix(e.at))
                    .push_bind(i64::from(e.machine));
            }
            // Padding: no delivery has a NULL id, so the join drops the row.
            None => {
                for _ in 0..6 {
                    row.push_bind(None::<i64>);
                }
            }
        }
    });
    q.push(
        ") AS j
         JOIN deliveries d ON d.id = j.column1 AND d.campaign_id = j.column2
         JOIN campaigns c ON c.id = d.campaign_id AND c.reduced_at IS NULL
         WHERE d.tracked = 1 AND d.person_id IS NOT NULL
           AND (SELECT e.granted FROM consent_events e WHERE e.person_id = d.person_id
                  AND e.purpose = ",
    );
    q.push_bind(TRACKING_PURPOSE);
    q.push(
        " AND e.channel IS NULL ORDER BY e.at DESC, e.id DESC LIMIT 1) = 1
           AND NOT EXISTS (SELECT 1 FROM consent_events w WHERE w.person_id = d.person_id
                  AND w.channel IS NULL AND w.granted = 0 AND w.at >= d.sent_at
                  AND w.purpose = ",
    );
    q.push_bind(TRACKING_PURPOSE);
    q.push(
        ")
           AND NOT EXISTS (SELECT 1 FROM tracking_events t WHERE t.delivery_id = d.id
                  AND t.kind = j.column3 AND t.link = j.column4
                  AND t.machine = j.column6 AND t.at > j.column5 - 60)",
    );
    q
}
