//! Retention: records past their time are deleted, as the privacy notice promises.

use candour_core::Clock;
use candour_core::config::Config;
use candour_core::purposes;
use candour_core::store::{StoreResult, Stores};
use time::Duration;

/// Delete everything past its retention period; returns how many records went.
pub async fn purge_expired(
    stores: &Stores,
    config: &Config,
    clock: &dyn Clock,
) -> StoreResult<u64> {
    let now = clock.now();
    let receipts = stores
        .consent
        .purge_receipts_before(
            now - Duration::days(i64::from(config.cookies.receipt_retention_days)),
        )
        .await?;
    // A session cannot outlive its absolute timeout; a link is useless once it has expired;
    // no rate-limit window is longer than an hour.
    let sessions = stores
        .sessions
        .purge_sessions_before(
            now - Duration::hours(i64::from(config.accounts.absolute_timeout_hours)),
        )
        .await?;
    let links = stores.links.purge_links_before(now).await?;
    let windows = stores
        .rate_limits
        .purge_windows_before(now - Duration::hours(2))
        .await?;
    let audit = stores
        .audit
        .purge_audit_before(now - Duration::days(i64::from(purposes::AUDIT_RETENTION_DAYS)))
        .await?;
    let voter_hashes = stores
        .polls
        .forget_voter_hashes_before(&candour_core::poll::vote_day(now))
        .await?;
    let total = receipts + sessions + links + windows + audit + voter_hashes;
    if total > 0 {
        tracing::info!(
            receipts,
            sessions,
            links,
            windows,
            audit,
            voter_hashes,
            "Deleted records past their retention period."
        );
    }
    Ok(total)
}
