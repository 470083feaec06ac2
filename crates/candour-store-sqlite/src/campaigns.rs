//! Campaigns, the delivery queue and tracking events on SQLite.
//!
//! SQLite has one writer connection, so claims are naturally one at a time: a claim is a
//! single UPDATE … RETURNING over the due rows, and no two workers can take the same row.

use async_trait::async_trait;
use candour_core::account::EmailAddress;
use candour_core::campaign::{
    AddressNews, Campaign, CampaignDraft, CampaignReport, CampaignState, Delivery,
    DeliveryRecipient, Engagement, FinishedDelivery, FollowUp, PersonDelivery, Progress,
    TRACKING_PURPOSE, TrackingEvent, is_postcode_district, refusals_suppress,
};
use candour_core::people::suppression_key;
use candour_core::store::{
    CampaignStore, DeliveryStore, StoreError, StoreResult, TrackingStore, refuse_if,
};
use sqlx::sqlite::SqliteRow;
use sqlx::{QueryBuilder, Row, Sqlite, SqliteConnection};
use time::OffsetDateTime;

use crate::{BATCH_SHAPES, SqliteStore, batch_shape, db, from_unix, unix};

const CAMPAIGN_COLUMNS: &str = "id, name, subject, preheader, body, purpose, interests, \
     postcode_areas, follow_up_of, follow_up_days, state, scheduled_at, links, created_at, \
     updated_at, started_at, finished_at, reduced_at";

fn words(s: &str) -> Vec<String> {
    s.split_whitespace().map(str::to_owned).collect()
}

fn opt_time(v: Option<i64>) -> StoreResult<Option<OffsetDateTime>> {
    v.map(from_unix).transpose()
}

fn campaign_from_row(row: &SqliteRow) -> StoreResult<Campaign> {
    let state: String = row.try_get("state").map_err(db)?;
    let links: String = row.try_get("links").map_err(db)?;
    let follow_up_of: Option<i64> = row.try_get("follow_up_of").map_err(db)?;
    let follow_up_days: Option<i64> = row.try_get("follow_up_days").map_err(db)?;
    let interests: String = row.try_get("interests").map_err(db)?;
    let areas: String = row.try_get("postcode_areas").map_err(db)?;
    Ok(Campaign {
        id: row.try_get("id").map_err(db)?,
        draft: CampaignDraft {
            name: row.try_get("name").map_err(db)?,
            subject: row.try_get("subject").map_err(db)?,
            preheader: row.try_get("preheader").map_err(db)?,
            body: row.try_get("body").map_err(db)?,
            purpose: row.try_get("purpose").map_err(db)?,
            interests: words(&interests),
            postcode_areas: words(&areas),
            follow_up: match (follow_up_of, follow_up_days) {
                (Some(campaign), Some(days)) => Some(FollowUp {
                    campaign,
                    days: u32::try_from(days)
                        .map_err(|_| StoreError::Corrupt("campaigns.follow_up_days".into()))?,
                }),
                _ => None,
            },
        },
        state: CampaignState::parse(&state)
            .ok_or_else(|| StoreError::Corrupt("campaigns.state".into()))?,
        scheduled_at: opt_time(row.try_get("scheduled_at").map_err(db)?)?,
        links: serde_json::from_str(&links)
            .map_err(|_| StoreError::Corrupt("campaigns.links".into()))?,
        created_at: from_unix(row.try_get("created_at").map_err(db)?)?,
        updated_at: from_unix(row.try_get("updated_at").map_err(db)?)?,
        started_at: opt_time(row.try_get("started_at").map_err(db)?)?,
        finished_at: opt_time(row.try_get("finished_at").map_err(db)?)?,
        reduced_at: opt_time(row.try_get("reduced_at").map_err(db)?)?,
    })
}

/// A bind value for SQL built at run time.
enum Value {
    Text(String),
    Int(i64),
}

