//! Pages the organisation serves elsewhere (its CMS on another host): a script under 1 KiB
//! (`/statistics/s.js`) that sends one beacon per page view, outbound link click, file
//! download and named event (`candourEvent("name")`), with `navigator.sendBeacon`: no
//! cookies, nothing stored in the browser. The beacon goes to `/statistics/hit`; without
//! JavaScript, an image (`/statistics/hit.gif?p=…`) counts the page view.
//!
//! Only the origins in `[stats] sites` may send hits: anything else is refused and nothing
//! is stored. A body is parsed strictly (at most 2 KiB of UTF-8 JSON with exactly the known
//! fields); anything else is a 4xx that names the problem. An accepted hit is queued for
//! the group commit without waiting (a full queue is a 503: the hit was not accepted).
//! These routes are served outside the page middleware, like campaign tracking.

use std::borrow::Cow;
use std::net::SocketAddr;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use candour_core::fields::FieldErrors;
use candour_core::stats::HitKind;
use serde::Deserialize;

use super::count::{Page, count_later, objects};
use super::worker::Sighting;
use crate::AppState;
use crate::campaigns::tracking::PIXEL;

/// The script, as sent.
const SCRIPT: &str = include_str!("s.js");
/// The largest beacon body read.
const MAX_BODY: usize = 2048;
/// The longest page address or referrer accepted, in bytes.
const MAX_ADDRESS: usize = 1024;
/// The longest event name accepted, in characters.
const MAX_EVENT: usize = 100;

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/statistics/s.js", get(script))
        .route("/statistics/hit", post(beacon))
        .route("/statistics/hit.gif", get(image))
}

async fn script(State(state): State<AppState>) -> Response {
    if !state.config().stats.enabled {
        return StatusCode::NOT_FOUND.into_response();
    }
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            // Loaded by the organisation's other sites.
            (
                header::HeaderName::from_static("cross-origin-resource-policy"),
                "cross-origin",
            ),
        ],
        SCRIPT,
    )
        .into_response()
}

/// A beacon as the script sends it. Its strings borrow from the body when they hold no
/// escapes, as the script's do.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Beacon<'a> {
    /// The page's path and query.
    #[serde(borrow)]
    p: Cow<'a, str>,
    /// `document.referrer`.
    #[serde(default, borrow)]
    r: Option<Cow<'a, str>>,
    /// An event's name; none for a page view.
    #[serde(default, borrow)]
    e: Option<Cow<'a, str>>,
}

fn refused(status: StatusCode, errors: FieldErrors) -> Response {
    let body = serde_json::json!({ "errors": errors });
    (
        status,
        [(header::CACHE_CONTROL, "no-store")],
        axum::Json(body),
    )
        .into_response()
}

fn one_error(status: StatusCode, field: &str, problem: &str) -> Response {
    let mut errors = FieldErrors::new();
    errors.add(field, problem.to_owned());
    refused(status, errors)
}

impl Beacon<'_> {
    fn check(&self) -> FieldErrors {
        let mut errors = FieldErrors::new();
        if !self.p.starts_with('/') || self.p.starts_with("//") || self.p.len() > MAX_ADDRESS {
            errors.add(
                "p",
                format!("must be the page's path (and query), starting with one /, at most {MAX_ADDRESS} bytes"),
            );
        }
        if self.r.as_ref().is_some_and(|r| r.len() > MAX_ADDRESS) {
            errors.add("r", format!("must be at most {MAX_ADDRESS} bytes"));
        }
        if let Some(e) = &self.e
            && (e.trim().is_empty() || e.chars().count() > MAX_EVENT)
        {
            errors.add(
                "e",
                format!("must be an event name of 1 to {MAX_EVENT} characters"),
            );
        }
        errors
    }
}

/// The origin a request comes from, when `[stats] sites` allows it.
fn allowed_origin<'h>(state: &AppState, headers: &'h HeaderMap) -> Option<&'h str> {
    let origin = headers.get(header::ORIGIN)?.to_str().ok()?;
    state.config().stats.allows_origin(origin).then_some(origin)
}

