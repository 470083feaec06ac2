//! The storage traits, one per capability, implemented by each store crate.
//!
//! Architecture invariant: traits are narrow and named after use cases; the web and mail
//! crates hold them as `Arc<dyn …>` and never see SQL.

use std::sync::Arc;

use async_trait::async_trait;
use time::OffsetDateTime;

use crate::consent::{Receipt, ReceiptId, Tally};

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
}
