//! Changes made in the preference centre: consents, objections and interests.

use axum::Form;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect, Response};
use candour_core::fields::FieldErrors;
use candour_core::people::ConsentChange;
use candour_core::people::{Method, NewConsent, Wording, consent_wording};
use candour_core::purposes::Channel;
use serde::Deserialize;

use super::visit::{person_to_change, who};
use crate::AppState;
use crate::kit::error::AppError;
use crate::kit::frame::Frame;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ConsentForm {
    csrf: String,
    purpose: String,
    #[serde(default)]
    channel: String,
    /// `yes` to give consent, `no` to withdraw it.
    grant: String,
}

fn unknown(field: &str, allowed: &str) -> AppError {
    AppError::Invalid(FieldErrors::one(
        field,
        format!("Not one of the choices offered. Allowed: {allowed}"),
    ))
}

pub(super) async fn change_consent(
    State(state): State<AppState>,
    frame: Frame,
    headers: HeaderMap,
    Form(f): Form<ConsentForm>,
) -> Result<Response, AppError> {
    state.check_form(&frame.visitor, &f.csrf)?;
    let granted = match f.grant.as_str() {
        "yes" => true,
        "no" => false,
        _ => return Err(unknown("grant", "yes, no")),
    };
    let purposes = state.purposes();
    let purpose = purposes
        .iter()
        .find(|p| p.id == f.purpose && p.is_consented())
        .ok_or_else(|| unknown("purpose", "the purposes listed on the page"))?;
    let channel = if f.channel.is_empty() {
        None
    } else {
        Some(
            Channel::parse(&f.channel)
                .ok_or_else(|| unknown("channel", "email, phone, post, fax"))?,
        )
    };
    if !purpose.consent_channels().contains(&channel) {
        return Err(unknown("channel", "the channels listed for the purpose"));
    }
    let who = who(&state, &frame, &headers).await?;
    let person = person_to_change(&state, who).await?;
    let event = NewConsent {
        purpose: purpose.id.clone(),
        channel,
        granted,
        method: Method::PreferenceCentre,
        wording: Some(Wording::new(&consent_wording(purpose, channel, false))),
        actor: None,
        note: String::new(),
    };
    state
        .stores()
        .ledger
        .append_consents(ConsentChange {
            person: person.id,
            events: std::slice::from_ref(&event),
            objections: &[],
            actor: None,
            purposes,
            at: state.now(),
        })
        .await?;
    let done = if granted { "granted" } else { "withdrawn" };
    Ok(Redirect::to(&format!("/preferences?done={done}")).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ObjectForm {
    csrf: String,
    channel: String,
}

pub(super) async fn object(
    State(state): State<AppState>,
    frame: Frame,
    headers: HeaderMap,
    Form(f): Form<ObjectForm>,
) -> Result<Response, AppError> {
    state.check_form(&frame.visitor, &f.csrf)?;
    let channel =
        Channel::parse(&f.channel).ok_or_else(|| unknown("channel", "email, phone, post, fax"))?;
    let who = who(&state, &frame, &headers).await?;
    let person = person_to_change(&state, who).await?;
    state
        .stores()
        .ledger
        .append_consents(ConsentChange {
            person: person.id,
            events: &[],
            objections: &[(channel, Method::PreferenceCentre)],
            actor: None,
            purposes: state.purposes(),
            at: state.now(),
        })
        .await?;
    Ok(Redirect::to("/preferences?done=objected").into_response())
}

pub(super) async fn save_interests(
    State(state): State<AppState>,
    frame: Frame,
    headers: HeaderMap,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Result<Response, AppError> {
    let data = crate::kit::form::FormData::parse(pairs, &["csrf", "interests"])?;
    state.check_form(&frame.visitor, data.get("csrf"))?;
    let known: Vec<&str> = state
        .config()
        .topics
        .iter()
        .map(|t| t.id.as_str())
        .collect();
    let chosen = data.all("interests");
    if chosen.iter().any(|c| !known.contains(c)) {
        return Err(unknown("interests", &known.join(", ")));
    }
    let who = who(&state, &frame, &headers).await?;
    let person = person_to_change(&state, who).await?;
    let mut details = person.details.clone();
    details.interests = known
        .iter()
        .filter(|k| chosen.contains(k))
        .map(|k| (*k).to_owned())
        .collect();
    state
        .stores()
        .people
        .update_person(person.id, &details, state.now())
        .await?;
    Ok(Redirect::to("/preferences?done=interests").into_response())
}
