//! Candour's web server: the axum router, one module per capability, and the rules applied
//! at the edge (security headers, request ids, limits, error pages, the cookie filter).
//!
//! Architecture invariant: this crate never names sqlx. It reaches storage only through the
//! store traits of `candour-core`, held as `Arc<dyn …>` in [`Stores`].

#![cfg_attr(not(test), deny(unused_crate_dependencies))]

mod accounts;
mod campaigns;
mod consent;
mod console;
mod disclosures;
mod forms;
mod kit;
mod media;
mod people;
mod polls;
pub mod requests;
mod stats;

pub use consent::content;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::routing::{get, post};
use candour_core::Clock;
use candour_core::config::Config;
use candour_core::cookies::CookieRegistry;
use candour_core::policy::Policy;
use candour_core::session::SessionPolicy;
use candour_core::signer::Signer;
use candour_core::store::{StoreError, Stores};

pub use kit::error::AppError;
pub use stats::GeoError;

/// What every handler can reach. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    inner: Arc<Inner>,
}

struct Inner {
    config: Config,
    stores: Stores,
    clock: Arc<dyn Clock>,
    cookies: CookieRegistry,
    policy: Policy,
    /// The purposes registry, built once from the configuration.
    purposes: Vec<candour_core::purposes::Purpose>,
    site: content::Site,
    /// Signs and checks every token the server hands out, one key per purpose, all derived
    /// from the master key in the database.
    signer: Arc<Signer>,
    keys: Keys,
    /// The Content-Security-Policy header, built once: every response carries it.
    csp: axum::http::HeaderValue,
    mailer: Arc<candour_mail::Mailer>,
    session_policy: SessionPolicy,
    votes: polls::queue::VoteQueue,
    tracking: campaigns::queue::TrackingQueue,
    link_cache: campaigns::links::LinkCache,
    campaign_sender: candour_mail::campaigns::CampaignSender,
    poll_cache: polls::memory::PollCache,
    day_salt: polls::memory::DaySalt,
    address_votes: polls::memory::AddressVotes,
    /// The blocks capabilities offer to content pages.
    blocks: kit::blocks::Blocks,
    /// Renders `/metrics`; `None` when metrics are off.
    metrics: Option<metrics_exporter_prometheus::PrometheusHandle>,
    /// The bank holidays that move the due dates of requests about personal data.
    holidays: candour_core::requests::BankHolidays,
    /// Site statistics: the hit queue, the day's salt, the user-agent reader.
    stats: stats::Counter,
}

/// Secrets kept beside the signer, loaded from the database so every instance shares them.
struct Keys {
    /// The key campaign links were signed with before they moved to the signer: read-only,
    /// so links in messages already delivered keep working.
    earlier_campaign_links: Vec<u8>,
}

