//! The storage traits, one per capability, implemented by each store crate.
//!
//! Architecture invariant: traits are narrow and named after use cases; the web and mail
//! crates hold them as `Arc<dyn …>` and never see SQL.

use std::sync::Arc;

use async_trait::async_trait;
use time::OffsetDateTime;

use crate::account::{EmailAddress, Phone, Postcode, Role};
use crate::consent::{Receipt, ReceiptId, Tally};
use crate::forms::{Answer, FormDefinition, PersonPatch};
use crate::import::ImportRow;
use crate::people::{
    ConsentEvent, ConsentRefused, Method, NewConsent, PendingGrant, Person, Source,
};
use crate::poll::{Poll, PollDraft};
use crate::purposes::{Channel, Purpose};
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
    /// A rule of the domain refused the change; nothing was written.
    #[error("{0}")]
    Refused(String),
    /// Consent events the ledger cannot take; nothing was written.
    #[error(transparent)]
    Consent(#[from] ConsentRefused),
    #[error("database error")]
    Other(#[source] Box<dyn std::error::Error + Send + Sync>),
}

pub type StoreResult<T> = Result<T, StoreError>;

/// Is the database there?
#[async_trait]
pub trait HealthStore: Send + Sync {
    /// The database answers a query.
    async fn ping(&self) -> StoreResult<()>;
    /// The database takes a write: one row is overwritten with `now` and committed, so a
    /// read-only file, a full disk or a standby server is found out.
    async fn check_write(&self, now: OffsetDateTime) -> StoreResult<()>;
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
    pub people: Arc<dyn PeopleStore>,
    pub forms: Arc<dyn FormStore>,
    pub campaigns: Arc<dyn CampaignStore>,
}

/// A person's profile, as they keep it on their account page.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize)]
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

/// Which audit entries to find: every filter given must match. Times are UTC.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditFilter {
    /// What it was done to, exactly, such as `person:12`.
    pub target: Option<String>,
    /// The staff account that did it.
    pub actor: Option<i64>,
    /// The action code, such as `person.viewed`.
    pub action: Option<String>,
    /// At or after this time.
    pub from: Option<OffsetDateTime>,
    /// Before this time.
    pub until: Option<OffsetDateTime>,
    /// How many of the matching entries (newest first) to skip.
    pub offset: u64,
    /// How many to return at most.
    pub limit: u32,
}

/// A page of audit entries and how many match in all.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditPage {
    pub entries: Vec<AuditEntry>,
    pub total: u64,
}

#[async_trait]
pub trait AuditStore: Send + Sync {
    async fn record(&self, entry: &AuditEntry) -> StoreResult<()>;
    /// The newest entries first.
    async fn recent(&self, limit: u32) -> StoreResult<Vec<AuditEntry>>;
    /// The entries that match `filter`, newest first, from its offset up to its limit.
    async fn search(&self, filter: &AuditFilter) -> StoreResult<AuditPage>;
    /// Delete entries older than `cutoff` (past their retention period).
    async fn purge_audit_before(&self, cutoff: OffsetDateTime) -> StoreResult<u64>;
}

