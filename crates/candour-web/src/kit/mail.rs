//! Emails sent on a visitor's behalf: in the background, signed with the organisation's name.

use candour_mail::Email;

use crate::AppState;

/// Send an email without making the visitor wait for the relay (so the answer takes the same
/// time whether or not a message was sent). Failures are logged without the address.
pub(crate) fn send_later(state: &AppState, email: Email) {
    let state = state.clone();
    tokio::spawn(async move {
        if let Err(e) = state.inner.mailer.send(&email).await {
            tracing::error!(error = %e, "Could not send an account email.");
        }
    });
}

/// The organisation's name, as emails and pages give it.
pub(crate) fn org(state: &AppState) -> &str {
    &state.inner.config.organisation.name
}
