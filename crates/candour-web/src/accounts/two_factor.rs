//! Turning the second factor (an authenticator app, with recovery codes) on and off.

use askama::Template;
use axum::Form;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use candour_core::account::Account;
use candour_core::signer::Purpose;
use candour_core::totp::{self, RecoveryCode, TotpSecret};
use serde::Deserialize;

use crate::AppState;
use crate::kit::auth::SignedIn;
use crate::kit::error::AppError;
use crate::kit::form::{FormData, FormState};
use crate::kit::frame::{Frame, render};
use crate::kit::mail::org;
use crate::kit::respond::no_store;

use super::reauthenticate;

#[derive(Template)]
#[template(path = "account/two_factor.html")]
struct TwoFactorPage {
    frame: Frame,
    form: FormState,
    enabled: bool,
    required: bool,
    secret: String,
    secret_grouped: String,
    uri: String,
    sig: String,
}

#[derive(Template)]
#[template(path = "account/recovery_codes.html")]
struct RecoveryCodesPage {
    frame: Frame,
    codes: Vec<String>,
}

#[derive(Deserialize)]
pub(super) struct TwoFactorQuery {
    #[serde(default)]
    required: String,
}

/// Signs the secret shown on the set-up page for this account, so the confirming post cannot
/// swap it.
fn secret_sig(state: &AppState, account: i64, secret_b32: &str) -> String {
    state
        .inner
        .signer
        .sign_bound(Purpose::TotpSetup, secret_b32, &account.to_be_bytes(), None)
}

/// Whether `sig` is this server's signature of `secret_b32` for this account.
fn genuine_secret(state: &AppState, account: i64, secret_b32: &str, sig: &str) -> bool {
    state
        .inner
        .signer
        .verify_bound(Purpose::TotpSetup, sig, &account.to_be_bytes(), state.now())
        .is_ok_and(|signed| signed == secret_b32)
}

fn two_factor_view(
    state: &AppState,
    frame: Frame,
    account: &Account,
    secret: &TotpSecret,
    form: FormState,
    required: bool,
) -> TwoFactorPage {
    let b32 = secret.base32();
    TwoFactorPage {
        frame,
        form,
        enabled: account.totp_secret.is_some(),
        required,
        secret_grouped: secret.base32_grouped(),
        uri: secret.otpauth_uri(org(state), account.email.as_str()),
        sig: secret_sig(state, account.id, &b32),
        secret: b32,
    }
}

pub(super) async fn two_factor_page(
    State(state): State<AppState>,
    user: SignedIn,
    frame: Frame,
    Query(q): Query<TwoFactorQuery>,
) -> Result<Response, AppError> {
    let secret = TotpSecret::from_random(rand::random());
    let page = two_factor_view(
        &state,
        frame,
        &user.account,
        &secret,
        FormState::new(),
        q.required == "staff",
    );
    Ok(no_store(render(&page)?))
}

pub(super) async fn enable_two_factor(
    State(state): State<AppState>,
    user: SignedIn,
    frame: Frame,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Result<Response, AppError> {
    let data = FormData::parse(pairs, &["csrf", "secret", "sig", "code", "password"])?;
    state.check_form(&frame.visitor, data.get("csrf"))?;
    let b32 = data.get("secret");
    if !genuine_secret(&state, user.account.id, b32, data.get("sig")) {
        return Err(AppError::BadRequest(
            "The set-up form was changed. Reload the page and start again.".to_owned(),
        ));
    }
    let secret = TotpSecret::from_base32(b32).ok_or_else(|| {
        AppError::BadRequest(
            "The set-up form was changed. Reload the page and start again.".to_owned(),
        )
    })?;
    let Some(step) = totp::verify(
        &secret,
        data.get("code"),
        state.now().unix_timestamp(),
        None,
    ) else {
        let mut form = FormState::new();
        form.add_error(
            "code",
            "The code is not right. Enter the 6-digit code your app shows now",
        );
        let page = two_factor_view(&state, frame, &user.account, &secret, form, false);
        return Ok((StatusCode::UNPROCESSABLE_ENTITY, no_store(render(&page)?)).into_response());
    };
    // Replacing an authenticator already in use needs the password: a stolen session alone
    // must not be able to move someone's second factor to the thief's phone.
    if user.account.totp_secret.is_some()
        && !reauthenticate(&state, &user.account, data.get("password")).await?
    {
        let mut form = FormState::new();
        form.add_error("password", "Your password is not right");
        let page = two_factor_view(&state, frame, &user.account, &secret, form, false);
        return Ok((StatusCode::UNPROCESSABLE_ENTITY, no_store(render(&page)?)).into_response());
    }
    let codes: Vec<RecoveryCode> = (0..10)
        .map(|_| RecoveryCode::from_random(rand::random()))
        .collect();
    let hashes: Vec<[u8; 32]> = codes.iter().map(RecoveryCode::hash).collect();
    let second_factor = &state.stores().second_factor;
    second_factor
        .enable_totp(user.account.id, secret.as_bytes(), &hashes)
        .await?;
    second_factor.use_totp_step(user.account.id, step).await?;
    if user.account.role.is_some() {
        state
            .audit(
                &user.account,
                "staff.second-factor-on",
                format!("account:{}", user.account.id),
                String::new(),
            )
            .await?;
    }
    let page = RecoveryCodesPage {
        frame,
        codes: codes.iter().map(|c| c.as_str().to_owned()).collect(),
    };
    Ok(no_store(render(&page)?))
}

pub(super) async fn disable_two_factor(
    State(state): State<AppState>,
    user: SignedIn,
    frame: Frame,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Result<Response, AppError> {
    let data = FormData::parse(pairs, &["csrf", "password"])?;
    state.check_form(&frame.visitor, data.get("csrf"))?;
    if !reauthenticate(&state, &user.account, data.get("password")).await? {
        let secret = TotpSecret::from_random(rand::random());
        let mut form = FormState::new();
        form.add_error("password", "Your password is not right");
        let page = two_factor_view(&state, frame, &user.account, &secret, form, false);
        return Ok((StatusCode::UNPROCESSABLE_ENTITY, no_store(render(&page)?)).into_response());
    }
    if user.account.role.is_some() && state.inner.config.accounts.require_staff_totp {
        return Err(AppError::Conflict("Staff must use an authenticator app here, so it cannot be turned off. Set it up again on a new device instead.".to_owned()));
    }
    state
        .stores()
        .second_factor
        .disable_totp(user.account.id)
        .await?;
    if user.account.role.is_some() {
        state
            .audit(
                &user.account,
                "staff.second-factor-off",
                format!("account:{}", user.account.id),
                String::new(),
            )
            .await?;
    }
    Ok(Redirect::to("/account?done=two-factor").into_response())
}
