//! The storage traits, one per capability, implemented by each store crate.
//!
//! Architecture invariant: traits are narrow and named after use cases; the web and mail
//! crates hold them as `Arc<dyn …>` and never see SQL.

use std::sync::Arc;

use async_trait::async_trait;
use time::OffsetDateTime;

use crate::account::{EmailAddress, Phone, Postcode, Role};
use crate::consent::{Receipt, ReceiptId, Tally};
use crate::poll::{Poll, PollDraft};
use crate::session::{LinkPurpose, SecretHash, Session};

/// A storage failure, with its cause kept for the logs.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database could not be reached or did not answer in time.
    #[error("the database is unavailable")]
    Unavailable(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// A row that must be unique already exists.
    #[error("{0} already exists")]
    Duplicate(&'static str),
    /// Stored data that cannot be read back as the domain type it should be.
    #[error("stored data is not valid: {0}")]
    Corrupt(String),
    #[error("database error")]
    Other(#[source] Box<dyn std::error::Error + Send + Sync>),
}

pub type StoreResult<T> = Result<T, StoreError>;

/// Is the database there?
#[async_trait]
pub trait HealthStore: Send + Sync {
    async fn ping(&self) -> StoreResult<()>;
}

/// Keys the server signs with, shared by every instance on one database.
#[async_trait]
pub trait KeyStore: Send + Sync {
    /// The key stored under `name`; when there is none yet, `fresh` is stored and returned.
    /// Instances that race agree on whichever key was stored first.
    async fn key_or_insert(&self, name: &str, fresh: &[u8]) -> StoreResult<Vec<u8>>;
}

/// Consent receipts for optional cookies.
#[async_trait]
pub trait ConsentStore: Send + Sync {
    async fn record_receipt(&self, receipt: &Receipt) -> StoreResult<()>;
    async fn find_receipt(&self, id: &ReceiptId) -> StoreResult<Option<Receipt>>;
    /// Counts of receipts recorded at or after `since`.
    async fn tally_since(&self, since: OffsetDateTime) -> StoreResult<Tally>;
    /// Delete receipts recorded before `cutoff`; returns how many went.
    async fn purge_receipts_before(&self, cutoff: OffsetDateTime) -> StoreResult<u64>;
}

/// Every store a running server needs, on one backend.
#[derive(Clone)]
pub struct Stores {
    /// "sqlite" or "postgres", for logs and the readiness page.
    pub backend: &'static str,
    pub health: Arc<dyn HealthStore>,
    pub keys: Arc<dyn KeyStore>,
    pub consent: Arc<dyn ConsentStore>,
    pub accounts: Arc<dyn AccountStore>,
    pub sessions: Arc<dyn SessionStore>,
    pub links: Arc<dyn LinkStore>,
    pub audit: Arc<dyn AuditStore>,
    pub rate_limits: Arc<dyn RateLimitStore>,
    pub polls: Arc<dyn PollStore>,
}

/// A person's profile, as they keep it on their account page.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Profile {
    pub name: String,
    pub job_title: String,
    pub phone: Option<Phone>,
    /// Lines of a postal address, without the postcode.
    pub postal_address: String,
    pub postcode: Option<Postcode>,
    /// Topic ids from the organisation's list.
    pub interests: Vec<String>,
}

/// A stored account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    pub id: i64,
    pub email: EmailAddress,
    pub email_verified: bool,
    /// A PHC string (argon2id).
    pub password_hash: String,
    pub role: Option<Role>,
    pub profile: Profile,
    /// The authenticator-app secret, when the second factor is on.
    pub totp_secret: Option<Vec<u8>>,
    pub created_at: OffsetDateTime,
}

#[derive(Debug, Clone)]
pub struct NewAccount {
    pub email: EmailAddress,
    pub password_hash: String,
    pub name: String,
    pub role: Option<Role>,
    pub email_verified: bool,
    pub created_at: OffsetDateTime,
}

