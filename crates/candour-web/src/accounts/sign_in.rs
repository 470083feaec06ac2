//! Signing in (with the second-factor step when it is on) and signing out.

use std::net::SocketAddr;

use askama::Template;
use axum::Form;
use axum::extract::{ConnectInfo, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use candour_core::account::Account;
use candour_core::account::EmailAddress;
use candour_core::session::LinkPurpose;
use candour_core::signer::Purpose;
use candour_core::totp::{self, TotpSecret};
use candour_mail::Email;
use serde::Deserialize;
use time::OffsetDateTime;

use crate::AppState;
use crate::kit::auth::{SignedIn, Visitor, end_session_cookie, start_session};
use crate::kit::error::AppError;
use crate::kit::form::{CsrfOnly, FormData, FormState};
use crate::kit::frame::{Frame, render};
use crate::kit::limits;
use crate::kit::mail::{org, send_later};
use crate::kit::passwords;
use crate::kit::respond::no_store;

use super::{make_link, message, safe_return};

#[derive(Template)]
#[template(path = "account/sign_in.html")]
struct SignInPage {
    frame: Frame,
    form: FormState,
    return_to: String,
    notice: Option<&'static str>,
}

#[derive(Deserialize)]
pub(super) struct SignInQuery {
    #[serde(default)]
    return_to: String,
    #[serde(default)]
    done: String,
}

pub(super) async fn sign_in_page(
    frame: Frame,
    Query(q): Query<SignInQuery>,
) -> Result<Response, AppError> {
    let notice = match q.done.as_str() {
        "signed-out" => Some("You have signed out."),
        "everywhere" => Some("You have been signed out on every device."),
        "password" => Some("Your password has been changed. Sign in with your new password."),
        _ => None,
    };
    Ok(no_store(render(&SignInPage {
        frame,
        form: FormState::new(),
        return_to: safe_return(&q.return_to),
        notice,
    })?))
}

fn failed_sign_in(frame: Frame, email: &str, return_to: String) -> Result<Response, AppError> {
    let mut form = FormState::new().with_value("email", email);
    form.add_error("email", "The email address or password is not right");
    let page = SignInPage {
        frame,
        form,
        return_to,
        notice: None,
    };
    Ok((StatusCode::UNPROCESSABLE_ENTITY, no_store(render(&page)?)).into_response())
}

pub(super) async fn sign_in(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    frame: Frame,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Result<Response, AppError> {
    let data = FormData::parse(pairs, &["csrf", "email", "password", "return_to"])?;
    state.check_form(&frame.visitor, data.get("csrf"))?;
    let return_to = safe_return(data.get("return_to"));
    let Ok(email) = EmailAddress::parse(data.get("email")) else {
        let mut form = FormState::from_data(&data, &["email"]);
        form.add_error("email", "Enter your email address, like name@example.org");
        let page = SignInPage {
            frame,
            form,
            return_to,
            notice: None,
        };
        return Ok((StatusCode::UNPROCESSABLE_ENTITY, no_store(render(&page)?)).into_response());
    };
    // Counted as a failure until the password proves right, so guesses sent together
    // cannot pass the limit; a mistyped address above names no account and costs nothing.
    let ip = limits::client_key(&state, peer, &headers);
    let attempt = limits::begin_sign_in(&state, email.as_str(), &ip).await?;

    let account = state.stores().accounts.account_by_email(&email).await?;
    let ok = passwords::verify(
        data.get("password"),
        account.as_ref().map(|a| a.password_hash.as_str()),
    )
    .await;
    let Some(account) = account.filter(|_| ok) else {
        return failed_sign_in(frame, email.as_str(), return_to);
    };
    attempt.forgive(&state).await?;
    if !account.email_verified {
        if limits::within(&state, limits::EMAILS_PER_RECIPIENT, email.as_str()).await? {
            let link = make_link(
                &state,
                LinkPurpose::VerifyEmail,
                account.id,
                None,
                "/account/verify",
            )
            .await?;
            send_later(
                &state,
                Email {
                    to: email.clone(),
                    subject: format!("Confirm your email address for {}", org(&state)),
                    text: format!(
                        "To confirm your email address, open this link within 48 hours:\n\n{link}\n"
                    ),
                },
            );
        }
        return message(
            frame,
            "Confirm your email address first",
            &["We have sent you a new link. Open it to confirm your address, then sign in."],
            None,
        );
    }
    if account.totp_secret.is_some() {
        return second_factor_page(
            &state,
            frame,
            &account,
            return_to,
            FormState::new(),
            state.now().unix_timestamp(),
        );
    }
    finish_sign_in(&state, &account, &return_to).await
}

async fn finish_sign_in(
    state: &AppState,
    account: &Account,
    return_to: &str,
) -> Result<Response, AppError> {
    let cookie = start_session(state, account.id).await?;
    if account.role.is_some() {
        state
            .audit(
                account,
                "staff.signed-in",
                format!("account:{}", account.id),
                String::new(),
            )
            .await?;
    }
    let to = match (return_to.is_empty(), account.role) {
        (false, _) => return_to.to_owned(),
        (true, Some(_)) => "/admin".to_owned(),
        (true, None) => "/account".to_owned(),
    };
    Ok((cookie, Redirect::to(&to)).into_response())
}

#[derive(Template)]
#[template(path = "account/sign_in_code.html")]
struct CodePage {
    frame: Frame,
    form: FormState,
    step: String,
    return_to: String,
}

/// How long a correct password waits for its second-factor code.
const STEP_SECONDS: i64 = 300;

/// The token that carries a correct password over to the code page: the account and the time,
/// signed, valid for five minutes. It is bound to the password hash, so a change of password
/// voids every step token.
fn step_token(state: &AppState, account: &Account, issued: i64) -> String {
    let expires = OffsetDateTime::from_unix_timestamp(issued + STEP_SECONDS).ok();
    state.inner.signer.sign_bound(
        Purpose::SignInStep,
        &format!("{}.{issued}", account.id),
        account.password_hash.as_bytes(),
        expires,
    )
}

/// The account and the time its password was checked, if the token is genuine and at most
/// five minutes old. Wrong codes do not renew it.
async fn check_step_token(
    state: &AppState,
    token: &str,
) -> Result<Option<(Account, i64)>, AppError> {
    // The account is named before the check: its password hash is part of what was signed.
    let Some((id, issued)) = token
        .rsplit_once('.')
        .and_then(|(body, _)| body.split_once('.'))
        .and_then(|(id, issued)| Some((id.parse::<i64>().ok()?, issued.parse::<i64>().ok()?)))
    else {
        return Ok(None);
    };
    let fresh = state
        .now()
        .unix_timestamp()
        .checked_sub(issued)
        .is_some_and(|age| (0..=STEP_SECONDS).contains(&age));
    if !fresh {
        return Ok(None);
    }
    let Some(account) = state.stores().accounts.account(id).await? else {
        return Ok(None);
    };
    let genuine = state
        .inner
        .signer
        .verify_bound(
            Purpose::SignInStep,
            token,
            account.password_hash.as_bytes(),
            state.now(),
        )
        .is_ok_and(|body| body == format!("{id}.{issued}"));
    Ok(genuine.then_some((account, issued)))
}

fn second_factor_page(
    state: &AppState,
    frame: Frame,
    account: &Account,
    return_to: String,
    form: FormState,
    issued: i64,
) -> Result<Response, AppError> {
    let status = if form.has_errors() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    let page = CodePage {
        frame,
        form,
        step: step_token(state, account, issued),
        return_to,
    };
    Ok((status, no_store(render(&page)?)).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct CodeForm {
    csrf: String,
    step: String,
    code: String,
    #[serde(default)]
    return_to: String,
}

pub(super) async fn sign_in_code(
    State(state): State<AppState>,
    frame: Frame,
    Form(form): Form<CodeForm>,
) -> Result<Response, AppError> {
    state.check_form(&frame.visitor, &form.csrf)?;
    let return_to = safe_return(&form.return_to);
    let Some((account, issued)) = check_step_token(&state, &form.step).await? else {
        return message(
            frame,
            "Sign in again",
            &["Too much time passed between your password and your code. Sign in again."],
            Some(("/account/sign-in", "Sign in")),
        );
    };
    let id = account.id;
    let attempt = limits::attempt(&state, limits::SECOND_FACTOR, &id.to_string()).await?;
    let secret = account
        .totp_secret
        .clone()
        .and_then(TotpSecret::from_bytes)
        .ok_or(AppError::NotFound)?;
    let code = form.code.trim();
    let accepted = if code.len() > 8 {
        match totp::hash_recovery_input(code) {
            Some(hash) => {
                state
                    .stores()
                    .second_factor
                    .use_recovery_code(id, &hash)
                    .await?
            }
            None => false,
        }
    } else {
        match totp::verify(&secret, code, state.now().unix_timestamp(), None) {
            // The store refuses a step already used, so a code seen over someone's shoulder
            // cannot be replayed.
            Some(step) => state.stores().second_factor.use_totp_step(id, step).await?,
            None => false,
        }
    };
    if !accepted {
        let mut f = FormState::new();
        f.add_error("code", "The code is not right, or has already been used. Enter the current code from your app, or a recovery code");
        return second_factor_page(&state, frame, &account, return_to, f, issued);
    }
    attempt.forgive(&state).await?;
    finish_sign_in(&state, &account, &return_to).await
}

pub(super) async fn sign_out(
    State(state): State<AppState>,
    visitor: Visitor,
    Form(form): Form<CsrfOnly>,
) -> Result<Response, AppError> {
    state.check_form(&visitor, &form.csrf)?;
    if let Some(session) = &visitor.session {
        state.stores().sessions.end_session(session).await?;
    }
    Ok((
        end_session_cookie(&state)?,
        Redirect::to("/account/sign-in?done=signed-out"),
    )
        .into_response())
}

pub(super) async fn sign_out_everywhere(
    State(state): State<AppState>,
    user: SignedIn,
    visitor: Visitor,
    Form(form): Form<CsrfOnly>,
) -> Result<Response, AppError> {
    state.check_form(&visitor, &form.csrf)?;
    state
        .stores()
        .sessions
        .end_all_sessions(user.account.id)
        .await?;
    Ok((
        end_session_cookie(&state)?,
        Redirect::to("/account/sign-in?done=everywhere"),
    )
        .into_response())
}
