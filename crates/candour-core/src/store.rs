//! The storage traits, one per capability, implemented by each store crate.
//!
//! Architecture invariant: traits are narrow and named after use cases; the web and mail
//! crates hold them as `Arc<dyn …>` and never see SQL.

use std::sync::Arc;

use async_trait::async_trait;
use time::OffsetDateTime;

use crate::account::{Account, EmailAddress, NewAccount, Profile, Role};
use crate::audit::{AuditEntry, AuditFilter, AuditPage};
use crate::campaign::{
    Campaign, CampaignDraft, CampaignReport, Delivery, DeliveryRecipient, FinishedDelivery,
    PersonDelivery, Progress, TrackingEvent,
};
use crate::consent::{Receipt, ReceiptId, Tally};
use crate::datamap::TableSchema;
use crate::disclosures::{Disclosure, NewDisclosure, Recipient, RecipientDraft};
use crate::export::ExportSink;
use crate::forms::{FormDefinition, FormRecord, NewResponse, StoredResponse};
use crate::import::{ImportEvidence, ImportOutcome, ImportRow, StagedImport};
use crate::people::{ConsentChange, ConsentEvent, ConsentRefused, Person, Source};
use crate::poll::{BadVoterHash, NewVote, Poll, PollDraft, VoteOutcome};
use crate::purposes::{Channel, Purpose};
use crate::requests::items::{
    ItemVersions, NewRequestFile, NewWithholding, RequestFile, Withholding,
};
use crate::requests::templates::Wording;
use crate::requests::{Case, CaseEvent, NewCase, Planned, Status};
use crate::session::{LinkClaim, LinkPurpose, SecretHash, Session};
use crate::stats::{Dimension, Filter, Folded, Grain, HistoryRow, Hit, Range, Row, Summary};

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

impl From<BadVoterHash> for StoreError {
    fn from(bad: BadVoterHash) -> Self {
        StoreError::Corrupt(bad.to_string())
    }
}

pub type StoreResult<T> = Result<T, StoreError>;

/// `Refused` with the reason a domain rule gave, or `Ok` when it gave none.
pub fn refuse_if(reason: Option<String>) -> StoreResult<()> {
    reason.map_or(Ok(()), |r| Err(StoreError::Refused(r)))
}

/// Is the database there?
#[async_trait]
pub trait HealthStore: Send + Sync {
    /// The database answers a query.
    async fn ping(&self) -> StoreResult<()>;
    /// The database takes a write: one row is overwritten with `now` and committed, so a
    /// read-only file, a full disk or a standby server is found out.
    async fn check_write(&self, now: OffsetDateTime) -> StoreResult<()>;
    /// The connection pools' use now, for the metrics endpoint (no database round trip).
    fn pool_use(&self) -> Vec<crate::health::PoolUse>;
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
    pub second_factor: Arc<dyn SecondFactorStore>,
    pub sessions: Arc<dyn SessionStore>,
    pub links: Arc<dyn LinkStore>,
    pub audit: Arc<dyn AuditStore>,
    pub rate_limits: Arc<dyn RateLimitStore>,
    pub polls: Arc<dyn PollStore>,
    pub votes: Arc<dyn VoteStore>,
    pub people: Arc<dyn PeopleStore>,
    pub ledger: Arc<dyn LedgerStore>,
    pub imports: Arc<dyn ImportStore>,
    pub subjects: Arc<dyn SubjectStore>,
    pub forms: Arc<dyn FormStore>,
    pub campaigns: Arc<dyn CampaignStore>,
    pub deliveries: Arc<dyn DeliveryStore>,
    pub tracking: Arc<dyn TrackingStore>,
    pub requests: Arc<dyn RequestStore>,
    pub answers: Arc<dyn AnswerStore>,
    pub stats_ingest: Arc<dyn StatsIngestStore>,
    pub stats_report: Arc<dyn StatsReportStore>,
    pub request_actions: Arc<dyn RequestActionStore>,
    pub request_templates: Arc<dyn RequestTemplateStore>,
    pub request_digests: Arc<dyn RequestDigestStore>,
    pub disclosures: Arc<dyn DisclosureStore>,
    pub request_items: Arc<dyn RequestItemStore>,
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
}

