//! The `PollTimeout-<id>` cookie: a signed expiry that says this browser voted in a poll.

use axum::http::{HeaderMap, header};
use candour_core::cookies::read_cookie;
use candour_core::signer::Purpose;
use time::OffsetDateTime;

use crate::AppState;

pub(super) fn cookie_name(id: i64) -> String {
    format!("PollTimeout-{id}")
}

/// The poll's id, signed for poll cookies and valid until `expires`: says this browser voted
/// in poll `id` until then.
pub(super) fn voted_token(state: &AppState, id: i64, expires: OffsetDateTime) -> String {
    state
        .inner
        .signer
        .sign(Purpose::PollCookie, &id.to_string(), Some(expires))
}

/// Whether the browser holds a valid, unexpired cookie for poll `id`. A forged, tampered or
/// expired one, or one for another poll, is ignored.
pub(super) fn cookie_says_voted(state: &AppState, headers: &HeaderMap, id: i64) -> bool {
    let name = cookie_name(id);
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|h| h.to_str().ok())
        .find_map(|h| read_cookie(h, &name))
        .and_then(|value| {
            state
                .inner
                .signer
                .verify(Purpose::PollCookie, value, state.now())
                .ok()
                .map(|poll| poll == id.to_string())
        })
        .unwrap_or(false)
}
