//! Requests about personal data on SQLite. UK dates are kept as `YYYY-MM-DD` text.

use std::collections::HashMap;

use async_trait::async_trait;
use candour_core::requests::actions::{channels_from_text, channels_text};
use candour_core::requests::{
    Case, CaseEvent, Confirmation, CorrectionField, Extension, Kind, NewCase, Planned, Status,
    Timeline, Wait,
};
use candour_core::session::SecretHash;
use candour_core::store::{RequestStore, StoreError, StoreResult};
use candour_core::uk_time::ISO_DATE;
use sqlx::sqlite::SqliteRow;
use sqlx::{QueryBuilder, Row, Sqlite, SqliteConnection};
use time::{Date, OffsetDateTime};

use crate::{SqliteStore, db, from_unix, unix};

fn day(d: Date) -> String {
    d.format(ISO_DATE).unwrap_or_default()
}

fn from_day(s: &str) -> StoreResult<Date> {
    Date::parse(s, ISO_DATE).map_err(|_| StoreError::Corrupt(format!("{s:?} is not a date")))
}

fn opt_day(s: Option<String>) -> StoreResult<Option<Date>> {
    s.as_deref().map(from_day).transpose()
}

fn opt_time(s: Option<i64>) -> StoreResult<Option<OffsetDateTime>> {
    s.map(from_unix).transpose()
}

fn case_from_row(r: &SqliteRow, waits: Vec<Wait>) -> StoreResult<Case> {
    let kind: String = r.try_get("kind").map_err(db)?;
    let status: String = r.try_get("status").map_err(db)?;
    let identity = match (
        opt_day(r.try_get("identity_asked_on").map_err(db)?)?,
        opt_day(r.try_get("identity_answered_on").map_err(db)?)?,
    ) {
        (Some(asked), answered) => Some(Wait { asked, answered }),
        (None, _) => None,
    };
    let extension = match (
        opt_day(r.try_get("extension_decided_on").map_err(db)?)?,
        r.try_get::<Option<i64>, _>("extension_months")
            .map_err(db)?,
    ) {
        (Some(decided), Some(months)) => Some(Extension {
            decided,
            months: u8::try_from(months).map_err(|e| StoreError::Corrupt(e.to_string()))?,
        }),
        _ => None,
    };
    Ok(Case {
        id: r.try_get("id").map_err(db)?,
        kind: Kind::parse(&kind).ok_or_else(|| StoreError::Corrupt(format!("kind {kind:?}")))?,
        status: Status::parse(&status)
            .ok_or_else(|| StoreError::Corrupt(format!("status {status:?}")))?,
        name: r.try_get("name").map_err(db)?,
        email: r.try_get("email").map_err(db)?,
        details: r.try_get("details").map_err(db)?,
        correction: r.try_get("correction").map_err(db)?,
        correction_field: match r
            .try_get::<Option<String>, _>("correction_field")
            .map_err(db)?
        {
            None => None,
            Some(code) => Some(
                CorrectionField::parse(&code)
                    .ok_or_else(|| StoreError::Corrupt(format!("correction field {code:?}")))?,
            ),
        },
        marketing: match r
            .try_get::<Option<String>, _>("marketing_channels")
            .map_err(db)?
        {
            None => Vec::new(),
            Some(text) => channels_from_text(&text)
                .ok_or_else(|| StoreError::Corrupt(format!("channels {text:?}")))?,
        },
        elsewhere: r.try_get("elsewhere").map_err(db)?,
        person: r.try_get("person_id").map_err(db)?,
        submitted_at: from_unix(r.try_get("submitted_at").map_err(db)?)?,
        confirmed_at: opt_time(r.try_get("confirmed_at").map_err(db)?)?,
        timeline: Timeline {
            received: opt_day(r.try_get("received_on").map_err(db)?)?,
            identity,
            clarifications: waits,
            extension,
        },
        identity_how: r.try_get("identity_how").map_err(db)?,
        extension_reasons: r.try_get("extension_reasons").map_err(db)?,
        refusal_reasons: r.try_get("refusal_reasons").map_err(db)?,
        assigned_to: r.try_get("assigned_to").map_err(db)?,
        closed_at: opt_time(r.try_get("closed_at").map_err(db)?)?,
    })
}

/// The clarifications of every case in `ids`, in order, read in one query.
async fn waits_of(
    conn: &mut SqliteConnection,
    ids: &[i64],
) -> StoreResult<HashMap<i64, Vec<Wait>>> {
    let mut waits: HashMap<i64, Vec<Wait>> = HashMap::new();
    if ids.is_empty() {
        return Ok(waits);
    }
    let mut query = QueryBuilder::<Sqlite>::new(
        "SELECT request_id, asked_on, answered_on FROM data_request_waits WHERE request_id IN (",
    );
    let mut list = query.separated(", ");
    for id in ids {
        list.push_bind(id);
    }
    query.push(") ORDER BY request_id, position");
    for r in query.build().fetch_all(&mut *conn).await.map_err(db)? {
        waits
            .entry(r.try_get("request_id").map_err(db)?)
            .or_default()
            .push(Wait {
                asked: from_day(&r.try_get::<String, _>("asked_on").map_err(db)?)?,
                answered: opt_day(r.try_get("answered_on").map_err(db)?)?,
            });
    }
    Ok(waits)
}

