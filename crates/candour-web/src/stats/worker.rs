//! The counting worker: one thread of its own that turns what requests saw into hits, off
//! every response's path. A request that may be counted copies the few header values
//! counting needs into a [`Sighting`] and hands it over with `try_send` on a bounded
//! channel, which never waits: when the channel is full the sighting is dropped and counted
//! in `candour_queue_dropped_total{queue="counting"}`. The worker takes sightings in
//! batches and does the slow parts: reading the user agent (remembered for the last few
//! thousand agents, so a browser seen again costs a map look-up), telling staff apart, the
//! day hash, the referrer's host, the campaign tags and the country. Each hit then goes to
//! the group commit (`queue`), waiting for room there rather than dropping it, so a sighting
//! accepted into the channel is written unless the process dies first.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Weak;
use std::time::Duration;

use axum::http::{HeaderMap, HeaderValue, header};
use candour_core::stats::agent::Agent;
use candour_core::stats::request::{CampaignTags, referrer_host};
use candour_core::stats::{Hit, HitKind, clip, uk_day};
use time::OffsetDateTime;
use tokio::sync::{mpsc, oneshot};

use super::visitor::day_hash;
use crate::kit::{auth, limits};
use crate::{AppState, Inner};

/// How many sightings may wait for the worker. With the hit queue's own room this bounds
/// what a crash can lose, and the memory counting may hold (see the README): a sighting is
/// at most about 5 KiB, usually under 1 KiB.
pub(crate) const CAPACITY: usize = 8192;
/// The most sightings the worker takes at once.
const BATCH: usize = 512;
/// How long the worker lets sightings gather after a batch that did not fill. While it is not
/// waiting on the channel, handing a sighting over wakes no thread, so under load a page
/// costs no system call for counting.
const GATHER: Duration = Duration::from_millis(10);
/// User agents remembered; the map is emptied when it grows past this.
const AGENTS_REMEMBERED: usize = 4096;

/// What a counted request left behind: short copies of a few header values, nothing parsed
/// yet. Each is memory of its own, cut to a bounded size (`count::Sighting::new`), so a
/// waiting sighting holds no more than a few KiB whatever the request carried. The address
/// is here only until the worker has hashed it and looked up its country.
pub(crate) struct Sighting {
    pub at: OffsetDateTime,
    pub kind: HitKind,
    /// The page's path, with its query when it has one.
    pub target: String,
    /// The scheme and host of the page that linked to it.
    pub referer: Option<String>,
    /// The host the page was served from (a referrer from it is a move within the site).
    pub host: Option<String>,
    pub agent: Option<String>,
    pub ip: IpAddr,
    /// The sign-in cookie's value, when the request carried one (staff are not counted).
    pub session: Option<String>,
}

pub(crate) enum Message {
    Seen(Box<Sighting>),
    /// Answered once every sighting sent before it is in the hit queue.
    Flush(oneshot::Sender<()>),
}

/// The sending side, held by the `Counter`.
pub(crate) struct Worker {
    tx: mpsc::Sender<Message>,
}

impl Worker {
    /// Start the worker's thread for the app behind `inner`. The worker holds the app only
    /// weakly, so it stops when the app is dropped.
    pub(crate) fn start(inner: Weak<Inner>) -> Worker {
        let (tx, rx) = mpsc::channel(CAPACITY);
        let spawned = std::thread::Builder::new()
            .name("candour-counting".to_owned())
            .spawn(move || {
                match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(rt) => rt.block_on(run(inner, rx)),
                    Err(e) => tracing::error!(error = %e, "Could not start the counting worker."),
                }
            });
        if let Err(e) = spawned {
            tracing::error!(error = %e, "Could not start the counting worker's thread.");
        }
        Worker { tx }
    }

    /// Hand a sighting over without waiting: `false` when the channel is full (or the worker
    /// has stopped) and it was dropped.
    pub(crate) fn offer(&self, sighting: Sighting) -> bool {
        let sent = self.tx.try_send(Message::Seen(Box::new(sighting))).is_ok();
        if !sent {
            metrics::counter!("candour_queue_dropped_total", "queue" => "counting").increment(1);
        }
        sent
    }

    /// Wait until every sighting handed over so far is in the hit queue.
    pub(crate) async fn flush(&self) {
        let (done, answered) = oneshot::channel();
        if self.tx.send(Message::Flush(done)).await.is_ok() {
            let _ = answered.await;
        }
    }

    /// Sightings waiting for the worker.
    pub(crate) fn depth(&self) -> usize {
        self.tx.max_capacity() - self.tx.capacity()
    }
}

