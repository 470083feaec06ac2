//! Retention: records past their time are deleted, as the privacy notice promises. The
//! binary runs this hourly; it decides what is past its time and asks the stores to delete
//! it.

use time::Duration;

use crate::Clock;
use crate::config::Config;
use crate::purposes;
use crate::store::{StoreResult, Stores};

/// How many records of each kind one purge deleted (or, for `tracking`, reduced to totals).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Purged {
    pub receipts: u64,
    pub sessions: u64,
    pub links: u64,
    pub windows: u64,
    pub audit: u64,
    pub voter_hashes: u64,
    pub preference_links: u64,
    pub unconfirmed: u64,
    pub unconfirmed_requests: u64,
    pub imports: u64,
    pub people: u64,
    pub tracking: u64,
}

impl Purged {
    /// How many records went, of every kind.
    pub fn total(&self) -> u64 {
        self.receipts
            + self.tracking
            + self.sessions
            + self.links
            + self.windows
            + self.audit
            + self.voter_hashes
            + self.preference_links
            + self.unconfirmed
            + self.unconfirmed_requests
            + self.imports
            + self.people
    }
}

/// Delete everything past its retention period; returns how many records of each kind went.
pub async fn purge_expired(
    stores: &Stores,
    config: &Config,
    clock: &dyn Clock,
) -> StoreResult<Purged> {
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
        .votes
        .forget_voter_hashes_before(&crate::poll::vote_day(now))
        .await?;
    let preference_links = stores.ledger.purge_preference_links_before(now).await?;
    // Consent given on a form and not confirmed from the address before its link expired
    // never counted, and is forgotten.
    let unconfirmed = stores
        .ledger
        .purge_consent_confirmations_before(now)
        .await?;
    // A request about personal data whose address never confirmed it was never a case.
    let unconfirmed_requests = stores.requests.purge_unconfirmed_requests(now).await?;
    // An uploaded file that was never confirmed is dropped after a day.
    let imports = stores
        .imports
        .purge_imports_before(now - Duration::days(1))
        .await?;
    // People without an account are erased once every purpose they were kept for has run
    // its course since they were last in touch; an objection they made stays as a code.
    let idle_since = now - Duration::days(i64::from(purposes::people_retention_days(config)));
    let mut people = 0;
    loop {
        let idle = stores.subjects.people_idle_since(idle_since, 500).await?;
        if idle.is_empty() {
            break;
        }
        for id in idle {
            if stores.subjects.erase_person(id).await? {
                people += 1;
            }
        }
    }
    // Per-recipient opens and clicks become totals per campaign once the campaign has been
    // finished for the tracking retention period.
    let tracking = stores
        .tracking
        .reduce_tracking_before(
            now - Duration::days(i64::from(config.campaigns.tracking_retention_days)),
            now,
        )
        .await?;
    Ok(Purged {
        receipts,
        sessions,
        links,
        windows,
        audit,
        voter_hashes,
        preference_links,
        unconfirmed,
        unconfirmed_requests,
        imports,
        people,
        tracking,
    })
}
