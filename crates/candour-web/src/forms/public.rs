//! Forms and surveys for the public: the list of open forms, a form's page, and its
//! submission. Pages work without JavaScript; errors follow the GOV.UK error-summary pattern
//! and keep what was typed. A submission is stored in one transaction with the person's
//! record and their consent events, or not at all.

use askama::Template;
use axum::Form;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use candour_core::account::EmailAddress;
use candour_core::config::MarketingConsent;
use candour_core::fields::{FieldError, FieldErrors};
use candour_core::forms::{self, FieldKind, FormDefinition, consent_boxes};
use candour_core::forms::{FormRecord, NewResponse, PendingConsents};
use candour_core::people::{PendingGrant, split_for_confirmation};
use candour_core::policy::hours_in_words;
use candour_core::purposes::Purpose;
use candour_core::session::Secret;
use candour_core::store::StoreError;
use candour_core::uk_time::{DateProblem, parse_date_input};
use candour_mail::Email;
use time::Duration;

use std::net::SocketAddr;

use axum::extract::ConnectInfo;
use axum::http::HeaderMap;

use crate::AppState;
use crate::kit::error::AppError;
use crate::kit::form::{FormData, FormState};
use crate::kit::frame::{Frame, render};
use crate::kit::limits;
use crate::kit::mail::{org, send_later};
use crate::kit::respond::no_store;

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/forms", get(list))
        .route("/forms/{id}", get(show).post(submit))
}

/// One consent box as shown.
pub(crate) struct BoxView {
    pub value: &'static str,
    pub wording: String,
    pub checked: bool,
}

/// One question as shown, with what was typed and what was wrong.
pub(crate) struct FieldView {
    pub key: String,
    pub label: String,
    pub hint: String,
    pub kind: FieldKind,
    pub required: bool,
    pub value: String,
    pub picked: Vec<String>,
    pub error: Option<String>,
    pub choices: Vec<String>,
    pub boxes: Vec<BoxView>,
    pub purpose_name: String,
    pub purpose_description: String,
    pub saves_to: Option<candour_core::forms::PersonAttr>,
    /// A date question's day, month and year as typed (the GOV.UK date input).
    pub date: [String; 3],
    /// Which of them the error is about (all, when it does not say).
    pub date_wrong: [bool; 3],
}

impl FieldView {
    pub fn input_type(&self) -> &'static str {
        match self.kind {
            FieldKind::Email => "email",
            FieldKind::Phone => "tel",
            _ => "text",
        }
    }

    pub fn autocomplete(&self) -> &'static str {
        use candour_core::forms::PersonAttr;
        // Known purposes of inputs (WCAG 1.3.5) only for fields that fill the record in.
        match self.kind {
            FieldKind::Email => "email",
            FieldKind::Phone => "tel",
            FieldKind::Postcode => "postal-code",
            _ => match self.saves_to {
                Some(PersonAttr::Name) => "name",
                Some(PersonAttr::JobTitle) => "organization-title",
                Some(PersonAttr::PostalAddress) => "street-address",
                _ => "off",
            },
        }
    }

    /// Whether the date input's part `i` (day, month, year) is marked as wrong.
    pub fn part_in_error(&self, i: usize) -> bool {
        self.error.is_some()
            && (self.date_wrong.get(i).copied().unwrap_or(false)
                || !self.date_wrong.iter().any(|w| *w))
    }

    pub fn is_picked(&self, choice: &str) -> bool {
        self.picked.iter().any(|p| p == choice)
    }

    pub fn is_text(&self) -> bool {
        matches!(
            self.kind,
            FieldKind::ShortText | FieldKind::Email | FieldKind::Phone | FieldKind::Postcode
        )
    }

    /// The id an error-summary link points at: the first input of the question.
    pub fn anchor(&self) -> String {
        match self.kind {
            FieldKind::SingleChoice
            | FieldKind::MultipleChoice
            | FieldKind::Rating
            | FieldKind::Consent => format!("{}-0", self.key),
            FieldKind::Date => {
                let first = self.date_wrong.iter().position(|w| *w).unwrap_or(0);
                format!("{}-{}", self.key, DATE_PARTS[first])
            }
            _ => self.key.clone(),
        }
    }
}

