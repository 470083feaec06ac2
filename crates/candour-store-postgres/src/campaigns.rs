//! Campaigns on PostgreSQL: drafts, their audience, schedule and figures, and the helpers
//! the delivery queue (`deliveries.rs`) and tracking (`tracking.rs`) share.
//!
//! Several instances share one database, so every step that hands out work holds when they
//! race: a claim locks the rows it takes and passes over those another worker holds
//! (`FOR UPDATE SKIP LOCKED`), a campaign is started by the one UPDATE that still finds it
//! scheduled, and a campaign's events are reduced by the one UPDATE that still finds them
//! unreduced. Batches (tracking events, finished messages) go in as arrays, one statement
//! per batch, so the hot paths cost one round trip whatever the batch size.

use async_trait::async_trait;
use candour_core::campaign::{
    Campaign, CampaignDraft, CampaignReport, CampaignState, Engagement, FollowUp, Progress,
    TRACKING_PURPOSE, is_postcode_district,
};
use candour_core::store::{CampaignStore, StoreError, StoreResult, refuse_if};
use sqlx::postgres::{PgArguments, PgRow};
use sqlx::{PgConnection, Postgres, Row};
use time::{Duration, OffsetDateTime};

use crate::{PgStore, db};

pub(crate) const CAMPAIGN_COLUMNS: &str = "id, name, subject, preheader, body, purpose, interests, \
     postcode_areas, follow_up_of, follow_up_days, state, scheduled_at, links, created_at, \
     updated_at, started_at, finished_at, reduced_at";

fn corrupt(what: &str) -> StoreError {
    StoreError::Corrupt(format!("campaigns.{what}"))
}

pub(crate) fn campaign_from_row(row: &PgRow) -> StoreResult<Campaign> {
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
pub(crate) enum Value {
    Text(String),
    Texts(Vec<String>),
    Int(i64),
    Time(OffsetDateTime),
}

/// The values of SQL built at run time, numbered as they are added.
#[derive(Default)]
pub(crate) struct Params(Vec<Value>);

impl Params {
    /// Add a value; returns its placeholder (`$n`).
    pub(crate) fn add(&mut self, v: Value) -> String {
        self.0.push(v);
        format!("${}", self.0.len())
    }

    pub(crate) fn bind(
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
pub(crate) fn audience(draft: &CampaignDraft, now: OffsetDateTime, params: &mut Params) -> String {
    let purpose = params.add(Value::Text(draft.purpose.clone()));
    let mut sql = latest_consent(&purpose, "= 'email'");
    // A restricted record (UK GDPR Art 18) is kept but not used: never in an audience.
    sql.push_str(" AND p.restricted_since IS NULL");
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

pub(crate) async fn campaign_in(conn: &mut PgConnection, id: i64) -> StoreResult<Option<Campaign>> {
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
