//! The configuration file (`candour.toml`) overlaid by `CANDOUR_*` environment variables.
//!
//! Parsing is pure: the caller reads the file and the environment and hands both in, so the
//! rules (unknown keys are errors, the legal defaults, the warnings of `config check`) are
//! testable without touching the machine. Each section is a file of this folder, with its
//! type, its checks and its warnings; values that have a shape (URLs, addresses, secrets) are
//! parsed into types as the file is read, so a loaded `Config` holds no unchecked text for them.
//!
//! Architecture invariant: `config` imports the domain modules (cookies, purposes, campaign,
//! account), never the reverse; the domain's registries take what they need in small structs
//! that a `&Config` converts into.

mod accounts;
mod campaigns;
mod cookies;
mod database;
mod http;
mod mail;
mod metrics;
mod organisation;
mod people;
mod polls;
mod public_url;
mod purposes;
mod requests;
mod scripts;
mod share;
mod stats;

use std::net::SocketAddr;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

pub use self::accounts::AccountSettings;
pub use self::campaigns::CampaignSettings;
pub use self::cookies::CookieSettings;
pub use self::database::{DatabaseSettings, DatabaseUrl};
pub use self::http::HttpSettings;
pub use self::mail::{DkimAlgorithm, DkimSettings, MailSettings, SmtpTls, SmtpUrl};
pub use self::metrics::MetricsSettings;
pub use self::organisation::Organisation;
pub use self::people::{MarketingConsent, PeopleSettings};
pub use self::polls::PollSettings;
pub use self::public_url::PublicUrl;
pub use self::purposes::Topic;
pub use self::requests::RequestSettings;
pub use self::scripts::{GatedScript, ScriptSrc};
pub use self::share::ShareSettings;
pub use self::stats::StatsSettings;
use crate::account::EmailAddress;
pub use crate::cookies::{ConsentMode, DeclaredCookie};
use crate::fields::FieldErrors;
pub use crate::purposes::PurposeConfig;

/// Everything Candour can be told. Every section has a default, so an empty file (or none)
/// gives a working server on SQLite.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// The address to listen on.
    pub listen: SocketAddr,
    /// `sqlite://PATH` (created when missing) or `postgres://…`.
    pub database_url: DatabaseUrl,
    pub database: DatabaseSettings,
    /// The address visitors use, such as `https://www.example.police.uk`. When it is https,
    /// cookies are `Secure` and HSTS is sent.
    pub public_url: Option<PublicUrl>,
    /// A folder of Markdown pages served at their paths.
    pub content_dir: Option<PathBuf>,
    pub log_format: LogFormat,
    pub organisation: Organisation,
    pub cookies: CookieSettings,
    pub http: HttpSettings,
    pub accounts: AccountSettings,
    pub polls: PollSettings,
    pub mail: MailSettings,
    pub campaigns: CampaignSettings,
    pub metrics: MetricsSettings,
    /// The topics people can say they are interested in.
    pub topics: Vec<Topic>,
    /// Third-party or first-party scripts that run only after consent to their category.
    pub scripts: Vec<GatedScript>,
    pub people: PeopleSettings,
    /// The organisation's own purposes for personal data, beside the built-in ones.
    pub purposes: Vec<PurposeConfig>,
    pub requests: RequestSettings,
    /// Share links on content and poll pages.
    pub share: ShareSettings,
    /// Cookieless site statistics.
    pub stats: StatsSettings,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            database_url: DatabaseUrl::default(),
            database: DatabaseSettings::default(),
            public_url: None,
            content_dir: None,
            log_format: LogFormat::Text,
            organisation: Organisation::default(),
            cookies: CookieSettings::default(),
            http: HttpSettings::default(),
            accounts: AccountSettings::default(),
            polls: PollSettings::default(),
            mail: MailSettings::default(),
            campaigns: CampaignSettings::default(),
            metrics: MetricsSettings::default(),
            topics: Vec::new(),
            scripts: Vec::new(),
            people: PeopleSettings::default(),
            purposes: Vec::new(),
            requests: RequestSettings::default(),
            share: ShareSettings::default(),
            stats: StatsSettings::default(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

/// Why a configuration could not be used.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ConfigError {
    #[error("{source_name}: {message}")]
    Parse {
        source_name: String,
        message: String,
    },
    #[error("{source_name}: `{key}` {problem}")]
    Invalid {
        source_name: String,
        key: String,
        problem: String,
    },
}

/// Environment variables with this prefix overlay the file.
pub const ENV_PREFIX: &str = "CANDOUR_";

