//! Retention: records past their time are deleted, as the privacy notice promises.

use candour_core::Clock;
use candour_core::config::Config;
use candour_core::store::{StoreResult, Stores};
use time::Duration;

/// Delete everything past its retention period; returns how many records went.
pub async fn purge_expired(
    stores: &Stores,
    config: &Config,
    clock: &dyn Clock,
) -> StoreResult<u64> {
    let cutoff = clock.now() - Duration::days(i64::from(config.cookies.receipt_retention_days));
    let receipts = stores.consent.purge_receipts_before(cutoff).await?;
    if receipts > 0 {
        tracing::info!(
            receipts,
            "Deleted consent receipts past their retention period."
        );
    }
    Ok(receipts)
}