/// Counters for rate limits, shared by every instance.
#[async_trait]
pub trait RateLimitStore: Send + Sync {
    /// Count one event under `key` in the window starting at `window_start`; returns the
    /// count including this one. Windows before `window_start` are forgotten.
    async fn hit(&self, key: &str, window_start: OffsetDateTime) -> StoreResult<u32>;
    /// Take back one event counted under `key` in the window starting at `window_start`
    /// (an attempt counted before it was known to succeed). Never goes below zero; a window
    /// already forgotten is left alone.
    async fn forgive(&self, key: &str, window_start: OffsetDateTime) -> StoreResult<()>;
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

impl VoterKey {
    /// The key of a stored vote, from its poll, account, voter hash and day; `None` for a
    /// vote whose account and hash are both gone.
    pub fn from_stored(
        poll: i64,
        account: Option<i64>,
        hash: Option<Vec<u8>>,
        day: String,
    ) -> StoreResult<Option<VoterKey>> {
        Ok(match (account, hash) {
            (Some(account), _) => Some(VoterKey::Account { poll, account }),
            (None, Some(hash)) => Some(VoterKey::Anonymous {
                poll,
                hash: hash
                    .try_into()
                    .map_err(|_| StoreError::Corrupt("poll_votes.voter_hash".to_owned()))?,
                day,
            }),
            (None, None) => None,
        })
    }
}

/// The start of every store's `record_votes`: each voter's first vote in the batch (by
/// index), to be written; the outcomes so far, where a later vote of the same voter is a
/// repeat and everything else `Refused` until the store says otherwise.
pub fn first_votes(votes: &[NewVote]) -> (Vec<usize>, Vec<VoteOutcome>) {
    let mut outcomes = vec![VoteOutcome::Refused; votes.len()];
    let mut seen = std::collections::HashSet::new();
    let mut first = Vec::new();
    for (i, v) in votes.iter().enumerate() {
        if let Some(key) = v.voter_key() {
            if seen.insert(key) {
                first.push(i);
            } else {
                outcomes[i] = VoteOutcome::Duplicate;
            }
        }
    }
    (first, outcomes)
}

/// The end of it, for the votes of `first` not counted: a repeat of an earlier vote when the
/// option is an open one of the vote's own poll (`open` maps open options to their poll), and
/// refused otherwise.
pub fn settle_uncounted(
    votes: &[NewVote],
    first: &[usize],
    outcomes: &mut [VoteOutcome],
    open: &std::collections::BTreeMap<i64, i64>,
) {
    for &i in first {
        if outcomes[i] != VoteOutcome::Counted {
            outcomes[i] = if open.get(&votes[i].option) == Some(&votes[i].poll) {
                VoteOutcome::Duplicate
            } else {
                VoteOutcome::Refused
            };
        }
    }
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

/// Consent events to append for one person, with the rules they are checked against in the
/// same transaction.
#[derive(Debug, Clone, Copy)]
pub struct ConsentChange<'a> {
    pub person: i64,
    pub events: &'a [NewConsent],
    /// Channels the person objects to direct marketing on, and how: added to the suppression
    /// list, and every direct-marketing consent on the channel is withdrawn.
    pub objections: &'a [(Channel, Method)],
    /// The staff member recording the change, if any.
    pub actor: Option<i64>,
    /// The registry the events are checked against.
    pub purposes: &'a [Purpose],
    pub at: OffsetDateTime,
}

/// Evidence an import carries for its people's consent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportEvidence {
    /// The purposes and channels the file's source recorded consent to.
    pub consents: Vec<(String, Option<Channel>)>,
    /// Where the file came from and when its people agreed, in staff's words.
    pub source: String,
}

/// What an import did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ImportOutcome {
    pub created: u64,
    pub updated: u64,
    pub consents: u64,
    /// Consents the file claimed for addresses that objected to direct marketing: not
    /// recorded.
    pub suppressed: u64,
    /// Consents the file claimed for people who had already made their own choice about
    /// that purpose and channel: not recorded.
    pub kept: u64,
}

/// A staged import file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StagedImport {
    pub id: i64,
    pub actor: i64,
    pub csv: String,
    pub created_at: OffsetDateTime,
    pub committed_at: Option<OffsetDateTime>,
}

/// A table of the schema and the tables its columns refer to, for the data-map check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableSchema {
    pub name: String,
    /// (column, referenced table)
    pub references: Vec<(String, String)>,
}

