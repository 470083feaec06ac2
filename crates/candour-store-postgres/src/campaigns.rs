//! Campaigns, the delivery queue and tracking events on PostgreSQL.
//!
//! Several instances share one database, so every step that hands out work holds when they
//! race: a claim locks the rows it takes and passes over those another worker holds
//! (`FOR UPDATE SKIP LOCKED`), a campaign is started by the one UPDATE that still finds it
//! scheduled, and a campaign's events are reduced by the one UPDATE that still finds them
//! unreduced. Batches (tracking events, finished messages) go in as arrays, one statement
//! per batch, so the hot paths cost one round trip whatever the batch size.

use std::collections::HashMap;

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
use sqlx::postgres::{PgArguments, PgRow};
use sqlx::{PgConnection, Postgres, Row};
use time::{Duration, OffsetDateTime};

use crate::{PgStore, db, lift_statement_timeout};

const CAMPAIGN_COLUMNS: &str = "id, name, subject, preheader, body, purpose, interests, \
     postcode_areas, follow_up_of, follow_up_days, state, scheduled_at, links, created_at, \
     updated_at, started_at, finished_at, reduced_at";

fn corrupt(what: &str) -> StoreError {
    StoreError::Corrupt(format!("campaigns.{what}"))
}

fn campaign_from_row(row: &PgRow) -> StoreResult<Campaign> {
    let state: String = row.try_get("state").map_err(db)?;
    let follow_up_of: Option<i64> = row.try_get("follow_up_of").map_err(db)?;
    let follow_up_days: Option<i32> = row.try_get("follow_up_days").map_err(db)?;
    Ok(Campaign {
        id: row.try_get("id").map_err(db)?,
        draft: CampaignDraft {
            name: row.try_get("name").map_err(db)?,
            subject: row.try_get("subject").map_err(db)?,
            preheader: row.try_get("preheader").map_err(db)?,
            body: row.try_get("body").map_err(db)?,
            purpose: row.try_get("purpose").map_err(db)?,
            interests: row.try_get("interests").map_err(db)?,
            postcode_areas: row.try_get("postcode_areas").map_err(db)?,
            follow_up: match (follow_up_of, follow_up_days) {
                (Some(campaign), Some(days)) => Some(FollowUp {
                    campaign,
                    days: u32::try_from(days).map_err(|_| corrupt("follow_up_days"))?,
                }),
                _ => None,
            },
        },
        state: CampaignState::parse(&state).ok_or_else(|| corrupt("state"))?,
        scheduled_at: row.try_get("scheduled_at").map_err(db)?,
        links: row.try_get("links").map_err(db)?,
        created_at: row.try_get("created_at").map_err(db)?,
        updated_at: row.try_get("updated_at").map_err(db)?,
        started_at: row.try_get("started_at").map_err(db)?,
        finished_at: row.try_get("finished_at").map_err(db)?,
        reduced_at: row.try_get("reduced_at").map_err(db)?,
    })
}

/// The follow-up's days as the column stores them. `CampaignDraft::check` keeps them far
/// below the limit; a draft that skipped the check is refused rather than cut short.
fn follow_up_days(draft: &CampaignDraft) -> StoreResult<Option<i32>> {
    draft
        .follow_up
        .map(|f| {
            i32::try_from(f.days)
                .map_err(|_| StoreError::Refused("the follow-up's days are out of range".into()))
        })
        .transpose()
}

/// A bind value for SQL built at run time.
enum Value {
    Text(String),
    Texts(Vec<String>),
    Int(i64),
    Time(OffsetDateTime),
}

/// The values of SQL built at run time, numbered as they are added.
#[derive(Default)]
struct Params(Vec<Value>);

impl Params {
    /// Add a value; returns its placeholder (`$n`).
    fn add(&mut self, v: Value) -> String {
        self.0.push(v);
        format!("${}", self.0.len())
    }

    fn bind(
        self,
        mut q: sqlx::query::Query<'_, Postgres, PgArguments>,
    ) -> sqlx::query::Query<'_, Postgres, PgArguments> {
        for v in self.0 {
            q = match v {
                Value::Text(s) => q.bind(s),
                Value::Texts(s) => q.bind(s),
                Value::Int(i) => q.bind(i),
                Value::Time(t) => q.bind(t),
            };
        }
        q
    }
}

/// The current consent of person `p` to the purpose in `purpose` (a placeholder) on a
/// channel (`channel_is`: `= 'email'` or `IS NULL`): the latest event in the ledger decides.
fn latest_consent(purpose: &str, channel_is: &str) -> String {
    format!(
        "(SELECT e.granted FROM consent_events e WHERE e.person_id = p.id \
         AND e.purpose = {purpose} AND e.channel {channel_is} \
         ORDER BY e.at DESC, e.id DESC LIMIT 1) IS TRUE"
    )
}