impl Config {
    /// Parse the file's text (if any) and overlay the `CANDOUR_*` variables given.
    ///
    /// `CANDOUR_LISTEN` sets `listen`; a double underscore descends into a section, so
    /// `CANDOUR_ORGANISATION__NAME` sets `organisation.name`. Variables starting with
    /// `CANDOUR_TEST_` belong to the test suites and are ignored.
    pub fn load<'a>(
        file: Option<(&str, &str)>,
        env: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<Config, ConfigError> {
        let (file_name, text) = file.unwrap_or(("(defaults)", ""));
        let mut table: toml::Table = toml::from_str(text).map_err(|e| ConfigError::Parse {
            source_name: file_name.to_owned(),
            message: e.to_string(),
        })?;
        let mut from_env = Vec::new();
        for (name, value) in env {
            let Some(rest) = name.strip_prefix(ENV_PREFIX) else {
                continue;
            };
            if rest.starts_with("TEST_") || rest.is_empty() {
                continue;
            }
            let path: Vec<String> = rest.split("__").map(str::to_ascii_lowercase).collect();
            insert_path(&mut table, &path, env_value(value)).map_err(|problem| {
                ConfigError::Invalid {
                    source_name: format!("environment variable {name}"),
                    key: path.join("."),
                    problem,
                }
            })?;
            from_env.push(name.to_owned());
        }
        let config: Config =
            serde_path_to_error::deserialize(toml::Value::Table(table)).map_err(|e| {
                let source_name = if from_env.is_empty() {
                    file_name.to_owned()
                } else {
                    format!("{file_name} with {}", from_env.join(", "))
                };
                let path = e.path().to_string();
                let message = e.into_inner().message().trim().to_owned();
                ConfigError::Parse {
                    source_name,
                    message: if path == "." {
                        message
                    } else {
                        format!("`{path}`: {message}")
                    },
                }
            })?;
        if let Some(first) = config.check().first() {
            return Err(ConfigError::Invalid {
                source_name: file_name.to_owned(),
                key: first.field.clone(),
                problem: first.problem.clone(),
            });
        }
        Ok(config)
    }

    /// Every problem that the types alone cannot express, section by section, in order.
    pub fn check(&self) -> FieldErrors {
        let mut errors = FieldErrors::new();
        errors.extend_under("database", self.database.check());
        errors.extend_under("campaigns", self.campaigns.check());
        errors.extend_under("organisation", self.organisation.check());
        errors.extend_under("cookies", self.cookies.check_lifetime());
        errors.extend_under("http", self.http.check());
        errors.extend_under("accounts", self.accounts.check(self.served_over_https()));
        errors.extend_under("polls", self.polls.check());
        errors.extend_under("mail", self.mail.check());
        errors.extend_under("metrics", self.metrics.check());
        purposes::check_topics(&self.topics, &mut errors);
        purposes::check_purposes(&self.purposes, &mut errors);
        errors.extend_under("people", self.people.check());
        errors.extend_under("requests", self.requests.check());
        errors.extend_under("share", self.share.check());
        errors.extend_under("stats", self.stats.check());
        errors.extend_under(
            "cookies",
            self.cookies.check_declared(&self.accounts.cookie_name()),
        );
        for (i, script) in self.scripts.iter().enumerate() {
            script.check(i, &mut errors);
        }
        errors
    }

    /// Whether visitors reach the site over https.
    pub fn served_over_https(&self) -> bool {
        self.public_url.as_ref().is_some_and(PublicUrl::is_https)
    }

    /// The scheme, host and port of `public_url`, as browsers send it in `Origin`.
    pub fn public_origin(&self) -> Option<&str> {
        self.public_url.as_ref().map(PublicUrl::origin)
    }

    /// What `candour config check` reports: settings that work but break a promise or the law.
    pub fn warnings(&self) -> Vec<String> {
        let mut out = Vec::new();
        self.cookies.consent_mode_warning(&mut out);
        if !self.served_over_https() {
            out.push(
                "public_url is not an https:// address: cookies are sent without Secure and HSTS \
                 is off. Set it to the https address visitors use."
                    .to_owned(),
            );
        }
        self.organisation.warnings(&mut out);
        for script in &self.scripts {
            script.warnings(&mut out);
        }
        self.mail.warnings(&mut out);
        if self.campaigns.enabled && self.public_url.is_none() {
            out.push(format!(
                "public_url is not set: links in campaign emails (unsubscribe, tracking) point at \
                 http://{}, which recipients cannot reach. Set it to the site's address.",
                self.listen
            ));
        }
        self.accounts.warnings(&mut out);
        self.metrics.warnings(self.listen, &mut out);
        self.people.warnings(&mut out);
        self.requests.warnings(&mut out);
        purposes::warnings(&self.purposes, &mut out);
        self.cookies.retention_warning(&mut out);
        self.stats.warnings(&mut out);
        out
    }
}