/// An account's second factor: the authenticator secret, the steps used and the recovery codes.
#[async_trait]
pub trait SecondFactorStore: Send + Sync {
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

/// Polls and their options, as staff manage them.
#[async_trait]
pub trait PollStore: Send + Sync {
    async fn create_poll(&self, draft: &PollDraft, now: OffsetDateTime) -> StoreResult<i64>;
    /// Replace question, options and times. Options can change only while there are no
    /// votes: `Refused` with [`poll::OPTIONS_LOCKED`](crate::poll::OPTIONS_LOCKED) otherwise,
    /// and nothing is changed.
    async fn update_poll(&self, id: i64, draft: &PollDraft) -> StoreResult<()>;
    async fn close_poll(&self, id: i64, at: OffsetDateTime) -> StoreResult<()>;
    async fn reopen_poll(&self, id: i64) -> StoreResult<()>;
    /// Delete the poll with its options and votes.
    async fn delete_poll(&self, id: i64) -> StoreResult<()>;
    async fn poll(&self, id: i64) -> StoreResult<Option<Poll>>;
    /// Every poll, newest first.
    async fn polls(&self) -> StoreResult<Vec<Poll>>;
}

/// Votes and what de-duplicates them: accounts per poll, anonymous voter hashes per day.
#[async_trait]
pub trait VoteStore: Send + Sync {
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

/// People's records.
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
}

/// The consent ledger, the suppression list, preference links and the confirmations of grants a public form held back.
#[async_trait]
pub trait LedgerStore: Send + Sync {
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
}

/// Spreadsheet imports: staged, then committed in one transaction.
#[async_trait]
pub trait ImportStore: Send + Sync {
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
}

/// A person as a data subject: what is held about them, their erasure, the schema the data map is checked against, and who retention may forget.
#[async_trait]
pub trait SubjectStore: Send + Sync {
    /// People without an account who have not been in touch (no change to their record,
    /// no consent event, no form response, no request about their data) since `cutoff` and
    /// have no request still open; at most `limit`.
    async fn people_idle_since(&self, cutoff: OffsetDateTime, limit: u32) -> StoreResult<Vec<i64>>;
    /// Everything held about the person, table by table as the data map lists it.
    async fn export_person(&self, id: i64) -> StoreResult<Option<serde_json::Value>>;
    /// Erase the person from every mapped table in one transaction, keeping only their
    /// objections on the suppression list. `false` when there was no such person.
    async fn erase_person(&self, id: i64) -> StoreResult<bool>;
    /// The tables of the schema, for the data-map check.
    async fn schema(&self) -> StoreResult<Vec<TableSchema>>;
    /// One page of the subject's rows of a table of the data map, shaped as
    /// [`export_person`](Self::export_person) shapes them, so a bundle can be written without
    /// holding everything: rows with an `id` after `after`, by `id`, at most `limit`, and the
    /// `id` to continue after while there may be more. A table without an `id` column comes
    /// whole on the first page. `Refused` for a table the data map does not hold.
    async fn export_page(
        &self,
        table: &str,
        subject: i64,
        after: Option<i64>,
        limit: u32,
    ) -> StoreResult<ExportPage>;
    /// Everything held about a subject, for a bundle: every table of the data map in its
    /// order, each handed to `sink` at least once (with no rows when there is no subject of
    /// its kind or nothing held), in batches of at most [`crate::export::EXPORT_BATCH`] rows
    /// shaped as [`export_person`](Self::export_person) shapes them, by `id` (a table without
    /// an `id` comes in one batch); see [`crate::export::TableExport`]. Read in one
    /// transaction on one connection: one consistent snapshot of the person's data, rows
    /// streamed as they come. Stops early, without error, when `sink` says so.
    async fn export_subject(
        &self,
        person: Option<i64>,
        account: Option<i64>,
        sink: &mut dyn ExportSink,
    ) -> StoreResult<()>;
}

/// Where [`RequestItemStore::request_file_pieces`] hands a file's bytes.
#[async_trait]
pub trait PieceSink: Send {
    /// The next piece of the file; `false` to stop reading.
    async fn piece(&mut self, bytes: Vec<u8>) -> bool;
}

/// A page of [`SubjectStore::export_page`].
#[derive(Debug, Clone, Default)]
pub struct ExportPage {
    pub rows: Vec<serde_json::Value>,
    /// The `id` to ask after for the next page; `None` when this was the last.
    pub next: Option<i64>,
}

impl ExportPage {
    /// The page of `rows` (shaped, by `id`) read with `limit`: a full page may have a next.
    pub fn of(rows: serde_json::Value, limit: u32) -> ExportPage {
        let rows = match rows {
            serde_json::Value::Array(rows) => rows,
            _ => Vec::new(),
        };
        let next = if rows.len() as u64 >= u64::from(limit) {
            rows.last()
                .and_then(|r| r.get("id"))
                .and_then(serde_json::Value::as_i64)
        } else {
            None
        };
        ExportPage { rows, next }
    }

