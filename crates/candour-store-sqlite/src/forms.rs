//! Forms, their versions and their responses on SQLite.

use async_trait::async_trait;
use candour_core::forms::{Answer, FormDefinition};
use candour_core::forms::{FormRecord, NewResponse, StoredResponse};
use candour_core::people::ConsentChange;
use candour_core::people::Source;
use candour_core::store::{FormStore, StoreError, StoreResult};
use sqlx::Row;
use sqlx::sqlite::SqliteRow;
use time::OffsetDateTime;

use crate::people::{append_in, upsert_person};
use crate::{SqliteStore, db, from_unix, unix};

fn definition_from(text: &str) -> StoreResult<FormDefinition> {
    serde_json::from_str(text).map_err(|e| StoreError::Corrupt(format!("form_versions: {e}")))
}

fn to_json<T: serde::Serialize>(v: &T) -> StoreResult<String> {
    serde_json::to_string(v).map_err(|e| StoreError::Other(Box::new(e)))
}

const FORM_QUERY: &str = "SELECT f.id, f.current_version, f.open, f.created_at, v.definition,
        (SELECT count(*) FROM form_responses r WHERE r.form_id = f.id) AS responses
     FROM forms f JOIN form_versions v ON v.form_id = f.id AND v.version = f.current_version";

fn form_from_row(row: &SqliteRow) -> StoreResult<FormRecord> {
    let definition: String = row.try_get("definition").map_err(db)?;
    let responses: i64 = row.try_get("responses").map_err(db)?;
    Ok(FormRecord {
        id: row.try_get("id").map_err(db)?,
        version: row.try_get("current_version").map_err(db)?,
        definition: definition_from(&definition)?,
        open: row.try_get("open").map_err(db)?,
        created_at: from_unix(row.try_get("created_at").map_err(db)?)?,
        responses: u64::try_from(responses).unwrap_or(0),
    })
}

