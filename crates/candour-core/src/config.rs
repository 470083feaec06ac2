//! The configuration file (`candour.toml`) overlaid by `CANDOUR_*` environment variables.
//!
//! Parsing is pure: the caller reads the file and the environment and hands both in, so the
//! rules (unknown keys are errors, the legal defaults, the warnings of `config check`) are
//! testable without touching the machine.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::cookies::{Category, is_valid_cookie_name};
pub use crate::cookies::{ConsentMode, DeclaredCookie};
pub use crate::purposes::PurposeConfig;

/// Everything Candour can be told. Every section has a default, so an empty file (or none)
/// gives a working server on SQLite.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// The address to listen on.
    pub listen: SocketAddr,
    /// `sqlite://PATH` (created when missing) or `postgres://…`.
    pub database_url: String,
    pub database: DatabaseSettings,
    /// The address visitors use, such as `https://www.example.police.uk`. When it is https,
    /// cookies are `Secure` and HSTS is sent.
    pub public_url: Option<String>,
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
    /// The topics people can say they are interested in.
    pub topics: Vec<Topic>,
    /// Third-party or first-party scripts that run only after consent to their category.
    pub scripts: Vec<GatedScript>,
    pub people: PeopleSettings,
    /// The organisation's own purposes for personal data, beside the built-in ones.
    pub purposes: Vec<PurposeConfig>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            database_url: "sqlite://candour.db".to_owned(),
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
            topics: Vec::new(),
            scripts: Vec::new(),
            people: PeopleSettings::default(),
            purposes: Vec::new(),
        }
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

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

/// Who runs the site: shown in the footer and in the generated privacy notice.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Organisation {
    pub name: String,
    /// A telephone number for enquiries that are not emergencies (for a police force, 101).
    #[serde(deserialize_with = "string_or_number")]
    pub phone: String,
    /// A line shown beside the phone number, such as "In an emergency, always call 999."
    pub emergency_note: String,
    pub email: String,
    /// The postal address, one line per entry.
    pub postal_address: Vec<String>,
    /// The data protection officer: who people can write to about their data.
    pub dpo_name: String,
    pub dpo_email: String,
    /// The Information Commissioner's Office registration number, if the organisation has one.
    pub ico_registration: String,
}

