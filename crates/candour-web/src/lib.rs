//! Candour's web server: the axum router, one module per capability, and the rules applied
//! at the edge (security headers, request ids, limits, error pages, the cookie filter).
//!
//! Architecture invariant: this crate never names sqlx. It reaches storage only through the
//! store traits of `candour-core`, held as `Arc<dyn …>` in [`Stores`].

mod assets;
mod consent;
pub mod content;
mod cookie_jar;
mod csrf;
mod edge;
mod error;
mod frame;
mod health;
pub mod maintenance;
mod policy;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::routing::{get, post};
use candour_core::Clock;
use candour_core::config::Config;
use candour_core::cookies::CookieRegistry;
use candour_core::policy::Policy;
use candour_core::store::{StoreError, Stores};

pub use error::AppError;

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
    site: content::Site,
    keys: Keys,
    csp: String,
}

/// Secrets the server signs with, loaded from the database so every instance shares them.
struct Keys {
    consent: Vec<u8>,
    csrf: Vec<u8>,
}

/// Why the app could not be assembled.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error("could not load the signing keys from the database")]
    Keys(#[source] StoreError),
    #[error(transparent)]
    Content(#[from] content::ContentError),
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
        let keys = Keys {
            consent: load_key(&stores, "consent-cookie").await?,
            csrf: load_key(&stores, "csrf").await?,
        };
        let cookies = CookieRegistry::from_config(&config);
        let policy = Policy::new(&config, &cookies);
        let csp = edge::content_security_policy(&config);
        Ok(AppState {
            inner: Arc::new(Inner {
                config,
                stores,
                clock,
                cookies,
                policy,
                site,
                keys,
                csp,
            }),
        })
    }

    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    pub fn stores(&self) -> &Stores {
        &self.inner.stores
    }

    fn now(&self) -> time::OffsetDateTime {
        self.inner.clock.now()
    }
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
    let routes = Router::new()
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route(
            "/cookies",
            get(consent::settings_page).post(consent::save_settings),
        )
        .route("/cookies/consent", post(consent::banner_choice))
        .route("/privacy", get(policy::privacy_page))
        .route("/privacy.json", get(policy::privacy_json))
        .route("/assets/{file}", get(assets::asset))
        .route("/static/{*path}", get(content::static_file))
        .fallback(content::page);
    edge::apply(routes, state.clone(), timeout, body_limit).with_state(state)
}

impl AppState {
    /// Whether anything on the site needs consent: a declared optional cookie or a gated
    /// script. When nothing does, no banner is shown.
    fn has_optional_cookies(&self) -> bool {
        let registry = &self.inner.cookies;
        !self.inner.config.scripts.is_empty()
            || candour_core::cookies::Category::OPTIONAL
                .into_iter()
                .any(|c| registry.in_category(c).next().is_some())
    }
}
