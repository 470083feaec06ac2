//! Accounts: registration, email confirmation, sign-in (with an optional second factor),
//! sign-out, password reset, the profile, and changing or deleting the account.
//!
//! Answers never say whether an address has an account: registering a taken address, or
//! asking for a reset for an unknown one, looks the same from outside, and checking a
//! password for an unknown address costs as much time as for a known one.

use std::net::SocketAddr;

use askama::Template;
use axum::Form;
use axum::Router;
use axum::extract::{ConnectInfo, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use candour_core::account::{
    EmailAddress, PASSWORD_MIN_CHARS, PASSWORD_RECOMMENDED_CHARS, Phone, Postcode, Role,
    check_new_password, plain_text,
};
use candour_core::config::Topic;
use candour_core::purposes::{self, Purpose};
use candour_core::session::{LinkPurpose, Secret};
use candour_core::store::{Account, NewAccount, Profile, StoreError};
use candour_core::totp::{self, RecoveryCode, TotpSecret};
use candour_mail::Email;
use hmac::{Hmac, Mac};
use serde::Deserialize;
use sha2::Sha256;

use crate::AppState;
use crate::kit::auth::{SignedIn, Visitor, end_session_cookie, start_session};
use crate::kit::error::AppError;
use crate::kit::form::{CsrfOnly, FormData, FormState};
use crate::kit::frame::{Frame, render};
use crate::kit::limits;
use crate::kit::mail::{org, send_later};
use crate::kit::passwords;
use crate::kit::respond::no_store;

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
struct MessagePage {
    frame: Frame,
    title: String,
    paragraphs: Vec<String>,
    link: Option<(String, String)>,
}

fn message(
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

fn link_problem(frame: Frame, what_next: (&str, &str)) -> Result<Response, AppError> {
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
async fn reauthenticate(
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
async fn make_link(
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

fn safe_return(target: &str) -> String {
    if crate::kit::respond::is_plain_local_path(target) {
        target.to_owned()
    } else {
        String::new()
    }
}

#[derive(Deserialize)]
struct TokenQuery {
    #[serde(default)]
    token: String,
}

// ---------- registration and email confirmation ----------

#[derive(Template)]
#[template(path = "account/register.html")]
struct RegisterPage {
    frame: Frame,
    form: FormState,
    min: usize,
    recommended: usize,
}

async fn register_page(State(state): State<AppState>, frame: Frame) -> Result<Response, AppError> {
    if !state.inner.config.accounts.public_registration {
        return Err(AppError::NotFound);
    }
    Ok(no_store(render(&RegisterPage {
        frame,
        form: FormState::new(),
        min: PASSWORD_MIN_CHARS,
        recommended: PASSWORD_RECOMMENDED_CHARS,
    })?))
}

async fn register(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    frame: Frame,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Result<Response, AppError> {
    if !state.inner.config.accounts.public_registration {
        return Err(AppError::NotFound);
    }
    let data = FormData::parse(pairs, &["csrf", "name", "email", "password"])?;
    state.check_form(&frame.visitor, data.get("csrf"))?;
    let ip = limits::client_key(&state, peer, &headers);
    limits::hit(&state, limits::REGISTER_PER_ADDRESS, &ip).await?;

    let mut form = FormState::from_data(&data, &["name", "email"]);
    let name = plain_text(data.get("name"), 100, "Name")
        .map_err(|e| form.add_error("name", e.0))
        .ok();
    let email = EmailAddress::parse(data.get("email"))
        .map_err(|e| form.add_error("email", e.0))
        .ok();
    let own: Vec<&str> = [data.get("email"), data.get("name")]
        .into_iter()
        .filter(|s| !s.is_empty())
        .collect();
    if let Err(e) = check_new_password(data.get("password"), &own) {
        form.add_error("password", e.0);
    }
    let (Some(name), Some(email), false) = (name, email, form.has_errors()) else {
        let page = RegisterPage {
            frame,
            form,
            min: PASSWORD_MIN_CHARS,
            recommended: PASSWORD_RECOMMENDED_CHARS,
        };
        return Ok((StatusCode::UNPROCESSABLE_ENTITY, no_store(render(&page)?)).into_response());
    };

    let hash = passwords::hash(data.get("password"))
        .await
        .map_err(|e| AppError::Internal(Box::new(e)))?;
    let created = state
        .stores()
        .accounts
        .create_account(&NewAccount {
            email: email.clone(),
            password_hash: hash,
            name,
            role: None,
            email_verified: false,
            created_at: state.now(),
        })
        .await;
    match created {
        Ok(id) => {
            let link = make_link(
                &state,
                LinkPurpose::VerifyEmail,
                id,
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
                        "You asked to create an account on the {org} website.\n\n\
                     To confirm this is your email address, open this link within 48 hours:\n\n{link}\n\n\
                     If you did not ask for an account, you can ignore this email and no account will be used.\n",
                        org = org(&state)
                    ),
                },
            );
        }
        Err(StoreError::Duplicate(_)) => {
            if limits::within(&state, limits::EMAILS_PER_RECIPIENT, email.as_str()).await? {
                send_later(
                    &state,
                    Email {
                        to: email.clone(),
                        subject: format!("You already have an account with {}", org(&state)),
                        text: format!(
                            "Someone asked to create an account on the {org} website with this email address, \
                         but you already have one.\n\nSign in at {base}/account/sign-in\n\
                         If you have forgotten your password, reset it at {base}/account/forgot-password\n\n\
                         If this was not you, you do not need to do anything.\n",
                            org = org(&state),
                            base = state.link_base()
                        ),
                    },
                );
            }
        }
        Err(e) => return Err(e.into()),
    }
    message(
        frame,
        "Check your email",
        &[
            &format!(
                "We have sent an email to {email}. Open the link in it to confirm your address and finish creating your account."
            ),
            "The link works for 48 hours. If the email has not arrived after a few minutes, check your spam folder.",
        ],
        None,
    )
}

#[derive(Template)]
#[template(path = "account/confirm_link.html")]
struct ConfirmLinkPage {
    frame: Frame,
    title: &'static str,
    text: &'static str,
    action: &'static str,
    button: &'static str,
    token: String,
}

/// Opening an emailed link only shows a button: mail scanners open links too, and must not
/// confirm or change anything by doing so.
async fn verify_page(frame: Frame, Query(q): Query<TokenQuery>) -> Result<Response, AppError> {
    if Secret::parse(&q.token).is_none() {
        return link_problem(frame, ("/account/sign-in", "Sign in to get a new link"));
    }
    Ok(no_store(render(&ConfirmLinkPage {
        frame,
        title: "Confirm your email address",
        text: "Select the button to confirm this email address belongs to you.",
        action: "/account/verify",
        button: "Confirm my email address",
        token: q.token,
    })?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TokenForm {
    csrf: String,
    token: String,
}

async fn verify(
    State(state): State<AppState>,
    frame: Frame,
    Form(form): Form<TokenForm>,
) -> Result<Response, AppError> {
    state.check_form(&frame.visitor, &form.csrf)?;
    let Some(secret) = Secret::parse(&form.token) else {
        return link_problem(frame, ("/account/sign-in", "Sign in to get a new link"));
    };
    let claim = state
        .stores()
        .links
        .consume_link(&secret.hash(), LinkPurpose::VerifyEmail, state.now())
        .await?;
    let Some(claim) = claim else {
        return link_problem(frame, ("/account/sign-in", "Sign in to get a new link"));
    };
    state
        .stores()
        .accounts
        .mark_email_verified(claim.account)
        .await?;
    // The address is proved theirs: a record we already hold for it (from a form, say) is
    // linked to the account now.
    state
        .stores()
        .people
        .person_for_account(claim.account)
        .await?;
    message(
        frame,
        "Email address confirmed",
        &["Your account is ready to use."],
        Some(("/account/sign-in", "Sign in")),
    )
}

// ---------- sign-in, second factor, sign-out ----------

#[derive(Template)]
#[template(path = "account/sign_in.html")]
struct SignInPage {
    frame: Frame,
    form: FormState,
    return_to: String,
    notice: Option<&'static str>,
}

#[derive(Deserialize)]
struct SignInQuery {
    #[serde(default)]
    return_to: String,
    #[serde(default)]
    done: String,
}

async fn sign_in_page(frame: Frame, Query(q): Query<SignInQuery>) -> Result<Response, AppError> {
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

async fn sign_in(
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

/// The token that carries a correct password over to the code page: the account and the time,
/// signed, valid for five minutes.
/// The password hash is in the MAC, so a change of password voids every step token.
fn step_token(state: &AppState, account: &Account, issued: i64) -> String {
    let mac = Hmac::<Sha256>::new_from_slice(&state.inner.keys.second_factor).map(|mut m| {
        m.update(&account.id.to_be_bytes());
        m.update(&issued.to_be_bytes());
        m.update(account.password_hash.as_bytes());
        hex::encode(m.finalize().into_bytes())
    });
    format!("{}.{issued}.{}", account.id, mac.unwrap_or_default())
}

/// The account and the time its password was checked, if the token is genuine and at most
/// five minutes old. Wrong codes do not renew it.
async fn check_step_token(
    state: &AppState,
    token: &str,
) -> Result<Option<(Account, i64)>, AppError> {
    let mut parts = token.splitn(3, '.');
    let (Some(id), Some(issued)) = (
        parts.next().and_then(|p| p.parse::<i64>().ok()),
        parts.next().and_then(|p| p.parse::<i64>().ok()),
    ) else {
        return Ok(None);
    };
    let fresh = state
        .now()
        .unix_timestamp()
        .checked_sub(issued)
        .is_some_and(|age| (0..=300).contains(&age));
    if !fresh {
        return Ok(None);
    }
    let Some(account) = state.stores().accounts.account(id).await? else {
        return Ok(None);
    };
    let genuine = crate::kit::csrf::same(
        step_token(state, &account, issued).as_bytes(),
        token.as_bytes(),
    );
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
struct CodeForm {
    csrf: String,
    step: String,
    code: String,
    #[serde(default)]
    return_to: String,
}

async fn sign_in_code(
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
            Some(hash) => state.stores().accounts.use_recovery_code(id, &hash).await?,
            None => false,
        }
    } else {
        match totp::verify(&secret, code, state.now().unix_timestamp(), None) {
            // The store refuses a step already used, so a code seen over someone's shoulder
            // cannot be replayed.
            Some(step) => state.stores().accounts.use_totp_step(id, step).await?,
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

async fn sign_out(
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

async fn sign_out_everywhere(
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

// ---------- forgotten password ----------

#[derive(Template)]
#[template(path = "account/forgot.html")]
struct ForgotPage {
    frame: Frame,
    form: FormState,
}

async fn forgot_page(frame: Frame) -> Result<Response, AppError> {
    Ok(no_store(render(&ForgotPage {
        frame,
        form: FormState::new(),
    })?))
}

async fn forgot(
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

async fn reset_page(frame: Frame, Query(q): Query<TokenQuery>) -> Result<Response, AppError> {
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

async fn reset(
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

// ---------- the account page and profile ----------

#[derive(Template)]
#[template(path = "account/account.html")]
struct AccountPage<'a> {
    frame: Frame,
    account: &'a Account,
    form: FormState,
    topics: &'a [Topic],
    chosen: Vec<String>,
    purposes: Vec<Purpose>,
    notice: Option<&'static str>,
}

impl AccountPage<'_> {
    fn purpose_name(&self, id: &str) -> String {
        self.purposes
            .iter()
            .find(|p| p.id == id)
            .map_or_else(String::new, |p| p.name.clone())
    }

    fn has_topic(&self, id: &str) -> bool {
        self.chosen.iter().any(|t| t == id)
    }
}

#[derive(Deserialize)]
struct AccountQuery {
    #[serde(default)]
    done: String,
}

fn profile_form(account: &Account) -> FormState {
    let p = &account.profile;
    FormState::new()
        .with_value("name", &p.name)
        .with_value("job_title", &p.job_title)
        .with_value("phone", p.phone.as_ref().map_or("", Phone::as_str))
        .with_value("postal_address", &p.postal_address)
        .with_value("postcode", p.postcode.as_ref().map_or("", Postcode::as_str))
}

fn account_view<'a>(
    state: &'a AppState,
    frame: Frame,
    account: &'a Account,
    form: FormState,
    chosen: Vec<String>,
    notice: Option<&'static str>,
) -> AccountPage<'a> {
    AccountPage {
        frame,
        account,
        form,
        topics: &state.inner.config.topics,
        chosen,
        purposes: purposes::registry(&state.inner.config),
        notice,
    }
}

async fn account_page(
    State(state): State<AppState>,
    user: SignedIn,
    frame: Frame,
    Query(q): Query<AccountQuery>,
) -> Result<Response, AppError> {
    let notice = match q.done.as_str() {
        "profile" => Some("Your profile has been saved."),
        "password" => {
            Some("Your password has been changed, and you have been signed out everywhere else.")
        }
        "email" => Some("Check your new email address for a link to confirm the change."),
        "email-changed" => Some("Your email address has been changed."),
        "two-factor" => Some("Your authenticator app is no longer needed to sign in."),
        _ => None,
    };
    let page = account_view(
        &state,
        frame,
        &user.account,
        profile_form(&user.account),
        user.account.profile.interests.clone(),
        notice,
    );
    Ok(no_store(render(&page)?))
}

const PROFILE_FIELDS: &[&str] = &[
    "csrf",
    "name",
    "job_title",
    "phone",
    "postal_address",
    "postcode",
    "interests",
];

async fn save_profile(
    State(state): State<AppState>,
    user: SignedIn,
    frame: Frame,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Result<Response, AppError> {
    let data = FormData::parse(pairs, PROFILE_FIELDS)?;
    state.check_form(&frame.visitor, data.get("csrf"))?;
    let mut form = FormState::from_data(
        &data,
        &["name", "job_title", "phone", "postal_address", "postcode"],
    );
    let name = plain_text(data.get("name"), 100, "Name")
        .map_err(|e| form.add_error("name", e.0))
        .unwrap_or_default();
    let job_title = plain_text(data.get("job_title"), 100, "Job title")
        .map_err(|e| form.add_error("job_title", e.0))
        .unwrap_or_default();
    let phone = match data.get("phone").trim() {
        "" => None,
        raw => Phone::parse(raw)
            .map_err(|e| form.add_error("phone", e.0))
            .ok(),
    };
    let postcode = match data.get("postcode").trim() {
        "" => None,
        raw => Postcode::parse(raw)
            .map_err(|e| form.add_error("postcode", e.0))
            .ok(),
    };
    let address_lines: Vec<String> = data
        .get("postal_address")
        .lines()
        .map(|l| plain_text(l, 100, "Each line of the address"))
        .collect::<Result<_, _>>()
        .map_err(|e| form.add_error("postal_address", e.0))
        .unwrap_or_default();
    if address_lines.len() > 6 {
        form.add_error("postal_address", "Postal address must be 6 lines or fewer");
    }
    let topics = &state.inner.config.topics;
    let chosen: Vec<String> = data
        .all("interests")
        .into_iter()
        .map(str::to_owned)
        .collect();
    if chosen.iter().any(|c| !topics.iter().any(|t| &t.id == c)) {
        form.add_error("interests", "Choose topics from the list");
    }
    if form.has_errors() {
        let page = account_view(&state, frame, &user.account, form, chosen, None);
        return Ok((StatusCode::UNPROCESSABLE_ENTITY, no_store(render(&page)?)).into_response());
    }
    let mut interests: Vec<String> = topics
        .iter()
        .filter(|t| chosen.contains(&t.id))
        .map(|t| t.id.clone())
        .collect();
    interests.dedup();
    let profile = Profile {
        name,
        job_title,
        phone,
        postal_address: address_lines
            .into_iter()
            .filter(|l| !l.is_empty())
            .collect::<Vec<_>>()
            .join("\n"),
        postcode,
        interests,
    };
    state
        .stores()
        .accounts
        .update_profile(user.account.id, &profile)
        .await?;
    Ok(Redirect::to("/account?done=profile").into_response())
}

// ---------- changing the email address or password ----------

async fn change_email(
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

async fn confirm_email_page(
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

async fn confirm_email(
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

async fn change_password(
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

// ---------- deleting the account ----------

#[derive(Template)]
#[template(path = "account/delete.html")]
struct DeletePage {
    frame: Frame,
    form: FormState,
}

async fn delete_page(_user: SignedIn, frame: Frame) -> Result<Response, AppError> {
    Ok(no_store(render(&DeletePage {
        frame,
        form: FormState::new(),
    })?))
}

async fn delete_account(
    State(state): State<AppState>,
    user: SignedIn,
    frame: Frame,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Result<Response, AppError> {
    let data = FormData::parse(pairs, &["csrf", "password"])?;
    state.check_form(&frame.visitor, data.get("csrf"))?;
    if !reauthenticate(&state, &user.account, data.get("password")).await? {
        let mut form = FormState::new();
        form.add_error("password", "Your password is not right");
        return Ok((
            StatusCode::UNPROCESSABLE_ENTITY,
            no_store(render(&DeletePage { frame, form })?),
        )
            .into_response());
    }
    if user.account.role == Some(Role::Admin) {
        let admins = state
            .stores()
            .accounts
            .staff()
            .await?
            .into_iter()
            .filter(|a| a.role == Some(Role::Admin))
            .count();
        if admins <= 1 {
            return Err(AppError::Conflict("You are the only administrator. Make someone else an administrator before deleting your account.".to_owned()));
        }
    }
    if user.account.role.is_some() {
        state
            .audit(
                &user.account,
                "staff.account-deleted",
                format!("account:{}", user.account.id),
                String::new(),
            )
            .await?;
    }
    state
        .stores()
        .accounts
        .delete_account(user.account.id)
        .await?;
    let page = MessagePage {
        frame: Frame::plain(&state, "/account/delete"),
        title: "Your account has been deleted".to_owned(),
        paragraphs: vec![
            "Your account, your profile and your sign-ins have been deleted.".to_owned(),
        ],
        link: Some(("/".to_owned(), "Go to the home page".to_owned())),
    };
    Ok((end_session_cookie(&state)?, no_store(render(&page)?)).into_response())
}

// ---------- second factor ----------

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
struct TwoFactorQuery {
    #[serde(default)]
    required: String,
}

/// Signs the secret shown on the set-up page, so the confirming post cannot swap it.
fn secret_sig(state: &AppState, account: i64, secret_b32: &str) -> String {
    Hmac::<Sha256>::new_from_slice(&state.inner.keys.second_factor)
        .map(|mut m| {
            m.update(b"setup:");
            m.update(&account.to_be_bytes());
            m.update(secret_b32.as_bytes());
            hex::encode(m.finalize().into_bytes())
        })
        .unwrap_or_default()
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

async fn two_factor_page(
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

async fn enable_two_factor(
    State(state): State<AppState>,
    user: SignedIn,
    frame: Frame,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Result<Response, AppError> {
    let data = FormData::parse(pairs, &["csrf", "secret", "sig", "code", "password"])?;
    state.check_form(&frame.visitor, data.get("csrf"))?;
    let b32 = data.get("secret");
    if !crate::kit::csrf::same(
        secret_sig(&state, user.account.id, b32).as_bytes(),
        data.get("sig").as_bytes(),
    ) {
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
    let accounts = &state.stores().accounts;
    accounts
        .enable_totp(user.account.id, secret.as_bytes(), &hashes)
        .await?;
    accounts.use_totp_step(user.account.id, step).await?;
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

async fn disable_two_factor(
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
        .accounts
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
