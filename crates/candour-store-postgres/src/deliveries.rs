//! The delivery queue on PostgreSQL: starting due campaigns and queuing their audience in
//! chunks, claiming, renewing and finishing messages,
//! and who a message went to.

use std::collections::HashMap;

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

use crate::campaigns::{Params, Value, audience, campaign_in};
use crate::{PgStore, db, lift_statement_timeout};

#[async_trait]
impl DeliveryStore for PgStore {
    async fn start_due_campaigns(
        &self,
        now: OffsetDateTime,
        chunk: u32,
    ) -> StoreResult<Vec<Queued>> {
        // Starting is one short statement: an instance racing this one waits on the rows
        // this UPDATE locks, then finds them no longer scheduled, so each campaign starts once.
        // Background work: a wait for a lock here is no page's delay.
        let mut tx = self.pool.begin().await.map_err(db)?;
        lift_statement_timeout(&mut tx).await?;
        sqlx::query(
            "WITH started AS (
                 UPDATE campaigns SET state = 'sending', started_at = $1
                 WHERE state = 'scheduled' AND scheduled_at <= $1 RETURNING id)
             INSERT INTO campaign_queuing (campaign_id, after_person)
             SELECT id, 0 FROM started",
        )
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        tx.commit().await.map_err(db)?;
        let queuing: Vec<i64> =
            sqlx::query_scalar("SELECT campaign_id FROM campaign_queuing ORDER BY campaign_id")
                .fetch_all(&self.pool)
                .await
                .map_err(db)?;
        let mut out = Vec::with_capacity(queuing.len());
        for id in queuing {
            let mut tx = self.pool.begin().await.map_err(db)?;
            // A chunk of a large or intricate audience may rightly take longer than the
            // statement time limit that keeps pages quick.
            lift_statement_timeout(&mut tx).await?;
            // The campaign's place in its audience, locked for this chunk only; an instance
            // queuing the same campaign passes over it. No campaign row is locked.
            let after: Option<i64> = sqlx::query_scalar(
                "SELECT after_person FROM campaign_queuing WHERE campaign_id = $1
                 FOR UPDATE SKIP LOCKED",
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
            let mut params = Params::default();
            let t = params.add(Value::Time(at));
            let filter = audience(&c.draft, at, &mut params);
            let sql = format!(
                "WITH queued AS (
                     INSERT INTO deliveries
                         (campaign_id, person_id, state, queued_at, next_attempt_at)
                     SELECT {id}, p.id, 'queued', {t}, {t} FROM people p
                     WHERE p.id > {after} AND {filter} ORDER BY p.id LIMIT {chunk}
                     RETURNING person_id)
                 SELECT count(*), max(person_id) FROM queued"
            );
            let (count, last): (i64, Option<i64>) = params
                .bind(sqlx::query(sqlx::AssertSqlSafe(sql)))
                .fetch_one(&mut *tx)
                .await
                .map_err(db)
                .and_then(|r| Ok((r.try_get(0).map_err(db)?, r.try_get(1).map_err(db)?)))?;
            let complete = count < i64::from(chunk);
            if complete {
                sqlx::query("DELETE FROM campaign_queuing WHERE campaign_id = $1")
                    .bind(id)
                    .execute(&mut *tx)
                    .await
                    .map_err(db)?;
            } else {
                sqlx::query("UPDATE campaign_queuing SET after_person = $1 WHERE campaign_id = $2")
                    .bind(last.unwrap_or(after))
                    .bind(id)
                    .execute(&mut *tx)
                    .await
                    .map_err(db)?;
            }
            tx.commit().await.map_err(db)?;
            out.push(Queued {
                campaign: id,
                queued: u64::try_from(count).unwrap_or(0),
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
        let (set, until) = match change {
            LeaseChange::Extend(until) => ("lease_until = $1", Some(until)),
            LeaseChange::Begin(until) => ("lease_until = $1, begun = true", Some(until)),
            // Given back unsent: as if never claimed.
            LeaseChange::GiveBack => (
                "state = 'queued', lease_until = $1, worker = NULL, begun = false,
                 attempts = attempts - 1",
                None,
            ),
        };
        let mut kept: Vec<i64> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "UPDATE deliveries SET {set}
             WHERE id = ANY ($2) AND state = 'sending' AND worker = $3
             RETURNING id"
        )))
        .bind(until)
        .bind(ids)
        .bind(worker)
        .fetch_all(&self.pool)
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
        let mut tx = self.pool.begin().await.map_err(db)?;
        // SKIP LOCKED passes over rows another worker is claiming at this moment; a row it
        // claimed and committed since this statement's snapshot is locked, re-read and no
        // longer due, so it is dropped too. MATERIALIZED keeps the locking query from being
        // folded into the UPDATE and run more than once.
        let ids: Vec<i64> = sqlx::query_scalar(
            "WITH due AS MATERIALIZED (
                 SELECT id FROM deliveries
                 WHERE (state = 'queued' AND next_attempt_at <= $3)
                    OR (state = 'sending' AND lease_until < $3)
                 ORDER BY id LIMIT $4
                 FOR UPDATE SKIP LOCKED)
             UPDATE deliveries d SET state = 'sending', lease_until = $1, worker = $2,
                 attempts = d.attempts + 1, begun = false,
                 reclaimed = d.reclaimed
                     + CASE WHEN d.state = 'sending' AND d.begun THEN 1 ELSE 0 END
             FROM due WHERE d.id = due.id
             RETURNING d.id",
        )
        .bind(lease_until)
        .bind(worker)
        .bind(now)
        .bind(i64::from(limit))
        .fetch_all(&mut *tx)
        .await
        .map_err(db)?;
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let rows = sqlx::query(
            "SELECT d.id, d.campaign_id, d.person_id, d.attempts, d.queued_at, d.reclaimed,
                    p.email, p.name,
                    (SELECT e.granted FROM consent_events e WHERE e.person_id = p.id
                       AND e.purpose = c.purpose AND e.channel = 'email'
                     ORDER BY e.at DESC, e.id DESC LIMIT 1) AS marketing,
                    (SELECT e.granted FROM consent_events e WHERE e.person_id = p.id
                       AND e.purpose = $2 AND e.channel IS NULL
                     ORDER BY e.at DESC, e.id DESC LIMIT 1) AS tracking
             FROM deliveries d JOIN campaigns c ON c.id = d.campaign_id
             LEFT JOIN people p ON p.id = d.person_id
             WHERE d.id = ANY ($1) ORDER BY d.id",
        )
        .bind(&ids)
        .bind(TRACKING_PURPOSE)
        .fetch_all(&mut *tx)
        .await
        .map_err(db)?;
        let mut out = Vec::with_capacity(rows.len());
        for row in &rows {
            let email: Option<String> = row.try_get("email").map_err(db)?;
            let attempts: i32 = row.try_get("attempts").map_err(db)?;
            let reclaimed: i32 = row.try_get("reclaimed").map_err(db)?;
            let marketing: Option<bool> = row.try_get("marketing").map_err(db)?;
            let tracking: Option<bool> = row.try_get("tracking").map_err(db)?;
            let name: Option<String> = row.try_get("name").map_err(db)?;
            out.push(Delivery {
                id: row.try_get("id").map_err(db)?,
                campaign: row.try_get("campaign_id").map_err(db)?,
                person: row.try_get("person_id").map_err(db)?,
                email: email.and_then(|e| EmailAddress::parse(&e).ok()),
                name: name.unwrap_or_default(),
                attempts: u32::try_from(attempts)
                    .map_err(|_| StoreError::Corrupt("deliveries.attempts".into()))?,
                queued_at: row.try_get("queued_at").map_err(db)?,
                reclaimed: reclaimed > 0,
                marketing_consent: marketing == Some(true),
                tracking_consent: tracking == Some(true),
                suppressed: false,
            });
        }
        let keys: Vec<[u8; 32]> = out
            .iter()
            .filter_map(|d| d.email.as_ref())
            .map(suppression_key)
            .collect();
        if !keys.is_empty() {
            let suppressed: Vec<Vec<u8>> = sqlx::query_scalar(
                "SELECT email_key FROM suppressions
                 WHERE channel = 'email' AND email_key = ANY ($1::bytea[])",
            )
            .bind(&keys)
            .fetch_all(&mut *tx)
            .await
            .map_err(db)?;
            for d in &mut out {
                if let Some(e) = &d.email {
                    let key = suppression_key(e);
                    d.suppressed = suppressed.iter().any(|s| s.as_slice() == key);
                }
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
        if finished.is_empty() {
            return Ok(());
        }
        let n = finished.len();
        let mut ids = Vec::with_capacity(n);
        let mut states = Vec::with_capacity(n);
        let mut next = Vec::with_capacity(n);
        let mut outcomes = Vec::with_capacity(n);
        let mut tracked = Vec::with_capacity(n);
        let mut bounced = Vec::with_capacity(n);
        let mut handed_over = Vec::with_capacity(n);
        for f in finished {
            let row = f.result.row();
            ids.push(f.id);
            states.push(row.state);
            next.push(row.next_attempt_at);
            outcomes.push(row.outcome);
            tracked.push(row.tracked);
            bounced.push(row.bounced);
            handed_over.push(i32::try_from(f.handed_over).unwrap_or(i32::MAX));
        }
        let mut tx = self.pool.begin().await.map_err(db)?;
        // Only rows still in flight for this worker: a worker whose lease ran out, reporting
        // late, changes nothing the worker that took over recorded or will record.
        let recorded: Vec<(i64, i64)> = sqlx::query_as(
            "UPDATE deliveries d SET state = v.state, lease_until = NULL,
                 next_attempt_at = coalesce(v.next_attempt_at, d.next_attempt_at),
                 outcome = v.outcome, tracked = v.tracked, bounced = v.bounced,
                 handed_over = d.handed_over + v.handed_over,
                 sent_at = CASE WHEN v.state = 'sent' THEN $8 ELSE d.sent_at END
             FROM UNNEST($1::bigint[], $2::text[], $3::timestamptz[], $4::text[],
                         $5::boolean[], $6::boolean[], $7::integer[])
                  AS v (id, state, next_attempt_at, outcome, tracked, bounced, handed_over)
             WHERE d.id = v.id AND d.state = 'sending' AND d.worker = $9
             RETURNING d.id, d.campaign_id",
        )
        .bind(&ids)
        .bind(&states)
        .bind(&next)
        .bind(&outcomes)
        .bind(&tracked)
        .bind(&bounced)
        .bind(&handed_over)
        .bind(now)
        .bind(worker)
        .fetch_all(&mut *tx)
        .await
        .map_err(db)?;
        // Only an outcome this worker could record says anything about the address.
        let campaign_of: HashMap<i64, i64> = recorded.into_iter().collect();
        let mut delivered: Vec<[u8; 32]> = Vec::new();
        let mut suppress: Vec<[u8; 32]> = Vec::new();
        let mut unavailable: Vec<(i64, i64, [u8; 32])> = Vec::new();
        for f in finished {
            let Some(&campaign) = campaign_of.get(&f.id) else {
                continue;
            };
            match f.result.address_news() {
                Some(AddressNews::Delivered(to)) => delivered.push(suppression_key(to)),
                Some(AddressNews::BadAddress(email)) => suppress.push(suppression_key(email)),
                Some(AddressNews::Unavailable(email)) => {
                    unavailable.push((f.id, campaign, suppression_key(email)));
                }
                None => {}
            }
        }
        if !delivered.is_empty() {
            // A delivery ends a run of plain refusals.
            sqlx::query("DELETE FROM mailbox_refusals WHERE email_key = ANY($1::bytea[])")
                .bind(&delivered)
                .execute(&mut *tx)
                .await
                .map_err(db)?;
        }
        for (id, campaign, key) in unavailable {
            // Counted once per campaign: a second refusal by the same campaign (two records
            // with one address) is not a campaign in a row.
            let refused: i32 = sqlx::query_scalar(
                "INSERT INTO mailbox_refusals AS r
                     (email_key, campaign_id, refused_campaigns, at)
                 VALUES ($1, $2, 1, $3)
                 ON CONFLICT (email_key) DO UPDATE SET
                     refused_campaigns = r.refused_campaigns
                         + CASE WHEN r.campaign_id <> EXCLUDED.campaign_id THEN 1 ELSE 0 END,
                     campaign_id = EXCLUDED.campaign_id, at = EXCLUDED.at
                 RETURNING refused_campaigns",
            )
            .bind(key.as_slice())
            .bind(campaign)
            .bind(now)
            .fetch_one(&mut *tx)
            .await
            .map_err(db)?;
            if refusals_suppress(i64::from(refused)) {
                suppress.push(key);
                sqlx::query("UPDATE deliveries SET bounced = true WHERE id = $1")
                    .bind(id)
                    .execute(&mut *tx)
                    .await
                    .map_err(db)?;
            }
        }
        suppress.sort_unstable();
        suppress.dedup();
        if !suppress.is_empty() {
            sqlx::query(
                "INSERT INTO suppressions (email_key, channel, at, method)
                 SELECT k, 'email', $2, 'bounce' FROM UNNEST($1::bytea[]) AS k
                 ON CONFLICT DO NOTHING",
            )
            .bind(&suppress)
            .bind(now)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
            // A suppressed address's run of plain refusals is over.
            sqlx::query("DELETE FROM mailbox_refusals WHERE email_key = ANY($1::bytea[])")
                .bind(&suppress)
                .execute(&mut *tx)
                .await
                .map_err(db)?;
        }
        tx.commit().await.map_err(db)
    }

    async fn complete_campaigns(&self, now: OffsetDateTime) -> StoreResult<Vec<i64>> {
        let mut ids: Vec<i64> = sqlx::query_scalar(
            "UPDATE campaigns c SET state = 'sent', finished_at = $1
             WHERE c.state = 'sending' AND NOT EXISTS (
                 SELECT 1 FROM deliveries d WHERE d.campaign_id = c.id
                 AND d.state IN ('queued', 'sending'))
             AND NOT EXISTS (SELECT 1 FROM campaign_queuing q WHERE q.campaign_id = c.id)
             RETURNING c.id",
        )
        .bind(now)
        .fetch_all(&self.pool)
        .await
        .map_err(db)?;
        ids.sort_unstable();
        Ok(ids)
    }

    async fn person_deliveries(&self, person: i64) -> StoreResult<Vec<PersonDelivery>> {
        let mut conn = self.pool.acquire().await.map_err(db)?;
        let rows = sqlx::query(
            "SELECT d.id, d.campaign_id, c.name, c.subject, d.state, d.sent_at, d.tracked
             FROM deliveries d JOIN campaigns c ON c.id = d.campaign_id
             WHERE d.person_id = $1 ORDER BY d.id DESC",
        )
        .bind(person)
        .fetch_all(&mut *conn)
        .await
        .map_err(db)?;
        let events = sqlx::query(
            "SELECT delivery_id, at, kind, link, machine FROM tracking_events
             WHERE person_id = $1 ORDER BY at, id",
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
                    let link: i32 = e.try_get(3).map_err(db)?;
                    mine.push((
                        e.try_get(1).map_err(db)?,
                        kind == "click",
                        u16::try_from(link)
                            .map_err(|_| StoreError::Corrupt("tracking_events.link".into()))?,
                        e.try_get(4).map_err(db)?,
                    ));
                }
            }
            out.push(PersonDelivery {
                campaign: row.try_get(1).map_err(db)?,
                campaign_name: row.try_get(2).map_err(db)?,
                subject: row.try_get(3).map_err(db)?,
                state: row.try_get(4).map_err(db)?,
                sent_at: row.try_get(5).map_err(db)?,
                tracked: row.try_get(6).map_err(db)?,
                events: mine,
            });
        }
        Ok(out)
    }

    async fn delivery_recipient(&self, id: i64) -> StoreResult<Option<DeliveryRecipient>> {
        let row = sqlx::query(
            "SELECT d.campaign_id, d.person_id, c.purpose, d.unsubscribed_at IS NOT NULL
             FROM deliveries d JOIN campaigns c ON c.id = d.campaign_id WHERE d.id = $1",
        )
        .bind(id)
        .fetch_optional(&self.pool)
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
            "UPDATE deliveries SET unsubscribed_at = $1 WHERE id = $2 AND unsubscribed_at IS NULL",
        )
        .bind(at)
        .bind(id)
        .execute(&self.pool)
        .await
        .map_err(db)?;
        Ok(done.rows_affected() > 0)
    }
}
