//! Spreadsheet imports on PostgreSQL: staged, then committed in one transaction.

use async_trait::async_trait;
use candour_core::import::ImportRow;
use candour_core::import::{ImportEvidence, ImportOutcome, StagedImport};
use candour_core::people::{Source, suppression_key};
use candour_core::purposes::Purpose;
use candour_core::store::{ImportStore, StoreError, StoreResult};
use sqlx::Row;
use time::OffsetDateTime;

use crate::people::{events_in, insert_event, suppressed_in, upsert_person};
use crate::{PgStore, db};

#[async_trait]
impl ImportStore for PgStore {
    async fn stage_import(&self, actor: i64, csv: &str, at: OffsetDateTime) -> StoreResult<i64> {
        sqlx::query_scalar(
            "INSERT INTO people_imports (actor_id, csv, created_at) VALUES ($1, $2, $3) RETURNING id",
        )
        .bind(actor)
        .bind(csv)
        .bind(at)
        .fetch_one(&self.pool)
        .await
        .map_err(db)
    }

    async fn staged_import(&self, id: i64) -> StoreResult<Option<StagedImport>> {
        let row = sqlx::query(
            "SELECT id, actor_id, csv, created_at, committed_at FROM people_imports WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await
        .map_err(db)?;
        row.map(|r| {
            let committed: Option<OffsetDateTime> = r.try_get("committed_at").map_err(db)?;
            Ok(StagedImport {
                id: r.try_get("id").map_err(db)?,
                actor: r.try_get("actor_id").map_err(db)?,
                csv: r.try_get("csv").map_err(db)?,
                created_at: r.try_get("created_at").map_err(db)?,
                committed_at: committed,
            })
        })
        .transpose()
    }

    async fn commit_import(
        &self,
        id: i64,
        rows: &[ImportRow],
        evidence: Option<&ImportEvidence>,
        purposes: &[Purpose],
        at: OffsetDateTime,
    ) -> StoreResult<ImportOutcome> {
        let mut tx = self.pool.begin().await.map_err(db)?;
        let claimed = sqlx::query(
            "UPDATE people_imports SET csv = '', committed_at = $1
             WHERE id = $2 AND committed_at IS NULL",
        )
        .bind(at)
        .bind(id)
        .execute(&mut *tx)
        .await
        .map_err(db)?
        .rows_affected();
        if claimed != 1 {
            return Err(StoreError::Refused(
                "this import has already been done, or was never staged".to_owned(),
            ));
        }
        let mut out = ImportOutcome::default();
        for row in rows {
            let (person, created) = upsert_person(
                &mut tx,
                &row.email,
                Source::Import { import: id },
                &row.patch,
                true,
                at,
            )
            .await?;
            let consents = match evidence {
                Some(evidence) => {
                    let suppressed = suppressed_in(&mut tx, &suppression_key(&row.email)).await?;
                    let known = if created {
                        Vec::new()
                    } else {
                        events_in(&mut tx, person).await?
                    };
                    let consents = evidence.row_consents(id, purposes, &known, &suppressed)?;
                    for event in &consents.events {
                        insert_event(&mut tx, person, event, at).await?;
                    }
                    Some(consents)
                }
                None => None,
            };
            out.count(created, consents.as_ref());
        }
        tx.commit().await.map_err(db)?;
        Ok(out)
    }

    async fn purge_imports_before(&self, cutoff: OffsetDateTime) -> StoreResult<u64> {
        let done = sqlx::query(
            "DELETE FROM people_imports WHERE committed_at IS NULL AND created_at < $1",
        )
        .bind(cutoff)
        .execute(&self.pool)
        .await
        .map_err(db)?;
        Ok(done.rows_affected())
    }
}
