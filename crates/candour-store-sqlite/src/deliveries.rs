//! The delivery queue on SQLite: starting due campaigns and queuing their audience in chunks,
//! claiming, renewing and finishing messages,
//! and who a message went to.

use async_trait::async_trait;
use candour_core::account::EmailAddress;
use candour_core::campaign::{
    AddressNews, Delivery, DeliveryRecipient, FinishedDelivery, LeaseChange, PersonDelivery,
    Queued, TRACKING_PURPOSE, refusals_suppress,
};
use candour_core::people::suppression_key;
use candour_core::store::{DeliveryStore, StoreError, StoreResult};
use sqlx::Row;
use time::OffsetDateTime;

use crate::campaigns::{audience, bind_all, campaign_in, opt_time, suppress_bounced};
use crate::{SqliteStore, db, from_unix, unix};

#[async_trait]
impl DeliveryStore for SqliteStore {
    async fn start_due_campaigns(
        &self,
        now: OffsetDateTime,
        chunk: u32,
    ) -> StoreResult<Vec<Queued>> {
        let mut tx = self.writer.begin().await.map_err(db)?;
        let started: Vec<i64> = sqlx::query_scalar(
            "UPDATE campaigns SET state = 'sending', started_at = ?1
             WHERE state = 'scheduled' AND scheduled_at <= ?1 RETURNING id",
        )
        .bind(unix(now))
        .fetch_all(&mut *tx)
        .await
        .map_err(db)?;
        for id in &started {
            sqlx::query("INSERT INTO campaign_queuing (campaign_id, after_person) VALUES (?, 0)")
                .bind(id)
                .execute(&mut *tx)
                .await
                .map_err(db)?;
        }
        tx.commit().await.map_err(db)?;
        let queuing: Vec<i64> =
            sqlx::query_scalar("SELECT campaign_id FROM campaign_queuing ORDER BY campaign_id")
                .fetch_all(&self.reader)
                .await
                .map_err(db)?;
        let mut out = Vec::with_capacity(queuing.len());
        for id in queuing {
            // One chunk a transaction: the writer is held no longer than one chunk takes.
            let mut tx = self.writer.begin().await.map_err(db)?;
            // A write first, so the transaction holds the file's write lock from its start
            // (a read first could not be turned into a write after another instance wrote).
            let after: Option<i64> = sqlx::query_scalar(
                "UPDATE campaign_queuing SET after_person = after_person WHERE campaign_id = ?
                 RETURNING after_person",
            )
            .bind(id)
            .fetch_optional(&mut *tx)
            .await
            .map_err(db)?;
            let Some(after) = after else {
                continue;
            };
            let c = campaign_in(&mut tx, id)
                .await?
                .ok_or_else(|| StoreError::Corrupt("campaign_queuing".into()))?;
            let at = c.started_at.unwrap_or(now);
            let (filter, values) = audience(&c.draft, at);
            let sql = format!(
                "INSERT INTO deliveries (campaign_id, person_id, state, queued_at, next_attempt_at)
                 SELECT {id}, p.id, 'queued', {t}, {t} FROM people p
                 WHERE p.id > {after} AND {filter} ORDER BY p.id LIMIT {chunk}
                 RETURNING person_id",
                t = unix(at)
            );
            let people = bind_all(sqlx::query(sqlx::AssertSqlSafe(sql)), values)
                .fetch_all(&mut *tx)
                .await
                .map_err(db)?
                .iter()
                .map(|r| r.try_get::<i64, _>(0))
                .collect::<Result<Vec<i64>, _>>()
                .map_err(db)?;
            let complete = people.len() < chunk as usize;
            if complete {
                sqlx::query("DELETE FROM campaign_queuing WHERE campaign_id = ?")
                    .bind(id)
                    .execute(&mut *tx)
                    .await
                    .map_err(db)?;
            } else {
                let last = people.iter().copied().max().unwrap_or(after);
                sqlx::query("UPDATE campaign_queuing SET after_person = ? WHERE campaign_id = ?")
                    .bind(last)
                    .bind(id)
                    .execute(&mut *tx)
                    .await
                    .map_err(db)?;
            }
            tx.commit().await.map_err(db)?;
            out.push(Queued {
                campaign: id,
                queued: people.len() as u64,
                complete,
            });
        }
        Ok(out)
    }

