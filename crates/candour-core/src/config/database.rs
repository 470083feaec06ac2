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

#[cfg(test)]
mod tests {
    use crate::config::test_load as load;

    #[test]
    fn database_time_limits_have_defaults_and_bounds() {
        let c = load("", &[]).unwrap();
        assert_eq!(c.database.acquire_timeout_ms, 3_000);
        assert_eq!(c.database.statement_timeout_ms, 5_000);
        let c = load(
            "[database]\nacquire_timeout_ms = 1500\n",
            &[("CANDOUR_DATABASE__STATEMENT_TIMEOUT_MS", "20000")],
        )
        .unwrap();
        assert_eq!(c.database.acquire_timeout_ms, 1_500);
        assert_eq!(c.database.statement_timeout_ms, 20_000);
        for (text, key, allowed) in [
            (
                "acquire_timeout_ms = 0",
                "database.acquire_timeout_ms",
                "between 100 and 60000",
            ),
            (
                "acquire_timeout_ms = 60001",
                "database.acquire_timeout_ms",
                "between 100 and 60000",
            ),
            (
                "statement_timeout_ms = 99",
                "database.statement_timeout_ms",
                "between 100 and 3600000",
            ),
        ] {
            let err = load(&format!("[database]\n{text}\n"), &[])
                .unwrap_err()
                .to_string();
            assert!(err.contains(key) && err.contains(allowed), "{err}");
        }
        let err = load("[database]\ntimeout = 5\n", &[])
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("`database.timeout`") && err.contains("acquire_timeout_ms"),
            "{err}"
        );
    }
}
