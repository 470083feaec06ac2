//! Rate-limit counters on PostgreSQL, shared by every instance.

use async_trait::async_trait;
use candour_core::store::{RateLimitStore, StoreResult};
use time::OffsetDateTime;

use crate::{PgStore, db};

#[async_trait]
impl RateLimitStore for PgStore {
    async fn hit(&self, key: &str, window_start: OffsetDateTime) -> StoreResult<u32> {
        let mut tx = self.pool.begin().await.map_err(db)?;
        sqlx::query("DELETE FROM rate_limits WHERE key = $1 AND window_start < $2")
            .bind(key)
            .bind(window_start)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        let count: i32 = sqlx::query_scalar(
            "INSERT INTO rate_limits (key, window_start, count) VALUES ($1, $2, 1)
             ON CONFLICT (key, window_start) DO UPDATE SET count = rate_limits.count + 1
             RETURNING count",
        )
        .bind(key)
        .bind(window_start)
        .fetch_one(&mut *tx)
        .await
        .map_err(db)?;
        tx.commit().await.map_err(db)?;
        Ok(u32::try_from(count).unwrap_or(u32::MAX))
    }

    async fn forgive(&self, key: &str, window_start: OffsetDateTime) -> StoreResult<()> {
        sqlx::query(
            "UPDATE rate_limits SET count = count - 1
             WHERE key = $1 AND window_start = $2 AND count > 0",
        )
        .bind(key)
        .bind(window_start)
        .execute(&self.pool)
        .await
        .map_err(db)?;
        Ok(())
    }

    async fn count(&self, key: &str, window_start: OffsetDateTime) -> StoreResult<u32> {
        let count: Option<i32> = sqlx::query_scalar(
            "SELECT count FROM rate_limits WHERE key = $1 AND window_start = $2",
        )
        .bind(key)
        .bind(window_start)
        .fetch_optional(&self.pool)
        .await
        .map_err(db)?;
        Ok(count.map_or(0, |c| u32::try_from(c).unwrap_or(u32::MAX)))
    }

    async fn purge_windows_before(&self, cutoff: OffsetDateTime) -> StoreResult<u64> {
        let done = sqlx::query("DELETE FROM rate_limits WHERE window_start < $1")
            .bind(cutoff)
            .execute(&self.pool)
            .await
            .map_err(db)?;
        Ok(done.rows_affected())
    }
}