    async fn renew_leases(
        &self,
        worker: &str,
        ids: &[i64],
        change: LeaseChange,
    ) -> StoreResult<Vec<i64>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let list = serde_json::to_string(ids).map_err(|e| StoreError::Other(Box::new(e)))?;
        let (set, until) = match change {
            LeaseChange::Extend(until) => ("lease_until = ?1", Some(until)),
            LeaseChange::Begin(until) => ("lease_until = ?1, begun = 1", Some(until)),
            // Given back unsent: as if never claimed.
            LeaseChange::GiveBack => (
                "state = 'queued', lease_until = ?1, worker = NULL, begun = 0,
                 attempts = attempts - 1",
                None,
            ),
        };
        let mut kept: Vec<i64> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "UPDATE deliveries SET {set}
             WHERE id IN (SELECT value FROM json_each(?2)) AND state = 'sending' AND worker = ?3
             RETURNING id"
        )))
        .bind(until.map(unix))
        .bind(list)
        .bind(worker)
        .fetch_all(&self.writer)
        .await
        .map_err(db)?;
        kept.sort_unstable();
        Ok(kept)
    }

    async fn claim_deliveries(
        &self,
        worker: &str,
        now: OffsetDateTime,
        lease_until: OffsetDateTime,
        limit: u32,
    ) -> StoreResult<Vec<Delivery>> {
        let mut tx = self.writer.begin().await.map_err(db)?;
        let ids: Vec<i64> = sqlx::query_scalar(
            "UPDATE deliveries SET state = 'sending', lease_until = ?1, worker = ?2,
                 attempts = attempts + 1, reclaimed = reclaimed + (state = 'sending' AND begun),
                 begun = 0
             WHERE id IN (SELECT id FROM deliveries
                          WHERE (state = 'queued' AND next_attempt_at <= ?3)
                             OR (state = 'sending' AND lease_until < ?3)
                          ORDER BY id LIMIT ?4)
             RETURNING id",
        )
        .bind(unix(lease_until))
        .bind(worker)
        .bind(unix(now))
        .bind(i64::from(limit))
        .fetch_all(&mut *tx)
        .await
        .map_err(db)?;
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let list = serde_json::to_string(&ids).map_err(|e| StoreError::Other(Box::new(e)))?;
        let rows = sqlx::query(
            "SELECT d.id, d.campaign_id, d.person_id, d.attempts, d.queued_at, d.reclaimed,
                    p.email, p.name,
                    (SELECT e.granted FROM consent_events e WHERE e.person_id = p.id
                       AND e.purpose = c.purpose AND e.channel = 'email'
                     ORDER BY e.at DESC, e.id DESC LIMIT 1) AS marketing,
                    (SELECT e.granted FROM consent_events e WHERE e.person_id = p.id
                       AND e.purpose = ?2 AND e.channel IS NULL
                     ORDER BY e.at DESC, e.id DESC LIMIT 1) AS tracking
             FROM deliveries d JOIN campaigns c ON c.id = d.campaign_id
             LEFT JOIN people p ON p.id = d.person_id
             WHERE d.id IN (SELECT value FROM json_each(?1)) ORDER BY d.id",
        )
        .bind(list)
        .bind(TRACKING_PURPOSE)
        .fetch_all(&mut *tx)
        .await
        .map_err(db)?;
        let mut out = Vec::with_capacity(rows.len());
        for row in &rows {
            let email: Option<String> = row.try_get("email").map_err(db)?;
            let attempts: i64 = row.try_get("attempts").map_err(db)?;
            let reclaimed: i64 = row.try_get("reclaimed").map_err(db)?;
            let marketing: Option<bool> = row.try_get("marketing").map_err(db)?;
            let tracking: Option<bool> = row.try_get("tracking").map_err(db)?;
            let name: Option<String> = row.try_get("name").map_err(db)?;
            out.push(Delivery {
                id: row.try_get("id").map_err(db)?,
                campaign: row.try_get("campaign_id").map_err(db)?,
                person: row.try_get("person_id").map_err(db)?,
                email: email.and_then(|e| EmailAddress::parse(&e).ok()),
                name: name.unwrap_or_default(),
                attempts: u32::try_from(attempts).unwrap_or(u32::MAX),
                queued_at: from_unix(row.try_get("queued_at").map_err(db)?)?,
                reclaimed: reclaimed > 0,
                marketing_consent: marketing == Some(true),
                tracking_consent: tracking == Some(true),
                suppressed: false,
            });
        }
        let keys: Vec<String> = out
            .iter()
            .filter_map(|d| d.email.as_ref())
            .map(|e| hex::encode(suppression_key(e)))
            .collect();
        let keys = serde_json::to_string(&keys).map_err(|e| StoreError::Other(Box::new(e)))?;
        let suppressed: Vec<Vec<u8>> = sqlx::query_scalar(
            "SELECT email_key FROM suppressions WHERE channel = 'email'
             AND email_key IN (SELECT unhex(value) FROM json_each(?))",
        )
        .bind(keys)
        .fetch_all(&mut *tx)
        .await
        .map_err(db)?;
        for d in &mut out {
            if let Some(e) = &d.email {
                let key = suppression_key(e);
                d.suppressed = suppressed.iter().any(|s| s.as_slice() == key);
            }
        }
        tx.commit().await.map_err(db)?;
        Ok(out)
    }

    async fn finish_deliveries(
        &self,
        worker: &str,
        finished: &[FinishedDelivery],
        now: OffsetDateTime,
    ) -> StoreResult<()> {
        let mut tx = self.writer.begin().await.map_err(db)?;
        let mut delivered: Vec<String> = Vec::new();
        for f in finished {
            let row = f.result.row();
            let campaign: Option<i64> = sqlx::query_scalar(
                "UPDATE deliveries SET state = ?1, lease_until = NULL,
                     next_attempt_at = coalesce(?2, next_attempt_at), outcome = ?3,
                     tracked = ?4, bounced = ?5, handed_over = handed_over + ?9,
                     sent_at = CASE WHEN ?1 = 'sent' THEN ?6 ELSE sent_at END
                 WHERE id = ?7 AND state = 'sending' AND worker = ?8
                 RETURNING campaign_id",
            )
            .bind(row.state)
            .bind(row.next_attempt_at.map(unix))
            .bind(row.outcome)
            .bind(row.tracked)
            .bind(row.bounced)
            .bind(unix(now))
            .bind(f.id)
            .bind(worker)
            .bind(i64::from(f.handed_over))
            .fetch_optional(&mut *tx)
            .await
            .map_err(db)?;
            // Only an outcome this worker could record says anything about the address.
            let Some(campaign) = campaign else {
                continue;
            };
            match f.result.address_news() {
                Some(AddressNews::Delivered(to)) => {
                    delivered.push(hex::encode(suppression_key(to)));
                }
                Some(AddressNews::BadAddress(email)) => {
                    suppress_bounced(&mut tx, &suppression_key(email), now).await?;
                }
                Some(AddressNews::Unavailable(email)) => {
                    let key = suppression_key(email);
                    // Counted once per campaign: a second refusal by the same campaign (two
                    // records with one address) is not a campaign in a row.
                    let refused: i64 = sqlx::query_scalar(
                        "INSERT INTO mailbox_refusals
                             (email_key, campaign_id, refused_campaigns, at)
                         VALUES (?1, ?2, 1, ?3)
                         ON CONFLICT (email_key) DO UPDATE SET
                             refused_campaigns =
                                 refused_campaigns + (campaign_id <> excluded.campaign_id),
                             campaign_id = excluded.campaign_id, at = excluded.at
                         RETURNING refused_campaigns",
                    )
                    .bind(key.as_slice())
                    .bind(campaign)
                    .bind(unix(now))
                    .fetch_one(&mut *tx)
                    .await
                    .map_err(db)?;
                    if refusals_suppress(refused) {
                        suppress_bounced(&mut tx, &key, now).await?;
                        sqlx::query("UPDATE deliveries SET bounced = 1 WHERE id = ?")
                            .bind(f.id)
                            .execute(&mut *tx)
                            .await
                            .map_err(db)?;
                    }
                }
                None => {}
            }
        }
        if !delivered.is_empty() {
            // A delivery ends a run of plain refusals.
            let keys =
                serde_json::to_string(&delivered).map_err(|e| StoreError::Other(Box::new(e)))?;
            sqlx::query(
                "DELETE FROM mailbox_refusals
                 WHERE email_key IN (SELECT unhex(value) FROM json_each(?))",
            )
            .bind(keys)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        }
        tx.commit().await.map_err(db)
    }

    async fn complete_campaigns(&self, now: OffsetDateTime) -> StoreResult<Vec<i64>> {
        sqlx::query_scalar(
            "UPDATE campaigns SET state = 'sent', finished_at = ?
             WHERE state = 'sending' AND NOT EXISTS (
                 SELECT 1 FROM deliveries d WHERE d.campaign_id = campaigns.id
                 AND d.state IN ('queued', 'sending'))
             AND NOT EXISTS (
                 SELECT 1 FROM campaign_queuing q WHERE q.campaign_id = campaigns.id)
             RETURNING id",
        )
        .bind(unix(now))
        .fetch_all(&self.writer)
        .await
        .map_err(db)
    }

    async fn person_deliveries(&self, person: i64) -> StoreResult<Vec<PersonDelivery>> {
        let mut conn = self.reader.acquire().await.map_err(db)?;
        let rows = sqlx::query(
            "SELECT d.id, d.campaign_id, c.name, c.subject, d.state, d.sent_at, d.tracked
             FROM deliveries d JOIN campaigns c ON c.id = d.campaign_id
             WHERE d.person_id = ? ORDER BY d.id DESC",
        )
        .bind(person)
        .fetch_all(&mut *conn)
        .await
        .map_err(db)?;
        let events = sqlx::query(
            "SELECT delivery_id, at, kind, link, machine FROM tracking_events
             WHERE person_id = ? ORDER BY at, id",
        )
        .bind(person)
        .fetch_all(&mut *conn)
        .await
        .map_err(db)?;
        let mut out = Vec::with_capacity(rows.len());
        for row in &rows {
            let id: i64 = row.try_get(0).map_err(db)?;
            let mut mine = Vec::new();
            for e in &events {
                let delivery: i64 = e.try_get(0).map_err(db)?;
                if delivery == id {
                    let kind: String = e.try_get(2).map_err(db)?;
                    let link: i64 = e.try_get(3).map_err(db)?;
                    mine.push((
                        from_unix(e.try_get(1).map_err(db)?)?,
                        kind == "click",
                        u16::try_from(link).unwrap_or(0),
                        e.try_get(4).map_err(db)?,
                    ));
                }
            }
            out.push(PersonDelivery {
                campaign: row.try_get(1).map_err(db)?,
                campaign_name: row.try_get(2).map_err(db)?,
                subject: row.try_get(3).map_err(db)?,
                state: row.try_get(4).map_err(db)?,
                sent_at: opt_time(row.try_get(5).map_err(db)?)?,
                tracked: row.try_get(6).map_err(db)?,
                events: mine,
            });
        }
        Ok(out)
    }

    async fn delivery_recipient(&self, id: i64) -> StoreResult<Option<DeliveryRecipient>> {
        let row = sqlx::query(
            "SELECT d.campaign_id, d.person_id, c.purpose, d.unsubscribed_at IS NOT NULL
             FROM deliveries d JOIN campaigns c ON c.id = d.campaign_id WHERE d.id = ?",
        )
        .bind(id)
        .fetch_optional(&self.reader)
        .await
        .map_err(db)?;
        row.map(|r| {
            Ok(DeliveryRecipient {
                campaign: r.try_get(0).map_err(db)?,
                person: r.try_get(1).map_err(db)?,
                purpose: r.try_get(2).map_err(db)?,
                unsubscribed: r.try_get(3).map_err(db)?,
            })
        })
        .transpose()
    }

    async fn mark_unsubscribed(&self, id: i64, at: OffsetDateTime) -> StoreResult<bool> {
        let done = sqlx::query(
            "UPDATE deliveries SET unsubscribed_at = ? WHERE id = ? AND unsubscribed_at IS NULL",
        )
        .bind(unix(at))
        .bind(id)
        .execute(&self.writer)
        .await
        .map_err(db)?;
        Ok(done.rows_affected() > 0)
    }
}
