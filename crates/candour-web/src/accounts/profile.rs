//! The account page and the profile a person keeps there.

use askama::Template;
use axum::Form;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use candour_core::account::{Account, Profile};
use candour_core::account::{Phone, Postcode, plain_text};
use candour_core::config::Topic;
use candour_core::purposes::{self, Purpose};
use serde::Deserialize;

use crate::AppState;
use crate::kit::auth::SignedIn;
use crate::kit::error::AppError;
use crate::kit::form::{FormData, FormState};
use crate::kit::frame::{Frame, render};
use crate::kit::respond::no_store;

#[derive(Template)]
#[template(path = "account/account.html")]
pub(super) struct AccountPage<'a> {
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
pub(super) struct AccountQuery {
    #[serde(default)]
    done: String,
}

pub(super) fn profile_form(account: &Account) -> FormState {
    let p = &account.profile;
    FormState::new()
        .with_value("name", &p.name)
        .with_value("job_title", &p.job_title)
        .with_value("phone", p.phone.as_ref().map_or("", Phone::as_str))
        .with_value("postal_address", &p.postal_address)
        .with_value("postcode", p.postcode.as_ref().map_or("", Postcode::as_str))
}

pub(super) fn account_view<'a>(
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

pub(super) async fn account_page(
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

pub(super) async fn save_profile(
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
