//! Consents and objections that staff record for a person, with their evidence.

use axum::Form;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use candour_core::account::{Permission, plain_text};
use candour_core::people::ConsentChange;
use candour_core::people::{Evidence, Method, NewConsent, Person};
use candour_core::purposes::Channel;
use serde::Deserialize;

use crate::AppState;
use crate::kit::auth::Staff;
use crate::kit::error::AppError;
use crate::kit::form::FormState;
use crate::kit::frame::{Frame, render};
use crate::kit::respond::no_store;

use super::person::{details_form, load, person_page};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ConsentForm {
    csrf: String,
    /// `purpose|channel`.
    consent: String,
    grant: String,
    evidence: String,
    note: String,
}

/// What staff recorded as evidence, or what is wrong with it (field, message).
fn evidence_and_note(
    evidence: &str,
    note: &str,
) -> Result<(Evidence, String), Vec<(&'static str, String)>> {
    let mut errors = Vec::new();
    let evidence = Evidence::parse(evidence);
    if evidence.is_none() {
        errors.push((
            "evidence",
            "Choose what the person sent: a letter, a call or an email".to_owned(),
        ));
    }
    let note = match plain_text(note, 500, "The note") {
        Ok(n) if n.is_empty() => {
            errors.push((
                "note",
                "Say where the evidence is kept (such as the letter's date and reference)"
                    .to_owned(),
            ));
            n
        }
        Ok(n) => n,
        Err(e) => {
            errors.push(("note", e.0));
            String::new()
        }
    };
    match evidence {
        Some(e) if errors.is_empty() => Ok((e, note)),
        _ => Err(errors),
    }
}

/// The person page's form state after a refused consent or objection: their saved details,
/// what was typed into the form that was sent, and what was wrong.
pub(super) fn refused(
    person: &Person,
    typed: &[(&str, &str)],
    errors: Vec<(&'static str, String)>,
) -> FormState {
    let mut form = details_form(person);
    for (k, v) in typed {
        form = form.with_value(k, v);
    }
    for (field, message) in errors {
        form.add_error(field, message);
    }
    form
}

pub(super) async fn record_consent(
    State(state): State<AppState>,
    staff: Staff,
    frame: Frame,
    Path(id): Path<String>,
    Form(f): Form<ConsentForm>,
) -> Result<Response, AppError> {
    staff.require(Permission::ManagePeople)?;
    state.check_form(&frame.visitor, &f.csrf)?;
    let person = load(&state, &id).await?;
    let typed = [
        ("consent", f.consent.as_str()),
        ("grant", f.grant.as_str()),
        ("evidence", f.evidence.as_str()),
        ("note", f.note.as_str()),
    ];
    let (purpose, channel) = f.consent.split_once('|').unwrap_or((&f.consent, ""));
    let channel = match channel {
        "" => None,
        c => Channel::parse(c),
    };
    let granted = match f.grant.as_str() {
        "yes" => Some(true),
        "no" => Some(false),
        _ => None,
    };
    let known = state
        .purposes()
        .iter()
        .any(|p| p.id == purpose && p.is_consented() && p.consent_channels().contains(&channel));
    let mut errors = evidence_and_note(&f.evidence, &f.note)
        .err()
        .unwrap_or_default();
    if !known {
        errors.insert(
            0,
            ("consent", "Choose one of the consents listed".to_owned()),
        );
    }
    if granted.is_none() {
        errors.push((
            "grant",
            "Choose whether the person gave or withdrew consent".to_owned(),
        ));
    }
    if !errors.is_empty() {
        let form = refused(&person, &typed, errors);
        let page = person_page(&state, &staff, frame, person, form, None).await?;
        return Ok((StatusCode::UNPROCESSABLE_ENTITY, no_store(render(&page)?)).into_response());
    }
    let (evidence, note) = evidence_and_note(&f.evidence, &f.note)
        .map_err(|_| AppError::BadRequest("The evidence could not be read.".to_owned()))?;
    let granted = granted.unwrap_or(false);
    let event = NewConsent {
        purpose: purpose.to_owned(),
        channel,
        granted,
        method: Method::Staff { evidence },
        wording: None,
        actor: Some(staff.account.id),
        note: note.clone(),
    };
    let appended = state
        .stores()
        .ledger
        .append_consents(ConsentChange {
            person: person.id,
            events: std::slice::from_ref(&event),
            objections: &[],
            actor: Some(staff.account.id),
            purposes: state.purposes(),
            at: state.now(),
        })
        .await;
    if let Err(candour_core::store::StoreError::Consent(why)) = &appended {
        let form = refused(&person, &typed, vec![("consent", why.to_string())]);
        let page = person_page(&state, &staff, frame, person, form, None).await?;
        return Ok((StatusCode::CONFLICT, no_store(render(&page)?)).into_response());
    }
    appended?;
    state
        .audit(
            &staff.account,
            "person.consent-recorded",
            format!("person:{}", person.id),
            format!(
                "{} {}{}",
                if granted { "granted" } else { "withdrawn" },
                purpose,
                channel
                    .map(|c| format!(" by {}", c.as_str()))
                    .unwrap_or_default()
            ),
        )
        .await?;
    Ok(Redirect::to(&format!("/admin/people/{}?done=consent", person.id)).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ObjectionForm {
    csrf: String,
    channel: String,
    evidence: String,
    note: String,
}

pub(super) async fn record_objection(
    State(state): State<AppState>,
    staff: Staff,
    frame: Frame,
    Path(id): Path<String>,
    Form(f): Form<ObjectionForm>,
) -> Result<Response, AppError> {
    staff.require(Permission::ManagePeople)?;
    state.check_form(&frame.visitor, &f.csrf)?;
    let person = load(&state, &id).await?;
    let channel = Channel::parse(&f.channel);
    let checked = match channel {
        None => Err(vec![(
            "channel",
            "Choose the channel the person objects to".to_owned(),
        )]),
        Some(_) => evidence_and_note(&f.evidence, &f.note),
    };
    let (evidence, note) = match checked {
        Ok(v) => v,
        Err(errors) => {
            let form = refused(&person, &[], errors);
            let page = person_page(&state, &staff, frame, person, form, None).await?;
            return Ok((StatusCode::UNPROCESSABLE_ENTITY, no_store(render(&page)?)).into_response());
        }
    };
    let channel = channel.unwrap_or(Channel::Email);
    state
        .stores()
        .ledger
        .append_consents(ConsentChange {
            person: person.id,
            events: &[],
            objections: &[(channel, Method::Staff { evidence })],
            actor: Some(staff.account.id),
            purposes: state.purposes(),
            at: state.now(),
        })
        .await?;
    state
        .audit(
            &staff.account,
            "person.objection-recorded",
            format!("person:{}", person.id),
            format!("{} ({note})", channel.as_str()),
        )
        .await?;
    Ok(Redirect::to(&format!("/admin/people/{}?done=objection", person.id)).into_response())
}
