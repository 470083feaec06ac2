//! One person's record in the console, and changes to their details.

use askama::Template;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use candour_core::account::{Permission, Phone, Postcode, plain_text};
use candour_core::people::{ConsentEvent, Evidence, Person};
use candour_core::purposes::{Channel, Purpose};

use crate::AppState;
use crate::kit::auth::Staff;
use crate::kit::error::AppError;
use crate::kit::form::{DoneQuery, FormData, FormState};
use crate::kit::frame::{Frame, render};
use crate::kit::nav::Section;
use crate::kit::respond::no_store;

use super::date;

struct ConsentRow {
    key: String,
    wording: String,
    granted: bool,
    since: String,
    how: String,
}

struct HistoryRow {
    at: String,
    what: String,
    granted: bool,
    how: String,
    note: String,
}

#[derive(Template)]
#[template(path = "admin/person.html")]
pub(super) struct PersonPage {
    frame: Frame,
    sections: Vec<&'static Section>,
    person: Person,
    form: FormState,
    topics: Vec<(String, String, bool)>,
    consents: Vec<ConsentRow>,
    objected: Vec<Channel>,
    history: Vec<HistoryRow>,
    channels: Vec<Channel>,
    evidence: [Evidence; 3],
    notice: Option<&'static str>,
    messages: Vec<MessageRow>,
    /// Whether to link to the audit log of who has seen this record.
    can_read_audit: bool,
    /// The recipients the export may be made for.
    export_for: Vec<candour_core::disclosures::Recipient>,
}

/// A campaign email the person was sent, with their opens and clicks if they agreed to
/// tracking.
struct MessageRow {
    campaign: i64,
    name: String,
    subject: String,
    state: String,
    sent: String,
    tracked: bool,
    opens: usize,
    clicks: Vec<String>,
}

fn consent_rows(purposes: &[Purpose], events: &[ConsentEvent]) -> Vec<ConsentRow> {
    candour_core::people::standings(purposes, events)
        .into_iter()
        .map(|st| ConsentRow {
            key: format!(
                "{}|{}",
                st.purpose.id,
                st.channel.map_or("", Channel::as_str)
            ),
            granted: st.granted(),
            since: st.last.map(|e| date(e.at)).unwrap_or_default(),
            how: st.last.map(|e| e.method.describe()).unwrap_or_default(),
            wording: st.wording,
        })
        .collect()
}

pub(super) async fn person_page(
    state: &AppState,
    staff: &Staff,
    frame: Frame,
    person: Person,
    form: FormState,
    notice: Option<&'static str>,
) -> Result<PersonPage, AppError> {
    let ledger = &state.stores().ledger;
    let events = ledger.consent_events(person.id).await?;
    let objected = ledger.suppressed_channels(&person.email).await?;
    let purposes = state.purposes();
    let history = events
        .iter()
        .rev()
        .map(|e| HistoryRow {
            at: date(e.at),
            what: purposes
                .iter()
                .find(|p| p.id == e.purpose)
                .map_or(e.purpose.clone(), |p| p.name.clone())
                + &e.channel
                    .map(|c| format!(", by {}", c.label()))
                    .unwrap_or_default(),
            granted: e.granted,
            how: e.method.describe(),
            note: e
                .wording
                .as_ref()
                .map(|w| format!("Shown: “{}”. ", w.text))
                .unwrap_or_default()
                + &e.note,
        })
        .collect();
    let channels = candour_core::purposes::marketing_channels(purposes);
    let topics = state
        .config()
        .topics
        .iter()
        .map(|t| {
            (
                t.id.clone(),
                t.label.clone(),
                person.details.interests.contains(&t.id),
            )
        })
        .collect();
    let mut messages = Vec::new();
    let mut links_of: std::collections::HashMap<i64, Vec<String>> = Default::default();
    for d in state
        .stores()
        .deliveries
        .person_deliveries(person.id)
        .await?
    {
        // Each campaign's links are read once, and only for campaigns the person clicked in.
        if d.events.iter().any(|e| e.1) && !links_of.contains_key(&d.campaign) {
            let links = state
                .stores()
                .campaigns
                .campaign(d.campaign)
                .await?
                .map(|c| c.links)
                .unwrap_or_default();
            links_of.insert(d.campaign, links);
        }
        let links = links_of.get(&d.campaign).map_or(&[][..], Vec::as_slice);
        messages.push(MessageRow {
            campaign: d.campaign,
            name: d.campaign_name,
            subject: d.subject,
            state: d.state,
            sent: d.sent_at.map(date).unwrap_or_default(),
            tracked: d.tracked,
            opens: d.events.iter().filter(|e| !e.1 && !e.3).count(),
            clicks: d
                .events
                .iter()
                .filter(|e| e.1 && !e.3)
                .map(|e| {
                    let url = links.get(usize::from(e.2)).cloned().unwrap_or_default();
                    format!("{} ({})", url, date(e.0))
                })
                .collect(),
        });
    }
    Ok(PersonPage {
        frame,
        sections: staff.sections.clone(),
        messages,
        consents: consent_rows(purposes, &events),
        objected,
        history,
        channels,
        evidence: Evidence::ALL,
        topics,
        form,
        notice,
        person,
        can_read_audit: staff.may(Permission::ReadAudit),
        export_for: crate::disclosures::export::choices(state).await?,
    })
}

