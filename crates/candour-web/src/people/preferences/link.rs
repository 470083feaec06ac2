//! The preference centre's emailed single-use links, and the link that confirms a form's
//! consent.

use askama::Template;
use axum::Form;
use axum::extract::{ConnectInfo, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use candour_core::account::EmailAddress;
use candour_core::cookies::CookieId;
use candour_core::session::Secret;
use candour_mail::Email;
use serde::Deserialize;
use std::net::SocketAddr;
use time::Duration;

use crate::AppState;
use crate::kit::cookie_jar;
use crate::kit::error::AppError;
use crate::kit::form::{CsrfOnly, FormState};
use crate::kit::frame::{Frame, render};
use crate::kit::limits;
use crate::kit::mail::{org, send_later};
use crate::kit::respond::no_store;

use super::AskPage;
use super::visit::visit_value;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct LinkForm {
    csrf: String,
    email: String,
}

pub(super) async fn request_link(
    State(state): State<AppState>,
    frame: Frame,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Form(f): Form<LinkForm>,
) -> Result<Response, AppError> {
    state.check_form(&frame.visitor, &f.csrf)?;
    let hours = state.config().people.preference_link_hours;
    let email = match EmailAddress::parse(&f.email) {
        Ok(e) => e,
        Err(e) => {
            let mut form = FormState::new().with_value("email", &f.email);
            form.add_error("email", e.0);
            let page = AskPage {
                frame,
                form,
                sent: false,
                hours,
            };
            return Ok((StatusCode::UNPROCESSABLE_ENTITY, no_store(render(&page)?)).into_response());
        }
    };
    let ip = limits::client_key(&state, peer, &headers);
    limits::hit(&state, limits::PREFERENCE_LINKS_PER_ADDRESS, &ip).await?;
    // The answer is the same, and takes the same time, whether or not the address is known:
    // the lookup and the email happen after it.
    let background = state.clone();
    tokio::spawn(async move {
        if let Err(e) = send_link(&background, email, hours).await {
            tracing::error!(error = %e, "Could not send a preference-centre link.");
        }
    });
    let page = AskPage {
        frame,
        form: FormState::new(),
        sent: true,
        hours,
    };
    Ok(no_store(render(&page)?))
}

/// Email a single-use link to the person with this address, if there is one.
async fn send_link(state: &AppState, email: EmailAddress, hours: u32) -> Result<(), AppError> {
    let Some(person) = state.stores().people.person_by_email(&email).await? else {
        return Ok(());
    };
    if !limits::within(state, limits::EMAILS_PER_RECIPIENT, email.as_str()).await? {
        return Ok(());
    }
    let secret = Secret::from_random(rand::random());
    let expires = state.now() + Duration::hours(i64::from(hours));
    state
        .stores()
        .ledger
        .create_preference_link(&secret.hash(), person.id, expires)
        .await?;
    let link = format!(
        "{}/preferences/open?token={}",
        state.link_base(),
        secret.expose()
    );
    send_later(
        state,
        Email {
            to: email,
            subject: format!("Your choices with {}", org(state)),
            text: format!(
                "You asked to see or change what you have agreed to with {org}.\n\n\
                 Open this link within {hours} hours; it works once:\n\n{link}\n\n\
                 If you did not ask, you can ignore this email: nothing has changed.\n",
                org = org(state)
            ),
        },
    );
    Ok(())
}

#[derive(Template)]
#[template(path = "preferences/open.html")]
struct OpenPage {
    frame: Frame,
    token: String,
    valid: bool,
}

#[derive(Deserialize)]
pub(super) struct TokenQuery {
    #[serde(default)]
    token: String,
}

/// The page an emailed link opens: a button, so a mail scanner that follows links uses
/// nothing up.
pub(super) async fn open_page(
    frame: Frame,
    Query(q): Query<TokenQuery>,
) -> Result<Response, AppError> {
    let valid = Secret::parse(&q.token).is_some();
    let page = OpenPage {
        frame,
        token: if valid { q.token } else { String::new() },
        valid,
    };
    let status = if valid {
        StatusCode::OK
    } else {
        StatusCode::BAD_REQUEST
    };
    Ok((status, no_store(render(&page)?)).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct OpenForm {
    csrf: String,
    token: String,
}

pub(super) async fn open(
    State(state): State<AppState>,
    frame: Frame,
    Form(f): Form<OpenForm>,
) -> Result<Response, AppError> {
    state.check_form(&frame.visitor, &f.csrf)?;
    let person = match Secret::parse(&f.token) {
        Some(secret) => {
            state
                .stores()
                .ledger
                .consume_preference_link(&secret.hash(), state.now())
                .await?
        }
        None => None,
    };
    let Some(person) = person else {
        let page = OpenPage {
            frame,
            token: String::new(),
            valid: false,
        };
        return Ok((StatusCode::BAD_REQUEST, no_store(render(&page)?)).into_response());
    };
    let minutes = state.config().people.preference_visit_minutes;
    let until = state.now() + Duration::minutes(i64::from(minutes));
    let value = visit_value(&state.inner.signer, person, until);
    let cookie = cookie_jar::set(&state, CookieId::Preferences, &value)?;
    Ok((cookie, Redirect::to("/preferences")).into_response())
}

#[derive(Template)]
#[template(path = "preferences/confirm.html")]
struct ConfirmPage {
    frame: Frame,
    token: String,
    state: Confirmation,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Confirmation {
    /// A link of the right shape: the page offers the button.
    Ask,
    Done,
    /// Unknown, used, expired or mangled.
    Unusable,
}

/// The page a form's confirmation email opens: a button, so a mail scanner that follows
/// links confirms nothing.
pub(super) async fn confirm_page(
    frame: Frame,
    Query(q): Query<TokenQuery>,
) -> Result<Response, AppError> {
    let valid = Secret::parse(&q.token).is_some();
    let page = ConfirmPage {
        frame,
        token: if valid { q.token } else { String::new() },
        state: if valid {
            Confirmation::Ask
        } else {
            Confirmation::Unusable
        },
    };
    let status = if valid {
        StatusCode::OK
    } else {
        StatusCode::BAD_REQUEST
    };
    Ok((status, no_store(render(&page)?)).into_response())
}

/// Confirm the consent a form held back: the grants enter the ledger now.
pub(super) async fn confirm(
    State(state): State<AppState>,
    frame: Frame,
    Form(f): Form<OpenForm>,
) -> Result<Response, AppError> {
    state.check_form(&frame.visitor, &f.csrf)?;
    let person = match Secret::parse(&f.token) {
        Some(secret) => {
            state
                .stores()
                .ledger
                .confirm_consents(&secret.hash(), state.purposes(), state.now())
                .await?
        }
        None => None,
    };
    let (status, confirmation) = match person {
        Some(_) => (StatusCode::OK, Confirmation::Done),
        None => (StatusCode::BAD_REQUEST, Confirmation::Unusable),
    };
    let page = ConfirmPage {
        frame,
        token: String::new(),
        state: confirmation,
    };
    Ok((status, no_store(render(&page)?)).into_response())
}

pub(super) async fn leave(
    State(state): State<AppState>,
    frame: Frame,
    Form(f): Form<CsrfOnly>,
) -> Result<Response, AppError> {
    state.check_form(&frame.visitor, &f.csrf)?;
    let cookie = cookie_jar::clear(&state, CookieId::Preferences)?;
    Ok((cookie, Redirect::to("/")).into_response())
}