pub(crate) async fn event(
    conn: &mut SqliteConnection,
    id: i64,
    actor: Option<i64>,
    action: &str,
    detail: &str,
    at: OffsetDateTime,
) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO data_request_events (request_id, person_id, at, actor_id, action, detail)
         VALUES (?1, (SELECT person_id FROM data_requests WHERE id = ?1), ?2, ?3, ?4, ?5)",
    )
    .bind(id)
    .bind(unix(at))
    .bind(actor)
    .bind(action)
    .bind(detail)
    .execute(&mut *conn)
    .await
    .map_err(db)?;
    Ok(())
}

impl SqliteStore {
    pub(crate) async fn cases(&self, sql: &str, bind: Option<i64>) -> StoreResult<Vec<Case>> {
        let mut conn = self.reader.acquire().await.map_err(db)?;
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
        if let Some(b) = bind {
            query = query.bind(b);
        }
        let rows = query.fetch_all(&mut *conn).await.map_err(db)?;
        let ids = rows
            .iter()
            .map(|r| r.try_get("id").map_err(db))
            .collect::<StoreResult<Vec<i64>>>()?;
        let mut waits = waits_of(&mut conn, &ids).await?;
        rows.iter()
            .zip(&ids)
            .map(|(r, id)| case_from_row(r, waits.remove(id).unwrap_or_default()))
            .collect()
    }
}

#[async_trait]
impl RequestStore for SqliteStore {
    async fn create_request(&self, new: &NewCase) -> StoreResult<i64> {
        let r = &new.request;
        let (hash, expires, confirmed, received) = match &new.confirmation {
            Confirmation::Verified { received_on } => {
                (None, None, Some(unix(new.at)), Some(day(*received_on)))
            }
            Confirmation::ByLink { hash, expires } => {
                (Some(hash.0.to_vec()), Some(unix(*expires)), None, None)
            }
        };
        let mut tx = self.writer.begin().await.map_err(db)?;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO data_requests (kind, status, name, email, details, correction, elsewhere,
                 person_id, submitted_at, confirm_hash, confirm_expires_at, confirmed_at,
                 received_on, correction_field, marketing_channels)
             VALUES (?, 'received', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
        )
        .bind(r.kind.code())
        .bind(&r.name)
        .bind(r.email.as_str())
        .bind(&r.details)
        .bind(&r.correction)
        .bind(r.elsewhere)
        .bind(new.person)
        .bind(unix(new.at))
        .bind(hash)
        .bind(expires)
        .bind(confirmed)
        .bind(received)
        .bind(r.correction_field.map(CorrectionField::code))
        .bind((!r.marketing.is_empty()).then(|| channels_text(&r.marketing)))
        .fetch_one(&mut *tx)
        .await
        .map_err(db)?;
        event(&mut tx, id, None, "submitted", r.kind.code(), new.at).await?;
        if confirmed.is_some() {
            event(&mut tx, id, None, "confirmed", "signed in", new.at).await?;
        }
        tx.commit().await.map_err(db)?;
        Ok(id)
    }

    async fn confirm_request(
        &self,
        hash: &SecretHash,
        at: OffsetDateTime,
        received_on: Date,
    ) -> StoreResult<Option<i64>> {
        let mut tx = self.writer.begin().await.map_err(db)?;
        let id: Option<i64> = sqlx::query_scalar(
            "UPDATE data_requests
             SET confirm_hash = NULL, confirm_expires_at = NULL, confirmed_at = ?1,
                 received_on = ?2,
                 person_id = coalesce(person_id,
                     (SELECT p.id FROM people p WHERE p.email = data_requests.email))
             WHERE confirm_hash = ?3 AND confirm_expires_at > ?1 AND confirmed_at IS NULL
             RETURNING id",
        )
        .bind(unix(at))
        .bind(day(received_on))
        .bind(hash.0.as_slice())
        .fetch_optional(&mut *tx)
        .await
        .map_err(db)?;
        if let Some(id) = id {
            sqlx::query(
                "UPDATE data_request_events
                 SET person_id = (SELECT person_id FROM data_requests WHERE id = ?1)
                 WHERE request_id = ?1",
            )
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
            event(&mut tx, id, None, "confirmed", "by the emailed link", at).await?;
        }
        tx.commit().await.map_err(db)?;
        Ok(id)
    }

    async fn request(&self, id: i64) -> StoreResult<Option<Case>> {
        Ok(self
            .cases("SELECT * FROM data_requests WHERE id = ?", Some(id))
            .await?
            .pop())
    }

    async fn open_requests(&self) -> StoreResult<Vec<Case>> {
        self.cases(
            "SELECT * FROM data_requests WHERE closed_at IS NULL AND confirmed_at IS NOT NULL
             ORDER BY id",
            None,
        )
        .await
    }