/// The questions of `definition` as shown, filled in from `data` (if any) with `errors`.
pub(crate) fn field_views(
    definition: &FormDefinition,
    purposes: &[Purpose],
    mode: MarketingConsent,
    data: Option<&FormData>,
    errors: &FieldErrors,
) -> Vec<FieldView> {
    definition
        .fields
        .iter()
        .map(|f| {
            let posted: Vec<String> = data
                .map(|d| d.all(&f.key).into_iter().map(str::to_owned).collect())
                .unwrap_or_default();
            let purpose = f
                .purpose
                .as_ref()
                .and_then(|id| purposes.iter().find(|p| &p.id == id));
            let boxes = purpose
                .map(|p| {
                    consent_boxes(p, mode)
                        .into_iter()
                        .map(|b| BoxView {
                            value: b.value,
                            checked: posted.iter().any(|v| v == b.value),
                            wording: b.wording,
                        })
                        .collect()
                })
                .unwrap_or_default();
            FieldView {
                key: f.key.clone(),
                label: f.label.clone(),
                hint: f.hint.clone(),
                kind: f.kind,
                required: f.required,
                value: posted.first().cloned().unwrap_or_default(),
                error: errors.problem(&f.key).map(str::to_owned),
                picked: posted,
                choices: if f.kind == FieldKind::Rating {
                    (1..=5).map(|n| n.to_string()).collect()
                } else {
                    f.choices.clone()
                },
                boxes,
                purpose_name: purpose.map(|p| p.name.clone()).unwrap_or_default(),
                purpose_description: purpose.map(|p| p.description.clone()).unwrap_or_default(),
                saves_to: f.saves_to,
                date: DATE_PARTS.map(|part| {
                    data.map(|d| d.get(&format!("{}-{part}", f.key)).to_owned())
                        .unwrap_or_default()
                }),
                date_wrong: [false; 3],
            }
        })
        .collect()
}

/// Text for each question, by its key.
type ByQuestion = Vec<(String, String)>;

/// The names of a date question's three inputs, after its key: `q3-day`, `q3-month`, `q3-year`.
const DATE_PARTS: [&str; 3] = ["day", "month", "year"];

/// Each date question's answer as the submission parser reads it (`YYYY-MM-DD`, or empty
/// when nothing was typed), from its three inputs; or what is wrong with it, in the GOV.UK
/// date input's words.
fn typed_dates(
    definition: &FormDefinition,
    data: &FormData,
) -> (ByQuestion, Vec<(String, DateProblem)>) {
    let mut values = Vec::new();
    let mut problems = Vec::new();
    for f in definition
        .fields
        .iter()
        .filter(|f| f.kind == FieldKind::Date)
    {
        let [day, month, year] = DATE_PARTS.map(|part| data.get(&format!("{}-{part}", f.key)));
        // The message sits by the question and the summary links to it.
        match parse_date_input("The date", day, month, year) {
            Ok(date) => values.push((
                f.key.clone(),
                date.map(|d| format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day()))
                    .unwrap_or_default(),
            )),
            Err(problem) => {
                values.push((f.key.clone(), String::new()));
                problems.push((f.key.clone(), problem));
            }
        }
    }
    (values, problems)
}

#[derive(Template)]
#[template(path = "forms/list.html")]
struct ListPage {
    frame: Frame,
    forms: Vec<FormRecord>,
}

async fn list(State(state): State<AppState>, frame: Frame) -> Result<Response, AppError> {
    let forms = state
        .stores()
        .forms
        .forms()
        .await?
        .into_iter()
        .filter(|f| f.open)
        .collect();
    Ok(render(&ListPage { frame, forms })?.into_response())
}