    /// A table read whole.
    pub fn whole(rows: serde_json::Value) -> ExportPage {
        ExportPage::of(rows, u32::MAX)
    }
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

/// Campaigns: drafts, their audience, their schedule and their figures.
#[async_trait]
pub trait CampaignStore: Send + Sync {
    async fn create_campaign(&self, draft: &CampaignDraft, at: OffsetDateTime) -> StoreResult<i64>;
    /// `Refused` unless it is a draft.
    async fn update_campaign(
        &self,
        id: i64,
        draft: &CampaignDraft,
        at: OffsetDateTime,
    ) -> StoreResult<()>;
    /// `Refused` unless it is a draft.
    async fn delete_campaign(&self, id: i64) -> StoreResult<()>;
    async fn campaign(&self, id: i64) -> StoreResult<Option<Campaign>>;
    /// Newest first.
    async fn campaigns(&self) -> StoreResult<Vec<Campaign>>;
    /// How many people the draft's audience holds now: current email consent to its purpose,
    /// its interest and postcode filters, and for a follow-up the non-clickers.
    async fn count_audience(&self, draft: &CampaignDraft, now: OffsetDateTime) -> StoreResult<u64>;
    /// Draft to scheduled, for `at`, with its links fixed. `Refused` unless a draft.
    async fn schedule_campaign(
        &self,
        id: i64,
        at: OffsetDateTime,
        links: &[String],
    ) -> StoreResult<()>;
    /// Scheduled back to draft. `Refused` once sending has begun.
    async fn unschedule_campaign(&self, id: i64) -> StoreResult<()>;
    async fn progress(&self, id: i64, now: OffsetDateTime) -> StoreResult<Progress>;
    async fn report(&self, id: i64, now: OffsetDateTime) -> StoreResult<CampaignReport>;
}

/// The delivery queue: starting due campaigns, claiming and finishing messages, and who a message went to.
#[async_trait]
pub trait DeliveryStore: Send + Sync {
    /// Start every scheduled campaign whose time has come (it turns sending at once, in a
    /// short transaction), then queue the next `chunk` people of each campaign whose audience
    /// is still being queued, in ascending person id, each chunk in its own transaction with
    /// the campaign's place in the audience: no lock a worker's claim or finish needs is held
    /// for longer than one chunk, a crash between chunks neither loses nor doubles anyone,
    /// and instances that race queue each person once. Each chunk reads the audience as it
    /// stands (the send-time check catches anyone who left it since). A campaign is not
    /// marked sent while its audience is being queued.
    async fn start_due_campaigns(
        &self,
        now: OffsetDateTime,
        chunk: u32,
    ) -> StoreResult<Vec<crate::campaign::Queued>>;
    /// Claim up to `limit` messages that are due, or whose worker's lease ran out, for
    /// `lease_until`, not yet begun. Workers on one database never claim the same message at
    /// once.
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
    /// A living worker's hold on messages it claimed: extend the lease, extend it and mark
    /// the messages begun (the worker hands a message to the relay only after this), or give
    /// them back unsent. Only rows still in flight for `worker` change; returns those, so a
    /// worker learns which of its messages another took over. A message claimed again after
    /// its worker's lease ran out is a possible duplicate only if that worker had begun it.
    async fn renew_leases(
        &self,
        worker: &str,
        ids: &[i64],
        change: crate::campaign::LeaseChange,
    ) -> StoreResult<Vec<i64>>;
    /// Mark sent every sending campaign whose audience is queued, with no message left
    /// queued or in flight.
    async fn complete_campaigns(&self, now: OffsetDateTime) -> StoreResult<Vec<i64>>;
    /// Newest first.
    async fn person_deliveries(&self, person: i64) -> StoreResult<Vec<PersonDelivery>>;
    async fn delivery_recipient(&self, id: i64) -> StoreResult<Option<DeliveryRecipient>>;
    /// Note that the recipient unsubscribed through this message; `false` if already noted.
    async fn mark_unsubscribed(&self, id: i64, at: OffsetDateTime) -> StoreResult<bool>;
}

/// Opens and clicks: recorded on the hot path, reduced to totals later.
#[async_trait]
pub trait TrackingStore: Send + Sync {
    /// Record opens and clicks; events for unknown messages are dropped.
    async fn record_tracking(&self, events: &[TrackingEvent]) -> StoreResult<()>;
    /// Reduce the per-recipient events of campaigns finished before `cutoff` to totals.
    /// Returns how many campaigns were reduced.
    async fn reduce_tracking_before(
        &self,
        cutoff: OffsetDateTime,
        now: OffsetDateTime,
    ) -> StoreResult<u64>;
}

/// Requests people make about their own data: the case queue.
#[async_trait]
pub trait RequestStore: Send + Sync {
    /// Store a new request with its first history line (`submitted`, and `confirmed` when it
    /// is a case at once).
    async fn create_request(&self, new: &NewCase) -> StoreResult<i64>;
    /// Use a confirmation link: once, before it expires. The request becomes a case received
    /// on `received_on`, linked to the person record with its address if there is one;
    /// `None` for an unknown, used or expired link.
    async fn confirm_request(
        &self,
        hash: &SecretHash,
        at: OffsetDateTime,
        received_on: time::Date,
    ) -> StoreResult<Option<i64>>;
    async fn request(&self, id: i64) -> StoreResult<Option<Case>>;
    /// Every confirmed case not yet answered or refused.
    async fn open_requests(&self) -> StoreResult<Vec<Case>>;
    /// The person's requests (confirmed or not), newest first.
    async fn person_requests(&self, person: i64) -> StoreResult<Vec<Case>>;
    /// Write a planned change, in one transaction with its history line. `Refused` when the
    /// case is no longer in `from` (someone else changed it meanwhile): nothing is written.
    async fn change_request(
        &self,
        id: i64,
        from: Status,
        planned: &Planned,
        actor: i64,
        at: OffsetDateTime,
    ) -> StoreResult<()>;
    /// Assign the case to a member of staff (or nobody), with a history line.
    async fn assign_request(
        &self,
        id: i64,
        staff: Option<i64>,
        actor: i64,
        at: OffsetDateTime,
    ) -> StoreResult<()>;
    /// Add a note to the case's history.
    async fn note_request(
        &self,
        id: i64,
        actor: i64,
        note: &str,
        at: OffsetDateTime,
    ) -> StoreResult<()>;
    /// The case's history, oldest first.
    async fn request_events(&self, id: i64) -> StoreResult<Vec<CaseEvent>>;
    /// Forget requests whose confirmation link expired unused before `now`.
    async fn purge_unconfirmed_requests(&self, now: OffsetDateTime) -> StoreResult<u64>;
}

/// The answer to a case for a copy of a person's data: the bundle staff built, and the link
/// it was released with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    pub request: i64,
    /// The bundle's file name in the bundle folder.
    pub file: String,
    pub bytes: i64,
    pub rows: i64,
    pub built_at: OffsetDateTime,
    pub built_by: i64,
    pub released_at: Option<OffsetDateTime>,
    pub link_expires_at: Option<OffsetDateTime>,
    pub downloaded_at: Option<OffsetDateTime>,
}

/// A bundle just written for a case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewAnswer {
    pub request: i64,
    pub file: String,
    pub bytes: i64,
    pub rows: i64,
    pub built_at: OffsetDateTime,
    pub built_by: i64,
}