/// Why the app could not be assembled.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error("could not load the signing keys from the database")]
    Keys(#[source] StoreError),
    #[error(transparent)]
    Content(#[from] content::ContentError),
    #[error(transparent)]
    Mail(#[from] candour_mail::MailError),
    #[error(
        "the page {page} names the topic `{topic}`, which is not in the configuration's [[topics]]"
    )]
    Topic { page: String, topic: String },
    #[error("could not read requests.holidays_file {path}")]
    HolidaysFile {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Geo(#[from] GeoError),
    #[error("requests.holidays_file {path}: {errors}")]
    Holidays {
        path: String,
        errors: candour_core::fields::FieldErrors,
    },
}

impl AppState {
    /// Assemble the state: keys from the database, content from its folder.
    pub async fn new(
        config: Config,
        stores: Stores,
        clock: Arc<dyn Clock>,
    ) -> Result<AppState, BuildError> {
        let site = match &config.content_dir {
            Some(dir) => content::Site::load(dir)?,
            None => content::Site::default(),
        };
        let known: Vec<String> = config.topics.iter().map(|t| t.id.clone()).collect();
        if let Some((page, topic)) = site.unknown_topics(&known).into_iter().next() {
            return Err(BuildError::Topic { page, topic });
        }
        let holidays = load_holidays(&config)?;
        let signer = Arc::new(Signer::new(&load_key(&stores, "signer").await?));
        let keys = Keys {
            earlier_campaign_links: load_key(&stores, "campaign-links").await?,
        };
        let metrics = if config.metrics.enabled {
            kit::metrics::install()
        } else {
            None
        };
        // A write waits no longer for the database than a request waits for a connection.
        let max_wait = std::time::Duration::from_millis(config.database.acquire_timeout_ms);
        let votes = polls::queue::VoteQueue::start(stores.votes.clone(), max_wait);
        let tracking = campaigns::queue::TrackingQueue::start(stores.tracking.clone(), max_wait);
        let stats = stats::Counter::start(&config, stores.stats_ingest.clone(), max_wait)?;
        let mailer = Arc::new(candour_mail::Mailer::from_settings(&config.mail)?);
        let campaign_sender = candour_mail::campaigns::CampaignSender::new(
            &stores,
            clock.clone(),
            mailer.clone(),
            &config.mail,
            config.campaigns.clone(),
            candour_mail::campaigns::LinkSettings {
                base: link_base_of(&config),
                signer: signer.clone(),
                organisation: config.organisation.name.clone(),
                unsubscribe_mailto: config.campaigns.unsubscribe_mailto.clone(),
            },
        )?;
        let session_policy = SessionPolicy {
            idle: time::Duration::minutes(i64::from(config.accounts.idle_timeout_minutes)),
            absolute: time::Duration::hours(i64::from(config.accounts.absolute_timeout_hours)),
        };
        let mut cookie_site = candour_core::cookies::Site::from(&config);
        cookie_site.media = site.media_providers();
        let cookies = CookieRegistry::from_config(cookie_site);
        let policy = Policy::new(&config, &cookies);
        let purposes = candour_core::purposes::registry(&config);
        // Origins in the configuration are checked when it loads; should one still make a
        // value no header can hold, the policy falls back to allowing nothing.
        let mut blocks = kit::blocks::Blocks::default();
        blocks.register("poll", Arc::new(polls::PollBlock));
        blocks.register("media", Arc::new(media::MediaBlock));
        let csp = axum::http::HeaderValue::from_str(&kit::edge::content_security_policy(&config))
            .unwrap_or(axum::http::HeaderValue::from_static("default-src 'none'"));
        let state = AppState {
            inner: Arc::new(Inner {
                config,
                stores,
                clock,
                cookies,
                policy,
                purposes,
                site,
                signer,
                keys,
                csp,
                mailer,
                session_policy,
                votes,
                tracking,
                link_cache: campaigns::links::LinkCache::default(),
                campaign_sender,
                poll_cache: polls::memory::PollCache::default(),
                day_salt: polls::memory::DaySalt::default(),
                address_votes: polls::memory::AddressVotes::default(),
                blocks,
                metrics,
                holidays,
                stats,
            }),
        };
        // The counting worker holds the app weakly: it stops when the app is dropped.
        state
            .inner
            .stats
            .start_worker(&state.inner.config, Arc::downgrade(&state.inner));
        Ok(state)
    }

    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    pub fn stores(&self) -> &Stores {
        &self.inner.stores
    }

    fn purposes(&self) -> &[candour_core::purposes::Purpose] {
        &self.inner.purposes
    }

    fn now(&self) -> time::OffsetDateTime {
        self.inner.clock.now()
    }

    /// Check a form's token against the visitor's session.
    fn check_form(&self, visitor: &kit::auth::Visitor, token: &str) -> Result<(), AppError> {
        kit::csrf::verify(&self.inner.signer, token, self.now(), visitor.binding())
    }

    /// The start of links in emails: the configured public address, or this server's own
    /// listening address. Never the request's `Host` header, which a sender can forge to
    /// point a reset link at their own site.
    fn link_base(&self) -> String {
        link_base_of(&self.inner.config)
    }

    /// The campaign delivery worker, for the server to run when this instance sends.
    pub fn campaign_sender(&self) -> candour_mail::campaigns::CampaignSender {
        self.inner.campaign_sender.clone()
    }

    /// Write a staff member's action to the audit log.
    async fn audit(
        &self,
        actor: &candour_core::account::Account,
        action: &str,
        target: String,
        detail: String,
    ) -> Result<(), AppError> {
        let entry = candour_core::audit::AuditEntry {
            at: self.now(),
            actor: Some(actor.id),
            actor_email: actor.email.as_str().to_owned(),
            action: action.to_owned(),
            target,
            detail,
        };
        self.inner.stores.audit.record(&entry).await?;
        Ok(())
    }

    pub fn mail_destination(&self) -> String {
        self.inner.mailer.describe()
    }

    /// Wait until every vote and tracking event submitted so far is written: tests call
    /// this instead of sleeping for the group-commit writers.
    pub async fn flush_queues(&self) {
        self.inner.votes.flush().await;
        self.inner.tracking.flush().await;
        self.inner.stats.flush().await;
    }
}

fn link_base_of(config: &Config) -> String {
    match &config.public_url {
        Some(url) => url.as_str().trim_end_matches('/').to_owned(),
        None => format!("http://{}", config.listen),
    }
}

/// The built-in bank holidays of the configured part of the UK, with any from the
/// configured file. A file that cannot be read, or has a bad line, stops the start.
pub fn load_holidays(config: &Config) -> Result<candour_core::requests::BankHolidays, BuildError> {
    use candour_core::requests::{BankHolidays, holidays};
    let extra = match &config.requests.holidays_file {
        None => Vec::new(),
        Some(path) => {
            let shown = path.display().to_string();
            let text =
                std::fs::read_to_string(path).map_err(|source| BuildError::HolidaysFile {
                    path: shown.clone(),
                    source,
                })?;
            holidays::parse_list(&text).map_err(|errors| BuildError::Holidays {
                path: shown,
                errors,
            })?
        }
    };
    Ok(BankHolidays::new(config.requests.bank_holidays, &extra))
}

async fn load_key(stores: &Stores, name: &str) -> Result<Vec<u8>, BuildError> {
    let fresh: [u8; 32] = rand::random();
    stores
        .keys
        .key_or_insert(name, &fresh)
        .await
        .map_err(BuildError::Keys)
}

/// The whole site, with every layer applied.
pub fn router(state: AppState) -> Router {
    let config = &state.inner.config;
    let timeout = Duration::from_secs(config.http.request_timeout_secs);
    let body_limit = config.http.body_limit_bytes;
    let mut routes = Router::new();
    if config.metrics.on_public_listener() {
        routes = routes.route("/metrics", get(kit::metrics::metrics_page));
    }
    let routes = routes
        .route("/healthz", get(kit::health::healthz))
        .route("/readyz", get(kit::health::readyz))
        .route(
            "/cookies",
            get(consent::settings::settings_page).post(consent::settings::save_settings),
        )
        .route("/cookies/consent", post(consent::settings::banner_choice))
        .route("/privacy", get(consent::policy::privacy_page))
        .route("/privacy.json", get(consent::policy::privacy_json))
        .merge(accounts::routes())
        .merge(console::routes())
        .merge(console::audit::routes())
        .merge(disclosures::routes())
        .merge(forms::console::routes())
        .merge(people::console::routes())
        .merge(polls::public::routes())
        .merge(forms::public::routes())
        .merge(people::preferences::routes())
        .merge(campaigns::unsubscribe::routes())
        .merge(media::routes())
        .merge(stats::object::routes())
        .route("/assets/{file}", get(kit::assets::asset))
        .route("/static/{*path}", get(consent::content::static_file))
        .merge(feature_routes(config))
        .fallback(consent::content::page)
        .layer(tower_http::limit::RequestBodyLimitLayer::new(body_limit))
        // Import files are far larger than any other request: their routes have their own limit.
        .merge(people::console::upload_routes())
        .merge(stats_upload_routes(config))
        .merge(request_upload_routes(config))
        // Counts the pages served, after they have answered (see `stats::count`).
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            stats::count::count_pages,
        ));
    let metrics = config.metrics.enabled;
    let app = kit::edge::apply(routes, state.clone(), timeout)
        // The tracking hot path: no page middleware (see `campaigns::tracking::tracking_routes`).
        .merge(campaigns::tracking::tracking_routes())
        // The statistics' script and beacon for the organisation's other sites (likewise).
        .merge(stats::beacon::routes())
        .with_state(state);
    if metrics {
        // Outermost, so it sees every answer as it leaves, and after routing, so it knows
        // the route template.
        app.layer(axum::middleware::from_fn(kit::metrics::track))
    } else {
        app
    }
}

