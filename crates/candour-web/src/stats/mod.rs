//! Site statistics without cookies. The writing side: `count` counts the pages Candour
//! serves as their answers go out, handing what it saw to `worker`, a thread of its own
//! that turns it into hits; `visitor` makes the day hash and reads the country;
//! `queue` takes hits to the store through the group commit; `folder` folds them into
//! totals in the background and forgets each day when it ends; `object` is the page where a
//! visitor turns statistics off for their browser; `beacon` takes hits from the
//! organisation's pages served elsewhere (a script, its beacon and an image fallback). The
//! reading side: `report` builds what the console's dashboard (`console`) and the public
//! statistics page (`public_page`) show, and `history` imports page views from Google
//! Analytics.
//!
//! Architecture invariant: no address is stored, and no day hash outlives its day. The
//! client's address lives only in the memory of the request that brought it; a hit names its
//! visitor by a keyed hash under the day's salt, which is deleted when the day ends.

pub(crate) mod beacon;
pub(crate) mod console;
pub(crate) mod count;
pub(crate) mod folder;
pub(crate) mod history;
pub(crate) mod object;
pub(crate) mod public_page;
pub(crate) mod queue;
pub(crate) mod report;
pub(crate) mod visitor;
pub(crate) mod worker;

use std::sync::{Arc, OnceLock, Weak};
use std::time::Duration;

use axum::http::{HeaderMap, header};
use candour_core::config::Config;
use candour_core::cookies::read_cookie;
use candour_core::stats::agent::AgentReader;
use candour_core::store::StatsIngestStore;
use tokio::sync::Mutex;

/// Why statistics could not start.
#[derive(Debug, thiserror::Error)]
#[error("could not read stats.geoip_database {path}")]
pub struct GeoError {
    pub path: String,
    #[source]
    pub source: Box<dyn std::error::Error + Send + Sync>,
}

/// The counting side's state, one per process.
pub(crate) struct Counter {
    queue: queue::HitQueue,
    salt: visitor::DaySalt,
    /// Built on first use: the bot list compiles into one large pattern.
    agents: OnceLock<AgentReader>,
    geo: Option<visitor::Geo>,
    /// The counting worker, started once the app is built (see `start_worker`).
    worker: OnceLock<worker::Worker>,
    /// The UK day statistics were last purged for, and when.
    purged: Mutex<Option<(time::Date, time::OffsetDateTime)>>,
    /// The sign-in cookie's name: a page or beacon that carries it may be staff's.
    session_cookie: String,
}

impl Counter {
    pub(crate) fn start(
        config: &Config,
        store: Arc<dyn StatsIngestStore>,
        max_wait: Duration,
    ) -> Result<Counter, GeoError> {
        let geo = config
            .stats
            .geoip_database
            .as_deref()
            .filter(|_| config.stats.enabled)
            .map(visitor::Geo::open)
            .transpose()?;
        Ok(Counter {
            queue: queue::HitQueue::start(store, max_wait),
            salt: visitor::DaySalt::default(),
            agents: OnceLock::new(),
            geo,
            worker: OnceLock::new(),
            purged: Mutex::new(None),
            session_cookie: config.accounts.cookie_name(),
        })
    }

    /// The sign-in cookie's value in these headers, if there is one.
    pub(crate) fn session_cookie_in<'h>(&self, headers: &'h HeaderMap) -> Option<&'h str> {
        headers
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|h| h.to_str().ok())
            .find_map(|h| read_cookie(h, &self.session_cookie))
    }

    /// The sign-in cookie's name.
    pub(crate) fn session_cookie(&self) -> &str {
        &self.session_cookie
    }

    fn agents(&self) -> &AgentReader {
        self.agents.get_or_init(AgentReader::default)
    }

    /// Start the counting worker for the app behind `app`, when statistics are on.
    pub(crate) fn start_worker(&self, config: &Config, app: Weak<crate::Inner>) {
        if config.stats.enabled {
            self.worker.get_or_init(|| worker::Worker::start(app));
        }
    }

    /// Hand a sighting to the worker without waiting; `false` when it was dropped.
    pub(crate) fn offer(&self, seen: worker::Sighting) -> bool {
        self.worker.get().is_some_and(|w| w.offer(seen))
    }

    /// Wait until every hit counted so far is in the store (for tests, shutdown and the
    /// folder, which lets recording go first).
    pub(crate) async fn flush(&self) {
        if let Some(worker) = self.worker.get() {
            worker.flush().await;
        }
        self.queue.flush().await;
    }

    /// Hits waiting in memory, for the metrics endpoint.
    pub(crate) fn depth(&self) -> usize {
        self.worker.get().map_or(0, worker::Worker::depth) + self.queue.depth()
    }
}