#[async_trait]
impl FormStore for SqliteStore {
    async fn create_form(
        &self,
        definition: &FormDefinition,
        at: OffsetDateTime,
    ) -> StoreResult<i64> {
        let json = to_json(definition)?;
        let mut tx = self.writer.begin().await.map_err(db)?;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO forms (current_version, created_at) VALUES (1, ?) RETURNING id",
        )
        .bind(unix(at))
        .fetch_one(&mut *tx)
        .await
        .map_err(db)?;
        sqlx::query(
            "INSERT INTO form_versions (form_id, version, definition, created_at) VALUES (?, 1, ?, ?)",
        )
        .bind(id)
        .bind(json)
        .bind(unix(at))
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        tx.commit().await.map_err(db)?;
        Ok(id)
    }

    async fn form(&self, id: i64) -> StoreResult<Option<FormRecord>> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!("{FORM_QUERY} WHERE f.id = ?")))
            .bind(id)
            .fetch_optional(&self.reader)
            .await
            .map_err(db)?;
        row.as_ref().map(form_from_row).transpose()
    }

    async fn form_versions(&self, id: i64) -> StoreResult<Vec<FormDefinition>> {
        let texts: Vec<String> = sqlx::query_scalar(
            "SELECT definition FROM form_versions WHERE form_id = ? ORDER BY version",
        )
        .bind(id)
        .fetch_all(&self.reader)
        .await
        .map_err(db)?;
        texts.iter().map(|t| definition_from(t)).collect()
    }

    async fn forms(&self) -> StoreResult<Vec<FormRecord>> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "{FORM_QUERY} ORDER BY f.id DESC"
        )))
        .fetch_all(&self.reader)
        .await
        .map_err(db)?;
        rows.iter().map(form_from_row).collect()
    }

    async fn save_form(
        &self,
        id: i64,
        definition: &FormDefinition,
        at: OffsetDateTime,
    ) -> StoreResult<i64> {
        let json = to_json(definition)?;
        let mut tx = self.writer.begin().await.map_err(db)?;
        let current: i64 = sqlx::query_scalar("SELECT current_version FROM forms WHERE id = ?")
            .bind(id)
            .fetch_optional(&mut *tx)
            .await
            .map_err(db)?
            .ok_or_else(|| StoreError::Refused("there is no such form".to_owned()))?;
        // Every save is a new version, so a visitor who was shown the old one is told the
        // form changed, and no answer is ever read against questions it was not given to.
        let version = current + 1;
        sqlx::query(
            "INSERT INTO form_versions (form_id, version, definition, created_at)
             VALUES (?, ?, ?, ?)",
        )
        .bind(id)
        .bind(version)
        .bind(&json)
        .bind(unix(at))
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        sqlx::query("UPDATE forms SET current_version = ? WHERE id = ?")
            .bind(version)
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        tx.commit().await.map_err(db)?;
        Ok(version)
    }

    async fn set_form_open(&self, id: i64, open: bool) -> StoreResult<()> {
        sqlx::query("UPDATE forms SET open = ? WHERE id = ?")
            .bind(open)
            .bind(id)
            .execute(&self.writer)
            .await
            .map_err(db)?;
        Ok(())
    }

    async fn delete_form(&self, id: i64) -> StoreResult<()> {
        sqlx::query("DELETE FROM forms WHERE id = ?")
            .bind(id)
            .execute(&self.writer)
            .await
            .map_err(db)?;
        Ok(())
    }

    async fn submit_response(&self, r: &NewResponse<'_>) -> StoreResult<i64> {
        let answers = to_json(&r.answers)?;
        let mut tx = self.writer.begin().await.map_err(db)?;
        let live: Option<bool> =
            sqlx::query_scalar("SELECT open FROM forms WHERE id = ? AND current_version = ?")
                .bind(r.form)
                .bind(r.version)
                .fetch_optional(&mut *tx)
                .await
                .map_err(db)?;
        if live != Some(true) {
            return Err(StoreError::Refused(
                "this form is closed, or has changed since it was shown".to_owned(),
            ));
        }
        let person = match r.email {
            Some(email) => {
                let (id, _) = upsert_person(
                    &mut tx,
                    email,
                    Source::Form { form: r.form },
                    r.patch,
                    false,
                    r.at,
                )
                .await?;
                append_in(
                    &mut tx,
                    email,
                    ConsentChange {
                        person: id,
                        events: r.consents,
                        objections: &[],
                        actor: None,
                        purposes: r.purposes,
                        at: r.at,
                    },
                )
                .await?;
                if let Some(p) = &r.pending {
                    sqlx::query(
                        "INSERT INTO consent_confirmations
                         (hash, person_id, form_id, form_version, grants, submitted_at, expires_at)
                         VALUES (?, ?, ?, ?, ?, ?, ?)",
                    )
                    .bind(&p.secret.0[..])
                    .bind(id)
                    .bind(r.form)
                    .bind(r.version)
                    .bind(to_json(&p.grants)?)
                    .bind(unix(r.at))
                    .bind(unix(p.expires_at))
                    .execute(&mut *tx)
                    .await
                    .map_err(db)?;
                }
                Some(id)
            }
            None => None,
        };
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO form_responses (form_id, version, person_id, answers, submitted_at)
             VALUES (?, ?, ?, ?, ?) RETURNING id",
        )
        .bind(r.form)
        .bind(r.version)
        .bind(person)
        .bind(answers)
        .bind(unix(r.at))
        .fetch_one(&mut *tx)
        .await
        .map_err(db)?;
        tx.commit().await.map_err(db)?;
        Ok(id)
    }

    async fn responses(&self, form: i64) -> StoreResult<Vec<StoredResponse>> {
        let rows = sqlx::query(
            "SELECT id, version, person_id, answers, submitted_at FROM form_responses
             WHERE form_id = ? ORDER BY id",
        )
        .bind(form)
        .fetch_all(&self.reader)
        .await
        .map_err(db)?;
        rows.iter()
            .map(|r| {
                let answers: String = r.try_get("answers").map_err(db)?;
                let answers: Vec<(String, Answer)> = serde_json::from_str(&answers)
                    .map_err(|e| StoreError::Corrupt(format!("form_responses: {e}")))?;
                Ok(StoredResponse {
                    id: r.try_get("id").map_err(db)?,
                    version: r.try_get("version").map_err(db)?,
                    person: r.try_get("person_id").map_err(db)?,
                    answers,
                    submitted_at: from_unix(r.try_get("submitted_at").map_err(db)?)?,
                })
            })
            .collect()
    }
}
