//! The consent ledger, the suppression list, preference links and confirmations on SQLite.
//!
//! Every change that touches the ledger happens in one transaction with the checks it
//! depends on (the suppression list is read inside it), so nothing is half-written.

use async_trait::async_trait;
use candour_core::account::EmailAddress;
use candour_core::people::ConsentChange;
use candour_core::people::{ConsentEvent, PendingGrant, confirmed_grants, suppression_key};
use candour_core::purposes::{Channel, Purpose};
use candour_core::session::SecretHash;
use candour_core::store::{LedgerStore, StoreResult};
use sqlx::Row;
use time::OffsetDateTime;

use crate::people::{append_in, corrupt, email_of, events_in, suppressed_in};
use crate::{SqliteStore, db, from_unix, unix};

#[async_trait]
impl LedgerStore for SqliteStore {
    async fn consent_events(&self, person: i64) -> StoreResult<Vec<ConsentEvent>> {
        let mut conn = self.reader.acquire().await.map_err(db)?;
        events_in(&mut conn, person).await
    }

    async fn append_consents(&self, change: ConsentChange<'_>) -> StoreResult<()> {
        let mut tx = self.writer.begin().await.map_err(db)?;
        let email = email_of(&mut tx, change.person).await?;
        append_in(&mut tx, &email, change).await?;
        tx.commit().await.map_err(db)?;
        Ok(())
    }

    async fn suppressed_channels(&self, email: &EmailAddress) -> StoreResult<Vec<Channel>> {
        let mut conn = self.reader.acquire().await.map_err(db)?;
        suppressed_in(&mut conn, &suppression_key(email)).await
    }

    async fn create_preference_link(
        &self,
        secret: &SecretHash,
        person: i64,
        expires_at: OffsetDateTime,
    ) -> StoreResult<()> {
        sqlx::query("INSERT INTO preference_links (hash, person_id, expires_at) VALUES (?, ?, ?)")
            .bind(&secret.0[..])
            .bind(person)
            .bind(unix(expires_at))
            .execute(&self.writer)
            .await
            .map_err(db)?;
        Ok(())
    }

    async fn consume_preference_link(
        &self,
        secret: &SecretHash,
        now: OffsetDateTime,
    ) -> StoreResult<Option<i64>> {
        sqlx::query_scalar(
            "UPDATE preference_links SET used_at = ?
             WHERE hash = ? AND used_at IS NULL AND expires_at > ?
             RETURNING person_id",
        )
        .bind(unix(now))
        .bind(&secret.0[..])
        .bind(unix(now))
        .fetch_optional(&self.writer)
        .await
        .map_err(db)
    }

    async fn purge_preference_links_before(&self, cutoff: OffsetDateTime) -> StoreResult<u64> {
        let done = sqlx::query("DELETE FROM preference_links WHERE expires_at < ?")
            .bind(unix(cutoff))
            .execute(&self.writer)
            .await
            .map_err(db)?;
        Ok(done.rows_affected())
    }

    async fn confirm_consents(
        &self,
        secret: &SecretHash,
        purposes: &[Purpose],
        now: OffsetDateTime,
    ) -> StoreResult<Option<i64>> {
        let mut tx = self.writer.begin().await.map_err(db)?;
        let row = sqlx::query(
            "DELETE FROM consent_confirmations WHERE hash = ? AND expires_at > ?
             RETURNING person_id, form_id, form_version, grants, submitted_at",
        )
        .bind(&secret.0[..])
        .bind(unix(now))
        .fetch_optional(&mut *tx)
        .await
        .map_err(db)?;
        let Some(row) = row else {
            return Ok(None);
        };
        let person: i64 = row.try_get("person_id").map_err(db)?;
        let grants: String = row.try_get("grants").map_err(db)?;
        let grants: Vec<PendingGrant> =
            serde_json::from_str(&grants).map_err(|_| corrupt("consent_confirmations.grants"))?;
        let events = confirmed_grants(
            &grants,
            row.try_get("form_id").map_err(db)?,
            row.try_get("form_version").map_err(db)?,
            from_unix(row.try_get("submitted_at").map_err(db)?)?,
        );
        let email = email_of(&mut tx, person).await?;
        append_in(
            &mut tx,
            &email,
            ConsentChange {
                person,
                events: &events,
                objections: &[],
                actor: None,
                purposes,
                at: now,
            },
        )
        .await?;
        tx.commit().await.map_err(db)?;
        Ok(Some(person))
    }

    async fn purge_consent_confirmations_before(&self, cutoff: OffsetDateTime) -> StoreResult<u64> {
        let done = sqlx::query("DELETE FROM consent_confirmations WHERE expires_at < ?")
            .bind(unix(cutoff))
            .execute(&self.writer)
            .await
            .map_err(db)?;
        Ok(done.rows_affected())
    }
}
