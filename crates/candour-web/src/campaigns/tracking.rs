//! The open pixel and click redirect of campaign emails.
//!
//! Tracking links carry a signed token (message, link, when it was sent), so they are checked
//! without a database read; the event is handed to a group-commit writer and the answer goes
//! out at once. A click redirects only to the link of that index in the campaign's own list
//! of links; nothing in the request chooses where it goes, and a bad token gets the same
//! plain "not found" page whatever it held.

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use candour_core::campaign::TrackingEvent;
use candour_core::campaign::{ClickRequest, TokenKind, is_bot_click, is_machine_open};

use crate::AppState;

/// The open pixel and click redirect. They are served outside the page middleware (sessions,
/// cookies, HTML error pages, the request timeout): they read no cookie, set none, never wait
/// on anything slow, and set the few headers they need themselves.
pub(crate) fn tracking_routes() -> Router<AppState> {
    Router::new()
        .route("/t/o/{token}", get(open))
        .route("/t/c/{token}", get(click))
}

/// Headers every tracking answer carries. `no-referrer` keeps the signed token out of the
/// `Referer` the destination of a click would otherwise receive.
fn plain_headers(res: &mut Response) {
    let h = res.headers_mut();
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("no-store, private"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
}

/// A transparent 1×1 GIF.
pub(crate) const PIXEL: [u8; 43] = [
    0x47, 0x49, 0x46, 0x38, 0x39, 0x61, 0x01, 0x00, 0x01, 0x00, 0x80, 0x00, 0x00, 0x00, 0x00, 0x00,
    0xff, 0xff, 0xff, 0x21, 0xf9, 0x04, 0x01, 0x00, 0x00, 0x00, 0x00, 0x2c, 0x00, 0x00, 0x00, 0x00,
    0x01, 0x00, 0x01, 0x00, 0x00, 0x02, 0x02, 0x44, 0x01, 0x00, 0x3b,
];

fn user_agent(headers: &HeaderMap) -> &str {
    headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
}

fn not_found() -> Response {
    let mut res = (StatusCode::NOT_FOUND, "This link is not valid.").into_response();
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    plain_headers(&mut res);
    res
}

async fn open(
    State(state): State<AppState>,
    Path(token): Path<String>,
    headers: HeaderMap,
) -> Response {
    let token = token.strip_suffix(".gif").unwrap_or(&token);
    if let Some(t) = super::read_token(&state, TokenKind::Open, token) {
        let now = state.now();
        let after = now.unix_timestamp() - t.issued;
        let recorded = state
            .inner
            .tracking
            .submit(TrackingEvent {
                delivery: t.delivery,
                campaign: t.campaign,
                click: false,
                link: 0,
                at: now,
                machine: is_machine_open(user_agent(&headers), after),
            })
            .await;
        // A 200 says the open is recorded; nobody sees a pixel that failed to load.
        if !recorded {
            let mut res = StatusCode::SERVICE_UNAVAILABLE.into_response();
            plain_headers(&mut res);
            return res;
        }
    }
    // The image is the same whether or not the token was good: nothing to learn from it.
    let mut res = ([(header::CONTENT_TYPE, "image/gif")], PIXEL).into_response();
    plain_headers(&mut res);
    res
}

async fn click(
    State(state): State<AppState>,
    Path(token): Path<String>,
    method: axum::http::Method,
    headers: HeaderMap,
) -> Response {
    let Some(t) = super::read_token(&state, TokenKind::Click, &token) else {
        return not_found();
    };
    let store = state.stores().campaigns.as_ref();
    let location = match state.inner.link_cache.link(store, t.campaign, t.link).await {
        Ok(Some(location)) => location,
        Ok(None) => return not_found(),
        Err(e) => {
            tracing::error!(error = %e, "Could not read a campaign's links for a click.");
            let mut res = (
                StatusCode::SERVICE_UNAVAILABLE,
                "This link cannot be followed just now. Please try again in a minute.",
            )
                .into_response();
            plain_headers(&mut res);
            return res;
        }
    };
    let now = state.now();
    let after = now.unix_timestamp() - t.issued;
    // The redirect waits until the click is written, and is given even when it could not be:
    // the person came for the link.
    state
        .inner
        .tracking
        .submit(TrackingEvent {
            delivery: t.delivery,
            campaign: t.campaign,
            click: true,
            link: t.link,
            at: now,
            machine: is_bot_click(&ClickRequest {
                user_agent: user_agent(&headers),
                seconds_after_send: after,
                inspection: method == axum::http::Method::HEAD || is_prefetch(&headers),
                user_activated: headers
                    .get("sec-fetch-user")
                    .is_some_and(|v| v.as_bytes() == b"?1"),
            }),
        })
        .await;
    let mut res = StatusCode::FOUND.into_response();
    res.headers_mut().insert(header::LOCATION, location);
    plain_headers(&mut res);
    res
}

/// Whether the browser fetched this ahead of a person's click (`Sec-Purpose: prefetch`, or
/// the older `Purpose: prefetch`).
fn is_prefetch(headers: &HeaderMap) -> bool {
    ["sec-purpose", "purpose"].iter().any(|name| {
        headers
            .get(*name)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.to_ascii_lowercase().contains("prefetch"))
    })
}