#[derive(Template)]
#[template(path = "forms/show.html")]
struct FormPage {
    frame: Frame,
    record: FormRecord,
    fields: Vec<FieldView>,
    /// The purposes the answers are used for.
    purposes: Vec<Purpose>,
    /// The error summary.
    form: FormState,
    /// Shown to staff in the console: the same page, with nothing to send.
    preview: bool,
}

#[derive(Template)]
#[template(path = "forms/done.html")]
struct DonePage {
    frame: Frame,
    title: String,
    heading: &'static str,
    message: String,
    /// Whether to offer the preference centre.
    consented: bool,
}

async fn load(state: &AppState, id: &str) -> Result<FormRecord, AppError> {
    let id: i64 = id.parse().map_err(|_| AppError::NotFound)?;
    state
        .stores()
        .forms
        .form(id)
        .await?
        .ok_or(AppError::NotFound)
}

fn served_purposes(state: &AppState, definition: &FormDefinition) -> Vec<Purpose> {
    state
        .purposes()
        .iter()
        .filter(|p| definition.purposes.contains(&p.id))
        .cloned()
        .collect()
}

fn closed_page(frame: Frame, form: &FormRecord) -> Result<Response, AppError> {
    let page = DonePage {
        frame,
        title: form.definition.title.clone(),
        heading: "This form is closed",
        message: "It is not taking answers at the moment, and nothing you send to it is stored."
            .to_owned(),
        consented: false,
    };
    Ok((StatusCode::GONE, no_store(render(&page)?)).into_response())
}

async fn show(
    State(state): State<AppState>,
    frame: Frame,
    Path(id): Path<String>,
) -> Result<Response, AppError> {
    let form = load(&state, &id).await?;
    if !form.open {
        return closed_page(frame, &form);
    }
    let mode = state.config().people.marketing_consent;
    let fields = field_views(
        &form.definition,
        state.purposes(),
        mode,
        None,
        &FieldErrors::new(),
    );
    let purposes = served_purposes(&state, &form.definition);
    Ok(no_store(render(&FormPage {
        frame,
        fields,
        purposes,
        form: FormState::new(),
        record: form,
        preview: false,
    })?))
}

/// The form as the public sees it, for staff to check before opening it: its answers go
/// nowhere.
pub(crate) fn preview(
    state: &AppState,
    frame: Frame,
    form: FormRecord,
) -> Result<Response, AppError> {
    let mode = state.config().people.marketing_consent;
    let fields = field_views(
        &form.definition,
        state.purposes(),
        mode,
        None,
        &FieldErrors::new(),
    );
    let purposes = served_purposes(state, &form.definition);
    Ok(no_store(render(&FormPage {
        frame,
        fields,
        purposes,
        form: FormState::new(),
        record: form,
        preview: true,
    })?))
}

