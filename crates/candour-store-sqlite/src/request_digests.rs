//! The daily digest's claimed days, on SQLite.

use async_trait::async_trait;
use candour_core::store::{RequestDigestStore, StoreError, StoreResult};
use candour_core::uk_time::ISO_DATE;
use time::{Date, OffsetDateTime};

use crate::{SqliteStore, db, unix};

#[async_trait]
impl RequestDigestStore for SqliteStore {
    async fn claim_digest_day(&self, day: Date, at: OffsetDateTime) -> StoreResult<bool> {
        let day = day
            .format(ISO_DATE)
            .map_err(|e| StoreError::Other(Box::new(e)))?;
        let claimed = sqlx::query(
            "INSERT INTO request_digests (day, claimed_at) VALUES (?, ?) ON CONFLICT DO NOTHING",
        )
        .bind(day)
        .bind(unix(at))
        .execute(&self.writer)
        .await
        .map_err(db)?
        .rows_affected();
        Ok(claimed == 1)
    }
}
