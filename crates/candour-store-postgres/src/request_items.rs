//! What staff add to a case's bundle and leave out of it, on PostgreSQL. Each change counts one
//! more on the case's item version in the same transaction.

use async_trait::async_trait;
use candour_core::requests::items::{
    Item, ItemVersions, NewRequestFile, NewWithholding, RequestFile, Withholding,
};
use candour_core::store::{PieceSink, RequestItemStore, StoreError, StoreResult};
use sqlx::postgres::PgRow;
use sqlx::{PgConnection, Row};

use crate::{PgStore, db};

/// One more change on the case's items.
async fn bump(conn: &mut PgConnection, request: i64) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO request_item_versions (request_id, version) VALUES ($1, 1)
         ON CONFLICT (request_id) DO UPDATE SET version = request_item_versions.version + 1",
    )
    .bind(request)
    .execute(&mut *conn)
    .await
    .map_err(db)?;
    Ok(())
}

/// The case's person, or `Refused` when it has none.
async fn person_of(conn: &mut PgConnection, request: i64) -> StoreResult<i64> {
    let person: Option<Option<i64>> =
        sqlx::query_scalar("SELECT person_id FROM data_requests WHERE id = $1")
            .bind(request)
            .fetch_optional(&mut *conn)
            .await
            .map_err(db)?;
    person
        .flatten()
        .ok_or_else(|| StoreError::Refused("the request has no person record".into()))
}

fn file_from_row(r: &PgRow) -> StoreResult<RequestFile> {
    Ok(RequestFile {
        id: r.try_get("id").map_err(db)?,
        request: r.try_get("request_id").map_err(db)?,
        name: r.try_get("name").map_err(db)?,
        bytes: r.try_get("bytes").map_err(db)?,
        by: r.try_get("added_by").map_err(db)?,
        at: r.try_get("added_at").map_err(db)?,
    })
}

fn withholding_from_row(r: &PgRow) -> StoreResult<Withholding> {
    Ok(Withholding {
        id: r.try_get("id").map_err(db)?,
        request: r.try_get("request_id").map_err(db)?,
        item: Item {
            table: r.try_get("table_name").map_err(db)?,
            row: r.try_get("row_id").map_err(db)?,
        },
        ground: r.try_get("ground").map_err(db)?,
        note: r.try_get("note").map_err(db)?,
        by: r.try_get("withheld_by").map_err(db)?,
        at: r.try_get("withheld_at").map_err(db)?,
    })
}