async fn run(inner: Weak<Inner>, mut rx: mpsc::Receiver<Message>) {
    let mut received = Vec::with_capacity(BATCH);
    let mut agents = Agents::default();
    while rx.recv_many(&mut received, BATCH).await > 0 {
        let full = received.len() == BATCH;
        let Some(inner) = inner.upgrade() else {
            break;
        };
        let state = AppState { inner };
        for message in received.drain(..) {
            match message {
                Message::Seen(seen) => {
                    if let Some(hit) = to_hit(&state, &mut agents, *seen).await
                        && !state.inner.stats.queue.put(hit).await
                    {
                        tracing::warn!("The hit queue has stopped; a hit was not counted.");
                    }
                }
                Message::Flush(done) => {
                    let _ = done.send(());
                }
            }
        }
        drop(state);
        if !full {
            tokio::time::sleep(GATHER).await;
        }
    }
}

/// User agents read lately, each with what it says.
#[derive(Default)]
struct Agents(HashMap<String, Agent>);

impl Agents {
    fn read(&mut self, state: &AppState, agent: Option<&str>) -> Agent {
        let agent = agent.unwrap_or("");
        if let Some(known) = self.0.get(agent) {
            return known.clone();
        }
        let read = state.inner.stats.agents().read(agent);
        if self.0.len() >= AGENTS_REMEMBERED {
            self.0.clear();
        }
        self.0.insert(agent.to_owned(), read.clone());
        read
    }
}

/// The hit a sighting makes, or `None` for a bot, a crawler or staff.
async fn to_hit(state: &AppState, agents: &mut Agents, seen: Sighting) -> Option<Hit> {
    let agent = agents.read(state, seen.agent.as_deref());
    if agent.bot {
        return None;
    }
    if let Some(session) = &seen.session {
        let name = state.inner.stats.session_cookie();
        let mut cookies = HeaderMap::new();
        if let Ok(v) = HeaderValue::from_str(&format!("{name}={session}")) {
            cookies.insert(header::COOKIE, v);
        }
        match auth::look_up(&cookies, state).await {
            Ok(v) if v.role().is_none() => {}
            Ok(_) => return None,
            Err(e) => {
                tracing::warn!(error = %e, "Could not tell whether a page was a member of staff's; not counted.");
                return None;
            }
        }
    }
    let stats = &state.inner.stats;
    let salt = match stats
        .salt
        .get(state.stores().stats_ingest.as_ref(), uk_day(seen.at))
        .await
    {
        Ok(salt) => salt,
        Err(e) => {
            tracing::warn!(error = %e, "Could not read the day's statistics salt; a hit was not counted.");
            return None;
        }
    };
    let (path, query) = seen
        .target
        .split_once('?')
        .map_or((seen.target.as_str(), None), |(p, q)| (p, Some(q)));
    let tags = CampaignTags::of_query(query);
    let config = state.config();
    let mut own: Vec<&str> = Vec::with_capacity(2);
    if let Some(host) = seen.host.as_deref() {
        own.push(host.split(':').next().unwrap_or(host));
    }
    let public = config
        .public_url
        .as_ref()
        .and_then(|u| u.origin().split("://").nth(1))
        .map(|h| h.split(':').next().unwrap_or(h));
    own.extend(public);
    let user_agent = seen.agent.as_deref().unwrap_or("");
    let client = limits::client_key_of(seen.ip);
    Some(Hit {
        at: seen.at,
        kind: seen.kind,
        path: clip(path),
        visitor: day_hash(&state.inner.signer, &salt, &client, user_agent),
        referrer: referrer_host(seen.referer.as_deref(), &own),
        utm_source: tags.source,
        utm_medium: tags.medium,
        utm_campaign: tags.campaign,
        browser: agent.browser,
        os: agent.os,
        device: agent.device,
        country: stats.geo.as_ref().and_then(|g| g.country(seen.ip)),
    })
}