impl Default for Organisation {
    fn default() -> Self {
        Organisation {
            name: "Candour".to_owned(),
            phone: String::new(),
            emergency_note: String::new(),
            email: String::new(),
            postal_address: Vec::new(),
            dpo_name: String::new(),
            dpo_email: String::new(),
            ico_registration: String::new(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct CookieSettings {
    pub consent_mode: ConsentMode,
    /// How long the visitor's cookie choice is remembered, in days.
    pub consent_lifetime_days: u32,
    /// How long consent receipts are kept after they are made, in days.
    pub receipt_retention_days: u32,
    /// Cookies that scripts listed under `[[scripts]]` set, declared so the policy lists them.
    pub declared: Vec<DeclaredCookie>,
}

impl Default for CookieSettings {
    fn default() -> Self {
        CookieSettings {
            consent_mode: ConsentMode::OptIn,
            consent_lifetime_days: 365,
            receipt_retention_days: 365 * 2,
            declared: Vec::new(),
        }
    }
}

/// A script that stays inert until the visitor consents to its category.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct GatedScript {
    /// An https address, or a path on this site starting with `/`.
    pub src: String,
    pub category: Category,
}

impl GatedScript {
    /// The origin the script comes from, when it is another site's (for the CSP).
    pub fn origin(&self) -> Option<&str> {
        let rest = self.src.strip_prefix("https://")?;
        let host_end = rest.find('/').unwrap_or(rest.len());
        Some(&self.src[..("https://".len() + host_end)])
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct HttpSettings {
    /// The largest request body accepted, in bytes.
    pub body_limit_bytes: usize,
    /// How long a request may take before it is answered with 408, in seconds.
    pub request_timeout_secs: u64,
    /// Peers whose `X-Forwarded-For` header is believed (your reverse proxies). The client
    /// address is used only for rate limits, and only as a keyed hash.
    pub trusted_proxies: Vec<std::net::IpAddr>,
}

impl Default for HttpSettings {
    fn default() -> Self {
        HttpSettings {
            body_limit_bytes: 64 * 1024,
            request_timeout_secs: 30,
            trusted_proxies: Vec::new(),
        }
    }
}

/// Sign-in for the public and for staff.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct AccountSettings {
    /// Whether people can register and sign in (staff always can).
    pub public_registration: bool,
    /// The name of the sign-in cookie.
    pub session_cookie_name: String,
    /// Prefix the cookie name with `__Host-` (needs an https `public_url`).
    pub host_prefix: bool,
    /// A session ends after this many minutes without a request.
    pub idle_timeout_minutes: u32,
    /// A session ends this many hours after sign-in, however active.
    pub absolute_timeout_hours: u32,
    /// Staff must use an authenticator app as a second factor.
    pub require_staff_totp: bool,
}

impl Default for AccountSettings {
    fn default() -> Self {
        AccountSettings {
            public_registration: true,
            session_cookie_name: "clientvars".to_owned(),
            host_prefix: false,
            idle_timeout_minutes: 30,
            absolute_timeout_hours: 12,
            require_staff_totp: false,
        }
    }
}

impl AccountSettings {
    /// The cookie's name as the browser sees it.
    pub fn cookie_name(&self) -> String {
        if self.host_prefix {
            format!("__Host-{}", self.session_cookie_name)
        } else {
            self.session_cookie_name.clone()
        }
    }
}

/// Polls.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct PollSettings {
    pub enabled: bool,
    /// How long the `PollTimeout-<poll id>` cookie set on voting lasts, in hours.
    pub cookie_hours: u32,
    /// Counts below this (other than zero) are shown as "fewer than N" to the public.
    pub suppress_below: u64,
    /// In polls open to anyone, the most votes one internet address may cast in one poll in
    /// a day: enough for everyone behind a shared connection, too few to stuff the ballot.
    pub votes_per_address: u32,
}

impl Default for PollSettings {
    fn default() -> Self {
        PollSettings {
            enabled: true,
            cookie_hours: 24,
            suppress_below: 0,
            votes_per_address: 50,
        }
    }
}

/// Outgoing email.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct MailSettings {
    /// The relay, such as `smtp://127.0.0.1:25` or `smtps://user:password@relay.example:465`.
    /// Empty: messages are written to `outbox_dir` instead (for development and the demo).
    pub smtp_url: String,
    /// The sender, such as `Example Police <noreply@example.police.uk>`.
    pub from: String,
    pub outbox_dir: PathBuf,
    /// DKIM signing of every message Candour sends, when set. Without it, sign at the relay.
    pub dkim: Option<DkimSettings>,
}

impl Default for MailSettings {
    fn default() -> Self {
        MailSettings {
            smtp_url: String::new(),
            from: "Candour <noreply@localhost>".to_owned(),
            outbox_dir: PathBuf::from("outbox"),
            dkim: None,
        }
    }
}

/// `[mail.dkim]`: the key that signs outgoing mail, published in DNS at
/// `{selector}._domainkey.{domain}`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct DkimSettings {
    /// The signing domain (`d=`), normally the domain of `mail.from` or one it belongs to.
    pub domain: String,
    /// The selector (`s=`).
    pub selector: String,
    /// The private key: an RSA key in PKCS#1 PEM (`-----BEGIN RSA PRIVATE KEY-----`), or an
    /// Ed25519 key as the base64 of its 32 secret bytes.
    pub key_file: PathBuf,
    #[serde(default)]
    pub algorithm: DkimAlgorithm,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
pub enum DkimAlgorithm {
    #[default]
    #[serde(rename = "rsa-sha256")]
    RsaSha256,
    #[serde(rename = "ed25519-sha256")]
    Ed25519Sha256,
}

/// Email campaigns and their delivery queue.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct CampaignSettings {
    /// Whether campaigns (and the email-tracking purpose) are switched on.
    pub enabled: bool,
    /// Whether this instance runs the delivery worker. Every instance on one PostgreSQL
    /// database may; they share the queue without sending a message twice.
    pub worker: bool,
    /// Staff who may send campaigns besides administrators, by email address.
    pub approvers: Vec<String>,
    /// Messages a worker claims at a time.
    pub batch_size: u32,
    /// SMTP connections used at once by one worker.
    pub concurrency: u32,
    /// The most messages sent per second by one worker; 0 for no limit.
    pub rate_per_second: u32,
    /// The wait before the first retry after a temporary failure, in seconds; it doubles
    /// with each further attempt.
    pub retry_first_seconds: u32,
    /// The longest wait between retries, in seconds.
    pub retry_max_seconds: u32,
    /// How long after it was queued a message that keeps failing temporarily is given up,
    /// in hours.
    pub give_up_hours: u32,
    /// How long a claimed message may stay in flight before another worker takes it over,
    /// in seconds.
    pub lease_seconds: u32,
    /// How long per-recipient opens and clicks are kept before they are reduced to counts
    /// per campaign, in days.
    pub tracking_retention_days: u32,
    /// A mailbox that unsubscribes whoever writes to it, for `List-Unsubscribe`; empty for
    /// none.
    pub unsubscribe_mailto: String,
}

impl Default for CampaignSettings {
    fn default() -> Self {
        CampaignSettings {
            enabled: true,
            worker: true,
            approvers: Vec::new(),
            batch_size: 200,
            concurrency: 4,
            rate_per_second: 0,
            retry_first_seconds: 300,
            retry_max_seconds: 4 * 3600,
            give_up_hours: 96,
            lease_seconds: 300,
            tracking_retention_days: 90,
            unsubscribe_mailto: String::new(),
        }
    }
}

impl CampaignSettings {
    /// How failed deliveries are retried.
    pub fn retry_schedule(&self) -> crate::campaign::RetrySchedule {
        crate::campaign::RetrySchedule {
            first_seconds: self.retry_first_seconds,
            max_seconds: self.retry_max_seconds,
            give_up_hours: self.give_up_hours,
        }
    }
}

/// How a form asks for consent to direct marketing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum MarketingConsent {
    /// An unticked box per channel that the person ticks to agree.
    OptIn,
    /// A box to tick to refuse: an unticked box is taken as agreement. Kept for old forms;
    /// `config check` flags it.
    OptOutBox,
}

/// People, forms and the preference centre.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct PeopleSettings {
    pub marketing_consent: MarketingConsent,
    /// How long an emailed link to the preference centre works, in hours.
    pub preference_link_hours: u32,
    /// How long a preference-centre visit opened from such a link lasts, in minutes.
    pub preference_visit_minutes: u32,
    /// How long the link that confirms consent given on a public form works, in hours; an
    /// unconfirmed consent is forgotten after it.
    pub consent_confirmation_hours: u32,
    /// The roles, besides administrators, that may read and export individual form
    /// responses (which can hold names, addresses and other personal data). Everyone who
    /// manages forms sees the summaries.
    pub response_readers: Vec<crate::account::Role>,
}