/// People, the consent ledger and the suppression list.
#[async_trait]
pub trait PeopleStore: Send + Sync {
    async fn person(&self, id: i64) -> StoreResult<Option<Person>>;
    async fn person_by_email(&self, email: &EmailAddress) -> StoreResult<Option<Person>>;
    /// The person linked to this account, or with its address (then linked to it).
    async fn person_for_account(&self, account: i64) -> StoreResult<Option<Person>>;
    /// Find the person with this address, or create them (linked to an account with the
    /// same address).
    async fn ensure_person(
        &self,
        email: &EmailAddress,
        source: Source,
        at: OffsetDateTime,
    ) -> StoreResult<Person>;
    /// People whose address or name contains `query`, at most `limit`, by address.
    async fn search_people(&self, query: &str, limit: u32) -> StoreResult<Vec<Person>>;
    async fn count_people(&self) -> StoreResult<u64>;
    async fn update_person(
        &self,
        id: i64,
        details: &Profile,
        at: OffsetDateTime,
    ) -> StoreResult<()>;
    /// The person's ledger, oldest first.
    async fn consent_events(&self, person: i64) -> StoreResult<Vec<ConsentEvent>>;
    /// Append events in one transaction, after checking them against the registry and the
    /// suppression list (`StoreError::Consent` and nothing written when refused).
    async fn append_consents(&self, change: ConsentChange<'_>) -> StoreResult<()>;
    /// Channels this address objected to direct marketing on.
    async fn suppressed_channels(&self, email: &EmailAddress) -> StoreResult<Vec<Channel>>;
    async fn create_preference_link(
        &self,
        secret: &SecretHash,
        person: i64,
        expires_at: OffsetDateTime,
    ) -> StoreResult<()>;
    /// Use a preference link: once, before it expires. Returns the person.
    async fn consume_preference_link(
        &self,
        secret: &SecretHash,
        now: OffsetDateTime,
    ) -> StoreResult<Option<i64>>;
    async fn purge_preference_links_before(&self, cutoff: OffsetDateTime) -> StoreResult<u64>;
    /// Confirm the grants a public form held back (`NewResponse::pending`): once, before
    /// they expire. In one transaction the confirmation is used up and the grants are
    /// appended (`people::confirmed_grants`, checked as any form's grants are). Returns the
    /// person, or `None` for an unknown, used or expired confirmation.
    async fn confirm_consents(
        &self,
        secret: &SecretHash,
        purposes: &[Purpose],
        now: OffsetDateTime,
    ) -> StoreResult<Option<i64>>;
    /// Forget the unconfirmed grants that expired before `cutoff`.
    async fn purge_consent_confirmations_before(&self, cutoff: OffsetDateTime) -> StoreResult<u64>;
    async fn stage_import(&self, actor: i64, csv: &str, at: OffsetDateTime) -> StoreResult<i64>;
    async fn staged_import(&self, id: i64) -> StoreResult<Option<StagedImport>>;
    /// Import the rows in one transaction and mark the import done (its file is dropped).
    /// `Refused` when it was already done.
    async fn commit_import(
        &self,
        id: i64,
        rows: &[ImportRow],
        evidence: Option<&ImportEvidence>,
        purposes: &[Purpose],
        at: OffsetDateTime,
    ) -> StoreResult<ImportOutcome>;
    /// Drop the files of imports staged before `cutoff` and not confirmed.
    async fn purge_imports_before(&self, cutoff: OffsetDateTime) -> StoreResult<u64>;
    /// People without an account who have not been in touch (no change to their record,
    /// no consent event, no form response) since `cutoff`; at most `limit`.
    async fn people_idle_since(&self, cutoff: OffsetDateTime, limit: u32) -> StoreResult<Vec<i64>>;
    /// Everything held about the person, table by table as the data map lists it.
    async fn export_person(&self, id: i64) -> StoreResult<Option<serde_json::Value>>;
    /// Erase the person from every mapped table in one transaction, keeping only their
    /// objections on the suppression list. `false` when there was no such person.
    async fn erase_person(&self, id: i64) -> StoreResult<bool>;
    /// The tables of the schema, for the data-map check.
    async fn schema(&self) -> StoreResult<Vec<TableSchema>>;
}

/// A form with its current version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FormRecord {
    pub id: i64,
    pub version: i64,
    pub definition: FormDefinition,
    pub open: bool,
    pub created_at: OffsetDateTime,
    /// Responses to every version.
    pub responses: u64,
}

/// A submission to store: the answers, and the person and ledger changes that go with it.
#[derive(Debug, Clone)]
pub struct NewResponse<'a> {
    pub form: i64,
    pub version: i64,
    pub answers: &'a [(String, Answer)],
    pub email: Option<&'a EmailAddress>,
    pub patch: &'a PersonPatch,
    /// Events recorded at once.
    pub consents: &'a [NewConsent],
    /// Grants that count only once the address confirms them.
    pub pending: Option<PendingConsents<'a>>,
    pub purposes: &'a [Purpose],
    pub at: OffsetDateTime,
}

/// Grants held back until the address confirms them through an emailed link.
#[derive(Debug, Clone)]
pub struct PendingConsents<'a> {
    /// The hash of the link's secret.
    pub secret: &'a SecretHash,
    pub grants: &'a [PendingGrant],
    pub expires_at: OffsetDateTime,
}

/// A stored response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredResponse {
    pub id: i64,
    pub version: i64,
    pub person: Option<i64>,
    pub answers: Vec<(String, Answer)>,
    pub submitted_at: OffsetDateTime,
}