/// An environment value is read as a TOML literal when it is one (`true`, `8080`,
/// `["a", "b"]`) and as a string otherwise.
fn env_value(raw: &str) -> toml::Value {
    let doc = format!("v = {raw}");
    match toml::from_str::<toml::Table>(&doc) {
        Ok(mut t) => match t.remove("v") {
            Some(
                v @ (toml::Value::Boolean(_) | toml::Value::Integer(_) | toml::Value::Array(_)),
            ) => v,
            Some(toml::Value::String(s)) => toml::Value::String(s),
            _ => toml::Value::String(raw.to_owned()),
        },
        Err(_) => toml::Value::String(raw.to_owned()),
    }
}

fn insert_path(table: &mut toml::Table, path: &[String], value: toml::Value) -> Result<(), String> {
    match path {
        [] => Err("is empty".to_owned()),
        [last] => {
            table.insert(last.clone(), value);
            Ok(())
        }
        [first, rest @ ..] => {
            let entry = table
                .entry(first.clone())
                .or_insert_with(|| toml::Value::Table(toml::Table::new()));
            match entry {
                toml::Value::Table(inner) => insert_path(inner, rest, value),
                _ => Err(format!("`{first}` is not a section")),
            }
        }
    }
}

/// A value written as a string that may be empty for none (`smtp_url = ""`).
mod empty_is_none {
    use std::fmt::Display;
    use std::str::FromStr;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn deserialize<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
    where
        D: Deserializer<'de>,
        T: FromStr<Err = String>,
    {
        let raw = String::deserialize(d)?;
        if raw.is_empty() {
            return Ok(None);
        }
        raw.parse().map(Some).map_err(serde::de::Error::custom)
    }

    pub fn serialize<S: Serializer, T: Display>(
        value: &Option<T>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        match value {
            Some(v) => s.collect_str(v),
            None => s.serialize_str(""),
        }
    }
}

/// An email address as the configuration holds it.
struct Address(EmailAddress);

impl<'de> Deserialize<'de> for Address {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(d)?;
        EmailAddress::parse(&raw)
            .map(Address)
            .map_err(|_| serde::de::Error::custom("must be an email address"))
    }
}

/// A list of email addresses; a wrong one is named by its index.
fn addresses<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<EmailAddress>, D::Error> {
    Ok(Vec::<Address>::deserialize(d)?
        .into_iter()
        .map(|a| a.0)
        .collect())
}

/// An email address, or empty for none.
mod optional_address {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    use crate::account::EmailAddress;

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<EmailAddress>, D::Error> {
        let raw = String::deserialize(d)?;
        if raw.is_empty() {
            return Ok(None);
        }
        EmailAddress::parse(&raw)
            .map(Some)
            .map_err(|_| serde::de::Error::custom("must be an email address, or empty"))
    }

    pub fn serialize<S: Serializer>(value: &Option<EmailAddress>, s: S) -> Result<S::Ok, S::Error> {
        match value {
            Some(v) => v.serialize(s),
            None => s.serialize_str(""),
        }
    }
}

/// A configuration read from `text` as `candour.toml`, for the tests of each section.
#[cfg(test)]
fn test_load(text: &str, env: &[(&str, &str)]) -> Result<Config, ConfigError> {
    Config::load(Some(("candour.toml", text)), env.iter().copied())
}

#[cfg(test)]
mod tests {
    use super::*;

    use super::test_load as load;

    #[test]
    fn no_configuration_gives_the_embedded_defaults() {
        let c = Config::load(None, []).unwrap();
        assert_eq!(c.listen.to_string(), "127.0.0.1:8080");
        assert_eq!(c.database_url.expose(), "sqlite://candour.db");
        assert_eq!(c.cookies.consent_mode, ConsentMode::OptIn);
        assert_eq!(c.cookies.consent_lifetime_days, 365);
    }

    #[test]
    fn unknown_keys_are_errors_that_name_the_key() {
        let err = load("colour = \"blue\"\n", &[]).unwrap_err().to_string();
        assert!(err.contains("candour.toml"), "{err}");
        assert!(err.contains("colour"), "{err}");
        let err = load("[organisation]\nnmae = \"x\"\n", &[])
            .unwrap_err()
            .to_string();
        assert!(err.contains("nmae"), "{err}");
        assert!(err.contains("expected one of"), "{err}");
    }

    #[test]
    fn wrong_types_and_bad_syntax_are_reported() {
        let err = load("listen = 12\n", &[]).unwrap_err().to_string();
        assert!(err.contains("`listen`"), "{err}");
        let err = load("[cookies]\nconsent_lifetime_days = \"long\"\n", &[])
            .unwrap_err()
            .to_string();
        assert!(err.contains("`cookies.consent_lifetime_days`"), "{err}");
        let err = load("listen = \n", &[]).unwrap_err().to_string();
        assert!(err.contains("candour.toml"), "{err}");
        let err = load("[cookies]\nconsent_mode = \"maybe\"\n", &[])
            .unwrap_err()
            .to_string();
        assert!(err.contains("opt-in") && err.contains("implied"), "{err}");
    }

