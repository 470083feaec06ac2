//! The requests room's edited email wording, on PostgreSQL.

use async_trait::async_trait;
use candour_core::requests::templates::Wording;
use candour_core::store::{RequestTemplateStore, StoreResult};
use time::OffsetDateTime;

use crate::{PgStore, db};

#[async_trait]
impl RequestTemplateStore for PgStore {
    async fn request_wordings(&self) -> StoreResult<Vec<(String, Wording)>> {
        let rows: Vec<(String, String, String)> =
            sqlx::query_as("SELECT step, subject, body FROM request_templates ORDER BY step")
                .fetch_all(&self.pool)
                .await
                .map_err(db)?;
        Ok(rows
            .into_iter()
            .map(|(step, subject, body)| (step, Wording { subject, body }))
            .collect())
    }

    async fn save_request_wording(
        &self,
        step: &str,
        wording: &Wording,
        by: i64,
        at: OffsetDateTime,
    ) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO request_templates (step, subject, body, updated_at, updated_by)
             VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (step) DO UPDATE SET subject = excluded.subject, body = excluded.body,
                 updated_at = excluded.updated_at, updated_by = excluded.updated_by",
        )
        .bind(step)
        .bind(&wording.subject)
        .bind(&wording.body)
        .bind(at)
        .bind(by)
        .execute(&self.pool)
        .await
        .map_err(db)?;
        Ok(())
    }

    async fn reset_request_wording(&self, step: &str) -> StoreResult<bool> {
        let gone = sqlx::query("DELETE FROM request_templates WHERE step = $1")
            .bind(step)
            .execute(&self.pool)
            .await
            .map_err(db)?
            .rows_affected();
        Ok(gone > 0)
    }
}
