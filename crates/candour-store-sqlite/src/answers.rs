//! Answers to requests for a copy of one's data, and their single-use links, on SQLite.

use async_trait::async_trait;
use candour_core::session::SecretHash;
use candour_core::store::{Answer, AnswerStore, NewAnswer, StoreResult, Taken};
use sqlx::Row;
use sqlx::sqlite::SqliteRow;
use time::OffsetDateTime;

use crate::{SqliteStore, db, from_unix, unix};

fn answer_from_row(r: &SqliteRow) -> StoreResult<Answer> {
    let opt = |col: &str| -> StoreResult<Option<OffsetDateTime>> {
        r.try_get::<Option<i64>, _>(col)
            .map_err(db)?
            .map(from_unix)
            .transpose()
    };
    Ok(Answer {
        request: r.try_get("request_id").map_err(db)?,
        file: r.try_get("file").map_err(db)?,
        bytes: r.try_get("bytes").map_err(db)?,
        rows: r.try_get("rows_held").map_err(db)?,
        built_at: from_unix(r.try_get("built_at").map_err(db)?)?,
        built_by: r.try_get("built_by").map_err(db)?,
        released_at: opt("released_at")?,
        link_expires_at: opt("link_expires_at")?,
        downloaded_at: opt("downloaded_at")?,
    })
}

impl SqliteStore {
    async fn answer_with_link(
        &self,
        request: i64,
        link: &SecretHash,
    ) -> StoreResult<Option<Answer>> {
        sqlx::query("SELECT * FROM request_answers WHERE request_id = ? AND link_hash = ?")
            .bind(request)
            .bind(link.0.as_slice())
            .fetch_optional(&self.writer)
            .await
            .map_err(db)?
            .as_ref()
            .map(answer_from_row)
            .transpose()
    }
}

#[async_trait]
impl AnswerStore for SqliteStore {
    async fn record_answer(&self, new: &NewAnswer) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO request_answers
                 (request_id, person_id, file, bytes, rows_held, built_at, built_by)
             VALUES (?1, (SELECT person_id FROM data_requests WHERE id = ?1), ?2, ?3, ?4, ?5, ?6)
             ON CONFLICT (request_id) DO UPDATE SET
                 person_id = excluded.person_id, file = excluded.file, bytes = excluded.bytes,
                 rows_held = excluded.rows_held, built_at = excluded.built_at,
                 built_by = excluded.built_by, link_hash = NULL, link_expires_at = NULL,
                 released_at = NULL, downloaded_at = NULL",
        )
        .bind(new.request)
        .bind(&new.file)
        .bind(new.bytes)
        .bind(new.rows)
        .bind(unix(new.built_at))
        .bind(new.built_by)
        .execute(&self.writer)
        .await
        .map_err(db)?;
        Ok(())
    }

    async fn answer(&self, request: i64) -> StoreResult<Option<Answer>> {
        sqlx::query("SELECT * FROM request_answers WHERE request_id = ?")
            .bind(request)
            .fetch_optional(&self.reader)
            .await
            .map_err(db)?
            .as_ref()
            .map(answer_from_row)
            .transpose()
    }

    async fn release_answer(
        &self,
        request: i64,
        link: &SecretHash,
        expires: OffsetDateTime,
        at: OffsetDateTime,
    ) -> StoreResult<bool> {
        let done = sqlx::query(
            "UPDATE request_answers
             SET link_hash = ?2, link_expires_at = ?3, released_at = ?4, downloaded_at = NULL
             WHERE request_id = ?1",
        )
        .bind(request)
        .bind(link.0.as_slice())
        .bind(unix(expires))
        .bind(unix(at))
        .execute(&self.writer)
        .await
        .map_err(db)?;
        Ok(done.rows_affected() == 1)
    }

    async fn take_answer(
        &self,
        request: i64,
        link: &SecretHash,
        at: OffsetDateTime,
    ) -> StoreResult<Taken> {
        let spent = sqlx::query(
            "UPDATE request_answers SET downloaded_at = ?3
             WHERE request_id = ?1 AND link_hash = ?2 AND downloaded_at IS NULL
               AND link_expires_at > ?3
             RETURNING *",
        )
        .bind(request)
        .bind(link.0.as_slice())
        .bind(unix(at))
        .fetch_optional(&self.writer)
        .await
        .map_err(db)?;
        match spent {
            Some(row) => Ok(Taken::Yours(answer_from_row(&row)?)),
            None => Ok(
                match Taken::judge(self.answer_with_link(request, link).await?, at) {
                    // Spent by someone else between the two statements.
                    Taken::Yours(a) => Taken::Used(a.downloaded_at.unwrap_or(at)),
                    other => other,
                },
            ),
        }
    }

    async fn peek_answer(
        &self,
        request: i64,
        link: &SecretHash,
        at: OffsetDateTime,
    ) -> StoreResult<Taken> {
        Ok(Taken::judge(
            self.answer_with_link(request, link).await?,
            at,
        ))
    }
}