/// What opening an answer's link finds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Taken {
    /// The link was good: it is now spent, and this is the answer to serve.
    Yours(Answer),
    /// It was used already, at this moment.
    Used(OffsetDateTime),
    /// Its time ran out before it was used.
    Expired,
    /// No such link for this case.
    Unknown,
}

impl Taken {
    /// What an answer found by its link allows at `at`: served once, before it expires.
    pub fn judge(found: Option<Answer>, at: OffsetDateTime) -> Taken {
        match found {
            None => Taken::Unknown,
            Some(a) => match (a.downloaded_at, a.link_expires_at) {
                (Some(used), _) => Taken::Used(used),
                (None, Some(expires)) if expires > at => Taken::Yours(a),
                _ => Taken::Expired,
            },
        }
    }
}

/// Answers to requests for a copy of one's data, and their single-use download links.
#[async_trait]
pub trait AnswerStore: Send + Sync {
    /// Record the bundle built for a case, replacing an earlier one with its link (a
    /// rebuilt bundle is released afresh).
    async fn record_answer(&self, new: &NewAnswer) -> StoreResult<()>;
    async fn answer(&self, request: i64) -> StoreResult<Option<Answer>>;
    /// Give the case's bundle a new link (any earlier link stops working); `false` when the
    /// case has no bundle.
    async fn release_answer(
        &self,
        request: i64,
        link: &SecretHash,
        expires: OffsetDateTime,
        at: OffsetDateTime,
    ) -> StoreResult<bool>;
    /// Spend the case's link with this hash, once, before it expires.
    async fn take_answer(
        &self,
        request: i64,
        link: &SecretHash,
        at: OffsetDateTime,
    ) -> StoreResult<Taken>;
    /// What the case's link with this hash would find, without spending it.
    async fn peek_answer(
        &self,
        request: i64,
        link: &SecretHash,
        at: OffsetDateTime,
    ) -> StoreResult<Taken>;
}

