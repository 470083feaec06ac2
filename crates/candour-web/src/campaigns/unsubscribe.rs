//! One-click unsubscribe (RFC 8058) from campaign emails, and the page its link opens.

use askama::Template;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use candour_core::campaign::TokenKind;
use candour_core::people::ConsentChange;
use candour_core::people::{Method, NewConsent};
use candour_core::purposes::Channel;

use crate::AppState;
use crate::kit::error::AppError;
use crate::kit::frame::{Frame, render};
use crate::kit::respond::no_store;

pub(crate) fn routes() -> Router<AppState> {
    Router::new().route(
        "/unsubscribe/{token}",
        get(unsubscribe_page).post(unsubscribe),
    )
}

#[derive(Template)]
#[template(path = "unsubscribe.html")]
struct UnsubscribePage {
    frame: Frame,
    token: String,
    /// Whether this request did it (or it was already done).
    done: bool,
    valid: bool,
}

/// The page an unsubscribe link opens: a button, never an action, because mail scanners
/// open links.
async fn unsubscribe_page(
    State(state): State<AppState>,
    frame: Frame,
    Path(token): Path<String>,
) -> Result<Response, AppError> {
    let valid = super::read_token(&state, TokenKind::Unsubscribe, &token).is_some();
    let page = UnsubscribePage {
        frame,
        token: if valid { token } else { String::new() },
        done: false,
        valid,
    };
    let status = if valid {
        StatusCode::OK
    } else {
        StatusCode::NOT_FOUND
    };
    Ok((status, no_store(render(&page)?)).into_response())
}

/// RFC 8058 one-click unsubscribe, and the confirmation page's button: the signed token is
/// the authority, so no cookie or form token is needed. The withdrawal is in the ledger
/// before the answer goes out, so the next message of any campaign is not sent.
async fn unsubscribe(
    State(state): State<AppState>,
    frame: Frame,
    Path(token): Path<String>,
) -> Result<Response, AppError> {
    let Some(t) = super::read_token(&state, TokenKind::Unsubscribe, &token) else {
        let page = UnsubscribePage {
            frame,
            token: String::new(),
            done: false,
            valid: false,
        };
        return Ok((StatusCode::NOT_FOUND, no_store(render(&page)?)).into_response());
    };
    withdraw(&state, t.delivery).await?;
    let page = UnsubscribePage {
        frame,
        token: String::new(),
        done: true,
        valid: true,
    };
    Ok(no_store(render(&page)?))
}

/// Withdraw the recipient's email consent to the campaign's purpose, once.
async fn withdraw(state: &AppState, delivery: i64) -> Result<(), AppError> {
    let stores = state.stores();
    let Some(r) = stores.deliveries.delivery_recipient(delivery).await? else {
        return Ok(());
    };
    let Some(person) = r.person else {
        return Ok(());
    };
    let now = state.now();
    let events = stores.ledger.consent_events(person).await?;
    let current = candour_core::people::current_consents(&events);
    let granted = current
        .get(&(r.purpose.clone(), Some(Channel::Email)))
        .is_some_and(|e| e.granted);
    if granted {
        let event = NewConsent {
            purpose: r.purpose.clone(),
            channel: Some(Channel::Email),
            granted: false,
            method: Method::Unsubscribe,
            wording: None,
            actor: None,
            note: format!("campaign {}", r.campaign),
        };
        stores
            .ledger
            .append_consents(ConsentChange {
                person,
                events: std::slice::from_ref(&event),
                objections: &[],
                actor: None,
                purposes: state.purposes(),
                at: now,
            })
            .await?;
    }
    stores.deliveries.mark_unsubscribed(delivery, now).await?;
    Ok(())
}