/// The WHERE clause choosing a draft's audience from `people p`; its values go to `params`.
fn audience(draft: &CampaignDraft, now: OffsetDateTime, params: &mut Params) -> String {
    let purpose = params.add(Value::Text(draft.purpose.clone()));
    let mut sql = latest_consent(&purpose, "= 'email'");
    if !draft.interests.is_empty() {
        let topics = params.add(Value::Texts(draft.interests.clone()));
        sql.push_str(&format!(" AND p.interests && {topics}::text[]"));
    }
    if !draft.postcode_areas.is_empty() {
        // Postcodes are stored as "NM1 2AB": a district ("NM1") is the part before the
        // space, an area ("NM") its leading letters.
        let (districts, areas): (Vec<String>, Vec<String>) = draft
            .postcode_areas
            .iter()
            .cloned()
            .partition(|a| is_postcode_district(a));
        let mut any = Vec::new();
        if !districts.is_empty() {
            let d = params.add(Value::Texts(districts));
            any.push(format!(
                "split_part(p.postcode, ' ', 1) = ANY ({d}::text[])"
            ));
        }
        if !areas.is_empty() {
            let a = params.add(Value::Texts(areas));
            any.push(format!(
                "rtrim(substr(p.postcode, 1, 2), '0123456789') = ANY ({a}::text[])"
            ));
        }
        sql.push_str(&format!(" AND ({})", any.join(" OR ")));
    }
    if let Some(f) = draft.follow_up {
        // Only recipients whose window has passed, and only while the earlier campaign
        // still has its per-recipient clicks: once they are reduced to totals, everyone
        // would look like a non-clicker.
        let window = i64::from(f.days) * 86_400;
        let tracking = params.add(Value::Text(TRACKING_PURPOSE.to_owned()));
        let campaign = params.add(Value::Int(f.campaign));
        let sent_by = params.add(Value::Time(now - Duration::seconds(window)));
        let window = params.add(Value::Int(window));
        sql.push_str(&format!(
            " AND {} AND EXISTS (SELECT 1 FROM deliveries d \
             JOIN campaigns o ON o.id = d.campaign_id AND o.reduced_at IS NULL \
             WHERE d.campaign_id = {campaign} AND d.person_id = p.id AND d.state = 'sent' \
             AND d.tracked AND d.sent_at <= {sent_by} \
             AND NOT EXISTS (SELECT 1 FROM tracking_events t WHERE t.delivery_id = d.id \
                 AND t.kind = 'click' AND NOT t.machine \
                 AND t.at <= d.sent_at + make_interval(secs => {window}::bigint)))",
            latest_consent(&tracking, "IS NULL")
        ));
    }
    sql
}

async fn campaign_in(conn: &mut PgConnection, id: i64) -> StoreResult<Option<Campaign>> {
    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {CAMPAIGN_COLUMNS} FROM campaigns WHERE id = $1"
    )))
    .bind(id)
    .fetch_optional(&mut *conn)
    .await
    .map_err(db)?;
    row.as_ref().map(campaign_from_row).transpose()
}

fn count(row: &PgRow, i: usize) -> StoreResult<u64> {
    let n: i64 = row.try_get(i).map_err(db)?;
    u64::try_from(n).map_err(|e| StoreError::Corrupt(e.to_string()))
}

fn engagement(row: &PgRow, from: usize) -> StoreResult<Engagement> {
    Ok(Engagement {
        events: count(row, from)?,
        reliable_events: count(row, from + 1)?,
        recipients: count(row, from + 2)?,
        reliable_recipients: count(row, from + 3)?,
    })
}