/// Site statistics, the writing side: hits wait in `stats_hits` until they are folded into
/// totals (see `stats::fold`); the day's salt and what depends on it go when the day ends.
#[async_trait]
pub trait StatsIngestStore: Send + Sync {
    /// The salt for visitors' day hashes on the UK day `day`; when there is none yet,
    /// `fresh` is stored and returned (instances that race agree on the first).
    async fn stats_salt(&self, day: time::Date, fresh: &[u8]) -> StoreResult<Vec<u8>>;
    /// Store hits to be folded, in one transaction.
    async fn record_hits(&self, hits: &[Hit]) -> StoreResult<()>;
    /// Fold up to `limit` waiting hits, oldest first, into the totals, and end the visits
    /// idle for 30 minutes at `now` (or begun on an earlier UK day), in one transaction.
    /// Folds from several instances of one database run one at a time.
    async fn fold_hits(&self, now: OffsetDateTime, limit: u32) -> StoreResult<Folded>;
    /// How many visitors were seen at or after `since`, folded or not (the live count).
    async fn live_visitors(&self, since: OffsetDateTime) -> StoreResult<u64>;
    /// Delete totals of buckets that began before `totals_before`, and every salt, mark,
    /// visit and waiting hit of UK days before `today`; returns how many rows went (each
    /// waiting hit counted as one, however a store keeps them).
    async fn purge_stats(
        &self,
        totals_before: OffsetDateTime,
        today: time::Date,
    ) -> StoreResult<u64>;
}

/// Site statistics, the reading side: figures from the totals only, never from hits.
#[async_trait]
pub trait StatsReportStore: Send + Sync {
    /// The figures over `range` (whole site, or only what matches `filter`), with one point
    /// per `grain` bucket that has any.
    async fn stats_summary(
        &self,
        range: Range,
        grain: Grain,
        filter: Option<&Filter>,
    ) -> StoreResult<Summary>;
    /// One dimension's values over `range` of whole UK days (only what matches `filter`),
    /// most visitors first, at most `limit`.
    async fn stats_breakdown(
        &self,
        range: Range,
        dimension: Dimension,
        filter: Option<&Filter>,
        limit: u32,
    ) -> StoreResult<Vec<Row>>;
    /// Keep daily page views of pages from an earlier analytics service in the daily totals,
    /// marked as imported (`stats::IMPORTED_PAGE`, and the day's sum under
    /// `stats::IMPORTED`), in one transaction. A page's day imported again replaces what it
    /// said before (rows for the same page and day in one call are added together); returns
    /// how many page-days were written.
    async fn import_history(&self, rows: &[HistoryRow]) -> StoreResult<u64>;
    /// The imported page views of the UK days in `range`.
    async fn imported_pageviews(&self, range: Range) -> StoreResult<i64>;
}

/// What lifting a person's restriction found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lifted {
    NotRestricted,
    /// Lifted; the case that had restricted them, where one did.
    Lifted(Option<i64>),
}

