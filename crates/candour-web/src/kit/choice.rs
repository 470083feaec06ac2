//! Recording a visitor's cookie choice: the receipt first, then the consent cookie that
//! carries it. The banner, the settings page and "Always load" on embedded media all use it.

use axum::http::{HeaderMap, HeaderName, HeaderValue};
use candour_core::consent::{self, Choice, Method, Receipt, ReceiptId};
use candour_core::cookies::CookieId;

use crate::AppState;
use crate::kit::cookie_jar;
use crate::kit::error::AppError;
use crate::kit::frame::sends_gpc;

/// Store the receipt, then build the cookie that remembers it.
pub(crate) async fn record(
    state: &AppState,
    headers: &HeaderMap,
    choice: Choice,
    method: Method,
) -> Result<(Receipt, [(HeaderName, HeaderValue); 1]), AppError> {
    let receipt = Receipt {
        id: ReceiptId::from_random(rand::random()),
        recorded_at: state.now(),
        policy_version: state.inner.cookies.policy_version().as_str().to_owned(),
        mode: state.inner.config.cookies.consent_mode,
        method,
        gpc: sends_gpc(headers),
        choice,
    };
    state.stores().consent.record_receipt(&receipt).await?;
    let token = consent::Token {
        receipt: receipt.id.clone(),
        policy_version: receipt.policy_version.clone(),
        choice,
    }
    .encode(&state.inner.signer);
    let cookie = cookie_jar::set(state, CookieId::Consent, &token)?;
    Ok((receipt, cookie))
}

/// Only a path on this site: anything else (another host, `//host`, `/\host`, control
/// characters) goes home instead, so the form cannot be used as an open redirect.
pub(crate) fn safe_return(target: &str) -> &str {
    let ok = target.starts_with('/')
        && !target.starts_with("//")
        && !target.starts_with("/\\")
        && target.len() <= 2048
        && !target.chars().any(|c| c.is_control() || c == '\\');
    if ok { target } else { "/" }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn return_addresses_stay_on_this_site() {
        assert_eq!(safe_return("/news?page=2"), "/news?page=2");
        for bad in [
            "",
            "https://evil.example/",
            "//evil.example",
            "/\\evil.example",
            "/a\r\nLocation: x",
            "javascript:alert(1)",
            "evil",
        ] {
            assert_eq!(safe_return(bad), "/", "{bad:?}");
        }
    }
}
