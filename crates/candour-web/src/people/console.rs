//! People in the admin console: find a person, see and change their record, record a
//! consent or an objection they sent by letter, call or email, export and erase their data,
//! and import people from a CSV file. Privacy officers and administrators; every view of a
//! person, every change and every export is in the audit log.

use askama::Template;
use axum::Form;
use axum::Router;
use axum::extract::{DefaultBodyLimit, Multipart, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use candour_core::account::{Permission, Phone, Postcode, plain_text};
use candour_core::import::{self, ImportCheck, ImportRefused};
use candour_core::people::{ConsentEvent, Evidence, Method, NewConsent, Person};
use candour_core::purposes::{Channel, Purpose};
use candour_core::store::{ConsentChange, ImportEvidence, ImportOutcome};
use serde::Deserialize;
use tower_http::limit::RequestBodyLimitLayer;

use crate::AppState;
use crate::kit::auth::Staff;
use crate::kit::error::AppError;
use crate::kit::form::{CsrfOnly, DoneQuery, FormData, FormState};
use crate::kit::frame::{Frame, render};
use crate::kit::nav::Section;
use crate::kit::respond::{attachment, no_store};

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/admin/people", get(search))
        .route("/admin/people/{id}", get(show).post(update))
        .route("/admin/people/{id}/consent", post(record_consent))
        .route("/admin/people/{id}/object", post(record_objection))
        .route("/admin/people/{id}/export", post(export))
        .route("/admin/people/{id}/erase", post(erase))
        .route("/admin/people/import", get(import_page))
        .route("/admin/people/import/{id}", get(preview).post(confirm))
}

/// The largest import file: about 50,000 rows with every column filled in.
pub(crate) const IMPORT_LIMIT_BYTES: usize = 16 * 1024 * 1024;

/// The upload route, with a body limit of its own (the site's is far smaller).
pub(crate) fn upload_routes() -> Router<AppState> {
    Router::new()
        .route("/admin/people/import", post(upload))
        .layer(DefaultBodyLimit::disable())
        .layer(RequestBodyLimitLayer::new(IMPORT_LIMIT_BYTES))
}

fn date(t: time::OffsetDateTime) -> String {
    candour_core::uk_time::readable_uk(t)
}

// ---------- search ----------

#[derive(Template)]
#[template(path = "admin/people.html")]
struct SearchPage {
    frame: Frame,
    sections: Vec<&'static Section>,
    query: String,
    results: Option<Vec<Person>>,
    total: u64,
    notice: Option<&'static str>,
}

#[derive(Deserialize)]
struct SearchQuery {
    #[serde(default)]
    q: String,
    #[serde(default)]
    done: String,
}

async fn search(
    State(state): State<AppState>,
    staff: Staff,
    frame: Frame,
    Query(q): Query<SearchQuery>,
) -> Result<Response, AppError> {
    staff.require(Permission::ManagePeople)?;
    let query: String = q.q.trim().chars().take(100).collect();
    let people = &state.stores().people;
    let results = if query.is_empty() {
        None
    } else {
        let found = people.search_people(&query, 50).await?;
        state
            .audit(
                &staff.account,
                "people.searched",
                "people".to_owned(),
                format!("{} found", found.len()),
            )
            .await?;
        Some(found)
    };
    let notice = (q.done == "erased").then_some(
        "The person has been erased. Any objection to marketing they made is kept, as a one-way code.",
    );
    Ok(no_store(render(&SearchPage {
        frame,
        sections: staff.sections.clone(),
        query,
        results,
        total: people.count_people().await?,
        notice,
    })?))
}

// ---------- one person ----------

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
struct PersonPage {
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

async fn person_page(
    state: &AppState,
    staff: &Staff,
    frame: Frame,
    person: Person,
    form: FormState,
    notice: Option<&'static str>,
) -> Result<PersonPage, AppError> {
    let people = &state.stores().people;
    let events = people.consent_events(person.id).await?;
    let objected = people.suppressed_channels(&person.email).await?;
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
        .campaigns
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
    })
}