/// Forms, their versions and their responses.
#[async_trait]
pub trait FormStore: Send + Sync {
    async fn create_form(
        &self,
        definition: &FormDefinition,
        at: OffsetDateTime,
    ) -> StoreResult<i64>;
    async fn form(&self, id: i64) -> StoreResult<Option<FormRecord>>;
    /// Every version of the form, oldest first.
    async fn form_versions(&self, id: i64) -> StoreResult<Vec<FormDefinition>>;
    /// Every form, newest first.
    async fn forms(&self) -> StoreResult<Vec<FormRecord>>;
    /// Save a changed definition as a new version (responses keep the version they
    /// answered). Returns the version now current.
    async fn save_form(
        &self,
        id: i64,
        definition: &FormDefinition,
        at: OffsetDateTime,
    ) -> StoreResult<i64>;
    async fn set_form_open(&self, id: i64, open: bool) -> StoreResult<()>;
    /// Delete the form with its versions and responses (the ledger keeps its events).
    async fn delete_form(&self, id: i64) -> StoreResult<()>;
    /// Store a response in one transaction: the person created or updated, the response,
    /// and the consent events; all or nothing. `Refused` when the version is not the
    /// current version of an open form.
    async fn submit_response(&self, response: &NewResponse<'_>) -> StoreResult<i64>;
    /// Responses to every version, oldest first.
    async fn responses(&self, form: i64) -> StoreResult<Vec<StoredResponse>>;
}

/// Where a campaign is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum CampaignState {
    /// Being written; it can be changed or deleted.
    Draft,
    /// Approved and waiting for its time; it can be taken back to a draft.
    Scheduled,
    /// Its messages are queued and going out.
    Sending,
    /// Every message was sent, failed or skipped.
    Sent,
}

impl CampaignState {
    pub fn as_str(self) -> &'static str {
        match self {
            CampaignState::Draft => "draft",
            CampaignState::Scheduled => "scheduled",
            CampaignState::Sending => "sending",
            CampaignState::Sent => "sent",
        }
    }

    pub fn parse(s: &str) -> Option<CampaignState> {
        [
            CampaignState::Draft,
            CampaignState::Scheduled,
            CampaignState::Sending,
            CampaignState::Sent,
        ]
        .into_iter()
        .find(|c| c.as_str() == s)
    }
}

/// A stored campaign.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Campaign {
    pub id: i64,
    pub draft: crate::campaign::CampaignDraft,
    pub state: CampaignState,
    pub scheduled_at: Option<OffsetDateTime>,
    /// The addresses of its links, fixed when it is scheduled.
    pub links: Vec<String>,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
    pub started_at: Option<OffsetDateTime>,
    pub finished_at: Option<OffsetDateTime>,
    /// When its per-recipient opens and clicks were reduced to totals.
    pub reduced_at: Option<OffsetDateTime>,
}

/// One message claimed for sending, with what the send-time check needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    pub id: i64,
    pub campaign: i64,
    /// `None` once the person was erased.
    pub person: Option<i64>,
    pub email: Option<EmailAddress>,
    pub name: String,
    /// Counting this one.
    pub attempts: u32,
    pub queued_at: OffsetDateTime,
    /// Taken over from a worker whose lease ran out: it may have been sent already.
    pub reclaimed: bool,
    /// The person's current consent to the campaign's purpose by email, from the ledger.
    pub marketing_consent: bool,
    /// Their current consent to email tracking.
    pub tracking_consent: bool,
    /// Their address is on the suppression list for email.
    pub suppressed: bool,
}

/// What became of a claimed message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeliveryResult {
    /// The relay took it; a successful delivery to `to` clears the address's record of
    /// plain refusals (see [`Bounce::Unavailable`]).
    Sent { tracked: bool, to: EmailAddress },
    /// A temporary failure: try again at `at`.
    Retry { at: OffsetDateTime, error: String },
    /// A permanent failure; `bounce` is what the refusal says about the address.
    Failed {
        error: String,
        bounce: Option<Bounce>,
    },
    /// Not sent: consent withdrawn, address suppressed, person erased.
    Skipped { reason: String },
}

