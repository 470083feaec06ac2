//! Campaigns on SQLite: drafts, their audience, schedule and figures, and the helpers the
//! delivery queue (`deliveries.rs`) and tracking (`tracking.rs`) share.
//!
//! SQLite has one writer connection, so claims are naturally one at a time: a claim is a
//! single UPDATE … RETURNING over the due rows, and no two workers can take the same row.

use async_trait::async_trait;
use candour_core::campaign::{
    Campaign, CampaignDraft, CampaignReport, CampaignState, Engagement, FollowUp, Progress,
    TRACKING_PURPOSE, is_postcode_district,
};
use candour_core::store::{CampaignStore, StoreError, StoreResult, refuse_if};
use sqlx::sqlite::SqliteRow;
use sqlx::{Row, SqliteConnection};
use time::OffsetDateTime;

use crate::{SqliteStore, db, from_unix, unix};

const CAMPAIGN_COLUMNS: &str = "id, name, subject, preheader, body, purpose, interests, \
     postcode_areas, follow_up_of, follow_up_days, state, scheduled_at, links, created_at, \
     updated_at, started_at, finished_at, reduced_at";

fn words(s: &str) -> Vec<String> {
    s.split_whitespace().map(str::to_owned).collect()
}

pub(crate) fn opt_time(v: Option<i64>) -> StoreResult<Option<OffsetDateTime>> {
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
pub(crate) enum Value {
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
pub(crate) fn audience(draft: &CampaignDraft, now: OffsetDateTime) -> (String, Vec<Value>) {
    // A restricted record (UK GDPR Art 18) is kept but not used: never in an audience.
    let mut sql = format!("{LATEST_EMAIL} = 1 AND p.restricted_since IS NULL");
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

pub(crate) fn bind_all<'q>(
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

pub(crate) async fn campaign_in(
    conn: &mut SqliteConnection,
    id: i64,
) -> StoreResult<Option<Campaign>> {
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
pub(crate) async fn suppress_bounced(
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