    #[test]
    fn environment_overlays_the_file() {
        let c = load(
            "listen = \"127.0.0.1:9000\"\n[organisation]\nname = \"File\"\n",
            &[
                ("CANDOUR_LISTEN", "0.0.0.0:7000"),
                ("CANDOUR_ORGANISATION__PHONE", "101"),
                ("CANDOUR_COOKIES__CONSENT_LIFETIME_DAYS", "180"),
                ("CANDOUR_TEST_POSTGRES_URL", "postgres://ignored"),
                ("HOME", "/root"),
            ],
        )
        .unwrap();
        assert_eq!(c.listen.to_string(), "0.0.0.0:7000");
        assert_eq!(c.organisation.name, "File");
        assert_eq!(c.organisation.phone, "101");
        assert_eq!(c.cookies.consent_lifetime_days, 180);
    }

    #[test]
    fn unknown_environment_keys_name_the_variable() {
        let err = load("", &[("CANDOUR_LISTN", "x")]).unwrap_err().to_string();
        assert!(err.contains("CANDOUR_LISTN"), "{err}");
        assert!(err.contains("listn"), "{err}");
    }

    #[test]
    fn validation_names_the_key_and_what_is_allowed() {
        let err = load("database_url = \"mysql://x\"\n", &[])
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("database_url") && err.contains("postgres://"),
            "{err}"
        );
        let err = load(
            "[[scripts]]\nsrc = \"http://tracker.example/x.js\"\ncategory = \"statistics\"\n",
            &[],
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("scripts[0].src"), "{err}");
        let err = load(
            "[[cookies.declared]]\nname = \"a b\"\ncategory = \"statistics\"\npurpose = \"x\"\nlifetime_days = 1\n",
            &[],
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("cookies.declared[0].name"), "{err}");
        let err = load("[accounts]\nregistrations_per_address_per_hour = 0\n", &[])
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("accounts.registrations_per_address_per_hour") && err.contains("10000"),
            "{err}"
        );
    }

    #[test]
    fn implied_consent_is_flagged_by_the_check() {
        let c = load("[cookies]\nconsent_mode = \"implied\"\n", &[]).unwrap();
        assert!(c.warnings().iter().any(|w| w.contains("implied")));
        let c = load("public_url = \"https://example.org\"\n", &[]).unwrap();
        assert!(!c.warnings().iter().any(|w| w.contains("implied")));
        assert!(!c.warnings().iter().any(|w| w.contains("public_url")));
    }

    #[test]
    fn public_origin_drops_the_path() {
        let mut c = Config::default();
        assert_eq!(c.public_origin(), None);
        c.public_url = Some("https://police.example/site/".parse().unwrap());
        assert_eq!(c.public_origin(), Some("https://police.example"));
        c.public_url = Some("http://127.0.0.1:8080".parse().unwrap());
        assert_eq!(c.public_origin(), Some("http://127.0.0.1:8080"));
    }

    #[test]
    fn the_relay_password_is_never_printed_and_the_file_keeps_its_shape() {
        let c = load(
            "public_url = \"https://police.example\"\n[mail]\nsmtp_url = \"smtps://news:hunter2@relay.example:465\"\n[campaigns]\nunsubscribe_mailto = \"Leave@Police.example\"\n",
            &[],
        )
        .unwrap();
        let url = c.mail.smtp_url.as_ref().unwrap();
        assert_eq!(url.credentials().unwrap().1.expose(), "hunter2");
        let shown = format!("{c:?}");
        assert!(
            !shown.contains("hunter2") && shown.contains("[redacted]"),
            "{shown}"
        );
        let written = toml::to_string(&c).unwrap();
        assert!(!written.contains("hunter2"), "{written}");
        assert!(
            written.contains("unsubscribe_mailto = \"leave@police.example\""),
            "{written}"
        );
        // Empty still means none, both ways.
        let c = load("", &[]).unwrap();
        assert!(c.mail.smtp_url.is_none() && c.campaigns.unsubscribe_mailto.is_none());
        let written = toml::to_string(&c).unwrap();
        assert!(written.contains("smtp_url = \"\""), "{written}");
        assert!(written.contains("unsubscribe_mailto = \"\""), "{written}");
        let err = load("[mail]\nsmtp_url = \"http://relay\"\n", &[])
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("mail.smtp_url") && err.contains("smtps://"),
            "{err}"
        );
    }
}