/// The beacon. It reads the request's own headers rather than a copy of them: this is the
/// hottest route there is.
async fn beacon(State(state): State<AppState>, request: Request) -> Response {
    if !state.config().stats.enabled {
        return StatusCode::NOT_FOUND.into_response();
    }
    let (parts, body) = request.into_parts();
    let headers = &parts.headers;
    let Some(ConnectInfo(peer)) = parts.extensions.get::<ConnectInfo<SocketAddr>>().copied() else {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    };
    let Some(origin) = allowed_origin(&state, headers) else {
        return one_error(
            StatusCode::FORBIDDEN,
            "origin",
            "is not one of the sites in [stats] sites; hits are taken only from those",
        );
    };
    let cors = [
        (
            header::ACCESS_CONTROL_ALLOW_ORIGIN,
            HeaderValue::from_str(origin).ok(),
        ),
        // The script's beacon is sent with credentials, so that the objection cookie set on
        // this host reaches it from the organisation's sites on the same site (see
        // `count_beacon`): a credentialed answer names the origin exactly and says so.
        (
            header::ACCESS_CONTROL_ALLOW_CREDENTIALS,
            Some(HeaderValue::from_static("true")),
        ),
        (header::VARY, Some(HeaderValue::from_static("Origin"))),
    ];
    let bytes: Bytes = match axum::body::to_bytes(body, MAX_BODY).await {
        Ok(b) => b,
        Err(_) => {
            return one_error(
                StatusCode::PAYLOAD_TOO_LARGE,
                "body",
                &format!("is larger than {MAX_BODY} bytes"),
            );
        }
    };
    let Ok(text) = std::str::from_utf8(&bytes) else {
        return one_error(StatusCode::BAD_REQUEST, "body", "is not UTF-8 text");
    };
    let beacon: Beacon = match serde_json::from_str(text) {
        Ok(b) => b,
        Err(e) => {
            return one_error(
                StatusCode::BAD_REQUEST,
                "body",
                &format!(
                    "is not a beacon ({e}); send JSON with `p` (the path), and optionally `r` \
                     (the referrer) and `e` (an event name), all strings"
                ),
            );
        }
    };
    let errors = beacon.check();
    if !errors.is_empty() {
        return refused(StatusCode::UNPROCESSABLE_ENTITY, errors);
    }
    let mut res = count_beacon(&state, headers, peer, &beacon, origin);
    for (name, value) in cors {
        if let Some(v) = value {
            res.headers_mut().insert(name, v);
        }
    }
    res
}

/// Count a checked beacon: 204 when accepted (or left out: an objection; a bot is left out
/// later, by the counting worker), 503 when the worker had no room.
///
/// An objection counts whichever way it comes: `Sec-GPC` or `DNT`, or the objection cookie.
/// The cookie belongs to this host (`SameSite=Lax`), so a browser sends it with the beacon
/// only from a page on the same site (the same registrable domain and scheme, as
/// `www.example.police.uk` is to `candour.example.police.uk`); from another site a browser
/// sends no cookie to this host, and the objection page says so.
fn count_beacon(
    state: &AppState,
    headers: &HeaderMap,
    peer: SocketAddr,
    beacon: &Beacon,
    origin: &str,
) -> Response {
    let (objected, browser_objects) = objects(headers);
    if objected || browser_objects {
        return StatusCode::NO_CONTENT.into_response();
    }
    let (path, query) = beacon
        .p
        .split_once('?')
        .map_or((&*beacon.p, None), |(p, q)| (p, Some(q)));
    let path = path.split('#').next().unwrap_or(path);
    let query = query.map(|q| q.split('#').next().unwrap_or(q));
    let host = origin.split("://").nth(1);
    let page = Page {
        path,
        query,
        referer: beacon.r.as_deref().filter(|r| !r.is_empty()),
        host,
    };
    let kind = beacon
        .e
        .as_deref()
        .map_or(HitKind::PageView, |e| HitKind::Event(e.trim().to_owned()));
    if count_later(state, Sighting::new(state, headers, peer, page, kind)) {
        StatusCode::NO_CONTENT.into_response()
    } else {
        StatusCode::SERVICE_UNAVAILABLE.into_response()
    }
}

#[derive(Debug, Deserialize)]
struct ImageQuery {
    p: Option<String>,
}

/// The no-JavaScript fallback: `<noscript><img src="…/statistics/hit.gif?p=/path" alt=""></noscript>`.
/// The page's origin is read from `Referer`, which a browser sends with the image (only
/// from a configured site is the view counted); the answer is always the 1×1 image.
async fn image(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    query: Result<Query<ImageQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let gif = |status: StatusCode| {
        (
            status,
            [
                (header::CONTENT_TYPE, "image/gif"),
                (header::CACHE_CONTROL, "no-store"),
                (
                    header::HeaderName::from_static("cross-origin-resource-policy"),
                    "cross-origin",
                ),
            ],
            PIXEL.as_slice(),
        )
            .into_response()
    };
    if !state.config().stats.enabled {
        return StatusCode::NOT_FOUND.into_response();
    }
    let referer = headers
        .get(header::REFERER)
        .and_then(|v| v.to_str().ok())
        .and_then(|r| url::Url::parse(r).ok());
    let origin = referer.as_ref().map(|u| u.origin().ascii_serialization());
    let allowed = origin
        .as_deref()
        .is_some_and(|o| state.config().stats.allows_origin(o));
    if !allowed {
        return gif(StatusCode::FORBIDDEN);
    }
    let Ok(Query(q)) = query else {
        return gif(StatusCode::BAD_REQUEST);
    };
    let p =
        q.p.or_else(|| referer.as_ref().map(|u| u.path().to_owned()))
            .unwrap_or_default();
    let beacon = Beacon {
        p: Cow::Owned(p),
        r: None,
        e: None,
    };
    if !beacon.check().is_empty() {
        return gif(StatusCode::UNPROCESSABLE_ENTITY);
    }
    let counted = count_beacon(
        &state,
        &headers,
        peer,
        &beacon,
        origin.as_deref().unwrap_or(""),
    )
    .status();
    gif(if counted == StatusCode::NO_CONTENT {
        StatusCode::OK
    } else {
        counted
    })
}
