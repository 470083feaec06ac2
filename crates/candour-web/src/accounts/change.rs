//! Changing the account's email address (confirmed from the new address) or its password.

use axum::Form;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use candour_core::account::{EmailAddress, check_new_password};
use candour_core::session::{LinkPurpose, Secret};
use candour_core::store::StoreError;
use candour_mail::Email;

use crate::AppState;
use crate::kit::auth::{SignedIn, start_session};
use crate::kit::error::AppError;
use crate::kit::form::FormData;
use crate::kit::frame::{Frame, render};
use crate::kit::limits;
use crate::kit::mail::{org, send_later};
use crate::kit::passwords;
use crate::kit::respond::no_store;

use super::profile::{account_view, profile_form};
use super::{
    ConfirmLinkPage, TokenForm, TokenQuery, link_problem, make_link, message, reauthenticate,
};

pub(super) async fn change_email(
    State(state): State<AppState>,
    user: SignedIn,
    frame: Frame,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Result<Response, AppError> {
    let data = FormData::parse(pairs, &["csrf", "new_email", "password"])?;
    state.check_form(&frame.visitor, data.get("csrf"))?;
    let mut form = profile_form(&user.account).with_value("new_email", data.get("new_email"));
    let new_email = EmailAddress::parse(data.get("new_email"))
        .map_err(|e| form.add_error("new_email", e.0))
        .ok();
    if !reauthenticate(&state, &user.account, data.get("password")).await? {
        form.add_error("password", "Your password is not right");
    }
    let Some(new_email) = new_email.filter(|_| !form.has_errors()) else {
        let page = account_view(
            &state,
            frame,
            &user.account,
            form,
            user.account.profile.interests.clone(),
            None,
        );
        return Ok((StatusCode::UNPROCESSABLE_ENTITY, no_store(render(&page)?)).into_response());
    };
    if !limits::within(&state, limits::EMAILS_PER_RECIPIENT, new_email.as_str()).await? {
        return Err(AppError::TooManyRequests(
            "Too many emails have been sent to that address. Wait an hour and try again."
                .to_owned(),
        ));
    }
    let link = make_link(
        &state,
        LinkPurpose::ChangeEmail,
        user.account.id,
        Some(&new_email),
        "/account/email/confirm",
    )
    .await?;
    send_later(
        &state,
        Email {
            to: new_email.clone(),
            subject: format!("Confirm your new email address for {}", org(&state)),
            text: format!(
                "To use this address for your account on the {org} website, open this link within 2 hours:\n\n{link}\n\nIf you did not ask for this, ignore this email.\n",
                org = org(&state)
            ),
        },
    );
    send_later(
        &state,
        Email {
            to: user.account.email.clone(),
            subject: format!("Your email address for {} is being changed", org(&state)),
            text: format!(
                "Someone signed in to your account on the {org} website asked to change its email address. The change happens only when the link sent to the new address is opened.\n\nIf this was not you, sign in and change your password: {base}/account/sign-in\n",
                org = org(&state),
                base = state.link_base()
            ),
        },
    );
    Ok(Redirect::to("/account?done=email").into_response())
}

pub(super) async fn confirm_email_page(
    frame: Frame,
    Query(q): Query<TokenQuery>,
) -> Result<Response, AppError> {
    if Secret::parse(&q.token).is_none() {
        return link_problem(frame, ("/account", "Go to your account"));
    }
    Ok(no_store(render(&ConfirmLinkPage {
        frame,
        title: "Confirm your new email address",
        text: "Select the button to use this email address for your account from now on.",
        action: "/account/email/confirm",
        button: "Use this email address",
        token: q.token,
    })?))
}

pub(super) async fn confirm_email(
    State(state): State<AppState>,
    frame: Frame,
    Form(form): Form<TokenForm>,
) -> Result<Response, AppError> {
    state.check_form(&frame.visitor, &form.csrf)?;
    let Some(secret) = Secret::parse(&form.token) else {
        return link_problem(frame, ("/account", "Go to your account"));
    };
    let claim = state
        .stores()
        .links
        .consume_link(&secret.hash(), LinkPurpose::ChangeEmail, state.now())
        .await?;
    let Some((account, new_email)) = claim.and_then(|c| c.new_email.map(|e| (c.account, e))) else {
        return link_problem(frame, ("/account", "Go to your account"));
    };
    match state
        .stores()
        .accounts
        .change_email(account, &new_email)
        .await
    {
        Ok(()) => message(
            frame,
            "Email address changed",
            &[&format!("Your account now uses {new_email}.")],
            Some(("/account", "Go to your account")),
        ),
        Err(StoreError::Duplicate(_)) => message(
            frame,
            "That address is already in use",
            &["Another account uses that email address, so nothing was changed."],
            Some(("/account", "Go to your account")),
        ),
        Err(e) => Err(e.into()),
    }
}

pub(super) async fn change_password(
    State(state): State<AppState>,
    user: SignedIn,
    frame: Frame,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Result<Response, AppError> {
    let data = FormData::parse(pairs, &["csrf", "current_password", "new_password"])?;
    state.check_form(&frame.visitor, data.get("csrf"))?;
    let mut form = profile_form(&user.account);
    if !reauthenticate(&state, &user.account, data.get("current_password")).await? {
        form.add_error("current_password", "Your current password is not right");
    }
    let email = user.account.email.as_str().to_owned();
    if let Err(e) = check_new_password(
        data.get("new_password"),
        &[&email, &user.account.profile.name],
    ) {
        form.add_error("new_password", e.0);
    }
    if form.has_errors() {
        let page = account_view(
            &state,
            frame,
            &user.account,
            form,
            user.account.profile.interests.clone(),
            None,
        );
        return Ok((StatusCode::UNPROCESSABLE_ENTITY, no_store(render(&page)?)).into_response());
    }
    let hash = passwords::hash(data.get("new_password"))
        .await
        .map_err(|e| AppError::Internal(Box::new(e)))?;
    // Ends every session, this one included; this browser gets a new one.
    state
        .stores()
        .accounts
        .change_password(user.account.id, &hash)
        .await?;
    let cookie = start_session(&state, user.account.id).await?;
    send_later(
        &state,
        Email {
            to: user.account.email.clone(),
            subject: format!("Your password for {} has been changed", org(&state)),
            text: format!(
                "The password for your account on the {org} website was changed, and every other sign-in was ended.\n\nIf this was not you, reset your password now: {base}/account/forgot-password\n",
                org = org(&state),
                base = state.link_base()
            ),
        },
    );
    Ok((cookie, Redirect::to("/account?done=password")).into_response())
}
