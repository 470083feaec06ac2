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

/// The longest path, and the longest query, a sighting keeps, in bytes. A hit keeps a few
/// hundred characters of the path and only the campaign tags of the query, so nothing
/// counted is lost; the bound keeps each waiting sighting small whatever a request carries.
const MAX_PART: usize = 1024;
/// The longest user agent a sighting keeps, in bytes (browsers send 100 to 300).
const MAX_AGENT: usize = 512;
/// The longest host, or referrer origin, a sighting keeps, in bytes.
const MAX_HOST: usize = 300;

/// `s` cut to at most `max` bytes, at a character boundary.
fn cut(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// The part of a referrer counting reads: its scheme and host (`https://search.example`);
/// the path and query are never kept.
fn referrer_origin(referer: &str) -> &str {
    let Some(scheme_end) = referer.find("://") else {
        return "";
    };
    let rest = &referer[scheme_end + 3..];
    let authority = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    cut(&referer[..scheme_end + 3 + authority], MAX_HOST)
}

impl Sighting {
    /// What counting needs of a request, copied into memory of its own (never a view of the
    /// connection's buffer, which a waiting sighting would otherwise keep alive) and cut to
    /// a bounded size.
    pub(crate) fn new(
        state: &AppState,
        headers: &HeaderMap,
        peer: SocketAddr,
        page: Page<'_>,
        kind: HitKind,
    ) -> Sighting {
        let path = cut(page.path, MAX_PART);
        let target = match page.query {
            Some(q) => {
                let q = cut(q, MAX_PART);
                let mut t = String::with_capacity(path.len() + 1 + q.len());
                t.push_str(path);
                t.push('?');
                t.push_str(q);
                t
            }
            None => path.to_owned(),
        };
        let counter = &state.inner.stats;
        Sighting {
            at: state.now(),
            kind,
            target,
            referer: page
                .referer
                .map(referrer_origin)
                .filter(|r| !r.is_empty())
                .map(str::to_owned),
            host: page.host.map(|h| cut(h, MAX_HOST).to_owned()),
            agent: header_str(headers, "user-agent").map(|a| cut(a, MAX_AGENT).to_owned()),
            ip: limits::client_ip(state, peer, headers),
            session: counter
                .session_cookie_in(headers)
                .map(|v| cut(v, MAX_HOST).to_owned()),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_cut_at_a_character_boundary() {
        assert_eq!(cut("abc", 5), "abc");
        assert_eq!(cut("abcdef", 3), "abc");
        // "é" is two bytes: a cut in its middle stops before it.
        assert_eq!(cut("aé", 2), "a");
        assert_eq!(cut(&"x".repeat(5000), MAX_PART).len(), MAX_PART);
    }

    #[test]
    fn a_referrer_keeps_only_its_scheme_and_host() {
        assert_eq!(
            referrer_origin("https://search.example/q?term=secret#top"),
            "https://search.example"
        );
        assert_eq!(
            referrer_origin("https://search.example:8443?q=1"),
            "https://search.example:8443"
        );
        assert_eq!(
            referrer_origin("https://search.example"),
            "https://search.example"
        );
        assert_eq!(referrer_origin("not a referrer"), "");
        let long = format!("https://{}.example/", "a".repeat(1000));
        assert_eq!(referrer_origin(&long).len(), MAX_HOST);
    }
}
