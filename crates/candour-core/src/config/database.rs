//! `database_url` and `[database]`: where the data lives and how long a request waits for it.

use serde::{Deserialize, Serialize};

use crate::fields::FieldErrors;

/// How long a request waits for the database before it is answered with 503, so that pages
/// answer quickly, and tie nothing up, while the database is away.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct DatabaseSettings {
    /// The longest wait for a connection (the pool is busy, or the server does not answer).
    pub acquire_timeout_ms: u64,
    /// The longest one statement may run (PostgreSQL's `statement_timeout`) or, on SQLite,
    /// wait for the file's write lock.
    pub statement_timeout_ms: u64,
}

impl Default for DatabaseSettings {
    fn default() -> Self {
        DatabaseSettings {
            acquire_timeout_ms: 3_000,
            statement_timeout_ms: 5_000,
        }
    }
}

impl DatabaseSettings {
    pub(super) fn check(&self) -> FieldErrors {
        let mut errors = FieldErrors::new();
        errors.check_range(
            "acquire_timeout_ms",
            self.acquire_timeout_ms,
            100,
            60_000,
            "milliseconds",
        );
        errors.check_range(
            "statement_timeout_ms",
            self.statement_timeout_ms,
            100,
            3_600_000,
            "milliseconds",
        );
        errors
    }
}

/// `database_url`: `sqlite:` or `postgres://` (or `postgresql://`).
pub(super) fn check_url(url: &str, errors: &mut FieldErrors) {
    let scheme_ok = url.starts_with("sqlite:")
        || url.starts_with("postgres://")
        || url.starts_with("postgresql://");
    if !scheme_ok {
        errors.add("database_url", "must start with sqlite: or postgres://");
    }
}