/// What staff do about a request's case (each outcome written on its history in the same
/// transaction), and the cases reports count.
#[async_trait]
pub trait RequestActionStore: Send + Sync {
    /// Erase the case's person through the data map, with their account (so every session
    /// ends), and write `erased` on the case, in one transaction. The case is kept, unlinked,
    /// as the record; objections stay on the suppression list. `Refused` when the case has
    /// no person or the person's account is a member of staff's.
    async fn erase_for_request(&self, id: i64, actor: i64, at: OffsetDateTime) -> StoreResult<()>;
    /// Write the corrected details to the case's person and the outcome on the case, in one
    /// transaction. `Refused` when the case has no person.
    async fn correct_for_request(
        &self,
        id: i64,
        details: &Profile,
        actor: i64,
        detail: &str,
        at: OffsetDateTime,
    ) -> StoreResult<()>;
    /// Mark the case's person restricted from `at` (campaigns leave them out) and write
    /// `restricted` on the case, in one transaction. `Refused` when the case has no person.
    async fn restrict_for_request(
        &self,
        id: i64,
        actor: i64,
        at: OffsetDateTime,
    ) -> StoreResult<()>;
    /// Since when the person's record is restricted, if it is.
    async fn restricted_since(&self, person: i64) -> StoreResult<Option<OffsetDateTime>>;
    /// Lift the person's restriction (Art 18) and write `restriction-lifted` on the latest
    /// case that restricted them, in one transaction. `Lifted::NotRestricted` when the person
    /// is not restricted (or does not exist); otherwise the case it was written on, if any.
    async fn lift_restriction(
        &self,
        person: i64,
        actor: i64,
        at: OffsetDateTime,
    ) -> StoreResult<Lifted>;
    /// Write an outcome on the case's history (`actor` `None` for the system).
    async fn record_outcome(
        &self,
        id: i64,
        actor: Option<i64>,
        action: &str,
        detail: &str,
        at: OffsetDateTime,
    ) -> StoreResult<()>;
    /// Every case received from `from` to `to` (UK dates, both included), oldest first.
    async fn cases_received_between(
        &self,
        from: time::Date,
        to: time::Date,
    ) -> StoreResult<Vec<Case>>;
}

/// What staff add to a case's bundle (files from other systems) and leave out of it
/// (withheld items, each with its ground), before it is released. Every change counts one
/// more on the case's item version, in the same transaction, so a bundle built before it can
/// be told apart (`ItemVersions::stale`).
#[async_trait]
pub trait RequestItemStore: Send + Sync {
    /// Keep a file for the case's bundle; returns its id. `Refused` when the case has no
    /// person (a bundle is a person's).
    async fn add_request_file(&self, new: &NewRequestFile) -> StoreResult<i64>;
    /// The case's added files, oldest first, without their content.
    async fn request_files(&self, request: i64) -> StoreResult<Vec<RequestFile>>;
    /// The content of the case's file `file`; `None` when the case has no such file.
    async fn request_file_content(&self, request: i64, file: i64) -> StoreResult<Option<Vec<u8>>>;
    /// The content of the case's file `file` handed to `sink` in pieces of `len` bytes (the
    /// last shorter; none for an empty file), read in one transaction on one connection, so a
    /// bundle copies a file without holding it whole; stops early when `sink` says so.
    /// `false` when the case has no such file.
    async fn request_file_pieces(
        &self,
        request: i64,
        file: i64,
        len: u32,
        sink: &mut dyn PieceSink,
    ) -> StoreResult<bool>;
    /// Remove the case's file `file` and any withholding of it; `false` when there was none.
    async fn remove_request_file(&self, request: i64, file: i64) -> StoreResult<bool>;
    /// Withhold an item from the case's bundle; returns its id. `Duplicate` when that item is
    /// withheld already.
    async fn withhold(&self, new: &NewWithholding) -> StoreResult<i64>;
    /// Put a withheld item back; `false` when the case has no such withholding.
    async fn lift_withholding(&self, request: i64, id: i64) -> StoreResult<bool>;
    /// The case's withheld items, oldest first.
    async fn withholdings(&self, request: i64) -> StoreResult<Vec<Withholding>>;
    /// How many changes the case's items have had, and at which its bundle was built.
    async fn item_versions(&self, request: i64) -> StoreResult<ItemVersions>;
    /// Record that the case's bundle was built from item version `version`.
    async fn items_built(&self, request: i64, version: i64) -> StoreResult<()>;
}