#[async_trait]
impl RequestItemStore for PgStore {
    async fn add_request_file(&self, new: &NewRequestFile) -> StoreResult<i64> {
        let mut tx = self.pool.begin().await.map_err(db)?;
        let person = person_of(&mut tx, new.request).await?;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO request_files (request_id, person_id, name, bytes, added_by, added_at)
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
        )
        .bind(new.request)
        .bind(person)
        .bind(&new.name)
        .bind(i64::try_from(new.content.len()).unwrap_or(i64::MAX))
        .bind(new.by)
        .bind(new.at)
        .fetch_one(&mut *tx)
        .await
        .map_err(db)?;
        sqlx::query("INSERT INTO request_file_contents (file_id, content) VALUES ($1, $2)")
            .bind(id)
            .bind(new.content.as_slice())
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        bump(&mut tx, new.request).await?;
        tx.commit().await.map_err(db)?;
        Ok(id)
    }

    async fn request_files(&self, request: i64) -> StoreResult<Vec<RequestFile>> {
        sqlx::query("SELECT * FROM request_files WHERE request_id = $1 ORDER BY id")
            .bind(request)
            .fetch_all(&self.pool)
            .await
            .map_err(db)?
            .iter()
            .map(file_from_row)
            .collect()
    }

    async fn request_file_content(&self, request: i64, file: i64) -> StoreResult<Option<Vec<u8>>> {
        sqlx::query_scalar(
            "SELECT c.content FROM request_file_contents c
             JOIN request_files f ON f.id = c.file_id WHERE f.request_id = $1 AND f.id = $2",
        )
        .bind(request)
        .bind(file)
        .fetch_optional(&self.pool)
        .await
        .map_err(db)
    }

    async fn request_file_pieces(
        &self,
        request: i64,
        file: i64,
        len: u32,
        sink: &mut dyn PieceSink,
    ) -> StoreResult<bool> {
        // One connection and one snapshot throughout.
        let mut tx = self
            .pool
            .begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
            .await
            .map_err(db)?;
        let len = len.max(1);
        // The database counts bytes from 1.
        let mut from = 1i32;
        loop {
            let piece: Option<Vec<u8>> = sqlx::query_scalar(
                "SELECT substring(c.content FROM $3 FOR $4) FROM request_file_contents c
                 JOIN request_files f ON f.id = c.file_id WHERE f.request_id = $1 AND f.id = $2",
            )
            .bind(request)
            .bind(file)
            .bind(from)
            .bind(i32::try_from(len).unwrap_or(i32::MAX))
            .fetch_optional(&mut *tx)
            .await
            .map_err(db)?;
            let Some(piece) = piece else {
                return Ok(false);
            };
            let last = piece.len() < len as usize;
            from = i32::try_from(piece.len())
                .ok()
                .and_then(|n| from.checked_add(n))
                .ok_or_else(|| StoreError::Corrupt(format!("file {file} is too large to read")))?;
            if !piece.is_empty() && !sink.piece(piece).await {
                break;
            }
            if last {
                break;
            }
        }
        tx.commit().await.map_err(db)?;
        Ok(true)
    }

    async fn remove_request_file(&self, request: i64, file: i64) -> StoreResult<bool> {
        let mut tx = self.pool.begin().await.map_err(db)?;
        let gone = sqlx::query("DELETE FROM request_files WHERE request_id = $1 AND id = $2")
            .bind(request)
            .bind(file)
            .execute(&mut *tx)
            .await
            .map_err(db)?
            .rows_affected();
        if gone == 0 {
            return Ok(false);
        }
        sqlx::query(
            "DELETE FROM request_withholdings
             WHERE request_id = $1 AND table_name = 'request_files' AND row_id = $2",
        )
        .bind(request)
        .bind(file)
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        bump(&mut tx, request).await?;
        tx.commit().await.map_err(db)?;
        Ok(true)
    }

    async fn withhold(&self, new: &NewWithholding) -> StoreResult<i64> {
        let mut tx = self.pool.begin().await.map_err(db)?;
        let person = person_of(&mut tx, new.request).await?;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO request_withholdings
                 (request_id, person_id, table_name, row_id, ground, note, withheld_by, withheld_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
        )
        .bind(new.request)
        .bind(person)
        .bind(&new.item.table)
        .bind(new.item.row)
        .bind(new.ground.code())
        .bind(&new.note)
        .bind(new.by)
        .bind(new.at)
        .fetch_one(&mut *tx)
        .await
        .map_err(|e| match e {
            sqlx::Error::Database(d) if d.is_unique_violation() => {
                StoreError::Duplicate("a withholding of this item")
            }
            other => db(other),
        })?;
        bump(&mut tx, new.request).await?;
        tx.commit().await.map_err(db)?;
        Ok(id)
    }

    async fn lift_withholding(&self, request: i64, id: i64) -> StoreResult<bool> {
        let mut tx = self.pool.begin().await.map_err(db)?;
        let gone =
            sqlx::query("DELETE FROM request_withholdings WHERE request_id = $1 AND id = $2")
                .bind(request)
                .bind(id)
                .execute(&mut *tx)
                .await
                .map_err(db)?
                .rows_affected();
        if gone == 0 {
            return Ok(false);
        }
        bump(&mut tx, request).await?;
        tx.commit().await.map_err(db)?;
        Ok(true)
    }

    async fn withholdings(&self, request: i64) -> StoreResult<Vec<Withholding>> {
        sqlx::query("SELECT * FROM request_withholdings WHERE request_id = $1 ORDER BY id")
            .bind(request)
            .fetch_all(&self.pool)
            .await
            .map_err(db)?
            .iter()
            .map(withholding_from_row)
            .collect()
    }

    async fn item_versions(&self, request: i64) -> StoreResult<ItemVersions> {
        let row: Option<(i64, Option<i64>)> = sqlx::query_as(
            "SELECT version, built FROM request_item_versions WHERE request_id = $1",
        )
        .bind(request)
        .fetch_optional(&self.pool)
        .await
        .map_err(db)?;
        Ok(
            row.map_or_else(ItemVersions::default, |(current, built)| ItemVersions {
                current,
                built,
            }),
        )
    }

    async fn items_built(&self, request: i64, version: i64) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO request_item_versions (request_id, version, built) VALUES ($1, $2, $2)
             ON CONFLICT (request_id) DO UPDATE SET built = excluded.built",
        )
        .bind(request)
        .bind(version)
        .execute(&self.pool)
        .await
        .map_err(db)?;
        Ok(())
    }
}