/// The current consent of person `p` to a purpose (bound as the next parameter) on a
/// channel: the latest event in the ledger.
const LATEST_EMAIL: &str = "(SELECT e.granted FROM consent_events e WHERE e.person_id = p.id \
     AND e.purpose = ? AND e.channel = 'email' ORDER BY e.at DESC, e.id DESC LIMIT 1)";
const LATEST_TRACKING: &str = "(SELECT e.granted FROM consent_events e WHERE e.person_id = p.id \
     AND e.purpose = ? AND e.channel IS NULL ORDER BY e.at DESC, e.id DESC LIMIT 1)";

/// The WHERE clause choosing a draft's audience from `people p`, with its values.
fn audience(draft: &CampaignDraft, now: OffsetDateTime) -> (String, Vec<Value>) {
    let mut sql = format!("{LATEST_EMAIL} = 1");
    let mut values = vec![Value::Text(draft.purpose.clone())];
    if !draft.interests.is_empty() {
        let any: Vec<&str> = draft
            .interests
            .iter()
            .map(|_| "instr(' ' || p.interests || ' ', ' ' || ? || ' ') > 0")
            .collect();
        sql.push_str(&format!(" AND ({})", any.join(" OR ")));
        values.extend(draft.interests.iter().cloned().map(Value::Text));
    }
    if !draft.postcode_areas.is_empty() {
        let any: Vec<&str> = draft
            .postcode_areas
            .iter()
            .map(|a| {
                if is_postcode_district(a) {
                    "substr(p.postcode, 1, instr(p.postcode, ' ') - 1) = ?"
                } else {
                    "rtrim(substr(p.postcode, 1, 2), '0123456789') = ?"
                }
            })
            .collect();
        sql.push_str(&format!(" AND ({})", any.join(" OR ")));
        values.extend(draft.postcode_areas.iter().cloned().map(Value::Text));
    }
    if let Some(f) = draft.follow_up {
        // Only while the earlier campaign still has its per-recipient clicks: once they are
        // reduced to totals, everyone would look like a non-clicker.
        let window = i64::from(f.days) * 86_400;
        sql.push_str(&format!(
            " AND {LATEST_TRACKING} = 1 AND EXISTS (SELECT 1 FROM deliveries d \
             JOIN campaigns o ON o.id = d.campaign_id AND o.reduced_at IS NULL \
             WHERE d.campaign_id = ? AND d.person_id = p.id AND d.state = 'sent' \
             AND d.tracked = 1 AND d.sent_at <= ? \
             AND NOT EXISTS (SELECT 1 FROM tracking_events t WHERE t.delivery_id = d.id \
                 AND t.kind = 'click' AND t.machine = 0 AND t.at <= d.sent_at + ?))"
        ));
        values.push(Value::Text(TRACKING_PURPOSE.to_owned()));
        values.push(Value::Int(f.campaign));
        values.push(Value::Int(unix(now) - window));
        values.push(Value::Int(window));
    }
    (sql, values)
}

fn bind_all<'q>(
    mut q: sqlx::query::Query<'q, sqlx::Sqlite, sqlx::sqlite::SqliteArguments>,
    values: Vec<Value>,
) -> sqlx::query::Query<'q, sqlx::Sqlite, sqlx::sqlite::SqliteArguments> {
    for v in values {
        q = match v {
            Value::Text(s) => q.bind(s),
            Value::Int(i) => q.bind(i),
        };
    }
    q
}

async fn campaign_in(conn: &mut SqliteConnection, id: i64) -> StoreResult<Option<Campaign>> {
    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {CAMPAIGN_COLUMNS} FROM campaigns WHERE id = ?"
    )))
    .bind(id)
    .fetch_optional(&mut *conn)
    .await
    .map_err(db)?;
    row.as_ref().map(campaign_from_row).transpose()
}

/// Put a bounced address on the suppression list for email; its run of plain refusals, if
/// any, is over.
async fn suppress_bounced(
    tx: &mut SqliteConnection,
    key: &[u8; 32],
    now: OffsetDateTime,
) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO suppressions (email_key, channel, at, method)
         VALUES (?, 'email', ?, 'bounce') ON CONFLICT DO NOTHING",
    )
    .bind(key.as_slice())
    .bind(unix(now))
    .execute(&mut *tx)
    .await
    .map_err(db)?;
    sqlx::query("DELETE FROM mailbox_refusals WHERE email_key = ?")
        .bind(key.as_slice())
        .execute(&mut *tx)
        .await
        .map_err(db)?;
    Ok(())
}

