//! Accounts: registration, email confirmation, sign-in (with an optional second factor),
//! sign-out, password reset, the profile, and changing or deleting the account.
//!
//! Answers never say whether an address has an account: registering a taken address, or
//! asking for a reset for an unknown one, looks the same from outside, and checking a
//! password for an unknown address costs as much time as for a known one.

mod change;
mod delete;
mod profile;
mod register;
mod reset;
mod sign_in;
mod two_factor;

use askama::Template;
use axum::Router;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use candour_core::account::Account;
use candour_core::account::EmailAddress;
use candour_core::session::{LinkPurpose, Secret};
use serde::Deserialize;

use crate::AppState;
use crate::kit::error::AppError;
use crate::kit::frame::{Frame, render};
use crate::kit::limits;
use crate::kit::passwords;
use crate::kit::respond::no_store;
use change::{change_email, change_password, confirm_email, confirm_email_page};
use delete::{delete_account, delete_page};
use profile::{account_page, save_profile};
use register::{register, register_page, verify, verify_page};
use reset::{forgot, forgot_page, reset, reset_page};
use sign_in::{sign_in, sign_in_code, sign_in_page, sign_out, sign_out_everywhere};
use two_factor::{disable_two_factor, enable_two_factor, two_factor_page};

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/account", get(account_page))
        .route("/account/profile", post(save_profile))
        .route("/account/register", get(register_page).post(register))
        .route("/account/verify", get(verify_page).post(verify))
        .route("/account/sign-in", get(sign_in_page).post(sign_in))
        .route("/account/sign-in/code", post(sign_in_code))
        .route("/account/sign-out", post(sign_out))
        .route("/account/sign-out-everywhere", post(sign_out_everywhere))
        .route("/account/forgot-password", get(forgot_page).post(forgot))
        .route("/account/reset-password", get(reset_page).post(reset))
        .route("/account/email", post(change_email))
        .route(
            "/account/email/confirm",
            get(confirm_email_page).post(confirm_email),
        )
        .route("/account/password", post(change_password))
        .route("/account/delete", get(delete_page).post(delete_account))
        .route(
            "/account/two-factor",
            get(two_factor_page).post(enable_two_factor),
        )
        .route("/account/two-factor/disable", post(disable_two_factor))
}

// ---------- shared pieces ----------

#[derive(Template)]
#[template(path = "account/message.html")]
pub(super) struct MessagePage {
    frame: Frame,
    title: String,
    paragraphs: Vec<String>,
    link: Option<(String, String)>,
}

pub(super) fn message(
    frame: Frame,
    title: &str,
    paragraphs: &[&str],
    link: Option<(&str, &str)>,
) -> Result<Response, AppError> {
    Ok(no_store(render(&MessagePage {
        frame,
        title: title.to_owned(),
        paragraphs: paragraphs.iter().map(|p| (*p).to_owned()).collect(),
        link: link.map(|(h, l)| (h.to_owned(), l.to_owned())),
    })?))
}

pub(super) fn link_problem(frame: Frame, what_next: (&str, &str)) -> Result<Response, AppError> {
    let page = MessagePage {
        frame,
        title: "This link cannot be used".to_owned(),
        paragraphs: vec![
            "The link has expired, has already been used, or was not copied in full. Nothing has been changed.".to_owned(),
        ],
        link: Some((what_next.0.to_owned(), what_next.1.to_owned())),
    };
    Ok((StatusCode::BAD_REQUEST, no_store(render(&page)?)).into_response())
}

/// Check the signed-in person's password again before a sensitive change, within a limit
/// per account, so a stolen session cannot be used to guess it.
pub(super) async fn reauthenticate(
    state: &AppState,
    account: &Account,
    password: &str,
) -> Result<bool, AppError> {
    let attempt = limits::attempt(state, limits::REAUTHENTICATE, &account.id.to_string()).await?;
    let ok = passwords::verify(password, Some(&account.password_hash)).await;
    if ok {
        attempt.forgive(state).await?;
    }
    Ok(ok)
}

/// A single-use link for `purpose`, stored as a hash; returns the full address to email.
pub(super) async fn make_link(
    state: &AppState,
    purpose: LinkPurpose,
    account: i64,
    new_email: Option<&EmailAddress>,
    path: &str,
) -> Result<String, AppError> {
    let secret = Secret::from_random(rand::random());
    let expires = state.now() + purpose.lifetime();
    state
        .stores()
        .links
        .create_link(&secret.hash(), purpose, account, new_email, expires)
        .await?;
    Ok(format!(
        "{}{path}?token={}",
        state.link_base(),
        secret.expose()
    ))
}

pub(super) fn safe_return(target: &str) -> String {
    if crate::kit::respond::is_plain_local_path(target) {
        target.to_owned()
    } else {
        String::new()
    }
}

#[derive(Template)]
#[template(path = "account/confirm_link.html")]
pub(super) struct ConfirmLinkPage {
    pub(super) frame: Frame,
    pub(super) title: &'static str,
    pub(super) text: &'static str,
    pub(super) action: &'static str,
    pub(super) button: &'static str,
    pub(super) token: String,
}

/// A posted emailed link: the form token and the link's secret.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct TokenForm {
    pub(super) csrf: String,
    pub(super) token: String,
}

#[derive(Deserialize)]
pub(super) struct TokenQuery {
    #[serde(default)]
    token: String,
}
