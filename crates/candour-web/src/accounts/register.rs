//! Registration and the emailed link that confirms the address.

use std::net::SocketAddr;

use askama::Template;
use axum::Form;
use axum::extract::{ConnectInfo, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use candour_core::account::NewAccount;
use candour_core::account::{
    EmailAddress, PASSWORD_MIN_CHARS, PASSWORD_RECOMMENDED_CHARS, check_new_password, plain_text,
};
use candour_core::session::{LinkPurpose, Secret};
use candour_core::store::StoreError;
use candour_mail::Email;

use crate::AppState;
use crate::kit::error::AppError;
use crate::kit::form::{FormData, FormState};
use crate::kit::frame::{Frame, render};
use crate::kit::limits;
use crate::kit::mail::{org, send_later};
use crate::kit::passwords;
use crate::kit::respond::no_store;

use super::{ConfirmLinkPage, TokenForm, TokenQuery, link_problem, make_link, message};

#[derive(Template)]
#[template(path = "account/register.html")]
struct RegisterPage {
    frame: Frame,
    form: FormState,
    min: usize,
    recommended: usize,
}

pub(super) async fn register_page(
    State(state): State<AppState>,
    frame: Frame,
) -> Result<Response, AppError> {
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

pub(super) async fn register(
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
    let limit = limits::register_per_address(
        state
            .inner
            .config
            .accounts
            .registrations_per_address_per_hour,
    );
    limits::hit(&state, limit, &ip).await?;

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

/// Opening an emailed link only shows a button: mail scanners open links too, and must not
/// confirm or change anything by doing so.
pub(super) async fn verify_page(
    frame: Frame,
    Query(q): Query<TokenQuery>,
) -> Result<Response, AppError> {
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

pub(super) async fn verify(
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
