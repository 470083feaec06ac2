//! The daily digest's claimed days, on PostgreSQL.

use async_trait::async_trait;
use candour_core::store::{RequestDigestStore, StoreResult};
use time::{Date, OffsetDateTime};

use crate::{PgStore, db};

#[async_trait]
impl RequestDigestStore for PgStore {
    async fn claim_digest_day(&self, day: Date, at: OffsetDateTime) -> StoreResult<bool> {
        let claimed = sqlx::query(
            "INSERT INTO request_digests (day, claimed_at) VALUES ($1, $2) ON CONFLICT DO NOTHING",
        )
        .bind(day)
        .bind(at)
        .execute(&self.pool)
        .await
        .map_err(db)?
        .rows_affected();
        Ok(claimed == 1)
    }
}