/// The wording of the requests room's emails where staff changed the built-in one.
#[async_trait]
pub trait RequestTemplateStore: Send + Sync {
    /// Every changed wording, by step code.
    async fn request_wordings(&self) -> StoreResult<Vec<(String, Wording)>>;
    /// Save the wording of a step, replacing any earlier edit.
    async fn save_request_wording(
        &self,
        step: &str,
        wording: &Wording,
        by: i64,
        at: OffsetDateTime,
    ) -> StoreResult<()>;
    /// Go back to the built-in wording; `false` when there was no edit.
    async fn reset_request_wording(&self, step: &str) -> StoreResult<bool>;
}

/// The daily digest of due requests, sent once a day across every instance.
#[async_trait]
pub trait RequestDigestStore: Send + Sync {
    /// Claim the digest of `day` (a UK date): `true` for the one caller that claimed it,
    /// `false` for every later one, whichever instance it runs on.
    async fn claim_digest_day(&self, day: time::Date, at: OffsetDateTime) -> StoreResult<bool>;
}

/// The register and the disclosures, on one backend.
#[async_trait]
pub trait DisclosureStore: Send + Sync {
    /// Every recipient, active ones first, then by name.
    async fn recipients(&self) -> StoreResult<Vec<Recipient>>;
    /// Add an active recipient. `Duplicate` when one has the same name.
    async fn add_recipient(&self, draft: &RecipientDraft, at: OffsetDateTime) -> StoreResult<i64>;
    /// Change a recipient's details; `false` when there is no such recipient. `Duplicate`
    /// when another has the same name.
    async fn change_recipient(&self, id: i64, draft: &RecipientDraft) -> StoreResult<bool>;
    /// Retire (or bring back) a recipient; `false` when there is no such recipient.
    async fn set_recipient_active(&self, id: i64, active: bool) -> StoreResult<bool>;
    /// Record a disclosure and the people it covered, in one transaction. `Refused` when
    /// the recipient is unknown or retired: nothing is written. People with no record (erased
    /// since) count in `people_count` but are not linked.
    async fn record_disclosure(&self, new: &NewDisclosure) -> StoreResult<i64>;
    /// The latest disclosures, newest first.
    async fn latest_disclosures(&self, limit: i64) -> StoreResult<Vec<Disclosure>>;
    /// The people a disclosure covered, in id order.
    async fn disclosed_people(&self, disclosure: i64) -> StoreResult<Vec<i64>>;
    /// The disclosures that covered `person`, oldest first (for their bundle).
    async fn disclosures_about(&self, person: i64) -> StoreResult<Vec<Disclosure>>;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::poll::VoterKey;

    #[test]
    fn an_answer_link_serves_once_and_only_before_it_expires() {
        let built = time::macros::datetime!(2026-03-01 09:00 UTC);
        let expires = built + time::Duration::days(7);
        let answer = Answer {
            request: 1,
            file: "bundle-1.zip".into(),
            bytes: 10,
            rows: 2,
            built_at: built,
            built_by: 3,
            released_at: Some(built),
            link_expires_at: Some(expires),
            downloaded_at: None,
        };
        assert_eq!(Taken::judge(None, built), Taken::Unknown);
        assert_eq!(
            Taken::judge(Some(answer.clone()), expires - time::Duration::SECOND),
            Taken::Yours(answer.clone())
        );
        assert_eq!(Taken::judge(Some(answer.clone()), expires), Taken::Expired);
        let used = Answer {
            downloaded_at: Some(built),
            ..answer.clone()
        };
        assert_eq!(Taken::judge(Some(used), built), Taken::Used(built));
        let unreleased = Answer {
            link_expires_at: None,
            ..answer
        };
        assert_eq!(Taken::judge(Some(unreleased), built), Taken::Expired);
    }

    #[test]
    fn a_stored_hash_of_the_wrong_length_is_corrupt() {
        let day = "2026-03-01".to_owned();
        assert!(matches!(
            VoterKey::from_stored(1, None, Some(vec![0; 31]), day.clone())
                .map_err(StoreError::from),
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