/// A refusal that puts, or may put, the address on the suppression list for email
/// (`campaign::Refusal` decides which).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Bounce {
    /// The address does not exist: suppressed at once.
    BadAddress(EmailAddress),
    /// A plain "mailbox unavailable": the store remembers it under the address's one-way
    /// code, and suppresses the address when the last campaign before this one that was
    /// refused for it is a different campaign with no successful delivery since
    /// (`campaign::UNAVAILABLE_CAMPAIGNS_TO_SUPPRESS` campaigns in a row).
    Unavailable(EmailAddress),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FinishedDelivery {
    pub id: i64,
    pub result: DeliveryResult,
    /// How many tries in this claim may have left a copy with the relay: the message's
    /// final `.` was sent and the answer was `250` or never came (RFC 1047). The store adds
    /// them up per message; two or more make it a possible duplicate.
    pub handed_over: u32,
}

/// Counts of a campaign's messages by state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
pub struct Progress {
    pub queued: u64,
    pub sending: u64,
    pub sent: u64,
    pub failed: u64,
    pub skipped: u64,
    /// Messages that may have gone twice: taken over from a worker that stopped mid-send, or
    /// sent again after a try whose final `.` reached the relay with no answer.
    pub possible_duplicates: u64,
    /// Sent in the last minute.
    pub sent_last_minute: u64,
    /// Sent to recipients who consented to tracking.
    pub tracked: u64,
    /// Failed messages whose refusal put the address on the suppression list.
    pub bounced: u64,
    pub unsubscribed: u64,
}

impl Progress {
    pub fn total(&self) -> u64 {
        self.queued + self.sending + self.sent + self.failed + self.skipped
    }

    pub fn remaining(&self) -> u64 {
        self.queued + self.sending
    }
}

/// An open or a click, as the hot path records it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TrackingEvent {
    pub delivery: i64,
    pub campaign: i64,
    pub click: bool,
    /// The link's index, for clicks.
    pub link: u16,
    pub at: OffsetDateTime,
    /// A machine open or a bot click: counted in the raw figures only.
    pub machine: bool,
}

/// Opens or clicks: all of them, the reliable ones, and how many recipients made them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
pub struct Engagement {
    pub events: u64,
    pub reliable_events: u64,
    pub recipients: u64,
    pub reliable_recipients: u64,
}

/// A campaign's figures.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize)]
pub struct CampaignReport {
    pub progress: Progress,
    pub opens: Engagement,
    pub clicks: Engagement,
    /// Per link, in the order of `Campaign::links`.
    pub links: Vec<Engagement>,
    /// Reliable opens and clicks per hour since sending began: (hour start, opens, clicks).
    pub hourly: Vec<(OffsetDateTime, u64, u64)>,
}

/// One message a person was sent, for their record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PersonDelivery {
    pub campaign: i64,
    pub campaign_name: String,
    pub subject: String,
    pub state: String,
    pub sent_at: Option<OffsetDateTime>,
    pub tracked: bool,
    /// Their opens and clicks (link index), only when tracked: (at, click, link, machine).
    pub events: Vec<(OffsetDateTime, bool, u16, bool)>,
}

/// Who a delivery went to, for unsubscribing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryRecipient {
    pub campaign: i64,
    pub person: Option<i64>,
    pub purpose: String,
    pub unsubscribed: bool,
}

