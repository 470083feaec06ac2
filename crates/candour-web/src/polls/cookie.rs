//! The `PollTimeout-<id>` cookie: a signed expiry that says this browser voted in a poll.

use axum::http::{HeaderMap, header};
use candour_core::cookies::read_cookie;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::AppState;

pub(super) fn cookie_name(id: i64) -> String {
    format!("PollTimeout-{id}")
}

/// `<expiry>.<mac>`: says this browser voted in poll `id` until `expiry`.
pub(super) fn voted_token(state: &AppState, id: i64, expires: i64) -> String {
    let mac = Hmac::<Sha256>::new_from_slice(&state.inner.keys.polls).map(|mut m| {
        m.update(&id.to_be_bytes());
        m.update(&expires.to_be_bytes());
        hex::encode(&m.finalize().into_bytes()[..16])
    });
    format!("{expires}.{}", mac.unwrap_or_default())
}

/// Whether the browser holds a valid, unexpired cookie for poll `id`. A forged or tampered
/// one is ignored.
pub(super) fn cookie_says_voted(state: &AppState, headers: &HeaderMap, id: i64) -> bool {
    let name = cookie_name(id);
    let Some(value) = headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|h| h.to_str().ok())
        .find_map(|h| read_cookie(h, &name))
    else {
        return false;
    };
    let Some(expires) = value.split('.').next().and_then(|e| e.parse::<i64>().ok()) else {
        return false;
    };
    crate::kit::csrf::same(voted_token(state, id, expires).as_bytes(), value.as_bytes())
        && expires > state.now().unix_timestamp()
}