async fn submit(
    State(state): State<AppState>,
    frame: Frame,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Result<Response, AppError> {
    let form = load(&state, &id).await?;
    let date_inputs: Vec<String> = form
        .definition
        .fields
        .iter()
        .filter(|f| f.kind == FieldKind::Date)
        .flat_map(|f| DATE_PARTS.map(|part| format!("{}-{part}", f.key)))
        .collect();
    let mut allowed: Vec<&str> = vec!["csrf", "version"];
    allowed.extend(form.definition.fields.iter().map(|f| f.key.as_str()));
    allowed.extend(date_inputs.iter().map(String::as_str));
    let data = FormData::parse(pairs, &allowed)?;
    state.check_form(&frame.visitor, data.get("csrf"))?;
    if !form.open {
        return closed_page(frame, &form);
    }
    let version: i64 = data
        .get("version")
        .parse()
        .map_err(|_| AppError::BadRequest("The form version is missing.".to_owned()))?;
    if version != form.version {
        let page = DonePage {
            frame,
            title: form.definition.title.clone(),
            heading: "This form has changed",
            message: "The form was changed after you opened it, so what you sent was not stored. \
                      Please fill in the new version."
                .to_owned(),
            consented: false,
        };
        return Ok((StatusCode::CONFLICT, no_store(render(&page)?)).into_response());
    }
    let mode = state.config().people.marketing_consent;
    let (dates, date_problems) = typed_dates(&form.definition, &data);
    let parsed = forms::parse_submission(
        form.id,
        form.version,
        &form.definition,
        state.purposes(),
        mode,
        |k| match dates.iter().find(|(key, _)| key == k) {
            Some((_, value)) => vec![value.as_str()],
            None => data.all(k),
        },
    );
    // A date that is not one is reported in the date input's own words.
    let parsed = match (parsed, date_problems.is_empty()) {
        (Ok(s), true) => Ok(s),
        (Ok(_), false) => Err(FieldErrors::new()),
        (Err(errors), _) => Err(errors),
    };
    let submission = match parsed {
        Ok(s) => s,
        Err(errors) => {
            let mut errors: FieldErrors = errors
                .into_iter()
                .filter(|e| !date_problems.iter().any(|(d, _)| *d == e.field))
                .collect();
            errors.extend(
                date_problems
                    .iter()
                    .map(|(k, p)| FieldError::new(k.clone(), p.message.clone())),
            );
            // The summary lists the problems in the order of the questions.
            errors.sort_by_key(|e| {
                form.definition
                    .fields
                    .iter()
                    .position(|f| f.key == e.field)
                    .unwrap_or(usize::MAX)
            });
            let mut fields = field_views(
                &form.definition,
                state.purposes(),
                mode,
                Some(&data),
                &errors,
            );
            // Mark only the parts of a date that are wrong, and link the summary to the first.
            for (key, problem) in &date_problems {
                if let Some(view) = fields.iter_mut().find(|f| &f.key == key) {
                    view.date_wrong = [problem.parts.day, problem.parts.month, problem.parts.year];
                }
            }
            let mut summary = FormState::new();
            for e in &errors {
                let anchor = fields
                    .iter()
                    .find(|f| f.key == e.field)
                    .map_or_else(|| e.field.clone(), FieldView::anchor);
                summary.errors.add(anchor, e.problem.clone());
            }
            let purposes = served_purposes(&state, &form.definition);
            let page = FormPage {
                frame,
                fields,
                purposes,
                form: summary,
                record: form,
                preview: false,
            };
            return Ok((StatusCode::UNPROCESSABLE_ENTITY, no_store(render(&page)?)).into_response());
        }
    };
    let ip = limits::client_key(&state, peer, &headers);
    limits::hit(&state, limits::FORM_SUBMISSIONS_PER_ADDRESS, &ip).await?;
    // Anyone can type anyone's address into a form, so what it agrees to counts only once the
    // address confirms it. A signed-in person whose confirmed account has this address has
    // proved it already.
    let proven = match (&frame.visitor.account, &submission.email) {
        (Some(account), Some(email)) => account.email_verified && &account.email == email,
        _ => false,
    };
    let (at_once, grants) = if proven {
        (submission.consents.clone(), Vec::new())
    } else {
        split_for_confirmation(&submission.consents)
    };
    let secret = Secret::from_random(rand::random());
    let hash = secret.hash();
    let hours = state.config().people.consent_confirmation_hours;
    let stored = state
        .stores()
        .forms
        .submit_response(&NewResponse {
            form: form.id,
            version: form.version,
            answers: &submission.answers,
            email: submission.email.as_ref(),
            patch: &submission.patch,
            consents: &at_once,
            pending: (!grants.is_empty()).then_some(PendingConsents {
                secret: &hash,
                grants: &grants,
                expires_at: state.now() + Duration::hours(i64::from(hours)),
            }),
            purposes: state.purposes(),
            at: state.now(),
        })
        .await;
    match stored {
        Ok(_) => crate::stats::count::count_event(
            &state,
            &headers,
            peer,
            &format!("/forms/{}", form.id),
            "Form sent",
        ),
        Err(StoreError::Refused(_)) => return closed_page(frame, &form),
        Err(e) => return Err(e.into()),
    }
    let awaiting = match (&submission.email, grants.is_empty()) {
        (Some(email), false) => {
            ask_to_confirm(&state, email.clone(), &form, &grants, &secret, hours);
            Some(email.as_str().to_owned())
        }
        _ => None,
    };
    let consented = at_once.iter().any(|c| c.granted);
    let message = match (&awaiting, consented) {
        (Some(address), _) => format!(
            "We have sent an email to {address}. What you agreed to counts only once you \
             confirm it with the link in that email, within {}. Until then we will not use \
             your address for it, and if you do not confirm, it is forgotten.",
            hours_in_words(hours)
        ),
        (None, true) => "We have recorded what you agreed to. You can change your mind at any \
                         time, as easily as you agreed."
            .to_owned(),
        (None, false) => String::new(),
    };
    let page = DonePage {
        frame,
        title: form.definition.title.clone(),
        heading: "Thank you: your answers have been sent",
        message,
        consented,
    };
    Ok(no_store(render(&page)?))
}

/// Email the address a single-use link that confirms what the form agreed to, in the
/// background (so the answer does not depend on the address), within the limit of emails to
/// one address. Marketing on a channel the address objected to cannot be confirmed this way
/// (only the preference centre lifts an objection), so it is not asked about; when nothing
/// else is, no email goes.
fn ask_to_confirm(
    state: &AppState,
    to: EmailAddress,
    form: &FormRecord,
    grants: &[PendingGrant],
    secret: &Secret,
    hours: u32,
) {
    let state = state.clone();
    let title = form.definition.title.clone();
    let grants = grants.to_vec();
    let link = format!(
        "{}/preferences/confirm?token={}",
        state.link_base(),
        secret.expose()
    );
    tokio::spawn(async move {
        if let Err(e) = send_confirmation(&state, to, &title, &grants, &link, hours).await {
            tracing::error!(error = %e, "Could not ask an address to confirm a form's consent.");
        }
    });
}

async fn send_confirmation(
    state: &AppState,
    to: EmailAddress,
    title: &str,
    grants: &[PendingGrant],
    link: &str,
    hours: u32,
) -> Result<(), AppError> {
    let suppressed = state.stores().ledger.suppressed_channels(&to).await?;
    let marketing = |purpose: &str| {
        state
            .purposes()
            .iter()
            .any(|p| p.id == purpose && p.direct_marketing)
    };
    let grants: Vec<&PendingGrant> = grants
        .iter()
        .filter(|g| !(marketing(&g.purpose) && g.channel.is_some_and(|c| suppressed.contains(&c))))
        .collect();
    if grants.is_empty()
        || !limits::within(state, limits::EMAILS_PER_RECIPIENT, to.as_str()).await?
    {
        return Ok(());
    }
    // What was agreed, in the registry's words: "News and appeals, by email".
    let agreed: String = grants
        .iter()
        .map(|g| {
            let name = state
                .purposes()
                .iter()
                .find(|p| p.id == g.purpose)
                .map_or_else(|| g.purpose.clone(), |p| p.name.clone());
            match g.channel {
                Some(c) => format!("  - {name}, by {}\n", c.label()),
                None => format!("  - {name}\n"),
            }
        })
        .collect();
    let org = org(state).to_owned();
    let within = hours_in_words(hours);
    let email = Email {
        to,
        subject: format!("Please confirm what you agreed to with {org}"),
        text: format!(
            "Someone, we hope you, filled in the form \"{title}\" on the website of {org} with \
             this email address, and agreed to:\n\n{agreed}\n\
             To confirm that it was you, open this link within {within}; it works once:\n\n\
             {link}\n\n\
             If it was not you, you can ignore this email. Nothing counts until it is confirmed, \
             and what the form agreed to is forgotten when the link expires.\n"
        ),
    };
    send_later(state, email);
    Ok(())
}