/// `/metrics` alone, for a listener of its own (`[metrics] listen`); `None` unless
/// configured.
pub fn metrics_router(state: &AppState) -> Option<(std::net::SocketAddr, Router)> {
    let settings = &state.inner.config.metrics;
    let addr = settings.listen.filter(|_| settings.enabled)?;
    let app = Router::new()
        .route("/metrics", get(kit::metrics::metrics_page))
        .with_state(state.clone());
    Some((addr, app))
}

/// The statistics' history import, when statistics are on (it has its own body limit).
fn stats_upload_routes(config: &candour_core::config::Config) -> Router<AppState> {
    if kit::nav::Feature::Statistics.enabled(config) {
        stats::history::upload_routes()
    } else {
        Router::new()
    }
}

/// The upload of a file to the answer to a request, when requests are on (it has its own
/// body limit, `[requests] file_limit_mib`).
fn request_upload_routes(config: &candour_core::config::Config) -> Router<AppState> {
    if kit::nav::Feature::Requests.enabled(config) {
        requests::items::upload_routes(config.requests.file_limit_bytes())
    } else {
        Router::new()
    }
}

/// The console routes of features that can be switched off: absent (so a 404) when off.
/// Public poll pages answer 404 themselves; campaign messages already sent keep their
/// unsubscribe and tracking links working.
fn feature_routes(config: &candour_core::config::Config) -> Router<AppState> {
    let mut routes = Router::new();
    if kit::nav::Feature::Polls.enabled(config) {
        routes = routes.merge(polls::console::routes());
    }
    if kit::nav::Feature::Campaigns.enabled(config) {
        routes = routes.merge(campaigns::console::routes());
    }
    if kit::nav::Feature::Requests.enabled(config) {
        routes = routes.merge(requests::routes());
    }
    if kit::nav::Feature::Statistics.enabled(config) {
        routes = routes
            .merge(stats::console::routes())
            .merge(stats::public_page::routes());
    }
    routes
}

impl AppState {
    /// Whether anything on the site needs consent: a declared optional cookie or a gated
    /// script. When nothing does, no banner is shown.
    fn has_optional_cookies(&self) -> bool {
        !self.inner.config.scripts.is_empty()
            || candour_core::cookies::Category::OPTIONAL
                .into_iter()
                .any(|c| self.uses_category(c))
    }

    /// Whether the site has something in this category of cookie: a declared cookie, or a
    /// script that waits for consent to it.
    pub(crate) fn uses_category(&self, category: candour_core::cookies::Category) -> bool {
        self.inner.cookies.in_category(category).next().is_some()
            || self
                .inner
                .config
                .scripts
                .iter()
                .any(|s| s.category == category)
    }
}