fn details_form(p: &Person) -> FormState {
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

async fn load(state: &AppState, id: &str) -> Result<Person, AppError> {
    let id: i64 = id.parse().map_err(|_| AppError::NotFound)?;
    state
        .stores()
        .people
        .person(id)
        .await?
        .ok_or(AppError::NotFound)
}

async fn show(
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

async fn update(
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

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ConsentForm {
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
fn refused(
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

async fn record_consent(
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
        .people
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
struct ObjectionForm {
    csrf: String,
    channel: String,
    evidence: String,
    note: String,
}

async fn record_objection(
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
        .people
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

/// Everything held about the person, as JSON, from the data map. A POST, so that a
/// download is always a deliberate, audited act.
async fn export(
    State(state): State<AppState>,
    staff: Staff,
    frame: Frame,
    Path(id): Path<String>,
    Form(f): Form<CsrfOnly>,
) -> Result<Response, AppError> {
    staff.require(Permission::ManagePeople)?;
    state.check_form(&frame.visitor, &f.csrf)?;
    let person = load(&state, &id).await?;
    let data = state
        .stores()
        .people
        .export_person(person.id)
        .await?
        .ok_or(AppError::NotFound)?;
    state
        .audit(
            &staff.account,
            "person.exported",
            format!("person:{}", person.id),
            String::new(),
        )
        .await?;
    let body = serde_json::to_vec_pretty(&data).map_err(|e| AppError::Internal(Box::new(e)))?;
    Ok(attachment(
        "application/json",
        &format!("person-{}.json", person.id),
        body,
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EraseForm {
    csrf: String,
    #[serde(default)]
    confirm: String,
}

async fn erase(
    State(state): State<AppState>,
    staff: Staff,
    frame: Frame,
    Path(id): Path<String>,
    Form(f): Form<EraseForm>,
) -> Result<Response, AppError> {
    staff.require(Permission::ManagePeople)?;
    state.check_form(&frame.visitor, &f.csrf)?;
    let person = load(&state, &id).await?;
    if f.confirm != "yes" {
        let mut form = details_form(&person);
        form.add_error("confirm", "Tick the box to confirm the erasure");
        let page = person_page(&state, &staff, frame, person, form, None).await?;
        return Ok((StatusCode::UNPROCESSABLE_ENTITY, no_store(render(&page)?)).into_response());
    }
    state.stores().people.erase_person(person.id).await?;
    state
        .audit(
            &staff.account,
            "person.erased",
            format!("person:{}", person.id),
            String::new(),
        )
        .await?;
    Ok(Redirect::to("/admin/people?done=erased").into_response())
}

// ---------- import ----------

#[derive(Template)]
#[template(path = "admin/import.html")]
struct ImportPage {
    frame: Frame,
    sections: Vec<&'static Section>,
    form: FormState,
    columns: &'static [&'static str],
    max_rows: usize,
}

async fn import_page(staff: Staff, frame: Frame) -> Result<Response, AppError> {
    staff.require(Permission::ManagePeople)?;
    Ok(no_store(render(&ImportPage {
        frame,
        sections: staff.sections.clone(),
        form: FormState::new(),
        columns: import::COLUMNS,
        max_rows: import::MAX_ROWS,
    })?))
}

fn topic_ids(state: &AppState) -> Vec<String> {
    state.config().topics.iter().map(|t| t.id.clone()).collect()
}

async fn upload(
    State(state): State<AppState>,
    staff: Staff,
    frame: Frame,
    mut multipart: Multipart,
) -> Result<Response, AppError> {
    staff.require(Permission::ManagePeople)?;
    let mut csrf = String::new();
    let mut file: Option<Vec<u8>> = None;
    let unreadable = |e: axum::extract::multipart::MultipartError| {
        AppError::BadRequest(format!("The upload could not be read: {}", e.body_text()))
    };
    while let Some(field) = multipart.next_field().await.map_err(unreadable)? {
        match field.name() {
            Some("csrf") => csrf = field.text().await.map_err(unreadable)?,
            Some("file") => file = Some(field.bytes().await.map_err(unreadable)?.to_vec()),
            other => {
                return Err(AppError::BadRequest(format!(
                    "This form does not accept the field `{}`. Accepted fields: csrf, file",
                    other.unwrap_or("").chars().take(40).collect::<String>()
                )));
            }
        }
    }
    state.check_form(&frame.visitor, &csrf)?;
    let bytes = file.unwrap_or_default();
    let refused = import::check(&bytes, &topic_ids(&state)).err();
    if let Some(why) = refused {
        let mut form = FormState::new();
        form.add_error("file", why.to_string());
        let page = ImportPage {
            frame,
            sections: staff.sections.clone(),
            form,
            columns: import::COLUMNS,
            max_rows: import::MAX_ROWS,
        };
        return Ok((StatusCode::UNPROCESSABLE_ENTITY, no_store(render(&page)?)).into_response());
    }
    // `check` accepted the bytes as UTF-8.
    let text = String::from_utf8(bytes).map_err(|e| AppError::Internal(Box::new(e)))?;
    let id = state
        .stores()
        .people
        .stage_import(staff.account.id, &text, state.now())
        .await?;
    state
        .audit(
            &staff.account,
            "people.import-uploaded",
            format!("import:{id}"),
            format!("{} bytes", text.len()),
        )
        .await?;
    Ok(Redirect::to(&format!("/admin/people/import/{id}")).into_response())
}

#[derive(Template)]
#[template(path = "admin/import_preview.html")]
struct PreviewPage {
    frame: Frame,
    sections: Vec<&'static Section>,
    id: i64,
    check: ImportCheck,
    /// Consents a file can carry evidence of: `purpose|channel` and their words.
    consents: Vec<(String, String)>,
    form: FormState,
    done: Option<ImportOutcome>,
}

impl PreviewPage {
    fn chosen(&self, key: &str) -> bool {
        self.form.value("consents").split('\n').any(|k| k == key)
    }
}

fn consent_choices(purposes: &[Purpose]) -> Vec<(String, String)> {
    purposes
        .iter()
        .filter(|p| p.is_consented())
        .flat_map(|p| {
            p.consent_channels().into_iter().map(|c| {
                (
                    format!("{}|{}", p.id, c.map_or("", Channel::as_str)),
                    candour_core::people::consent_wording(p, c, false),
                )
            })
        })
        .collect()
}

/// The staged file, re-checked (it is kept as uploaded, not as parsed).
async fn staged(
    state: &AppState,
    staff: &Staff,
    id: &str,
) -> Result<(i64, Option<ImportCheck>), AppError> {
    let id: i64 = id.parse().map_err(|_| AppError::NotFound)?;
    let staged = state
        .stores()
        .people
        .staged_import(id)
        .await?
        .ok_or(AppError::NotFound)?;
    if staged.actor != staff.account.id {
        return Err(AppError::Forbidden(
            "Only the person who uploaded a file can import it.".to_owned(),
        ));
    }
    if staged.committed_at.is_some() {
        return Ok((id, None));
    }
    let check = import::check(staged.csv.as_bytes(), &topic_ids(state))
        .map_err(|e: ImportRefused| AppError::Conflict(e.to_string()))?;
    Ok((id, Some(check)))
}

async fn preview(
    State(state): State<AppState>,
    staff: Staff,
    frame: Frame,
    Path(id): Path<String>,
) -> Result<Response, AppError> {
    staff.require(Permission::ManagePeople)?;
    let (id, check) = staged(&state, &staff, &id).await?;
    let Some(check) = check else {
        return Err(AppError::Conflict(
            "This file has already been imported.".to_owned(),
        ));
    };
    Ok(no_store(render(&PreviewPage {
        frame,
        sections: staff.sections.clone(),
        id,
        check,
        consents: consent_choices(state.purposes()),
        form: FormState::new().with_value("evidence", "none"),
        done: None,
    })?))
}

async fn confirm(
    State(state): State<AppState>,
    staff: Staff,
    frame: Frame,
    Path(id): Path<String>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Result<Response, AppError> {
    staff.require(Permission::ManagePeople)?;
    let data = FormData::parse(pairs, &["csrf", "evidence", "consents", "source"])?;
    state.check_form(&frame.visitor, data.get("csrf"))?;
    let (id, check) = staged(&state, &staff, &id).await?;
    let Some(check) = check else {
        return Err(AppError::Conflict(
            "This file has already been imported.".to_owned(),
        ));
    };
    let choices = consent_choices(state.purposes());
    let mut form = FormState::new()
        .with_value("evidence", data.get("evidence"))
        .with_value("source", data.get("source"))
        .with_value("consents", &data.all("consents").join("\n"));
    let evidence = match data.get("evidence") {
        "none" => None,
        "consent" => {
            let picked: Vec<&str> = data.all("consents");
            if picked.is_empty() {
                form.add_error("consents", "Choose what the people in the file agreed to");
            }
            if picked.iter().any(|k| !choices.iter().any(|(c, _)| c == k)) {
                form.add_error("consents", "Choose from the consents listed");
            }
            let source = match plain_text(data.get("source"), 500, "The source") {
                Ok(s) if s.is_empty() => {
                    form.add_error(
                        "source",
                        "Say where the file came from and when its people agreed",
                    );
                    s
                }
                Ok(s) => s,
                Err(e) => {
                    form.add_error("source", e.0);
                    String::new()
                }
            };
            let consents = picked
                .iter()
                .filter_map(|k| k.split_once('|'))
                .map(|(p, c)| (p.to_owned(), Channel::parse(c)))
                .collect();
            Some(ImportEvidence { consents, source })
        }
        _ => {
            form.add_error("evidence", "Choose whether the file records consent");
            None
        }
    };
    if check.rows.is_empty() {
        form.add_error("evidence", "No row of the file can be imported");
    }
    if form.has_errors() {
        let page = PreviewPage {
            frame,
            sections: staff.sections.clone(),
            id,
            check,
            consents: choices,
            form,
            done: None,
        };
        return Ok((StatusCode::UNPROCESSABLE_ENTITY, no_store(render(&page)?)).into_response());
    }
    let outcome = state
        .stores()
        .people
        .commit_import(
            id,
            &check.rows,
            evidence.as_ref(),
            state.purposes(),
            state.now(),
        )
        .await?;
    state
        .audit(
            &staff.account,
            "people.imported",
            format!("import:{id}"),
            format!(
                "{} created, {} updated, {} consents, {} consents refused by objections, {} kept the person's own choice, {} rows left out",
                outcome.created,
                outcome.updated,
                outcome.consents,
                outcome.suppressed,
                outcome.kept,
                check.errors.len()
            ),
        )
        .await?;
    Ok(no_store(render(&PreviewPage {
        frame,
        sections: staff.sections.clone(),
        id,
        check,
        consents: choices,
        form: FormState::new(),
        done: Some(outcome),
    })?))
}