    async fn person_requests(&self, person: i64) -> StoreResult<Vec<Case>> {
        self.cases(
            "SELECT * FROM data_requests WHERE person_id = ? ORDER BY submitted_at DESC, id DESC",
            Some(person),
        )
        .await
    }

    async fn change_request(
        &self,
        id: i64,
        from: Status,
        planned: &Planned,
        actor: i64,
        at: OffsetDateTime,
    ) -> StoreResult<()> {
        let t = &planned.timeline;
        let closes = !planned.status.is_open();
        let mut tx = self.writer.begin().await.map_err(db)?;
        let done = sqlx::query(
            "UPDATE data_requests
             SET status = ?, identity_asked_on = ?, identity_answered_on = ?,
                 identity_how = coalesce(?, identity_how),
                 extension_decided_on = ?, extension_months = ?,
                 extension_reasons = coalesce(?, extension_reasons),
                 refusal_reasons = coalesce(?, refusal_reasons),
                 closed_at = CASE WHEN ? THEN ? ELSE closed_at END
             WHERE id = ? AND status = ? AND closed_at IS NULL AND confirmed_at IS NOT NULL",
        )
        .bind(planned.status.code())
        .bind(t.identity.map(|w| day(w.asked)))
        .bind(t.identity.and_then(|w| w.answered).map(day))
        .bind(&planned.identity_how)
        .bind(t.extension.map(|e| day(e.decided)))
        .bind(t.extension.map(|e| i64::from(e.months)))
        .bind(&planned.extension_reasons)
        .bind(&planned.refusal_reasons)
        .bind(closes)
        .bind(unix(at))
        .bind(id)
        .bind(from.code())
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        if done.rows_affected() == 0 {
            return Err(StoreError::Refused(
                "the request changed meanwhile; look at it again".into(),
            ));
        }
        sqlx::query("DELETE FROM data_request_waits WHERE request_id = ?")
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        for (position, w) in t.clarifications.iter().enumerate() {
            sqlx::query(
                "INSERT INTO data_request_waits (request_id, person_id, position, asked_on, answered_on)
                 VALUES (?1, (SELECT person_id FROM data_requests WHERE id = ?1), ?2, ?3, ?4)",
            )
            .bind(id)
            .bind(i64::try_from(position).unwrap_or(i64::MAX))
            .bind(day(w.asked))
            .bind(w.answered.map(day))
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        }
        event(
            &mut tx,
            id,
            Some(actor),
            planned.action,
            &planned.detail,
            at,
        )
        .await?;
        tx.commit().await.map_err(db)?;
        Ok(())
    }

    async fn assign_request(
        &self,
        id: i64,
        staff: Option<i64>,
        actor: i64,
        at: OffsetDateTime,
    ) -> StoreResult<()> {
        let mut tx = self.writer.begin().await.map_err(db)?;
        let done = sqlx::query("UPDATE data_requests SET assigned_to = ? WHERE id = ?")
            .bind(staff)
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        if done.rows_affected() == 0 {
            return Err(StoreError::Refused("no such request".into()));
        }
        let detail = staff.map_or_else(|| "nobody".to_owned(), |s| s.to_string());
        event(&mut tx, id, Some(actor), "assigned", &detail, at).await?;
        tx.commit().await.map_err(db)?;
        Ok(())
    }

    async fn note_request(
        &self,
        id: i64,
        actor: i64,
        note: &str,
        at: OffsetDateTime,
    ) -> StoreResult<()> {
        let mut tx = self.writer.begin().await.map_err(db)?;
        let exists: Option<i64> = sqlx::query_scalar("SELECT id FROM data_requests WHERE id = ?")
            .bind(id)
            .fetch_optional(&mut *tx)
            .await
            .map_err(db)?;
        if exists.is_none() {
            return Err(StoreError::Refused("no such request".into()));
        }
        event(&mut tx, id, Some(actor), "note", note, at).await?;
        tx.commit().await.map_err(db)?;
        Ok(())
    }

    async fn request_events(&self, id: i64) -> StoreResult<Vec<CaseEvent>> {
        let rows = sqlx::query(
            "SELECT at, actor_id, action, detail FROM data_request_events
             WHERE request_id = ? ORDER BY id",
        )
        .bind(id)
        .fetch_all(&self.reader)
        .await
        .map_err(db)?;
        rows.iter()
            .map(|r| {
                Ok(CaseEvent {
                    at: from_unix(r.try_get("at").map_err(db)?)?,
                    actor: r.try_get("actor_id").map_err(db)?,
                    action: r.try_get("action").map_err(db)?,
                    detail: r.try_get("detail").map_err(db)?,
                })
            })
            .collect()
    }

    async fn purge_unconfirmed_requests(&self, now: OffsetDateTime) -> StoreResult<u64> {
        let done = sqlx::query(
            "DELETE FROM data_requests WHERE confirmed_at IS NULL AND confirm_expires_at <= ?",
        )
        .bind(unix(now))
        .execute(&self.writer)
        .await
        .map_err(db)?;
        Ok(done.rows_affected())
    }
}