/// Accounts and their profiles.
#[async_trait]
pub trait AccountStore: Send + Sync {
    /// `Duplicate` when the email address is taken.
    async fn create_account(&self, new: &NewAccount) -> StoreResult<i64>;
    async fn account(&self, id: i64) -> StoreResult<Option<Account>>;
    async fn account_by_email(&self, email: &EmailAddress) -> StoreResult<Option<Account>>;
    async fn update_profile(&self, id: i64, profile: &Profile) -> StoreResult<()>;
    async fn mark_email_verified(&self, id: i64) -> StoreResult<()>;
    /// `Duplicate` when another account has the address.
    async fn change_email(&self, id: i64, email: &EmailAddress) -> StoreResult<()>;
    /// Set a new password hash and end every session of the account, in one transaction.
    async fn change_password(&self, id: i64, password_hash: &str) -> StoreResult<()>;
    async fn set_role(&self, id: i64, role: Option<Role>) -> StoreResult<()>;
    /// Delete the account with its sessions and links.
    async fn delete_account(&self, id: i64) -> StoreResult<()>;
    /// Every account with a staff role, by email.
    async fn staff(&self) -> StoreResult<Vec<Account>>;
    /// Turn the second factor on with its secret and recovery-code hashes, replacing any.
    async fn enable_totp(&self, id: i64, secret: &[u8], recovery: &[[u8; 32]]) -> StoreResult<()>;
    async fn disable_totp(&self, id: i64) -> StoreResult<()>;
    /// Record `step` as used if it is later than the last used step; `false` on a replay.
    async fn use_totp_step(&self, id: i64, step: i64) -> StoreResult<bool>;
    /// Delete the recovery code with this hash; `true` if there was one.
    async fn use_recovery_code(&self, id: i64, hash: &[u8; 32]) -> StoreResult<bool>;
}

/// Sign-in sessions, stored by the hash of their secret.
#[async_trait]
pub trait SessionStore: Send + Sync {
    async fn create_session(
        &self,
        secret: &SecretHash,
        account: i64,
        now: OffsetDateTime,
    ) -> StoreResult<()>;
    async fn session(&self, secret: &SecretHash) -> StoreResult<Option<Session>>;
    async fn touch_session(&self, secret: &SecretHash, now: OffsetDateTime) -> StoreResult<()>;
    async fn end_session(&self, secret: &SecretHash) -> StoreResult<()>;
    /// Returns how many sessions ended.
    async fn end_all_sessions(&self, account: i64) -> StoreResult<u64>;
    /// Delete sessions last seen before `cutoff`.
    async fn purge_sessions_before(&self, cutoff: OffsetDateTime) -> StoreResult<u64>;
}

/// What a used single-use link was for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkClaim {
    pub account: i64,
    /// For a change of email: the new address.
    pub new_email: Option<EmailAddress>,
}

/// Single-use email links.
#[async_trait]
pub trait LinkStore: Send + Sync {
    async fn create_link(
        &self,
        secret: &SecretHash,
        purpose: LinkPurpose,
        account: i64,
        new_email: Option<&EmailAddress>,
        expires_at: OffsetDateTime,
    ) -> StoreResult<()>;
    /// Use the link: succeeds once, before it expires, for its own purpose. Using it for
    /// one purpose never uses it for another.
    async fn consume_link(
        &self,
        secret: &SecretHash,
        purpose: LinkPurpose,
        now: OffsetDateTime,
    ) -> StoreResult<Option<LinkClaim>>;
    /// Delete links that expired before `cutoff`.
    async fn purge_links_before(&self, cutoff: OffsetDateTime) -> StoreResult<u64>;
}

/// One staff action, for the audit log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEntry {
    pub at: OffsetDateTime,
    /// The staff account, or `None` for the command line.
    pub actor: Option<i64>,
    /// The actor's email at the time, kept so the log reads even after the account is gone.
    pub actor_email: String,
    /// What was done, such as `staff.role-changed`.
    pub action: String,
    /// What it was done to, such as `account:42`.
    pub target: String,
    pub detail: String,
}