fn count(row: &SqliteRow, i: usize) -> StoreResult<u64> {
    let n: Option<i64> = row.try_get(i).map_err(db)?;
    Ok(u64::try_from(n.unwrap_or(0)).unwrap_or(0))
}

fn engagement(row: &SqliteRow, from: usize) -> StoreResult<Engagement> {
    Ok(Engagement {
        events: count(row, from)?,
        reliable_events: count(row, from + 1)?,
        recipients: count(row, from + 2)?,
        reliable_recipients: count(row, from + 3)?,
    })
}

#[async_trait]
impl CampaignStore for SqliteStore {
    async fn create_campaign(&self, d: &CampaignDraft, at: OffsetDateTime) -> StoreResult<i64> {
        sqlx::query_scalar(
            "INSERT INTO campaigns (name, subject, preheader, body, purpose, interests,
                 postcode_areas, follow_up_of, follow_up_days, state, created_at, updated_at)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'draft', ?, ?) RETURNING id",
        )
        .bind(&d.name)
        .bind(&d.subject)
        .bind(&d.preheader)
        .bind(&d.body)
        .bind(&d.purpose)
        .bind(d.interests.join(" "))
        .bind(d.postcode_areas.join(" "))
        .bind(d.follow_up.map(|f| f.campaign))
        .bind(d.follow_up.map(|f| i64::from(f.days)))
        .bind(unix(at))
        .bind(unix(at))
        .fetch_one(&self.writer)
        .await
        .map_err(db)
    }

    async fn update_campaign(
        &self,
        id: i64,
        d: &CampaignDraft,
        at: OffsetDateTime,
    ) -> StoreResult<()> {
        let mut tx = self.writer.begin().await.map_err(db)?;
        refuse_if(CampaignState::Draft.refusal(
            campaign_in(&mut tx, id).await?.as_ref(),
            "only a draft can be changed",
        ))?;
        sqlx::query(
            "UPDATE campaigns SET name = ?, subject = ?, preheader = ?, body = ?, purpose = ?,
                 interests = ?, postcode_areas = ?, follow_up_of = ?, follow_up_days = ?,
                 updated_at = ?
             WHERE id = ?",
        )
        .bind(&d.name)
        .bind(&d.subject)
        .bind(&d.preheader)
        .bind(&d.body)
        .bind(&d.purpose)
        .bind(d.interests.join(" "))
        .bind(d.postcode_areas.join(" "))
        .bind(d.follow_up.map(|f| f.campaign))
        .bind(d.follow_up.map(|f| i64::from(f.days)))
        .bind(unix(at))
        .bind(id)
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        tx.commit().await.map_err(db)
    }

    async fn delete_campaign(&self, id: i64) -> StoreResult<()> {
        let mut tx = self.writer.begin().await.map_err(db)?;
        refuse_if(CampaignState::Draft.refusal(
            campaign_in(&mut tx, id).await?.as_ref(),
            "only a draft can be deleted",
        ))?;
        sqlx::query("DELETE FROM campaigns WHERE id = ?")
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        tx.commit().await.map_err(db)
    }

    async fn campaign(&self, id: i64) -> StoreResult<Option<Campaign>> {
        let mut conn = self.reader.acquire().await.map_err(db)?;
        campaign_in(&mut conn, id).await
    }

    async fn campaigns(&self) -> StoreResult<Vec<Campaign>> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {CAMPAIGN_COLUMNS} FROM campaigns ORDER BY id DESC"
        )))
        .fetch_all(&self.reader)
        .await
        .map_err(db)?;
        rows.iter().map(campaign_from_row).collect()
    }

    async fn count_audience(&self, d: &CampaignDraft, now: OffsetDateTime) -> StoreResult<u64> {
        let (filter, values) = audience(d, now);
        let sql = format!("SELECT count(*) FROM people p WHERE {filter}");
        let row = bind_all(sqlx::query(sqlx::AssertSqlSafe(sql)), values)
            .fetch_one(&self.reader)
            .await
            .map_err(db)?;
        count(&row, 0)
    }

    async fn schedule_campaign(
        &self,
        id: i64,
        at: OffsetDateTime,
        links: &[String],
    ) -> StoreResult<()> {
        let links = serde_json::to_string(links).map_err(|e| StoreError::Other(Box::new(e)))?;
        let done = sqlx::query(
            "UPDATE campaigns SET state = 'scheduled', scheduled_at = ?, links = ?
             WHERE id = ? AND state = 'draft'",
        )
        .bind(unix(at))
        .bind(links)
        .bind(id)
        .execute(&self.writer)
        .await
        .map_err(db)?;
        if done.rows_affected() == 0 {
            let c = self.campaign(id).await?;
            return refuse_if(
                CampaignState::Draft.refusal(c.as_ref(), "only a draft can be scheduled"),
            );
        }
        Ok(())
    }

    async fn unschedule_campaign(&self, id: i64) -> StoreResult<()> {
        let done = sqlx::query(
            "UPDATE campaigns SET state = 'draft', scheduled_at = NULL
             WHERE id = ? AND state = 'scheduled'",
        )
        .bind(id)
        .execute(&self.writer)
        .await
        .map_err(db)?;
        if done.rows_affected() == 0 {
            let c = self.campaign(id).await?;
            return refuse_if(CampaignState::Scheduled.refusal(
                c.as_ref(),
                "only a campaign that has not started can be taken back",
            ));
        }
        Ok(())
    }

    async fn progress(&self, id: i64, now: OffsetDateTime) -> StoreResult<Progress> {
        let row = sqlx::query(
            "SELECT sum(state = 'queued'), sum(state = 'sending'), sum(state = 'sent'),
                    sum(state = 'failed'), sum(state = 'skipped'), sum(reclaimed > 0 OR handed_over > 1),
                    sum(state = 'sent' AND sent_at >= ?2), sum(state = 'sent' AND tracked = 1),
                    sum(bounced), sum(unsubscribed_at IS NOT NULL)
             FROM deliveries WHERE campaign_id = ?1",
        )
        .bind(id)
        .bind(unix(now) - 60)
        .fetch_one(&self.reader)
        .await
        .map_err(db)?;
        Ok(Progress {
            queued: count(&row, 0)?,
            sending: count(&row, 1)?,
            sent: count(&row, 2)?,
            failed: count(&row, 3)?,
            skipped: count(&row, 4)?,
            possible_duplicates: count(&row, 5)?,
            sent_last_minute: count(&row, 6)?,
            tracked: count(&row, 7)?,
            bounced: count(&row, 8)?,
            unsubscribed: count(&row, 9)?,
        })
    }

    async fn report(&self, id: i64, now: OffsetDateTime) -> StoreResult<CampaignReport> {
        let progress = self.progress(id, now).await?;
        let mut conn = self.reader.acquire().await.map_err(db)?;
        let opens = sqlx::query(
            "SELECT sum(kind = 'open'), sum(kind = 'open' AND machine = 0),
                    count(DISTINCT delivery_id),
                    count(DISTINCT CASE WHEN machine = 0 THEN delivery_id END)
             FROM tracking_events WHERE campaign_id = ?",
        )
        .bind(id)
        .fetch_one(&mut *conn)
        .await
        .map_err(db)?;
        let mut opens = engagement(&opens, 0)?;
        let clicks = sqlx::query(
            "SELECT count(*), sum(machine = 0), count(DISTINCT delivery_id),
                    count(DISTINCT CASE WHEN machine = 0 THEN delivery_id END)
             FROM tracking_events WHERE campaign_id = ? AND kind = 'click'",
        )
        .bind(id)
        .fetch_one(&mut *conn)
        .await
        .map_err(db)?;
        let mut clicks = engagement(&clicks, 0)?;
        let campaign = campaign_in(&mut conn, id).await?;
        let mut links = vec![Engagement::default(); campaign.map_or(0, |c| c.links.len())];
        let per_link = sqlx::query(
            "SELECT link, count(*), sum(machine = 0), count(DISTINCT delivery_id),
                    count(DISTINCT CASE WHEN machine = 0 THEN delivery_id END)
             FROM tracking_events WHERE campaign_id = ? AND kind = 'click' GROUP BY link",
        )
        .bind(id)
        .fetch_all(&mut *conn)
        .await
        .map_err(db)?;
        for row in &per_link {
            let link: i64 = row.try_get(0).map_err(db)?;
            if let Some(slot) = usize::try_from(link).ok().and_then(|l| links.get_mut(l)) {
                *slot += engagement(row, 1)?;
            }
        }
        let totals = sqlx::query(
            "SELECT kind, link, events, reliable_events, recipients, reliable_recipients
             FROM campaign_totals WHERE campaign_id = ?",
        )
        .bind(id)
        .fetch_all(&mut *conn)
        .await
        .map_err(db)?;
        for row in &totals {
            let kind: String = row.try_get(0).map_err(db)?;
            let link: i64 = row.try_get(1).map_err(db)?;
            let e = engagement(row, 2)?;
            // Clicks on any link have a row of their own (-1): summing the links' rows would
            // count a recipient who clicked two links twice.
            match (kind.as_str(), usize::try_from(link).ok()) {
                ("open", _) => opens += e,
                (_, None) => clicks += e,
                (_, Some(l)) => {
                    if let Some(slot) = links.get_mut(l) {
                        *slot += e;
                    }
                }
            }
        }
        let hourly_rows = sqlx::query(
            "SELECT at / 3600, sum(kind = 'open' AND machine = 0), sum(kind = 'click' AND machine = 0)
             FROM tracking_events WHERE campaign_id = ? GROUP BY 1 ORDER BY 1",
        )
        .bind(id)
        .fetch_all(&mut *conn)
        .await
        .map_err(db)?;
        let mut hourly = Vec::with_capacity(hourly_rows.len());
        for row in &hourly_rows {
            let hour: i64 = row.try_get(0).map_err(db)?;
            hourly.push((from_unix(hour * 3600)?, count(row, 1)?, count(row, 2)?));
        }
        Ok(CampaignReport {
            progress,
            opens,
            clicks,
            links,
            hourly,
        })
    }
}

