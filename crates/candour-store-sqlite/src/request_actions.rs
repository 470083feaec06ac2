//! What staff do about a request's case, on SQLite: each change to the person's record is
//! written with its line on the case's history, in one transaction.

use async_trait::async_trait;
use candour_core::account::Profile;
use candour_core::datamap::Subject;
use candour_core::requests::Case;
use candour_core::store::{Lifted, RequestActionStore, StoreError, StoreResult};
use candour_core::uk_time::ISO_DATE;
use sqlx::SqliteConnection;
use time::{Date, OffsetDateTime};

use crate::people::write_details;
use crate::requests::event;
use crate::subjects::erase_subject;
use crate::{SqliteStore, db, from_unix, unix};

/// The case's person, or `Refused` when it has none (never linked, or already erased).
async fn person_of(conn: &mut SqliteConnection, id: i64) -> StoreResult<i64> {
    let person: Option<Option<i64>> =
        sqlx::query_scalar("SELECT person_id FROM data_requests WHERE id = ?")
            .bind(id)
            .fetch_optional(&mut *conn)
            .await
            .map_err(db)?;
    person
        .flatten()
        .ok_or_else(|| StoreError::Refused("the request has no person record to act on".into()))
}

#[async_trait]
impl RequestActionStore for SqliteStore {
    async fn erase_for_request(&self, id: i64, actor: i64, at: OffsetDateTime) -> StoreResult<()> {
        let mut tx = self.writer.begin().await.map_err(db)?;
        let person = person_of(&mut tx, id).await?;
        let account: Option<(i64, Option<String>)> = sqlx::query_as(
            "SELECT a.id, a.role FROM people p JOIN accounts a ON a.id = p.account_id
             WHERE p.id = ?",
        )
        .bind(person)
        .fetch_optional(&mut *tx)
        .await
        .map_err(db)?;
        if let Some((_, Some(_))) = account {
            return Err(StoreError::Refused(
                "the person is a member of staff: an administrator removes their role first".into(),
            ));
        }
        sqlx::query("DELETE FROM people WHERE id = ?")
            .bind(person)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        erase_subject(&mut tx, Subject::Person, person).await?;
        if let Some((account, None)) = account {
            erase_subject(&mut tx, Subject::Account, account).await?;
        }
        event(&mut tx, id, Some(actor), "erased", "", at).await?;
        tx.commit().await.map_err(db)?;
        Ok(())
    }

    async fn correct_for_request(
        &self,
        id: i64,
        details: &Profile,
        actor: i64,
        detail: &str,
        at: OffsetDateTime,
    ) -> StoreResult<()> {
        let mut tx = self.writer.begin().await.map_err(db)?;
        let person = person_of(&mut tx, id).await?;
        write_details(&mut tx, person, details, at).await?;
        event(&mut tx, id, Some(actor), "correction-accepted", detail, at).await?;
        tx.commit().await.map_err(db)?;
        Ok(())
    }

    async fn restrict_for_request(
        &self,
        id: i64,
        actor: i64,
        at: OffsetDateTime,
    ) -> StoreResult<()> {
        let mut tx = self.writer.begin().await.map_err(db)?;
        let person = person_of(&mut tx, id).await?;
        sqlx::query(
            "UPDATE people SET restricted_since = coalesce(restricted_since, ?) WHERE id = ?",
        )
        .bind(unix(at))
        .bind(person)
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        event(&mut tx, id, Some(actor), "restricted", "", at).await?;
        tx.commit().await.map_err(db)?;
        Ok(())
    }

    async fn restricted_since(&self, person: i64) -> StoreResult<Option<OffsetDateTime>> {
        let since: Option<Option<i64>> =
            sqlx::query_scalar("SELECT restricted_since FROM people WHERE id = ?")
                .bind(person)
                .fetch_optional(&self.reader)
                .await
                .map_err(db)?;
        since.flatten().map(from_unix).transpose()
    }

    async fn lift_restriction(
        &self,
        person: i64,
        actor: i64,
        at: OffsetDateTime,
    ) -> StoreResult<Lifted> {
        let mut tx = self.writer.begin().await.map_err(db)?;
        let lifted = sqlx::query(
            "UPDATE people SET restricted_since = NULL
             WHERE id = ? AND restricted_since IS NOT NULL",
        )
        .bind(person)
        .execute(&mut *tx)
        .await
        .map_err(db)?
        .rows_affected();
        if lifted == 0 {
            return Ok(Lifted::NotRestricted);
        }
        let case: Option<i64> = sqlx::query_scalar(
            "SELECT request_id FROM data_request_events
             WHERE person_id = ? AND action = 'restricted' ORDER BY id DESC LIMIT 1",
        )
        .bind(person)
        .fetch_optional(&mut *tx)
        .await
        .map_err(db)?;
        if let Some(case) = case {
            event(&mut tx, case, Some(actor), "restriction-lifted", "", at).await?;
        }
        tx.commit().await.map_err(db)?;
        Ok(Lifted::Lifted(case))
    }

    async fn record_outcome(
        &self,
        id: i64,
        actor: Option<i64>,
        action: &str,
        detail: &str,
        at: OffsetDateTime,
    ) -> StoreResult<()> {
        let mut conn = self.writer.acquire().await.map_err(db)?;
        event(&mut conn, id, actor, action, detail, at).await
    }

    async fn cases_received_between(&self, from: Date, to: Date) -> StoreResult<Vec<Case>> {
        let day = |d: Date| {
            d.format(ISO_DATE)
                .map_err(|e| StoreError::Other(Box::new(e)))
        };
        // The bounds are dates formatted here (digits and dashes), never a visitor's text.
        let sql = format!(
            "SELECT * FROM data_requests
             WHERE received_on >= '{}' AND received_on <= '{}' ORDER BY received_on, id",
            day(from)?,
            day(to)?
        );
        self.cases(&sql, None).await
    }
}
