//! The one place a `Set-Cookie` header is made, from the registry's typed API. Handlers call
//! [`set`]; no other module names the header (a test checks), and the edge filter drops any
//! cookie the registry does not declare.

use axum::http::{HeaderName, HeaderValue, header};
use candour_core::cookies::CookieId;

use crate::AppState;
use crate::kit::error::AppError;

/// A response part that sets the declared cookie `id` to `value`.
pub(crate) fn set(
    state: &AppState,
    id: CookieId,
    value: &str,
) -> Result<[(HeaderName, HeaderValue); 1], AppError> {
    let cookie = state
        .inner
        .cookies
        .set(id, value)
        .map_err(|e| AppError::Internal(Box::new(e)))?;
    let value = HeaderValue::from_str(&cookie.header_value())
        .map_err(|e| AppError::Internal(Box::new(e)))?;
    Ok([(header::SET_COOKIE, value)])
}

/// A response part that removes the declared cookie `id` from the browser.
pub(crate) fn clear(
    state: &AppState,
    id: CookieId,
) -> Result<[(HeaderName, HeaderValue); 1], AppError> {
    let cookie = state
        .inner
        .cookies
        .clear(id)
        .map_err(|e| AppError::Internal(Box::new(e)))?;
    let value = HeaderValue::from_str(&cookie.header_value())
        .map_err(|e| AppError::Internal(Box::new(e)))?;
    Ok([(header::SET_COOKIE, value)])
}

/// A response part that sets one cookie of a declared family, such as `PollTimeout-{poll_id}`.
pub(crate) fn set_member(
    state: &AppState,
    id: CookieId,
    key: i64,
    value: &str,
) -> Result<[(HeaderName, HeaderValue); 1], AppError> {
    let cookie = state
        .inner
        .cookies
        .set_member(id, key, value)
        .map_err(|e| AppError::Internal(Box::new(e)))?;
    let value = HeaderValue::from_str(&cookie.header_value())
        .map_err(|e| AppError::Internal(Box::new(e)))?;
    Ok([(header::SET_COOKIE, value)])
}
