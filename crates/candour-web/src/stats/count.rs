//! Counting the pages Candour serves, as each answer goes out. The layer decides from the
//! request alone whether it may count (`stats::request::skip`: the method, the route, a
//! prefetch, an objection) and, once the handler has answered, counts only a successful
//! HTML page. Everything slower (the user agent, staff or not, the day hash, the country)
//! happens in a task of its own after the answer has left, so no page waits for counting.
//! Goals recorded on the server side (a poll vote, a form sent, a share link followed) go
//! the same way through [`count_event`].

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, header};
use axum::middleware::Next;
use axum::response::Response;
use candour_core::cookies::{STATS_OBJECTION_COOKIE, read_cookie};
use candour_core::stats::request::{Asked, CampaignTags, referrer_host, skip};
use candour_core::stats::{Hit, HitKind, clip, uk_day};
use time::OffsetDateTime;

use super::visitor::day_hash;
use crate::AppState;
use crate::kit::{auth, frame, limits};

/// What a counted request left behind for its counting task. The address is here only until
/// the task has hashed it.
pub(crate) struct Seen {
    at: OffsetDateTime,
    kind: HitKind,
    path: String,
    tags: CampaignTags,
    referrer: Option<String>,
    agent: String,
    ip: IpAddr,
    client: String,
    /// The request's cookies, when it carries a sign-in session (staff are not counted).
    session: Option<HeaderMap>,
}

fn header_str<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// Whether the visitor objects: the objection cookie, `Sec-GPC: 1` or `DNT: 1`.
pub(crate) fn objects(headers: &HeaderMap) -> (bool, bool) {
    let cookie = headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|h| h.to_str().ok())
        .any(|h| read_cookie(h, STATS_OBJECTION_COOKIE).is_some());
    let browser = frame::sends_gpc(headers)
        || headers
            .get("dnt")
            .is_some_and(|v| v.as_bytes().trim_ascii() == b"1");
    (cookie, browser)
}

/// The page a hit is about, and where its visitor came from.
pub(crate) struct Page<'a> {
    pub path: &'a str,
    pub query: Option<&'a str>,
    /// The address of the page that linked to it.
    pub referer: Option<&'a str>,
    /// The host the page was served from (a referrer from it is a move within the site).
    pub host: Option<&'a str>,
}

impl Seen {
    pub(crate) fn new(
        state: &AppState,
        headers: &HeaderMap,
        peer: SocketAddr,
        page: Page<'_>,
        kind: HitKind,
    ) -> Seen {
        let config = state.config();
        let mut own: Vec<&str> = Vec::with_capacity(2);
        if let Some(host) = page.host {
            own.push(host.split(':').next().unwrap_or(host));
        }
        let public = config
            .public_url
            .as_ref()
            .and_then(|u| u.origin().split("://").nth(1))
            .map(|h| h.split(':').next().unwrap_or(h));
        own.extend(public);
        let cookie_name = config.accounts.cookie_name();
        let signed_in = headers
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|h| h.to_str().ok())
            .any(|h| read_cookie(h, &cookie_name).is_some());
        Seen {
            at: state.now(),
            kind,
            path: clip(page.path),
            tags: CampaignTags::of_query(page.query),
            referrer: referrer_host(page.referer, &own),
            agent: header_str(headers, "user-agent").unwrap_or("").to_owned(),
            ip: limits::client_ip(state, peer, headers),
            client: limits::client_key(state, peer, headers),
            session: signed_in.then(|| {
                let mut only = HeaderMap::new();
                for v in headers.get_all(header::COOKIE) {
                    only.append(header::COOKIE, v.clone());
                }
                only
            }),
        }
    }
}

/// The layer: count the page once it has answered, if it may be counted.
pub(crate) async fn count_pages(
    State(state): State<AppState>,
    req: Request,
    next: Next,
) -> Response {
    let seen = may_count(&state, &req);
    let res = next.run(req).await;
    if let Some(seen) = seen
        && res.status().is_success()
        && res
            .headers()
            .get(header::CONTENT_TYPE)
            .is_some_and(|t| t.as_bytes().starts_with(b"text/html"))
    {
        count_later(&state, seen);
    }
    res
}

fn may_count(state: &AppState, req: &Request) -> Option<Seen> {
    if !state.config().stats.enabled {
        return None;
    }
    let headers = req.headers();
    let (objected, browser_objects) = objects(headers);
    let asked = Asked {
        method: req.method().as_str(),
        path: req.uri().path(),
        sec_purpose: header_str(headers, "sec-purpose"),
        purpose: header_str(headers, "purpose"),
        x_moz: header_str(headers, "x-moz"),
        browser_objects,
        objected,
    };
    if skip(&asked).is_some() {
        return None;
    }
    let ConnectInfo(peer) = *req.extensions().get::<ConnectInfo<SocketAddr>>()?;
    let page = Page {
        path: req.uri().path(),
        query: req.uri().query(),
        referer: header_str(headers, "referer"),
        host: header_str(headers, "host"),
    };
    Some(Seen::new(state, headers, peer, page, HitKind::PageView))
}

/// Record a goal reached on `path` (a poll vote, a form sent), unless the visitor objects.
pub(crate) fn count_event(
    state: &AppState,
    headers: &HeaderMap,
    peer: SocketAddr,
    path: &str,
    name: &str,
) {
    let (objected, browser_objects) = objects(headers);
    if !state.config().stats.enabled || objected || browser_objects {
        return;
    }
    let page = Page {
        path,
        query: None,
        referer: header_str(headers, "referer"),
        host: header_str(headers, "host"),
    };
    let seen = Seen::new(state, headers, peer, page, HitKind::Event(clip(name)));
    count_later(state, seen);
}

fn count_later(state: &AppState, seen: Seen) {
    let busy = state.inner.stats.busy();
    let state = state.clone();
    tokio::spawn(async move {
        let _busy = busy;
        if let Some(hit) = to_hit(&state, seen).await {
            state.inner.stats.queue.offer(hit);
        }
    });
}

/// The hit a request makes, or `None` for a bot, a crawler or staff.
pub(crate) async fn to_hit(state: &AppState, seen: Seen) -> Option<Hit> {
    let stats = &state.inner.stats;
    let agent = stats.agents().read(&seen.agent);
    if agent.bot {
        return None;
    }
    if let Some(cookies) = &seen.session {
        match auth::look_up(cookies, state).await {
            Ok(v) if v.role().is_none() => {}
            Ok(_) => return None,
            Err(e) => {
                tracing::warn!(error = %e, "Could not tell whether a page was a member of staff's; not counted.");
                return None;
            }
        }
    }
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
    Some(Hit {
        at: seen.at,
        kind: seen.kind,
        path: seen.path,
        visitor: day_hash(&state.inner.signer, &salt, &seen.client, &seen.agent),
        referrer: seen.referrer,
        utm_source: seen.tags.source,
        utm_medium: seen.tags.medium,
        utm_campaign: seen.tags.campaign,
        browser: agent.browser,
        os: agent.os,
        device: agent.device,
        country: stats.geo.as_ref().and_then(|g| g.country(seen.ip)),
    })
}
