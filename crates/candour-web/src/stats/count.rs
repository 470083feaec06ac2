//! Counting the pages Candour serves, as each answer goes out. The layer decides from the
//! request alone whether it may count (`stats::request::skip`: the method, the route, a
//! prefetch, an objection) and, once the handler has answered, counts only a successful
//! HTML page. On the response's path it only copies a few header values into a
//! `worker::Sighting` and hands it over without waiting; everything slower (the user agent,
//! staff or not, the day hash, the country) happens on the counting worker's thread, so no
//! page waits for counting. Goals recorded on the server side (a poll vote, a form sent, a
//! share link followed) go the same way through [`count_event`].

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, header};
use axum::middleware::Next;
use axum::response::Response;
use candour_core::cookies::{STATS_OBJECTION_COOKIE, read_cookie};
use candour_core::stats::request::{Asked, skip};
use candour_core::stats::{HitKind, clip};

use super::worker::Sighting;
use crate::AppState;
use crate::kit::{frame, limits};

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

impl Sighting {
    /// What counting needs of a request, copied.
    pub(crate) fn new(
        state: &AppState,
        headers: &HeaderMap,
        peer: SocketAddr,
        page: Page<'_>,
        kind: HitKind,
    ) -> Sighting {
        let target = match page.query {
            Some(q) => format!("{}?{q}", page.path),
            None => page.path.to_owned(),
        };
        Sighting {
            at: state.now(),
            kind,
            target,
            referer: page.referer.map(str::to_owned),
            host: page.host.map(str::to_owned),
            agent: headers.get(header::USER_AGENT).cloned(),
            ip: limits::client_ip(state, peer, headers),
            cookies: Sighting::cookies_of(headers),
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

fn may_count(state: &AppState, req: &Request) -> Option<Sighting> {
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
    Some(Sighting::new(state, headers, peer, page, HitKind::PageView))
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
    let seen = Sighting::new(state, headers, peer, page, HitKind::Event(clip(name)));
    count_later(state, seen);
}

/// Hand a sighting to the counting worker; `false` when it had no room (the hit is dropped
/// and counted as dropped).
pub(crate) fn count_later(state: &AppState, seen: Sighting) -> bool {
    state.inner.stats.offer(seen)
}
