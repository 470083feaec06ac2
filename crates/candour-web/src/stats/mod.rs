//! Site statistics without cookies. The writing side: `count` counts the pages Candour
//! serves as their answers go out; `visitor` makes the day hash and reads the country;
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

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use candour_core::config::Config;
use candour_core::stats::agent::AgentReader;
use candour_core::store::StatsIngestStore;
use tokio::sync::{Mutex, Notify};

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
    /// Counting tasks started and not finished (tests wait for them).
    working: Arc<Working>,
    /// The UK day statistics were last purged for, and when.
    purged: Mutex<Option<(time::Date, time::OffsetDateTime)>>,
}

#[derive(Default)]
struct Working {
    count: AtomicUsize,
    idle: Notify,
}

/// Held by a counting task while it runs.
struct Busy(Arc<Working>);

impl Drop for Busy {
    fn drop(&mut self) {
        if self.0.count.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.0.idle.notify_waiters();
        }
    }
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
            working: Arc::new(Working::default()),
            purged: Mutex::new(None),
        })
    }

    fn agents(&self) -> &AgentReader {
        self.agents.get_or_init(AgentReader::default)
    }

    fn busy(&self) -> Busy {
        self.working.count.fetch_add(1, Ordering::AcqRel);
        Busy(self.working.clone())
    }

    /// Wait until every hit counted so far is in the store (for tests and shutdown).
    pub(crate) async fn flush(&self) {
        loop {
            let idle = self.working.idle.notified();
            if self.working.count.load(Ordering::Acquire) == 0 {
                break;
            }
            idle.await;
        }
        self.queue.flush().await;
    }

    /// Hits waiting in memory, for the metrics endpoint.
    pub(crate) fn depth(&self) -> usize {
        self.queue.depth()
    }
}
