//! A forgotten password: the emailed reset link and the new password.

use std::net::SocketAddr;

use askama::Template;
use axum::Form;
use axum::extract::{ConnectInfo, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use candour_core::account::{
    EmailAddress, PASSWORD_MIN_CHARS, PASSWORD_RECOMMENDED_CHARS, check_new_password,
};
use candour_core::session::{LinkPurpose, Secret};
use candour_mail::Email;

use crate::AppState;
use crate::kit::auth::end_session_cookie;
use crate::kit::error::AppError;
use crate::kit::form::{FormData, FormState};
use crate::kit::frame::{Frame, render};
use crate::kit::limits;
use crate::kit::mail::org;
use crate::kit::passwords;
use crate::kit::respond::no_store;

use super::{TokenQuery, link_problem, make_link, message};

#[derive(Template)]
#[template(path = "account/forgot.html")]
struct ForgotPage {
    frame: Frame,
    form: FormState,
}

pub(super) async fn forgot_page(frame: Frame) -> Result<Response, AppError> {
    Ok(no_store(render(&ForgotPage {
        frame,
        form: FormState::new(),
    })?))
}

pub(super) async fn forgot(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    frame: Frame,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Result<Response, AppError> {
    let data = FormData::parse(pairs, &["csrf", "email"])?;
    state.check_form(&frame.visitor, data.get("csrf"))?;
    let ip = limits::client_key(&state, peer, &headers);
    limits::hit(&state, limits::RESET_PER_ADDRESS, &ip).await?;
    let email = match EmailAddress::parse(data.get("email")) {
        Ok(e) => e,
        Err(e) => {
            let mut form = FormState::from_data(&data, &["email"]);
            form.add_error("email", e.0);
            return Ok((
                StatusCode::UNPROCESSABLE_ENTITY,
                no_store(render(&ForgotPage { frame, form })?),
            )
                .into_response());
        }
    };
    // Looking the address up, making the link and sending it all happen after the answer,
    // so the answer takes the same time whether or not the address has an account.
    let task_state = state.clone();
    let to = email.clone();
    tokio::spawn(async move {
        if let Err(e) = send_reset_link(&task_state, to).await {
            tracing::error!(error = %e, "Could not send a password reset link.");
        }
    });
    message(
        frame,
        "Check your email",
        &[
            &format!("If an account uses {email}, we have sent it a link to reset the password."),
            "The link works for 30 minutes and can be used once.",
        ],
        None,
    )
}

async fn send_reset_link(state: &AppState, email: EmailAddress) -> Result<(), AppError> {
    let Some(account) = state.stores().accounts.account_by_email(&email).await? else {
        return Ok(());
    };
    if !limits::within(state, limits::EMAILS_PER_RECIPIENT, email.as_str()).await? {
        return Ok(());
    }
    let link = make_link(
        state,
        LinkPurpose::ResetPassword,
        account.id,
        None,
        "/account/reset-password",
    )
    .await?;
    let message = Email {
        to: email,
        subject: format!("Reset your password for {}", org(state)),
        text: format!(
            "Someone asked to reset the password for your account on the {org} website.\n\n\
             To choose a new password, open this link within 30 minutes:\n\n{link}\n\n\
             If it was not you, ignore this email: your password has not been changed.\n",
            org = org(state)
        ),
    };
    state
        .inner
        .mailer
        .send(&message)
        .await
        .map_err(|e| AppError::Internal(Box::new(e)))
}

#[derive(Template)]
#[template(path = "account/reset.html")]
struct ResetPage {
    frame: Frame,
    form: FormState,
    token: String,
    min: usize,
    recommended: usize,
}

pub(super) async fn reset_page(
    frame: Frame,
    Query(q): Query<TokenQuery>,
) -> Result<Response, AppError> {
    if Secret::parse(&q.token).is_none() {
        return link_problem(frame, ("/account/forgot-password", "Ask for a new link"));
    }
    Ok(no_store(render(&ResetPage {
        frame,
        form: FormState::new(),
        token: q.token,
        min: PASSWORD_MIN_CHARS,
        recommended: PASSWORD_RECOMMENDED_CHARS,
    })?))
}

pub(super) async fn reset(
    State(state): State<AppState>,
    frame: Frame,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Result<Response, AppError> {
    let data = FormData::parse(pairs, &["csrf", "token", "password"])?;
    state.check_form(&frame.visitor, data.get("csrf"))?;
    let Some(secret) = Secret::parse(data.get("token")) else {
        return link_problem(frame, ("/account/forgot-password", "Ask for a new link"));
    };
    // Check the new password before using up the link, so a weak choice can be corrected.
    if let Err(e) = check_new_password(data.get("password"), &[]) {
        let mut form = FormState::new();
        form.add_error("password", e.0);
        let page = ResetPage {
            frame,
            form,
            token: data.get("token").to_owned(),
            min: PASSWORD_MIN_CHARS,
            recommended: PASSWORD_RECOMMENDED_CHARS,
        };
        return Ok((StatusCode::UNPROCESSABLE_ENTITY, no_store(render(&page)?)).into_response());
    }
    let Some(claim) = state
        .stores()
        .links
        .consume_link(&secret.hash(), LinkPurpose::ResetPassword, state.now())
        .await?
    else {
        return link_problem(frame, ("/account/forgot-password", "Ask for a new link"));
    };
    let hash = passwords::hash(data.get("password"))
        .await
        .map_err(|e| AppError::Internal(Box::new(e)))?;
    let accounts = &state.stores().accounts;
    accounts.change_password(claim.account, &hash).await?;
    // Opening the link proved the address works.
    accounts.mark_email_verified(claim.account).await?;
    Ok((
        end_session_cookie(&state)?,
        Redirect::to("/account/sign-in?done=password"),
    )
        .into_response())
}
