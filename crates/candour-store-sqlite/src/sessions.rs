//! Sign-in sessions and single-use email links on SQLite.

use async_trait::async_trait;
use candour_core::account::EmailAddress;
use candour_core::session::LinkClaim;
use candour_core::session::{LinkPurpose, SecretHash, Session};
use candour_core::store::{LinkStore, SessionStore, StoreResult};
use sqlx::Row;
use time::OffsetDateTime;

use crate::accounts::corrupt;
use crate::{SqliteStore, db, from_unix, unix};

#[async_trait]
impl SessionStore for SqliteStore {
    async fn create_session(
        &self,
        secret: &SecretHash,
        account: i64,
        now: OffsetDateTime,
    ) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO sessions (hash, account_id, created_at, last_seen_at) VALUES (?, ?, ?, ?)",
        )
        .bind(&secret.0[..])
        .bind(account)
        .bind(unix(now))
        .bind(unix(now))
        .execute(&self.writer)
        .await
        .map_err(db)?;
        Ok(())
    }

    async fn session(&self, secret: &SecretHash) -> StoreResult<Option<Session>> {
        let row =
            sqlx::query("SELECT account_id, created_at, last_seen_at FROM sessions WHERE hash = ?")
                .bind(&secret.0[..])
                .fetch_optional(&self.reader)
                .await
                .map_err(db)?;
        row.map(|r| {
            Ok(Session {
                account: r.try_get("account_id").map_err(db)?,
                created_at: from_unix(r.try_get("created_at").map_err(db)?)?,
                last_seen_at: from_unix(r.try_get("last_seen_at").map_err(db)?)?,
            })
        })
        .transpose()
    }

    async fn touch_session(&self, secret: &SecretHash, now: OffsetDateTime) -> StoreResult<()> {
        sqlx::query("UPDATE sessions SET last_seen_at = ? WHERE hash = ?")
            .bind(unix(now))
            .bind(&secret.0[..])
            .execute(&self.writer)
            .await
            .map_err(db)?;
        Ok(())
    }

    async fn end_session(&self, secret: &SecretHash) -> StoreResult<()> {
        sqlx::query("DELETE FROM sessions WHERE hash = ?")
            .bind(&secret.0[..])
            .execute(&self.writer)
            .await
            .map_err(db)?;
        Ok(())
    }

    async fn end_all_sessions(&self, account: i64) -> StoreResult<u64> {
        let done = sqlx::query("DELETE FROM sessions WHERE account_id = ?")
            .bind(account)
            .execute(&self.writer)
            .await
            .map_err(db)?;
        Ok(done.rows_affected())
    }

    async fn purge_sessions_before(&self, cutoff: OffsetDateTime) -> StoreResult<u64> {
        let done = sqlx::query("DELETE FROM sessions WHERE last_seen_at < ?")
            .bind(unix(cutoff))
            .execute(&self.writer)
            .await
            .map_err(db)?;
        Ok(done.rows_affected())
    }
}

#[async_trait]
impl LinkStore for SqliteStore {
    async fn create_link(
        &self,
        secret: &SecretHash,
        purpose: LinkPurpose,
        account: i64,
        new_email: Option<&EmailAddress>,
        expires_at: OffsetDateTime,
    ) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO email_links (hash, purpose, account_id, new_email, expires_at)
             VALUES (?, ?, ?, ?, ?)",
        )
        .bind(&secret.0[..])
        .bind(purpose.as_str())
        .bind(account)
        .bind(new_email.map(EmailAddress::as_str))
        .bind(unix(expires_at))
        .execute(&self.writer)
        .await
        .map_err(db)?;
        Ok(())
    }

    async fn consume_link(
        &self,
        secret: &SecretHash,
        purpose: LinkPurpose,
        now: OffsetDateTime,
    ) -> StoreResult<Option<LinkClaim>> {
        // One statement: two requests racing with one link cannot both succeed.
        let row = sqlx::query(
            "UPDATE email_links SET used_at = ?
             WHERE hash = ? AND purpose = ? AND used_at IS NULL AND expires_at > ?
             RETURNING account_id, new_email",
        )
        .bind(unix(now))
        .bind(&secret.0[..])
        .bind(purpose.as_str())
        .bind(unix(now))
        .fetch_optional(&self.writer)
        .await
        .map_err(db)?;
        row.map(|r| {
            let new_email: Option<String> = r.try_get("new_email").map_err(db)?;
            Ok(LinkClaim {
                account: r.try_get("account_id").map_err(db)?,
                new_email: new_email
                    .map(|e| EmailAddress::parse(&e).map_err(|_| corrupt("new_email")))
                    .transpose()?,
            })
        })
        .transpose()
    }

    async fn purge_links_before(&self, cutoff: OffsetDateTime) -> StoreResult<u64> {
        let done = sqlx::query("DELETE FROM email_links WHERE expires_at < ?")
            .bind(unix(cutoff))
            .execute(&self.writer)
            .await
            .map_err(db)?;
        Ok(done.rows_affected())
    }
}