impl Default for PeopleSettings {
    fn default() -> Self {
        PeopleSettings {
            marketing_consent: MarketingConsent::OptIn,
            preference_link_hours: 72,
            preference_visit_minutes: 30,
            consent_confirmation_hours: 168,
            response_readers: vec![crate::account::Role::PrivacyOfficer],
        }
    }
}

/// A topic people can follow.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Topic {
    /// A short id: lower-case letters, digits and hyphens.
    pub id: String,
    pub label: String,
}

impl<'a> From<&'a Config> for crate::cookies::Site<'a> {
    fn from(config: &'a Config) -> Self {
        crate::cookies::Site {
            consent_lifetime_days: config.cookies.consent_lifetime_days,
            session_cookie_name: config.accounts.cookie_name(),
            poll_cookie_hours: config.polls.enabled.then_some(config.polls.cookie_hours),
            preference_visit_minutes: config.people.preference_visit_minutes,
            declared: &config.cookies.declared,
            secure: config.served_over_https(),
        }
    }
}

impl<'a> From<&'a Config> for crate::purposes::Capabilities<'a> {
    fn from(config: &'a Config) -> Self {
        crate::purposes::Capabilities {
            receipt_retention_days: config.cookies.receipt_retention_days,
            polls: config.polls.enabled,
            tracking_retention_days: config
                .campaigns
                .enabled
                .then_some(config.campaigns.tracking_retention_days),
            topics: !config.topics.is_empty(),
            own: &config.purposes,
        }
    }
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
        config.validate(file_name)?;
        Ok(config)
    }

    /// The organisation's purposes: unique ids, and what consent and direct marketing need.
    fn validate_purposes(&self, source_name: &str) -> Result<(), ConfigError> {
        use crate::purposes::{BUILT_IN_IDS, LawfulBasis};
        let invalid = |i: usize, key: &str, problem: &str| ConfigError::Invalid {
            source_name: source_name.to_owned(),
            key: format!("purposes[{i}].{key}"),
            problem: problem.to_owned(),
        };
        let mut ids = BTreeSet::new();
        for (i, p) in self.purposes.iter().enumerate() {
            let id_ok = !p.id.is_empty()
                && p.id.len() <= 40
                && p.id
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
            if !id_ok {
                return Err(invalid(
                    i,
                    "id",
                    "must be lower-case letters, digits and hyphens, at most 40",
                ));
            }
            if BUILT_IN_IDS.contains(&p.id.as_str()) || !ids.insert(p.id.as_str()) {
                return Err(invalid(i, "id", "is already used by another purpose"));
            }
            for (key, value) in [
                ("name", &p.name),
                ("description", &p.description),
                ("data", &p.data),
            ] {
                if value.trim().is_empty() {
                    return Err(invalid(i, key, "must not be empty"));
                }
            }
            if !(1..=365 * 100).contains(&p.retention_days) {
                return Err(invalid(i, "retention_days", "must be between 1 and 36500"));
            }
            let mut seen = BTreeSet::new();
            if !p.channels.iter().all(|c| seen.insert(*c)) {
                return Err(invalid(i, "channels", "must not name a channel twice"));
            }
            if p.lawful_basis == LawfulBasis::Consent
                && crate::account::plain_text(&p.consent_label, 200, "x")
                    .map_or(true, |l| l.is_empty())
            {
                return Err(invalid(
                    i,
                    "consent_label",
                    "must be the words of the consent box (one line, at most 200 characters) when the lawful basis is consent",
                ));
            }
            if p.direct_marketing && p.channels.is_empty() {
                return Err(invalid(
                    i,
                    "channels",
                    "must name at least one channel for direct marketing",
                ));
            }
            if p.direct_marketing
                && !matches!(
                    p.lawful_basis,
                    LawfulBasis::Consent | LawfulBasis::LegitimateInterests
                )
            {
                return Err(invalid(
                    i,
                    "lawful_basis",
                    "must be consent or legitimate-interests for direct marketing",
                ));
            }
        }
        Ok(())
    }

    /// Rules that the types alone cannot express.
    fn validate(&self, source_name: &str) -> Result<(), ConfigError> {
        let invalid = |key: &str, problem: String| ConfigError::Invalid {
            source_name: source_name.to_owned(),
            key: key.to_owned(),
            problem,
        };
        let scheme_ok = self.database_url.starts_with("sqlite:")
            || self.database_url.starts_with("postgres://")
            || self.database_url.starts_with("postgresql://");
        if !scheme_ok {
            return Err(invalid(
                "database_url",
                "must start with sqlite: or postgres://".to_owned(),
            ));
        }
        for (key, value, high) in [
            (
                "database.acquire_timeout_ms",
                self.database.acquire_timeout_ms,
                60_000,
            ),
            (
                "database.statement_timeout_ms",
                self.database.statement_timeout_ms,
                3_600_000,
            ),
        ] {
            if !(100..=high).contains(&value) {
                return Err(invalid(
                    key,
                    format!("must be between 100 and {high} (milliseconds)"),
                ));
            }
        }
        if let Some(url) = &self.public_url
            && !(url.starts_with("https://") || url.starts_with("http://"))
        {
            return Err(invalid(
                "public_url",
                "must be an http:// or https:// address".to_owned(),
            ));
        }
        let campaigns = &self.campaigns;
        for (key, value, low, high) in [
            ("campaigns.batch_size", campaigns.batch_size, 1, 5000),
            ("campaigns.concurrency", campaigns.concurrency, 1, 64),
            (
                "campaigns.retry_first_seconds",
                campaigns.retry_first_seconds,
                1,
                86_400,
            ),
            (
                "campaigns.retry_max_seconds",
                campaigns.retry_max_seconds,
                1,
                7 * 86_400,
            ),
            (
                "campaigns.give_up_hours",
                campaigns.give_up_hours,
                1,
                30 * 24,
            ),
            (
                "campaigns.lease_seconds",
                campaigns.lease_seconds,
                30,
                86_400,
            ),
            (
                "campaigns.tracking_retention_days",
                campaigns.tracking_retention_days,
                1,
                3650,
            ),
        ] {
            if !(low..=high).contains(&value) {
                return Err(invalid(key, format!("must be between {low} and {high}")));
            }
        }
        // A worker must finish its batch well inside its lease, or another would take the
        // messages over and send them again.
        if campaigns.rate_per_second > 0
            && u64::from(campaigns.batch_size) * 2
                > u64::from(campaigns.rate_per_second) * u64::from(campaigns.lease_seconds)
        {
            return Err(invalid(
                "campaigns.batch_size",
                format!(
                    "at {} messages a second, a batch of {} takes more than half of lease_seconds ({}); use a smaller batch or a longer lease",
                    campaigns.rate_per_second, campaigns.batch_size, campaigns.lease_seconds
                ),
            ));
        }
        for (i, approver) in campaigns.approvers.iter().enumerate() {
            if crate::account::EmailAddress::parse(approver).is_err() {
                return Err(invalid(
                    &format!("campaigns.approvers[{i}]"),
                    "must be an email address".to_owned(),
                ));
            }
        }
        if !campaigns.unsubscribe_mailto.is_empty()
            && crate::account::EmailAddress::parse(&campaigns.unsubscribe_mailto).is_err()
        {
            return Err(invalid(
                "campaigns.unsubscribe_mailto",
                "must be an email address, or empty".to_owned(),
            ));
        }
        if self.organisation.name.trim().is_empty() {
            return Err(invalid("organisation.name", "must not be empty".to_owned()));
        }
        if self.cookies.consent_lifetime_days == 0 || self.cookies.consent_lifetime_days > 395 {
            return Err(invalid(
                "cookies.consent_lifetime_days",
                "must be between 1 and 395 days (13 months)".to_owned(),
            ));
        }
        if self.http.body_limit_bytes < 1024 {
            return Err(invalid(
                "http.body_limit_bytes",
                "must be at least 1024".to_owned(),
            ));
        }
        if self.http.request_timeout_secs == 0 {
            return Err(invalid(
                "http.request_timeout_secs",
                "must be at least 1".to_owned(),
            ));
        }
        let accounts = &self.accounts;
        if !is_valid_cookie_name(&accounts.session_cookie_name)
            || accounts.session_cookie_name.starts_with("__")
            || accounts.session_cookie_name == crate::cookies::CONSENT_COOKIE
        {
            return Err(invalid(
                "accounts.session_cookie_name",
                "must be a cookie name (letters, digits and -_.), not starting with __ and not candour_consent".to_owned(),
            ));
        }
        if accounts.host_prefix && !self.served_over_https() {
            return Err(invalid(
                "accounts.host_prefix",
                "needs an https:// public_url: browsers accept __Host- cookies only over https"
                    .to_owned(),
            ));
        }
        if !(1..=24 * 60).contains(&accounts.idle_timeout_minutes) {
            return Err(invalid(
                "accounts.idle_timeout_minutes",
                "must be between 1 and 1440".to_owned(),
            ));
        }
        if !(1..=24 * 30).contains(&accounts.absolute_timeout_hours) {
            return Err(invalid(
                "accounts.absolute_timeout_hours",
                "must be between 1 and 720".to_owned(),
            ));
        }
        if !(1..=24 * 400).contains(&self.polls.cookie_hours) {
            return Err(invalid(
                "polls.cookie_hours",
                "must be between 1 and 9600".to_owned(),
            ));
        }
        let smtp = &self.mail.smtp_url;
        if !(smtp.is_empty() || smtp.starts_with("smtp://") || smtp.starts_with("smtps://")) {
            return Err(invalid(
                "mail.smtp_url",
                "must be empty, smtp://… or smtps://…".to_owned(),
            ));
        }
        let from_ok = self.mail.from.rsplit_once('<').map_or_else(
            || crate::account::EmailAddress::parse(&self.mail.from).is_ok(),
            |(_, addr)| {
                addr.strip_suffix('>').is_some_and(|a| {
                    crate::account::EmailAddress::parse(a).is_ok() || a.ends_with("@localhost")
                })
            },
        ) && !self.mail.from.contains(['\r', '\n']);
        if !from_ok {
            return Err(invalid(
                "mail.from",
                "must be an address, or a name and an address like `Example Police <noreply@example.org>`".to_owned(),
            ));
        }
        if let Some(dkim) = &self.mail.dkim {
            let label_ok = |l: &str| {
                !l.is_empty()
                    && l.len() <= 63
                    && !l.starts_with('-')
                    && !l.ends_with('-')
                    && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            };
            if !(dkim.domain.contains('.') && dkim.domain.split('.').all(label_ok)) {
                return Err(invalid(
                    "mail.dkim.domain",
                    "must be a domain name such as `example.police.uk`".to_owned(),
                ));
            }
            if !dkim.selector.split('.').all(label_ok) {
                return Err(invalid(
                    "mail.dkim.selector",
                    "must be letters, digits and hyphens (dots between parts), such as `mail2026`"
                        .to_owned(),
                ));
            }
            if dkim.key_file.as_os_str().is_empty() {
                return Err(invalid(
                    "mail.dkim.key_file",
                    "must name the file that holds the private key".to_owned(),
                ));
            }
        }
        let mut topic_ids = BTreeSet::new();
        for (i, topic) in self.topics.iter().enumerate() {
            let id_ok = !topic.id.is_empty()
                && topic.id.len() <= 40
                && topic
                    .id
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
            if !id_ok || !topic_ids.insert(&topic.id) {
                return Err(invalid(
                    &format!("topics[{i}].id"),
                    "must be unique, lower-case letters, digits and hyphens".to_owned(),
                ));
            }
            if topic.label.trim().is_empty() {
                return Err(invalid(
                    &format!("topics[{i}].label"),
                    "must not be empty".to_owned(),
                ));
            }
        }
        self.validate_purposes(source_name)?;
        if !(1..=24 * 30).contains(&self.people.preference_link_hours) {
            return Err(invalid(
                "people.preference_link_hours",
                "must be between 1 and 720".to_owned(),
            ));
        }
        if self.polls.votes_per_address == 0 {
            return Err(invalid(
                "polls.votes_per_address",
                "must be at least 1".to_owned(),
            ));
        }
        if !(1..=24 * 30).contains(&self.people.consent_confirmation_hours) {
            return Err(invalid(
                "people.consent_confirmation_hours",
                "must be between 1 and 720".to_owned(),
            ));
        }
        if !(5..=24 * 60).contains(&self.people.preference_visit_minutes) {
            return Err(invalid(
                "people.preference_visit_minutes",
                "must be between 5 and 1440".to_owned(),
            ));
        }
        let mut names = BTreeSet::new();
        for (i, cookie) in self.cookies.declared.iter().enumerate() {
            let key = format!("cookies.declared[{i}]");
            if !is_valid_cookie_name(&cookie.name) {
                return Err(invalid(
                    &format!("{key}.name"),
                    "must be a cookie name (letters, digits and -_.!#$%&'*+^`|~)".to_owned(),
                ));
            }
            if crate::cookies::is_reserved_name(&cookie.name)
                || cookie.name == self.accounts.cookie_name()
                || !names.insert(&cookie.name)
            {
                return Err(invalid(
                    &format!("{key}.name"),
                    format!("`{}` is declared twice", cookie.name),
                ));
            }
            if cookie.category == Category::Necessary {
                return Err(invalid(
                    &format!("{key}.category"),
                    "a cookie set by an added script cannot be strictly necessary; use preferences, statistics or marketing".to_owned(),
                ));
            }
            if cookie.purpose.trim().is_empty() {
                return Err(invalid(
                    &format!("{key}.purpose"),
                    "must say what the cookie is for".to_owned(),
                ));
            }
        }
        for (i, script) in self.scripts.iter().enumerate() {
            let key = format!("scripts[{i}]");
            let path_ok = script.src.starts_with('/') && !script.src.starts_with("//");
            let https_ok = script.origin().is_some_and(|o| o.len() > "https://".len());
            if !(path_ok || https_ok) || script.src.contains(['"', '<', '>', ' ', '\\']) {
                return Err(invalid(
                    &format!("{key}.src"),
                    "must be an https:// address or a path starting with /".to_owned(),
                ));
            }
            if script.category == Category::Necessary {
                return Err(invalid(
                    &format!("{key}.category"),
                    "a gated script must be preferences, statistics or marketing".to_owned(),
                ));
            }
        }
        Ok(())
    }

    /// Whether visitors reach the site over https.
    pub fn served_over_https(&self) -> bool {
        self.public_url
            .as_deref()
            .is_some_and(|u| u.starts_with("https://"))
    }

    /// The scheme, host and port of `public_url`, as browsers send it in `Origin`.
    pub fn public_origin(&self) -> Option<&str> {
        let url = self.public_url.as_deref()?;
        let after_scheme = url.find("://")? + 3;
        let end = url[after_scheme..]
            .find('/')
            .map_or(url.len(), |i| after_scheme + i);
        Some(&url[..end])
    }

    /// What `candour config check` reports: settings that work but break a promise or the law.
    pub fn warnings(&self) -> Vec<String> {
        let mut out = Vec::new();
        if self.cookies.consent_mode == ConsentMode::Implied {
            out.push(
                "cookies.consent_mode = \"implied\" treats browsing as agreement to non-essential \
                 cookies; that is not valid consent under UK GDPR and PECR as the ICO applies them. \
                 Use \"opt-in\"."
                    .to_owned(),
            );
        }
        if !self.served_over_https() {
            out.push(
                "public_url is not an https:// address: cookies are sent without Secure and HSTS \
                 is off. Set it to the https address visitors use."
                    .to_owned(),
            );
        }
        let org = &self.organisation;
        for (key, value) in [
            ("organisation.email", org.email.as_str()),
            ("organisation.dpo_email", org.dpo_email.as_str()),
        ] {
            if value.trim().is_empty() {
                out.push(format!(
                    "{key} is empty: the privacy notice must say how to contact you about personal data."
                ));
            }
        }
        if org.postal_address.is_empty() {
            out.push(
                "organisation.postal_address is empty: the privacy notice should give an address \
                 for written requests."
                    .to_owned(),
            );
        }
        for script in &self.scripts {
            if let Some(origin) = script.origin() {
                out.push(format!(
                    "scripts: {} loads from {origin} once a visitor consents to {}; that host then \
                     sees the visitor's address. Declare the cookies it sets under [[cookies.declared]].",
                    script.src,
                    script.category.label()
                ));
            }
        }
        if self.mail.smtp_url.is_empty() {
            out.push(format!(
                "mail.smtp_url is empty: email (sign-in links, password resets) is written to {} \
                 instead of being sent. Set it to your mail relay, such as \
                 smtps://user:password@relay.example.org:465.",
                self.mail.outbox_dir.display()
            ));
        } else if self.mail.smtp_url.starts_with("smtp://")
            && !self.mail.smtp_url.contains("127.0.0.1")
            && !self.mail.smtp_url.contains("localhost")
        {
            out.push(
                "mail.smtp_url uses smtp:// to another host: messages cross the network without \
                 TLS. Use smtps://, or a relay on this machine."
                    .to_owned(),
            );
        }
        if let Some(dkim) = &self.mail.dkim {
            let from_domain = self
                .mail
                .from
                .rsplit_once('@')
                .map(|(_, d)| d.trim_end_matches('>').to_ascii_lowercase())
                .unwrap_or_default();
            let signing = dkim.domain.to_ascii_lowercase();
            if from_domain != signing && !from_domain.ends_with(&format!(".{signing}")) {
                out.push(format!(
                    "mail.dkim.domain {} is not the domain of mail.from ({from_domain}) or one it \
                     belongs to: receivers applying DMARC will not count the signature as the \
                     sender's.",
                    dkim.domain
                ));
            }
        }
        if self.campaigns.enabled && self.public_url.is_none() {
            out.push(format!(
                "public_url is not set: links in campaign emails (unsubscribe, tracking) point at \
                 http://{}, which recipients cannot reach. Set it to the site's address.",
                self.listen
            ));
        }
        if !self.accounts.require_staff_totp {
            out.push(
                "accounts.require_staff_totp is off: staff can sign in with a password alone. \
                 Set it to true; each member of staff then sets up an authenticator app at their \
                 next sign-in."
                    .to_owned(),
            );
        }
        if self
            .people
            .response_readers
            .contains(&crate::account::Role::Editor)
        {
            out.push(
                "people.response_readers includes \"editor\": editors, who otherwise work on \
                 content, can read and export form responses with people's names and addresses. \
                 Keep that to privacy officers unless editors need it for their work."
                    .to_owned(),
            );
        }
        if self.people.marketing_consent == MarketingConsent::OptOutBox {
            out.push(
                "people.marketing_consent = \"opt-out-box\" asks people to tick a box to refuse \
                 marketing; silence or an unticked box is not valid consent under UK GDPR and PECR. \
                 Use \"opt-in\"."
                    .to_owned(),
            );
        }
        for p in &self.purposes {
            if p.direct_marketing
                && p.lawful_basis == crate::purposes::LawfulBasis::LegitimateInterests
                && p.channels.contains(&crate::purposes::Channel::Email)
            {
                out.push(format!(
                    "purposes: {} sends direct marketing by email on legitimate interests; PECR \
                     allows that only to existing customers (the soft opt-in). Use consent.",
                    p.id
                ));
            }
        }
        if self.cookies.receipt_retention_days < self.cookies.consent_lifetime_days {
            out.push(
                "cookies.receipt_retention_days is shorter than cookies.consent_lifetime_days: a \
                 choice still in force could not be proved."
                    .to_owned(),
            );
        }
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

fn string_or_number<'de, D: serde::Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Either {
        S(String),
        N(i64),
    }
    Ok(match Either::deserialize(d)? {
        Either::S(s) => s,
        Either::N(n) => n.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(text: &str, env: &[(&str, &str)]) -> Result<Config, ConfigError> {
        Config::load(Some(("candour.toml", text)), env.iter().copied())
    }

    #[test]
    fn no_configuration_gives_the_embedded_defaults() {
        let c = Config::load(None, []).unwrap();
        assert_eq!(c.listen.to_string(), "127.0.0.1:8080");
        assert_eq!(c.database_url, "sqlite://candour.db");
        assert_eq!(c.cookies.consent_mode, ConsentMode::OptIn);
        assert_eq!(c.cookies.consent_lifetime_days, 365);
    }

    #[test]
    fn campaign_settings_are_checked_key_by_key() {
        for (text, key) in [
            (
                "[campaigns]\napprovers = [\"not an address\"]\n",
                "campaigns.approvers[0]",
            ),
            ("[campaigns]\nconcurrency = 0\n", "campaigns.concurrency"),
            ("[campaigns]\nrate_per_second = 1\n", "campaigns.batch_size"),
            (
                "[campaigns]\nlease_seconds = 5\n",
                "campaigns.lease_seconds",
            ),
            (
                "[campaigns]\nunsubscribe_mailto = \"x\"\n",
                "campaigns.unsubscribe_mailto",
            ),
        ] {
            let err = load(text, &[]).unwrap_err().to_string();
            assert!(err.contains(key), "{text}: {err}");
        }
        let c = load("[campaigns]\napprovers = [\"Lead@Example.org\"]\n", &[]).unwrap();
        assert_eq!(c.campaigns.approvers.len(), 1);
        assert!(c.warnings().iter().any(|w| w.contains("campaign emails")));
    }

    #[test]
    fn dkim_settings_are_checked_and_misalignment_is_flagged() {
        let dkim = |domain: &str, selector: &str, extra: &str| {
            format!(
                "[mail]\nfrom = \"News <news@northmoor.example>\"\n[mail.dkim]\n\
                 domain = \"{domain}\"\nselector = \"{selector}\"\nkey_file = \"dkim.key\"\n{extra}"
            )
        };
        for (text, key) in [
            (dkim("localhost", "s1", ""), "mail.dkim.domain"),
            (dkim("bad_domain.example", "s1", ""), "mail.dkim.domain"),
            (dkim("northmoor.example", "", ""), "mail.dkim.selector"),
            (dkim("northmoor.example", "a b", ""), "mail.dkim.selector"),
            (
                dkim("northmoor.example", "s1", "algorithm = \"md5\"\n"),
                "algorithm",
            ),
        ] {
            let err = load(&text, &[]).unwrap_err().to_string();
            assert!(err.contains(key), "{text}: {err}");
        }
        let c = load(
            &dkim(
                "northmoor.example",
                "mail2026",
                "algorithm = \"ed25519-sha256\"\n",
            ),
            &[],
        )
        .unwrap();
        let d = c.mail.dkim.as_ref().unwrap();
        assert_eq!(d.algorithm, DkimAlgorithm::Ed25519Sha256);
        assert!(!c.warnings().iter().any(|w| w.contains("mail.dkim")));
        // A parent domain aligns; another domain does not.
        let c = load(&dkim("example", "s1", ""), &[]);
        assert!(c.is_err(), "a single label is not a signing domain");
        let c = load(&dkim("other.example", "s1", ""), &[]).unwrap();
        assert!(c.warnings().iter().any(|w| w.contains("mail.dkim.domain")));
        let sub = "[mail]\nfrom = \"news@mail.northmoor.example\"\n[mail.dkim]\n\
                   domain = \"northmoor.example\"\nselector = \"s1\"\nkey_file = \"k\"\n";
        let c = load(sub, &[]).unwrap();
        assert_eq!(
            c.mail.dkim.as_ref().unwrap().algorithm,
            DkimAlgorithm::RsaSha256
        );
        assert!(!c.warnings().iter().any(|w| w.contains("mail.dkim")));
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
        c.public_url = Some("https://police.example/site/".into());
        assert_eq!(c.public_origin(), Some("https://police.example"));
        c.public_url = Some("http://127.0.0.1:8080".into());
        assert_eq!(c.public_origin(), Some("http://127.0.0.1:8080"));
    }

    #[test]
    fn script_origin_is_the_scheme_and_host() {
        let s = GatedScript {
            src: "https://stats.example.com/a/b.js".into(),
            category: Category::Statistics,
        };
        assert_eq!(s.origin(), Some("https://stats.example.com"));
        let s = GatedScript {
            src: "/assets/x.js".into(),
            category: Category::Statistics,
        };
        assert_eq!(s.origin(), None);
    }

    #[test]
    fn letting_editors_read_responses_is_flagged_and_roles_are_checked() {
        let c = load("", &[]).unwrap();
        assert_eq!(
            c.people.response_readers,
            vec![crate::account::Role::PrivacyOfficer]
        );
        assert!(!c.warnings().iter().any(|w| w.contains("response_readers")));
        let c = load("[people]\nresponse_readers = [\"editor\"]\n", &[]).unwrap();
        assert!(c.warnings().iter().any(|w| w.contains("response_readers")));
        let e = load("[people]\nresponse_readers = [\"visitor\"]\n", &[]).unwrap_err();
        assert!(e.to_string().contains("response_readers"), "{e}");
    }

    #[test]
    fn purposes_are_checked_and_tick_to_refuse_is_flagged() {
        let good = "[people]\nmarketing_consent = \"opt-out-box\"\n\n[[purposes]]\nid = \"news\"\nname = \"News\"\ndescription = \"d\"\ndata = \"e\"\nlawful_basis = \"consent\"\nretention_days = 730\nchannels = [\"email\", \"post\"]\ndirect_marketing = true\nconsent_label = \"Send me news\"\n";
        let c = load(good, &[]).unwrap();
        assert_eq!(c.purposes[0].channels.len(), 2);
        assert!(c.warnings().iter().any(|w| w.contains("opt-out-box")));
        for (change, key) in [
            (
                ("consent_label = \"Send me news\"", "consent_label = \"\""),
                "purposes[0].consent_label",
            ),
            (("id = \"news\"", "id = \"account\""), "purposes[0].id"),
            (("id = \"news\"", "id = \"News!\""), "purposes[0].id"),
            (
                ("channels = [\"email\", \"post\"]", "channels = []"),
                "purposes[0].channels",
            ),
            (
                (
                    "channels = [\"email\", \"post\"]",
                    "channels = [\"email\", \"email\"]",
                ),
                "purposes[0].channels",
            ),
            (
                (
                    "lawful_basis = \"consent\"",
                    "lawful_basis = \"public-task\"",
                ),
                "purposes[0].lawful_basis",
            ),
            (
                ("retention_days = 730", "retention_days = 0"),
                "purposes[0].retention_days",
            ),
        ] {
            let text = good.replace(change.0, change.1);
            match load(&text, &[]) {
                Err(ConfigError::Invalid { key: k, .. }) => assert_eq!(k, key, "{text}"),
                other => panic!("{text}: {other:?}"),
            }
        }
        let e = load(&good.replace("\"post\"", "\"pigeon\""), &[]).unwrap_err();
        assert!(e.to_string().contains("purposes"), "{e}");
    }

    // The cookie registry and the purposes registry as the configuration builds them.
    use crate::cookies::{CONSENT_COOKIE, CookieError, CookieId, CookieRegistry, Lifetime};

    fn config() -> Config {
        Config::default()
    }

    #[test]
    fn consent_cookie_is_declared_strictly_necessary_with_the_configured_lifetime() {
        let mut c = config();
        c.cookies.consent_lifetime_days = 180;
        let r = CookieRegistry::from_config(&c);
        let d = r.declaration_for(CONSENT_COOKIE).unwrap();
        assert_eq!(d.category, Category::Necessary);
        assert_eq!(d.lifetime, Lifetime::days(180));
        let set = r.set(CookieId::Consent, "abc").unwrap();
        assert_eq!(
            set.header_value(),
            "candour_consent=abc; Path=/; SameSite=Lax; Max-Age=15552000"
        );
    }

    #[test]
    fn the_session_cookie_is_http_only_and_ends_with_the_browser() {
        let r = CookieRegistry::from_config(&config());
        let d = r.declaration_for("clientvars").unwrap();
        assert_eq!(d.category, Category::Necessary);
        assert_eq!(d.lifetime, Lifetime::Session);
        assert_eq!(
            r.set(CookieId::Session, "t").unwrap().header_value(),
            "clientvars=t; Path=/; SameSite=Lax; HttpOnly"
        );
        let mut c = config();
        c.public_url = Some("https://example.org".into());
        c.accounts.host_prefix = true;
        let r = CookieRegistry::from_config(&c);
        assert!(
            r.set(CookieId::Session, "t")
                .unwrap()
                .header_value()
                .starts_with("__Host-clientvars=t; Path=/;")
        );
    }

    #[test]
    fn secure_flag_follows_https() {
        let mut c = config();
        c.public_url = Some("https://example.org".into());
        let r = CookieRegistry::from_config(&c);
        assert!(
            r.set(CookieId::Consent, "x")
                .unwrap()
                .header_value()
                .ends_with("; Secure")
        );
    }

    #[test]
    fn values_that_would_break_the_header_are_refused() {
        let r = CookieRegistry::from_config(&config());
        for bad in ["a;b", "a b", "a\r\nSet-Cookie: x=y", "a,b", "\"q\""] {
            assert_eq!(
                r.set(CookieId::Consent, bad),
                Err(CookieError::BadValue(CookieId::Consent)),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn policy_version_changes_with_any_declared_fact_and_only_then() {
        let a = CookieRegistry::from_config(&config());
        let b = CookieRegistry::from_config(&config());
        assert_eq!(a.policy_version(), b.policy_version());
        assert_eq!(a.policy_version().as_str().len(), 12);

        let mut c = config();
        c.cookies.consent_lifetime_days = 30;
        assert_ne!(
            CookieRegistry::from_config(&c).policy_version(),
            a.policy_version()
        );

        let mut c = config();
        c.cookies.declared.push(DeclaredCookie {
            name: "_stats".into(),
            category: Category::Statistics,
            purpose: "Counts visits".into(),
            lifetime_days: 30,
            provider: "Stats Ltd".into(),
        });
        let with = CookieRegistry::from_config(&c);
        assert_ne!(with.policy_version(), a.policy_version());
        c.cookies.declared[0].purpose = "Counts visits.".into();
        assert_ne!(
            CookieRegistry::from_config(&c).policy_version(),
            with.policy_version()
        );
        // Settings that the policy does not describe leave the version alone.
        let mut c = config();
        c.listen = "127.0.0.1:1".parse().unwrap();
        c.organisation.phone = "101".into();
        assert_eq!(
            CookieRegistry::from_config(&c).policy_version(),
            a.policy_version()
        );
    }

    #[test]
    fn poll_cookies_are_set_per_poll_and_only_when_polls_are_on() {
        let r = CookieRegistry::from_config(&config());
        let set = r.set_member(CookieId::PollTimeout, 42, "v").unwrap();
        assert_eq!(
            set.header_value(),
            "PollTimeout-42=v; Path=/; SameSite=Lax; Max-Age=86400; HttpOnly"
        );
        assert!(r.declaration_for("PollTimeout-42").is_some());
        assert!(
            r.set(CookieId::PollTimeout, "v").is_err(),
            "a family needs its key"
        );
        assert!(
            r.set_member(CookieId::Consent, 1, "v").is_err(),
            "a single cookie has none"
        );
        let mut c = config();
        c.polls.enabled = false;
        let r = CookieRegistry::from_config(&c);
        assert!(r.set_member(CookieId::PollTimeout, 42, "v").is_err());
        assert!(r.declaration_for("PollTimeout-42").is_none());
    }

    #[test]
    fn receipt_retention_follows_configuration() {
        let mut c = Config::default();
        c.cookies.receipt_retention_days = 730;
        let p = crate::purposes::registry(&c);
        let choices = p.iter().find(|p| p.id == "cookie-choices").unwrap();
        assert_eq!(choices.retention.describe(), "2 years");
        let ids: Vec<_> = p.iter().map(|p| p.id.as_str()).collect();
        let mut unique = ids.clone();
        unique.dedup();
        assert_eq!(ids, unique);
    }

    #[test]
    fn the_default_retry_schedule() {
        let s = CampaignSettings::default().retry_schedule();
        assert_eq!(
            (s.first_seconds, s.max_seconds, s.give_up_hours),
            (300, 4 * 3600, 96)
        );
    }
}