/// Campaigns, their delivery queue and their tracking events.
#[async_trait]
pub trait CampaignStore: Send + Sync {
    async fn create_campaign(
        &self,
        draft: &crate::campaign::CampaignDraft,
        at: OffsetDateTime,
    ) -> StoreResult<i64>;
    /// `Refused` unless it is a draft.
    async fn update_campaign(
        &self,
        id: i64,
        draft: &crate::campaign::CampaignDraft,
        at: OffsetDateTime,
    ) -> StoreResult<()>;
    /// `Refused` unless it is a draft.
    async fn delete_campaign(&self, id: i64) -> StoreResult<()>;
    async fn campaign(&self, id: i64) -> StoreResult<Option<Campaign>>;
    /// Newest first.
    async fn campaigns(&self) -> StoreResult<Vec<Campaign>>;
    /// How many people the draft's audience holds now: current email consent to its purpose,
    /// its interest and postcode filters, and for a follow-up the non-clickers.
    async fn count_audience(
        &self,
        draft: &crate::campaign::CampaignDraft,
        now: OffsetDateTime,
    ) -> StoreResult<u64>;
    /// Draft to scheduled, for `at`, with its links fixed. `Refused` unless a draft.
    async fn schedule_campaign(
        &self,
        id: i64,
        at: OffsetDateTime,
        links: &[String],
    ) -> StoreResult<()>;
    /// Scheduled back to draft. `Refused` once sending has begun.
    async fn unschedule_campaign(&self, id: i64) -> StoreResult<()>;
    /// Start every scheduled campaign whose time has come: its audience is queued, one
    /// message per person, in the same transaction that marks it sending; instances that
    /// race start each campaign once. Returns (campaign, messages queued).
    async fn start_due_campaigns(&self, now: OffsetDateTime) -> StoreResult<Vec<(i64, u64)>>;
    /// Claim up to `limit` messages that are due, or whose worker's lease ran out, for
    /// `lease_until`. Workers on one database never claim the same message at once.
    async fn claim_deliveries(
        &self,
        worker: &str,
        now: OffsetDateTime,
        lease_until: OffsetDateTime,
        limit: u32,
    ) -> StoreResult<Vec<Delivery>>;
    /// Record what became of messages `worker` claimed, in one transaction, with the
    /// suppressions their bounces call for. A message no longer in flight for that worker
    /// (its lease ran out and another took it over) keeps the other worker's outcome, and
    /// its bounce suppresses no one.
    async fn finish_deliveries(
        &self,
        worker: &str,
        finished: &[FinishedDelivery],
        now: OffsetDateTime,
    ) -> StoreResult<()>;
    /// Mark sent every sending campaign with no message left queued or in flight.
    async fn complete_campaigns(&self, now: OffsetDateTime) -> StoreResult<Vec<i64>>;
    async fn progress(&self, id: i64, now: OffsetDateTime) -> StoreResult<Progress>;
    /// Record opens and clicks; events for unknown messages are dropped.
    async fn record_tracking(&self, events: &[TrackingEvent]) -> StoreResult<()>;
    async fn report(&self, id: i64, now: OffsetDateTime) -> StoreResult<CampaignReport>;
    /// Newest first.
    async fn person_deliveries(&self, person: i64) -> StoreResult<Vec<PersonDelivery>>;
    async fn delivery_recipient(&self, id: i64) -> StoreResult<Option<DeliveryRecipient>>;
    /// Note that the recipient unsubscribed through this message; `false` if already noted.
    async fn mark_unsubscribed(&self, id: i64, at: OffsetDateTime) -> StoreResult<bool>;
    /// Reduce the per-recipient events of campaigns finished before `cutoff` to totals.
    /// Returns how many campaigns were reduced.
    async fn reduce_tracking_before(
        &self,
        cutoff: OffsetDateTime,
        now: OffsetDateTime,
    ) -> StoreResult<u64>;
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn vote(option: i64, account: Option<i64>, who: u8) -> NewVote {
        NewVote {
            poll: 1,
            option,
            account,
            voter_hash: account.is_none().then_some([who; 32]),
            day: "2026-03-01".to_owned(),
            at: OffsetDateTime::UNIX_EPOCH,
        }
    }

    #[test]
    fn a_voters_later_votes_in_a_batch_are_repeats_and_the_rest_are_settled_by_the_store() {
        let votes = [
            vote(10, None, 1),
            vote(11, None, 1),
            vote(10, Some(7), 0),
            vote(11, Some(7), 0),
            vote(99, None, 2),
            vote(10, None, 3),
        ];
        let (first, mut outcomes) = first_votes(&votes);
        assert_eq!(first, [0, 2, 4, 5]);
        use VoteOutcome::*;
        assert_eq!(
            outcomes,
            [Refused, Duplicate, Refused, Duplicate, Refused, Refused]
        );
        // The store counted vote 0; vote 2 repeats an earlier one; option 99 is not open.
        outcomes[0] = Counted;
        let open = BTreeMap::from([(10, 1), (11, 1)]);
        settle_uncounted(&votes, &first, &mut outcomes, &open);
        assert_eq!(
            outcomes,
            [Counted, Duplicate, Duplicate, Duplicate, Refused, Duplicate]
        );
    }

    #[test]
    fn a_stored_hash_of_the_wrong_length_is_corrupt() {
        let day = "2026-03-01".to_owned();
        assert!(matches!(
            VoterKey::from_stored(1, None, Some(vec![0; 31]), day.clone()),
            Err(StoreError::Corrupt(_))
        ));
        assert_eq!(
            VoterKey::from_stored(1, Some(7), None, day.clone()).unwrap(),
            Some(VoterKey::Account {
                poll: 1,
                account: 7
            })
        );
        assert_eq!(VoterKey::from_stored(1, None, None, day).unwrap(), None);
    }
}