#[async_trait]
pub trait AuditStore: Send + Sync {
    async fn record(&self, entry: &AuditEntry) -> StoreResult<()>;
    /// The newest entries first.
    async fn recent(&self, limit: u32) -> StoreResult<Vec<AuditEntry>>;
    /// Delete entries older than `cutoff` (past their retention period).
    async fn purge_audit_before(&self, cutoff: OffsetDateTime) -> StoreResult<u64>;
}

/// Counters for rate limits, shared by every instance.
#[async_trait]
pub trait RateLimitStore: Send + Sync {
    /// Count one event under `key` in the window starting at `window_start`; returns the
    /// count including this one. Windows before `window_start` are forgotten.
    async fn hit(&self, key: &str, window_start: OffsetDateTime) -> StoreResult<u32>;
    /// The count so far, without adding one.
    async fn count(&self, key: &str, window_start: OffsetDateTime) -> StoreResult<u32>;
    /// Forget windows that started before `cutoff`.
    async fn purge_windows_before(&self, cutoff: OffsetDateTime) -> StoreResult<u64>;
}

/// One vote, as the group commit hands it to the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewVote {
    pub poll: i64,
    pub option: i64,
    /// The signed-in voter, de-duplicated for the whole poll.
    pub account: Option<i64>,
    /// For anonymous voters: a keyed hash of (poll, address, browser) under the day's salt.
    pub voter_hash: Option<[u8; 32]>,
    /// The day the vote counts in (`YYYY-MM-DD`), for anonymous de-duplication.
    pub day: String,
    pub at: OffsetDateTime,
}

/// Who a vote is de-duplicated by: an account within a poll, or an anonymous voter's hash
/// within a poll and a day.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum VoterKey {
    Account {
        poll: i64,
        account: i64,
    },
    Anonymous {
        poll: i64,
        hash: [u8; 32],
        day: String,
    },
}

impl NewVote {
    /// `None` for a vote with neither an account nor a hash (which no store accepts).
    pub fn voter_key(&self) -> Option<VoterKey> {
        match (self.account, self.voter_hash) {
            (Some(account), _) => Some(VoterKey::Account {
                poll: self.poll,
                account,
            }),
            (None, Some(hash)) => Some(VoterKey::Anonymous {
                poll: self.poll,
                hash,
                day: self.day.clone(),
            }),
            (None, None) => None,
        }
    }
}

/// What happened to one vote of a batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VoteOutcome {
    Counted,
    /// This voter already voted in this poll (today, when anonymous).
    Duplicate,
    /// The poll or option does not exist, or the poll was closed by staff meanwhile.
    Refused,
}

#[async_trait]
pub trait PollStore: Send + Sync {
    async fn create_poll(&self, draft: &PollDraft, now: OffsetDateTime) -> StoreResult<i64>;
    /// Replace question, options and times. Options can change only while there are no
    /// votes: `Duplicate("votes")` otherwise, and nothing is changed.
    async fn update_poll(&self, id: i64, draft: &PollDraft) -> StoreResult<()>;
    async fn close_poll(&self, id: i64, at: OffsetDateTime) -> StoreResult<()>;
    async fn reopen_poll(&self, id: i64) -> StoreResult<()>;
    /// Delete the poll with its options and votes.
    async fn delete_poll(&self, id: i64) -> StoreResult<()>;
    async fn poll(&self, id: i64) -> StoreResult<Option<Poll>>;
    /// Every poll, newest first.
    async fn polls(&self) -> StoreResult<Vec<Poll>>;
    /// Record a batch of votes in one transaction; one outcome per vote, in order.
    async fn record_votes(&self, votes: &[NewVote]) -> StoreResult<Vec<VoteOutcome>>;
    /// Whether this account has voted in this poll.
    async fn has_voted(&self, poll: i64, account: i64) -> StoreResult<bool>;
    /// The salt for anonymous voter hashes on `day`; when there is none yet, `fresh` is
    /// stored and returned (instances that race agree on the first).
    async fn day_salt(&self, day: &str, fresh: &[u8]) -> StoreResult<Vec<u8>>;
    /// Forget the salts and voter hashes of days before `day`: after its day a vote keeps no
    /// trace of who cast it.
    async fn forget_voter_hashes_before(&self, day: &str) -> StoreResult<u64>;
}