#[async_trait]
impl CampaignStore for PgStore {
    async fn create_campaign(&self, d: &CampaignDraft, at: OffsetDateTime) -> StoreResult<i64> {
        sqlx::query_scalar(
            "INSERT INTO campaigns (name, subject, preheader, body, purpose, interests,
                 postcode_areas, follow_up_of, follow_up_days, state, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'draft', $10, $10) RETURNING id",
        )
        .bind(&d.name)
        .bind(&d.subject)
        .bind(&d.preheader)
        .bind(&d.body)
        .bind(&d.purpose)
        .bind(&d.interests)
        .bind(&d.postcode_areas)
        .bind(d.follow_up.map(|f| f.campaign))
        .bind(follow_up_days(d)?)
        .bind(at)
        .fetch_one(&self.pool)
        .await
        .map_err(db)
    }

    async fn update_campaign(
        &self,
        id: i64,
        d: &CampaignDraft,
        at: OffsetDateTime,
    ) -> StoreResult<()> {
        // One conditional UPDATE: a campaign scheduled meanwhile by another request is not
        // changed under it.
        let done = sqlx::query(
            "UPDATE campaigns SET name = $1, subject = $2, preheader = $3, body = $4,
                 purpose = $5, interests = $6, postcode_areas = $7, follow_up_of = $8,
                 follow_up_days = $9, updated_at = $10
             WHERE id = $11 AND state = 'draft'",
        )
        .bind(&d.name)
        .bind(&d.subject)
        .bind(&d.preheader)
        .bind(&d.body)
        .bind(&d.purpose)
        .bind(&d.interests)
        .bind(&d.postcode_areas)
        .bind(d.follow_up.map(|f| f.campaign))
        .bind(follow_up_days(d)?)
        .bind(at)
        .bind(id)
        .execute(&self.pool)
        .await
        .map_err(db)?;
        if done.rows_affected() == 0 {
            let c = self.campaign(id).await?;
            return refuse_if(
                CampaignState::Draft.refusal(c.as_ref(), "only a draft can be changed"),
            );
        }
        Ok(())
    }

    async fn delete_campaign(&self, id: i64) -> StoreResult<()> {
        let done = sqlx::query("DELETE FROM campaigns WHERE id = $1 AND state = 'draft'")
            .bind(id)
            .execute(&self.pool)
            .await
            .map_err(db)?;
        if done.rows_affected() == 0 {
            let c = self.campaign(id).await?;
            return refuse_if(
                CampaignState::Draft.refusal(c.as_ref(), "only a draft can be deleted"),
            );
        }
        Ok(())
    }

    async fn campaign(&self, id: i64) -> StoreResult<Option<Campaign>> {
        let mut conn = self.pool.acquire().await.map_err(db)?;
        campaign_in(&mut conn, id).await
    }

    async fn campaigns(&self) -> StoreResult<Vec<Campaign>> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {CAMPAIGN_COLUMNS} FROM campaigns ORDER BY id DESC"
        )))
        .fetch_all(&self.pool)
        .await
        .map_err(db)?;
        rows.iter().map(campaign_from_row).collect()
    }

    async fn count_audience(&self, d: &CampaignDraft, now: OffsetDateTime) -> StoreResult<u64> {
        let mut params = Params::default();
        let filter = audience(d, now, &mut params);
        let sql = format!("SELECT count(*) FROM people p WHERE {filter}");
        let row = params
            .bind(sqlx::query(sqlx::AssertSqlSafe(sql)))
            .fetch_one(&self.pool)
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
        let done = sqlx::query(
            "UPDATE campaigns SET state = 'scheduled', scheduled_at = $1, links = $2
             WHERE id = $3 AND state = 'draft'",
        )
        .bind(at)
        .bind(links)
        .bind(id)
        .execute(&self.pool)
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
             WHERE id = $1 AND state = 'scheduled'",
        )
        .bind(id)
        .execute(&self.pool)
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
            "SELECT count(*) FILTER (WHERE state = 'queued'),
                    count(*) FILTER (WHERE state = 'sending'),
                    count(*) FILTER (WHERE state = 'sent'),
                    count(*) FILTER (WHERE state = 'failed'),
                    count(*) FILTER (WHERE state = 'skipped'),
                    count(*) FILTER (WHERE reclaimed > 0 OR handed_over > 1),
                    count(*) FILTER (WHERE state = 'sent' AND sent_at >= $2),
                    count(*) FILTER (WHERE state = 'sent' AND tracked),
                    count(*) FILTER (WHERE bounced),
                    count(*) FILTER (WHERE unsubscribed_at IS NOT NULL)
             FROM deliveries WHERE campaign_id = $1",
        )
        .bind(id)
        .bind(now - Duration::minutes(1))
        .fetch_one(&self.pool)
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
        let mut conn = self.pool.acquire().await.map_err(db)?;
        // A reliable click is a reliable open too (the message was read to be clicked):
        // reliable openers are the recipients with any event that is not a machine's.
        let opens = sqlx::query(
            "SELECT count(*) FILTER (WHERE kind = 'open'),
                    count(*) FILTER (WHERE kind = 'open' AND NOT machine),
                    count(DISTINCT delivery_id),
                    count(DISTINCT delivery_id) FILTER (WHERE NOT machine)
             FROM tracking_events WHERE campaign_id = $1",
        )
        .bind(id)
        .fetch_one(&mut *conn)
        .await
        .map_err(db)?;
        let mut opens = engagement(&opens, 0)?;
        let clicks = sqlx::query(
            "SELECT count(*), count(*) FILTER (WHERE NOT machine), count(DISTINCT delivery_id),
                    count(DISTINCT delivery_id) FILTER (WHERE NOT machine)
             FROM tracking_events WHERE campaign_id = $1 AND kind = 'click'",
        )
        .bind(id)
        .fetch_one(&mut *conn)
        .await
        .map_err(db)?;
        let mut clicks = engagement(&clicks, 0)?;
        let campaign = campaign_in(&mut conn, id).await?;
        let mut links = vec![Engagement::default(); campaign.map_or(0, |c| c.links.len())];
        let per_link = sqlx::query(
            "SELECT link, count(*), count(*) FILTER (WHERE NOT machine),
                    count(DISTINCT delivery_id),
                    count(DISTINCT delivery_id) FILTER (WHERE NOT machine)
             FROM tracking_events WHERE campaign_id = $1 AND kind = 'click' GROUP BY link",
        )
        .bind(id)
        .fetch_all(&mut *conn)
        .await
        .map_err(db)?;
        for row in &per_link {
            let link: i32 = row.try_get(0).map_err(db)?;
            if let Some(slot) = usize::try_from(link).ok().and_then(|l| links.get_mut(l)) {
                *slot += engagement(row, 1)?;
            }
        }
        let totals = sqlx::query(
            "SELECT kind, link, events, reliable_events, recipients, reliable_recipients
             FROM campaign_totals WHERE campaign_id = $1",
        )
        .bind(id)
        .fetch_all(&mut *conn)
        .await
        .map_err(db)?;
        for row in &totals {
            let kind: String = row.try_get(0).map_err(db)?;
            let link: i32 = row.try_get(1).map_err(db)?;
            let e = engagement(row, 2)?;
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
            "SELECT date_trunc('hour', at, 'UTC') AS hour,
                    count(*) FILTER (WHERE kind = 'open' AND NOT machine),
                    count(*) FILTER (WHERE kind = 'click' AND NOT machine)
             FROM tracking_events WHERE campaign_id = $1 GROUP BY 1 ORDER BY 1",
        )
        .bind(id)
        .fetch_all(&mut *conn)
        .await
        .map_err(db)?;
        let mut hourly = Vec::with_capacity(hourly_rows.len());
        for row in &hourly_rows {
            let hour: OffsetDateTime = row.try_get(0).map_err(db)?;
            hourly.push((hour, count(row, 1)?, count(row, 2)?));
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
impl DeliveryStore for PgStore {
    async fn start_due_campaigns(&self, now: OffsetDateTime) -> StoreResult<Vec<(i64, u64)>> {
        let mut tx = self.pool.begin().await.map_err(db)?;
        // Background work, not a page: queueing a whole audience may rightly take longer
        // than the statement time limit that keeps pages quick.
        lift_statement_timeout(&mut tx).await?;
        // An instance racing this one waits on the rows this UPDATE locks, then finds them
        // no longer scheduled: each campaign is started, and its audience queued, once.
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "UPDATE campaigns SET state = 'sending', started_at = $1
             WHERE state = 'scheduled' AND scheduled_at <= $1
             RETURNING {CAMPAIGN_COLUMNS}"
        )))
        .bind(now)
        .fetch_all(&mut *tx)
        .await
        .map_err(db)?;
        let mut due = rows
            .iter()
            .map(campaign_from_row)
            .collect::<StoreResult<Vec<_>>>()?;
        due.sort_by_key(|c| c.id);
        let mut out = Vec::with_capacity(due.len());
        for c in due {
            let mut params = Params::default();
            let id = params.add(Value::Int(c.id));
            let at = params.add(Value::Time(now));
            let filter = audience(&c.draft, now, &mut params);
            let sql = format!(
                "INSERT INTO deliveries (campaign_id, person_id, state, queued_at, next_attempt_at)
                 SELECT {id}, p.id, 'queued', {at}, {at} FROM people p WHERE {filter}
                 ORDER BY p.id"
            );
            let done = params
                .bind(sqlx::query(sqlx::AssertSqlSafe(sql)))
                .execute(&mut *tx)
                .await
                .map_err(db)?;
            out.push((c.id, done.rows_affected()));
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
                 attempts = d.attempts + 1,
                 reclaimed = d.reclaimed + CASE WHEN d.state = 'sending' THEN 1 ELSE 0 END
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
