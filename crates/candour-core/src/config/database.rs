//! `database_url` and `[database]`: where the data lives and how long a request waits for it.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::fields::FieldErrors;
use crate::secret::REDACTED;

/// `database_url`: `sqlite:PATH` or `postgres://` (or `postgresql://`), parsed when the file is
/// read. It may hold a password, so `Debug`, `Display` and `Serialize` show it redacted;
/// [`DatabaseUrl::expose`] gives the whole text to the store that connects with it.
#[derive(Clone, PartialEq, Eq)]
pub struct DatabaseUrl(String);

impl DatabaseUrl {
    pub fn parse(raw: &str) -> Result<DatabaseUrl, String> {
        let scheme_ok = raw.starts_with("sqlite:")
            || raw.starts_with("postgres://")
            || raw.starts_with("postgresql://");
        if scheme_ok {
            Ok(DatabaseUrl(raw.to_owned()))
        } else {
            Err("must start with sqlite: or postgres://".to_owned())
        }
    }

    /// The URL with its password, for connecting.
    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn is_sqlite(&self) -> bool {
        self.0.starts_with("sqlite:")
    }
}

/// `sqlite://candour.db`, in the working directory.
impl Default for DatabaseUrl {
    fn default() -> Self {
        DatabaseUrl("sqlite://candour.db".to_owned())
    }
}

/// The URL with any password replaced by `[redacted]`, for messages and logs.
impl fmt::Display for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let url = &self.0;
        let Some(scheme_end) = url.find("://") else {
            return f.write_str(url);
        };
        let rest = &url[scheme_end + 3..];
        match (rest.find('@'), rest.find(':')) {
            (Some(at), Some(colon)) if colon < at => write!(
                f,
                "{}{}:{REDACTED}{}",
                &url[..scheme_end + 3],
                &rest[..colon],
                &rest[at..]
            ),
            _ => f.write_str(url),
        }
    }
}

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DatabaseUrl({self})")
    }
}

impl std::str::FromStr for DatabaseUrl {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        DatabaseUrl::parse(s)
    }
}

impl<'de> Deserialize<'de> for DatabaseUrl {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(d)?;
        DatabaseUrl::parse(&raw).map_err(serde::de::Error::custom)
    }
}

impl Serialize for DatabaseUrl {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

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

#[cfg(test)]
mod tests {
    use super::DatabaseUrl;
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

    #[test]
    fn the_database_password_is_never_shown() {
        let u: DatabaseUrl = "postgres://app:secret@db.example:5432/candour"
            .parse()
            .unwrap();
        assert_eq!(u.expose(), "postgres://app:secret@db.example:5432/candour");
        assert_eq!(
            u.to_string(),
            "postgres://app:[redacted]@db.example:5432/candour"
        );
        assert!(!format!("{u:?}").contains("secret"));
        let u: DatabaseUrl = "sqlite://candour.db".parse().unwrap();
        assert!(u.is_sqlite());
        assert_eq!(u.to_string(), "sqlite://candour.db");
        assert!(DatabaseUrl::parse("mysql://x").is_err());
    }
}