#[async_trait]
impl DeliveryStore for SqliteStore {
    async fn start_due_campaigns(&self, now: OffsetDateTime) -> StoreResult<Vec<(i64, u64)>> {
        let mut tx = self.writer.begin().await.map_err(db)?;
        let due: Vec<i64> = sqlx::query_scalar(
            "UPDATE campaigns SET state = 'sending', started_at = ?1
             WHERE state = 'scheduled' AND scheduled_at <= ?1 RETURNING id",
        )
        .bind(unix(now))
        .fetch_all(&mut *tx)
        .await
        .map_err(db)?;
        let mut out = Vec::new();
        for id in due {
            let c = campaign_in(&mut tx, id)
                .await?
                .ok_or_else(|| StoreError::Corrupt("campaigns".into()))?;
            let (filter, values) = audience(&c.draft, now);
            let sql = format!(
                "INSERT INTO deliveries (campaign_id, person_id, state, queued_at, next_attempt_at)
                 SELECT {id}, p.id, 'queued', {t}, {t} FROM people p WHERE {filter} ORDER BY p.id",
                t = unix(now)
            );
            let done = bind_all(sqlx::query(sqlx::AssertSqlSafe(sql)), values)
                .execute(&mut *tx)
                .await
                .map_err(db)?;
            out.push((id, done.rows_affected()));
        }
        tx.commit().await.map_err(db)?;
        Ok(out)
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
                 attempts = attempts + 1, reclaimed = reclaimed + (state = 'sending')
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