pub(super) fn details_form(p: &Person) -> FormState {
    FormState::new()
        .with_value("name", &p.details.name)
        .with_value("job_title", &p.details.job_title)
        .with_value("phone", p.details.phone.as_ref().map_or("", Phone::as_str))
        .with_value("postal_address", &p.details.postal_address)
        .with_value(
            "postcode",
            p.details.postcode.as_ref().map_or("", Postcode::as_str),
        )
}

pub(super) async fn load(state: &AppState, id: &str) -> Result<Person, AppError> {
    let id: i64 = id.parse().map_err(|_| AppError::NotFound)?;
    state
        .stores()
        .people
        .person(id)
        .await?
        .ok_or(AppError::NotFound)
}

pub(super) async fn show(
    State(state): State<AppState>,
    staff: Staff,
    frame: Frame,
    Path(id): Path<String>,
    Query(q): Query<DoneQuery>,
) -> Result<Response, AppError> {
    staff.require(Permission::ManagePeople)?;
    let person = load(&state, &id).await?;
    state
        .audit(
            &staff.account,
            "person.viewed",
            format!("person:{}", person.id),
            String::new(),
        )
        .await?;
    let notice = match q.done.as_str() {
        "saved" => Some("The record has been saved."),
        "consent" => Some("The consent has been recorded in the ledger."),
        "objection" => {
            Some("The objection has been recorded; marketing by that channel has stopped.")
        }
        _ => None,
    };
    let form = details_form(&person);
    Ok(no_store(render(
        &person_page(&state, &staff, frame, person, form, notice).await?,
    )?))
}

const DETAIL_FIELDS: &[&str] = &[
    "csrf",
    "name",
    "job_title",
    "phone",
    "postal_address",
    "postcode",
    "interests",
];

pub(super) async fn update(
    State(state): State<AppState>,
    staff: Staff,
    frame: Frame,
    Path(id): Path<String>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Result<Response, AppError> {
    staff.require(Permission::ManagePeople)?;
    let person = load(&state, &id).await?;
    let data = FormData::parse(pairs, DETAIL_FIELDS)?;
    state.check_form(&frame.visitor, data.get("csrf"))?;
    let mut form = FormState::from_data(
        &data,
        &["name", "job_title", "phone", "postal_address", "postcode"],
    );
    let mut details = person.details.clone();
    let mut text =
        |field: &str, what: &str, slot: &mut String| match plain_text(data.get(field), 300, what) {
            Ok(v) => *slot = v,
            Err(e) => form.add_error(field, e.0),
        };
    text("name", "Name", &mut details.name);
    text("job_title", "Job title", &mut details.job_title);
    text(
        "postal_address",
        "Postal address",
        &mut details.postal_address,
    );
    details.phone = match data.get("phone").trim() {
        "" => None,
        raw => match Phone::parse(raw) {
            Ok(p) => Some(p),
            Err(e) => {
                form.add_error("phone", e.0);
                None
            }
        },
    };
    details.postcode = match data.get("postcode").trim() {
        "" => None,
        raw => match Postcode::parse(raw) {
            Ok(p) => Some(p),
            Err(e) => {
                form.add_error("postcode", e.0);
                None
            }
        },
    };
    let known: Vec<&str> = state
        .config()
        .topics
        .iter()
        .map(|t| t.id.as_str())
        .collect();
    let chosen = data.all("interests");
    if chosen.iter().any(|c| !known.contains(c)) {
        form.add_error("interests", "Choose from the topics listed");
    }
    details.interests = known
        .iter()
        .filter(|k| chosen.contains(k))
        .map(|k| (*k).to_owned())
        .collect();
    if form.has_errors() {
        let page = person_page(&state, &staff, frame, person, form, None).await?;
        return Ok((StatusCode::UNPROCESSABLE_ENTITY, no_store(render(&page)?)).into_response());
    }
    state
        .stores()
        .people
        .update_person(person.id, &details, state.now())
        .await?;
    state
        .audit(
            &staff.account,
            "person.changed",
            format!("person:{}", person.id),
            String::new(),
        )
        .await?;
    Ok(Redirect::to(&format!("/admin/people/{}?done=saved", person.id)).into_response())
}
