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
    let preference_links = stores.people.purge_preference_links_before(now).await?;
    // Consent given on a form and not confirmed from the address before its link expired
    // never counted, and is forgotten.
    let unconfirmed = stores
        .people
        .purge_consent_confirmations_before(now)
        .await?;
    // An uploaded file that was never confirmed is dropped after a day.
    let imports = stores
        .people
        .purge_imports_before(now - Duration::days(1))
        .await?;
    // People without an account are erased once every purpose they were kept for has run
    // its course since they were last in touch; an objection they made stays as a code.
    let idle_since = now - Duration::days(i64::from(purposes::people_retention_days(config)));
    let mut people = 0;
    loop {
        let idle = stores.people.people_idle_since(idle_since, 500).await?;
        if idle.is_empty() {
            break;
        }
        for id in idle {
            if stores.people.erase_person(id).await? {
                people += 1;
            }
        }
    }
    // Per-recipient opens and clicks become totals per campaign once the campaign has been
    // finished for the tracking retention period.
    let tracking = stores
        .campaigns
        .reduce_tracking_before(
            now - Duration::days(i64::from(config.campaigns.tracking_retention_days)),
            now,
        )
        .await?;
    let total = receipts
        + tracking
        + sessions
        + links
        + windows
        + audit
        + voter_hashes
        + preference_links
        + unconfirmed
        + imports
        + people;
    if total > 0 {
        tracing::info!(
            receipts,
            sessions,
            links,
            windows,
            audit,
            voter_hashes,
            preference_links,
            unconfirmed,
            imports,
            people,
            tracking,
            "Deleted records past their retention period."
        );
    }
    Ok(total)
}
